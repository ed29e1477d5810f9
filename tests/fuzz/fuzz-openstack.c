/* Fuzz target: what Nova and Cinder answer, made into VMs (vm.json): a
 * JSON array [servers/detail answer, volumes/detail answer], optionally
 * followed by Keystone's token answer, whose catalog is read for the
 * endpoints (without a region, then in region "RegionOne"). */
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "vmimport/error.h"
#include "../../providers/openstack/os-internal.h"
#include "fuzz-common.h"

static const struct vmi_provider_ops ops = { .name = "fuzz" };

static void
catalog (json_object *answer, const char *region)
{
  struct os_client c;
  json_object *token = NULL;

  memset (&c, 0, sizeof c);
  c.cfg.region = (char *) region;
  json_object_object_get_ex (answer, "token", &token);
  if (os_read_catalog (&c, token) == 0
      && (c.compute == NULL || c.volume == NULL || c.image == NULL))
    abort ();   /* success must give all three */
  free (c.compute);
  free (c.volume);
  free (c.image);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  struct json_tokener *tok = json_tokener_new ();
  json_object *j = tok ? json_tokener_parse_ex (tok, (const char *) data,
                                                (int) (size > 1 << 20 ? 1 << 20 : size))
                       : NULL;
  struct vmi_provider *p;

  if (j && json_object_is_type (j, json_type_array)
      && json_object_array_length (j) >= 2
      && json_object_array_length (j) <= 3
      && (p = vmi_provider_new (&ops, NULL, NULL)) != NULL) {
    if (os_vms_from_json (p, NULL, "fuzz", json_object_array_get_idx (j, 0),
                          json_object_array_get_idx (j, 1)) == 0)
      for (size_t i = 0; i < p->nvms; i++)
        fuzz_check_vm (p->vms[i]);
    vmi_provider_close (p);
    if (json_object_array_length (j) == 3) {
      catalog (json_object_array_get_idx (j, 2), NULL);
      catalog (json_object_array_get_idx (j, 2), "RegionOne");
    }
  }
  if (j)
    json_object_put (j);
  if (tok)
    json_tokener_free (tok);
  return 0;
}
