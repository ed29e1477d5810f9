/* A gzip-compressed file of an OVF (ovf:compression="gzip") as a layer of
 * its uncompressed bytes, with random access.
 *
 * gzip has no index, so one is built as the stream is first read, as
 * zlib's examples/zran.c does: at a deflate block boundary every INTERVAL
 * bytes of output, a checkpoint keeps the compressed offset, the bits of
 * the byte already used, and the 32 KiB window that the following data may
 * refer back to.  A read goes on from where the stream is when that is
 * close, else restarts raw inflate at the last checkpoint at or before
 * it, so after one pass any read costs at most about one interval of
 * inflating (and of compressed bytes read).  Memory is bounded: at most
 * MAX_POINTS checkpoints (32 KiB each, 8 MiB); when they are used up,
 * every other one is dropped and the interval doubles.  Output is made in
 * CHUNK pieces, the last two kept, under one lock.
 *
 * The size: gzip's trailer holds it modulo 2^32.  When the compressed file
 * is small enough that the true size cannot exceed 2^32 (deflate expands by
 * at most 1032:1), that is the size; otherwise the file is decompressed
 * once at open to count its bytes (which builds the index). */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <zlib.h>

#include "vmimport/error.h"
#include "vmimport/formats.h"
#include "ova-internal.h"

#define CHUNK (256u << 10)
#define IN_BUF (64u << 10)
#define WINDOW 32768u
#define FIRST_INTERVAL (UINT64_C (4) << 20)
#define MAX_POINTS 256

struct point {
  uint64_t out;        /* uncompressed offset */
  uint64_t in;         /* compressed offset of the first whole byte */
  int bits;            /* bits of the byte before IN still to use (0-7) */
  unsigned char *window;
  unsigned wlen;
};

struct gz {
  pthread_mutex_t lock;
  z_stream z;
  bool raw;                   /* restarted at a checkpoint: raw deflate */
  unsigned skip;              /* raw: trailer bytes still to skip */
  uint64_t in_pos;            /* compressed bytes read from below */
  unsigned char *in;
  char *chunk[2];             /* [0] the newest output, [1] the one before */
  uint64_t chunk_off[2];
  size_t chunk_len[2];
  uint64_t out_pos;           /* uncompressed offset the stream is at */
  bool done;                  /* the last member ended */
  struct point *pt;           /* checkpoints, by offset */
  size_t npt, max_points;
  uint64_t interval;
  uint64_t indexed;           /* output up to here has had its points */
  struct vmi_gzip_stats stats;
};

/* Keep every other checkpoint and double the interval. */
static void
thin_points (struct gz *g)
{
  size_t k = 0;

  for (size_t i = 0; i < g->npt; i++) {
    if (i % 2 == 0)
      g->pt[k++] = g->pt[i];
    else
      free (g->pt[i].window);
  }
  g->npt = k;
  g->interval *= 2;
}

/* At a block boundary of new output: a checkpoint if one is due. */
static void
maybe_add_point (struct gz *g)
{
  struct point *p;
  uint64_t last = g->npt ? g->pt[g->npt - 1].out : 0;

  if (g->out_pos < g->indexed || (g->npt && g->out_pos - last < g->interval))
    return;
  if (g->npt == g->max_points)
    thin_points (g);
  if (g->npt && g->out_pos - g->pt[g->npt - 1].out < g->interval)
    return;
  p = &g->pt[g->npt];
  if ((p->window = malloc (WINDOW)) == NULL)
    return;   /* no checkpoint: slower, not wrong */
  p->wlen = WINDOW;
  if (inflateGetDictionary (&g->z, p->window, &p->wlen) != Z_OK) {
    free (p->window);
    return;
  }
  p->out = g->out_pos;
  p->in = g->in_pos - g->z.avail_in;
  p->bits = g->z.data_type & 7;
  g->npt++;
}

/* Move the stream to checkpoint P (or the very start when P is NULL). */
static int
seek_point (struct vmi_layer *l, const struct point *p)
{
  struct gz *g = l->priv;

  g->z.avail_in = 0;
  g->done = false;
  g->skip = 0;
  g->chunk_len[0] = g->chunk_len[1] = 0;
  g->stats.restarts++;
  if (p == NULL) {
    g->raw = false;
    g->in_pos = g->out_pos = 0;
    return inflateReset2 (&g->z, 15 + 16) == Z_OK ? 0 : -1;
  }
  g->raw = true;
  g->out_pos = p->out;
  g->in_pos = p->in - (p->bits ? 1 : 0);
  if (inflateReset2 (&g->z, -15) != Z_OK)
    return -1;
  if (p->bits) {
    unsigned char c;
    if (vmi_layer_pread (l->below, &c, 1, g->in_pos) == -1)
      return -1;
    g->stats.read += 1;
    g->in_pos++;
    if (inflatePrime (&g->z, p->bits, c >> (8 - p->bits)) != Z_OK)
      return -1;
  }
  return inflateSetDictionary (&g->z, p->window, p->wlen) == Z_OK ? 0 : -1;
}

static int
refill (struct vmi_layer *l)
{
  struct gz *g = l->priv;
  struct vmi_layer *below = l->below;
  size_t n = below->size - g->in_pos < IN_BUF
             ? (size_t) (below->size - g->in_pos) : IN_BUF;

  if (n == 0) {
    errno = EIO;
    vmi_error ("%s: gzip stream is truncated (ends at compressed offset %"
               PRIu64 " without its trailer)", l->name, g->in_pos);
    return -1;
  }
  if (vmi_layer_pread (below, g->in, n, g->in_pos) == -1)
    return -1;
  g->stats.read += n;
  g->in_pos += n;
  g->z.next_in = g->in;
  g->z.avail_in = (uInt) n;
  return 0;
}

/* A deflate stream (member) ended.  Raw mode: skip its 8-byte trailer and
 * go on in gzip mode (the next member's header).  Either way, done when no
 * input is left. */
static int
member_end (struct vmi_layer *l)
{
  struct gz *g = l->priv;

  if (g->raw) {
    g->raw = false;
    g->skip = 8;
    if (inflateReset2 (&g->z, 15 + 16) != Z_OK)
      return -1;
  }
  else
    inflateReset (&g->z);
  while (g->skip > 0) {
    unsigned n;
    if (g->z.avail_in == 0) {
      if (g->in_pos == l->below->size)
        break;
      if (refill (l) == -1)
        return -1;
    }
    n = g->z.avail_in < g->skip ? g->z.avail_in : g->skip;
    g->z.next_in += n;
    g->z.avail_in -= n;
    g->skip -= n;
  }
  if (g->z.avail_in == 0 && g->in_pos == l->below->size)
    g->done = true;
  return 0;
}

/* Inflate the next chunk of output into chunk[0] (the old one moves to
 * chunk[1]), adding checkpoints at block boundaries.  Under g->lock. */
static int
gz_next_chunk (struct vmi_layer *l)
{
  struct gz *g = l->priv;
  char *t = g->chunk[1];

  g->chunk[1] = g->chunk[0];
  g->chunk_off[1] = g->chunk_off[0];
  g->chunk_len[1] = g->chunk_len[0];
  g->chunk[0] = t;
  g->chunk_off[0] = g->out_pos;
  g->chunk_len[0] = 0;
  g->z.next_out = (unsigned char *) t;
  g->z.avail_out = CHUNK;
  while (g->z.avail_out > 0 && !g->done) {
    uInt before = g->z.avail_out;
    int zr;
    if (g->z.avail_in == 0 && refill (l) == -1)
      return -1;
    zr = inflate (&g->z, Z_BLOCK);
    g->out_pos += before - g->z.avail_out;
    g->stats.inflated += before - g->z.avail_out;
    if (zr == Z_STREAM_END) {
      if (member_end (l) == -1)
        return -1;
    }
    else if (zr != Z_OK && zr != Z_BUF_ERROR) {
      errno = EIO;
      vmi_error ("%s: corrupt gzip data near compressed offset %" PRIu64
                 ": %s", l->name, g->in_pos - g->z.avail_in,
                 g->z.msg ? g->z.msg : "inflate failed");
      return -1;
    }
    else if ((g->z.data_type & 128) && !(g->z.data_type & 64))
      maybe_add_point (g);
    if (g->out_pos > g->indexed)
      g->indexed = g->out_pos;
  }
  g->chunk_len[0] = CHUNK - g->z.avail_out;
  return 0;
}

static size_t
copy_from (struct gz *g, int i, char *buf, size_t count, uint64_t offset)
{
  uint64_t s = g->chunk_off[i], e = s + g->chunk_len[i];
  size_t n;

  if (offset < s || offset >= e)
    return 0;
  n = e - offset < count ? (size_t) (e - offset) : count;
  memcpy (buf, g->chunk[i] + (offset - s), n);
  return n;
}

/* The last checkpoint at or before OFFSET, or NULL (the start). */
static const struct point *
point_before (const struct gz *g, uint64_t offset)
{
  size_t lo = 0, hi = g->npt;

  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (g->pt[mid].out <= offset)
      lo = mid + 1;
    else
      hi = mid;
  }
  return lo ? &g->pt[lo - 1] : NULL;
}

/* Put the stream where a read at OFFSET is cheapest. */
static int
gz_seek (struct vmi_layer *l, uint64_t offset)
{
  struct gz *g = l->priv;
  const struct point *p = point_before (g, offset);
  uint64_t from = p ? p->out : 0;

  if (offset >= g->out_pos && (from <= g->out_pos || offset - g->out_pos < CHUNK))
    return 0;   /* ahead, and no checkpoint nearer than where we are */
  if (seek_point (l, p) == -1) {
    errno = EIO;
    vmi_error ("%s: cannot resume inflating at the checkpoint at %" PRIu64
               ": %s", l->name, from, g->z.msg ? g->z.msg : "zlib error");
    return -1;
  }
  return 0;
}

static int
gz_pread (struct vmi_layer *l, void *buf, size_t count, uint64_t offset)
{
  struct gz *g = l->priv;
  char *p = buf;
  int r = 0;

  pthread_mutex_lock (&g->lock);
  while (count > 0) {
    size_t n = copy_from (g, 1, p, count, offset);
    if (n == 0)
      n = copy_from (g, 0, p, count, offset);
    if (n > 0) {
      p += n;
      count -= n;
      offset += n;
      continue;
    }
    if ((r = gz_seek (l, offset)) == -1)
      break;
    if (g->done) {
      errno = EIO;
      vmi_error ("%s: gzip stream ended at %" PRIu64 " bytes, before offset %"
                 PRIu64, l->name, g->out_pos, offset);
      r = -1;
      break;
    }
    if ((r = gz_next_chunk (l)) == -1)
      break;
  }
  pthread_mutex_unlock (&g->lock);
  return r;
}

static void
gz_close (struct vmi_layer *l)
{
  struct gz *g = l->priv;

  if (g == NULL)
    return;
  inflateEnd (&g->z);
  pthread_mutex_destroy (&g->lock);
  for (size_t i = 0; i < g->npt; i++)
    free (g->pt[i].window);
  free (g->pt);
  free (g->in);
  free (g->chunk[0]);
  free (g->chunk[1]);
  free (g);
}

static const struct vmi_layer_ops gz_ops = {
  .name = "gzip",
  .pread = gz_pread,
  .close = gz_close,
};

int
vmi_gzip_stats (struct vmi_layer *l, struct vmi_gzip_stats *out)
{
  struct gz *g;

  if (l->ops != &gz_ops) {
    errno = EINVAL;
    vmi_error ("%s: not a gzip layer", l->name);
    return -1;
  }
  g = l->priv;
  pthread_mutex_lock (&g->lock);
  *out = g->stats;
  out->interval = g->interval;
  out->points = g->npt;
  pthread_mutex_unlock (&g->lock);
  return 0;
}

struct vmi_layer *
vmi_gzip_open (struct vmi_layer *file)
{
  return vmi_gzip_open_tuned (file, FIRST_INTERVAL, MAX_POINTS);
}

struct vmi_layer *
vmi_gzip_open_tuned (struct vmi_layer *file, uint64_t interval,
                     size_t max_points)
{
  struct gz *g = calloc (1, sizeof *g);
  struct vmi_layer *l;
  unsigned char tail[4];
  uint64_t size;

  if (file->size < 18) {
    errno = EINVAL;
    vmi_error ("%s: %" PRIu64 " bytes is too short for a gzip file",
               file->name, file->size);
    free (g);
    vmi_layer_close (file);
    return NULL;
  }
  if (g == NULL || (g->in = malloc (IN_BUF)) == NULL
      || (g->chunk[0] = malloc (CHUNK)) == NULL
      || (g->chunk[1] = malloc (CHUNK)) == NULL
      || (g->pt = calloc (max_points < 2 ? 2 : max_points,
                          sizeof *g->pt)) == NULL
      || inflateInit2 (&g->z, 15 + 16) != Z_OK) {
    if (g) {
      free (g->in);
      free (g->chunk[0]);
      free (g->chunk[1]);
      free (g->pt);
    }
    free (g);
    errno = ENOMEM;
    vmi_error ("%s: out of memory", file->name);
    vmi_layer_close (file);
    return NULL;
  }
  g->interval = interval ? interval : 1;
  g->max_points = max_points < 2 ? 2 : max_points;
  pthread_mutex_init (&g->lock, NULL);
  /* Size, until known, is a placeholder: the layer reads itself to count. */
  l = vmi_layer_new (&gz_ops, g, 0, file->name, file);
  if (l == NULL) {
    gz_close (&(struct vmi_layer){ .priv = g });
    return NULL;
  }
  if (vmi_layer_pread (file, tail, 4, file->size - 4) == -1)
    goto fail;
  size = (uint64_t) tail[0] | (uint64_t) tail[1] << 8
         | (uint64_t) tail[2] << 16 | (uint64_t) tail[3] << 24;
  if (file->size > (UINT64_C (1) << 32) / 1032) {
    vmi_log (VMI_LOG_INFO, "%s: gzip-compressed; decompressing it once to "
             "learn its size (gzip records it only modulo 4 GiB) and index "
             "it", l->name);
    while (!g->done)
      if (gz_next_chunk (l) == -1)
        goto fail;
    size = g->out_pos;
    if (seek_point (l, NULL) == -1)
      goto fail;
  }
  l->size = size;
  return l;
 fail:
  vmi_layer_close (l);
  return NULL;
}
