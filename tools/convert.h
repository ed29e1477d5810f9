/* vmimport: guest inspection and conversion (libguestfs, virt-v2v).
 * Internal to tools/. */
#ifndef VMIMPORT_CONVERT_H
#define VMIMPORT_CONVERT_H

#include <stdbool.h>
#include <stdio.h>

#include "vmimport/vm.h"

/* Exit code of a conversion that failed (cli.h has 0-3). */
#define EXIT_CONVERT 4

/* libguestfs's appliance runs under qemu: pick its backend and
 * accelerator (LIBGUESTFS_BACKEND=direct; TCG unless the environment says
 * otherwise, as KVM here may start and never boot the appliance).
 * Returns a sentence saying what was chosen and why, for the log. */
const char *guest_env_setup (void);

/* vmimport inspect --os ARGS (the whole command line of inspect). */
int cli_inspect_os (int argc, char **argv);

/* vmimport convert. */
int cli_convert (int argc, char **argv);

/* One disk of the domain: where the copied bytes are. */
struct domain_disk {
  const char *path;      /* a file or a block device */
  const char *format;    /* "raw" */
};

/* The libvirt domain XML of VM with its disks at DISKS[i] (one per
 * vm->disks[i]), on the source's buses, firmware and NICs (MAC, network,
 * model): what virt-v2v -i libvirtxml reads.  Caller frees.  NULL with an
 * error recorded. */
char *domain_xml_new (const struct vmi_vm *vm, const struct domain_disk *disks);

/* Convert the guest on the copied DISKS of VM in place (virt-v2v-in-place)
 * and record the outcome beside the first disk (see convert.c).  0 on
 * success, else an exit code with the step named on stderr. */
struct convert_opts {
  const char *virtio_win;   /* --virtio-win PATH, or NULL */
  const char *record_base;  /* where the log, XML and record go (prefix) */
  bool quiet;
  bool json;                /* progress as JSON lines */
};
int convert_guest (const struct vmi_vm *vm, const struct domain_disk *disks,
                   const struct convert_opts *o);

/* Where convert_guest writes the record of a VM whose first disk is DISK.
 * Caller frees; NULL on ENOMEM. */
char *convert_record_path (const char *disk);

/* What a conversion record (BASE.vmimport-convert.json) says, applied to
 * VM: a converted guest's disks and NICs become virtio; a failed one
 * keeps the source's (and a warning says so).  -1 with an error recorded
 * when RECORD cannot be read or is for another VM. */
int convert_record_apply (struct vmi_vm *vm, const char *record);

#endif
