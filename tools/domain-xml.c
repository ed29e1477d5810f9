/* The libvirt domain XML of a VM whose disks were copied: what
 * virt-v2v(-in-place) -i libvirtxml reads to find the guest's disks and
 * hardware.  Written from vm.json with libxml2's text writer:
 *
 *   <domain type='kvm'>
 *     <name>, <memory unit='MiB'>, <vcpu>, <os> (hvm; firmware='efi' and a
 *     pflash loader for UEFI)
 *     <devices>
 *       <disk type='file'|'block' device='disk'> raw, the copied file or
 *         device, <target dev='sda' bus='sata'/> on the source's bus
 *       <interface type='network'> MAC, network name, the source's model
 *
 * The bus and NIC model stay the source's: converting is what changes
 * them.  A bus vm.json does not know (or one libvirt has no disk target
 * for, as nvme) gets no bus attribute: libvirt and virt-v2v go by the
 * target's name (sdX). */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <libxml/xmlwriter.h>

#include "vmimport/error.h"
#include "convert.h"

#define MAX_DISKS 26

/* Bus name in libvirt and the prefix of its target names. */
static const struct {
  const char *bus, *libvirt, *prefix;
} buses[] = {
  { "sata", "sata", "sd" },
  { "scsi", "scsi", "sd" },
  { "ide", "ide", "hd" },
  { "virtio", "virtio", "vd" },
};

/* VMware / OVF model names as libvirt spells them. */
static const struct {
  const char *source, *libvirt;
} nic_models[] = {
  { "vmxnet3", "vmxnet3" }, { "vmxnet2", "vmxnet" }, { "vmxnet", "vmxnet" },
  { "e1000e", "e1000e" }, { "e1000", "e1000" }, { "pcnet32", "pcnet" },
  { "pcnet", "pcnet" }, { "rtl8139", "rtl8139" }, { "virtio", "virtio" },
};

static int
bus_index (const char *bus)
{
  for (size_t i = 0; bus && i < sizeof buses / sizeof buses[0]; i++)
    if (strcmp (bus, buses[i].bus) == 0)
      return (int) i;
  return -1;
}

static const char *
nic_model (const char *m)
{
  char low[32];
  size_t n = 0;

  if (m == NULL)
    return NULL;
  for (; m[n] && n + 1 < sizeof low; n++)
    low[n] = (char) tolower ((unsigned char) m[n]);
  low[n] = '\0';
  for (size_t i = 0; i < sizeof nic_models / sizeof nic_models[0]; i++)
    if (strcmp (low, nic_models[i].source) == 0)
      return nic_models[i].libvirt;
  return NULL;
}

#define W(call) do { if ((call) < 0) goto fail; } while (0)

static int
write_disk (xmlTextWriterPtr w, const struct vmi_disk *d,
            const struct domain_disk *dd, int *counters)
{
  struct stat st;
  bool block = stat (dd->path, &st) == 0 && S_ISBLK (st.st_mode);
  int b = bus_index (d->bus);
  const char *prefix = b >= 0 ? buses[b].prefix : "sd";
  /* one sequence per name prefix: sata and scsi disks share sdX */
  int *n = &counters[prefix[0] == 's' ? 0 : prefix[0] == 'h' ? 1 : 2];
  char dev[8];

  snprintf (dev, sizeof dev, "%s%c", prefix, 'a' + (*n)++);
  W (xmlTextWriterStartElement (w, BAD_CAST "disk"));
  W (xmlTextWriterWriteAttribute (w, BAD_CAST "type", BAD_CAST (block ? "block" : "file")));
  W (xmlTextWriterWriteAttribute (w, BAD_CAST "device", BAD_CAST "disk"));
  W (xmlTextWriterStartElement (w, BAD_CAST "driver"));
  W (xmlTextWriterWriteAttribute (w, BAD_CAST "name", BAD_CAST "qemu"));
  W (xmlTextWriterWriteAttribute (w, BAD_CAST "type",
                                  BAD_CAST (dd->format ? dd->format : "raw")));
  W (xmlTextWriterEndElement (w));
  W (xmlTextWriterStartElement (w, BAD_CAST "source"));
  W (xmlTextWriterWriteAttribute (w, BAD_CAST (block ? "dev" : "file"),
                                  BAD_CAST dd->path));
  W (xmlTextWriterEndElement (w));
  W (xmlTextWriterStartElement (w, BAD_CAST "target"));
  W (xmlTextWriterWriteAttribute (w, BAD_CAST "dev", BAD_CAST dev));
  if (b >= 0)
    W (xmlTextWriterWriteAttribute (w, BAD_CAST "bus", BAD_CAST buses[b].libvirt));
  W (xmlTextWriterEndElement (w));
  W (xmlTextWriterEndElement (w));
  return 0;
 fail:
  return -1;
}

static int
write_nic (xmlTextWriterPtr w, const struct vmi_nic *n)
{
  const char *model = nic_model (n->model);

  W (xmlTextWriterStartElement (w, BAD_CAST "interface"));
  W (xmlTextWriterWriteAttribute (w, BAD_CAST "type",
                                  BAD_CAST (n->network ? "network" : "user")));
  if (n->mac) {
    W (xmlTextWriterStartElement (w, BAD_CAST "mac"));
    W (xmlTextWriterWriteAttribute (w, BAD_CAST "address", BAD_CAST n->mac));
    W (xmlTextWriterEndElement (w));
  }
  if (n->network) {
    W (xmlTextWriterStartElement (w, BAD_CAST "source"));
    W (xmlTextWriterWriteAttribute (w, BAD_CAST "network", BAD_CAST n->network));
    W (xmlTextWriterEndElement (w));
  }
  if (model) {
    W (xmlTextWriterStartElement (w, BAD_CAST "model"));
    W (xmlTextWriterWriteAttribute (w, BAD_CAST "type", BAD_CAST model));
    W (xmlTextWriterEndElement (w));
  }
  W (xmlTextWriterEndElement (w));
  return 0;
 fail:
  return -1;
}

static int
write_os (xmlTextWriterPtr w, const struct vmi_vm *vm)
{
  bool efi = vm->firmware && strcmp (vm->firmware, "efi") == 0;

  W (xmlTextWriterStartElement (w, BAD_CAST "os"));
  if (efi)
    W (xmlTextWriterWriteAttribute (w, BAD_CAST "firmware", BAD_CAST "efi"));
  W (xmlTextWriterStartElement (w, BAD_CAST "type"));
  W (xmlTextWriterWriteAttribute (w, BAD_CAST "arch", BAD_CAST "x86_64"));
  W (xmlTextWriterWriteString (w, BAD_CAST "hvm"));
  W (xmlTextWriterEndElement (w));
  if (efi) {
    W (xmlTextWriterStartElement (w, BAD_CAST "loader"));
    W (xmlTextWriterWriteAttribute (w, BAD_CAST "readonly", BAD_CAST "yes"));
    W (xmlTextWriterWriteAttribute (w, BAD_CAST "type", BAD_CAST "pflash"));
    W (xmlTextWriterWriteString (w, BAD_CAST "/usr/share/OVMF/OVMF_CODE_4M.fd"));
    W (xmlTextWriterEndElement (w));
  }
  W (xmlTextWriterStartElement (w, BAD_CAST "boot"));
  W (xmlTextWriterWriteAttribute (w, BAD_CAST "dev", BAD_CAST "hd"));
  W (xmlTextWriterEndElement (w));
  W (xmlTextWriterEndElement (w));
  return 0;
 fail:
  return -1;
}

char *
domain_xml_new (const struct vmi_vm *vm, const struct domain_disk *disks)
{
  xmlBufferPtr buf = xmlBufferCreate ();
  xmlTextWriterPtr w = buf ? xmlNewTextWriterMemory (buf, 0) : NULL;
  int counters[3] = { 0 };
  char *out = NULL;

  if (w == NULL)
    goto fail;
  if (vm->ndisks == 0 || vm->ndisks > MAX_DISKS) {
    vmi_error ("VM %s: %zu disks (a domain takes 1 to %d)", vm->name,
               vm->ndisks, MAX_DISKS);
    goto out;
  }
  W (xmlTextWriterSetIndent (w, 1));
  W (xmlTextWriterStartDocument (w, NULL, "UTF-8", NULL));
  W (xmlTextWriterStartElement (w, BAD_CAST "domain"));
  W (xmlTextWriterWriteAttribute (w, BAD_CAST "type", BAD_CAST "kvm"));
  W (xmlTextWriterWriteElement (w, BAD_CAST "name", BAD_CAST vm->name));
  W (xmlTextWriterStartElement (w, BAD_CAST "memory"));
  W (xmlTextWriterWriteAttribute (w, BAD_CAST "unit", BAD_CAST "MiB"));
  W (xmlTextWriterWriteFormatString (w, "%lld", (long long)
                                     (vm->memory_mib > 0 ? vm->memory_mib : 1024)));
  W (xmlTextWriterEndElement (w));
  W (xmlTextWriterWriteFormatElement (w, BAD_CAST "vcpu", "%d",
                                      vm->cpus > 0 ? vm->cpus : 1));
  if (write_os (w, vm) == -1)
    goto fail;
  W (xmlTextWriterStartElement (w, BAD_CAST "features"));
  W (xmlTextWriterWriteElement (w, BAD_CAST "acpi", NULL));
  W (xmlTextWriterWriteElement (w, BAD_CAST "apic", NULL));
  W (xmlTextWriterEndElement (w));
  W (xmlTextWriterStartElement (w, BAD_CAST "devices"));
  for (size_t i = 0; i < vm->ndisks; i++)
    if (write_disk (w, &vm->disks[i], &disks[i], counters) == -1)
      goto fail;
  for (size_t i = 0; i < vm->nnics; i++)
    if (write_nic (w, &vm->nics[i]) == -1)
      goto fail;
  W (xmlTextWriterEndDocument (w));
  xmlFreeTextWriter (w);
  w = NULL;
  if ((out = strdup ((const char *) xmlBufferContent (buf))) == NULL)
    goto fail;
  goto out;
 fail:
  vmi_error ("VM %s: cannot write its domain XML (out of memory)", vm->name);
 out:
  if (w)
    xmlFreeTextWriter (w);
  if (buf)
    xmlBufferFree (buf);
  return out;
}
