/* tools/domain-xml.c: the libvirt domain virt-v2v reads, from vm.json.
 * Each case builds a VM, writes its domain, parses it back with libxml2
 * and checks the nodes by XPath. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/parser.h>
#include <libxml/xpath.h>

#include "../tools/convert.h"

static int fails;

static char *
xpath_str (xmlDocPtr doc, const char *expr)
{
  xmlXPathContextPtr ctx = xmlXPathNewContext (doc);
  xmlXPathObjectPtr o = xmlXPathEvalExpression (BAD_CAST expr, ctx);
  char *s = (char *) xmlXPathCastToString (o);

  xmlXPathFreeObject (o);
  xmlXPathFreeContext (ctx);
  return s;
}

static void
expect (xmlDocPtr doc, const char *name, const char *expr, const char *want)
{
  char *got = xpath_str (doc, expr);

  if (strcmp (got, want) != 0) {
    printf ("FAIL %s: %s = '%s', expected '%s'\n", name, expr, got, want);
    fails++;
  } else
    printf ("ok   %s: %s = '%s'\n", name, expr, got);
  xmlFree (got);
}

static struct vmi_vm *
vm_new (const char *name, const char *fw)
{
  struct vmi_vm *vm = vmi_vm_new (name);

  vm->firmware = fw ? strdup (fw) : NULL;
  vm->memory_mib = 2048;
  vm->cpus = 2;
  return vm;
}

static void
add_disk (struct vmi_vm *vm, const char *bus)
{
  struct vmi_disk *d = vmi_vm_add_disk (vm);
  d->bus = bus ? strdup (bus) : NULL;
}

static void
add_nic (struct vmi_vm *vm, const char *net, const char *model, const char *mac)
{
  struct vmi_nic *n = vmi_vm_add_nic (vm);
  n->network = net ? strdup (net) : NULL;
  n->model = model ? strdup (model) : NULL;
  n->mac = mac ? strdup (mac) : NULL;
}

static xmlDocPtr
render (const char *name, struct vmi_vm *vm, const struct domain_disk *disks)
{
  char *xml = domain_xml_new (vm, disks);
  xmlDocPtr doc;

  if (xml == NULL) {
    printf ("FAIL %s: no XML\n", name);
    fails++;
    return NULL;
  }
  doc = xmlReadMemory (xml, (int) strlen (xml), "domain.xml", NULL, XML_PARSE_NONET);
  if (doc == NULL) {
    printf ("FAIL %s: the XML does not parse:\n%s\n", name, xml);
    fails++;
  }
  free (xml);
  return doc;
}

/* A VMware VM: SATA + LSI (scsi) + IDE disks, two NICs, BIOS. */
static void
sata_scsi_ide_bios_keeps_buses_and_nics (void)
{
  const char *n = "sata_scsi_ide_bios";
  struct vmi_vm *vm = vm_new ("web <01> & co", "bios");
  struct domain_disk disks[] = {
    { "/var/lib/a b.raw", "raw" }, { "/tmp/b.raw", "raw" },
    { "/tmp/c.raw", "raw" }, { "/tmp/d.raw", NULL },
  };
  xmlDocPtr doc;

  add_disk (vm, "sata");
  add_disk (vm, "scsi");
  add_disk (vm, "ide");
  add_disk (vm, NULL);
  add_nic (vm, "VM Network", "VmxNet3", "00:50:56:01:02:03");
  add_nic (vm, NULL, "E1000", NULL);
  if ((doc = render (n, vm, disks)) != NULL) {
    expect (doc, n, "/domain/@type", "kvm");
    expect (doc, n, "/domain/name", "web <01> & co");
    expect (doc, n, "/domain/memory", "2048");
    expect (doc, n, "/domain/memory/@unit", "MiB");
    expect (doc, n, "/domain/vcpu", "2");
    expect (doc, n, "/domain/os/type", "hvm");
    expect (doc, n, "count(/domain/os/loader)", "0");
    expect (doc, n, "count(/domain/devices/disk)", "4");
    expect (doc, n, "/domain/devices/disk[1]/source/@file", "/var/lib/a b.raw");
    expect (doc, n, "/domain/devices/disk[1]/driver/@type", "raw");
    expect (doc, n, "/domain/devices/disk[1]/target/@bus", "sata");
    expect (doc, n, "/domain/devices/disk[1]/target/@dev", "sda");
    expect (doc, n, "/domain/devices/disk[2]/target/@bus", "scsi");
    expect (doc, n, "/domain/devices/disk[2]/target/@dev", "sdb");
    expect (doc, n, "/domain/devices/disk[3]/target/@bus", "ide");
    expect (doc, n, "/domain/devices/disk[3]/target/@dev", "hda");
    expect (doc, n, "count(/domain/devices/disk[4]/target/@bus)", "0");
    expect (doc, n, "/domain/devices/disk[4]/target/@dev", "sdc");
    expect (doc, n, "/domain/devices/disk[4]/driver/@type", "raw");
    expect (doc, n, "/domain/devices/interface[1]/@type", "network");
    expect (doc, n, "/domain/devices/interface[1]/mac/@address", "00:50:56:01:02:03");
    expect (doc, n, "/domain/devices/interface[1]/source/@network", "VM Network");
    expect (doc, n, "/domain/devices/interface[1]/model/@type", "vmxnet3");
    expect (doc, n, "/domain/devices/interface[2]/@type", "user");
    expect (doc, n, "count(/domain/devices/interface[2]/mac)", "0");
    expect (doc, n, "/domain/devices/interface[2]/model/@type", "e1000");
    xmlFreeDoc (doc);
  }
  vmi_vm_free (vm);
}

/* UEFI, a block device, virtio: firmware='efi' and a pflash loader. */
static void
efi_block_device_virtio (void)
{
  const char *n = "efi_block_virtio";
  struct vmi_vm *vm = vm_new ("efi", "efi");
  struct domain_disk disks[] = { { "/dev/null", "raw" }, { "/tmp/x.qcow2", "qcow2" } };
  xmlDocPtr doc;

  vm->memory_mib = -1;
  vm->cpus = -1;
  add_disk (vm, "virtio");
  add_disk (vm, "virtio");
  if ((doc = render (n, vm, disks)) != NULL) {
    expect (doc, n, "/domain/os/@firmware", "efi");
    expect (doc, n, "/domain/os/loader/@type", "pflash");
    expect (doc, n, "/domain/memory", "1024");
    expect (doc, n, "/domain/vcpu", "1");
    /* /dev/null is a character device, not a block device: a file */
    expect (doc, n, "/domain/devices/disk[1]/@type", "file");
    expect (doc, n, "/domain/devices/disk[1]/target/@dev", "vda");
    expect (doc, n, "/domain/devices/disk[2]/target/@dev", "vdb");
    expect (doc, n, "/domain/devices/disk[2]/driver/@type", "qcow2");
    expect (doc, n, "count(/domain/devices/interface)", "0");
    xmlFreeDoc (doc);
  }
  vmi_vm_free (vm);
}

static void
no_disks_is_an_error (void)
{
  struct vmi_vm *vm = vm_new ("empty", NULL);
  char *xml = domain_xml_new (vm, NULL);

  if (xml != NULL) {
    printf ("FAIL no_disks_is_an_error: got XML\n");
    fails++;
  } else
    printf ("ok   no_disks_is_an_error\n");
  free (xml);
  vmi_vm_free (vm);
}

int
main (void)
{
  sata_scsi_ide_bios_keeps_buses_and_nics ();
  efi_block_device_virtio ();
  no_disks_is_an_error ();
  xmlCleanupParser ();
  return fails ? 1 : 0;
}
