/* A gzip-compressed file of an OVF (ovf:compression="gzip") as a layer of
 * its uncompressed bytes.
 *
 * gzip has no index, so this layer is SEQUENTIAL-ONLY: one inflate stream
 * moves forward under a lock, the last two 1 MiB chunks of output are kept,
 * and a read behind them restarts decompression from the beginning (logged,
 * since it is slow).  Readers that go through the file in order - a copy,
 * vmimport verify - pay nothing extra; random readers pay a lot.
 *
 * The size: gzip's trailer holds it modulo 2^32.  When the compressed file
 * is small enough that the true size cannot exceed 2^32 (deflate expands by
 * at most 1032:1), that is the size; otherwise the file is decompressed
 * once at open to count its bytes. */
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

#define CHUNK (1u << 20)
#define IN_BUF (256u << 10)

struct gz {
  pthread_mutex_t lock;
  z_stream z;
  uint64_t in_pos;            /* compressed bytes read from below */
  unsigned char *in;
  char *chunk[2];             /* [0] the newest output, [1] the one before */
  uint64_t chunk_off[2];
  size_t chunk_len[2];
  uint64_t out_pos;           /* uncompressed bytes produced so far */
  bool done;                  /* the last member ended */
  unsigned restarts;
};

static int
gz_restart (struct vmi_layer *l)
{
  struct gz *g = l->priv;

  inflateReset (&g->z);
  g->z.avail_in = 0;
  g->in_pos = 0;
  g->out_pos = 0;
  g->done = false;
  g->chunk_len[0] = g->chunk_len[1] = 0;
  g->chunk_off[0] = g->chunk_off[1] = 0;
  return 0;
}

/* Inflate the next chunk of output into chunk[0] (the old one moves to
 * chunk[1]).  Under g->lock. */
static int
gz_next_chunk (struct vmi_layer *l)
{
  struct gz *g = l->priv;
  struct vmi_layer *below = l->below;
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
    int zr;
    if (g->z.avail_in == 0) {
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
      g->in_pos += n;
      g->z.next_in = g->in;
      g->z.avail_in = (uInt) n;
    }
    zr = inflate (&g->z, Z_NO_FLUSH);
    if (zr == Z_STREAM_END) {
      /* Another gzip member may follow (concatenated streams). */
      if (g->z.avail_in == 0 && g->in_pos == below->size)
        g->done = true;
      else
        inflateReset (&g->z);
    }
    else if (zr != Z_OK && zr != Z_BUF_ERROR) {
      errno = EIO;
      vmi_error ("%s: corrupt gzip data near compressed offset %" PRIu64
                 ": %s", l->name, g->in_pos - g->z.avail_in,
                 g->z.msg ? g->z.msg : "inflate failed");
      return -1;
    }
  }
  g->chunk_len[0] = CHUNK - g->z.avail_out;
  g->out_pos += g->chunk_len[0];
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
    if (offset < g->chunk_off[g->chunk_len[1] ? 1 : 0]) {
      if (g->restarts++ == 0 || g->restarts % 100 == 0)
        vmi_log (VMI_LOG_WARN, "%s: gzip-compressed files are read "
                 "sequentially; a read at offset %" PRIu64 " behind the "
                 "stream restarts decompression from the start (%u times "
                 "so far)", l->name, offset, g->restarts);
      gz_restart (l);
    }
    if (g->done) {
      errno = EIO;
      vmi_error ("%s: gzip stream ended at %" PRIu64 " bytes, before offset %"
                 PRIu64, l->name, g->out_pos, offset);
      r = -1;
      break;
    }
    if (gz_next_chunk (l) == -1) {
      r = -1;
      break;
    }
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

struct vmi_layer *
vmi_gzip_open (struct vmi_layer *file)
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
      || inflateInit2 (&g->z, 15 + 16) != Z_OK) {
    if (g) {
      free (g->in);
      free (g->chunk[0]);
      free (g->chunk[1]);
    }
    free (g);
    errno = ENOMEM;
    vmi_error ("%s: out of memory", file->name);
    vmi_layer_close (file);
    return NULL;
  }
  pthread_mutex_init (&g->lock, NULL);
  /* Size, until known, is a placeholder: the layer reads itself to count. */
  l = vmi_layer_new (&gz_ops, g, 0, file->name, file);
  if (l == NULL) {
    gz_close (&(struct vmi_layer){ .priv = g });
    return NULL;
  }
  vmi_log (VMI_LOG_WARN, "%s: gzip-compressed (ovf:compression=\"gzip\"): "
           "reads are sequential-only; reading backwards restarts "
           "decompression from the start", l->name);
  if (vmi_layer_pread (file, tail, 4, file->size - 4) == -1)
    goto fail;
  size = (uint64_t) tail[0] | (uint64_t) tail[1] << 8
         | (uint64_t) tail[2] << 16 | (uint64_t) tail[3] << 24;
  if (file->size > (UINT64_C (1) << 32) / 1032) {
    vmi_log (VMI_LOG_INFO, "%s: gzip-compressed; decompressing it once to "
             "learn its size (gzip records it only modulo 4 GiB)", l->name);
    while (!g->done)
      if (gz_next_chunk (l) == -1)
        goto fail;
    size = g->out_pos;
    gz_restart (l);
  }
  l->size = size;
  return l;
 fail:
  vmi_layer_close (l);
  return NULL;
}
