/* The VMDK descriptor: a text file (or the text embedded in a sparse
 * extent) naming the disk's extents.
 *
 *   # Disk DescriptorFile
 *   version=1
 *   CID=fffffffe
 *   parentCID=ffffffff
 *   createType="twoGbMaxExtentFlat"
 *   RW 4192256 FLAT "disk-f001.vmdk" 0
 *   RW 1000 ZERO
 *   RW 4192256 SPARSE "disk-s002.vmdk"
 *   ddb.geometry.cylinders = "..."
 *
 * Extent lines are ACCESS SECTORS TYPE ["FILE" [OFFSET]].
 */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "vmimport/error.h"
#include "vmdk.h"

/* Some Windows tools start the text with a UTF-8 byte order mark. */
#define BOM "\xef\xbb\xbf"

int
vmdk_desc_probe (const void *buf, size_t len)
{
  const char *p = buf, *end = p + len;

  if (len >= 3 && memcmp (p, BOM, 3) == 0)
    p += 3;
  while (p < end) {
    const char *eol = memchr (p, '\n', end - p);
    const char *q = p;
    if (eol == NULL)
      eol = end;
    while (q < eol && (*q == ' ' || *q == '\t' || *q == '\r'))
      q++;
    if (q < eol && *q != '#')
      return eol - q >= 9 && memcmp (q, "version=", 8) == 0
        && isdigit ((unsigned char) q[8]);
    p = eol + 1;
  }
  return 0;
}

void
vmdk_desc_free (struct vmdk_desc *d)
{
  for (size_t i = 0; i < d->n; i++)
    free (d->ext[i].file);
  free (d->ext);
  free (d->create_type);
  free (d->parent_hint);
  memset (d, 0, sizeof *d);
}

static char *
skip_space (char *p)
{
  while (*p == ' ' || *p == '\t')
    p++;
  return p;
}

/* A decimal number token; 0 on success. */
static int
parse_u64 (char **pp, uint64_t *out)
{
  char *p = *pp;
  uint64_t v = 0;

  if (!isdigit ((unsigned char) *p))
    return -1;
  for (; isdigit ((unsigned char) *p); p++) {
    if (v > (UINT64_MAX - 9) / 10)
      return -1;
    v = v * 10 + (uint64_t) (*p - '0');
  }
  if (*p != '\0' && *p != ' ' && *p != '\t')
    return -1;
  *pp = p;
  *out = v;
  return 0;
}

static int
bad_line (const char *name, int line, const char *why, const char *text)
{
  errno = EINVAL;
  vmi_error ("%s: descriptor line %d: %s: \"%.80s\"", name, line, why, text);
  return -1;
}

static int
parse_extent (char *s, const char *name, int line, struct vmdk_desc *d)
{
  char orig[128], *type, *file = NULL;
  struct vmdk_desc_extent e = { .line = line };
  int has_offset = 0;

  snprintf (orig, sizeof orig, "%s", s);        /* s is cut up below */
  s += strcspn (s, " \t");              /* access: RW, RDONLY, NOACCESS */
  if (strncmp (orig, "NOACCESS", 8) == 0)
    return bad_line (name, line, "NOACCESS extents are not supported", orig);
  s = skip_space (s);
  if (parse_u64 (&s, &e.sectors) == -1)
    return bad_line (name, line, "bad sector count", orig);
  if (e.sectors > VMDK_MAX_SECTORS)
    return bad_line (name, line, "extent larger than 2^50 bytes", orig);
  s = skip_space (s);
  type = s;
  s += strcspn (s, " \t");
  if (*s)
    *s++ = '\0';
  s = skip_space (s);
  if (*s == '"') {
    char *q = strchr (s + 1, '"');
    if (q == NULL || q == s + 1)
      return bad_line (name, line, "bad file name", orig);
    *q = '\0';
    file = s + 1;
    s = skip_space (q + 1);
  }
  if (*s) {
    if (parse_u64 (&s, &e.offset) == -1 || *skip_space (s) != '\0')
      return bad_line (name, line, "bad offset", orig);
    if (e.offset > VMDK_MAX_SECTORS)
      return bad_line (name, line, "offset larger than 2^50 bytes", orig);
    has_offset = 1;
  }

  if (!strcmp (type, "FLAT") || !strcmp (type, "VMFS"))
    e.kind = VMDK_EXTENT_FLAT;
  else if (!strcmp (type, "SPARSE") || !strcmp (type, "VMFSSPARSE"))
    e.kind = VMDK_EXTENT_SPARSE;
  else if (!strcmp (type, "ZERO"))
    e.kind = VMDK_EXTENT_ZERO;
  else if (!strcmp (type, "VMFSRDM") || !strcmp (type, "VMFSRAW"))
    return bad_line (name, line, "raw device mappings are not supported",
                     orig);
  else if (!strcmp (type, "SESPARSE"))
    e.kind = VMDK_EXTENT_SESPARSE;
  else
    return bad_line (name, line, "unknown extent type", orig);
  if ((e.kind == VMDK_EXTENT_ZERO) != (file == NULL))
    return bad_line (name, line, e.kind == VMDK_EXTENT_ZERO
                     ? "a ZERO extent names no file"
                     : "extent names no file", orig);
  if (has_offset && e.kind != VMDK_EXTENT_FLAT)
    return bad_line (name, line, "only flat extents have an offset", orig);
  if (e.sectors == 0)           /* as qemu: an empty extent is skipped */
    return 0;
  if (d->total_sectors + e.sectors > VMDK_MAX_SECTORS)
    return bad_line (name, line, "extents add up to more than 2^50 bytes",
                     orig);
  if (d->n == VMDK_MAX_EXTENTS)
    return bad_line (name, line, "too many extents", orig);
  if (file && (e.file = strdup (file)) == NULL)
    goto nomem;
  if (d->n % 64 == 0) {
    struct vmdk_desc_extent *v = realloc (d->ext, (d->n + 64) * sizeof *v);
    if (v == NULL) {
      free (e.file);
      goto nomem;
    }
    d->ext = v;
  }
  d->ext[d->n++] = e;
  d->total_sectors += e.sectors;
  return 0;
 nomem:
  errno = ENOMEM;
  vmi_error ("%s: out of memory", name);
  return -1;
}

/* KEY = "VALUE" (quotes optional): the value, unquoted, in place. */
static char *
value_of (char *eq)
{
  char *v = skip_space (eq + 1), *e;

  if (*v == '"') {
    v++;
    if ((e = strchr (v, '"')) != NULL)
      *e = '\0';
  }
  e = v + strlen (v);
  while (e > v && (e[-1] == ' ' || e[-1] == '\t'))
    *--e = '\0';
  return v;
}

/* A CID: up to 8 hex digits (VMware writes 8, qemu drops leading zeros). */
static int
parse_cid (const char *v, uint32_t *out)
{
  uint32_t c = 0;
  size_t n = strlen (v);

  if (n == 0 || n > 8)
    return -1;
  for (; *v; v++) {
    if (!isxdigit ((unsigned char) *v))
      return -1;
    c = c << 4 | (uint32_t) (isdigit ((unsigned char) *v) ? *v - '0'
                             : (tolower ((unsigned char) *v) - 'a' + 10));
  }
  *out = c;
  return 0;
}

static int
parse_line (char *s, const char *name, int line, struct vmdk_desc *d)
{
  char *eq, *key_end, *v;

  if (!strncmp (s, "RW ", 3) || !strncmp (s, "RDONLY ", 7)
      || !strncmp (s, "NOACCESS ", 9) || !strncmp (s, "RW\t", 3)
      || !strncmp (s, "RDONLY\t", 7) || !strncmp (s, "NOACCESS\t", 9))
    return parse_extent (s, name, line, d);
  if ((eq = strchr (s, '=')) == NULL)
    return 0;                   /* not ours to judge */
  for (key_end = eq; key_end > s && (key_end[-1] == ' ' || key_end[-1] == '\t');)
    key_end--;
  *key_end = '\0';
  v = value_of (eq);
  if (!strcmp (s, "version")) {
    if (strcmp (v, "1") && strcmp (v, "2") && strcmp (v, "3"))
      return bad_line (name, line, "unsupported descriptor version", v);
  }
  else if (!strcmp (s, "createType")) {
    free (d->create_type);
    if ((d->create_type = strdup (v)) == NULL)
      goto nomem;
  }
  else if (!strcmp (s, "CID"))   /* checked only where a child needs it */
    d->has_cid = parse_cid (v, &d->cid) == 0;
  else if (!strcmp (s, "parentCID")) {
    if (parse_cid (v, &d->parent_cid) == -1)
      return bad_line (name, line, "parentCID is not 8 hex digits", v);
    d->has_parent = d->parent_cid != UINT32_C (0xffffffff);
  }
  else if (!strcmp (s, "parentFileNameHint")) {
    free (d->parent_hint);
    if ((d->parent_hint = strdup (v)) == NULL)
      goto nomem;
  }
  return 0;
 nomem:
  errno = ENOMEM;
  vmi_error ("%s: out of memory", name);
  return -1;
}

int
vmdk_desc_parse (const char *text, size_t len, const char *name,
                 struct vmdk_desc *d)
{
  const char *nul = memchr (text, '\0', len);
  char *copy, *p;
  int line = 0, r = 0;

  memset (d, 0, sizeof *d);
  if (nul)
    len = nul - text;
  if (len >= 3 && memcmp (text, BOM, 3) == 0) {
    text += 3;
    len -= 3;
  }
  if ((copy = malloc (len + 1)) == NULL) {
    errno = ENOMEM;
    vmi_error ("%s: out of memory", name);
    return -1;
  }
  memcpy (copy, text, len);
  copy[len] = '\0';
  for (p = copy; r == 0 && p && *p;) {
    char *eol = strchr (p, '\n'), *e;
    if (eol)
      *eol = '\0';
    line++;
    e = p + strlen (p);
    while (e > p && (e[-1] == '\r' || e[-1] == ' ' || e[-1] == '\t'))
      *--e = '\0';
    p = skip_space (p);
    if (*p && *p != '#')
      r = parse_line (p, name, line, d);
    p = eol ? eol + 1 : NULL;
  }
  free (copy);
  if (r == -1)
    vmdk_desc_free (d);
  return r;
}
