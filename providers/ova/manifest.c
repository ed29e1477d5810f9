/* OVF manifests (.mf): one line per file, "SHA256(disk1.vmdk)= 3f2a..."
 * (also SHA1 and SHA512; spaces around "=" and CRLF endings as various
 * tools write them). */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "vmimport/error.h"
#include "vmimport/ova.h"
#include "ova-internal.h"

static const struct {
  const char *name;
  size_t len;
} algos[] = {
  { "SHA1", 20 }, { "SHA256", 32 }, { "SHA512", 64 },
};

static int
hexval (int c)
{
  if (c >= '0' && c <= '9')
    return c - '0';
  c = tolower (c);
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  return -1;
}

static const char *
trim (const char *s, const char *end, const char **tend)
{
  while (s < end && (*s == ' ' || *s == '\t'))
    s++;
  while (end > s && (end[-1] == ' ' || end[-1] == '\t'))
    end--;
  *tend = end;
  return s;
}

/* Parse one line [s, end) into E.  0, or -1 with a reason in *WHY. */
static int
parse_line (const char *s, const char *end, struct vmi_manifest_entry *e,
            const char **why)
{
  const char *eq = NULL, *open, *close, *a, *ae, *h, *he;
  size_t alen, dlen = 0;

  for (const char *p = s; p < end; p++)
    if (*p == '=')
      eq = p;
  if (eq == NULL) {
    *why = "no \"=\"";
    return -1;
  }
  open = memchr (s, '(', (size_t) (eq - s));
  trim (s, eq, &close);
  if (open == NULL || close <= open + 1 || close[-1] != ')') {
    *why = "expected ALGO(FILE)= HEX";
    return -1;
  }
  close--;
  a = trim (s, open, &ae);
  alen = (size_t) (ae - a);
  for (size_t i = 0; i < sizeof algos / sizeof algos[0]; i++)
    if (strlen (algos[i].name) == alen && !strncasecmp (a, algos[i].name, alen)) {
      e->algo = strdup (algos[i].name);
      dlen = algos[i].len;
    }
  if (dlen == 0) {
    *why = "unknown digest (expected SHA1, SHA256 or SHA512)";
    return -1;
  }
  h = trim (eq + 1, end, &he);
  if ((size_t) (he - h) != 2 * dlen) {
    free (e->algo);
    e->algo = NULL;
    *why = "the digest has the wrong length for its algorithm";
    return -1;
  }
  for (size_t i = 0; i < dlen; i++) {
    int hi = hexval (h[2 * i]), lo = hexval (h[2 * i + 1]);
    if (hi < 0 || lo < 0) {
      free (e->algo);
      e->algo = NULL;
      *why = "the digest is not hexadecimal";
      return -1;
    }
    e->digest[i] = (unsigned char) (hi << 4 | lo);
  }
  e->digest_len = dlen;
  e->file = strndup (open + 1, (size_t) (close - open - 1));
  if (e->algo == NULL || e->file == NULL) {
    free (e->algo);
    free (e->file);
    e->algo = e->file = NULL;
    *why = "out of memory";
    errno = ENOMEM;
    return -1;
  }
  return 0;
}

int
vmi_manifest_parse (const char *text, size_t len, const char *where,
                    struct vmi_manifest_entry **entries, size_t *n)
{
  struct vmi_manifest_entry *v = NULL;
  size_t count = 0, cap = 0, lineno = 0;
  const char *p = text, *end = text + len;

  *entries = NULL;
  *n = 0;
  if (len > OVA_MAX_DESCRIPTOR) {
    errno = EFBIG;
    vmi_error ("%s: manifest is %zu bytes; too large", where, len);
    return -1;
  }
  while (p < end) {
    const char *nl = memchr (p, '\n', (size_t) (end - p));
    const char *le = nl ? nl : end, *why = NULL, *ts, *te;

    lineno++;
    if (le > p && le[-1] == '\r')
      le--;
    ts = trim (p, le, &te);
    p = nl ? nl + 1 : end;
    if (ts == te)
      continue;
    if (count == cap) {
      size_t nc = cap ? cap * 2 : 8;
      struct vmi_manifest_entry *nv = realloc (v, nc * sizeof *nv);
      if (nv == NULL) {
        vmi_manifest_free (v, count);
        errno = ENOMEM;
        vmi_error ("%s: out of memory", where);
        return -1;
      }
      v = nv;
      cap = nc;
    }
    memset (&v[count], 0, sizeof v[count]);
    if (parse_line (ts, te, &v[count], &why) == -1) {
      vmi_manifest_free (v, count);
      if (errno != ENOMEM)
        errno = EINVAL;
      vmi_error ("%s: line %zu: not a manifest line: %s (expected "
                 "\"SHA256(file)= hex\")", where, lineno, why);
      return -1;
    }
    count++;
  }
  *entries = v;
  *n = count;
  return 0;
}

void
vmi_manifest_free (struct vmi_manifest_entry *entries, size_t n)
{
  for (size_t i = 0; i < n; i++) {
    free (entries[i].algo);
    free (entries[i].file);
  }
  free (entries);
}
