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
  "  \"flavor\": {\"vcpus\": 3, \"ram\": 2048, \"disk\": 20,"
  "   \"ephemeral\": 5, \"swap\": 1024, \"original_name\": \"m1.eph\"},"
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
         && c->ndisks == 0 && c->nnics == 0 && c->nnotes == 0);
  CHECK ("flavor's ephemeral and swap disks: not disks, but two notes",
         b->ndisks == 2 && b->nnotes == 2
         && strstr (b->notes[0], "m1.eph has a 5 GiB ephemeral disk")
         && strstr (b->notes[0], "not imported")
         && strstr (b->notes[1], "1024 MiB swap disk")
         && a->nnotes == 0);
  {
    char *j = vmi_vm_to_json (b), *k = vmi_vm_to_json (a);
    json_object *o = j ? json_tokener_parse (j) : NULL, *notes = NULL;
    json_object *disks = NULL, *e = NULL, *st = NULL, *img = NULL;
    if (o) {
      json_object_object_get_ex (o, "notes", &notes);
      json_object_object_get_ex (o, "disks", &disks);
      json_object_object_get_ex (json_object_array_get_idx (disks, 0), "export", &e);
      json_object_object_get_ex (e, "state", &st);
      json_object_object_get_ex (e, "image", &img);
    }
    CHECK ("vm.json: notes listed, each disk's export state (none, no image yet)",
           notes && json_object_array_length (notes) == 2
           && strstr (json_object_get_string (json_object_array_get_idx (notes, 1)),
                      "swap disk")
           && st && !strcmp (json_object_get_string (st), "none")
           && e && json_object_object_get_ex (e, "image", NULL) && img == NULL
           && k && strstr (k, "\"notes\":") && !strstr (k, "not imported"));
    if (o)
      json_object_put (o);
    free (j);
    free (k);
  }
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
  {
    /* Ids go into request paths: one that would name another object (a
     * "..", a '/', a '?', or one so long the path is cut) is an error. */
    static const char *const bad_ids[][2] = {
      { "{\"servers\": [{\"id\": \"../s2\", \"name\": \"a\"}]}", "server 0 (a)" },
      { "{\"servers\": [{\"id\": \"s1\", \"name\": \"a\", \"image\": {\"id\": \"i?x=1\"}}]}",
        "image whose id" },
      { "{\"servers\": [{\"id\": \"s1\", \"name\": \"a\", "
        "\"os-extended-volumes:volumes_attached\": [{\"id\": \"v/1\"}]}]}",
        "volume attached to server s1" },
    };
    json_object *vols = json_tokener_parse ("{\"volumes\": [{\"id\": \"v/1\", \"size\": 1}]}");
    for (size_t i = 0; i < sizeof bad_ids / sizeof bad_ids[0]; i++) {
      json_object *sv = json_tokener_parse (bad_ids[i][0]);
      p = vmi_provider_new (&ops, NULL, NULL);
      CHECK ("an id that is not an OpenStack id: an error, named",
             sv && os_vms_from_json (p, NULL, "proj", sv, vols) == -1
             && strstr (vmi_error_get (), bad_ids[i][1])
             && strstr (vmi_error_get (), "not an OpenStack id"));
      vmi_provider_close (p);
      json_object_put (sv);
    }
    json_object_put (vols);
    CHECK ("ids: a UUID is one, a long one is not",
           os_id_ok ("9a6b1c2d-3e4f-4a5b-8c7d-0e1f2a3b4c5d")
           && !os_id_ok ("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa")
           && !os_id_ok ("") && !os_id_ok (NULL) && !os_id_ok (".."));
  }
  return check_summary ();
}
