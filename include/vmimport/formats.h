/* vmimport: layers provided by this project (constructors).
 *
 * Format openers take ownership of FILE in every case: on failure it is
 * closed.  SIBLINGS opens files next to the image (descriptor extents,
 * backing files); may be NULL when there are none to open. */
#ifndef VMIMPORT_FORMATS_H
#define VMIMPORT_FORMATS_H

#include <stddef.h>
#include <stdint.h>

#include "vmimport/layer.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Local file (or block device): pread(2), SEEK_DATA/SEEK_HOLE extents. */
struct vmi_layer *vmi_file_open(const char *path);
/* Does an open file layer read the file or device open as FD (the same
 * inode, the same device, a loop device over it or the file behind one)?
 * 1 with the layer's name in NAME, else 0. */
int vmi_file_is_open(int fd, char *name, size_t len);
/* Before writing the file open as FD: fail with EBUSY when another open
 * file (another program's, or ours) holds it for reading without sharing
 * write, or for writing; else take the locks of a writer.  0 or -1. */
int vmi_file_lock_writer(int fd);

/* In-memory bytes (not copied; must outlive the layer).  For tests and fuzz
 * targets. */
struct vmi_layer *vmi_memory_open(const void *data, uint64_t size,
                                  const char *name);

/* A window [OFFSET, OFFSET+SIZE) of BELOW (tar members, flat extents). */
struct vmi_layer *vmi_slice_open(struct vmi_layer *below, uint64_t offset,
                                 uint64_t size, const char *name);

/* N pieces read as one file (ovftool's chunked files), piece I of
 * SIZES[I] bytes, opened by OPEN (OPAQUE, I) at the first read that needs
 * it and then kept.  FREE_OPAQUE (may be NULL) frees OPAQUE when the layer
 * is closed, or at once on failure. */
typedef struct vmi_layer *(*vmi_concat_piece_fn)(void *opaque, size_t i);
struct vmi_layer *vmi_concat_open(size_t n, const uint64_t *sizes,
                                  vmi_concat_piece_fn open, void *opaque,
                                  void (*free_opaque)(void *),
                                  const char *name);

/* Block cache with bounded memory (CAPACITY bytes, blocks of BLOCK_SIZE,
 * a power of two).  Passes extents through. */
struct vmi_layer *vmi_cache_open(struct vmi_layer *below, uint64_t capacity,
                                 uint32_t block_size);

/* Detect the format of FILE by content (not by name) and stack the right
 * layer: VMDK (sparse magic or descriptor text), QCOW2, else raw (FILE
 * itself).  *FORMAT_OUT (may be NULL) gets "vmdk", "qcow2" or "raw". */
struct vmi_layer *vmi_format_open(struct vmi_layer *file,
                                  const struct vmi_opener *siblings,
                                  const char **format_out);

struct vmi_layer *vmi_vmdk_open(struct vmi_layer *file,
                                const struct vmi_opener *siblings);
struct vmi_layer *vmi_qcow2_open(struct vmi_layer *file,
                                 const struct vmi_opener *siblings);

/* Probes used by vmi_format_open: 1 if the first bytes (LEN of them) look
 * like the format. */
int vmi_vmdk_probe(const void *buf, size_t len);
int vmi_qcow2_probe(const void *buf, size_t len);

#ifdef __cplusplus
}
#endif
#endif
