/* Block cache with bounded memory.
 *
 * Blocks of a fixed power-of-two size, kept in shards (hash + LRU list, one
 * mutex each) so that readers on many threads rarely meet.  A miss reads the
 * whole run of consecutive missing blocks from the layer below in one call
 * (large reads stay large), and no lock is held while the layer below works.
 * Placed above a VMDK/QCOW2 layer whose grain size divides the block size,
 * a compressed grain is inflated once and then served from here.  Long runs
 * read straight into a large caller's buffer (a sequential reader) are not
 * kept: the cache is for the small reads that come back.
 *
 * The blocks live in one anonymous mapping of the cache's capacity, cut
 * into slots; a block evicted gives its slot to the next one.  Pages are
 * touched as slots are first used, so the cache never holds more than its
 * capacity, whatever the threads that fill it: from malloc, blocks freed
 * by one thread and allocated by another spread over every arena, and
 * each arena kept its share (a 64 MiB cache cost 85 MiB under 16 random
 * readers).
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "vmimport/error.h"
#include "vmimport/formats.h"

#define NSHARDS 16
#define MAX_RUN_BYTES (8u << 20)  /* largest single read from below */
#define STREAM_RUN_BYTES (256u << 10)  /* runs this long are not kept */

struct link {
  struct link *prev, *next;     /* LRU: head.next is the newest */
};

struct entry {
  struct link lru;              /* first: a link is its entry */
  uint64_t blk;
  struct entry *hnext;          /* hash chain */
  char *data;                   /* its slot in the cache's mapping */
};

struct shard {
  pthread_mutex_t lock;
  struct entry **buckets;
  size_t nbuckets;
  struct link lru;              /* sentinel */
  struct entry *slots;          /* max of them; the first count in use */
  char *mem;                    /* max blocks */
  size_t count, max;
};

struct cache {
  uint32_t bs;
  unsigned shift;
  char *mem;                    /* NSHARDS x max blocks, mmap'd */
  size_t mem_len;
  struct shard shards[NSHARDS];
};

static struct shard *
shard_of (struct cache *c, uint64_t blk)
{
  return &c->shards[(blk ^ (blk >> 7)) % NSHARDS];
}

static size_t
bucket_of (const struct shard *s, uint64_t blk)
{
  return (blk * UINT64_C (0x9E3779B97F4A7C15)) >> 40 & (s->nbuckets - 1);
}

static void
lru_unlink (struct entry *e)
{
  e->lru.prev->next = e->lru.next;
  e->lru.next->prev = e->lru.prev;
}

static void
lru_push (struct shard *s, struct entry *e)
{
  e->lru.next = s->lru.next;
  e->lru.prev = &s->lru;
  s->lru.next->prev = &e->lru;
  s->lru.next = &e->lru;
}

/* Under s->lock. */
static struct entry *
lookup (struct shard *s, uint64_t blk)
{
  for (struct entry *e = s->buckets[bucket_of (s, blk)]; e; e = e->hnext)
    if (e->blk == blk) {
      lru_unlink (e);
      lru_push (s, e);
      return e;
    }
  return NULL;
}

/* Unhook the least recently used entry, to reuse its slot. */
static struct entry *
take_oldest (struct shard *s)
{
  struct entry *e = (struct entry *) s->lru.prev, **pp;

  lru_unlink (e);
  for (pp = &s->buckets[bucket_of (s, e->blk)]; *pp != e; pp = &(*pp)->hnext)
    ;
  *pp = e->hnext;
  return e;
}

/* Copy a block into the cache. */
static void
insert (struct cache *c, uint64_t blk, const char *data, size_t len)
{
  struct shard *s = shard_of (c, blk);
  struct entry *e;

  if (s->max == 0)
    return;
  pthread_mutex_lock (&s->lock);
  if (lookup (s, blk) == NULL) {
    if (s->count < s->max) {
      e = &s->slots[s->count];
      e->data = s->mem + s->count++ * (size_t) c->bs;
    }
    else
      e = take_oldest (s);
    e->blk = blk;
    memcpy (e->data, data, len);
    e->hnext = s->buckets[bucket_of (s, blk)];
    s->buckets[bucket_of (s, blk)] = e;
    lru_push (s, e);
  }
  pthread_mutex_unlock (&s->lock);
}

/* Copy bytes [skip, skip+len) of block BLK to DST if cached. */
static int
copy_if_cached (struct cache *c, uint64_t blk, char *dst, size_t skip,
                size_t len)
{
  struct shard *s = shard_of (c, blk);
  struct entry *e;

  pthread_mutex_lock (&s->lock);
  e = lookup (s, blk);
  if (e)
    memcpy (dst, e->data + skip, len);
  pthread_mutex_unlock (&s->lock);
  return e != NULL;
}

static int
is_cached (struct cache *c, uint64_t blk)
{
  struct shard *s = shard_of (c, blk);
  int r;

  pthread_mutex_lock (&s->lock);
  r = lookup (s, blk) != NULL;
  pthread_mutex_unlock (&s->lock);
  return r;
}

/* Read the run of missing blocks [first, last] from below, keep them, and
 * copy the part the caller wants.  When the run lies wholly inside the
 * caller's buffer (the usual case for large reads) it is read there
 * directly; otherwise through a temporary buffer. */
static int
fill_run (struct vmi_layer *l, uint64_t first, uint64_t last, char *buf,
          uint64_t buf_off, size_t buf_len, uint64_t want_off, size_t want_len)
{
  struct cache *c = l->priv;
  uint64_t start = first << c->shift;
  uint64_t end = (last + 1) << c->shift;
  char *tmp, *run;

  if (end > l->size)
    end = l->size;
  if (start >= buf_off && end <= buf_off + buf_len) {
    tmp = NULL;
    run = buf + (start - buf_off);
  }
  else if ((tmp = run = malloc (end - start)) == NULL) {
    errno = ENOMEM;
    vmi_error ("%s: cache: out of memory", l->name);
    return -1;
  }
  if (vmi_layer_pread (l->below, run, end - start, start) == -1) {
    free (tmp);
    return -1;
  }
  /* A long run read into the caller's buffer is a streaming read: the
   * reader (or the kernel's page cache above FUSE) has it, and copying it
   * here would only push out the blocks that small reads come back to. */
  if (tmp != NULL || end - start < STREAM_RUN_BYTES)
    for (uint64_t b = first; b <= last; b++) {
      uint64_t bs = b << c->shift;
      insert (c, b, run + (bs - start), end - bs < c->bs ? end - bs : c->bs);
    }
  if (tmp) {
    memcpy (buf + (want_off - buf_off), tmp + (want_off - start), want_len);
    free (tmp);
  }
  return 0;
}

static int
cache_pread (struct vmi_layer *l, void *buf, size_t count, uint64_t offset)
{
  struct cache *c = l->priv;
  char *p = buf;
  uint64_t end = offset + count;
  uint64_t blk = offset >> c->shift;
  uint64_t last = (end - 1) >> c->shift;
  uint64_t max_run = MAX_RUN_BYTES >> c->shift;

  while (blk <= last) {
    uint64_t bstart = blk << c->shift;
    uint64_t from = offset > bstart ? offset : bstart;
    uint64_t to = (blk + 1) << c->shift;

    if (to > end)
      to = end;
    if (copy_if_cached (c, blk, p + (from - offset), from - bstart, to - from)) {
      blk++;
      continue;
    }
    /* A run of missing blocks, read from below at once.  A partial first
     * or last block of the request is a run of its own, so that the runs
     * between can go straight into the caller's buffer. */
    uint64_t run_last = blk;
    int partial_first = from != bstart;
    while (!partial_first && run_last < last && run_last - blk + 1 < max_run
           && !is_cached (c, run_last + 1)
           && ((run_last + 2) << c->shift <= end || (run_last + 2) << c->shift > l->size))
      run_last++;
    to = (run_last + 1) << c->shift;
    if (to > end)
      to = end;
    if (fill_run (l, blk, run_last, p, offset, count, from, to - from) == -1)
      return -1;
    blk = run_last + 1;
  }
  return 0;
}

static void
cache_close (struct vmi_layer *l)
{
  struct cache *c = l->priv;

  if (c == NULL)
    return;
  for (int i = 0; i < NSHARDS; i++) {
    struct shard *s = &c->shards[i];
    free (s->slots);
    free (s->buckets);
    pthread_mutex_destroy (&s->lock);
  }
  if (c->mem)
    munmap (c->mem, c->mem_len);
  free (c);
}

static const struct vmi_layer_ops cache_ops = {
  .name = "cache",
  .pread = cache_pread,
  .extents = vmi_layer_extents_below,
  .close = cache_close,
};

struct vmi_layer *
vmi_cache_open (struct vmi_layer *below, uint64_t capacity,
                uint32_t block_size)
{
  struct cache *c;
  uint64_t per_shard;

  if (block_size < 512 || (block_size & (block_size - 1))) {
    errno = EINVAL;
    vmi_error ("%s: cache block size %" PRIu32 " is not a power of two >= 512",
               below->name, block_size);
    vmi_layer_close (below);
    return NULL;
  }
  c = calloc (1, sizeof *c);
  if (c == NULL)
    goto nomem;
  c->bs = block_size;
  while ((UINT32_C (1) << c->shift) < block_size)
    c->shift++;
  per_shard = capacity / block_size / NSHARDS;
  if (per_shard > 0) {
    c->mem_len = per_shard * NSHARDS * block_size;
    c->mem = mmap (NULL, c->mem_len, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (c->mem == MAP_FAILED) {
      c->mem = NULL;
      free (c);
      goto nomem;
    }
  }
  for (int i = 0; i < NSHARDS; i++) {
    struct shard *s = &c->shards[i];
    size_t nb = 16;
    while (nb < per_shard)
      nb <<= 1;
    pthread_mutex_init (&s->lock, NULL);
    s->lru.next = s->lru.prev = &s->lru;
    s->max = per_shard;
    s->nbuckets = nb;
    s->buckets = calloc (nb, sizeof *s->buckets);
    s->slots = calloc (per_shard ? per_shard : 1, sizeof *s->slots);
    s->mem = c->mem ? c->mem + i * per_shard * block_size : NULL;
    if (s->buckets == NULL || s->slots == NULL) {
      cache_close (&(struct vmi_layer){ .priv = c });
      goto nomem;
    }
  }
  return vmi_layer_new (&cache_ops, c, below->size, below->name, below);

 nomem:
  errno = ENOMEM;
  vmi_error ("%s: cache: out of memory", below->name);
  vmi_layer_close (below);
  return NULL;
}
