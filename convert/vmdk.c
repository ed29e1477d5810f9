/* VMDK -> raw.
 *
 * A VMDK is either one sparse file ("KDMV": monolithicSparse,
 * streamOptimized; "COWD") whose layer vmdk-sparse.c provides, or a
 * descriptor naming extents (FLAT/VMFS, SPARSE/VMFSSPARSE, ZERO) in other
 * files, which this layer puts end to end.  Extent files are opened through
 * the SIBLINGS opener, never directly; an extent file is never read as a
 * descriptor, so descriptors cannot nest or loop.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "vmimport/error.h"
#include "vmimport/formats.h"
#include "vmdk.h"

struct part {
  uint64_t start, size;         /* bytes of the virtual disk */
  struct vmi_layer *l;          /* NULL: a ZERO extent */
};

struct parts {
  size_t n;
  struct part p[];
};

int
vmi_vmdk_probe (const void *buf, size_t len)
{
  if (len >= 4 && (memcmp (buf, "KDMV", 4) == 0 || memcmp (buf, "COWD", 4) == 0))
    return 1;
  return vmdk_desc_probe (buf, len);
}

/* The part holding OFFSET (binary search; parts are in disk order). */
static const struct part *
find_part (const struct parts *ps, uint64_t offset)
{
  size_t lo = 0, hi = ps->n;

  while (hi - lo > 1) {
    size_t mid = lo + (hi - lo) / 2;
    if (ps->p[mid].start <= offset)
      lo = mid;
    else
      hi = mid;
  }
  return &ps->p[lo];
}

static int
parts_pread (struct vmi_layer *l, void *buf, size_t count, uint64_t offset)
{
  const struct parts *ps = l->priv;
  char *p = buf;

  while (count > 0) {
    const struct part *x = find_part (ps, offset);
    uint64_t rel = offset - x->start;
    size_t n = x->size - rel < count ? x->size - rel : count;

    if (x->l == NULL)
      memset (p, 0, n);
    else if (vmi_layer_pread (x->l, p, n, rel) == -1)
      return -1;
    p += n;
    offset += n;
    count -= n;
  }
  return 0;
}

static int
parts_extents (struct vmi_layer *l, uint64_t offset, uint64_t length,
               struct vmi_extents *out)
{
  const struct parts *ps = l->priv;
  const struct part *x = find_part (ps, offset);
  uint64_t rel = offset - x->start;
  struct vmi_extents e = { 0 };
  int r;

  if (x->l == NULL)
    return vmi_extents_add (out, offset, x->size - rel, VMI_EXTENT_ZERO);
  r = vmi_layer_extents (x->l, rel, length, &e);
  for (size_t i = 0; r == 0 && i < e.n; i++)
    r = vmi_extents_add (out, x->start + e.v[i].offset, e.v[i].length,
                         e.v[i].type);
  vmi_extents_free (&e);
  return r;
}

static void
parts_free (struct parts *ps)
{
  if (ps == NULL)
    return;
  for (size_t i = 0; i < ps->n; i++)
    vmi_layer_close (ps->p[i].l);
  free (ps);
}

static void
parts_close (struct vmi_layer *l)
{
  parts_free (l->priv);
}

static const struct vmi_layer_ops vmdk_ops = {
  .name = "vmdk",
  .pread = parts_pread,
  .extents = parts_extents,
  .close = parts_close,
};

static int
supported_create_type (const char *name, const char *t)
{
  static const char *ok[] = {
    "monolithicSparse", "monolithicFlat", "twoGbMaxExtentSparse",
    "twoGbMaxExtentFlat", "streamOptimized", "vmfs", "vmfsThin",
    "vmfsSparse", "vmfsPreallocated", "vmfsEagerZeroedThick", "custom",
  };
  static const char *devices[] = {
    "vmfsRaw", "vmfsRDM", "vmfsRDMP", "vmfsPassthroughRawDeviceMap",
    "fullDevice", "partitionedDevice",
  };

  if (t == NULL) {
    errno = EINVAL;
    vmi_error ("%s: descriptor has no createType", name);
    return 0;
  }
  for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++)
    if (!strcmp (t, ok[i]))
      return 1;
  errno = ENOTSUP;
  for (size_t i = 0; i < sizeof devices / sizeof devices[0]; i++)
    if (!strcmp (t, devices[i])) {
      vmi_error ("%s: createType \"%s\" maps a raw device, which cannot be "
                 "read from here", name, t);
      return 0;
    }
  vmi_error ("%s: unsupported createType \"%.64s\"", name, t);
  return 0;
}

static int
refuse_delta (const char *name, const struct vmdk_desc *d)
{
  if (!d->has_parent)
    return 0;
  errno = ENOTSUP;
  vmi_error ("%s: is a delta disk (snapshot) of parent \"%.200s\"; reading "
             "delta disks is not supported", name,
             d->parent_hint ? d->parent_hint : "?");
  return -1;
}

/* Open one extent of a descriptor as a layer of exactly its size. */
static struct vmi_layer *
open_extent (const char *desc_name, const struct vmdk_desc_extent *e,
             const struct vmi_opener *siblings)
{
  struct vmi_layer *f, *l;
  unsigned char head[VMDK_SECTOR];
  uint64_t want = e->sectors * VMDK_SECTOR, at = e->offset * VMDK_SECTOR;
  size_t n;

  if (siblings == NULL) {
    errno = ENOENT;
    vmi_error ("%s: descriptor line %d names extent \"%s\", but files beside "
               "this image cannot be opened", desc_name, e->line, e->file);
    return NULL;
  }
  f = siblings->open (siblings, e->file);
  if (f == NULL) {
    vmi_error_prefix ("%s: extent \"%s\" (descriptor line %d)", desc_name,
                      e->file, e->line);
    return NULL;
  }
  /* An extent is data or a sparse extent, never another descriptor: this is
   * what keeps a descriptor naming itself (or a loop of them) from
   * recursing. */
  if (e->kind != VMDK_EXTENT_FLAT)
    at = 0;
  n = at < f->size ? f->size - at : 0;
  if (n > sizeof head)
    n = sizeof head;
  if (vmi_layer_pread (f, head, n, at) == -1)
    goto err;
  if (vmdk_desc_probe (head, n)) {
    errno = EINVAL;
    vmi_error ("%s: extent \"%s\" (descriptor line %d) is itself a VMDK "
               "descriptor; descriptors do not nest", desc_name, f->name,
               e->line);
    goto err;
  }
  if (e->kind == VMDK_EXTENT_FLAT) {
    if (vmi_vmdk_probe (head, n)) {
      errno = EINVAL;
      vmi_error ("%s: flat extent \"%s\" (descriptor line %d) holds a sparse "
                 "VMDK header, not raw data", desc_name, f->name, e->line);
      goto err;
    }
    if (at > f->size || want > f->size - at) {
      errno = EINVAL;
      vmi_error ("%s: flat extent \"%s\" is %" PRIu64 " bytes, the descriptor "
                 "(line %d) needs %" PRIu64 " (offset %" PRIu64 " + %" PRIu64
                 ")", desc_name, f->name, f->size, e->line, at + want, at, want);
      goto err;
    }
    return vmi_slice_open (f, at, want, f->name);
  }
  l = vmdk_sparse_open (f, NULL, NULL);
  if (l && l->size != want) {
    errno = EINVAL;
    vmi_error ("%s: descriptor line %d gives extent \"%s\" %" PRIu64
               " sectors, its header says %" PRIu64, desc_name, e->line,
               l->name, e->sectors, l->size / VMDK_SECTOR);
    vmi_layer_close (l);
    return NULL;
  }
  return l;
 err:
  vmi_layer_close (f);
  return NULL;
}

static struct vmi_layer *
open_descriptor (struct vmi_layer *file, const struct vmi_opener *siblings)
{
  struct vmdk_desc d;
  struct parts *ps = NULL;
  struct vmi_layer *l = NULL;
  char *text = NULL;
  uint64_t pos = 0;

  if (file->size > VMDK_MAX_DESCRIPTOR) {
    errno = EINVAL;
    vmi_error ("%s: %" PRIu64 " bytes is too large for a VMDK descriptor "
               "(limit %u)", file->name, file->size, VMDK_MAX_DESCRIPTOR);
    vmi_layer_close (file);
    return NULL;
  }
  if ((text = malloc (file->size + 1)) == NULL) {
    errno = ENOMEM;
    vmi_error ("%s: out of memory", file->name);
    vmi_layer_close (file);
    return NULL;
  }
  if (vmi_layer_pread (file, text, file->size, 0) == -1
      || vmdk_desc_parse (text, file->size, file->name, &d) == -1) {
    free (text);
    vmi_layer_close (file);
    return NULL;
  }
  free (text);
  if (!supported_create_type (file->name, d.create_type)
      || refuse_delta (file->name, &d) == -1)
    goto out;
  if (d.n == 0) {
    errno = EINVAL;
    vmi_error ("%s: descriptor names no extents", file->name);
    goto out;
  }
  if ((ps = calloc (1, sizeof *ps + d.n * sizeof ps->p[0])) == NULL) {
    errno = ENOMEM;
    vmi_error ("%s: out of memory", file->name);
    goto out;
  }
  for (size_t i = 0; i < d.n; i++) {
    struct part *x = &ps->p[i];
    x->start = pos;
    x->size = d.ext[i].sectors * VMDK_SECTOR;
    pos += x->size;
    ps->n = i + 1;
    if (d.ext[i].kind != VMDK_EXTENT_ZERO
        && (x->l = open_extent (file->name, &d.ext[i], siblings)) == NULL)
      goto out;
  }
  if ((l = vmi_layer_new (&vmdk_ops, ps, pos, file->name, NULL)) != NULL)
    ps = NULL;
 out:
  if (l == NULL)
    parts_free (ps);
  vmdk_desc_free (&d);
  vmi_layer_close (file);
  return l;
}

/* monolithicSparse, streamOptimized: the header is authoritative; the
 * embedded descriptor is only read to refuse delta disks. */
static struct vmi_layer *
open_sparse_disk (struct vmi_layer *file)
{
  uint64_t off = 0, size = 0;
  struct vmi_layer *l = vmdk_sparse_open (file, &off, &size);
  struct vmi_layer *f = l ? l->below : NULL;
  struct vmdk_desc d;
  char *text;

  if (l == NULL || off == 0 || size == 0 || off >= f->size)
    return l;
  if (size > VMDK_MAX_DESCRIPTOR)
    size = VMDK_MAX_DESCRIPTOR;
  if (size > f->size - off)
    size = f->size - off;
  if ((text = malloc (size)) == NULL) {
    errno = ENOMEM;
    vmi_error ("%s: out of memory", l->name);
    vmi_layer_close (l);
    return NULL;
  }
  if (vmi_layer_pread (f, text, size, off) == -1) {
    free (text);
    vmi_layer_close (l);
    return NULL;
  }
  /* A damaged embedded descriptor does not matter to the data. */
  if (vmdk_desc_parse (text, size, l->name, &d) == 0) {
    int delta = refuse_delta (l->name, &d);
    vmdk_desc_free (&d);
    if (delta == -1) {
      free (text);
      vmi_layer_close (l);
      return NULL;
    }
  }
  free (text);
  return l;
}

struct vmi_layer *
vmi_vmdk_open (struct vmi_layer *file, const struct vmi_opener *siblings)
{
  unsigned char head[4] = { 0 };

  if (file->size >= 4 && vmi_layer_pread (file, head, 4, 0) == -1) {
    vmi_layer_close (file);
    return NULL;
  }
  if (memcmp (head, "KDMV", 4) == 0 || memcmp (head, "COWD", 4) == 0)
    return open_sparse_disk (file);
  return open_descriptor (file, siblings);
}
