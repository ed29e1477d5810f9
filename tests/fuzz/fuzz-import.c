/* Fuzz target: Harvester's VirtualMachineImport YAML, then the RFC 1123
 * name of what it names. */
#include <stdlib.h>
#include <string.h>

#include "vmimport/k8s.h"
#include "fuzz-common.h"

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  struct vmi_import_spec s;

  if (vmi_import_yaml_parse ((const char *) data, size, "fuzz.yaml", &s) == 0) {
    char *name = vmi_k8s_name (s.vm_name, VMI_K8S_NAME_MAX);
    if (name && !vmi_k8s_is_label (name))
      abort ();
    free (name);
    vmi_import_spec_clear (&s);
  }
  return 0;
}
