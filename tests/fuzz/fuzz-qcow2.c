/* Fuzz target: QCOW2 (header, header extensions, L1 and L2 tables,
 * compressed cluster descriptors, backing and data files), through the
 * production path: an in-memory layer, format detection, then a
 * whole-disk read.  A backing or data file is the input itself. */
#include "vmimport/formats.h"
#include "fuzz-common.h"

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  struct vmi_opener siblings;
  struct vmi_layer *l = vmi_memory_open (data, size, "fuzz.qcow2");

  fuzz_opener_init (&siblings, data, size);
  if (l && (l = vmi_format_open (l, &siblings, NULL)) != NULL)
    fuzz_read_layer (l);
  vmi_layer_close (l);
  return 0;
}
