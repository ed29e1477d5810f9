/* Shared by the fuzz targets: read a layer the way a copy does, and open
 * "sibling" files from the fuzzer's own input. */
#ifndef VMIMPORT_FUZZ_COMMON_H
#define VMIMPORT_FUZZ_COMMON_H

#include <stddef.h>
#include <stdint.h>

#include "vmimport/layer.h"

/* The libFuzzer entry points: every target defines the first;
 * fuzz-common.c the second for all (quiet logging). */
int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);
int LLVMFuzzerInitialize (int *argc, char ***argv);

/* Walk the extents of L and read them (all of a small disk, a bounded
 * budget of a large one), plus a few unaligned reads.  Aborts if an
 * extent that must read as zeros does not, or if the layer breaks its
 * contract (extents not covering the request). */
void fuzz_read_layer (struct vmi_layer *l);

/* An opener whose every file is DATA[0..SIZE) again: a VMDK descriptor's
 * extents, a QCOW2 backing or data file.  Stops after a few hundred opens
 * so that a parser without a depth limit shows up as a finding, not a
 * hang. */
void fuzz_opener_init (struct vmi_opener *o, const uint8_t *data, size_t size);

#endif
