/* Internal to the OVA provider: what the OVF says about a disk's file that
 * vm.json has no field for.  Kept in vmi_disk.provider_data (one flat
 * allocation, freed with free()). */
#ifndef VMIMPORT_OVA_INTERNAL_H
#define VMIMPORT_OVA_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include "vmimport/layer.h"

struct ova_file_info {
  bool gzip;          /* ovf:compression="gzip" */
  bool chunked;       /* ovf:chunkSize: the file is split in pieces,
                         HREF.000000000, HREF.000000001, ... */
  uint64_t chunk_size; /* ovf:chunkSize: bytes of every piece but the last */
  int64_t size;       /* ovf:size of the file as stored (all its pieces);
                         -1 unknown */
};

/* Largest OVF / manifest we read into memory. */
#define OVA_MAX_DESCRIPTOR (32u << 20)

/* The uncompressed bytes of a gzip file, with a checkpoint index built as
 * it is first read (see gzip.c).  Takes ownership of FILE. */
struct vmi_layer *vmi_gzip_open (struct vmi_layer *file);
/* The same with a first INTERVAL and at most MAX_POINTS checkpoints
 * (vmi_gzip_open: 4 MiB, 256).  For tests of the index's bounds. */
struct vmi_layer *vmi_gzip_open_tuned (struct vmi_layer *file,
                                       uint64_t interval, size_t max_points);

/* What a gzip layer has cost so far (for tests: counted, not timed). */
struct vmi_gzip_stats {
  uint64_t inflated;   /* uncompressed bytes produced (incl. discarded) */
  uint64_t read;       /* compressed bytes read from below */
  uint64_t restarts;   /* times inflate restarted (at a checkpoint or 0) */
  uint64_t interval;   /* bytes of output between checkpoints, now */
  size_t points;       /* checkpoints kept */
};
int vmi_gzip_stats (struct vmi_layer *l, struct vmi_gzip_stats *out);

#endif
