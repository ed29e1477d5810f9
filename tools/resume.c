/* vmimport copy --resume: a small state file beside the destination.
 *
 *   vmimport-copy-state 1
 *   identity SOURCE vm=NAME disk=N
 *   size VIRTUAL-SIZE
 *   unit UNIT-SIZE
 *   done HEX-BITMAP        (bit k: unit k is on the destination)
 *
 * The destination is synced before the marks are written (tmp + rename),
 * so a mark never runs ahead of the data, whatever stops the copy. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vmimport/error.h"
#include "target.h"

#define MAGIC "vmimport-copy-state 1"

struct resume_state {
  char *path, *tmp;
  char *identity;
  uint64_t vsize, unit, nunits;
  uint8_t *bits;            /* updated with atomic OR by the workers */
  uint8_t *snap;
};

char *
resume_default_path (const struct target *t)
{
  char *s;

  if (!t->is_blk) {
    if (asprintf (&s, "%s.vmimport-state", t->path) == -1)
      return NULL;
    return s;
  }
  /* Not in /dev: a device's state goes to /var/tmp, which outlives a
   * reboot. */
  if (asprintf (&s, "/var/tmp/vmimport-copy%s.state", t->path) == -1)
    return NULL;
  for (char *p = s + strlen ("/var/tmp/"); *p; p++)
    if (*p == '/')
      *p = '_';
  return s;
}

struct resume_state *
resume_new (const char *path, const char *identity, uint64_t vsize,
            uint64_t unit)
{
  struct resume_state *s = calloc (1, sizeof *s);

  if (s == NULL)
    goto nomem;
  s->vsize = vsize;
  s->unit = unit;
  s->nunits = (vsize + unit - 1) / unit;
  if ((s->path = strdup (path)) == NULL
      || asprintf (&s->tmp, "%s.tmp", path) == -1
      || (s->identity = strdup (identity)) == NULL
      || (s->bits = calloc (s->nunits / 8 + 1, 1)) == NULL
      || (s->snap = calloc (s->nunits / 8 + 1, 1)) == NULL) {
    resume_free (s);
    goto nomem;
  }
  for (char *p = s->identity; *p; p++)
    if (*p == '\n' || *p == '\r')
      *p = ' ';
  return s;
 nomem:
  errno = ENOMEM;
  vmi_error ("out of memory");
  return NULL;
}

void
resume_free (struct resume_state *s)
{
  if (s == NULL)
    return;
  free (s->path);
  free (s->tmp);
  free (s->identity);
  free (s->bits);
  free (s->snap);
  free (s);
}

const char *
resume_path (const struct resume_state *s)
{
  return s->path;
}

static int
hexval (int c)
{
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  return -1;
}

int
resume_load (struct resume_state *s)
{
  FILE *f = fopen (s->path, "r");
  char *line = NULL;
  size_t cap = 0, nbytes = s->nunits / 8 + 1;
  ssize_t n;
  uint64_t size = 0, unit = 0;
  int lineno = 0, have_bits = 0, r = -1;

  if (f == NULL) {
    if (errno == ENOENT)
      return 1;
    vmi_error ("no copy to resume: cannot read the state file %s: %s",
               s->path, strerror (errno));
    return -1;
  }
  while ((n = getline (&line, &cap, f)) > 0) {
    while (n > 0 && line[n - 1] == '\n')
      line[--n] = '\0';
    lineno++;
    if (lineno == 1 && strcmp (line, MAGIC) != 0)
      goto bad;
    else if (!strncmp (line, "identity ", 9)) {
      if (strcmp (line + 9, s->identity) != 0) {
        vmi_error ("%s: this copy state was written for '%s', not '%s'; "
                   "start again without --resume (and with --force)",
                   s->path, line + 9, s->identity);
        goto out;
      }
    }
    else if (!strncmp (line, "size ", 5))
      size = strtoull (line + 5, NULL, 10);
    else if (!strncmp (line, "unit ", 5))
      unit = strtoull (line + 5, NULL, 10);
    else if (!strncmp (line, "done ", 5)) {
      if ((size_t) (n - 5) != nbytes * 2)
        goto bad;
      for (size_t i = 0; i < nbytes; i++) {
        int hi = hexval (line[5 + 2 * i]), lo = hexval (line[6 + 2 * i]);
        if (hi < 0 || lo < 0)
          goto bad;
        s->bits[i] = hi << 4 | lo;
      }
      have_bits = 1;
    }
  }
  if (size != s->vsize || unit != s->unit) {
    vmi_error ("%s: this copy state is for a disk of %" PRIu64 " bytes in "
               "units of %" PRIu64 ", not %" PRIu64 " in units of %" PRIu64,
               s->path, size, unit, s->vsize, s->unit);
    goto out;
  }
  if (!have_bits)
    goto bad;
  r = 0;
  goto out;
 bad:
  errno = EINVAL;
  vmi_error ("%s: not a vmimport copy state file (line %d)", s->path, lineno);
 out:
  if (r == -1)
    memset (s->bits, 0, nbytes);
  free (line);
  fclose (f);
  return r;
}

void
resume_mark (struct resume_state *s, uint64_t k)
{
  __atomic_or_fetch (&s->bits[k / 8], (uint8_t) (1u << (k % 8)),
                     __ATOMIC_RELEASE);
}

bool
resume_is_done (const struct resume_state *s, uint64_t k)
{
  return __atomic_load_n (&s->bits[k / 8], __ATOMIC_ACQUIRE) >> (k % 8) & 1;
}

/* The state file's text, for MARKS. */
static char *
state_text (const struct resume_state *s, const uint8_t *marks, size_t *len)
{
  size_t nbytes = s->nunits / 8 + 1;
  char *text = NULL;
  FILE *f = open_memstream (&text, len);

  if (f == NULL)
    return NULL;
  fprintf (f, MAGIC "\nidentity %s\nsize %" PRIu64 "\nunit %" PRIu64 "\ndone ",
           s->identity, s->vsize, s->unit);
  for (size_t i = 0; i < nbytes; i++)
    fprintf (f, "%02x", marks[i]);
  fprintf (f, "\n");
  if (fclose (f) != 0) {
    free (text);
    return NULL;
  }
  return text;
}

static int
write_file (const char *path, int flags, const char *text, size_t len)
{
  int fd = open (path, O_WRONLY | O_CLOEXEC | flags, 0644), ok = 1;
  ssize_t r;

  if (fd == -1)
    return -1;
  while (len > 0 && ok) {
    r = write (fd, text, len);
    if (r > 0) {
      text += r;
      len -= r;
    }
    else if (r == 0 || errno != EINTR)
      ok = 0;
  }
  ok = ok && fsync (fd) == 0;
  if (close (fd) == -1 || !ok) {
    if (errno == 0)
      errno = EIO;
    return -1;
  }
  return 0;
}

int
resume_save (struct resume_state *s, struct target *t)
{
  size_t nbytes = s->nunits / 8 + 1, len;
  char *text;
  int r = 0;

  for (size_t i = 0; i < nbytes; i++)
    s->snap[i] = __atomic_load_n (&s->bits[i], __ATOMIC_ACQUIRE);
  /* The marks just taken describe data written before this sync. */
  if (target_sync (t) == -1) {
    vmi_error ("%s: sync: %s", t->path, strerror (errno));
    return -1;
  }
  if ((text = state_text (s, s->snap, &len)) == NULL) {
    vmi_error ("%s: out of memory", s->path);
    return -1;
  }
  errno = 0;
  if (write_file (s->tmp, O_CREAT | O_TRUNC, text, len) == 0
      && rename (s->tmp, s->path) == 0)
    goto out;
  unlink (s->tmp);
  /* A full filesystem (often the reason the copy stopped) has no block for
   * a new file: overwrite the old one in place.  Its length is the same,
   * and marks are only ever added, so even a torn write leaves each byte
   * old or new: marks that are all true. */
  if ((errno != ENOSPC && errno != EDQUOT)
      || write_file (s->path, 0, text, len) == -1) {
    vmi_error ("%s: %s", s->path, strerror (errno));
    r = -1;
  }
 out:
  free (text);
  return r;
}

void
resume_remove (struct resume_state *s)
{
  unlink (s->path);
  unlink (s->tmp);
}
