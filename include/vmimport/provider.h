/* vmimport: sources of VMs.
 *
 * A provider lists the VMs a SOURCE holds, describes each one (vm.json),
 * opens a disk as a layer (raw view, format layers already stacked) and can
 * power a VM off.  Local images, OVA/OVF (local or HTTP), NBD exports,
 * VMware and OpenStack all answer this one interface.
 */
#ifndef VMIMPORT_PROVIDER_H
#define VMIMPORT_PROVIDER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vmimport/layer.h"
#include "vmimport/retry.h"
#include "vmimport/vm.h"

#ifdef __cplusplus
extern "C" {
#endif

/* How to reach a source.  Secrets are held here in memory only. */
struct vmi_source_opts {
  char *username;        /* NULL: none (or taken from the URL's user part) */
  char *password;        /* from --password-file, a Secret or VMIMPORT_PASSWORD */
  char *ca_cert_file;    /* PEM bundle path; NULL: system store */
  char *ca_cert_pem;     /* PEM text (a Secret's ca.crt); NULL: none */
  bool insecure;         /* skip TLS verification; never the default */
  long timeout_seconds;  /* whole-request timeout; 0 = none; default 600 */
  long connect_timeout_seconds; /* default 30 */
  struct vmi_retry_policy retry; /* transient network errors */
  uint64_t cache_size;   /* bytes of block cache per mount; default 64 MiB */
  /* A running VM's disks change while they are read: sources with power
   * refuse to open them unless ALLOW_RUNNING (read as they are: a
   * crash-consistent copy at best) or SNAPSHOT (read them under a temporary
   * snapshot, removed when the provider is closed). */
  bool allow_running;
  bool snapshot;
  /* Local images: the files they name (extents, backing files) must be in
   * the image's folder tree.  NULL: nothing else; "": anywhere
   * (--allow-outside-paths); else ':'-separated folders also allowed. */
  char *allow_outside_paths;
  /* The one VM the caller wants (a name or an ID, as --vm gives it); NULL:
   * all.  A provider that can look one VM up (VMware's SearchIndex, Nova's
   * server by ID or name) may describe only the VMs that match, so that a
   * copy Job per VM does not list a vCenter of thousands each time; the
   * others describe every VM and the caller picks. */
  char *only_vm;
};

void vmi_source_opts_init(struct vmi_source_opts *o);
/* Free the strings, wiping the password. */
void vmi_source_opts_clear(struct vmi_source_opts *o);
/* Set a numeric source option by its command-line name: "retries" (retries
 * after the first try), "retry-deadline" (seconds for all tries of one
 * request, 0 = none), "timeout" (seconds per request, 0 = none).  Shared
 * by vmimportfs and vmimport.  Returns 0, or -1 with an error recorded. */
int vmi_source_opts_set(struct vmi_source_opts *o, const char *name,
                        const char *value);
/* A size as the command line writes it: "64M", "1G", "1T", "512k", "4096",
 * optionally with "iB" or "B".  -1 if it is not one. */
int64_t vmi_parse_size(const char *s);
/* Read a password file (first line, trailing newline stripped) into
 * o->password.  Returns 0 or -1. */
int vmi_source_opts_read_password(struct vmi_source_opts *o, const char *path);

struct vmi_provider;

struct vmi_provider_ops {
  const char *name;
  /* Open a disk of VM as a raw-view layer (format layers stacked, no cache). */
  struct vmi_layer *(*open_disk)(struct vmi_provider *p, const struct vmi_vm *vm,
                                 size_t disk_index);
  /* Power the VM off (gracefully, then hard after TIMEOUT seconds, or hard
   * at once when FORCE).  NULL: the source has no power (images). */
  int (*power_off)(struct vmi_provider *p, const struct vmi_vm *vm, bool force,
                   int timeout_seconds);
  /* Remove what imports of this source left behind (temporary snapshots,
   * volumes, images of an OpenStack export).  NULL: nothing to remove. */
  int (*cleanup)(struct vmi_provider *p);
  /* Start making disk DISK_INDEX of VM readable without reading it
   * (OpenStack: volume -> Glance image), kept for later readers of the
   * same source; with WAIT, until it is ready.  Updates the disk's
   * export_state / export_id.  NULL: the source's disks need no export. */
  int (*start_export)(struct vmi_provider *p, struct vmi_vm *vm,
                      size_t disk_index, bool wait);
  void (*close)(struct vmi_provider *p);
};

struct vmi_provider {
  const struct vmi_provider_ops *ops;
  void *priv;
  struct vmi_vm **vms;   /* described at open time */
  size_t nvms;
  /* The disks' capacity (and what else vm.json says) comes from the
   * source's inventory, and open_disk is called only when a disk is first
   * read (vmimportfs open(), vmimport copy/inspect of it): a vCenter of
   * thousands of VMs mounts in the time of its inventory call.  false: every
   * disk is opened at mount time, so a bad image mounts nothing. */
  bool lazy_disks;
  struct vmi_source_opts opts;  /* owned copy */
};

/* Open SOURCE (a path, http(s)://, nbd://, ...), describe its VMs.
 * OPTS is copied.  NULL with an error recorded on failure. */
struct vmi_provider *vmi_provider_open(const char *source,
                                       const struct vmi_source_opts *opts);
/* Open from a Harvester source YAML (OvaSource / VmwareSource /
 * OpenstackSource + Secret). */
struct vmi_provider *vmi_provider_open_yaml(const char *yaml_path,
                                            const struct vmi_source_opts *opts);
struct vmi_layer *vmi_provider_open_disk(struct vmi_provider *p, size_t vm_index,
                                         size_t disk_index);
/* ops->cleanup; ENOTSUP when the source has none. */
int vmi_provider_cleanup(struct vmi_provider *p);
/* ops->start_export of disk DISK_INDEX of VM VM_INDEX; ENOTSUP when the
 * source has none. */
int vmi_provider_start_export(struct vmi_provider *p, size_t vm_index,
                              size_t disk_index, bool wait);
void vmi_provider_close(struct vmi_provider *p);

/* For providers: a new provider with OPS/PRIV and a copy of OPTS. */
struct vmi_provider *vmi_provider_new(const struct vmi_provider_ops *ops,
                                      void *priv,
                                      const struct vmi_source_opts *opts);
int vmi_provider_add_vm(struct vmi_provider *p, struct vmi_vm *vm);

#ifdef __cplusplus
}
#endif
#endif
