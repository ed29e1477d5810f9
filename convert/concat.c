/* Pieces read as one file: an OVF File split by ovftool --chunkSize into
 * disk1.vmdk.000000000, .000000001, ...  Every piece's size is known up
 * front (from the archive listing, or chunkSize and ovf:size), so the
 * whole is sized without touching a piece; each piece is opened at the
 * first read that needs it (over HTTP: its HEAD), and must then have the
 * size it was announced with. */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "vmimport/error.h"
#include "vmimport/formats.h"

struct concat {
  pthread_mutex_t lock;          /* guards opening pieces */
  size_t n;
  uint64_t *start;               /* start[i]: offset of piece i; start[n]: size */
  struct vmi_layer **piece;      /* NULL until opened */
  vmi_concat_piece_fn open;
  void *opaque;
  void (*free_opaque) (void *);
};

/* The piece holding OFFSET (offset < size). */
static size_t
piece_at (const struct concat *c, uint64_t offset)
{
  size_t lo = 0, hi = c->n;

  while (hi - lo > 1) {
    size_t mid = lo + (hi - lo) / 2;
    if (c->start[mid] <= offset)
      lo = mid;
    else
      hi = mid;
  }
  return lo;
}

static struct vmi_layer *
piece_get (struct vmi_layer *l, size_t i)
{
  struct concat *c = l->priv;
  struct vmi_layer *p;
  uint64_t want = c->start[i + 1] - c->start[i];

  pthread_mutex_lock (&c->lock);
  if ((p = c->piece[i]) == NULL && (p = c->open (c->opaque, i)) != NULL) {
    if (p->size != want) {
      errno = EINVAL;
      vmi_error ("%s: piece %zu (%s) is %" PRIu64 " bytes, expected %" PRIu64,
                 l->name, i, p->name, p->size, want);
      vmi_layer_close (p);
      p = NULL;
    }
    else
      __atomic_store_n (&c->piece[i], p, __ATOMIC_RELEASE);
  }
  pthread_mutex_unlock (&c->lock);
  return p;
}

static int
concat_pread (struct vmi_layer *l, void *buf, size_t count, uint64_t offset)
{
  struct concat *c = l->priv;
  char *b = buf;

  while (count > 0) {
    size_t i = piece_at (c, offset), n;
    struct vmi_layer *p = __atomic_load_n (&c->piece[i], __ATOMIC_ACQUIRE);
    uint64_t end = c->start[i + 1];

    if (p == NULL && (p = piece_get (l, i)) == NULL)
      return -1;
    n = end - offset < count ? (size_t) (end - offset) : count;
    if (vmi_layer_pread (p, b, n, offset - c->start[i]) == -1)
      return -1;
    b += n;
    count -= n;
    offset += n;
  }
  return 0;
}

static void
concat_close (struct vmi_layer *l)
{
  struct concat *c = l->priv;

  for (size_t i = 0; i < c->n; i++)
    vmi_layer_close (c->piece[i]);
  if (c->free_opaque)
    c->free_opaque (c->opaque);
  pthread_mutex_destroy (&c->lock);
  free (c->piece);
  free (c->start);
  free (c);
}

static const struct vmi_layer_ops concat_ops = {
  .name = "concat",
  .pread = concat_pread,
  .close = concat_close,
};

struct vmi_layer *
vmi_concat_open (size_t n, const uint64_t *sizes, vmi_concat_piece_fn open,
                 void *opaque, void (*free_opaque) (void *), const char *name)
{
  struct concat *c = calloc (1, sizeof *c);
  struct vmi_layer *l;

  if (c == NULL || n == 0
      || (c->start = calloc (n + 1, sizeof *c->start)) == NULL
      || (c->piece = calloc (n, sizeof *c->piece)) == NULL) {
    errno = n == 0 ? EINVAL : ENOMEM;
    vmi_error ("%s: %s", name, n == 0 ? "no pieces" : "out of memory");
    goto fail;
  }
  for (size_t i = 0; i < n; i++) {
    if (sizes[i] > UINT64_MAX / 2 - c->start[i]) {
      errno = EINVAL;
      vmi_error ("%s: pieces add up to more than 2^63 bytes", name);
      goto fail;
    }
    c->start[i + 1] = c->start[i] + sizes[i];
  }
  c->n = n;
  c->open = open;
  c->opaque = opaque;
  c->free_opaque = free_opaque;
  pthread_mutex_init (&c->lock, NULL);
  l = vmi_layer_new (&concat_ops, c, c->start[n], name, NULL);
  if (l == NULL)
    concat_close (&(struct vmi_layer){ .priv = c });
  return l;
 fail:
  if (c) {
    free (c->start);
    free (c->piece);
    free (c);
  }
  if (free_opaque)
    free_opaque (opaque);
  return NULL;
}
