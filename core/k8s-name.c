/* Kubernetes object names (RFC 1123 labels) from source VM names. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/sha.h>

#include "vmimport/error.h"
#include "vmimport/k8s.h"

static int
label_char (int c)
{
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

bool
vmi_k8s_is_label (const char *s)
{
  size_t n = s ? strlen (s) : 0;

  if (n == 0 || n > VMI_K8S_NAME_MAX || !label_char ((unsigned char) s[0])
      || !label_char ((unsigned char) s[n - 1]))
    return false;
  for (size_t i = 0; i < n; i++)
    if (!label_char ((unsigned char) s[i]) && s[i] != '-')
      return false;
  return true;
}

char *
vmi_k8s_name (const char *name, size_t max)
{
  size_t n = strlen (name), o = 0;
  char *out;
  unsigned char md[SHA256_DIGEST_LENGTH];

  if (max > VMI_K8S_NAME_MAX)
    max = VMI_K8S_NAME_MAX;
  if (max < 10)
    max = 10;
  if ((out = malloc (n + max + 2)) == NULL) {
    errno = ENOMEM;
    vmi_error ("out of memory");
    return NULL;
  }
  for (size_t i = 0; i < n; i++) {
    int c = (unsigned char) name[i];
    if (c >= 'A' && c <= 'Z')
      c += 'a' - 'A';
    if (!label_char (c))
      c = '-';
    if (c == '-' && (o == 0 || out[o - 1] == '-'))
      continue;   /* leading '-' trimmed, runs folded */
    out[o++] = (char) c;
  }
  while (o > 0 && out[o - 1] == '-')
    o--;
  out[o] = '\0';
  if (o > 0 && o <= max && strcmp (out, name) == 0)
    return out;

  /* Changed: keep the original's identity in a hash suffix. */
  SHA256 ((const unsigned char *) name, n, md);
  if (o > max - 9)
    o = max - 9;
  while (o > 0 && out[o - 1] == '-')
    o--;
  if (o == 0)
    o = (size_t) sprintf (out, "vm");
  snprintf (out + o, 10, "-%02x%02x%02x%02x", md[0], md[1], md[2], md[3]);
  return out;
}
