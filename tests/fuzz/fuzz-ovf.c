/* Fuzz target: OVF XML into VM descriptions (every VirtualSystem), then that VM as vm.json
 * (every string from the document goes through the JSON writer). */
#include <stdlib.h>

#include "vmimport/ova.h"
#include "fuzz-common.h"

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  struct vmi_vm **vms;
  size_t n;

  /* Every VirtualSystem (collections, VirtualBox sections included). */
  if (vmi_ovf_parse_all ((const char *) data, size, "fuzz.ovf", &vms, &n) == 0) {
    for (size_t i = 0; i < n; i++) {
      free (vmi_vm_to_json (vms[i]));
      vmi_vm_free (vms[i]);
    }
    free (vms);
  }
  return 0;
}
