/* Internal: the provider constructors that vmi_provider_open dispatches to. */
#ifndef VMIMPORT_PROVIDERS_H
#define VMIMPORT_PROVIDERS_H

#include <stdbool.h>

#include "vmimport/provider.h"

/* One row of the table vmi_provider_open walks (providers/provider.c):
 * SCHEME is the URL prefix the provider takes ("vmware://"), or NULL for
 * local paths; PROBE, when set, must also accept SOURCE (content or name
 * tests: an .ova over http:// is an appliance, any other URL an image). */
struct vmi_provider_class {
  const char *name;
  const char *scheme;
  bool (*probe)(const char *source);
  struct vmi_provider *(*open)(const char *source,
                               const struct vmi_source_opts *o);
};

/* The row that opens SOURCE, or NULL when none does. */
const struct vmi_provider_class *vmi_provider_class_find(const char *source);
/* For sources whose provider is not built yet: fails with ENOTSUP. */
struct vmi_provider *vmi_unsupported_provider_open(const char *source,
                                                   const struct vmi_source_opts *o);

/* A local image file, or a folder of them: one VM per image. */
struct vmi_provider *vmi_local_provider_open(const char *path,
                                             const struct vmi_source_opts *o);
/* An OVA (local or http(s)), or an OVF beside its disks (local or http(s)). */
struct vmi_provider *vmi_ova_provider_open(const char *source,
                                           const struct vmi_source_opts *o);
/* A single disk image over http(s): one VM. */
struct vmi_provider *vmi_http_image_provider_open(const char *url,
                                                  const struct vmi_source_opts *o);
/* A single NBD export (raw or holding a VMDK/QCOW2 image): one VM. */
struct vmi_provider *vmi_nbd_provider_open(const char *uri,
                                           const struct vmi_source_opts *o);
/* VMware vCenter / ESXi: vmware://USER@HOST[:PORT]/DC[/FOLDER]. */
struct vmi_provider *vmi_vmware_provider_open(const char *url,
                                              const struct vmi_source_opts *o);
/* VMware as a VmwareSource gives it: endpoint https://HOST/sdk and dc. */
struct vmi_provider *vmi_vmware_endpoint_open(const char *endpoint,
                                              const char *dc,
                                              const struct vmi_source_opts *o);
/* Harvester source YAML (OvaSource + Secret, ...). */
struct vmi_provider *vmi_yaml_provider_open(const char *path,
                                            const struct vmi_source_opts *o);

/* Shared by single-image providers: describe LAYER (a raw view made by
 * vmi_format_open) as disk 0 of a new VM named NAME.  Does not keep LAYER. */
struct vmi_vm *vmi_image_vm_new(const char *name, const char *source_kind,
                                const char *where, struct vmi_layer *layer,
                                const char *format);

/* The name a VM gets from an image file or URL: the last path component
 * without its extension ("/a/b/disk.vmdk" -> "disk").  Caller frees. */
char *vmi_image_name(const char *path);

#endif
