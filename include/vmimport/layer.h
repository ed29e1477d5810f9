/* vmimport: the layer interface.
 *
 * Every read goes through a layer: transport -> tar member -> VMDK/QCOW2 ->
 * cache -> FUSE file.  A layer has a fixed size, a thread-safe pread, an
 * extents map (data / reads-as-zero / hole) and a close.  Layers stack: a
 * layer usually owns the one below it and closes it when it is closed.
 *
 * Conventions (as libnbd and nbdkit):
 *   - functions returning int give 0 on success, -1 on error with errno set
 *     and one message recorded with vmi_error() (see error.h);
 *   - pread never returns short: all COUNT bytes, or -1;
 *   - a function whose name ends in _open or _new returns an object you own;
 *     _close / _free takes it back.
 */
#ifndef VMIMPORT_LAYER_H
#define VMIMPORT_LAYER_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

enum vmi_extent_type {
  VMI_EXTENT_DATA = 0, /* allocated; may hold non-zero bytes */
  VMI_EXTENT_ZERO = 1, /* allocated or explicitly zeroed; reads as zeros */
  VMI_EXTENT_HOLE = 2, /* unallocated; reads as zeros */
};

struct vmi_extent {
  uint64_t offset;
  uint64_t length;
  enum vmi_extent_type type;
};

/* A growable list of contiguous extents. */
struct vmi_extents {
  struct vmi_extent *v;
  size_t n, cap;
};

struct vmi_layer;

struct vmi_layer_ops {
  const char *name; /* "file", "vmdk", "qcow2", "cache", "http", ... */

  /* Read COUNT bytes at OFFSET.  The caller guarantees
   * OFFSET + COUNT <= layer size.  Must be safe to call from many threads
   * at once.  Returns 0 or -1 (errno set, vmi_error recorded). */
  int (*pread)(struct vmi_layer *l, void *buf, size_t count, uint64_t offset);

  /* Append to OUT extents describing the range starting exactly at OFFSET.
   * They must be contiguous and start at OFFSET; they may stop before
   * OFFSET + LENGTH (the caller asks again) and may run past it (the caller
   * clips).  NULL means "all data".  Thread-safe.  Returns 0 or -1. */
  int (*extents)(struct vmi_layer *l, uint64_t offset, uint64_t length,
                 struct vmi_extents *out);

  /* Free private data.  The generic code then closes l->below. */
  void (*close)(struct vmi_layer *l);
};

struct vmi_layer {
  const struct vmi_layer_ops *ops;
  void *priv;               /* the layer's own state */
  uint64_t size;            /* virtual size in bytes, fixed at open */
  char *name;               /* for messages: a file name or URL, never a secret */
  struct vmi_layer *below;  /* owned lower layer, closed with this one; may be NULL */
  int refs;                 /* see vmi_layer_ref; starts at 1 */
};

/* Make a layer.  Takes ownership of BELOW (may be NULL).  NAME is copied.
 * On failure returns NULL and closes BELOW. */
struct vmi_layer *vmi_layer_new(const struct vmi_layer_ops *ops, void *priv,
                                uint64_t size, const char *name,
                                struct vmi_layer *below);

/* Checked entry points; use these, not the ops directly. */
int vmi_layer_pread(struct vmi_layer *l, void *buf, size_t count,
                    uint64_t offset);

/* Fill OUT (which is cleared first) with extents covering
 * [OFFSET, OFFSET+LENGTH) exactly (clipped to the layer's size), adjacent
 * extents of one type merged. */
int vmi_layer_extents(struct vmi_layer *l, uint64_t offset, uint64_t length,
                      struct vmi_extents *out);

/* An ops->extents for layers that keep the map of the layer below
 * unchanged (caches, counters): asks l->below. */
int vmi_layer_extents_below(struct vmi_layer *l, uint64_t offset,
                            uint64_t length, struct vmi_extents *out);

/* Bytes of the virtual disk that are DATA (what a sparse copy transfers).
 * Walks the extents of the whole disk: cheap for format layers, which answer
 * from metadata.  Returns -1 on error. */
int64_t vmi_layer_allocated(struct vmi_layer *l);

/* Closes L and everything below it.  NULL is fine.  A layer shared with
 * vmi_layer_ref is closed when its last holder closes it. */
void vmi_layer_close(struct vmi_layer *l);

/* Take another reference to L (several tar members over one archive
 * transport, several disks over one NBD connection).  Returns L. */
struct vmi_layer *vmi_layer_ref(struct vmi_layer *l);

/* Extent lists. */
int vmi_extents_add(struct vmi_extents *e, uint64_t offset, uint64_t length,
                    enum vmi_extent_type type);
void vmi_extents_clear(struct vmi_extents *e);
void vmi_extents_free(struct vmi_extents *e);

/* Opening files that sit beside an image (a VMDK descriptor's extents, a
 * QCOW2 backing file, an OVF's disks).  The provider that opened the image
 * knows what "beside" means: the same folder, the same URL directory, the
 * same tar archive.  Returns a new layer (raw bytes of that file) or NULL
 * with errno set and an error recorded. */
struct vmi_opener {
  struct vmi_layer *(*open)(const struct vmi_opener *o, const char *relpath);
  void *opaque;
};

#ifdef __cplusplus
}
#endif
#endif
