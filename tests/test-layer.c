/* Unit tests: extents lists, slices, the block cache (bounded memory, same
 * bytes as below, counts reads from below). */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vmimport/error.h"
#include "vmimport/formats.h"
#include "vmimport/pool.h"

static int failures;
#define CHECK(cond) do { if (!(cond)) { \
  fprintf (stderr, "%s:%d: FAIL: %s\n", __FILE__, __LINE__, #cond); failures++; } } while (0)

/* A layer that counts the bytes read from it. */
static uint64_t counted_bytes;
static int
count_pread (struct vmi_layer *l, void *buf, size_t n, uint64_t off)
{
  __atomic_add_fetch (&counted_bytes, n, __ATOMIC_RELAXED);
  return vmi_layer_pread (l->below, buf, n, off);
}
static const struct vmi_layer_ops count_ops = { .name = "count", .pread = count_pread };

static void
extents_merge_adjacent_of_one_type (void)
{
  struct vmi_extents e = { 0 };
  CHECK (vmi_extents_add (&e, 0, 10, VMI_EXTENT_DATA) == 0);
  CHECK (vmi_extents_add (&e, 10, 5, VMI_EXTENT_DATA) == 0);
  CHECK (vmi_extents_add (&e, 15, 5, VMI_EXTENT_HOLE) == 0);
  CHECK (vmi_extents_add (&e, 20, 0, VMI_EXTENT_DATA) == 0);
  CHECK (e.n == 2 && e.v[0].length == 15 && e.v[1].type == VMI_EXTENT_HOLE);
  vmi_extents_free (&e);
}

static void
slice_reads_its_window_and_refuses_past_end (void)
{
  static char data[1000];
  char buf[10];
  for (int i = 0; i < 1000; i++)
    data[i] = (char) i;
  struct vmi_layer *m = vmi_memory_open (data, sizeof data, "mem");
  struct vmi_layer *s = vmi_slice_open (m, 100, 50, "slice");
  CHECK (s && s->size == 50);
  CHECK (vmi_layer_pread (s, buf, 10, 40) == 0 && buf[0] == (char) 140);
  CHECK (vmi_layer_pread (s, buf, 10, 45) == -1);
  CHECK (strstr (vmi_error_get (), "past the end") != NULL);
  vmi_layer_close (s);
  CHECK (vmi_slice_open (vmi_memory_open (data, 10, "m"), 5, 6, "x") == NULL);
}

static void
cache_returns_same_bytes_and_reads_below_once (void)
{
  size_t size = (3 << 20) + 12345;   /* not a multiple of the block */
  char *data = malloc (size), *a = malloc (size);
  for (size_t i = 0; i < size; i++)
    data[i] = (char) (i * 7 + (i >> 13));
  struct vmi_layer *m = vmi_memory_open (data, size, "mem");
  struct vmi_layer *c = vmi_layer_new (&count_ops, NULL, size, "count", m);
  struct vmi_layer *cache = vmi_cache_open (c, 8 << 20, 65536);
  CHECK (cache != NULL);
  counted_bytes = 0;
  /* Small reads in odd pieces: every block is read from below once... */
  for (size_t off = 0; off < size; off += 99991) {
    size_t n = size - off < 99991 ? size - off : 99991;
    CHECK (vmi_layer_pread (cache, a, n, off) == 0 && memcmp (a, data + off, n) == 0);
  }
  CHECK (counted_bytes == size);
  /* ...and kept: the whole disk again is all hits. */
  CHECK (vmi_layer_pread (cache, a, size, 0) == 0 && memcmp (a, data, size) == 0);
  CHECK (counted_bytes == size);
  vmi_layer_close (cache);

  /* A streaming read (long runs into the caller's buffer) is not kept, so
   * it does not push out what small reads come back to. */
  m = vmi_memory_open (data, size, "mem");
  c = vmi_layer_new (&count_ops, NULL, size, "count", m);
  cache = vmi_cache_open (c, 8 << 20, 65536);
  CHECK (cache != NULL);
  counted_bytes = 0;
  CHECK (vmi_layer_pread (cache, a, size, 0) == 0 && memcmp (a, data, size) == 0);
  CHECK (vmi_layer_pread (cache, a, size, 0) == 0 && memcmp (a, data, size) == 0);
  CHECK (counted_bytes == 2 * size);
  vmi_layer_close (cache);
  free (data);
  free (a);
}

static void
cache_memory_stays_bounded (void)
{
  /* 16 MiB of source through a 1 MiB cache: still correct, and re-reading
   * the start must go below again (it was evicted). */
  size_t size = 16 << 20;
  char *data = calloc (1, size), buf[4096];
  for (size_t i = 0; i < size; i += 4096)
    data[i] = (char) (i >> 12);
  struct vmi_layer *m = vmi_memory_open (data, size, "mem");
  struct vmi_layer *c = vmi_layer_new (&count_ops, NULL, size, "count", m);
  struct vmi_layer *cache = vmi_cache_open (c, 1 << 20, 65536);
  for (size_t off = 0; off < size; off += 4096) {
    CHECK (vmi_layer_pread (cache, buf, 4096, off) == 0);
    if (buf[0] != (char) (off >> 12)) {
      CHECK (!"wrong byte");
      break;
    }
  }
  counted_bytes = 0;
  CHECK (vmi_layer_pread (cache, buf, 4096, 0) == 0);
  CHECK (counted_bytes > 0);
  vmi_layer_close (cache);
  free (data);
}

static void
layer_extents_default_is_all_data_and_clipped (void)
{
  static char data[100];
  struct vmi_extents e = { 0 };
  struct vmi_layer *m = vmi_memory_open (data, sizeof data, "m");
  CHECK (vmi_layer_extents (m, 10, 1000, &e) == 0);
  CHECK (e.n == 1 && e.v[0].offset == 10 && e.v[0].length == 90
         && e.v[0].type == VMI_EXTENT_DATA);
  CHECK (vmi_layer_allocated (m) == 100);
  vmi_extents_free (&e);
  vmi_layer_close (m);
}

/* vmi_layer_allocated asks for the map of several parts of a large disk at
 * once (a format layer's table reads wait on the network), adds them up,
 * and reports a failed part's error. */
static int walk_now, walk_max;
static uint64_t walk_fail_at = UINT64_MAX;
static int
slow_extents (struct vmi_layer *l, uint64_t off, uint64_t len,
              struct vmi_extents *out)
{
  int now = __atomic_add_fetch (&walk_now, 1, __ATOMIC_RELAXED), max;
  (void) l;
  while ((max = __atomic_load_n (&walk_max, __ATOMIC_RELAXED)) < now
         && !__atomic_compare_exchange_n (&walk_max, &max, now, false,
                                          __ATOMIC_RELAXED, __ATOMIC_RELAXED))
    ;
  usleep (20000);
  __atomic_sub_fetch (&walk_now, 1, __ATOMIC_RELAXED);
  if (off + len > walk_fail_at && off <= walk_fail_at) {
    errno = EIO;
    vmi_error ("map of %" PRIu64 " failed", off);
    return -1;
  }
  /* Every other MiB is data. */
  for (uint64_t p = off; p < off + len; p += 1 << 20)
    if (vmi_extents_add (out, p, 1 << 20, (p >> 20) % 2 ? VMI_EXTENT_HOLE
                                                         : VMI_EXTENT_DATA))
      return -1;
  return 0;
}
static const struct vmi_layer_ops slow_ops = {
  .name = "slow", .extents = slow_extents,
};

static void
allocated_walks_parts_at_once_and_reports_errors (void)
{
  struct vmi_layer *l = vmi_layer_new (&slow_ops, NULL, UINT64_C (4) << 30,
                                       "slow", NULL);
  CHECK (l != NULL);
  CHECK (vmi_layer_allocated (l) == (int64_t) (UINT64_C (2) << 30));
  CHECK (walk_max > 1);
  walk_fail_at = UINT64_C (3) << 30;
  errno = 0;
  CHECK (vmi_layer_allocated (l) == -1);
  CHECK (errno == EIO);
  CHECK (strcmp (vmi_error_get (), "map of 3221225472 failed") == 0);
  vmi_layer_close (l);
}

/* vmi_parallel: every item runs once, on more than one thread when the
 * pool has any, nested calls finish, and the error reported is the first
 * failed item's whatever thread saw it. */
struct par {
  int hits[1000];
  pthread_t who[1000];
  struct vmi_parallel_error err;
  int nested_ok;
};

static void
par_inner (void *arg, size_t i)
{
  __atomic_add_fetch ((int *) arg + i, 1, __ATOMIC_RELAXED);
}

static void
par_item (void *arg, size_t i)
{
  struct par *p = arg;
  int inner[8] = { 0 };

  __atomic_add_fetch (&p->hits[i], 1, __ATOMIC_RELAXED);
  p->who[i] = pthread_self ();
  /* Some work, so that the pool threads get items too. */
  for (volatile int k = 0; k < 20000; k++)
    ;
  if (i % 100 == 0) {
    vmi_parallel (8, par_inner, inner);
    int ok = 1;
    for (int k = 0; k < 8; k++)
      ok &= inner[k] == 1;
    if (ok)
      __atomic_add_fetch (&p->nested_ok, 1, __ATOMIC_RELAXED);
  }
  if (i == 777 || i == 333 || i == 901) {
    errno = i == 333 ? ENOSPC : EIO;
    vmi_error ("item %zu failed", i);
    vmi_parallel_fail (&p->err, i);
  }
}

static void
parallel_runs_each_item_once_and_reports_the_first_error (void)
{
  static struct par p;
  int threads = 0;

  vmi_parallel_error_init (&p.err);
  vmi_parallel (1000, par_item, &p);
  for (int i = 0; i < 1000; i++) {
    CHECK (p.hits[i] == 1);
    if (!pthread_equal (p.who[i], pthread_self ()))
      threads = 1;
  }
  CHECK (p.nested_ok == 10);
  if (vmi_pool_threads () > 0)
    CHECK (threads);            /* some items ran on a pool thread */
  errno = 0;
  CHECK (vmi_parallel_error_end (&p.err) == -1);
  CHECK (errno == ENOSPC);
  CHECK (strcmp (vmi_error_get (), "item 333 failed") == 0);
}

int
main (void)
{
  extents_merge_adjacent_of_one_type ();
  slice_reads_its_window_and_refuses_past_end ();
  cache_returns_same_bytes_and_reads_below_once ();
  cache_memory_stays_bounded ();
  layer_extents_default_is_all_data_and_clipped ();
  allocated_walks_parts_at_once_and_reports_errors ();
  parallel_runs_each_item_once_and_reports_the_first_error ();
  printf ("%s\n", failures ? "FAILED" : "all passed");
  return failures != 0;
}
