/* Unit tests: vm.json from a vSphere inventory answer (RetrievePropertiesEx
 * as vCenter writes it): buses from the controllers the disks name, NICs
 * with distributed port groups resolved, firmware, and the vTPM device. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vmimport/provider.h"
#include "../providers/vmware/vmware-internal.h"

static int failures;
#define CHECK(cond) do { if (!(cond)) { \
  fprintf (stderr, "%s:%d: FAIL: %s\n", __FILE__, __LINE__, #cond); failures++; } } while (0)

static const struct vmi_provider_ops ops = { .name = "test" };

#define ENVELOPE_HEAD \
  "<?xml version=\"1.0\" encoding=\"UTF-8\"?>" \
  "<soapenv:Envelope xmlns:soapenv=\"http://schemas.xmlsoap.org/soap/envelope/\"" \
  " xmlns:xsd=\"http://www.w3.org/2001/XMLSchema\"" \
  " xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\"><soapenv:Body>" \
  "<RetrievePropertiesExResponse xmlns=\"urn:vim25\"><returnval>" \
  "<objects><obj type=\"Folder\">group-v3</obj><propSet><name>name</name>" \
  "<val xsi:type=\"xsd:string\">vm</val></propSet></objects>" \
  "<objects><obj type=\"DistributedVirtualPortgroup\">dvportgroup-13</obj>" \
  "<propSet><name>key</name><val xsi:type=\"xsd:string\">dvportgroup-13</val></propSet>" \
  "<propSet><name>name</name><val xsi:type=\"xsd:string\">DPG</val></propSet></objects>"
#define ENVELOPE_TAIL \
  "</returnval></RetrievePropertiesExResponse></soapenv:Body></soapenv:Envelope>"

/* A VM named NAME whose device list holds EXTRA (more devices). */
static struct vmi_provider *
parse_vm (const char *name, const char *extra, int with_devices)
{
  struct vmi_provider *p = vmi_provider_new (&ops, NULL, NULL);
  char xml[8192];

  snprintf (xml, sizeof xml, ENVELOPE_HEAD
    "<objects><obj type=\"VirtualMachine\">vm-29</obj>"
    "<propSet><name>name</name><val xsi:type=\"xsd:string\">%s</val></propSet>"
    "<propSet><name>parent</name><val xsi:type=\"ManagedObjectReference\" type=\"Folder\">group-v3</val></propSet>"
    "<propSet><name>config.firmware</name><val xsi:type=\"xsd:string\">efi</val></propSet>"
    "<propSet><name>config.hardware.numCPU</name><val xsi:type=\"xsd:int\">4</val></propSet>"
    "%s%s%s"
    "</objects>" ENVELOPE_TAIL, name,
    with_devices ? "<propSet><name>config.hardware.device</name><val xsi:type=\"ArrayOfVirtualDevice\">"
                   "<VirtualDevice xsi:type=\"ParaVirtualSCSIController\"><key>202</key><busNumber>0</busNumber></VirtualDevice>"
                   "<VirtualDevice xsi:type=\"VirtualE1000e\"><key>205</key><backing xsi:type=\"VirtualEthernetCardDistributedVirtualPortBackingInfo\">"
                   "<port><portgroupKey>dvportgroup-13</portgroupKey></port></backing><macAddress>00:50:56:01:02:04</macAddress></VirtualDevice>"
                   "<VirtualDevice xsi:type=\"VirtualDisk\"><key>206</key><backing xsi:type=\"VirtualDiskFlatVer2BackingInfo\">"
                   "<fileName>[ds1] web/web.vmdk</fileName></backing><controllerKey>202</controllerKey>"
                   "<unitNumber>0</unitNumber><capacityInKB>65536</capacityInKB></VirtualDevice>" : "",
    extra, with_devices ? "</val></propSet>" : "");
  if (vmi_vmw_inventory_parse (xml, strlen (xml), p, "group-v3") == -1) {
    fprintf (stderr, "parse failed\n");
    failures++;
  }
  return p;
}

static void
close_all (struct vmi_provider *p)
{
  for (size_t i = 0; i < p->nvms; i++)
    vmi_vmw_vm_data_free (p->vms[i]);
  vmi_provider_close (p);
}

static void
vtpm_device_sets_tpm (void)
{
  struct vmi_provider *p = parse_vm ("with-tpm",
    "<VirtualDevice xsi:type=\"VirtualTPM\"><key>11000</key></VirtualDevice>", 1);
  CHECK (p->nvms == 1);
  CHECK (p->nvms == 1 && p->vms[0]->tpm == 1);
  close_all (p);
  p = parse_vm ("no-tpm", "", 1);
  CHECK (p->nvms == 1 && p->vms[0]->tpm == 0);
  close_all (p);
  p = parse_vm ("no-devices", "", 0);        /* not said: unknown */
  CHECK (p->nvms == 1 && p->vms[0]->tpm == -1);
  close_all (p);
}

static void
disks_and_nics_from_the_device_list (void)
{
  struct vmi_provider *p = parse_vm ("web", "", 1);
  const struct vmi_vm *vm = p->nvms == 1 ? p->vms[0] : NULL;

  CHECK (vm != NULL);
  if (vm) {
    CHECK (vm->cpus == 4 && vm->firmware && !strcmp (vm->firmware, "efi"));
    CHECK (vm->ndisks == 1 && vm->disks[0].capacity == 65536 * 1024);
    CHECK (vm->ndisks == 1 && vm->disks[0].bus && !strcmp (vm->disks[0].bus, "scsi"));
    CHECK (vm->nnics == 1 && vm->nics[0].network && !strcmp (vm->nics[0].network, "DPG"));
    CHECK (vm->nnics == 1 && !strcmp (vm->nics[0].mac, "00:50:56:01:02:04"));
  }
  close_all (p);
}

/* guest.toolsRunningStatus as vm.json's guest_tools; absent: unknown. */
static struct vmi_provider *
parse_tools (const char *status)
{
  struct vmi_provider *p = vmi_provider_new (&ops, NULL, NULL);
  char xml[4096];

  snprintf (xml, sizeof xml, ENVELOPE_HEAD
    "<objects><obj type=\"VirtualMachine\">vm-30</obj>"
    "<propSet><name>name</name><val xsi:type=\"xsd:string\">t</val></propSet>"
    "<propSet><name>parent</name><val xsi:type=\"ManagedObjectReference\" type=\"Folder\">group-v3</val></propSet>"
    "%s%s%s</objects>" ENVELOPE_TAIL,
    status ? "<propSet><name>guest.toolsRunningStatus</name><val xsi:type=\"xsd:string\">" : "",
    status ? status : "", status ? "</val></propSet>" : "");
  if (vmi_vmw_inventory_parse (xml, strlen (xml), p, "group-v3") == -1) {
    fprintf (stderr, "parse failed\n");
    failures++;
  }
  return p;
}

static void
guest_tools_from_tools_running_status (void)
{
  static const struct { const char *status, *want; } cases[] = {
    { "guestToolsRunning", "running" },
    { "guestToolsExecutingScripts", "running" },
    { "guestToolsNotRunning", "not-running" },
    { "guestToolsSomethingNew", NULL },   /* not invented */
    { NULL, NULL },                       /* not said */
  };

  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    struct vmi_provider *p = parse_tools (cases[i].status);
    const char *got = p->nvms == 1 ? p->vms[0]->guest_tools : "(no VM)";
    char *json = p->nvms == 1 ? vmi_vm_to_json (p->vms[0]) : NULL;
    CHECK (cases[i].want ? got && !strcmp (got, cases[i].want) : got == NULL);
    /* vm.json carries it, null when unknown */
    CHECK (json && strstr (json, cases[i].want ? (cases[i].want[0] == 'r'
                                                 ? "\"guest_tools\": \"running\""
                                                 : "\"guest_tools\": \"not-running\"")
                                             : "\"guest_tools\": null"));
    free (json);
    close_all (p);
  }
}

int
main (void)
{
  vtpm_device_sets_tpm ();
  disks_and_nics_from_the_device_list ();
  guest_tools_from_tools_running_status ();
  if (failures)
    fprintf (stderr, "%d check(s) failed\n", failures);
  return failures != 0;
}
