/* Fuzz target: OVF XML into a VM description, then that VM as vm.json
 * (every string from the document goes through the JSON writer). */
#include <stdlib.h>

#include "vmimport/ova.h"
#include "fuzz-common.h"

int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
  (void) argc; (void) argv;
  fuzz_init ();
  return 0;
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  struct vmi_vm *vm = vmi_ovf_parse ((const char *) data, size, "fuzz.ovf");

  if (vm) {
    free (vmi_vm_to_json (vm));
    vmi_vm_free (vm);
  }
  return 0;
}
