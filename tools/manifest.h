/* vmimport manifest: what an import creates in Harvester, decided
 * (manifest.c) and then written as YAML (manifest-emit.c). */
#ifndef VMIMPORT_MANIFEST_H
#define VMIMPORT_MANIFEST_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "vmimport/k8s.h"
#include "vmimport/vm.h"

struct mf_disk {
  const struct vmi_disk *src;
  char *claim;           /* PVC name */
  char *image;           /* VirtualMachineImage name (image mode) */
  char *url;             /* image mode: where Harvester downloads it */
  const char *bus;       /* KubeVirt bus */
  int64_t size_mib;      /* capacity rounded up to MiB */
};

struct mf_nic {
  const struct vmi_nic *src;   /* NULL: the NIC added to a VM without one */
  char *name;                  /* "nic-N" */
  const char *model;
  const char *multus;          /* "namespace/name"; NULL: the pod network */
};

struct mf_plan {
  const struct vmi_vm *vm;
  const struct vmi_import_spec *spec;
  char *name;                  /* the VM object's name */
  const char *ns;
  bool image_mode;
  bool start;
  int sockets, cores, threads;
  int64_t memory_mib;
  bool efi, secure_boot, tpm;
  struct mf_disk *disks;
  size_t ndisks;
  struct mf_nic *nics;
  size_t nnics;
  /* --job: a batch/v1 Job that copies the disks into the PVCs. */
  bool job;
  char *job_name;
  const char *job_image;       /* the container image (Containerfile) */
  const char *job_source;      /* SOURCE as the pod reaches it (a URL) */
  const char *job_secret;      /* the source's Secret, mounted as files */
  const char *job_vm;          /* --vm for the copies: the VM's ID or name */
  char **notes;                /* YAML comments above the VirtualMachine */
  size_t nnotes;
};

/* What vmimport manifest's flags say beyond the VirtualMachineImport. */
struct mf_flags {
  const char *file, *mode, *url_base, *ns, *storage_class, *disk_bus,
             *nic_model, *folder, *converted;
  int skip_preflight;     /* -1 not given */
  bool no_start;
  bool job;
  const char *job_image, *job_source, *job_secret;
  const char **networks;
  size_t nnetworks;
};

/* The add-on's preflight checks of S before the source is opened: its own
 * fields, and spec.sourceCluster against the source object in
 * SOURCE_FILE (NULL: none).  The number of errors, each printed. */
int mf_preflight(const struct vmi_import_spec *s, const char *source_file);

/* The manifest of the VM S names in the open source P, decided whole
 * (the remaining preflight checks) and then written to OUT; nothing is
 * written if a check fails.  SOURCE (the SOURCE argument) or SOURCE_FILE
 * (the source object's file) is what --job reads.  Messages on stderr;
 * returns an exit code. */
struct vmi_provider;
int mf_write_vm(struct vmi_provider *p, const struct vmi_import_spec *s,
                struct mf_flags *f, const char *source,
                const char *source_file, FILE *out);

/* Write every object of PLAN (volumes or images, then the VM) to OUT as a
 * YAML stream.  0, or -1 with an error recorded. */
int mf_emit(const struct mf_plan *plan, FILE *out);

#endif
