/* Unit tests of the VMDK layer on images built in memory: compressed grains
 * are inflated once, many threads read right, damage gives EIO naming the
 * offset, a 2 TiB empty disk is cheap; an seSparse extent read from many
 * threads. */
#include <errno.h>
#include <inttypes.h>
#include <libdeflate.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vmimport/error.h"
#include "vmimport/formats.h"
#include "../convert/vmdk.h"

static int failures;
#define CHECK(cond) do { if (!(cond)) { \
  fprintf (stderr, "%s:%d: FAIL: %s (%s)\n", __FILE__, __LINE__, #cond, \
           vmi_error_get ()); failures++; } } while (0)

#define GRAIN 65536
#define NGRAINS 40
#define CAPACITY ((uint64_t) (NGRAINS - 1) * GRAIN + 3 * 512)  /* odd tail */

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
put32 (unsigned char *p, uint32_t v)
{
  for (int i = 0; i < 4; i++)
    p[i] = v >> (8 * i);
}

static void
put64 (unsigned char *p, uint64_t v)
{
  put32 (p, v);
  put32 (p + 4, v >> 32);
}

static int
allocated (int g)
{
  return g % 5 != 2;            /* some grains are holes */
}

/* The virtual disk's bytes. */
static unsigned char *
disk_bytes (void)
{
  unsigned char *d = calloc (1, CAPACITY);
  for (uint64_t i = 0; i < CAPACITY; i++)
    if (allocated (i / GRAIN))
      d[i] = (unsigned char) (i * 7 + (i >> 9) + (i >> 17));
  return d;
}

/* streamOptimized as qemu writes it: header, GD at sector 1, GT at 2..5,
 * then one grain marker + zlib stream per allocated grain (the last one
 * only as long as the disk). */
static unsigned char *
stream_image (const unsigned char *disk, size_t *size_out, uint64_t *grain3_at)
{
  struct libdeflate_compressor *c = libdeflate_alloc_compressor (6);
  size_t cap = 6 * 512 + NGRAINS * (GRAIN + 1024);
  unsigned char *img = calloc (1, cap);
  uint64_t pos = 6 * 512;

  memcpy (img, "KDMV", 4);
  put32 (img + 4, 1);
  put32 (img + 8, 1 | 1u << 16 | 1u << 17);
  put64 (img + 12, CAPACITY / 512);
  put64 (img + 20, GRAIN / 512);
  put32 (img + 44, 512);
  put64 (img + 56, 1);
  put64 (img + 64, 6);
  memcpy (img + 73, "\n \r\n", 4);
  img[77] = 1;
  put32 (img + 512, 2);
  for (int g = 0; g < NGRAINS; g++) {
    uint64_t start = (uint64_t) g * GRAIN;
    size_t len = CAPACITY - start < GRAIN ? CAPACITY - start : GRAIN, z;
    if (!allocated (g))
      continue;
    if (g == 3)
      *grain3_at = pos;
    put32 (img + 1024 + 4 * g, pos / 512);
    put64 (img + pos, start / 512);
    z = libdeflate_zlib_compress (c, disk + start, len, img + pos + 12,
                                  GRAIN + 1000);
    put32 (img + pos + 8, z);
    pos += (12 + z + 511) & ~(uint64_t) 511;
  }
  libdeflate_free_compressor (c);
  *size_out = pos;
  return img;
}

static struct vmi_layer *
open_counted (const unsigned char *img, size_t size)
{
  struct vmi_layer *m = vmi_memory_open (img, size, "mem.vmdk");
  struct vmi_layer *c = vmi_layer_new (&count_ops, NULL, size, "mem.vmdk", m);
  return vmi_vmdk_open (c, NULL);
}

static void
stream_reads_match_source (const unsigned char *img, size_t size,
                           const unsigned char *disk)
{
  struct vmi_layer *l = open_counted (img, size);
  unsigned char *buf = malloc (CAPACITY);

  CHECK (l != NULL && l->size == CAPACITY);
  if (l) {
    CHECK (vmi_layer_pread (l, buf, CAPACITY, 0) == 0);
    CHECK (memcmp (buf, disk, CAPACITY) == 0);
    /* One large read inflates each allocated grain once. */
    int n = 0;
    for (int g = 0; g < NGRAINS; g++)
      n += allocated (g);
    CHECK (vmdk_sparse_inflations (l) == (uint64_t) n);
  }
  vmi_layer_close (l);
  free (buf);
}

static void
compressed_grain_inflated_once_for_repeated_reads (const unsigned char *img,
                                                   size_t size,
                                                   const unsigned char *disk)
{
  struct vmi_layer *l = open_counted (img, size);
  unsigned char a[300];
  uint64_t before;

  CHECK (l != NULL);
  if (l == NULL)
    return;
  CHECK (vmi_layer_pread (l, a, 100, 3 * GRAIN + 10) == 0);
  CHECK (memcmp (a, disk + 3 * GRAIN + 10, 100) == 0);
  CHECK (vmdk_sparse_inflations (l) == 1);
  before = counted_bytes;
  CHECK (vmi_layer_pread (l, a, 300, 3 * GRAIN + 5000) == 0);
  CHECK (memcmp (a, disk + 3 * GRAIN + 5000, 300) == 0);
  CHECK (vmi_layer_pread (l, a, 1, 4 * GRAIN - 1) == 0);
  CHECK (a[0] == disk[4 * GRAIN - 1]);
  CHECK (vmdk_sparse_inflations (l) == 1);
  CHECK (counted_bytes == before);      /* nothing read from the file */
  /* The short last grain is accepted (qemu writes it that way). */
  CHECK (vmi_layer_pread (l, a, 10, CAPACITY - 10) == 0);
  CHECK (memcmp (a, disk + CAPACITY - 10, 10) == 0);
  vmi_layer_close (l);
}

struct worker {
  struct vmi_layer *l;
  const unsigned char *disk;
  unsigned seed;
  int bad;
  uint64_t cap;                 /* the disk's size */
};

static void *
reader (void *arg)
{
  struct worker *w = arg;
  unsigned char *buf = malloc (3 * GRAIN);

  for (int i = 0; i < 400; i++) {
    uint64_t len = 1 + rand_r (&w->seed) % (3 * GRAIN);
    uint64_t off = ((uint64_t) rand_r (&w->seed) * 4096 + rand_r (&w->seed))
      % (w->cap - len + 1);
    if (vmi_layer_pread (w->l, buf, len, off) == -1
        || memcmp (buf, w->disk + off, len) != 0)
      w->bad++;
  }
  free (buf);
  return NULL;
}

static void
many_threads_read_the_same_bytes (const unsigned char *img, size_t size,
                                  const unsigned char *disk)
{
  struct vmi_layer *l = open_counted (img, size);
  pthread_t t[8];
  struct worker w[8];
  int bad = 0;

  CHECK (l != NULL);
  if (l == NULL)
    return;
  for (int i = 0; i < 8; i++) {
    w[i] = (struct worker){ l, disk, 100 + i, 0, CAPACITY };
    pthread_create (&t[i], NULL, reader, &w[i]);
  }
  for (int i = 0; i < 8; i++) {
    pthread_join (t[i], NULL);
    bad += w[i].bad;
  }
  CHECK (bad == 0);
  vmi_layer_close (l);
}

static void
damaged_grain_fails_with_eio_naming_offset (const unsigned char *img,
                                            size_t size, uint64_t grain3_at,
                                            const unsigned char *disk)
{
  unsigned char *bad = malloc (size), a[100];
  char want[64];
  struct vmi_layer *l;

  memcpy (bad, img, size);
  memset (bad + grain3_at + 14, 0xff, 40);
  l = vmi_vmdk_open (vmi_memory_open (bad, size, "bad.vmdk"), NULL);
  CHECK (l != NULL);
  if (l) {
    errno = 0;
    CHECK (vmi_layer_pread (l, a, 100, 3 * GRAIN) == -1 && errno == EIO);
    snprintf (want, sizeof want, "grain 3 at offset %" PRIu64, grain3_at);
    CHECK (strstr (vmi_error_get (), "bad.vmdk: compressed") != NULL);
    CHECK (strstr (vmi_error_get (), want) != NULL);
    /* Other grains are unaffected. */
    CHECK (vmi_layer_pread (l, a, 100, 4 * GRAIN) == 0
           && memcmp (a, disk + 4 * GRAIN, 100) == 0);
  }
  vmi_layer_close (l);
  free (bad);
}

/* 2 TiB, nothing allocated: the GD is read (256 KiB), no grain table is. */
static void
two_tib_empty_disk_is_cheap (void)
{
  uint64_t sectors = UINT64_C (1) << 32;
  size_t gd = (sectors / (128 * 512)) * 4, size = 512 + gd;
  unsigned char *img = calloc (1, size);
  struct vmi_layer *l;
  struct vmi_extents e = { 0 };

  memcpy (img, "KDMV", 4);
  put32 (img + 4, 1);
  put64 (img + 12, sectors);
  put64 (img + 20, 128);
  put32 (img + 44, 512);
  put64 (img + 56, 1);
  put64 (img + 64, 1);
  l = vmi_vmdk_open (vmi_memory_open (img, size, "big.vmdk"), NULL);
  CHECK (l != NULL && l->size == sectors * 512);
  if (l) {
    CHECK (vmi_layer_extents (l, 0, l->size, &e) == 0);
    CHECK (e.n == 1 && e.v[0].type == VMI_EXTENT_HOLE
           && e.v[0].length == l->size);
    CHECK (vmi_layer_allocated (l) == 0);
  }
  vmi_extents_free (&e);
  vmi_layer_close (l);
  free (img);
}

/* 64 GiB with every grain table present (apart, as a streamOptimized disk
 * has them): walking the extents the way vmimport copy does (4 MiB at a
 * time) reads each table once, and a second walk reads nothing.  The
 * tables in the 512 KiB after the directory came with it, at open. */
static void
grain_tables_of_64_gib_are_read_once (void)
{
  uint64_t sectors = UINT64_C (1) << 27;
  uint32_t ngt = sectors / (128 * 512);               /* 2048 tables */
  size_t gd_at = 512, gt0 = gd_at + (size_t) ngt * 4;
  size_t size = gt0 + (size_t) ngt * 4096;
  unsigned char *img = calloc (1, size);
  struct vmi_layer *l;
  struct vmi_extents e = { 0 };
  uint64_t first;

  memcpy (img, "KDMV", 4);
  put32 (img + 4, 1);
  put64 (img + 12, sectors);
  put64 (img + 20, 128);
  put32 (img + 44, 512);
  put64 (img + 56, 1);
  put64 (img + 64, 1);
  for (uint32_t i = 0; i < ngt; i++)    /* 2 KiB tables, 4 KiB apart */
    put32 (img + gd_at + 4 * i, (gt0 + (size_t) i * 4096) / 512);
  l = open_counted (img, size);
  CHECK (l != NULL);
  if (l == NULL)
    return;
  for (int pass = 0; pass < 2; pass++) {
    counted_bytes = 0;
    for (uint64_t off = 0; off < l->size; off += 4 << 20) {
      e.n = 0;
      CHECK (vmi_layer_extents (l, off, 4 << 20, &e) == 0);
      CHECK (e.n >= 1 && e.v[0].type == VMI_EXTENT_HOLE);
    }
    if (pass == 0)
      first = counted_bytes;
  }
  CHECK (first == (uint64_t) (ngt - 128) * 2048);   /* 128 x 4 KiB apart */
  CHECK (counted_bytes == 0);
  vmi_extents_free (&e);
  vmi_layer_close (l);
  free (img);
}

/* BOM, CRLF, tabs, RDONLY, ZERO extents (no files to open), ddb lines. */
static void
descriptor_of_zero_extents_reads_zeros (void)
{
  const char *t = "\xef\xbb\xbf# Disk DescriptorFile\r\nversion=1\r\n"
    "encoding=\"UTF-8\"\r\nCID=fffffffe\r\nparentCID=ffffffff\r\n"
    "createType=\"monolithicFlat\"\r\n\r\n# Extent description\r\n"
    "RW 100 ZERO\r\nRDONLY\t28 ZERO\r\n\r\nddb.adapterType = \"ide\"\r\n";
  struct vmi_layer *l;
  struct vmi_extents e = { 0 };
  char buf[512];

  CHECK (vmi_vmdk_probe (t, strlen (t)));
  l = vmi_vmdk_open (vmi_memory_open (t, strlen (t), "zero.vmdk"), NULL);
  CHECK (l != NULL && l->size == 128 * 512);
  if (l) {
    memset (buf, 1, sizeof buf);
    CHECK (vmi_layer_pread (l, buf, sizeof buf, 99 * 512) == 0
           && buf[0] == 0 && buf[511] == 0);
    CHECK (vmi_layer_extents (l, 0, l->size, &e) == 0 && e.n == 1
           && e.v[0].type == VMI_EXTENT_ZERO);
  }
  vmi_extents_free (&e);
  vmi_layer_close (l);
}

/* seSparse, built here from the format (see convert/vmdk-sesparse.c): two
 * grain tables swapped in the directory, grains stored in reverse order,
 * data / zero / unmapped / unallocated grains, a partial last grain. */
#define SE_CAP ((uint64_t) 5120 * 4096 + 1536)
#define SE_GRAINS_AT 256                /* sector of the grains region */

static int
se_kind (uint64_t g)                    /* 0 hole, 1 unmapped, 2 zero, 3 data */
{
  if (g < 512)
    return g % 7 == 1 ? 3 : g % 7 == 3 ? 2 : g % 7 == 5 ? 1 : 0;
  return (g >= 4096 && g < 4100) || g == 5120 ? 3 : 0;
}

static unsigned char *
se_image (unsigned char **disk_out, size_t *size_out)
{
  uint64_t ndata = 0, k = 0;
  unsigned char *img, *disk = calloc (1, SE_CAP), *h;
  size_t size;

  for (uint64_t g = 0; g * 4096 < SE_CAP; g++)
    ndata += se_kind (g) == 3;
  size = (SE_GRAINS_AT + ndata * 8) * 512;
  img = calloc (1, size);
  h = img;
  put64 (h, 0xcafebabe);
  put64 (h + 8, UINT64_C (0x0000000200000001));
  put64 (h + 16, SE_CAP / 512);
  put64 (h + 24, 8);
  put64 (h + 32, 64);
  put64 (h + 80, 1);                    /* volatile header */
  put64 (h + 88, 1);
  put64 (h + 80 + 16 * 3, 64);          /* grain directory */
  put64 (h + 88 + 16 * 3, 1);
  put64 (h + 80 + 16 * 4, 128);         /* grain tables: 2 */
  put64 (h + 88 + 16 * 4, 128);
  put64 (h + 80 + 16 * 7, SE_GRAINS_AT);
  put64 (h + 88 + 16 * 7, ndata * 8);
  put64 (img + 512, 0xcafecafe);
  put64 (img + 64 * 512, UINT64_C (0x1000000000000001));  /* GD 0: table 1 */
  put64 (img + 64 * 512 + 8, UINT64_C (0x1000000000000000));
  for (uint64_t g = 0; g * 4096 < SE_CAP; g++) {
    unsigned char *e = img + (128 + (g < 4096 ? 64 : 0)) * 512 + 8 * (g % 4096);
    int kind = se_kind (g);
    uint64_t x;
    if (kind == 1 || kind == 2)
      put64 (e, (uint64_t) kind << 60);
    if (kind != 3)
      continue;
    x = ndata - 1 - k++;                /* reverse order */
    put64 (e, UINT64_C (0x3000000000000000) | (x & 0xfff) << 48 | x >> 12);
    for (uint64_t i = 0; i < 4096 && g * 4096 + i < SE_CAP; i++)
      disk[g * 4096 + i] = img[(SE_GRAINS_AT + x * 8) * 512 + i]
        = (unsigned char) (g * 13 + i * 7 + 1);
  }
  *disk_out = disk;
  *size_out = size;
  return img;
}

static void
sesparse_reads_right_from_many_threads (void)
{
  unsigned char *disk, *img, *buf;
  size_t size;
  struct vmi_layer *l;
  struct vmi_extents e = { 0 };
  pthread_t t[8];
  struct worker w[8];
  int bad = 0;

  img = se_image (&disk, &size);
  l = vmdk_sesparse_open (vmi_memory_open (img, size, "se.vmdk"));
  CHECK (l != NULL && l->size == SE_CAP);
  if (l == NULL)
    goto out;
  buf = malloc (SE_CAP);
  CHECK (vmi_layer_pread (l, buf, SE_CAP, 0) == 0
         && memcmp (buf, disk, SE_CAP) == 0);
  free (buf);
  CHECK (vmi_layer_extents (l, 0, 8 * 4096, &e) == 0 && e.n == 7
         && e.v[0].type == VMI_EXTENT_HOLE && e.v[1].type == VMI_EXTENT_DATA
         && e.v[3].type == VMI_EXTENT_ZERO && e.v[5].type == VMI_EXTENT_ZERO
         && e.v[6].type == VMI_EXTENT_HOLE);     /* grains 6, 7 merged */
  CHECK (vmi_layer_extents (l, 4096 * 4096 - 512, 1024, &e) == 0 && e.n == 2
         && e.v[0].type == VMI_EXTENT_HOLE && e.v[1].type == VMI_EXTENT_DATA);
  CHECK (vmi_layer_extents (l, SE_CAP - 1, 1, &e) == 0 && e.n == 1
         && e.v[0].type == VMI_EXTENT_DATA);
  for (int i = 0; i < 8; i++) {
    w[i] = (struct worker){ l, disk, 200 + i, 0, SE_CAP };
    pthread_create (&t[i], NULL, reader, &w[i]);
  }
  for (int i = 0; i < 8; i++) {
    pthread_join (t[i], NULL);
    bad += w[i].bad;
  }
  CHECK (bad == 0);
 out:
  vmi_extents_free (&e);
  vmi_layer_close (l);
  free (img);
  free (disk);
}

/* CID and parentCID: hex as VMware (8 digits) and qemu (no leading zeros)
 * write them; "ffffffff" means no parent; a bad parentCID is an error. */
static void
descriptor_cids_parse (void)
{
  const char *top = "version=1\nCID=0A1b2C3d\nparentCID=2f\n"
    "parentFileNameHint=\"base.vmdk\"\ncreateType=\"vmfsSparse\"\n";
  const char *base = "version=1\nCID=zz\nparentCID=FFFFFFFF\n";
  const char *bad = "version=1\nCID=1\nparentCID=123456789\n";
  struct vmdk_desc d;

  CHECK (vmdk_desc_parse (top, strlen (top), "top.vmdk", &d) == 0
         && d.has_cid && d.cid == 0x0a1b2c3d && d.has_parent
         && d.parent_cid == 0x2f && d.parent_hint
         && strcmp (d.parent_hint, "base.vmdk") == 0);
  vmdk_desc_free (&d);
  CHECK (vmdk_desc_parse (base, strlen (base), "base.vmdk", &d) == 0
         && !d.has_cid && !d.has_parent);
  vmdk_desc_free (&d);
  CHECK (vmdk_desc_parse (bad, strlen (bad), "bad.vmdk", &d) == -1
         && errno == EINVAL
         && strstr (vmi_error_get (), "parentCID is not 8 hex digits"));
}

static void
probe_knows_sparse_and_descriptors (void)
{
  const char *d1 = "# Disk DescriptorFile\nversion=1\nCID=1\n";
  const char *d2 = "\r\n  \n#c\nversion=3\r\n";
  const char *no = "#!/bin/sh\necho version=1\n";

  CHECK (vmi_vmdk_probe ("KDMV\1\0\0\0", 8));
  CHECK (vmi_vmdk_probe ("COWD\1\0\0\0", 8));
  CHECK (vmi_vmdk_probe ("\xbe\xba\xfe\xca\0\0\0\0", 8));    /* seSparse */
  CHECK (vmi_vmdk_probe (d1, strlen (d1)));
  CHECK (vmi_vmdk_probe (d2, strlen (d2)));
  CHECK (!vmi_vmdk_probe (no, strlen (no)));
  CHECK (!vmi_vmdk_probe ("\0\0\0\0\0\0", 6));
  CHECK (!vmi_vmdk_probe ("KD", 2));
}

int
main (void)
{
  unsigned char *disk = disk_bytes (), *img;
  uint64_t grain3_at = 0;
  size_t size;

  img = stream_image (disk, &size, &grain3_at);
  stream_reads_match_source (img, size, disk);
  compressed_grain_inflated_once_for_repeated_reads (img, size, disk);
  many_threads_read_the_same_bytes (img, size, disk);
  damaged_grain_fails_with_eio_naming_offset (img, size, grain3_at, disk);
  two_tib_empty_disk_is_cheap ();
  grain_tables_of_64_gib_are_read_once ();
  descriptor_of_zero_extents_reads_zeros ();
  probe_knows_sparse_and_descriptors ();
  descriptor_cids_parse ();
  sesparse_reads_right_from_many_threads ();
  free (img);
  free (disk);
  if (failures)
    fprintf (stderr, "%d failures\n", failures);
  return failures != 0;
}
