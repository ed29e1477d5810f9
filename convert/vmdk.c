/* VMDK -> raw.
 *
 * A VMDK is either one sparse file ("KDMV": monolithicSparse,
 * streamOptimized; "COWD") whose layer vmdk-sparse.c provides, or a
 * descriptor naming extents (FLAT/VMFS, SPARSE/VMFSSPARSE, ZERO) in other
 * files, which this layer puts end to end (an SESPARSE extent's layer is
 * vmdk-sesparse.c's).  Extent files are opened through
 * the SIBLINGS opener, never directly; an extent file is never read as a
 * descriptor, so descriptors cannot nest or loop.
 *
 * A delta disk (snapshot) has a parentCID other than ffffffff and names its
 * parent in parentFileNameHint, relative to its own folder.  The parent is
 * a VMDK opened the same way (through the same opener, so the provider's
 * rules apply), and the delta's unallocated grains read from it.  As VMware
 * and qemu, the parent's CID must equal the delta's parentCID: if not, the
 * parent was written after the snapshot and the chain is refused.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "vmimport/error.h"
#include "vmimport/formats.h"
#include "chain.h"
#include "vmdk.h"

struct part {
  uint64_t start, size;         /* bytes of the virtual disk */
  struct vmi_layer *l;          /* NULL: a ZERO extent */
  int sparse;                   /* its unallocated grains are the parent's */
};

struct parts {
  struct vmi_layer *parent;     /* owned; NULL unless a delta disk */
  size_t n;
  struct part p[];
};

int
vmi_vmdk_probe (const void *buf, size_t len)
{
  if (len >= 4 && (memcmp (buf, "KDMV", 4) == 0 || memcmp (buf, "COWD", 4) == 0))
    return 1;
  if (vmdk_sesparse_probe (buf, len))   /* refused at open, with a reason */
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

/* The parent's bytes; past its end (a smaller parent), zeros as qemu. */
static int
parent_pread (struct vmi_layer *parent, char *buf, uint64_t n, uint64_t off)
{
  uint64_t avail = off < parent->size ? parent->size - off : 0;

  if (avail > n)
    avail = n;
  if (avail && vmi_layer_pread (parent, buf, avail, off) == -1)
    return -1;
  memset (buf + avail, 0, n - avail);
  return 0;
}

/* A delta's sparse extent: where it is unallocated (a hole), the parent. */
static int
delta_pread (const struct parts *ps, const struct part *x, char *buf,
             size_t count, uint64_t rel)
{
  struct vmi_extents e = { 0 };
  int r = vmi_layer_extents (x->l, rel, count, &e);

  for (size_t i = 0; r == 0 && i < e.n; i++) {
    const struct vmi_extent *v = &e.v[i];
    char *dst = buf + (v->offset - rel);
    if (v->type == VMI_EXTENT_HOLE)
      r = parent_pread (ps->parent, dst, v->length, x->start + v->offset);
    else if (v->type == VMI_EXTENT_ZERO)
      memset (dst, 0, v->length);
    else
      r = vmi_layer_pread (x->l, dst, v->length, v->offset);
  }
  vmi_extents_free (&e);
  return r;
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
    else if (ps->parent && x->sparse) {
      if (delta_pread (ps, x, p, n, rel) == -1)
        return -1;
    }
    else if (vmi_layer_pread (x->l, p, n, rel) == -1)
      return -1;
    p += n;
    offset += n;
    count -= n;
  }
  return 0;
}

/* The parent's map of [OFF, OFF+LEN); holes past its end. */
static int
parent_extents (struct vmi_layer *parent, uint64_t off, uint64_t len,
                struct vmi_extents *out)
{
  struct vmi_extents e = { 0 };
  uint64_t part = off < parent->size ? parent->size - off : 0;
  int r = 0;

  if (part > len)
    part = len;
  if (part)
    r = vmi_layer_extents (parent, off, part, &e);
  for (size_t i = 0; r == 0 && i < e.n; i++)
    r = vmi_extents_add (out, e.v[i].offset, e.v[i].length, e.v[i].type);
  vmi_extents_free (&e);
  if (r == 0 && part < len)
    r = vmi_extents_add (out, off + part, len - part, VMI_EXTENT_HOLE);
  return r;
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
  if (length > x->size - rel)
    length = x->size - rel;
  r = vmi_layer_extents (x->l, rel, length, &e);
  for (size_t i = 0; r == 0 && i < e.n; i++) {
    uint64_t off = x->start + e.v[i].offset, len = e.v[i].length;
    if (e.v[i].type != VMI_EXTENT_HOLE || ps->parent == NULL)
      r = vmi_extents_add (out, off, len, e.v[i].type);
    else if (x->sparse)
      r = parent_extents (ps->parent, off, len, out);
    else                        /* a flat extent's holes are its own zeros */
      r = vmi_extents_add (out, off, len, VMI_EXTENT_ZERO);
  }
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
  vmi_layer_close (ps->parent);
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
    "seSparse",
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

static struct vmi_layer *open_image (struct vmi_layer *file,
                                     const struct vmi_opener *siblings,
                                     int *has_cid, uint32_t *cid);

/* The parent of delta disk NAME (descriptor D), a VMDK beside it whose CID
 * must be D's parentCID. */
static struct vmi_layer *
open_parent (const char *name, const struct vmdk_desc *d,
             const struct vmi_opener *siblings)
{
  struct vmi_chain_link link;
  struct vmi_layer *f, *p = NULL;
  unsigned char head[VMDK_SECTOR];
  uint32_t cid = 0;
  int has_cid = 0;
  size_t n;

  if (d->parent_hint == NULL || d->parent_hint[0] == '\0') {
    errno = EINVAL;
    vmi_error ("%s: is a delta disk (parentCID %08" PRIx32 ") but names no "
               "parent (no parentFileNameHint)", name, d->parent_cid);
    return NULL;
  }
  if ((f = vmi_chain_enter (&link, name, d->parent_hint, siblings)) == NULL)
    return NULL;
  n = f->size < sizeof head ? f->size : sizeof head;
  if (vmi_layer_pread (f, head, n, 0) == -1)
    vmi_layer_close (f);
  else if (!vmi_vmdk_probe (head, n)) {
    errno = EINVAL;
    vmi_error ("%s: parent \"%s\" is not a VMDK (no sparse magic, no "
               "descriptor)", name, f->name);
    vmi_layer_close (f);
  }
  else if ((p = open_image (f, &link.o, &has_cid, &cid)) == NULL)
    vmi_error_prefix ("%s: parent \"%s\"", name, d->parent_hint);
  vmi_chain_leave (&link);
  if (p == NULL)
    return NULL;
  if (!has_cid) {
    errno = EINVAL;
    vmi_error ("%s: parent \"%s\" has no CID to check against this delta's "
               "parentCID %08" PRIx32, name, d->parent_hint, d->parent_cid);
    vmi_layer_close (p);
    return NULL;
  }
  if (cid != d->parent_cid) {
    errno = EINVAL;
    vmi_error ("%s: parentCID %08" PRIx32 " does not match CID %08" PRIx32
               " of parent \"%s\": the parent changed after this delta was "
               "made", name, d->parent_cid, cid, d->parent_hint);
    vmi_layer_close (p);
    return NULL;
  }
  return p;
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
  if (e->kind == VMDK_EXTENT_SESPARSE) {
    if (!vmdk_sesparse_probe (head, n)) {
      errno = EINVAL;
      vmi_error ("%s: seSparse extent \"%s\" (descriptor line %d) has no "
                 "seSparse header", desc_name, f->name, e->line);
      goto err;
    }
    l = vmdk_sesparse_open (f);
  }
  else
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
open_descriptor (struct vmi_layer *file, const struct vmi_opener *siblings,
                 int *has_cid, uint32_t *cid)
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
  *has_cid = d.has_cid;
  *cid = d.cid;
  if (!supported_create_type (file->name, d.create_type))
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
    x->sparse = d.ext[i].kind == VMDK_EXTENT_SPARSE
      || d.ext[i].kind == VMDK_EXTENT_SESPARSE;
    pos += x->size;
    ps->n = i + 1;
    if (d.ext[i].kind != VMDK_EXTENT_ZERO
        && (x->l = open_extent (file->name, &d.ext[i], siblings)) == NULL)
      goto out;
  }
  if (d.has_parent
      && (ps->parent = open_parent (file->name, &d, siblings)) == NULL)
    goto out;
  if ((l = vmi_layer_new (&vmdk_ops, ps, pos, file->name, NULL)) != NULL)
    ps = NULL;
 out:
  if (l == NULL)
    parts_free (ps);
  vmdk_desc_free (&d);
  vmi_layer_close (file);
  return l;
}

/* A sparse disk L that is a delta: one sparse part over PARENT. */
static struct vmi_layer *
sparse_delta (struct vmi_layer *l, struct vmi_layer *parent)
{
  struct parts *ps = calloc (1, sizeof *ps + sizeof ps->p[0]);
  struct vmi_layer *d;

  if (ps == NULL) {
    errno = ENOMEM;
    vmi_error ("%s: out of memory", l->name);
    vmi_layer_close (l);
    vmi_layer_close (parent);
    return NULL;
  }
  ps->parent = parent;
  ps->n = 1;
  ps->p[0] = (struct part) { 0, l->size, l, 1 };
  if ((d = vmi_layer_new (&vmdk_ops, ps, l->size, l->name, NULL)) == NULL)
    parts_free (ps);
  return d;
}

/* monolithicSparse, streamOptimized: the header is authoritative for the
 * data; the embedded descriptor gives the CID and the parent of a delta. */
static struct vmi_layer *
open_sparse_disk (struct vmi_layer *file, const struct vmi_opener *siblings,
                  int *has_cid, uint32_t *cid)
{
  uint64_t off = 0, size = 0;
  struct vmi_layer *l = vmdk_sparse_open (file, &off, &size);
  struct vmi_layer *f = l ? l->below : NULL, *parent = NULL;
  struct vmdk_desc d;
  char *text;
  int r;

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
  r = vmi_layer_pread (f, text, size, off);
  /* A damaged embedded descriptor does not matter to the data. */
  if (r == 0 && vmdk_desc_parse (text, size, l->name, &d) == 0) {
    *has_cid = d.has_cid;
    *cid = d.cid;
    if (d.has_parent
        && (parent = open_parent (l->name, &d, siblings)) == NULL)
      r = -1;
    vmdk_desc_free (&d);
  }
  free (text);
  if (r == -1) {
    vmi_layer_close (l);
    return NULL;
  }
  return parent ? sparse_delta (l, parent) : l;
}

static struct vmi_layer *
open_image (struct vmi_layer *file, const struct vmi_opener *siblings,
            int *has_cid, uint32_t *cid)
{
  unsigned char head[8] = { 0 };

  *has_cid = 0;
  if (file->size >= 8 && vmi_layer_pread (file, head, 8, 0) == -1) {
    vmi_layer_close (file);
    return NULL;
  }
  if (memcmp (head, "KDMV", 4) == 0 || memcmp (head, "COWD", 4) == 0)
    return open_sparse_disk (file, siblings, has_cid, cid);
  if (vmdk_sesparse_probe (head, sizeof head)) {
    /* Capacity alone; the descriptor holds its parent. */
    errno = EINVAL;
    vmi_error ("%s: is an seSparse extent, not a disk: open the descriptor "
               "that names it (NAME.vmdk beside NAME-sesparse.vmdk)",
               file->name);
    vmi_layer_close (file);
    return NULL;
  }
  return open_descriptor (file, siblings, has_cid, cid);
}

struct vmi_layer *
vmi_vmdk_open (struct vmi_layer *file, const struct vmi_opener *siblings)
{
  uint32_t cid;
  int has_cid;

  return open_image (file, siblings, &has_cid, &cid);
}
