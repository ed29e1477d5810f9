/* Fuzz target: an seSparse extent (constant and volatile headers, regions,
 * grain directory, grain tables and their entry types), opened as the
 * VMDK layer opens one and read whole the way a copy does. */
#include "vmimport/formats.h"
#include "../../convert/vmdk.h"
#include "fuzz-common.h"

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  struct vmi_layer *l = vmi_memory_open (data, size, "fuzz-sesparse.vmdk");

  if (l && (l = vmdk_sesparse_open (l)) != NULL)
    fuzz_read_layer (l);
  vmi_layer_close (l);
  return 0;
}
