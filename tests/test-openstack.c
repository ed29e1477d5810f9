/* Unit tests of the OpenStack inventory: what Nova's servers/detail and
 * Cinder's volumes/detail answer (shapes of Zed's answers) made into VMs,
 * as the provider does after its two calls.  The peer in tests/openstack/
 * has no Neutron, so NICs from "addresses" are checked here. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "vmimport/error.h"
#include "../providers/openstack/os-internal.h"

#include "check.h"

static const char servers[] =
  "{\"servers\": ["
  " {\"id\": \"s1\", \"name\": \"vm-vol\", \"status\": \"ACTIVE\","
  "  \"flavor\": {\"vcpus\": 2, \"ram\": 1536, \"disk\": 0},"
  "  \"image\": \"\","
  "  \"addresses\": {\"net1\": ["
  "    {\"addr\": \"10.0.0.5\", \"version\": 4,"
  "     \"OS-EXT-IPS-MAC:mac_addr\": \"fa:16:3e:00:00:01\"},"
  "    {\"addr\": \"fd00::5\", \"version\": 6,"
  "     \"OS-EXT-IPS-MAC:mac_addr\": \"fa:16:3e:00:00:01\"}],"
  "   \"net2\": [{\"addr\": \"192.168.7.9\", \"version\": 4,"
  "     \"OS-EXT-IPS-MAC:mac_addr\": \"fa:16:3e:00:00:02\"}]},"
  "  \"os-extended-volumes:volumes_attached\": [{\"id\": \"v2\"}, {\"id\": \"v1\"},"
  "    {\"id\": \"v-other-project\"}]},"
  " {\"id\": \"s2\", \"name\": \"vm-img\", \"status\": \"SHUTOFF\","
  "  \"flavor\": {\"vcpus\": 3, \"ram\": 2048, \"disk\": 20},"
  "  \"image\": {\"id\": \"i1\"}, \"addresses\": {},"
  "  \"os-extended-volumes:volumes_attached\": [{\"id\": \"v3\"}]},"
  " {\"id\": \"s3\", \"name\": \"vm-img\", \"status\": \"PAUSED\","
  "  \"flavor\": {}, \"image\": \"\"}]}";

static const char volumes[] =
  "{\"volumes\": ["
  " {\"id\": \"v1\", \"name\": \"boot\", \"size\": 1,"
  "  \"attachments\": [{\"server_id\": \"s1\", \"device\": \"/dev/vda\"}],"
  "  \"volume_image_metadata\": {\"hw_firmware_type\": \"uefi\","
  "   \"os_secure_boot\": \"required\", \"hw_tpm_version\": \"2.0\","
  "   \"hw_disk_bus\": \"scsi\", \"hw_vif_model\": \"e1000\"}},"
  " {\"id\": \"v2\", \"name\": \"data\", \"size\": 4,"
  "  \"attachments\": [{\"server_id\": \"s1\", \"device\": \"/dev/vdb\"}]},"
  " {\"id\": \"v3\", \"name\": \"extra\", \"size\": 2,"
  "  \"attachments\": [{\"server_id\": \"s2\", \"device\": \"/dev/vdb\"}]}]}";

static const struct vmi_provider_ops ops = { .name = "test" };

int
main (void)
{
  json_object *s = json_tokener_parse (servers), *v = json_tokener_parse (volumes);
  struct vmi_provider *p = vmi_provider_new (&ops, NULL, NULL);
  const struct vmi_vm *a, *b, *c;

  CHECK ("the answers parse", s && v && p);
  CHECK ("servers and volumes become VMs",
         os_vms_from_json (p, NULL, "proj", s, v) == 0 && p->nvms == 3);
  if (p->nvms != 3)
    return 1;
  a = p->vms[0];
  b = p->vms[1];
  c = p->vms[2];
  CHECK ("flavor: CPUs and RAM", a->cpus == 2 && a->memory_mib == 1536);
  CHECK ("ID and power state", !strcmp (a->id, "s1")
         && !strcmp (a->power_state, "on") && !strcmp (b->power_state, "off")
         && !strcmp (c->power_state, "suspended"));
  CHECK ("volumes in device order, not attach order; other projects' skipped",
         a->ndisks == 2 && !strcmp (a->disks[0].source_name, "boot")
         && !strcmp (a->disks[1].source_name, "data"));
  CHECK ("capacities from the volume sizes (GiB)",
         a->disks[0].capacity == 1LL << 30 && a->disks[1].capacity == 4LL << 30);
  CHECK ("boot volume's image properties: efi, secure boot, vTPM, bus",
         !strcmp (a->firmware, "efi") && a->secure_boot == 1
         && a->tpm == 1 && !strcmp (a->disks[1].bus, "scsi"));
  CHECK ("NICs from addresses: one per MAC, network names, model",
         a->nnics == 2 && !strcmp (a->nics[0].network, "net1")
         && !strcmp (a->nics[0].mac, "fa:16:3e:00:00:01")
         && !strcmp (a->nics[1].network, "net2")
         && !strcmp (a->nics[1].model, "e1000"));
  CHECK ("booted from an image: root disk first (flavor's 20 GiB), then volumes",
         b->ndisks == 2 && b->disks[0].capacity == 20LL << 30
         && !strcmp (b->disks[1].source_name, "extra")
         && ((char *) b->disks[0].provider_data)[0] == 'i');
  CHECK ("unknown stays unknown", c->cpus == -1 && c->firmware == NULL
         && c->ndisks == 0 && c->nnics == 0);
  vmi_provider_close (p);
  json_object_put (s);
  json_object_put (v);

  {
    json_object *bad = json_tokener_parse ("{\"servers\": {}}");
    p = vmi_provider_new (&ops, NULL, NULL);
    CHECK ("a servers answer that is not a list: an error, named",
           os_vms_from_json (p, NULL, "proj", bad, bad) == -1
           && strstr (vmi_error_get (), "servers/detail"));
    vmi_provider_close (p);
    json_object_put (bad);
  }
  return check_summary ();
}
