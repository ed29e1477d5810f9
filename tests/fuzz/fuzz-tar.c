/* Fuzz target: tar headers (ustar, GNU long names, pax), as an OVA is
 * opened: find members by name in an in-memory archive, stack the format
 * layers on each, read it whole. */
#include "vmimport/formats.h"
#include "vmimport/transport.h"
#include "fuzz-common.h"

/* The names the seed archives use (see make-seeds.sh). */
static const char long_name[] =
  "a-very-long-directory-name-to-need-a-gnu-or-pax-header/"
  "and-a-long-file-name-as-well-past-one-hundred-bytes-disk3.vmdk";
static const char *const members[] = {
  "vm.ovf", "vm.mf", "disk1.vmdk", "sub/disk2.qcow2", long_name,
};

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  struct vmi_layer *archive = vmi_memory_open (data, size, "fuzz.ova");

  if (archive == NULL)
    return 0;
  for (size_t i = 0; i < sizeof members / sizeof members[0]; i++) {
    struct vmi_layer *m = vmi_tar_open_member (archive, members[i]);
    if (m && (m = vmi_format_open (m, NULL, NULL)) != NULL)
      fuzz_read_layer (m);
    vmi_layer_close (m);
  }
  vmi_layer_close (archive);
  return 0;
}
