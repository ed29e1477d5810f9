/* vmimport: Kubernetes object names and Harvester's VirtualMachineImport
 * object (migration.harvesterhci.io/v1beta1), as users write it. */
#ifndef VMIMPORT_K8S_H
#define VMIMPORT_K8S_H

#include <stdbool.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Longest RFC 1123 label: object names that may become host names. */
#define VMI_K8S_NAME_MAX 63

/* NAME as an RFC 1123 label of at most MAX (<= 63) characters: lower
 * case, every other character than [a-z0-9-] turned into '-', runs of '-'
 * folded, '-' trimmed from both ends.  When that changed NAME (or it had
 * to be shortened) "-" and 8 hex digits of NAME's SHA-256 are appended
 * (within MAX), so two different source names never give one object name.
 * Caller frees.  NULL on ENOMEM. */
char *vmi_k8s_name(const char *name, size_t max);
/* True if S is a valid RFC 1123 label (1..63 of [a-z0-9-], alphanumeric
 * at both ends). */
bool vmi_k8s_is_label(const char *s);

struct vmi_network_mapping {
  char *source_network;       /* spec.networkMapping[].sourceNetwork */
  char *destination_network;  /* "namespace/name" */
  char *interface_model;      /* NULL: from the source NIC */
};

/* VirtualMachineImport.  Absent fields are NULL / -1. */
struct vmi_import_spec {
  char *name;                 /* metadata.name */
  char *namespace_;           /* metadata.namespace; NULL: "default" */
  char *vm_name;              /* spec.virtualMachineName (name or ID) */
  char *folder;               /* spec.folder (VMware) */
  struct vmi_network_mapping *mappings;
  size_t nmappings;
  char *default_nic_model;    /* spec.defaultNetworkInterfaceModel */
  int skip_preflight;         /* spec.skipPreflightChecks: 0, 1 */
  char *storage_class;        /* spec.storageClass; NULL: cluster default */
  char *default_disk_bus;     /* spec.defaultDiskBusType */
  char *cluster_name, *cluster_namespace, *cluster_kind,
       *cluster_api_version;  /* spec.sourceCluster */
  int force_power_off;        /* spec.forcePowerOff: 0, 1 */
  long graceful_timeout;      /* spec.gracefulShutdownTimeoutSeconds; 60 */
};

void vmi_import_spec_init(struct vmi_import_spec *s);
void vmi_import_spec_clear(struct vmi_import_spec *s);
/* Append a network mapping (strings copied; MODEL may be NULL). */
int vmi_import_spec_add_mapping(struct vmi_import_spec *s, const char *src,
                                const char *dst, const char *model);
/* The one VirtualMachineImport object of a YAML stream (other documents,
 * such as the source object and its Secret, are skipped).  Unknown spec
 * fields and values of the wrong type are errors naming the field.
 * WHERE names the text in messages.  0, or -1 with an error recorded. */
int vmi_import_yaml_parse(const char *text, size_t len, const char *where,
                          struct vmi_import_spec *out);
int vmi_import_yaml_read(const char *path, struct vmi_import_spec *out);

#ifdef __cplusplus
}
#endif
#endif
