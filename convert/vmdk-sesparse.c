/* One seSparse extent (VMFS6 snapshot deltas, createType="seSparse") as a
 * layer of its capacity.
 *
 * VMware does not document the format; qemu's reader (block/vmdk.c) is the
 * reference for what is valid, and its strict checks are ours:
 *
 *   sector 0           constant header: magic 0xcafebabe, version
 *                      0x0000000200000001, capacity, 8-sector (4 KiB)
 *                      grains, 64-sector grain tables (4096 entries of 8
 *                      bytes: 16 MiB of disk each), then the place and size
 *                      of each region below, all in sectors, little endian
 *   volatile header    magic 0xcafecafe; replay_journal set means the journal
 *                      holds writes not yet in the tables (refused)
 *   grain directory    8-byte entries: 0 (no table) or 0x10000000 << 32 | N,
 *                      table N of the grain tables region
 *   grain tables       8-byte entries, the top nibble their type:
 *                        0  unallocated (the whole entry 0): the parent's
 *                        1  unmapped (SCSI UNMAP), reads as zeros
 *                        2  zero
 *                        3  allocated: grain index bits 0-11 in bits 48-59,
 *                           bits 12-59 in bits 0-47; the grain is at
 *                           grains region + index * 4 KiB
 *   grains             the data
 *
 * Unallocated grains are holes (the VMDK layer above reads them from the
 * parent), zero and unmapped grains are zeros, allocated grains data.
 * Grain tables are read when first needed and kept in a small direct-mapped
 * cache under a short mutex; no lock is held during I/O.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "vmimport/error.h"
#include "vmimport/formats.h"
#include "vmdk.h"

#define SE_CONST_MAGIC UINT64_C (0xcafebabe)
#define SE_VOLATILE_MAGIC UINT64_C (0xcafecafe)
#define SE_VERSION UINT64_C (0x0000000200000001)
#define SE_GRAIN_SECTORS 8
#define SE_GT_SECTORS 64
#define GRAIN 4096u                     /* bytes */
#define GTES 4096u                      /* entries per grain table */
#define GT_BYTES (GTES * 8u)
#define GT_SPAN ((uint64_t) GTES * GRAIN)       /* 16 MiB of disk */
#define GD_ALLOCATED UINT64_C (0x10000000)      /* top half of a GD entry */
/* seSparse disks stop below 64 TiB (qemu: 4M directory entries). */
#define MAX_GD_ENTRIES (1u << 22)
#define GT_CACHE_SLOTS 128                      /* 4 MiB: 2 GiB of disk */
#define CHUNK 512                               /* grains per step */

enum gte_type { GTE_UNALLOCATED = 0, GTE_UNMAPPED = 1, GTE_ZERO = 2,
                GTE_ALLOCATED = 3 };

/* The regions the constant header places, in header order. */
enum { R_VOLATILE, R_JOURNAL_HEADER, R_JOURNAL, R_GD, R_GT, R_FREE_BITMAP,
       R_BACKMAP, R_GRAINS, NREGIONS };
static const char *const region_names[NREGIONS] = {
  "volatile header", "journal header", "journal", "grain directory",
  "grain tables", "free bitmap", "backmap", "grains",
};

struct region {
  uint64_t offset, size;                /* sectors */
};

struct gt_slot {
  uint64_t gdi;
  int valid;
  uint64_t *e;
};

struct sesparse {
  uint64_t file_size;
  uint64_t *gd;                         /* host order */
  uint64_t gd_n;
  struct region r[NREGIONS];
  pthread_mutex_t lock;
  struct gt_slot gt[GT_CACHE_SLOTS];
};

static uint64_t
le64 (const unsigned char *p)
{
  uint64_t v = 0;

  for (int i = 7; i >= 0; i--)
    v = v << 8 | p[i];
  return v;
}

static int
all_zero (const unsigned char *p, size_t n)
{
  for (size_t i = 0; i < n; i++)
    if (p[i])
      return 0;
  return 1;
}

static int
bad (int err, const char *name, const char *what)
{
  errno = err;
  vmi_error ("%s: seSparse %s", name, what);
  return -1;
}

/* The constant header (sector 0): the strict checks qemu makes. */
static int
check_const_header (const char *name, const unsigned char *b,
                    uint64_t *capacity, struct region *r)
{
  uint64_t version = le64 (b + 8), grain = le64 (b + 24), gt = le64 (b + 32);
  uint64_t flags = le64 (b + 40);

  if (le64 (b) != SE_CONST_MAGIC)
    return bad (EINVAL, name, "constant header has a bad magic");
  if (version != SE_VERSION) {
    errno = ENOTSUP;
    vmi_error ("%s: unsupported seSparse version 0x%016" PRIx64
               " (0x%016" PRIx64 " is known)", name, version, SE_VERSION);
    return -1;
  }
  if (grain != SE_GRAIN_SECTORS || gt != SE_GT_SECTORS) {
    errno = ENOTSUP;
    vmi_error ("%s: unsupported seSparse geometry: grains of %" PRIu64
               " sectors, grain tables of %" PRIu64 " sectors (8 and 64 are "
               "known)", name, grain, gt);
    return -1;
  }
  if (flags != 0) {
    errno = ENOTSUP;
    vmi_error ("%s: unsupported seSparse flags 0x%016" PRIx64, name, flags);
    return -1;
  }
  if (!all_zero (b + 48, 32) || !all_zero (b + 208, 304))
    return bad (ENOTSUP, name, "constant header has non-zero reserved "
                "fields or padding");
  *capacity = le64 (b + 16);
  for (int i = 0; i < NREGIONS; i++) {
    r[i].offset = le64 (b + 80 + 16 * i);
    r[i].size = le64 (b + 88 + 16 * i);
  }
  return 0;
}

/* Regions lie past the constant header, inside 2^50 bytes, and apart. */
static int
check_regions (const char *name, const struct region *r)
{
  for (int i = 0; i < NREGIONS; i++) {
    /* A delta with nothing written yet may have no tables or grains. */
    if (r[i].size == 0 && i != R_VOLATILE && i != R_GD)
      continue;
    if (r[i].offset == 0 || r[i].size == 0 || r[i].offset > VMDK_MAX_SECTORS
        || r[i].size > VMDK_MAX_SECTORS - r[i].offset) {
      errno = EINVAL;
      vmi_error ("%s: seSparse %s region at sector %" PRIu64 " (%" PRIu64
                 " sectors) is empty, overlaps the constant header or is "
                 "absurd", name, region_names[i], r[i].offset, r[i].size);
      return -1;
    }
    for (int j = 0; j < i; j++)
      if (r[j].size && r[i].offset < r[j].offset + r[j].size
          && r[j].offset < r[i].offset + r[i].size) {
        errno = EINVAL;
        vmi_error ("%s: seSparse %s region (sectors %" PRIu64 "+%" PRIu64
                   ") overlaps the %s region (sectors %" PRIu64 "+%" PRIu64
                   ")", name, region_names[i], r[i].offset, r[i].size,
                   region_names[j], r[j].offset, r[j].size);
        return -1;
      }
  }
  return 0;
}

static int
check_volatile_header (struct vmi_layer *file, const struct region *v)
{
  unsigned char b[VMDK_SECTOR];
  uint64_t off = v->offset * VMDK_SECTOR;

  if (off > file->size || file->size - off < sizeof b) {
    errno = EINVAL;
    vmi_error ("%s: seSparse volatile header at offset %" PRIu64 " is past "
               "the end of the file (size %" PRIu64 ")", file->name, off,
               file->size);
    return -1;
  }
  if (vmi_layer_pread (file, b, sizeof b, off) == -1)
    return -1;
  if (le64 (b) != SE_VOLATILE_MAGIC)
    return bad (EINVAL, file->name, "volatile header has a bad magic");
  if (le64 (b + 24) != 0)
    return bad (ENOTSUP, file->name, "journal must be replayed (the disk "
                "was not closed cleanly); reading it without replaying "
                "would give stale bytes, and replaying is not supported");
  if (!all_zero (b + 32, sizeof b - 32))
    return bad (ENOTSUP, file->name, "volatile header has non-zero "
                "padding");
  return 0;
}

/* The grain directory: the entries the capacity needs, each checked. */
static int
read_gd (struct vmi_layer *file, struct sesparse *s, uint64_t capacity)
{
  const struct region *d = &s->r[R_GD];
  uint64_t need = (capacity + GT_SPAN - 1) / GT_SPAN;
  uint64_t off = d->offset * VMDK_SECTOR, tables = s->r[R_GT].size
    / SE_GT_SECTORS;
  unsigned char *raw;

  if (need > MAX_GD_ENTRIES || need > d->size * (VMDK_SECTOR / 8)) {
    errno = EINVAL;
    vmi_error ("%s: seSparse grain directory has %" PRIu64 " entries, the "
               "capacity (%" PRIu64 " bytes) needs %" PRIu64 "%s", file->name,
               d->size * (VMDK_SECTOR / 8), capacity, need,
               need > MAX_GD_ENTRIES ? " (more than 64 TiB)" : "");
    return -1;
  }
  if (off > s->file_size || need * 8 > s->file_size - off) {
    errno = EINVAL;
    vmi_error ("%s: seSparse grain directory at offset %" PRIu64 " (%" PRIu64
               " bytes) is past the end of the file (size %" PRIu64 ")",
               file->name, off, need * 8, s->file_size);
    return -1;
  }
  if ((raw = malloc (need * 8)) == NULL
      || (s->gd = malloc (need * sizeof *s->gd)) == NULL) {
    free (raw);
    errno = ENOMEM;
    vmi_error ("%s: out of memory for the grain directory", file->name);
    return -1;
  }
  s->gd_n = need;
  if (vmi_layer_pread (file, raw, need * 8, off) == -1) {
    free (raw);
    return -1;
  }
  for (uint64_t i = 0; i < need; i++) {
    uint64_t e = le64 (raw + 8 * i), t = e & 0xffffffffu;
    s->gd[i] = e;
    if (e == 0)
      continue;
    if (e >> 32 != GD_ALLOCATED || t >= tables) {
      errno = EINVAL;
      vmi_error ("%s: seSparse grain directory entry %" PRIu64 " (0x%016"
                 PRIx64 ") names no grain table of the %" PRIu64 " in the "
                 "grain tables region", file->name, i, e, tables);
      free (raw);
      return -1;
    }
    /* Where it sits is checked against the file's end when it is read. */
  }
  free (raw);
  return 0;
}

/* Entries FIRST..FIRST+N of the grain table of directory entry GDI. */
static int
gt_get (struct vmi_layer *l, uint64_t gdi, uint32_t first, uint32_t n,
        uint64_t *out)
{
  struct sesparse *s = l->priv;
  struct gt_slot *slot = &s->gt[gdi % GT_CACHE_SLOTS];
  uint64_t table = s->gd[gdi] & 0xffffffffu;
  uint64_t off = (s->r[R_GT].offset + table * SE_GT_SECTORS) * VMDK_SECTOR;
  unsigned char *raw;
  int found = 0;

  pthread_mutex_lock (&s->lock);
  if (slot->valid && slot->gdi == gdi) {
    memcpy (out, slot->e + first, n * sizeof *out);
    found = 1;
  }
  pthread_mutex_unlock (&s->lock);
  if (found)
    return 0;
  if (off > s->file_size || GT_BYTES > s->file_size - off) {
    errno = EIO;
    vmi_error ("%s: seSparse grain table %" PRIu64 " (directory entry %"
               PRIu64 ") at offset %" PRIu64 " is past the end of the file "
               "(size %" PRIu64 ")", l->name, table, gdi, off, s->file_size);
    return -1;
  }
  if ((raw = malloc (GT_BYTES)) == NULL) {
    errno = ENOMEM;
    vmi_error ("%s: out of memory for a grain table", l->name);
    return -1;
  }
  if (vmi_layer_pread (l->below, raw, GT_BYTES, off) == -1) {
    vmi_error_prefix ("%s: reading grain table %" PRIu64, l->name, table);
    free (raw);
    return -1;
  }
  for (uint32_t j = 0; j < n; j++)
    out[j] = le64 (raw + 8 * (first + j));
  pthread_mutex_lock (&s->lock);
  if (slot->e == NULL)
    slot->e = malloc (GT_BYTES);
  if (slot->e) {                        /* no memory: no caching */
    for (uint32_t j = 0; j < GTES; j++)
      slot->e[j] = le64 (raw + 8 * j);
    slot->gdi = gdi;
    slot->valid = 1;
  }
  pthread_mutex_unlock (&s->lock);
  free (raw);
  return 0;
}

/* Entry E of grain GRAIN: its type, and for an allocated grain its offset
 * in the file (checked against the grains region and the file's end). */
static int
gte_decode (struct vmi_layer *l, uint64_t grain, uint64_t e,
            enum gte_type *type, uint64_t *host)
{
  struct sesparse *s = l->priv;
  uint64_t index, grains = s->r[R_GRAINS].size / SE_GRAIN_SECTORS;

  *type = e >> 60;
  switch (*type) {
  case GTE_UNALLOCATED:
    if (e == 0)
      return 0;
    break;
  case GTE_UNMAPPED:
  case GTE_ZERO:
    return 0;
  case GTE_ALLOCATED:
    index = (e & UINT64_C (0x0fff000000000000)) >> 48
      | (e & UINT64_C (0x0000ffffffffffff)) << 12;
    if (index >= grains) {
      errno = EIO;
      vmi_error ("%s: seSparse grain %" PRIu64 " (disk offset %" PRIu64
                 ") is grain %" PRIu64 " of a grains region of %" PRIu64,
                 l->name, grain, grain * GRAIN, index, grains);
      return -1;
    }
    *host = (s->r[R_GRAINS].offset + index * SE_GRAIN_SECTORS) * VMDK_SECTOR;
    if (*host > s->file_size || GRAIN > s->file_size - *host) {
      errno = EIO;
      vmi_error ("%s: seSparse grain %" PRIu64 " (disk offset %" PRIu64
                 ") at offset %" PRIu64 " points past end of file (size %"
                 PRIu64 ")", l->name, grain, grain * GRAIN, *host,
                 s->file_size);
      return -1;
    }
    return 0;
  }
  errno = EIO;
  vmi_error ("%s: seSparse grain %" PRIu64 " (disk offset %" PRIu64 ") has "
             "a grain table entry of unknown type (0x%016" PRIx64 ")",
             l->name, grain, grain * GRAIN, e);
  return -1;
}

/* Up to CHUNK grain table entries (*N of them) from grain GRAIN on, within
 * one table and up to grain LAST; all 0 where no table is allocated. */
static int
entries (struct vmi_layer *l, uint64_t grain, uint64_t last, uint64_t *tbl,
         uint32_t *n)
{
  struct sesparse *s = l->priv;
  uint64_t gdi = grain / GTES;
  uint32_t gti = grain % GTES;
  uint64_t m = last - grain + 1;

  if (m > GTES - gti)
    m = GTES - gti;
  if (m > CHUNK)
    m = CHUNK;
  *n = m;
  if (s->gd[gdi] == 0) {
    memset (tbl, 0, m * sizeof *tbl);
    return 0;
  }
  return gt_get (l, gdi, gti, m, tbl);
}

static int
sesparse_pread (struct vmi_layer *l, void *buf, size_t count,
                uint64_t offset)
{
  uint64_t pos = offset, end = offset + count;
  uint64_t tbl[CHUNK];
  char *p = buf;

  while (pos < end) {
    uint64_t grain = pos / GRAIN;
    uint32_t n;

    if (entries (l, grain, (end - 1) / GRAIN, tbl, &n) == -1)
      return -1;
    for (uint32_t i = 0; i < n && pos < end;) {
      enum gte_type t;
      uint64_t host = 0, next, to;
      uint32_t j = i + 1;

      if (gte_decode (l, grain + i, tbl[i], &t, &host) == -1)
        return -1;
      to = (grain + j) * GRAIN;
      if (t == GTE_ALLOCATED) {
        /* Grains stored one after another are read at once. */
        enum gte_type tj;
        while (j < n && to < end
               && gte_decode (l, grain + j, tbl[j], &tj, &next) == 0
               && tj == GTE_ALLOCATED
               && next == host + (uint64_t) (j - i) * GRAIN)
          to = (grain + ++j) * GRAIN;
      }
      if (to > end)
        to = end;
      if (t != GTE_ALLOCATED)
        memset (p + (pos - offset), 0, to - pos);
      else if (vmi_layer_pread (l->below, p + (pos - offset), to - pos,
                                host + (pos - (grain + i) * GRAIN)) == -1)
        return -1;
      pos = to;
      i = j;
    }
  }
  return 0;
}

/* One grain table's worth (or CHUNK grains) at a time, from metadata. */
static int
sesparse_extents (struct vmi_layer *l, uint64_t offset, uint64_t length,
                  struct vmi_extents *out)
{
  struct sesparse *s = l->priv;
  uint64_t grain = offset / GRAIN, end = offset + length, pos = offset;
  uint64_t tbl[CHUNK];
  uint32_t n;

  if (end > l->size)
    end = l->size;
  if (s->gd[grain / GTES] == 0) {
    uint64_t to = (grain / GTES + 1) * GT_SPAN;
    return vmi_extents_add (out, offset, (to < l->size ? to : l->size)
                            - offset, VMI_EXTENT_HOLE);
  }
  if (entries (l, grain, (end - 1) / GRAIN, tbl, &n) == -1)
    return -1;
  for (uint32_t i = 0; i < n; i++) {
    uint64_t to = (grain + i + 1) * GRAIN, host;
    enum gte_type t;
    if (to > l->size)
      to = l->size;
    if (gte_decode (l, grain + i, tbl[i], &t, &host) == -1
        || vmi_extents_add (out, pos, to - pos,
                            t == GTE_ALLOCATED ? VMI_EXTENT_DATA
                            : t == GTE_UNALLOCATED ? VMI_EXTENT_HOLE
                            : VMI_EXTENT_ZERO) == -1)
      return -1;
    pos = to;
  }
  return 0;
}

static void
sesparse_free (struct sesparse *s)
{
  if (s == NULL)
    return;
  for (int i = 0; i < GT_CACHE_SLOTS; i++)
    free (s->gt[i].e);
  free (s->gd);
  pthread_mutex_destroy (&s->lock);
  free (s);
}

static void
sesparse_close (struct vmi_layer *l)
{
  sesparse_free (l->priv);
}

static const struct vmi_layer_ops sesparse_ops = {
  .name = "vmdk-sesparse",
  .pread = sesparse_pread,
  .extents = sesparse_extents,
  .close = sesparse_close,
};

int
vmdk_sesparse_probe (const void *buf, size_t len)
{
  return len >= 8 && le64 (buf) == SE_CONST_MAGIC;
}

struct vmi_layer *
vmdk_sesparse_open (struct vmi_layer *file)
{
  unsigned char b[VMDK_SECTOR];
  struct sesparse *s;
  struct vmi_layer *l;
  uint64_t capacity = 0;

  if (file->size < sizeof b) {
    errno = EINVAL;
    vmi_error ("%s: truncated: %" PRIu64 " bytes, an seSparse header needs "
               "%d", file->name, file->size, VMDK_SECTOR);
    vmi_layer_close (file);
    return NULL;
  }
  if ((s = calloc (1, sizeof *s)) == NULL) {
    errno = ENOMEM;
    vmi_error ("%s: out of memory", file->name);
    vmi_layer_close (file);
    return NULL;
  }
  pthread_mutex_init (&s->lock, NULL);
  s->file_size = file->size;
  if (vmi_layer_pread (file, b, sizeof b, 0) == -1
      || check_const_header (file->name, b, &capacity, s->r) == -1
      || check_regions (file->name, s->r) == -1
      || check_volatile_header (file, &s->r[R_VOLATILE]) == -1)
    goto err;
  if (capacity == 0 || capacity > VMDK_MAX_SECTORS) {
    errno = EINVAL;
    vmi_error ("%s: seSparse capacity of %" PRIu64 " sectors is absurd",
               file->name, capacity);
    goto err;
  }
  if (read_gd (file, s, capacity * VMDK_SECTOR) == -1)
    goto err;
  l = vmi_layer_new (&sesparse_ops, s, capacity * VMDK_SECTOR, file->name,
                     file);
  if (l == NULL)                /* FILE is closed */
    sesparse_free (s);
  return l;
 err:
  sesparse_free (s);
  vmi_layer_close (file);
  return NULL;
}
