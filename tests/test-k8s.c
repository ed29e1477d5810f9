/* Unit tests of Kubernetes names (vmi_k8s_name) and the
 * VirtualMachineImport reader (vmi_import_yaml_parse), called from memory
 * as the fuzz target calls them. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vmimport/error.h"
#include "vmimport/k8s.h"

#include "check.h"

static char *
k8s (const char *s)
{
  return vmi_k8s_name (s, VMI_K8S_NAME_MAX);
}

static void
test_names (void)
{
  char *a = k8s ("Web Server #1.prod"), *b = k8s ("web-server-1-prod");
  char *c = k8s ("WEB SERVER #1.PROD"), *d = k8s ("web-server-1-prod");
  char longname[200], *l, *l2, *e = k8s ("---"), *u = k8s ("Ünïcödé");

  CHECK ("name_web_server_is_a_label", vmi_k8s_is_label (a));
  CHECK ("name_web_server_keeps_its_words",
         strncmp (a, "web-server-1-prod-", 18) == 0 && strlen (a) == 26);
  CHECK ("name_already_valid_is_kept", strcmp (b, "web-server-1-prod") == 0);
  CHECK ("names_that_fold_together_differ", strcmp (a, b) && strcmp (a, c)
         && strcmp (b, c));
  CHECK ("name_is_stable", strcmp (b, d) == 0);
  memset (longname, 'a', sizeof longname - 1);
  longname[sizeof longname - 1] = '\0';
  l = k8s (longname);
  longname[150] = 'b';
  l2 = k8s (longname);
  CHECK ("long_name_fits_63", strlen (l) == 63 && vmi_k8s_is_label (l));
  CHECK ("long_names_differing_past_63_differ", strcmp (l, l2) != 0);
  CHECK ("name_of_dashes_is_valid", vmi_k8s_is_label (e)
         && strncmp (e, "vm-", 3) == 0);
  CHECK ("name_of_non_ascii_is_valid", vmi_k8s_is_label (u));
  CHECK ("label_check_refuses", !vmi_k8s_is_label ("-a") && !vmi_k8s_is_label ("a-")
         && !vmi_k8s_is_label ("A") && !vmi_k8s_is_label ("a.b")
         && !vmi_k8s_is_label ("") && vmi_k8s_is_label ("a-1"));
  free (a); free (b); free (c); free (d); free (l); free (l2); free (e);
  free (u);
}

static int
parse (const char *yaml, struct vmi_import_spec *s)
{
  return vmi_import_yaml_parse (yaml, strlen (yaml), "import.yaml", s);
}

static void
test_import (void)
{
  struct vmi_import_spec s;
  const char *full =
    "apiVersion: migration.harvesterhci.io/v1beta1\n"
    "kind: VirtualMachineImport\n"
    "metadata: {name: alpine-export-test, namespace: prod}\n"
    "spec:\n"
    "  virtualMachineName: \"alpine-export-test\"\n"
    "  folder: \"Discovered VM\"\n"
    "  networkMapping:\n"
    "  - sourceNetwork: \"dvSwitch 1\"\n"
    "    destinationNetwork: \"default/vlan1\"\n"
    "  - sourceNetwork: \"dvSwitch 2\"\n"
    "    destinationNetwork: \"default/vlan2\"\n"
    "    networkInterfaceModel: \"e1000\"\n"
    "  defaultNetworkInterfaceModel: \"virtio\"\n"
    "  skipPreflightChecks: true\n"
    "  storageClass: \"my-storage-class\"\n"
    "  defaultDiskBusType: \"scsi\"\n"
    "  sourceCluster: {name: vcsim, namespace: default, kind: VmwareSource,\n"
    "                  apiVersion: migration.harvesterhci.io/v1beta1}\n"
    "  forcePowerOff: true\n"
    "  gracefulShutdownTimeoutSeconds: 30\n"
    "---\n"
    "kind: OvaSource\n"
    "spec: {url: http://h/x.ova}\n";

  CHECK ("import_reference_example_parses", parse (full, &s) == 0);
  CHECK ("import_fields", s.vm_name && !strcmp (s.vm_name, "alpine-export-test")
         && !strcmp (s.namespace_, "prod") && !strcmp (s.folder, "Discovered VM")
         && s.nmappings == 2
         && !strcmp (s.mappings[1].source_network, "dvSwitch 2")
         && !strcmp (s.mappings[1].destination_network, "default/vlan2")
         && !strcmp (s.mappings[1].interface_model, "e1000")
         && s.mappings[0].interface_model == NULL
         && !strcmp (s.default_nic_model, "virtio") && s.skip_preflight == 1
         && !strcmp (s.storage_class, "my-storage-class")
         && !strcmp (s.default_disk_bus, "scsi")
         && !strcmp (s.cluster_kind, "VmwareSource") && s.force_power_off == 1
         && s.graceful_timeout == 30);
  vmi_import_spec_clear (&s);

  CHECK ("import_defaults",
         parse ("kind: VirtualMachineImport\nspec: {virtualMachineName: x}\n",
                &s) == 0
         && s.graceful_timeout == 60 && s.skip_preflight == 0
         && s.namespace_ == NULL && s.nmappings == 0);
  vmi_import_spec_clear (&s);

  CHECK ("import_unknown_field_is_named",
         parse ("kind: VirtualMachineImport\nspec: {virtualMachineName: x,\n"
                "  storageClas: y}\n", &s) == -1
         && strstr (vmi_error_get (), "spec: unknown field \"storageClas\""));
  CHECK ("import_bad_bool_is_named",
         parse ("kind: VirtualMachineImport\nspec: {virtualMachineName: x,\n"
                "  forcePowerOff: maybe}\n", &s) == -1
         && strstr (vmi_error_get (), "spec.forcePowerOff"));
  CHECK ("import_mapping_without_destination_is_named",
         parse ("kind: VirtualMachineImport\nspec:\n  virtualMachineName: x\n"
                "  networkMapping:\n  - sourceNetwork: a\n", &s) == -1
         && strstr (vmi_error_get (),
                    "spec.networkMapping[0].destinationNetwork: missing"));
  CHECK ("import_without_vm_name_is_refused",
         parse ("kind: VirtualMachineImport\nspec: {storageClass: y}\n", &s) == -1
         && strstr (vmi_error_get (), "spec.virtualMachineName: missing"));
  CHECK ("import_missing_object_is_refused",
         parse ("kind: OvaSource\n", &s) == -1
         && strstr (vmi_error_get (), "no VirtualMachineImport"));
  CHECK ("import_negative_timeout_is_refused",
         parse ("kind: VirtualMachineImport\nspec: {virtualMachineName: x,\n"
                "  gracefulShutdownTimeoutSeconds: -5}\n", &s) == -1
         && strstr (vmi_error_get (), "spec.gracefulShutdownTimeoutSeconds"));
  CHECK ("import_bad_yaml_gives_line",
         parse ("kind: VirtualMachineImport\nspec: [\n", &s) == -1
         && strstr (vmi_error_get (), "line "));
}

int
main (void)
{
  test_names ();
  test_import ();
  return check_summary ();
}
