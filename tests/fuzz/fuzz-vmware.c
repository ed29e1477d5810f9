/* Fuzz target: a vSphere SOAP response (RetrievePropertiesEx of the VMs,
 * their folders and port groups, or a fault) into VM descriptions, then
 * vm.json.  What a vCenter (or anything answering on its address) sends. */
#include <stdlib.h>

#include "vmimport/provider.h"
#include "vmware-internal.h"
#include "fuzz-common.h"

static const struct vmi_provider_ops ops = { .name = "fuzz" };

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  struct vmi_provider *p = vmi_provider_new (&ops, NULL, NULL);

  if (p == NULL)
    return 0;
  vmi_vmw_inventory_parse ((const char *) data, size, p, "group-v3");
  for (size_t i = 0; i < p->nvms; i++) {
    free (vmi_vm_to_json (p->vms[i]));
    vmi_vmw_vm_data_free (p->vms[i]);
  }
  vmi_provider_close (p);
  return 0;
}
