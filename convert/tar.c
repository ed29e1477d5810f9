/* Tar members as layers.  An OVA is a tar archive: the OVF, the manifest,
 * then the disks.  A member is found by reading only the 512-byte headers
 * and hopping over member data.  Headers are read through a window that
 * starts at 64 KiB and doubles (to 1 MiB) while the next header lies in or
 * just past the last one: over HTTP an archive of many small members
 * costs requests in proportion to its size, not to its member count, and
 * one of a few large disks a small request per member.
 *
 * Formats: POSIX ustar (name + prefix), GNU long names ('L' entries),
 * pax extended headers ('x': path, size).  The member itself is a slice of
 * the archive layer. */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vmimport/error.h"
#include "vmimport/formats.h"
#include "vmimport/transport.h"

#define BLOCK 512
#define MAX_LONG_NAME (64u << 10)    /* GNU 'L' entry */
#define MAX_PAX (1u << 20)           /* pax 'x' entry */
#define WINDOW_MIN (64u << 10)
#define WINDOW_MAX (1u << 20)

/* The bytes [off, off+len) of the archive last read. */
struct window {
  char *buf;
  uint64_t off;
  size_t len, want;             /* bytes held, size of the next read */
};

/* Read LEN bytes at OFF through W: from the window when it holds them,
 * else one read of the next window there (a read larger than a window
 * goes straight through). */
static int
window_read (struct window *w, struct vmi_layer *a, void *dst, size_t len,
             uint64_t off)
{
  if (off >= w->off && off + len <= w->off + w->len) {
    memcpy (dst, w->buf + (off - w->off), len);
    return 0;
  }
  if (len > WINDOW_MAX)
    return vmi_layer_pread (a, dst, len, off);
  /* Dense headers (in or just past the last window): a larger window. */
  if (w->len && off >= w->off && off < w->off + 2 * w->len)
    w->want = w->want * 2 > WINDOW_MAX ? WINDOW_MAX : w->want * 2;
  else
    w->want = WINDOW_MIN;
  if (w->want < len)
    w->want = len;
  if (w->buf == NULL && (w->buf = malloc (WINDOW_MAX)) == NULL) {
    errno = ENOMEM;
    vmi_error ("%s: out of memory", a->name);
    return -1;
  }
  w->off = off;
  w->len = a->size - off < w->want ? a->size - off : w->want;
  if (vmi_layer_pread (a, w->buf, w->len, off) == -1) {
    w->len = 0;
    return -1;
  }
  memcpy (dst, w->buf, len);
  return 0;
}

static uint64_t
round_up (uint64_t n)
{
  return (n + BLOCK - 1) / BLOCK * BLOCK;
}

/* ustar numbers: octal, space or NUL terminated; GNU base-256 when the top
 * bit of the first byte is set. */
static int
parse_number (const unsigned char *f, size_t len, uint64_t *out)
{
  uint64_t v = 0;
  size_t i = 0;

  if (f[0] & 0x80) {
    if (f[0] != 0x80)
      return -1;   /* negative or huge */
    for (i = 1; i < len; i++) {
      if (v >> 56)
        return -1;
      v = v << 8 | f[i];
    }
    *out = v;
    return 0;
  }
  while (i < len && f[i] == ' ')
    i++;
  for (; i < len && f[i] >= '0' && f[i] <= '7'; i++) {
    if (v >> 60)
      return -1;
    v = v << 3 | (uint64_t) (f[i] - '0');
  }
  for (; i < len; i++)
    if (f[i] != ' ' && f[i] != '\0')
      return -1;
  *out = v;
  return 0;
}

static bool
checksum_ok (const unsigned char *h)
{
  uint64_t stored;
  unsigned long u = 0;
  long s = 0;

  if (parse_number (h + 148, 8, &stored) == -1)
    return false;
  for (int i = 0; i < BLOCK; i++) {
    unsigned char c = (i >= 148 && i < 156) ? ' ' : h[i];
    u += c;
    s += (signed char) c;
  }
  return stored == u || (long) stored == s;
}

static bool
all_zero (const unsigned char *h)
{
  for (int i = 0; i < BLOCK; i++)
    if (h[i])
      return false;
  return true;
}

/* "./a/b" and "/a/b" name the same member as "a/b". */
static const char *
normalize (const char *name)
{
  for (;;) {
    if (name[0] == '.' && name[1] == '/')
      name += 2;
    else if (name[0] == '/')
      name++;
    else
      return name;
  }
}

/* Read the data of a special entry (long name, pax) at OFFSET. */
static char *
read_entry (struct vmi_layer *a, struct window *w, uint64_t offset,
            uint64_t size, uint64_t max, const char *kind)
{
  char *buf;

  if (size > max) {
    errno = EINVAL;
    vmi_error ("%s: %s entry at offset %" PRIu64 " is %" PRIu64
               " bytes (at most %" PRIu64 " allowed)", a->name, kind,
               offset - BLOCK, size, max);
    return NULL;
  }
  if (offset > a->size || size > a->size - offset) {
    errno = EINVAL;
    vmi_error ("%s: truncated archive: %s entry at offset %" PRIu64
               " runs past the end (size %" PRIu64 ")", a->name, kind,
               offset - BLOCK, a->size);
    return NULL;
  }
  buf = malloc (size + 1);
  if (buf == NULL) {
    errno = ENOMEM;
    vmi_error ("%s: out of memory", a->name);
    return NULL;
  }
  if (window_read (w, a, buf, size, offset) == -1) {
    free (buf);
    return NULL;
  }
  buf[size] = '\0';
  return buf;
}

/* pax records: "LEN key=value\n".  Sets *path (allocated) and *size. */
static int
parse_pax (struct vmi_layer *a, uint64_t hdr, const char *p, size_t n,
           char **path, uint64_t *size, bool *has_size)
{
  size_t pos = 0;

  while (pos < n && p[pos] != '\0') {
    size_t len = 0, i = pos;
    const char *kv, *eq, *end;

    while (i < n && p[i] >= '0' && p[i] <= '9' && len < n)
      len = len * 10 + (size_t) (p[i++] - '0');
    if (i >= n || p[i] != ' ' || len == 0 || len > n - pos
        || p[pos + len - 1] != '\n') {
      errno = EINVAL;
      vmi_error ("%s: malformed pax header at offset %" PRIu64
                 " (record at byte %zu)", a->name, hdr, pos);
      return -1;
    }
    kv = p + i + 1;
    end = p + pos + len - 1;
    eq = memchr (kv, '=', (size_t) (end - kv));
    if (eq) {
      size_t klen = (size_t) (eq - kv);
      if (klen == 4 && memcmp (kv, "path", 4) == 0) {
        free (*path);
        if ((*path = strndup (eq + 1, (size_t) (end - eq - 1))) == NULL) {
          errno = ENOMEM;
          vmi_error ("%s: out of memory", a->name);
          return -1;
        }
      }
      else if (klen == 4 && memcmp (kv, "size", 4) == 0) {
        char *e;
        errno = 0;
        unsigned long long v = strtoull (eq + 1, &e, 10);
        if (errno || e != end) {
          errno = EINVAL;
          vmi_error ("%s: pax header at offset %" PRIu64 " has a bad size",
                     a->name, hdr);
          return -1;
        }
        *size = v;
        *has_size = true;
      }
    }
    pos += len;
  }
  return 0;
}

/* The regular members seen by a whole walk, to refuse duplicates: GNU tar
 * extracts the last of two members with one name, a reader that stops at
 * the first would read the other. */
struct seen {
  struct seen_member { char *name; uint64_t offset; } *v;
  size_t n, cap;
};

static int
seen_add (struct seen *s, struct vmi_layer *a, const char *name,
          uint64_t offset)
{
  if (s->n == s->cap) {
    size_t cap = s->cap ? 2 * s->cap : 64;
    struct seen_member *v = realloc (s->v, cap * sizeof *v);
    if (v == NULL)
      goto nomem;
    s->v = v;
    s->cap = cap;
  }
  if ((s->v[s->n].name = strdup (name)) == NULL)
    goto nomem;
  s->v[s->n++].offset = offset;
  return 0;
 nomem:
  errno = ENOMEM;
  vmi_error ("%s: out of memory", a->name);
  return -1;
}

static int
seen_cmp (const void *x, const void *y)
{
  const struct seen_member *a = x, *b = y;
  int c = strcmp (a->name, b->name);

  return c ? c : a->offset < b->offset ? -1 : a->offset > b->offset;
}

static int
seen_check (struct seen *s, struct vmi_layer *a)
{
  if (s->n < 2)   /* nothing to compare (and qsort takes no NULL array) */
    return 0;
  qsort (s->v, s->n, sizeof *s->v, seen_cmp);
  for (size_t i = 1; i < s->n; i++)
    if (strcmp (s->v[i - 1].name, s->v[i].name) == 0) {
      errno = EINVAL;
      vmi_error ("%s: the archive holds two members named %s (data at "
                 "offsets %" PRIu64 " and %" PRIu64 "); refusing it: tar "
                 "would extract the last, a reader could take the first",
                 a->name, s->v[i].name, s->v[i - 1].offset, s->v[i].offset);
      return -1;
    }
  return 0;
}

static void
seen_free (struct seen *s)
{
  for (size_t i = 0; i < s->n; i++)
    free (s->v[i].name);
  free (s->v);
}

int
vmi_tar_list (struct vmi_layer *a, vmi_tar_member_fn fn, void *opaque)
{
  unsigned char h[BLOCK];
  uint64_t off = 0;
  char *long_name = NULL, *pax_path = NULL;
  uint64_t pax_size = 0;
  bool pax_has_size = false;
  struct seen seen = { 0 };
  struct window win = { 0 };
  int r = -1;

  for (;;) {
    uint64_t size, data;
    char type, name[256 + 2];
    const char *member;

    if (off == a->size) {
      r = 0;   /* no end-of-archive blocks: tolerated */
      break;
    }
    if (a->size - off < BLOCK) {
      errno = EINVAL;
      vmi_error ("%s: truncated archive: header at offset %" PRIu64
                 " runs past the end (size %" PRIu64 ")", a->name, off,
                 a->size);
      break;
    }
    if (window_read (&win, a, h, BLOCK, off) == -1)
      break;
    if (all_zero (h)) {
      r = 0;
      break;
    }
    if (!checksum_ok (h)) {
      errno = EINVAL;
      vmi_error ("%s: not a tar archive, or corrupt: bad header checksum at "
                 "offset %" PRIu64, a->name, off);
      break;
    }
    if (parse_number (h + 124, 12, &size) == -1) {
      errno = EINVAL;
      vmi_error ("%s: bad size field in the tar header at offset %" PRIu64,
                 a->name, off);
      break;
    }
    type = (char) h[156];
    data = off + BLOCK;
    if ((type == '0' || type == '\0' || type == '7') && pax_has_size)
      size = pax_size;
    if (type >= '1' && type <= '6')
      size = 0;   /* links, devices, folders, fifos: no data */
    if (size > a->size - data) {
      errno = EINVAL;
      vmi_error ("%s: truncated archive: the member at offset %" PRIu64
                 " holds %" PRIu64 " bytes but the archive ends %" PRIu64
                 " bytes after its header", a->name, off, size,
                 a->size - data);
      break;
    }

    if (type == 'L') {
      free (long_name);
      if ((long_name = read_entry (a, &win, data, size, MAX_LONG_NAME,
                                   "GNU long name")) == NULL)
        break;
    }
    else if (type == 'x') {
      char *pax = read_entry (a, &win, data, size, MAX_PAX, "pax header");
      if (pax == NULL)
        break;
      if (parse_pax (a, off, pax, size, &pax_path, &pax_size,
                     &pax_has_size) == -1) {
        free (pax);
        break;
      }
      free (pax);
    }
    else if (type == '0' || type == '\0' || type == '7') {
      if (pax_path)
        member = pax_path;
      else if (long_name)
        member = long_name;
      else {
        /* POSIX ustar splits long paths into prefix "/" name. */
        size_t plen = 0;
        if (memcmp (h + 257, "ustar\0", 6) == 0 && h[345])
          plen = strnlen ((char *) h + 345, 155);
        if (plen) {
          memcpy (name, h + 345, plen);
          name[plen++] = '/';
        }
        size_t nlen = strnlen ((char *) h, 100);
        memcpy (name + plen, h, nlen);
        name[plen + nlen] = '\0';
        member = name;
      }
      if (seen_add (&seen, a, normalize (member), data) == -1)
        break;
      int v = fn (opaque, normalize (member), data, size);
      if (v != 0) {
        r = v;
        break;
      }
    }
    if (type != 'L' && type != 'x' && type != 'K') {
      /* Extended names and sizes apply to the next entry only. */
      free (long_name);
      free (pax_path);
      long_name = pax_path = NULL;
      pax_has_size = false;
    }
    off = data + round_up (size);
    if (off > a->size) {
      errno = EINVAL;
      vmi_error ("%s: truncated archive: entry at offset %" PRIu64
                 " runs past the end (size %" PRIu64 ")", a->name,
                 data - BLOCK, a->size);
      break;
    }
  }
  if (r == 0)   /* the whole archive was walked */
    r = seen_check (&seen, a);
  seen_free (&seen);
  free (win.buf);
  free (long_name);
  free (pax_path);
  return r;
}

struct find {
  const char *want;
  uint64_t offset, size;
  char seen[512];    /* some member names, for the "not found" message */
};

static int
find_cb (void *opaque, const char *name, uint64_t offset, uint64_t size)
{
  struct find *f = opaque;
  size_t n = strlen (f->seen);

  if (strcmp (name, f->want) == 0) {
    f->offset = offset;
    f->size = size;
    return 1;
  }
  if (n + strlen (name) + 8 < sizeof f->seen)
    snprintf (f->seen + n, sizeof f->seen - n, "%s%s", n ? ", " : "", name);
  else if (n + 6 < sizeof f->seen && strcmp (f->seen + n - 3, "...") != 0)
    snprintf (f->seen + n, sizeof f->seen - n, ", ...");
  return 0;
}

struct vmi_layer *
vmi_tar_open_member (struct vmi_layer *archive, const char *member)
{
  struct find f = { .want = normalize (member) };
  char *name;
  struct vmi_layer *l;
  int r;

  r = vmi_tar_list (archive, find_cb, &f);
  if (r == -1)
    return NULL;
  if (r == 0) {
    errno = ENOENT;
    vmi_error ("%s: no member %s in the archive (it holds: %s)",
               archive->name, member, f.seen[0] ? f.seen : "nothing");
    return NULL;
  }
  if (asprintf (&name, "%s:%s", archive->name, f.want) == -1) {
    errno = ENOMEM;
    vmi_error ("%s: out of memory", archive->name);
    return NULL;
  }
  l = vmi_slice_open (vmi_layer_ref (archive), f.offset, f.size, name);
  free (name);
  return l;
}
