/* Unit tests of the QCOW2 layer on images built here, in memory: every
 * kind of cluster reads as built, metadata and inflated clusters are read
 * once, backing files are named relative to the image that names them,
 * concurrent readers agree, and thousands of damaged images never crash. */
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libdeflate.h>

#include "vmimport/error.h"
#include "vmimport/formats.h"

static int failures;
#define CHECK(cond) do { if (!(cond)) { \
  fprintf (stderr, "%s:%d: FAIL: %s (%s)\n", __FILE__, __LINE__, #cond, \
           vmi_error_get ()); failures++; } } while (0)

#define CS 4096u                       /* cluster_bits 12 */
#define VSIZE (6 * CS + 1000)          /* seven clusters, the last partial */
#define FILE_SIZE (8 * CS)

static void
put32 (unsigned char *p, uint32_t v)
{
  for (int i = 0; i < 4; i++)
    p[i] = v >> (24 - 8 * i);
}

static void
put64 (unsigned char *p, uint64_t v)
{
  for (int i = 0; i < 8; i++)
    p[i] = v >> (56 - 8 * i);
}

static unsigned char pattern (int c, size_t i) { return (unsigned char) (c * 31 + i * 7 + (i >> 9)); }

/* Guest clusters: 0 data, 1 zero, 2 unallocated, 3 compressed (deflate,
 * at an unaligned host offset), 4 data, 5 zero over a preallocated host
 * cluster full of 0xee, 6 data (partial, the last).  EXPECT gets the raw
 * disk (unallocated reads as zeros). */
static unsigned char *
build (const char *backing, unsigned char *expect)
{
  unsigned char *f = calloc (1, FILE_SIZE);
  unsigned char *l2 = f + 2 * CS;
  unsigned char src[CS], z[2 * CS];
  struct libdeflate_compressor *c = libdeflate_alloc_compressor (6);
  uint64_t coff = 4 * CS + 100;
  size_t n;

  memcpy (f, "QFI\xfb", 4);
  put32 (f + 4, 3);
  if (backing) {
    put64 (f + 8, 512);
    put32 (f + 16, strlen (backing));
    memcpy (f + 512, backing, strlen (backing));
  }
  put32 (f + 20, 12);
  put64 (f + 24, VSIZE);
  put32 (f + 36, 1);                 /* l1_size */
  put64 (f + 40, CS);                /* l1_table_offset */
  put32 (f + 96, 4);                 /* refcount_order */
  put32 (f + 100, 104);              /* header_length */
  put64 (f + CS, (1ull << 63) | 2 * CS);

  memset (expect, 0, 7 * CS);
  for (size_t i = 0; i < CS; i++) {
    f[3 * CS + i] = expect[i] = pattern (0, i);
    f[5 * CS + i] = expect[4 * CS + i] = pattern (4, i);
    f[7 * CS + i] = expect[6 * CS + i] = pattern (6, i);
    src[i] = expect[3 * CS + i] = (unsigned char) ("compressible"[i % 12] + (i >> 10));
  }
  memset (f + 6 * CS, 0xee, CS);
  n = libdeflate_deflate_compress (c, src, CS, z, sizeof z);
  libdeflate_free_compressor (c);
  memcpy (f + coff, z, n);
  put64 (l2 + 0, (1ull << 63) | 3 * CS);
  put64 (l2 + 8, 1);                                  /* zero, no offset */
  put64 (l2 + 16, 0);                                 /* unallocated */
  put64 (l2 + 24, (1ull << 62) | ((((coff + n - 1) >> 9) - (coff >> 9)) << 58) | coff);
  put64 (l2 + 32, (1ull << 63) | 5 * CS);
  put64 (l2 + 40, (1ull << 63) | 6 * CS | 1);         /* zero, preallocated */
  put64 (l2 + 48, (1ull << 63) | 7 * CS);
  return f;
}

/* Counts bytes read from the layer below. */
static uint64_t counted;
static int
count_pread (struct vmi_layer *l, void *buf, size_t n, uint64_t off)
{
  __atomic_add_fetch (&counted, n, __ATOMIC_RELAXED);
  return vmi_layer_pread (l->below, buf, n, off);
}
static const struct vmi_layer_ops count_ops = { .name = "count", .pread = count_pread };

static void
probe_looks_at_the_magic (void)
{
  CHECK (vmi_qcow2_probe ("QFI\xfb\0\0\0\3", 8) == 1);
  CHECK (vmi_qcow2_probe ("QFI", 3) == 0);
  CHECK (vmi_qcow2_probe ("KDMV", 4) == 0);
}

static void
every_cluster_kind_reads_as_built (void)
{
  unsigned char expect[7 * CS], got[7 * CS];
  unsigned char *f = build (NULL, expect);
  struct vmi_layer *l = vmi_qcow2_open (vmi_memory_open (f, FILE_SIZE, "handmade"), NULL);
  struct vmi_extents e = { 0 };

  CHECK (l && l->size == VSIZE);
  if (l == NULL)
    goto out;
  CHECK (vmi_layer_pread (l, got, VSIZE, 0) == 0 && memcmp (got, expect, VSIZE) == 0);
  /* Odd pieces, crossing clusters. */
  for (uint64_t off = 0; off + 3000 <= VSIZE; off += 777) {
    memset (got, 0x5a, 3000);
    CHECK (vmi_layer_pread (l, got, 3000, off) == 0 && memcmp (got, expect + off, 3000) == 0);
  }
  CHECK (vmi_layer_extents (l, 0, VSIZE, &e) == 0);
  /* data | zero | hole | data (3 and 4 merged) | zero | data */
  CHECK (e.n == 6);
  if (e.n == 6) {
    static const enum vmi_extent_type want[6] = {
      VMI_EXTENT_DATA, VMI_EXTENT_ZERO, VMI_EXTENT_HOLE, VMI_EXTENT_DATA,
      VMI_EXTENT_ZERO, VMI_EXTENT_DATA };
    for (int i = 0; i < 6; i++)
      CHECK (e.v[i].type == want[i]);
    CHECK (e.v[3].offset == 3 * CS && e.v[3].length == 2 * CS);
    CHECK (e.v[5].offset == 6 * CS && e.v[5].length == 1000);
  }
  vmi_extents_free (&e);
  CHECK (vmi_layer_extents (l, 2 * CS + 10, 10, &e) == 0 && e.n == 1
         && e.v[0].type == VMI_EXTENT_HOLE && e.v[0].offset == 2 * CS + 10
         && e.v[0].length == 10);
  CHECK (vmi_layer_extents (l, CS, 1, &e) == 0 && e.v[0].type == VMI_EXTENT_ZERO);
  CHECK (vmi_layer_extents (l, 5 * CS, 1, &e) == 0 && e.v[0].type == VMI_EXTENT_ZERO);
  CHECK (vmi_layer_extents (l, 3 * CS, 1, &e) == 0 && e.v[0].type == VMI_EXTENT_DATA);
  CHECK (vmi_layer_allocated (l) == (int64_t) (VSIZE - 3 * CS));
  vmi_extents_free (&e);
  vmi_layer_close (l);
 out:
  free (f);
}

static void
metadata_and_inflated_clusters_are_read_once (void)
{
  unsigned char expect[7 * CS], got[CS];
  unsigned char *f = build (NULL, expect);
  struct vmi_layer *m = vmi_memory_open (f, FILE_SIZE, "counted");
  struct vmi_layer *c = vmi_layer_new (&count_ops, NULL, FILE_SIZE, "counted", m);
  struct vmi_layer *l = vmi_qcow2_open (c, NULL);
  uint64_t before;

  CHECK (l != NULL);
  if (l == NULL)
    goto out;
  /* First read of cluster 0: its L2 table and its bytes. */
  before = counted;
  CHECK (vmi_layer_pread (l, got, 100, 10) == 0 && memcmp (got, expect + 10, 100) == 0);
  CHECK (counted - before == CS + 100);
  before = counted;
  CHECK (vmi_layer_pread (l, got, 100, 200) == 0 && memcmp (got, expect + 200, 100) == 0);
  CHECK (counted - before == 100);     /* the L2 table is cached */
  /* Two small reads of the compressed cluster inflate it once. */
  before = counted;
  CHECK (vmi_layer_pread (l, got, 10, 3 * CS) == 0 && memcmp (got, expect + 3 * CS, 10) == 0);
  CHECK (counted - before > 0);
  before = counted;
  CHECK (vmi_layer_pread (l, got, 10, 3 * CS + 4000) == 0
         && memcmp (got, expect + 3 * CS + 4000, 10) == 0);
  CHECK (counted == before);
  /* Zero and unallocated clusters read nothing. */
  CHECK (vmi_layer_pread (l, got, CS, CS) == 0 && counted == before);
  CHECK (vmi_layer_pread (l, got, CS, 2 * CS) == 0 && counted == before);
  CHECK (vmi_layer_pread (l, got, CS, 5 * CS) == 0 && counted == before);
  vmi_layer_close (l);
 out:
  free (f);
}

/* Files by name, for backing chains; remembers what was asked for. */
struct named { const char *name; unsigned char *data; size_t size; };
static struct named files[4];
static char asked[8][64];
static int nasked;

static struct vmi_layer *
open_named (const struct vmi_opener *o, const char *path)
{
  (void) o;
  if (nasked < 8)
    snprintf (asked[nasked++], sizeof asked[0], "%s", path);
  for (int i = 0; i < 4; i++)
    if (files[i].name && strcmp (files[i].name, path) == 0)
      return vmi_memory_open (files[i].data, files[i].size, path);
  vmi_error ("%s: no such file", path);
  return NULL;
}

static void
backing_names_are_relative_to_the_image_naming_them (void)
{
  unsigned char expect[7 * CS], ignore[7 * CS], got[7 * CS];
  unsigned char *top = build ("sub/mid.qcow2", expect);
  unsigned char *mid = build ("base.raw", ignore);
  unsigned char *base = malloc (7 * CS);
  struct vmi_opener op = { open_named, NULL };
  struct vmi_layer *l;

  for (size_t i = 0; i < 7 * CS; i++)
    base[i] = (unsigned char) (i * 13 + 1);
  /* Top and mid share a layout: cluster 2 is unallocated in both, so it
   * comes from the base file. */
  memcpy (expect + 2 * CS, base + 2 * CS, CS);
  files[0] = (struct named){ "sub/mid.qcow2", mid, FILE_SIZE };
  files[1] = (struct named){ "sub/base.raw", base, 7 * CS };
  nasked = 0;
  l = vmi_qcow2_open (vmi_memory_open (top, FILE_SIZE, "top.qcow2"), &op);
  CHECK (l != NULL);
  CHECK (nasked == 2 && strcmp (asked[0], "sub/mid.qcow2") == 0
         && strcmp (asked[1], "sub/base.raw") == 0);
  if (l) {
    struct vmi_extents e = { 0 };
    CHECK (vmi_layer_pread (l, got, VSIZE, 0) == 0 && memcmp (got, expect, VSIZE) == 0);
    /* Unallocated in both overlays, data in the raw base. */
    CHECK (vmi_layer_extents (l, 2 * CS, CS, &e) == 0 && e.n == 1
           && e.v[0].type == VMI_EXTENT_DATA);
    vmi_extents_free (&e);
    vmi_layer_close (l);
  }

  /* mid names itself (as sub/../sub/mid.qcow2): a loop. */
  free (mid);
  mid = build ("../sub/./mid.qcow2", ignore);
  files[0].data = mid;
  files[2] = (struct named){ "sub/../sub/./mid.qcow2", mid, FILE_SIZE };
  l = vmi_qcow2_open (vmi_memory_open (top, FILE_SIZE, "top.qcow2"), &op);
  CHECK (l == NULL && strstr (vmi_error_get (), "backing file loop") != NULL);
  /* No opener: a clear refusal. */
  l = vmi_qcow2_open (vmi_memory_open (top, FILE_SIZE, "top.qcow2"), NULL);
  CHECK (l == NULL && strstr (vmi_error_get (), "cannot be opened here") != NULL);
  files[0] = files[1] = files[2] = (struct named){ 0 };
  free (top);
  free (mid);
  free (base);
}

struct reader { struct vmi_layer *l; const unsigned char *expect; unsigned seed; int bad; };

static void *
read_randomly (void *arg)
{
  struct reader *r = arg;
  unsigned char buf[3 * CS];

  for (int i = 0; i < 3000; i++) {
    uint64_t len = 1 + rand_r (&r->seed) % sizeof buf;
    uint64_t off = rand_r (&r->seed) % (VSIZE - len + 1);
    if (vmi_layer_pread (r->l, buf, len, off) == -1
        || memcmp (buf, r->expect + off, len) != 0)
      r->bad++;
  }
  return NULL;
}

static void
concurrent_readers_agree (void)
{
  unsigned char expect[7 * CS];
  unsigned char *f = build (NULL, expect);
  struct vmi_layer *l = vmi_qcow2_open (vmi_memory_open (f, FILE_SIZE, "mt"), NULL);
  pthread_t t[4];
  struct reader r[4];

  CHECK (l != NULL);
  if (l == NULL)
    goto out;
  for (int i = 0; i < 4; i++) {
    r[i] = (struct reader){ l, expect, 100 + i, 0 };
    pthread_create (&t[i], NULL, read_randomly, &r[i]);
  }
  for (int i = 0; i < 4; i++) {
    pthread_join (t[i], NULL);
    CHECK (r[i].bad == 0);
  }
  vmi_layer_close (l);
 out:
  free (f);
}

/* Damage the header, L1, L2 and compressed bytes at random: opening may
 * fail and reads may fail, with a message naming the file; nothing may
 * crash (this runs under ASan/UBSan), and nothing may hang. */
static void
damaged_images_never_crash (void)
{
  unsigned char expect[7 * CS], *buf = malloc (VSIZE);
  unsigned char *good = build (NULL, expect);
  unsigned char *f = malloc (FILE_SIZE);
  unsigned seed = 12345;
  int opened = 0, failed_reads = 0;

  for (int iter = 0; iter < 20000; iter++) {
    struct vmi_layer *l;
    struct vmi_extents e = { 0 };
    int flips = 1 + rand_r (&seed) % 4;

    memcpy (f, good, FILE_SIZE);
    for (int k = 0; k < flips; k++) {
      /* Mostly the header and tables; sometimes the compressed stream. */
      uint32_t where = rand_r (&seed) % 8;
      uint32_t r = (uint32_t) rand_r (&seed);
      uint32_t pos = where < 3 ? r % 112
                   : where < 4 ? CS + r % 8
                   : where < 7 ? 2 * CS + r % 56
                   : 4 * CS + 100 + r % 400;
      f[pos] ^= (unsigned char) (1u << (rand_r (&seed) % 8));
    }
    l = vmi_qcow2_open (vmi_memory_open (f, FILE_SIZE, "damaged"), NULL);
    if (l == NULL) {
      CHECK (strstr (vmi_error_get (), "damaged") != NULL);
      continue;
    }
    opened++;
    if (vmi_layer_extents (l, 0, l->size, &e) == -1)
      CHECK (strstr (vmi_error_get (), "damaged") != NULL);
    vmi_extents_free (&e);
    for (uint64_t off = 0; off < l->size && off < VSIZE * 4; off += CS) {
      uint64_t n = l->size - off < CS ? l->size - off : CS;
      if (vmi_layer_pread (l, buf, n, off) == -1) {
        failed_reads++;
        CHECK (strstr (vmi_error_get (), "damaged") != NULL);
      }
    }
    vmi_layer_close (l);
  }
  fprintf (stderr, "damaged images: %d opened, %d reads failed cleanly\n",
           opened, failed_reads);
  CHECK (opened > 0 && failed_reads > 0);
  free (f);
  free (good);
  free (buf);
}

int
main (void)
{
  probe_looks_at_the_magic ();
  every_cluster_kind_reads_as_built ();
  metadata_and_inflated_clusters_are_read_once ();
  backing_names_are_relative_to_the_image_naming_them ();
  concurrent_readers_agree ();
  damaged_images_never_crash ();
  if (failures) {
    fprintf (stderr, "%d failures\n", failures);
    return 1;
  }
  fprintf (stderr, "all passed\n");
  return 0;
}
