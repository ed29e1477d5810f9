/* vmimport: the normalized VM description (vm.json, see SPEC.md).
 * Unknown values are NULL / -1, and are written to JSON as null: never
 * invented. */
#ifndef VMIMPORT_VM_H
#define VMIMPORT_VM_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

struct vmi_disk {
  int index;
  char *file;           /* "disk-N.img" */
  int64_t capacity;     /* virtual bytes; -1 unknown */
  int64_t allocated;    /* bytes that hold data; -1 unknown */
  char *bus;            /* "scsi" "sata" "ide" "virtio" "nvme", NULL unknown */
  char *source_format;  /* "vmdk" "qcow2" "raw" ..., NULL unknown */
  char *source_name;    /* the file / URL / member / datastore path it came from */
  void *provider_data;  /* provider's own (how to open it); not serialized */
};

struct vmi_nic {
  int index;
  char *network;
  char *model;
  char *mac;
};

struct vmi_vm {
  char *name;
  char *id;
  char *source_kind;    /* "local" "ova" "http" "nbd" "vmware" "openstack" */
  char *source_where;   /* path or URL, without credentials */
  char *folder;         /* inventory folder, '/'-separated, relative to the
                           datacenter's VM folder (or the project); NULL: top.
                           vmimportfs shows the VM at MOUNT/<folder>/<name>/ */
  char *power_state;    /* "on" "off" "suspended", NULL unknown */
  int cpus;             /* -1 unknown */
  int cores_per_socket; /* -1 unknown */
  int64_t memory_mib;   /* -1 unknown */
  char *firmware;       /* "bios" "efi", NULL unknown */
  int secure_boot;      /* 0, 1, -1 unknown */
  int tpm;              /* a virtual TPM: 0, 1, -1 unknown */
  char *guest_os;
  char *guest_tools;    /* the guest's agent (VMware Tools):
                           "running" "not-running", NULL unknown */
  struct vmi_disk *disks;
  size_t ndisks;
  struct vmi_nic *nics;
  size_t nnics;
};

/* A new VM with every field unknown.  NAME is copied. */
struct vmi_vm *vmi_vm_new(const char *name);
/* Append a disk / NIC with every field unknown except index; returns it
 * (pointer valid until the next add). NULL on ENOMEM. */
struct vmi_disk *vmi_vm_add_disk(struct vmi_vm *vm);
struct vmi_nic *vmi_vm_add_nic(struct vmi_vm *vm);
void vmi_vm_free(struct vmi_vm *vm);

/* vm.json text (pretty, ends with a newline); caller frees.  NULL on error. */
char *vmi_vm_to_json(const struct vmi_vm *vm);
/* A name usable as a folder: '/' and control characters replaced, not
 * empty, not "." or "..".  Caller frees. */
char *vmi_vm_dir_name(const char *name);

#ifdef __cplusplus
}
#endif
#endif
