/* Fuzz target: what Nova and Cinder answer, made into VMs (vm.json): a
 * JSON array [servers/detail answer, volumes/detail answer]. */
#include <string.h>

#include <json-c/json.h>

#include "vmimport/error.h"
#include "../../providers/openstack/os-internal.h"
#include "fuzz-common.h"

static const struct vmi_provider_ops ops = { .name = "fuzz" };

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  struct json_tokener *tok = json_tokener_new ();
  json_object *j = tok ? json_tokener_parse_ex (tok, (const char *) data,
                                                (int) (size > 1 << 20 ? 1 << 20 : size))
                       : NULL;
  struct vmi_provider *p;

  if (j && json_object_is_type (j, json_type_array)
      && json_object_array_length (j) == 2
      && (p = vmi_provider_new (&ops, NULL, NULL)) != NULL) {
    if (os_vms_from_json (p, NULL, "fuzz", json_object_array_get_idx (j, 0),
                          json_object_array_get_idx (j, 1)) == 0)
      for (size_t i = 0; i < p->nvms; i++)
        free (vmi_vm_to_json (p->vms[i]));
    vmi_provider_close (p);
  }
  if (j)
    json_object_put (j);
  if (tok)
    json_tokener_free (tok);
  return 0;
}
