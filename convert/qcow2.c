/* QCOW2 -> raw: the virtual disk of a QCOW2 image, versions 2 and 3.
 *
 * The format is qemu's docs/interop/qcow2.txt.  A guest offset is mapped
 * through the L1 table (loaded at open) and an L2 table (one cluster, or
 * extended entries of 128 bits with 32 subclusters each), read on demand
 * into a bounded LRU cache.  A guest (sub)cluster is then one of:
 *   standard  - bytes at a host offset in the image file (DATA);
 *   zero      - reads as zeros (ZERO);
 *   unallocated - reads from the backing file, or zeros past its end or
 *               without one (HOLE, or whatever the backing file says);
 *   compressed - a raw deflate (zlib) or zstd stream inflating to exactly
 *               one cluster; inflated clusters are kept in a small cache.
 *
 * We only read: the refcount tables, snapshots and bitmaps are never
 * looked at.  Anything we cannot read faithfully (encryption, an external
 * data file, an unknown incompatible feature, an image marked corrupt) is
 * refused at open with a message naming the cause.
 *
 * Memory per image, whatever the disk size: the active L1 table (8 bytes
 * per 512 MiB of disk with 64 KiB clusters; qemu caps it at 32 MiB), at
 * most L2_CACHE_BYTES of L2 tables and INFLATED_CACHE_BYTES of inflated
 * clusters.  Each backing file is an image of its own with the same bounds.
 */
#include <endian.h>
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libdeflate.h>
#include <zstd.h>

#include "vmimport/error.h"
#include "vmimport/formats.h"
#include "vmimport/pool.h"
#include "chain.h"

#define QCOW2_MAGIC 0x514649fbu      /* "QFI\xfb" */
#define V2_HEADER_LEN 72
#define V3_HEADER_LEN 104
#define MIN_CLUSTER_BITS 9           /* 512 B */
#define MAX_CLUSTER_BITS 21          /* 2 MiB: qemu's implementation limit */
#define MAX_L1_BYTES (32u << 20)     /* qemu's limit on the active L1 table */
#define MAX_VIRTUAL_SIZE (UINT64_C (1) << 56)
#define MAX_BACKING_NAME 1023
#define MAX_CHAIN 16                 /* backing files below one image */

#define L2_CACHE_BYTES (8u << 20)    /* L2 tables kept per image */
#define INFLATED_CACHE_BYTES (4u << 20)
#define EXTENTS_RUNS_PER_CALL 4096   /* bound the work of one extents call */
#define BACKING_EXTENTS_CHUNK (UINT64_C (1) << 32)

/* Incompatible feature bits. */
#define INCOMPAT_DIRTY      (UINT64_C (1) << 0)
#define INCOMPAT_CORRUPT    (UINT64_C (1) << 1)
#define INCOMPAT_DATA_FILE  (UINT64_C (1) << 2)
#define INCOMPAT_COMPRESSION (UINT64_C (1) << 3)
#define INCOMPAT_EXTL2      (UINT64_C (1) << 4)
#define INCOMPAT_KNOWN      (UINT64_C (0x1f))

/* Header extensions. */
#define EXT_END          0x00000000u
#define EXT_BACKING_FMT  0xe2792acau
#define EXT_FEATURES     0x6803f857u
#define EXT_DATA_FILE    0x44415441u

#define L1E_OFFSET_MASK  UINT64_C (0x00fffffffffffe00)
#define L2E_OFFSET_MASK  UINT64_C (0x00fffffffffffe00)
#define L2E_COMPRESSED   (UINT64_C (1) << 62)
#define L2E_ZERO         UINT64_C (1)

/* ---- A small LRU of reference-counted blocks (L2 tables, inflated
 * clusters).  The lock guards the table and the counts only: readers copy
 * or use an entry they hold a reference to without it, and nothing is read
 * from below with the lock held. */

struct lru_entry {
  uint64_t key;
  int refs;                       /* the cache's own + one per user */
  struct lru_entry *hnext, *prev, *next;
  uint64_t data[];                /* 8-byte aligned for L2 entries */
};

struct lru {
  pthread_mutex_t lock;
  struct lru_entry **buckets;
  size_t nbuckets, count, max;
  struct lru_entry *head;         /* sentinel: head->next is the newest */
};

static int
lru_init (struct lru *c, size_t max)
{
  size_t nb = 16;

  while (nb < max)
    nb <<= 1;
  c->buckets = calloc (nb, sizeof *c->buckets);
  c->head = calloc (1, sizeof *c->head);
  if (c->buckets == NULL || c->head == NULL) {
    free (c->buckets);
    free (c->head);
    c->buckets = NULL;
    return -1;
  }
  pthread_mutex_init (&c->lock, NULL);
  c->nbuckets = nb;
  c->max = max;
  c->head->next = c->head->prev = c->head;
  return 0;
}

static size_t
lru_bucket (const struct lru *c, uint64_t key)
{
  return (key * UINT64_C (0x9E3779B97F4A7C15)) >> 32 & (c->nbuckets - 1);
}

static struct lru_entry *
lru_entry_new (size_t bytes)
{
  struct lru_entry *e = malloc (sizeof *e + bytes);

  if (e)
    e->refs = 1;
  return e;
}

/* Under c->lock. */
static void
lru_drop (struct lru_entry *e)
{
  if (--e->refs == 0)
    free (e);
}

/* Under c->lock. */
static void
lru_unlink (struct lru *c, struct lru_entry *e)
{
  struct lru_entry **pp = &c->buckets[lru_bucket (c, e->key)];

  while (*pp != e)
    pp = &(*pp)->hnext;
  *pp = e->hnext;
  e->prev->next = e->next;
  e->next->prev = e->prev;
  c->count--;
  lru_drop (e);
}

/* Under c->lock. */
static void
lru_push_front (struct lru *c, struct lru_entry *e)
{
  e->next = c->head->next;
  e->prev = c->head;
  c->head->next->prev = e;
  c->head->next = e;
}

/* A referenced entry for KEY, or NULL. */
static struct lru_entry *
lru_get (struct lru *c, uint64_t key)
{
  struct lru_entry *e;

  pthread_mutex_lock (&c->lock);
  for (e = c->buckets[lru_bucket (c, key)]; e; e = e->hnext)
    if (e->key == key) {
      e->prev->next = e->next;
      e->next->prev = e->prev;
      lru_push_front (c, e);
      e->refs++;
      break;
    }
  pthread_mutex_unlock (&c->lock);
  return e;
}

/* Insert E (one reference, the caller's, which it keeps) under KEY.  If
 * another thread got there first, E is freed and theirs is returned,
 * referenced. */
static struct lru_entry *
lru_put (struct lru *c, uint64_t key, struct lru_entry *e)
{
  struct lru_entry *old;

  pthread_mutex_lock (&c->lock);
  for (old = c->buckets[lru_bucket (c, key)]; old; old = old->hnext)
    if (old->key == key) {
      old->refs++;
      pthread_mutex_unlock (&c->lock);
      free (e);
      return old;
    }
  e->key = key;
  e->refs++;
  e->hnext = c->buckets[lru_bucket (c, key)];
  c->buckets[lru_bucket (c, key)] = e;
  lru_push_front (c, e);
  c->count++;
  while (c->count > c->max)
    lru_unlink (c, c->head->prev);
  pthread_mutex_unlock (&c->lock);
  return e;
}

static void
lru_release (struct lru *c, struct lru_entry *e)
{
  pthread_mutex_lock (&c->lock);
  lru_drop (e);
  pthread_mutex_unlock (&c->lock);
}

static void
lru_destroy (struct lru *c)
{
  if (c->buckets == NULL)
    return;
  while (c->count)
    lru_unlink (c, c->head->prev);
  free (c->buckets);
  free (c->head);
  pthread_mutex_destroy (&c->lock);
}

/* ---- The image. */

struct qcow2 {
  const char *name;               /* the image file's name (l->below) */
  struct vmi_layer *file;         /* not owned: it is l->below */
  uint64_t file_size;
  uint32_t version;
  unsigned cluster_bits;
  uint64_t cluster_size;
  unsigned l2_bits;               /* log2 of entries per L2 table */
  unsigned unit_bits;             /* log2 of a subcluster (or cluster) */
  int extended;                   /* extended L2 entries: 32 subclusters */
  uint64_t size;
  uint64_t *l1;                   /* host byte order */
  uint64_t l1_entries;            /* entries that map the virtual disk */
  int zstd;                       /* compression_type 1 */
  unsigned csize_shift;
  uint64_t csize_mask, coffset_mask;
  struct vmi_layer *backing;      /* owned; NULL if none */
  struct lru l2_cache, inflated;
  pthread_mutex_t pool_lock;      /* decompressor contexts, reused */
  void *pool[4];
  int npool;
};

enum run_type { RUN_DATA, RUN_ZERO, RUN_UNALLOC, RUN_COMPRESSED };

/* A stretch of guest bytes that is read one way. */
struct run {
  enum run_type type;
  uint64_t len;
  uint64_t host;                  /* DATA: host offset of the first byte;
                                     COMPRESSED: start of the stream */
  uint64_t desc;                  /* COMPRESSED: the L2 entry */
};

static uint64_t
be64 (const unsigned char *p)
{
  uint64_t v;
  memcpy (&v, p, 8);
  return be64toh (v);
}

static uint32_t
be32 (const unsigned char *p)
{
  uint32_t v;
  memcpy (&v, p, 4);
  return be32toh (v);
}

int
vmi_qcow2_probe (const void *buf, size_t len)
{
  return len >= 4 && be32 (buf) == QCOW2_MAGIC;
}

/* An L2 table, referenced; NULL on error (message recorded). */
static struct lru_entry *
l2_table_get (struct qcow2 *q, uint64_t l2_off, uint64_t guest_off)
{
  struct lru_entry *e = lru_get (&q->l2_cache, l2_off);
  size_t n = (size_t) 1 << q->l2_bits << q->extended;

  if (e)
    return e;
  /* Offsets were checked against the file size at open. */
  e = lru_entry_new (q->cluster_size);
  if (e == NULL) {
    errno = ENOMEM;
    vmi_error ("%s: out of memory for an L2 table", q->name);
    return NULL;
  }
  if (vmi_layer_pread (q->file, e->data, q->cluster_size, l2_off) == -1) {
    vmi_error_prefix ("%s: reading the L2 table at host offset %" PRIu64
                      " for guest offset %" PRIu64, q->name, l2_off, guest_off);
    free (e);
    return NULL;
  }
  for (size_t i = 0; i < n; i++)
    e->data[i] = be64toh (e->data[i]);
  return lru_put (&q->l2_cache, l2_off, e);
}

static int
corrupt (struct qcow2 *q, uint64_t guest_off, const char *what, uint64_t entry)
{
  errno = EIO;
  vmi_error ("%s: guest offset %" PRIu64 ": %s (L2 entry 0x%016" PRIx64 ")",
             q->name, guest_off, what, entry);
  return -1;
}

/* Classify the unit (subcluster, or cluster) holding guest offset POS,
 * from its L2 entry ENT and bitmap BMP.  *HOST gets the host offset of POS
 * itself for DATA. */
static int
classify (struct qcow2 *q, uint64_t pos, uint64_t ent, uint64_t bmp,
          enum run_type *type, uint64_t *host)
{
  uint64_t in_cluster = pos & (q->cluster_size - 1);
  uint64_t off = ent & L2E_OFFSET_MASK;

  if (ent & L2E_COMPRESSED) {
    /* Extended L2: compressed clusters have no subclusters; the bitmap is
     * reserved and ignored. */
    *type = RUN_COMPRESSED;
    *host = ent & q->coffset_mask;
    return 0;
  }
  if (off & (q->cluster_size - 1))
    return corrupt (q, pos, "cluster offset is not aligned to a cluster", ent);
  if (q->extended) {
    unsigned sc = in_cluster >> q->unit_bits;
    int alloc = bmp >> sc & 1, zero = bmp >> (32 + sc) & 1;
    if (alloc && zero)
      return corrupt (q, pos, "subcluster is both allocated and zero", ent);
    if (alloc && off == 0)
      return corrupt (q, pos, "subcluster is allocated in a cluster "
                      "with no host offset", ent);
    *type = alloc ? RUN_DATA : zero ? RUN_ZERO : RUN_UNALLOC;
  }
  else if (ent & L2E_ZERO)
    *type = RUN_ZERO;   /* v3 zero flag; a host offset is preallocation */
  else
    *type = off ? RUN_DATA : RUN_UNALLOC;
  *host = off + in_cluster;
  return 0;
}

/* Map guest offset OFF: the longest run (up to MAX_LEN, and within one L2
 * table unless unallocated in L1) that is read one way. */
static int
map_run (struct qcow2 *q, uint64_t off, uint64_t max_len, struct run *r)
{
  unsigned l1_shift = q->cluster_bits + q->l2_bits;
  uint64_t l1i = off >> l1_shift;
  uint64_t end = off + max_len, table_end, pos;
  struct lru_entry *t;

  if (l1i >= q->l1_entries)   /* checked at open; defensive */
    return corrupt (q, off, "past the L1 table", 0);
  if ((q->l1[l1i] & L1E_OFFSET_MASK) == 0) {
    /* No L2 table: the whole range is unallocated.  Cheap to extend. */
    uint64_t i = l1i + 1;
    while (i < q->l1_entries && (i << l1_shift) < end
           && (q->l1[i] & L1E_OFFSET_MASK) == 0)
      i++;
    pos = i << l1_shift;
    r->type = RUN_UNALLOC;
    r->len = (pos < end ? pos : end) - off;
    return 0;
  }
  t = l2_table_get (q, q->l1[l1i] & L1E_OFFSET_MASK, off);
  if (t == NULL)
    return -1;
  table_end = (l1i + 1) << l1_shift;
  if (end > table_end)
    end = table_end;
  for (pos = off; pos < end;) {
    uint64_t ci = (pos >> q->cluster_bits) & (((uint64_t) 1 << q->l2_bits) - 1);
    uint64_t ent = t->data[ci << q->extended];
    uint64_t bmp = q->extended ? t->data[(ci << 1) + 1] : 0;
    enum run_type type;
    uint64_t host, next;

    if (classify (q, pos, ent, bmp, &type, &host) == -1) {
      lru_release (&q->l2_cache, t);
      return -1;
    }
    if (pos == off) {
      r->type = type;
      r->host = host;
      r->desc = ent;
    }
    else if (type != r->type || type == RUN_COMPRESSED
             || (type == RUN_DATA && host != r->host + (pos - off)))
      break;
    if (type == RUN_COMPRESSED) {
      next = ((pos >> q->cluster_bits) + 1) << q->cluster_bits;
      pos = next < end ? next : end;
      break;
    }
    next = ((pos >> q->unit_bits) + 1) << q->unit_bits;
    pos = next < end ? next : end;
  }
  lru_release (&q->l2_cache, t);
  r->len = pos - off;
  return 0;
}

/* Standard clusters: host bytes.  A cluster that starts at or past the end
 * of the file is corruption; one that starts inside the file and is cut by
 * its end reads as zeros past it, as qemu reads it (qemu leaves the tail of
 * a cluster unwritten when only some subclusters are allocated). */
static int
read_data (struct qcow2 *q, char *buf, uint64_t n, uint64_t host,
           uint64_t guest_off)
{
  uint64_t limit = (q->file_size + q->cluster_size - 1) & ~(q->cluster_size - 1);
  uint64_t avail;

  if (host >= limit || n > limit - host) {
    uint64_t bad = host >= limit ? host : limit;
    errno = EIO;
    vmi_error ("%s: guest offset %" PRIu64 " maps to host offset %" PRIu64
               ", past the end of the file (size %" PRIu64 ")",
               q->name, guest_off + (bad - host), bad, q->file_size);
    return -1;
  }
  avail = host >= q->file_size ? 0
          : q->file_size - host < n ? q->file_size - host : n;
  if (avail > 0 && vmi_layer_pread (q->file, buf, avail, host) == -1) {
    vmi_error_prefix ("%s: guest offset %" PRIu64 " (host offset %" PRIu64 ")",
                      q->name, guest_off, host);
    return -1;
  }
  memset (buf + avail, 0, n - avail);
  return 0;
}

/* Unallocated: the backing file, zeros past its end or without one. */
static int
read_backing (struct qcow2 *q, char *buf, uint64_t n, uint64_t guest_off)
{
  uint64_t avail = 0;

  if (q->backing && guest_off < q->backing->size) {
    avail = q->backing->size - guest_off;
    if (avail > n)
      avail = n;
    if (vmi_layer_pread (q->backing, buf, avail, guest_off) == -1)
      return -1;
  }
  memset (buf + avail, 0, n - avail);
  return 0;
}

static void *
pool_get (struct qcow2 *q)
{
  void *d = NULL;

  pthread_mutex_lock (&q->pool_lock);
  if (q->npool > 0)
    d = q->pool[--q->npool];
  pthread_mutex_unlock (&q->pool_lock);
  if (d == NULL && !q->zstd)
    d = libdeflate_alloc_decompressor ();
  else if (d == NULL) {
    /* qemu's frames hold one cluster; a frame asking for a larger window
     * would only make us allocate more. */
    d = ZSTD_createDCtx ();
    if (d && ZSTD_isError (ZSTD_DCtx_setParameter (d, ZSTD_d_windowLogMax,
                                                   q->cluster_bits + 1))) {
      ZSTD_freeDCtx (d);
      d = NULL;
    }
  }
  return d;
}

static void
pool_free_one (struct qcow2 *q, void *d)
{
  if (q->zstd)
    ZSTD_freeDCtx (d);
  else
    libdeflate_free_decompressor (d);
}

static void
pool_put (struct qcow2 *q, void *d)
{
  pthread_mutex_lock (&q->pool_lock);
  if (q->npool < (int) (sizeof q->pool / sizeof q->pool[0])) {
    q->pool[q->npool++] = d;
    d = NULL;
  }
  pthread_mutex_unlock (&q->pool_lock);
  if (d)
    pool_free_one (q, d);
}

/* Inflate SRC into exactly one cluster at DST.  Returns NULL, or a static
 * string saying why not. */
static const char *
inflate_cluster (struct qcow2 *q, void *ctx, const void *src, size_t len,
                 void *dst)
{
  static _Thread_local char why[128];

  if (q->zstd) {
    /* qemu writes one zstd frame; the descriptor's last sector may hold
     * bytes past it, so stop as soon as the cluster is full. */
    ZSTD_inBuffer in = { src, len, 0 };
    ZSTD_outBuffer out = { dst, q->cluster_size, 0 };
    ZSTD_DCtx_reset (ctx, ZSTD_reset_session_only);
    while (out.pos < out.size) {
      size_t in_was = in.pos, out_was = out.pos;
      size_t ret = ZSTD_decompressStream (ctx, &out, &in);
      if (ZSTD_isError (ret)) {
        snprintf (why, sizeof why, "zstd: %s", ZSTD_getErrorName (ret));
        return why;
      }
      if (in.pos == in_was && out.pos == out_was)
        break;
    }
    if (out.pos != out.size) {
      snprintf (why, sizeof why, "zstd data inflates to %zu bytes, "
                "not the cluster size %" PRIu64, out.pos, q->cluster_size);
      return why;
    }
    return NULL;
  }
  else {
    size_t used;
    enum libdeflate_result r =
      libdeflate_deflate_decompress_ex (ctx, src, len, dst, q->cluster_size,
                                        &used, NULL);
    switch (r) {
    case LIBDEFLATE_SUCCESS:
      return NULL;
    case LIBDEFLATE_SHORT_OUTPUT:
      return "deflate data inflates to less than the cluster size";
    case LIBDEFLATE_INSUFFICIENT_SPACE:
      return "deflate data inflates to more than the cluster size";
    default:
      return "deflate data is corrupt";
    }
  }
}

/* Where compressed entry DESC's stream lies: *COFF, *AVAIL bytes (the
 * last sector of the stream may run past the end of the file).  -1 if it
 * starts past the end of the file (nothing set in vmi_error). */
static int
stream_of (const struct qcow2 *q, uint64_t host, uint64_t desc, uint64_t *coff,
           uint64_t *avail)
{
  uint64_t nsect = ((desc >> q->csize_shift) & q->csize_mask) + 1;
  uint64_t clen = nsect * 512 - (host & 511);

  *coff = host;
  if (host >= q->file_size)
    return -1;
  *avail = q->file_size - host < clen ? q->file_size - host : clen;
  return 0;
}

static uint64_t
inflated_key (uint64_t desc)
{
  return desc & ~(UINT64_C (1) << 63);
}

/* Inflate the stream SRC (AVAIL bytes, read at host offset COFF) of the
 * cluster at guest offset CLUSTER into DST (one cluster). */
static int
inflate_to (struct qcow2 *q, const void *src, uint64_t avail, uint64_t coff,
            uint64_t cluster, void *dst)
{
  void *ctx = pool_get (q);
  const char *why;

  if (ctx == NULL) {
    errno = ENOMEM;
    vmi_error ("%s: out of memory inflating a cluster", q->name);
    return -1;
  }
  why = inflate_cluster (q, ctx, src, avail, dst);
  pool_put (q, ctx);
  if (why) {
    errno = EIO;
    vmi_error ("%s: compressed cluster at guest offset %" PRIu64
               " (host offset %" PRIu64 ", %" PRIu64 " bytes): %s",
               q->name, cluster, coff, avail, why);
    return -1;
  }
  return 0;
}

/* The inflated cluster for a compressed L2 entry, referenced. */
static struct lru_entry *
compressed_get (struct qcow2 *q, const struct run *r, uint64_t guest_off)
{
  uint64_t cluster = guest_off & ~(q->cluster_size - 1), coff, avail;
  struct lru_entry *e = lru_get (&q->inflated, inflated_key (r->desc));
  void *src = NULL;

  if (e)
    return e;
  if (stream_of (q, r->host, r->desc, &coff, &avail) == -1) {
    errno = EIO;
    vmi_error ("%s: compressed cluster at guest offset %" PRIu64
               ": host offset %" PRIu64 " is past the end of the file "
               "(size %" PRIu64 ")", q->name, cluster, r->host, q->file_size);
    return NULL;
  }
  e = lru_entry_new (q->cluster_size);
  src = malloc (avail);
  if (e == NULL || src == NULL) {
    errno = ENOMEM;
    vmi_error ("%s: out of memory inflating a cluster", q->name);
    goto err;
  }
  if (vmi_layer_pread (q->file, src, avail, coff) == -1) {
    vmi_error_prefix ("%s: compressed cluster at guest offset %" PRIu64
                      " (host offset %" PRIu64 ")", q->name, cluster, coff);
    goto err;
  }
  if (inflate_to (q, src, avail, coff, cluster, e->data) == -1)
    goto err;
  free (src);
  return lru_put (&q->inflated, inflated_key (r->desc), e);

 err:
  free (src);
  free (e);
  return NULL;
}

static int
read_compressed (struct qcow2 *q, char *buf, uint64_t n, uint64_t guest_off,
                 const struct run *r)
{
  struct lru_entry *e = compressed_get (q, r, guest_off);

  if (e == NULL)
    return -1;
  memcpy (buf, (char *) e->data + (guest_off & (q->cluster_size - 1)), n);
  lru_release (&q->inflated, e);
  return 0;
}

/* A batch of compressed clusters whose streams lie one after another in
 * the file (as qemu-img writes them): one read, inflated on every core,
 * whole clusters straight into the caller's buffer. */
#define BATCH_MAX 256                   /* clusters */
#define BATCH_SPAN_MAX (1u << 20)       /* compressed bytes (a copy of what
                                           the transport holds: see
                                           vmdk-sparse.c's RUN_SPAN_MAX) */
#define BATCH_PARALLEL 4                /* fewer clusters: inflate here */

struct zitem {
  uint64_t guest_off, n;        /* the part of the cluster wanted */
  uint64_t coff, avail, desc;   /* its stream */
  char *dst;
  bool done;
};

struct zbatch {
  struct qcow2 *q;
  const unsigned char *span;    /* the file from span_off */
  uint64_t span_off;
  struct zitem *it;
  struct vmi_parallel_error err;
};

static void
zbatch_inflate (void *arg, size_t k)
{
  struct zbatch *b = arg;
  struct zitem *it = &b->it[k];
  struct qcow2 *q = b->q;
  uint64_t skip = it->guest_off & (q->cluster_size - 1);
  const unsigned char *src = b->span + (it->coff - b->span_off);
  struct lru_entry *e;

  if (it->done)
    return;
  if (skip == 0 && it->n == q->cluster_size) {
    if (inflate_to (q, src, it->avail, it->coff, it->guest_off, it->dst) == -1)
      vmi_parallel_fail (&b->err, k);
    return;
  }
  if ((e = lru_entry_new (q->cluster_size)) == NULL) {
    errno = ENOMEM;
    vmi_error ("%s: out of memory inflating a cluster", q->name);
    vmi_parallel_fail (&b->err, k);
    return;
  }
  if (inflate_to (q, src, it->avail, it->coff, it->guest_off - skip,
                  e->data) == -1) {
    free (e);
    vmi_parallel_fail (&b->err, k);
    return;
  }
  memcpy (it->dst, (char *) e->data + skip, it->n);
  lru_release (&q->inflated, lru_put (&q->inflated, inflated_key (it->desc), e));
}

/* Read compressed clusters at guest OFFSET (the first one is R) for up to
 * COUNT bytes into BUF.  Returns the bytes read, or -1. */
static int64_t
read_compressed_batch (struct qcow2 *q, char *buf, uint64_t count,
                       uint64_t offset, const struct run *r)
{
  struct zitem it[BATCH_MAX];
  struct zbatch b = { .q = q, .it = it };
  struct run cur = *r;
  uint64_t done = 0, span_end = 0;
  size_t m = 0, todo = 0;
  unsigned char *span;

  while (done < count && m < BATCH_MAX) {
    struct zitem *x = &it[m];
    if (m > 0 && (map_run (q, offset + done, count - done, &cur) == -1
                  || cur.type != RUN_COMPRESSED))
      break;    /* the caller's loop reads (or reports) it */
    if (stream_of (q, cur.host, cur.desc, &x->coff, &x->avail) == -1
        || (m > 0 && (x->coff < it[m - 1].coff
                      || x->coff + x->avail - it[0].coff > BATCH_SPAN_MAX)))
      break;
    x->guest_off = offset + done;
    x->n = cur.len;
    x->desc = cur.desc;
    x->dst = buf + done;
    x->done = false;
    if (x->n < q->cluster_size) {       /* in part: maybe inflated before */
      struct lru_entry *e = lru_get (&q->inflated, inflated_key (x->desc));
      if (e) {
        memcpy (x->dst, (char *) e->data
                + (x->guest_off & (q->cluster_size - 1)), x->n);
        lru_release (&q->inflated, e);
        x->done = true;
      }
    }
    todo += !x->done;
    if (x->coff + x->avail > span_end)
      span_end = x->coff + x->avail;
    done += cur.len;
    m++;
  }
  if (m <= 1)
    return read_compressed (q, buf, r->len, offset, r) == -1
           ? -1 : (int64_t) r->len;
  if (todo == 0)
    return (int64_t) done;
  b.span_off = it[0].coff;
  if ((span = malloc (span_end - b.span_off)) == NULL) {
    errno = ENOMEM;
    vmi_error ("%s: out of memory reading %zu compressed clusters", q->name,
               m);
    return -1;
  }
  if (vmi_layer_pread (q->file, span, span_end - b.span_off, b.span_off)
      == -1) {
    vmi_error_prefix ("%s: compressed clusters at guest offset %" PRIu64
                      " (host offset %" PRIu64 ")", q->name, offset,
                      b.span_off);
    free (span);
    return -1;
  }
  b.span = span;
  vmi_parallel_error_init (&b.err);
  if (todo >= BATCH_PARALLEL)
    vmi_parallel (m, zbatch_inflate, &b);
  else
    for (size_t k = 0; k < m; k++)
      zbatch_inflate (&b, k);
  free (span);
  return vmi_parallel_error_end (&b.err) == -1 ? -1 : (int64_t) done;
}

static int
qcow2_pread (struct vmi_layer *l, void *buf, size_t count, uint64_t offset)
{
  struct qcow2 *q = l->priv;
  char *p = buf;

  while (count > 0) {
    struct run r;
    int64_t len;

    if (map_run (q, offset, count, &r) == -1)
      return -1;
    switch (r.type) {
    case RUN_DATA:
      len = read_data (q, p, r.len, r.host, offset) == -1 ? -1 : (int64_t) r.len;
      break;
    case RUN_ZERO:
      memset (p, 0, r.len);
      len = r.len;
      break;
    case RUN_UNALLOC:
      len = read_backing (q, p, r.len, offset) == -1 ? -1 : (int64_t) r.len;
      break;
    default:
      len = read_compressed_batch (q, p, count, offset, &r);
      break;
    }
    if (len == -1)
      return -1;
    p += len;
    offset += len;
    count -= len;
  }
  return 0;
}

/* Unallocated in this image: what the backing file says (its holes stay
 * holes), and holes past its end.  Returns how much of LEN it covered. */
static int64_t
backing_extents (struct qcow2 *q, uint64_t off, uint64_t len,
                 struct vmi_extents *out)
{
  struct vmi_extents e = { 0 };
  uint64_t part;

  if (q->backing == NULL || off >= q->backing->size)
    return vmi_extents_add (out, off, len, VMI_EXTENT_HOLE) == -1 ? -1
           : (int64_t) len;
  part = q->backing->size - off;
  if (part > len)
    part = len;
  if (part > BACKING_EXTENTS_CHUNK)
    part = BACKING_EXTENTS_CHUNK;
  if (vmi_layer_extents (q->backing, off, part, &e) == -1)
    return -1;
  for (size_t i = 0; i < e.n; i++)
    if (vmi_extents_add (out, e.v[i].offset, e.v[i].length, e.v[i].type) == -1) {
      vmi_extents_free (&e);
      return -1;
    }
  vmi_extents_free (&e);
  if (off + part == q->backing->size && part < len) {
    if (vmi_extents_add (out, off + part, len - part, VMI_EXTENT_HOLE) == -1)
      return -1;
    return len;
  }
  return part;
}

static int
qcow2_extents (struct vmi_layer *l, uint64_t offset, uint64_t length,
               struct vmi_extents *out)
{
  struct qcow2 *q = l->priv;
  uint64_t end = length > l->size - offset ? l->size : offset + length;
  uint64_t pos = offset;

  for (int runs = 0; pos < end && runs < EXTENTS_RUNS_PER_CALL; runs++) {
    struct run r;
    int64_t done;

    if (map_run (q, pos, end - pos, &r) == -1)
      return -1;
    switch (r.type) {
    case RUN_DATA:
    case RUN_COMPRESSED:
      if (vmi_extents_add (out, pos, r.len, VMI_EXTENT_DATA) == -1)
        return -1;
      break;
    case RUN_ZERO:
      if (vmi_extents_add (out, pos, r.len, VMI_EXTENT_ZERO) == -1)
        return -1;
      break;
    default:
      done = backing_extents (q, pos, r.len, out);
      if (done == -1)
        return -1;
      if ((uint64_t) done < r.len)
        return 0;   /* the caller asks again from here */
      break;
    }
    pos += r.len;
  }
  return 0;
}

static void
qcow2_free (struct qcow2 *q)
{
  if (q == NULL)
    return;
  vmi_layer_close (q->backing);
  lru_destroy (&q->l2_cache);
  lru_destroy (&q->inflated);
  while (q->npool > 0)
    pool_free_one (q, q->pool[--q->npool]);
  pthread_mutex_destroy (&q->pool_lock);
  free (q->l1);
  free (q);
}

static void
qcow2_close (struct vmi_layer *l)
{
  qcow2_free (l->priv);
}

static const struct vmi_layer_ops qcow2_ops = {
  .name = "qcow2",
  .pread = qcow2_pread,
  .extents = qcow2_extents,
  .close = qcow2_close,
};

/* ---- Opening. */

/* What the header and its extensions say, before we act on it. */
struct header {
  uint64_t backing_off;
  uint32_t backing_len;
  uint32_t crypt_method;
  uint32_t l1_size;
  uint64_t l1_off;
  uint64_t incompat;
  uint32_t header_len;
  uint8_t compression_type;
  char backing_fmt[64];
  char data_file[256];
  const unsigned char *features;  /* feature name table, or NULL */
  uint32_t features_len;
};

static int
bad_header (struct qcow2 *q, const char *fmt, ...)
  __attribute__((format (printf, 2, 3)));

static int
bad_header (struct qcow2 *q, const char *fmt, ...)
{
  char msg[512];
  va_list ap;

  va_start (ap, fmt);
  vsnprintf (msg, sizeof msg, fmt, ap);
  va_end (ap);
  errno = EINVAL;
  vmi_error ("%s: not a QCOW2 image we can read: %s", q->name, msg);
  return -1;
}

/* The name of feature BIT of TYPE from the image's own table, or "". */
static void
feature_name (const struct header *h, int type, int bit, char *name,
              size_t size)
{
  name[0] = '\0';
  for (uint32_t i = 0; h->features && i + 48 <= h->features_len; i += 48) {
    const unsigned char *f = h->features + i;
    if (f[0] == type && f[1] == bit) {
      size_t n = strnlen ((const char *) f + 2, 46);
      snprintf (name, size, " (\"%.*s\")", (int) n, f + 2);
      return;
    }
  }
}

static void
copy_string (char *dst, size_t size, const unsigned char *src, uint32_t len)
{
  size_t n = len < size - 1 ? len : size - 1;

  memcpy (dst, src, n);
  dst[n] = '\0';
}

/* Header extensions sit between the header and the backing file name (or
 * the end of the first cluster). */
static int
parse_extensions (struct qcow2 *q, const unsigned char *buf, size_t len,
                  struct header *h)
{
  size_t pos = h->header_len;
  size_t end = len;

  if (h->backing_off && h->backing_off < end)
    end = h->backing_off;
  while (pos + 8 <= end) {
    uint32_t type = be32 (buf + pos), elen = be32 (buf + pos + 4);
    if (type == EXT_END)
      return 0;
    if (elen > end - pos - 8)
      return bad_header (q, "header extension 0x%08" PRIx32 " at offset %zu "
                         "is %" PRIu32 " bytes, past the end of the header "
                         "area (%zu)", type, pos, elen, end);
    const unsigned char *data = buf + pos + 8;
    switch (type) {
    case EXT_BACKING_FMT:
      copy_string (h->backing_fmt, sizeof h->backing_fmt, data, elen);
      break;
    case EXT_FEATURES:
      h->features = data;
      h->features_len = elen;
      break;
    case EXT_DATA_FILE:
      copy_string (h->data_file, sizeof h->data_file, data, elen);
      break;
    default:
      break;     /* bitmaps, encryption header, unknown: not needed to read */
    }
    pos += 8 + ((elen + UINT64_C (7)) & ~UINT64_C (7));
  }
  return 0;
}

static int
parse_header (struct qcow2 *q, const unsigned char *buf, size_t len,
              struct header *h)
{
  uint32_t magic, cluster_bits;

  memset (h, 0, sizeof *h);
  if (len < V2_HEADER_LEN)
    return bad_header (q, "file is %zu bytes, shorter than a header", len);
  magic = be32 (buf);
  q->version = be32 (buf + 4);
  if (magic != QCOW2_MAGIC)
    return bad_header (q, "bad magic 0x%08" PRIx32, magic);
  if (q->version != 2 && q->version != 3)
    return bad_header (q, "version %" PRIu32 " (only 2 and 3 are supported)",
                       q->version);
  cluster_bits = be32 (buf + 20);
  if (cluster_bits < MIN_CLUSTER_BITS || cluster_bits > MAX_CLUSTER_BITS)
    return bad_header (q, "cluster_bits %" PRIu32 " is out of range "
                       "(%d..%d: 512 B to 2 MiB clusters)", cluster_bits,
                       MIN_CLUSTER_BITS, MAX_CLUSTER_BITS);
  q->cluster_bits = cluster_bits;
  q->cluster_size = UINT64_C (1) << cluster_bits;
  h->backing_off = be64 (buf + 8);
  h->backing_len = be32 (buf + 16);
  q->size = be64 (buf + 24);
  h->crypt_method = be32 (buf + 32);
  h->l1_size = be32 (buf + 36);
  h->l1_off = be64 (buf + 40);
  h->header_len = V2_HEADER_LEN;
  if (q->version == 3) {
    if (len < V3_HEADER_LEN)
      return bad_header (q, "file is %zu bytes, shorter than a version 3 "
                         "header", len);
    h->incompat = be64 (buf + 72);
    h->header_len = be32 (buf + 100);
    if (h->header_len < V3_HEADER_LEN || h->header_len % 8
        || h->header_len > q->cluster_size || h->header_len > q->file_size)
      return bad_header (q, "header_length %" PRIu32 " is invalid (at least "
                         "%d, a multiple of 8, within the first cluster and "
                         "the file)", h->header_len, V3_HEADER_LEN);
    if (h->header_len > 104 && len > 104)
      h->compression_type = buf[104];
  }
  if (h->backing_off > q->cluster_size)
    return bad_header (q, "backing file name offset %" PRIu64 " is outside "
                       "the first cluster", h->backing_off);
  return 0;
}

/* Features: refuse what changes the meaning of the bytes. */
static int
check_features (struct qcow2 *q, const struct header *h)
{
  uint64_t unknown = h->incompat & ~INCOMPAT_KNOWN;
  char name[64];

  if (h->crypt_method != 0)
    return bad_header (q, "the image is encrypted (crypt_method %" PRIu32
                       ", %s); encrypted QCOW2 images are not supported",
                       h->crypt_method, h->crypt_method == 1 ? "AES"
                       : h->crypt_method == 2 ? "LUKS" : "unknown");
  if (unknown) {
    int bit = __builtin_ctzll (unknown);
    feature_name (h, 0, bit, name, sizeof name);
    return bad_header (q, "unknown incompatible feature bit %d%s is set",
                       bit, name);
  }
  if (h->incompat & INCOMPAT_DATA_FILE)
    return bad_header (q, "the guest data is in an external data file "
                       "(\"%s\"; incompatible feature bit 2), which is "
                       "not supported", h->data_file);
  if (h->incompat & INCOMPAT_CORRUPT)
    return bad_header (q, "the image is marked corrupt (incompatible feature "
                       "bit 1); repair it with 'qemu-img check -r all'");
  /* The dirty bit (0) says refcounts may be stale (lazy refcounts, or a
   * crash).  qemu repairs them before writing; reading never uses them, and
   * the L1/L2 tables are what qemu itself would read, so a dirty image is
   * read as it is. */
  if (h->incompat & INCOMPAT_COMPRESSION) {
    if (h->compression_type == 0)
      return bad_header (q, "compression type bit set but compression_type "
                         "is 0");
  }
  else if (h->compression_type != 0)
    return bad_header (q, "compression_type %u without the compression type "
                       "feature bit", h->compression_type);
  if (h->compression_type > 1)
    return bad_header (q, "unknown compression_type %u (0 zlib and 1 zstd "
                       "are supported)", h->compression_type);
  q->zstd = h->compression_type == 1;
  q->extended = (h->incompat & INCOMPAT_EXTL2) != 0;
  return 0;
}

/* Geometry and the active L1 table. */
static int
load_l1 (struct qcow2 *q, const struct header *h)
{
  unsigned l1_shift;
  uint64_t bytes;

  q->l2_bits = q->cluster_bits - 3 - q->extended;
  q->unit_bits = q->cluster_bits - (q->extended ? 5 : 0);
  /* Compressed descriptor: offset in bits 0..x-1, extra sectors in
   * x..61, x = 62 - (cluster_bits - 8). */
  q->csize_shift = 62 - (q->cluster_bits - 8);
  q->csize_mask = (UINT64_C (1) << (q->cluster_bits - 8)) - 1;
  q->coffset_mask = (UINT64_C (1) << q->csize_shift) - 1;
  if (q->coffset_mask > MAX_VIRTUAL_SIZE - 1)
    q->coffset_mask = MAX_VIRTUAL_SIZE - 1;

  if (q->size > MAX_VIRTUAL_SIZE)
    return bad_header (q, "virtual size %" PRIu64 " is absurd (more than "
                       "2^56 bytes)", q->size);
  l1_shift = q->cluster_bits + q->l2_bits;
  q->l1_entries = (q->size + (UINT64_C (1) << l1_shift) - 1) >> l1_shift;
  if ((uint64_t) h->l1_size * 8 > MAX_L1_BYTES)
    return bad_header (q, "L1 table of %" PRIu32 " entries is larger than "
                       "%u MiB", h->l1_size, MAX_L1_BYTES >> 20);
  if (q->l1_entries > h->l1_size)
    return bad_header (q, "L1 table has %" PRIu32 " entries; virtual size %"
                       PRIu64 " needs %" PRIu64, h->l1_size, q->size,
                       q->l1_entries);
  if (q->l1_entries == 0)
    return 0;
  bytes = q->l1_entries * 8;
  if (h->l1_off & (q->cluster_size - 1))
    return bad_header (q, "L1 table offset %" PRIu64 " is not aligned to a "
                       "cluster", h->l1_off);
  if (h->l1_off > q->file_size || bytes > q->file_size - h->l1_off)
    return bad_header (q, "L1 table at offset %" PRIu64 " (%" PRIu64
                       " bytes) runs past the end of the file (size %" PRIu64
                       ")", h->l1_off, bytes, q->file_size);
  q->l1 = malloc (bytes);
  if (q->l1 == NULL) {
    errno = ENOMEM;
    vmi_error ("%s: out of memory for the L1 table", q->name);
    return -1;
  }
  if (vmi_layer_pread (q->file, q->l1, bytes, h->l1_off) == -1) {
    vmi_error_prefix ("%s: reading the L1 table", q->name);
    return -1;
  }
  for (uint64_t i = 0; i < q->l1_entries; i++) {
    uint64_t off;
    q->l1[i] = be64toh (q->l1[i]);
    off = q->l1[i] & L1E_OFFSET_MASK;
    if (off == 0)
      continue;
    if (off & (q->cluster_size - 1))
      return bad_header (q, "L1 entry %" PRIu64 " (guest offset %" PRIu64
                         "): L2 table offset %" PRIu64 " is not aligned to "
                         "a cluster", i, i << l1_shift, off);
    if (off > q->file_size || q->cluster_size > q->file_size - off)
      return bad_header (q, "L1 entry %" PRIu64 " (guest offset %" PRIu64
                         "): L2 table at host offset %" PRIu64 " is past the "
                         "end of the file (size %" PRIu64 ")", i,
                         i << l1_shift, off, q->file_size);
  }
  return 0;
}

/* ---- Backing files.
 *
 * The chain is opened recursively (this image -> vmi_format_open of its
 * backing file -> maybe vmi_qcow2_open again) on one thread, so the files
 * being opened are kept in a per-thread stack: a name seen twice is a
 * loop, and more than MAX_CHAIN is refused. */

static _Thread_local char *opening[MAX_CHAIN + 2];
static _Thread_local int nopening;

/* A backing file's own backing files are named relative to its folder.
 * This opener prefixes that folder and asks the image's opener. */
struct rel_opener {
  struct vmi_opener o;
  const struct vmi_opener *parent;
  char *dir;        /* with a trailing '/' */
};

static struct vmi_layer *
rel_open (const struct vmi_opener *o, const char *relpath)
{
  const struct rel_opener *r = (const struct rel_opener *) o;
  struct vmi_layer *l;
  char *path;

  if (relpath[0] == '/')
    return r->parent->open (r->parent, relpath);
  if (asprintf (&path, "%s%s", r->dir, relpath) == -1) {
    errno = ENOMEM;
    vmi_error ("%s: out of memory", relpath);
    return NULL;
  }
  l = r->parent->open (r->parent, path);
  free (path);
  return l;
}

static struct vmi_layer *
open_backing_format (struct vmi_layer *file, const struct vmi_opener *sib,
                     const char *fmt)
{
  /* qemu honours the backing format named in the image: a raw backing file
   * is never probed (its guest may have written a QCOW2 header in it). */
  if (fmt[0] == '\0')
    return vmi_format_open (file, sib, NULL);
  if (strcmp (fmt, "raw") == 0)
    return file;
  if (strcmp (fmt, "qcow2") == 0)
    return vmi_qcow2_open (file, sib);
  if (strcmp (fmt, "vmdk") == 0)
    return vmi_vmdk_open (file, sib);
  errno = ENOTSUP;
  vmi_error ("backing file format \"%s\" is not supported (raw, qcow2 and "
             "vmdk are)", fmt);
  vmi_layer_close (file);
  return NULL;
}

static int
open_backing (struct qcow2 *q, const unsigned char *hdr, size_t hdr_len,
              const struct header *h, const struct vmi_opener *siblings)
{
  char name[MAX_BACKING_NAME + 1];
  struct rel_opener rel = { { rel_open, NULL }, siblings, NULL };
  const struct vmi_opener *sib = siblings;
  struct vmi_layer *file;
  char *key = NULL, *slash;
  int r = -1;

  if (h->backing_off == 0 || h->backing_len == 0)
    return 0;
  if (h->backing_len > MAX_BACKING_NAME)
    return bad_header (q, "backing file name is %" PRIu32 " bytes (at most "
                       "%d)", h->backing_len, MAX_BACKING_NAME);
  if (h->backing_off + h->backing_len > hdr_len)
    return bad_header (q, "backing file name at offset %" PRIu64 " (%" PRIu32
                       " bytes) is past the end of the first cluster",
                       h->backing_off, h->backing_len);
  memcpy (name, hdr + h->backing_off, h->backing_len);
  name[h->backing_len] = '\0';
  if (strlen (name) != h->backing_len)
    return bad_header (q, "backing file name contains a NUL byte");
  if (strncmp (name, "json:", 5) == 0) {
    errno = ENOTSUP;
    vmi_error ("%s: backing file \"%.40s...\" is a json: specification, "
               "which is not supported", q->name, name);
    return -1;
  }
  if (siblings == NULL) {
    errno = ENOTSUP;
    vmi_error ("%s: has backing file \"%s\" but files beside this image "
               "cannot be opened here", q->name, name);
    return -1;
  }
  if (nopening > MAX_CHAIN) {
    errno = ELOOP;
    vmi_error ("%s: backing chain is longer than %d files (backing file "
               "\"%s\")", q->name, MAX_CHAIN, name);
    return -1;
  }
  file = siblings->open (siblings, name);
  if (file == NULL) {
    vmi_error_prefix ("%s: backing file \"%s\"", q->name, name);
    return -1;
  }
  key = vmi_path_normalize (file->name);
  if (key == NULL) {
    vmi_layer_close (file);
    errno = ENOMEM;
    vmi_error ("%s: out of memory", q->name);
    return -1;
  }
  for (int i = 0; i < nopening; i++)
    if (strcmp (opening[i], key) == 0) {
      errno = ELOOP;
      vmi_error ("%s: backing file loop: \"%s\" is already in this image's "
                 "backing chain", q->name, file->name);
      vmi_layer_close (file);
      goto out;
    }
  /* Its own backing files are relative to its folder. */
  if ((slash = strrchr (name, '/')) != NULL) {
    rel.dir = strndup (name, slash - name + 1);
    if (rel.dir == NULL) {
      vmi_layer_close (file);
      errno = ENOMEM;
      vmi_error ("%s: out of memory", q->name);
      goto out;
    }
    sib = &rel.o;
  }
  opening[nopening++] = key;
  q->backing = open_backing_format (file, sib, h->backing_fmt);
  nopening--;
  if (q->backing == NULL) {
    vmi_error_prefix ("%s: backing file \"%s\"", q->name, name);
    goto out;
  }
  r = 0;
 out:
  free (rel.dir);
  free (key);
  return r;
}

/* L2 tables to keep: L2_CACHE_BYTES (with 64 KiB clusters, enough to map
 * 64 GiB), or VMIMPORT_QCOW2_L2_CACHE bytes (tuning, and tests that want
 * eviction); never fewer than 4. */
static size_t
l2_cache_entries (const struct qcow2 *q)
{
  const char *env = getenv ("VMIMPORT_QCOW2_L2_CACHE");
  uint64_t bytes = L2_CACHE_BYTES;

  if (env && *env) {
    char *end;
    unsigned long long v = strtoull (env, &end, 0);
    if (*end == '\0' && v <= (UINT64_C (1) << 32))
      bytes = v;
  }
  return bytes >> q->cluster_bits > 4 ? bytes >> q->cluster_bits : 4;
}

/* The header, its extensions and the backing file name are all in the
 * first cluster: read the fixed header to learn the cluster size, then the
 * whole first cluster (or file, if shorter).  *BUF is the caller's. */
static int
read_first_cluster (struct qcow2 *q, struct header *h, unsigned char **buf,
                    size_t *len)
{
  unsigned char head[512];
  size_t n = q->file_size < sizeof head ? q->file_size : sizeof head;

  if (vmi_layer_pread (q->file, head, n, 0) == -1
      || parse_header (q, head, n, h) == -1)
    return -1;
  n = q->file_size < q->cluster_size ? q->file_size : q->cluster_size;
  if ((*buf = malloc (n)) == NULL) {
    errno = ENOMEM;
    vmi_error ("%s: out of memory", q->name);
    return -1;
  }
  *len = n;
  if (vmi_layer_pread (q->file, *buf, n, 0) == -1
      || parse_header (q, *buf, n, h) == -1)
    return -1;
  return parse_extensions (q, *buf, n, h);
}

static int
open_caches (struct qcow2 *q)
{
  size_t inflated = INFLATED_CACHE_BYTES >> q->cluster_bits;

  if (lru_init (&q->l2_cache, l2_cache_entries (q)) == -1
      || lru_init (&q->inflated, inflated > 2 ? inflated : 2) == -1) {
    errno = ENOMEM;
    vmi_error ("%s: out of memory", q->name);
    return -1;
  }
  return 0;
}

/* The first image of a chain puts its own name on the stack of files being
 * opened, so that a backing file naming it is seen as a loop. */
static int
open_chain (struct qcow2 *q, const unsigned char *hdr, size_t hdr_len,
            const struct header *h, const struct vmi_opener *siblings)
{
  char *key;
  int r;

  if (nopening > 0)
    return open_backing (q, hdr, hdr_len, h, siblings);
  if ((key = vmi_path_normalize (q->name)) == NULL) {
    errno = ENOMEM;
    vmi_error ("%s: out of memory", q->name);
    return -1;
  }
  opening[nopening++] = key;
  r = open_backing (q, hdr, hdr_len, h, siblings);
  nopening--;
  free (key);
  return r;
}

struct vmi_layer *
vmi_qcow2_open (struct vmi_layer *file, const struct vmi_opener *siblings)
{
  struct qcow2 *q = calloc (1, sizeof *q);
  unsigned char *hdr = NULL;
  size_t hdr_len = 0;
  struct header h;
  struct vmi_layer *l;

  if (q == NULL) {
    errno = ENOMEM;
    vmi_error ("%s: out of memory", file->name);
    vmi_layer_close (file);
    return NULL;
  }
  pthread_mutex_init (&q->pool_lock, NULL);
  q->name = file->name;
  q->file = file;
  q->file_size = file->size;
  if (read_first_cluster (q, &h, &hdr, &hdr_len) == -1
      || check_features (q, &h) == -1
      || load_l1 (q, &h) == -1
      || open_caches (q) == -1
      || open_chain (q, hdr, hdr_len, &h, siblings) == -1) {
    free (hdr);
    qcow2_free (q);
    vmi_layer_close (file);
    return NULL;
  }
  free (hdr);
  l = vmi_layer_new (&qcow2_ops, q, q->size, file->name, file);
  if (l == NULL)
    qcow2_free (q);
  return l;
}
