/* One VMDK sparse extent as a layer of its capacity.
 *
 * "KDMV" (hosted sparse, VMDK 4, versions 1-3): monolithicSparse,
 * twoGbMaxExtentSparse extents and streamOptimized (deflated grains behind
 * grain markers, the real header possibly in a footer).  "COWD" (ESX
 * VMFSSPARSE): the same two-level map with 4096 entries per grain table.
 *
 * The grain directory (GD) is read and checked at open; grain tables (GT)
 * are read when first needed and kept in a small LRU; inflated grains are
 * kept in another small LRU so that a grain is inflated once.  Both caches
 * have a short mutex of their own; no lock is held during I/O.
 */
#include <errno.h>
#include <inttypes.h>
#include <libdeflate.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "vmimport/error.h"
#include "vmimport/formats.h"
#include "vmimport/pool.h"
#include "vmdk.h"

#define KDMV_FLAG_NL_DETECT (1u << 0)
#define KDMV_FLAG_ZERO_GRAIN (1u << 2)
#define KDMV_FLAG_MARKERS (1u << 17)    /* compressed grains behind markers */
#define GD_AT_END UINT64_MAX
#define COMPRESS_DEFLATE 1
enum { MARKER_EOS = 0, MARKER_GT = 1, MARKER_GD = 2, MARKER_FOOTER = 3 };
/* VMDK: a GTE of 1 means "grain reads as zeros" when the zeroed-grain flag
 * is set. */
#define GTE_ZEROED 1

#define MAX_GRAIN_SECTORS 2048          /* 1 MiB; VMware uses 64 KiB */
#define MAX_GTES 4096                   /* COWD has 4096, KDMV at most 512 */
#define MAX_GD_ENTRIES (1u << 22)       /* 16 MiB of GD: 128 TiB of 64 KiB
                                           grains */
#define GT_CACHE_BYTES (4u << 20)       /* grain tables kept per extent,
                                           allocated as used: a 64 GiB disk
                                           of 64 KiB grains fits */
#define GT_MIN_SLOTS 32
#define GT_PREFETCH_BYTES (512u << 10)  /* adjacent GTs read in one go: 256
                                           of 512 entries map 8 GiB of 64 KiB
                                           grains; over a link, 16 at a time
                                           cost the full benchmark OVA 9
                                           round trips */
#define GRAIN_CACHE_BYTES (2u << 20)
#define GRAIN_MARKER_BYTES 12           /* lba (8), size (4), then data */
#define CHUNK 512                       /* grains handled per step */

struct gt_slot {
  uint32_t gdi;
  int valid;
  uint32_t *e;
};

struct grain_slot {
  uint64_t grain;
  int valid;
  uint64_t used;
  size_t len;
  char *data;
};

struct sparse {
  uint64_t file_size;
  uint64_t grain_bytes;
  unsigned grain_shift;
  uint32_t gtes;                /* entries per grain table */
  uint32_t gt_bytes, gt_stride; /* size; distance of adjacent GTs in file */
  uint32_t *gd;
  uint32_t gd_n;
  int zero_grain, compressed, markers;

  pthread_mutex_t gt_lock;
  struct gt_slot *gt;           /* direct-mapped: table gdi in gdi % gt_n */
  uint32_t gt_n;

  pthread_mutex_t grain_lock;
  struct grain_slot *gc;
  size_t gc_n;
  uint64_t gc_clock;

  uint64_t inflations;
};

static uint32_t
le32 (const unsigned char *p)
{
  return p[0] | (uint32_t) p[1] << 8 | (uint32_t) p[2] << 16
    | (uint32_t) p[3] << 24;
}

static uint64_t
le64 (const unsigned char *p)
{
  return le32 (p) | (uint64_t) le32 (p + 4) << 32;
}

/* Header fields common to KDMV and COWD, in sectors. */
struct header {
  uint32_t version, flags;
  uint64_t capacity, grain, desc_offset, desc_size, gd_offset, overhead;
  uint32_t gtes, gd_entries;    /* gd_entries: COWD only */
  uint16_t compress;
  int cowd;
};

static void
parse_kdmv (const unsigned char *b, struct header *h)
{
  memset (h, 0, sizeof *h);
  h->version = le32 (b + 4);
  h->flags = le32 (b + 8);
  h->capacity = le64 (b + 12);
  h->grain = le64 (b + 20);
  h->desc_offset = le64 (b + 28);
  h->desc_size = le64 (b + 36);
  h->gtes = le32 (b + 44);
  h->gd_offset = le64 (b + 56);
  h->overhead = le64 (b + 64);
  h->compress = b[77] | b[78] << 8;
}

static void
parse_cowd (const unsigned char *b, struct header *h)
{
  memset (h, 0, sizeof *h);
  h->cowd = 1;
  h->version = le32 (b + 4);
  h->flags = le32 (b + 8);
  h->capacity = le32 (b + 12);
  h->grain = le32 (b + 16);
  h->gd_offset = le32 (b + 20);
  h->gd_entries = le32 (b + 24);
  h->gtes = MAX_GTES;
}

static int
fail (int err, struct vmi_layer *file, const char *msg)
{
  errno = err;
  vmi_error ("%s: %s", file->name, msg);
  return -1;
}

/* VMDK: gdOffset == GD_AT_END means the footer near the end of the file
 * holds the real header: footer marker, footer (a header sector), EOS
 * marker, the last three sectors. */
static int
read_footer (struct vmi_layer *file, struct header *h)
{
  unsigned char b[3 * VMDK_SECTOR];
  uint64_t end = file->size & ~(uint64_t) (VMDK_SECTOR - 1), off;

  if (end < 4 * VMDK_SECTOR)
    return fail (EINVAL, file, "header says the grain directory is in the "
                 "footer, but the file is too small to hold one");
  off = end - sizeof b;
  if (vmi_layer_pread (file, b, sizeof b, off) == -1)
    return -1;
  if (le32 (b + 8) != 0 || le32 (b + 12) != MARKER_FOOTER
      || memcmp (b + VMDK_SECTOR, "KDMV", 4) != 0
      || le64 (b + 2 * VMDK_SECTOR) != 0
      || le32 (b + 2 * VMDK_SECTOR + 8) != 0
      || le32 (b + 2 * VMDK_SECTOR + 12) != MARKER_EOS) {
    errno = EINVAL;
    vmi_error ("%s: header says the grain directory is in the footer, but "
               "there is no valid footer at offset %" PRIu64
               " (footer marker, header, end-of-stream marker expected); "
               "truncated stream?", file->name, off);
    return -1;
  }
  parse_kdmv (b + VMDK_SECTOR, h);
  if (h->gd_offset == GD_AT_END)
    return fail (EINVAL, file, "footer's grain directory offset is also "
                 "GD_AT_END");
  return 0;
}

static int
check_header (struct vmi_layer *file, const unsigned char *b,
              const struct header *h)
{
  const char *name = file->name;

  if (h->version < 1 || h->version > 3) {
    errno = ENOTSUP;
    vmi_error ("%s: unsupported sparse VMDK version %" PRIu32
               " (1, 2 and 3 are known)", name, h->version);
    return -1;
  }
  if (!h->cowd && (h->flags & KDMV_FLAG_NL_DETECT)
      && memcmp (b + 73, "\n \r\n", 4) != 0)
    return fail (EINVAL, file, "newline check bytes of the header are "
                 "damaged (file transferred in text mode?)");
  if (h->capacity > VMDK_MAX_SECTORS) {
    errno = EINVAL;
    vmi_error ("%s: capacity of %" PRIu64 " sectors is absurd (more than "
               "2^50 bytes); corrupt header", name, h->capacity);
    return -1;
  }
  if (h->grain == 0 || (h->grain & (h->grain - 1))
      || h->grain > MAX_GRAIN_SECTORS) {
    errno = EINVAL;
    vmi_error ("%s: grain size of %" PRIu64 " sectors is not a power of two "
               "between 1 and %d", name, h->grain, MAX_GRAIN_SECTORS);
    return -1;
  }
  if (h->gtes == 0 || h->gtes > (h->cowd ? MAX_GTES : 512)) {
    errno = EINVAL;
    vmi_error ("%s: %" PRIu32 " entries per grain table (1 to 512 allowed)",
               name, h->gtes);
    return -1;
  }
  if (!h->cowd && h->compress != 0 && h->compress != COMPRESS_DEFLATE) {
    errno = ENOTSUP;
    vmi_error ("%s: unsupported compression algorithm %u (only deflate, 1)",
               name, h->compress);
    return -1;
  }
  if (h->overhead > file->size / VMDK_SECTOR) {
    errno = EINVAL;
    vmi_error ("%s: truncated: header says grains start at offset %" PRIu64
               " but the file is %" PRIu64 " bytes", name,
               h->overhead * VMDK_SECTOR, file->size);
    return -1;
  }
  return 0;
}

/* Read the grain directory and check every grain table lies in the file.
 * The GT_PREFETCH_BYTES after it come in the same read, into *TAIL (its
 * *TAIL_LEN bytes from the end of the directory; the caller frees it):
 * qemu-img and monolithicSparse disks put the grain tables there, and
 * over a link each read is a round trip (gt_seed). */
static int
load_gd (struct vmi_layer *file, struct sparse *s, const struct header *h,
         unsigned char **tail, size_t *tail_len)
{
  uint64_t span = h->grain * h->gtes;        /* sectors per GT */
  uint64_t n = (h->capacity + span - 1) / span;
  uint64_t off, bytes, extra;
  unsigned char *raw;

  if (h->cowd && n > h->gd_entries) {
    errno = EINVAL;
    vmi_error ("%s: grain directory has %" PRIu32 " entries, capacity needs %"
               PRIu64, file->name, h->gd_entries, n);
    return -1;
  }
  if (n > MAX_GD_ENTRIES) {
    errno = EINVAL;
    vmi_error ("%s: grain directory of %" PRIu64 " entries is too large "
               "(limit %u)", file->name, n, MAX_GD_ENTRIES);
    return -1;
  }
  s->gd_n = n;
  if (n == 0)
    return 0;
  bytes = n * 4;
  if (h->gd_offset == 0 || h->gd_offset > file->size / VMDK_SECTOR
      || bytes > file->size - h->gd_offset * VMDK_SECTOR) {
    errno = EINVAL;
    vmi_error ("%s: grain directory at sector %" PRIu64 " (%" PRIu64
               " bytes) is past end of file (size %" PRIu64 ")",
               file->name, h->gd_offset, bytes, file->size);
    return -1;
  }
  off = h->gd_offset * VMDK_SECTOR;
  extra = file->size - off - bytes;
  if (extra > GT_PREFETCH_BYTES)
    extra = GT_PREFETCH_BYTES;
  if ((s->gd = malloc (bytes)) == NULL
      || (raw = malloc (bytes + extra)) == NULL)
    return fail (ENOMEM, file, "out of memory for the grain directory");
  if (vmi_layer_pread (file, raw, bytes + extra, off) == -1) {
    free (raw);
    return -1;
  }
  memcpy (s->gd, raw, bytes);
  memmove (raw, raw + bytes, extra);
  *tail = raw;
  *tail_len = extra;
  for (uint64_t i = 0; i < n; i++) {
    uint64_t gt = le32 ((const unsigned char *) &s->gd[i]);  /* in place */
    s->gd[i] = gt;
    if (gt != 0 && (gt > file->size / VMDK_SECTOR
                    || s->gt_bytes > file->size - gt * VMDK_SECTOR)) {
      errno = EINVAL;
      vmi_error ("%s: grain table %" PRIu64 " at offset %" PRIu64
                 " points past end of file (size %" PRIu64 ")",
                 file->name, i, gt * VMDK_SECTOR, file->size);
      return -1;
    }
  }
  return 0;
}

/* Keep grain table GDI, RAW in the file's byte order, unless a table is
 * kept in its slot and PREFETCHED (nobody asked for it yet).  Under
 * s->gt_lock. */
static void
gt_store (struct sparse *s, uint32_t gdi, const unsigned char *raw,
          bool prefetched)
{
  struct gt_slot *v = &s->gt[gdi % s->gt_n];

  if ((v->valid && v->gdi == gdi) || (prefetched && v->valid))
    return;
  if (v->e == NULL && (v->e = malloc (s->gt_bytes)) == NULL)
    return;                     /* no memory: no caching */
  for (uint32_t j = 0; j < s->gtes; j++)
    v->e[j] = le32 (raw + 4 * j);
  v->gdi = gdi;
  v->valid = 1;
}

/* Copy entries [FIRST, FIRST+N) of grain table GDI to OUT (host order).
 * Reads the table (and the adjacent ones after it) on a miss. */
static int
gt_get (struct vmi_layer *l, uint32_t gdi, uint32_t first, uint32_t n,
        uint32_t *out)
{
  struct sparse *s = l->priv;
  struct gt_slot *slot = &s->gt[gdi % s->gt_n];
  uint32_t k = 1;
  unsigned char *raw;
  int found = 0;

  pthread_mutex_lock (&s->gt_lock);
  if (slot->valid && slot->gdi == gdi) {
    memcpy (out, slot->e + first, n * sizeof *out);
    found = 1;
  }
  pthread_mutex_unlock (&s->gt_lock);
  if (found)
    return 0;

  /* Tables laid out one after another (monolithicSparse, and the empty
   * tables of a streamOptimized disk) are read at once. */
  while ((uint64_t) (k + 1) * s->gt_stride <= GT_PREFETCH_BYTES
         && gdi + k < s->gd_n
         && (uint64_t) s->gd[gdi + k] * VMDK_SECTOR
            == (uint64_t) s->gd[gdi] * VMDK_SECTOR
               + (uint64_t) k * s->gt_stride)
    k++;
  raw = malloc ((size_t) (k - 1) * s->gt_stride + s->gt_bytes);
  if (raw == NULL) {
    errno = ENOMEM;
    vmi_error ("%s: out of memory for a grain table", l->name);
    return -1;
  }
  if (vmi_layer_pread (l->below, raw, (size_t) (k - 1) * s->gt_stride
                       + s->gt_bytes, (uint64_t) s->gd[gdi] * VMDK_SECTOR)
      == -1) {
    vmi_error_prefix ("%s: reading grain table %" PRIu32, l->name, gdi);
    free (raw);
    return -1;
  }
  for (uint32_t j = 0; j < n; j++)
    out[j] = le32 (raw + 4 * (first + j));
  pthread_mutex_lock (&s->gt_lock);
  for (uint32_t t = 0; t < k; t++)
    gt_store (s, gdi + t, raw + (size_t) t * s->gt_stride, t > 0);
  pthread_mutex_unlock (&s->gt_lock);
  free (raw);
  return 0;
}

/* Keep the grain tables that lie in TAIL, the LEN bytes after the grain
 * directory (load_gd), as gt_get would have read them. */
static void
gt_seed (struct sparse *s, const unsigned char *tail, size_t len,
         uint64_t tail_off)
{
  for (uint32_t i = 0; i < s->gd_n; i++) {
    uint64_t at = (uint64_t) s->gd[i] * VMDK_SECTOR;
    if (s->gd[i] != 0 && at >= tail_off && at - tail_off <= len
        && len - (at - tail_off) >= s->gt_bytes)
      gt_store (s, i, tail + (at - tail_off), true);
  }
}

static int
grain_cache_copy (struct sparse *s, uint64_t grain, char *dst, size_t skip,
                  size_t len)
{
  int hit = 0;

  pthread_mutex_lock (&s->grain_lock);
  for (size_t i = 0; i < s->gc_n; i++)
    if (s->gc[i].valid && s->gc[i].grain == grain) {
      memcpy (dst, s->gc[i].data + skip, len);
      s->gc[i].used = ++s->gc_clock;
      hit = 1;
      break;
    }
  pthread_mutex_unlock (&s->grain_lock);
  return hit;
}

static void
grain_cache_put (struct sparse *s, uint64_t grain, const char *data,
                 size_t len)
{
  struct grain_slot *victim = NULL;

  pthread_mutex_lock (&s->grain_lock);
  for (size_t i = 0; i < s->gc_n; i++) {
    if (s->gc[i].valid && s->gc[i].grain == grain) {
      victim = NULL;
      goto out;
    }
    if (victim == NULL || !s->gc[i].valid
        || (victim->valid && s->gc[i].used < victim->used))
      victim = &s->gc[i];
  }
  if (victim->data == NULL
      && (victim->data = malloc (s->grain_bytes)) == NULL)
    goto out;                   /* no memory: no caching */
  memcpy (victim->data, data, len);
  victim->len = len;
  victim->grain = grain;
  victim->valid = 1;
  victim->used = ++s->gc_clock;
 out:
  pthread_mutex_unlock (&s->grain_lock);
}

static int
is_zlib (const unsigned char *p, size_t n)
{
  return n >= 2 && (p[0] & 0x0f) == 8 && (p[0] >> 4) <= 7
    && ((p[0] << 8) | p[1]) % 31 == 0;
}

/* A decompressor per thread, kept for the thread's life. */
static pthread_key_t dec_key;
static pthread_once_t dec_once = PTHREAD_ONCE_INIT;

static void
dec_free (void *d)
{
  libdeflate_free_decompressor (d);
}

static void
dec_key_init (void)
{
  pthread_key_create (&dec_key, dec_free);
}

static struct libdeflate_decompressor *
decompressor (void)
{
  struct libdeflate_decompressor *d;

  pthread_once (&dec_once, dec_key_init);
  d = pthread_getspecific (dec_key);
  if (d == NULL && (d = libdeflate_alloc_decompressor ()) != NULL)
    pthread_setspecific (dec_key, d);
  return d;
}

/* The expected length of grain GRAIN once inflated (the last grain of the
 * disk may be short). */
static uint64_t
grain_len (const struct vmi_layer *l, uint64_t grain)
{
  const struct sparse *s = l->priv;
  uint64_t gstart = grain << s->grain_shift;

  return l->size - gstart < s->grain_bytes ? l->size - gstart : s->grain_bytes;
}

#define NEED_MORE 1

/* Inflate compressed grain GRAIN, whose marker (or bare stream) was read
 * at file offset OFF into IN (HAVE bytes), into OUT (room for CAP bytes).
 * Returns 0 with *GOT set, NEED_MORE with *NEED set when IN holds too
 * little of the grain, or -1 with errno and vmi_error set. */
static int
inflate_grain (struct vmi_layer *l, uint64_t grain, uint64_t off,
               const unsigned char *in, uint64_t have, char *out, size_t cap,
               size_t *got, uint64_t *need)
{
  struct sparse *s = l->priv;
  uint64_t gstart = grain << s->grain_shift, expect = grain_len (l, grain);
  uint64_t limit = 2 * s->grain_bytes, csize = have;    /* deflate may expand */
  const unsigned char *data = in;
  struct libdeflate_decompressor *d = decompressor ();
  enum libdeflate_result r;
  size_t in_used;

  if (d == NULL) {
    errno = ENOMEM;
    vmi_error ("%s: out of memory inflating grain %" PRIu64, l->name, grain);
    return -1;
  }
  if (s->markers && have < GRAIN_MARKER_BYTES) {
    *need = GRAIN_MARKER_BYTES;
    return NEED_MORE;
  }
  if (s->markers) {
    uint64_t lba = le64 (in);
    csize = le32 (in + 8);
    data = in + GRAIN_MARKER_BYTES;
    if (lba != gstart / VMDK_SECTOR) {
      errno = EIO;
      vmi_error ("%s: grain marker at offset %" PRIu64 " is for sector %"
                 PRIu64 ", expected %" PRIu64 " (grain %" PRIu64 ")",
                 l->name, off, lba, gstart / VMDK_SECTOR, grain);
      return -1;
    }
    if (csize == 0 || csize > limit
        || csize > s->file_size - off - GRAIN_MARKER_BYTES) {
      errno = EIO;
      vmi_error ("%s: compressed grain %" PRIu64 " at offset %" PRIu64
                 " has size %" PRIu64 " (limit %" PRIu64 ", file size %"
                 PRIu64 ")", l->name, grain, off, csize, limit, s->file_size);
      return -1;
    }
    if (GRAIN_MARKER_BYTES + csize > have) {
      *need = GRAIN_MARKER_BYTES + csize;
      return NEED_MORE;
    }
  }
  if (is_zlib (data, csize))    /* what qemu and VMware write (RFC 1950) */
    r = libdeflate_zlib_decompress_ex (d, data, csize, out, cap, &in_used,
                                       got);
  else                          /* bare RFC 1951 stream */
    r = libdeflate_deflate_decompress_ex (d, data, csize, out, cap, &in_used,
                                          got);
  if (r != LIBDEFLATE_SUCCESS) {
    errno = EIO;
    vmi_error ("%s: compressed grain %" PRIu64 " at offset %" PRIu64
               " does not inflate: %s", l->name, grain, off,
               r == LIBDEFLATE_INSUFFICIENT_SPACE
               ? "it inflates to more than the grain size" : "bad data");
    return -1;
  }
  if (*got != s->grain_bytes && *got != expect) {
    errno = EIO;
    vmi_error ("%s: compressed grain %" PRIu64 " at offset %" PRIu64
               " inflates to %zu bytes, expected %" PRIu64,
               l->name, grain, off, *got, expect);
    return -1;
  }
  __atomic_add_fetch (&s->inflations, 1, __ATOMIC_RELAXED);
  return 0;
}

/* Read LEN bytes at SKIP of compressed grain GRAIN stored at SECTOR: one
 * grain on its own, through the grain cache. */
static int
read_compressed (struct vmi_layer *l, uint64_t grain, uint64_t sector,
                 char *dst, size_t skip, size_t len)
{
  struct sparse *s = l->priv;
  uint64_t off = sector * VMDK_SECTOR, have, need;
  uint64_t limit = 2 * s->grain_bytes;
  unsigned char *in = NULL;
  char *out = NULL;
  size_t got = 0;
  int ret = -1, r;

  if (grain_cache_copy (s, grain, dst, skip, len))
    return 0;

  if (off >= s->file_size) {
    errno = EIO;
    vmi_error ("%s: compressed grain %" PRIu64 " at offset %" PRIu64
               " points past end of file (size %" PRIu64 ")",
               l->name, grain, off, s->file_size);
    return -1;
  }
  /* One read for the marker and (usually) the whole compressed grain;
   * the rest, if any, in a second one. */
  have = s->file_size - off;
  if (have > (s->markers ? GRAIN_MARKER_BYTES + s->grain_bytes : limit))
    have = s->markers ? GRAIN_MARKER_BYTES + s->grain_bytes : limit;
  if (s->markers && have < GRAIN_MARKER_BYTES) {
    errno = EIO;
    vmi_error ("%s: grain marker of grain %" PRIu64 " at offset %" PRIu64
               " is cut off by end of file (size %" PRIu64 ")",
               l->name, grain, off, s->file_size);
    return -1;
  }
  in = malloc (GRAIN_MARKER_BYTES + limit);
  out = malloc (s->grain_bytes);
  if (in == NULL || out == NULL) {
    errno = ENOMEM;
    vmi_error ("%s: out of memory inflating grain %" PRIu64, l->name, grain);
    goto out;
  }
  if (vmi_layer_pread (l->below, in, have, off) == -1)
    goto out;
  r = inflate_grain (l, grain, off, in, have, out, s->grain_bytes, &got,
                     &need);
  if (r == NEED_MORE) {
    if (vmi_layer_pread (l->below, in + have, need - have, off + have) == -1)
      goto out;
    r = inflate_grain (l, grain, off, in, need, out, s->grain_bytes, &got,
                       &need);
  }
  if (r != 0)
    goto out;
  memcpy (dst, out + skip, len);
  grain_cache_put (s, grain, out, got);
  ret = 0;
 out:
  free (in);
  free (out);
  return ret;
}

/* A run of compressed grains stored one after another, read with one
 * request and inflated on every core. */
#define RUN_SPAN_MAX (1u << 20)         /* compressed bytes per request: a
                                           span is a second copy of bytes the
                                           transport holds; 16 MiB (a copy
                                           worker's whole 4 MiB unit at once)
                                           peaked the remote OVA copy at
                                           122 MiB, 1 MiB at 95, as fast */
#define RUN_SLACK 4096                  /* deflate's growth of a stored grain */
#define RUN_PARALLEL 4                  /* fewer grains: inflate here */

struct run_item {
  uint64_t grain, off;          /* grain number; file offset of its marker */
  char *dst;
  size_t skip, len;             /* the part of the grain wanted */
  bool done;
};

struct run {
  struct vmi_layer *l;
  const unsigned char *span;    /* the file from span_off, span_len bytes */
  uint64_t span_off, span_len;
  struct run_item *it;
  struct vmi_parallel_error err;
};

static void
run_inflate (void *arg, size_t k)
{
  struct run *r = arg;
  struct run_item *it = &r->it[k];
  struct sparse *s = r->l->priv;
  uint64_t at = it->off - r->span_off, need;
  bool whole = it->skip == 0 && it->len == s->grain_bytes;
  char *out;
  size_t got;
  int rc;

  if (it->done)
    return;
  if ((out = whole ? it->dst : malloc (s->grain_bytes)) == NULL) {
    errno = ENOMEM;
    vmi_error ("%s: out of memory inflating grain %" PRIu64, r->l->name,
               it->grain);
    vmi_parallel_fail (&r->err, k);
    return;
  }
  rc = inflate_grain (r->l, it->grain, it->off, r->span + at,
                      r->span_len - at, out, s->grain_bytes, &got, &need);
  if (rc == NEED_MORE)          /* the last grain grew past the slack */
    rc = read_compressed (r->l, it->grain, it->off / VMDK_SECTOR, it->dst,
                          it->skip, it->len);
  else if (rc == 0 && !whole) {
    memcpy (it->dst, out + it->skip, it->len);
    grain_cache_put (s, it->grain, out, got);
  }
  if (rc == -1)
    vmi_parallel_fail (&r->err, k);
  if (!whole)
    free (out);
}

/* Read [POS, END) of the disk into DST: M grains from FIRST, compressed,
 * their markers at SECTOR[0..M) (increasing, all inside the file). */
static int
read_compressed_run (struct vmi_layer *l, uint64_t first,
                     const uint32_t *sector, size_t m, char *dst,
                     uint64_t pos, uint64_t end)
{
  struct sparse *s = l->priv;
  struct run r = { .l = l };
  struct run_item it[CHUNK];
  unsigned char *span;
  size_t todo = 0;
  int ret = -1;

  for (size_t k = 0; k < m; k++) {
    uint64_t gstart = (first + k) << s->grain_shift;
    uint64_t from = pos > gstart ? pos : gstart;
    uint64_t to = gstart + s->grain_bytes < end ? gstart + s->grain_bytes : end;
    it[k] = (struct run_item) {
      .grain = first + k, .off = (uint64_t) sector[k] * VMDK_SECTOR,
      .dst = dst + (from - pos), .skip = from - gstart, .len = to - from,
    };
    /* A grain read in part may be in the grain cache already. */
    if (to - from < s->grain_bytes)
      it[k].done = grain_cache_copy (s, first + k, it[k].dst, it[k].skip,
                                     it[k].len);
    todo += !it[k].done;
  }
  if (todo == 0)
    return 0;
  r.span_off = it[0].off;
  r.span_len = it[m - 1].off - it[0].off + GRAIN_MARKER_BYTES
    + s->grain_bytes + RUN_SLACK;
  if (r.span_len > s->file_size - r.span_off)
    r.span_len = s->file_size - r.span_off;
  if ((span = malloc (r.span_len)) == NULL) {
    errno = ENOMEM;
    vmi_error ("%s: out of memory reading %zu grains", l->name, m);
    return -1;
  }
  if (vmi_layer_pread (l->below, span, r.span_len, r.span_off) == -1)
    goto out;
  r.span = span;
  r.it = it;
  vmi_parallel_error_init (&r.err);
  if (todo >= RUN_PARALLEL)
    vmi_parallel (m, run_inflate, &r);
  else
    for (size_t k = 0; k < m; k++)
      run_inflate (&r, k);
  ret = vmi_parallel_error_end (&r.err);
 out:
  free (span);
  return ret;
}

static int
is_zero_gte (const struct sparse *s, uint32_t e)
{
  return e == 0 || (s->zero_grain && e == GTE_ZEROED);
}

static int
sparse_pread (struct vmi_layer *l, void *buf, size_t count, uint64_t offset)
{
  struct sparse *s = l->priv;
  uint64_t pos = offset, end = offset + count;
  uint64_t gsec = s->grain_bytes / VMDK_SECTOR;
  uint32_t tbl[CHUNK];
  char *p = buf;

  while (pos < end) {
    uint64_t grain = pos >> s->grain_shift;
    uint64_t gdi = grain / s->gtes, gti = grain % s->gtes;
    uint64_t last = (end - 1) >> s->grain_shift;
    uint64_t n = last - grain + 1, chunk_end;

    if (n > s->gtes - gti)
      n = s->gtes - gti;
    if (n > CHUNK)
      n = CHUNK;
    chunk_end = (grain + n) << s->grain_shift;
    if (chunk_end > end)
      chunk_end = end;
    if (s->gd[gdi] == 0) {
      memset (p + (pos - offset), 0, chunk_end - pos);
      pos = chunk_end;
      continue;
    }
    if (gt_get (l, gdi, gti, n, tbl) == -1)
      return -1;
    for (uint64_t i = 0; i < n;) {
      uint64_t gstart = (grain + i) << s->grain_shift;
      uint64_t to = gstart + s->grain_bytes;
      uint64_t j = i + 1, foff;

      if (to > chunk_end)
        to = chunk_end;
      if (is_zero_gte (s, tbl[i]))
        memset (p + (pos - offset), 0, to - pos);
      else if (s->compressed && s->markers) {
        /* Grains stored one after another are read at once. */
        while (j < n && !is_zero_gte (s, tbl[j]) && tbl[j] > tbl[j - 1]
               && (uint64_t) tbl[j] * VMDK_SECTOR < s->file_size
               && (uint64_t) (tbl[j] - tbl[i]) * VMDK_SECTOR <= RUN_SPAN_MAX)
          j++;
        to = (grain + j) << s->grain_shift;
        if (to > chunk_end)
          to = chunk_end;
        if ((uint64_t) tbl[i] * VMDK_SECTOR >= s->file_size || j == i + 1) {
          if (read_compressed (l, grain + i, tbl[i], p + (pos - offset),
                               pos - gstart, to - pos) == -1)
            return -1;
        }
        else if (read_compressed_run (l, grain + i, tbl + i, j - i,
                                      p + (pos - offset), pos, to) == -1)
          return -1;
      }
      else if (s->compressed) {
        if (read_compressed (l, grain + i, tbl[i], p + (pos - offset),
                             pos - gstart, to - pos) == -1)
          return -1;
      }
      else {
        /* Grains stored one after another are read at once. */
        while (j < n && tbl[j] == tbl[j - 1] + gsec)
          j++;
        to = (grain + j) << s->grain_shift;
        if (to > chunk_end)
          to = chunk_end;
        foff = (uint64_t) tbl[i] * VMDK_SECTOR + (pos - gstart);
        if (foff > s->file_size || to - pos > s->file_size - foff) {
          errno = EIO;
          vmi_error ("%s: grain %" PRIu64 " at offset %" PRIu64
                     " points past end of file (size %" PRIu64 ")",
                     l->name, grain + i, (uint64_t) tbl[i] * VMDK_SECTOR,
                     s->file_size);
          return -1;
        }
        if (vmi_layer_pread (l->below, p + (pos - offset), to - pos, foff)
            == -1)
          return -1;
      }
      i = j;
      pos = to;
    }
  }
  return 0;
}

/* One grain table's worth of extents at a time, from metadata only. */
static int
sparse_extents (struct vmi_layer *l, uint64_t offset, uint64_t length,
                struct vmi_extents *out)
{
  struct sparse *s = l->priv;
  uint64_t grain = offset >> s->grain_shift;
  uint64_t gdi = grain / s->gtes, gti = grain % s->gtes;
  uint64_t end = (gdi + 1) * s->gtes << s->grain_shift, n, pos = offset;
  uint32_t tbl[CHUNK];

  if (end > l->size)
    end = l->size;
  if (s->gd[gdi] == 0)
    return vmi_extents_add (out, offset, end - offset, VMI_EXTENT_HOLE);
  if (length < end - offset)
    end = offset + length;
  n = ((end - 1) >> s->grain_shift) - grain + 1;
  if (n > CHUNK)
    n = CHUNK;
  if (gt_get (l, gdi, gti, n, tbl) == -1)
    return -1;
  for (uint64_t i = 0; i < n; i++) {
    uint64_t to = (grain + i + 1) << s->grain_shift;
    enum vmi_extent_type t = VMI_EXTENT_DATA;
    if (to > l->size)
      to = l->size;
    if (tbl[i] == 0)
      t = VMI_EXTENT_HOLE;
    else if (s->zero_grain && tbl[i] == GTE_ZEROED)
      t = VMI_EXTENT_ZERO;
    if (vmi_extents_add (out, pos, to - pos, t) == -1)
      return -1;
    pos = to;
  }
  return 0;
}

static void
sparse_free (struct sparse *s)
{
  if (s == NULL)
    return;
  for (uint32_t i = 0; s->gt && i < s->gt_n; i++)
    free (s->gt[i].e);
  free (s->gt);
  for (size_t i = 0; i < s->gc_n; i++)
    free (s->gc[i].data);
  free (s->gc);
  free (s->gd);
  pthread_mutex_destroy (&s->gt_lock);
  pthread_mutex_destroy (&s->grain_lock);
  free (s);
}

static void
sparse_close (struct vmi_layer *l)
{
  sparse_free (l->priv);
}

static const struct vmi_layer_ops sparse_ops = {
  .name = "vmdk-sparse",
  .pread = sparse_pread,
  .extents = sparse_extents,
  .close = sparse_close,
};

uint64_t
vmdk_sparse_inflations (struct vmi_layer *l)
{
  if (l->ops != &sparse_ops)
    return 0;
  return __atomic_load_n (&((struct sparse *) l->priv)->inflations,
                          __ATOMIC_RELAXED);
}

static struct sparse *
sparse_new (const struct header *h, uint64_t file_size)
{
  struct sparse *s = calloc (1, sizeof *s);

  if (s == NULL)
    return NULL;
  pthread_mutex_init (&s->gt_lock, NULL);
  pthread_mutex_init (&s->grain_lock, NULL);
  s->file_size = file_size;
  s->grain_bytes = h->grain * VMDK_SECTOR;
  while ((UINT64_C (1) << s->grain_shift) < s->grain_bytes)
    s->grain_shift++;
  s->gtes = h->gtes;
  s->gt_bytes = h->gtes * 4;
  s->gt_stride = (s->gt_bytes + VMDK_SECTOR - 1) & ~(VMDK_SECTOR - 1);
  s->zero_grain = !h->cowd && (h->flags & KDMV_FLAG_ZERO_GRAIN);
  s->compressed = !h->cowd && h->compress == COMPRESS_DEFLATE;
  /* Grain markers only change how compressed grains are stored. */
  s->markers = !h->cowd && (h->flags & KDMV_FLAG_MARKERS);
  if (s->compressed) {
    s->gc_n = GRAIN_CACHE_BYTES / s->grain_bytes;
    if (s->gc_n < 4)
      s->gc_n = 4;
    if ((s->gc = calloc (s->gc_n, sizeof *s->gc)) == NULL)
      goto nomem;
  }
  return s;
 nomem:
  sparse_free (s);
  return NULL;
}

struct vmi_layer *
vmdk_sparse_open (struct vmi_layer *file, uint64_t *desc_offset,
                  uint64_t *desc_size)
{
  unsigned char b[VMDK_SECTOR], *tail = NULL;
  size_t tail_len = 0;
  struct header h;
  struct sparse *s = NULL;
  struct vmi_layer *l;

  if (file->size < VMDK_SECTOR) {
    errno = EINVAL;
    vmi_error ("%s: truncated: %" PRIu64 " bytes, a sparse VMDK header "
               "needs 512", file->name, file->size);
    goto err;
  }
  if (vmi_layer_pread (file, b, sizeof b, 0) == -1)
    goto err;
  if (memcmp (b, "KDMV", 4) == 0) {
    parse_kdmv (b, &h);
    if (h.gd_offset == GD_AT_END && read_footer (file, &h) == -1)
      goto err;
  }
  else if (memcmp (b, "COWD", 4) == 0)
    parse_cowd (b, &h);
  else {
    errno = EINVAL;
    vmi_error ("%s: not a sparse VMDK extent (no KDMV or COWD magic)",
               file->name);
    goto err;
  }
  if (check_header (file, b, &h) == -1)
    goto err;
  if ((s = sparse_new (&h, file->size)) == NULL) {
    errno = ENOMEM;
    vmi_error ("%s: out of memory", file->name);
    goto err;
  }
  if (load_gd (file, s, &h, &tail, &tail_len) == -1)
    goto err;
  s->gt_n = GT_CACHE_BYTES / s->gt_bytes;
  if (s->gt_n < GT_MIN_SLOTS)
    s->gt_n = GT_MIN_SLOTS;
  if (s->gt_n > s->gd_n)
    s->gt_n = s->gd_n ? s->gd_n : 1;
  if ((s->gt = calloc (s->gt_n, sizeof *s->gt)) == NULL) {
    errno = ENOMEM;
    vmi_error ("%s: out of memory", file->name);
    goto err;
  }
  if (tail)
    gt_seed (s, tail, tail_len, h.gd_offset * VMDK_SECTOR
             + (uint64_t) s->gd_n * 4);
  free (tail);
  if (desc_offset)
    *desc_offset = h.cowd ? 0 : h.desc_offset * VMDK_SECTOR;
  if (desc_size)
    *desc_size = h.cowd ? 0 : h.desc_size * VMDK_SECTOR;
  l = vmi_layer_new (&sparse_ops, s, h.capacity * VMDK_SECTOR, file->name,
                     file);
  if (l == NULL)
    sparse_free (s);
  return l;
 err:
  free (tail);
  sparse_free (s);
  vmi_layer_close (file);
  return NULL;
}
