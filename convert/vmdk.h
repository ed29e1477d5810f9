/* VMDK internals shared by convert/vmdk*.c (not a public header).
 *
 *   vmdk.c             probe, open, the layer over a descriptor's extents
 *   vmdk-descriptor.c  the descriptor text ("# Disk DescriptorFile")
 *   vmdk-sparse.c      one sparse extent ("KDMV" hosted sparse, "COWD")
 *   vmdk-sesparse.c    one seSparse extent (VMFS6 snapshot deltas)
 */
#ifndef VMIMPORT_CONVERT_VMDK_H
#define VMIMPORT_CONVERT_VMDK_H

#include <stddef.h>
#include <stdint.h>

#include "vmimport/layer.h"

#define VMDK_SECTOR 512
/* More than 2^50 bytes (1 PiB) is not a disk, it is a corrupt header. */
#define VMDK_MAX_SECTORS (UINT64_C (1) << 41)
/* A descriptor is a few hundred bytes; twoGbMaxExtent* of 62 TiB needs
 * ~32000 lines. */
#define VMDK_MAX_DESCRIPTOR (1u << 20)
#define VMDK_MAX_EXTENTS 65536

enum vmdk_extent_kind {
  VMDK_EXTENT_FLAT,        /* FLAT, VMFS: raw bytes at an offset */
  VMDK_EXTENT_SPARSE,      /* SPARSE, VMFSSPARSE: a sparse extent file */
  VMDK_EXTENT_SESPARSE,    /* SESPARSE: an seSparse extent file */
  VMDK_EXTENT_ZERO,        /* ZERO: no file, reads as zeros */
};

struct vmdk_desc_extent {
  enum vmdk_extent_kind kind;
  uint64_t sectors;
  uint64_t offset;         /* FLAT: start in the file, in sectors */
  char *file;              /* NULL for ZERO */
  int line;
};

struct vmdk_desc {
  char *create_type;       /* NULL if absent */
  char *parent_hint;       /* parentFileNameHint, NULL if absent */
  int has_parent;          /* parentCID present and not ffffffff */
  int has_cid;             /* CID present and valid hex */
  uint32_t cid;            /* CID: changes whenever the disk is written */
  uint32_t parent_cid;     /* parentCID: the parent's CID when this delta
                              was made */
  struct vmdk_desc_extent *ext;
  size_t n;
  uint64_t total_sectors;
};

/* Parse descriptor TEXT (LEN bytes; stops at a NUL).  NAME is for
 * messages.  Returns 0, or -1 with errno and vmi_error set. */
int vmdk_desc_parse (const char *text, size_t len, const char *name,
                     struct vmdk_desc *d);
void vmdk_desc_free (struct vmdk_desc *d);

/* 1 if BUF starts with a descriptor's text (comments, blank lines, then
 * "version="). */
int vmdk_desc_probe (const void *buf, size_t len);

/* A sparse extent ("KDMV" or "COWD" magic) as a layer of its capacity.
 * Takes FILE in every case.  *DESC_OFFSET / *DESC_SIZE (bytes, may be NULL)
 * get the embedded descriptor's place (0 if none). */
struct vmi_layer *vmdk_sparse_open (struct vmi_layer *file,
                                    uint64_t *desc_offset,
                                    uint64_t *desc_size);

/* An seSparse extent as a layer of its capacity; unallocated grains are
 * holes.  Takes FILE in every case. */
struct vmi_layer *vmdk_sesparse_open (struct vmi_layer *file);

/* 1 if BUF starts with an seSparse constant header's magic. */
int vmdk_sesparse_probe (const void *buf, size_t len);

/* Grains inflated so far by a sparse layer (for tests: a compressed grain
 * is inflated once, then served from the layer's grain cache). */
uint64_t vmdk_sparse_inflations (struct vmi_layer *l);

#endif
