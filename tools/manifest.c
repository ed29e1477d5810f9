/* vmimport manifest: the Kubernetes objects an import of one VM creates in
 * Harvester, as YAML for `kubectl apply -f -`:
 *
 *   vmimport manifest -f IMPORT.yaml [--source-file SOURCE.yaml] ...
 *   vmimport manifest SOURCE --vm NAME [--namespace NS] [--network ...] ...
 *
 * This file reads the VirtualMachineImport (or the same fields as flags),
 * runs the add-on's preflight checks and decides every field (names,
 * buses, NIC models and networks, CPU topology, firmware); manifest-emit.c
 * writes the objects.  Nothing is written unless every check passed. */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "vmimport/error.h"
#include "vmimport/k8s.h"
#include "vmimport/ova.h"
#include "vmimport/tree.h"
#include "cli.h"
#include "manifest.h"
#include "convert.h"

enum {
  OPT_FILE = OPT_FIRST_COMMAND_OPTION,
  OPT_MODE,
  OPT_IMAGE_URL_BASE,
  OPT_NO_START,
  OPT_NAMESPACE,
  OPT_STORAGE_CLASS,
  OPT_DISK_BUS,
  OPT_NIC_MODEL,
  OPT_NETWORK,
  OPT_SKIP_PREFLIGHT,
  OPT_FOLDER,
  OPT_JOB,
  OPT_JOB_IMAGE,
  OPT_JOB_SOURCE,
  OPT_JOB_SECRET,
  OPT_CONVERTED,
};

static const char *const disk_buses[] = {
  "sata", "scsi", "usb", "virtio", NULL
};
static const char *const nic_models[] = {
  "e1000", "e1000e", "ne2k_pci", "pcnet", "rtl8139", "virtio", NULL
};

static void
usage (FILE *f)
{
  fprintf (f,
    "Usage: vmimport manifest -f IMPORT.yaml [--source-file SOURCE.yaml] [OPTIONS]\n"
    "       vmimport manifest [OPTIONS] SOURCE [--vm NAME]\n"
    "Write the objects an import of one VM creates in Harvester (YAML for\n"
    "kubectl apply -f -): a PersistentVolumeClaim (--mode pvc) or a\n"
    "VirtualMachineImage (--mode image) per disk, then the VirtualMachine.\n"
    "IMPORT.yaml holds a VirtualMachineImport (and may hold the source\n"
    "object and its Secret, used when neither SOURCE nor --source-file is\n"
    "given).  Flags set the same fields and win over the file:\n\n"
    "  -f, --file FILE        the VirtualMachineImport\n"
    "  --vm NAME              spec.virtualMachineName (name or ID)\n"
    "  --folder PATH          spec.folder: the VMware folder of the VM\n"
    "  --namespace NS         metadata.namespace (default: default)\n"
    "  --storage-class SC     spec.storageClass (default: the cluster's)\n"
    "  --disk-bus BUS         spec.defaultDiskBusType: sata scsi usb virtio\n"
    "  --nic-model MODEL      spec.defaultNetworkInterfaceModel: e1000 e1000e\n"
    "                         ne2k_pci pcnet rtl8139 virtio\n"
    "  --network SRC=NS/NAME[,MODEL]  a spec.networkMapping entry (repeat)\n"
    "  --job                  also a batch/v1 Job per VM that copies the disks\n"
    "                         into the PVCs (--mode pvc); the VM is Halted\n"
    "                         until it succeeded (vmimport import --job)\n"
    "  --job-image IMAGE      the Job's container image (Containerfile)\n"
    "  --job-source URL       the source as the Job's pod reaches it (default:\n"
    "                         SOURCE if a URL, or the OvaSource's url)\n"
    "  --job-secret NAME      the source's Secret, mounted as files (default:\n"
    "                         the source object's spec.credentials.name)\n"
    "  --skip-preflight-checks  spec.skipPreflightChecks\n"
    "  --mode pvc|image       volumes as PVCs to copy into (default), or\n"
    "                         images Harvester downloads\n"
    "  --image-url-base URL   image mode: the disks' URLs are\n"
    "                         URL/<vm>/disk-N.img (vmimport serve's tree)\n"
    "  --no-start             runStrategy Halted (default RerunOnFailure)\n"
    "  --converted RECORD     the disks were converted (vmimport convert's\n"
    "                         DISK.vmimport-convert.json): virtio disks and NICs\n\n"
    CLI_COMMON_HELP);
}


static bool
one_of (const char *s, const char *const *list)
{
  for (size_t i = 0; list[i]; i++)
    if (!strcmp (s, list[i]))
      return true;
  return false;
}

static int
set_str (char **field, const char *value)
{
  char *s;

  if (value == NULL)
    return 0;
  if ((s = strdup (value)) == NULL)
    return -1;
  free (*field);
  *field = s;
  return 0;
}

/* "SRC=NS/NAME[,MODEL]": split at the last '=' (source names may hold
 * one; a destination never does). */
static int
add_network_flag (struct vmi_import_spec *s, const char *arg)
{
  const char *eq = strrchr (arg, '=');
  char *src, *dst, *comma;
  int r;

  if (eq == NULL || eq == arg) {
    fprintf (stderr, "vmimport manifest: --network %s: expected "
             "SOURCE-NETWORK=NAMESPACE/NAME[,MODEL]\n", arg);
    return -1;
  }
  src = strndup (arg, (size_t) (eq - arg));
  dst = strdup (eq + 1);
  if (src == NULL || dst == NULL) {
    free (src);
    free (dst);
    return -1;
  }
  if ((comma = strchr (dst, ',')) != NULL)
    *comma++ = '\0';
  r = vmi_import_spec_add_mapping (s, src, dst, comma);
  free (src);
  free (dst);
  return r;
}

static int
apply_flags (struct vmi_import_spec *s, const struct mf_flags *f,
             const char *vm)
{
  if (set_str (&s->vm_name, vm) == -1 || set_str (&s->namespace_, f->ns) == -1
      || set_str (&s->folder, f->folder) == -1
      || set_str (&s->storage_class, f->storage_class) == -1
      || set_str (&s->default_disk_bus, f->disk_bus) == -1
      || set_str (&s->default_nic_model, f->nic_model) == -1) {
    fprintf (stderr, "vmimport manifest: out of memory\n");
    return -1;
  }
  if (f->skip_preflight >= 0)
    s->skip_preflight = f->skip_preflight;
  for (size_t i = 0; i < f->nnetworks; i++)
    if (add_network_flag (s, f->networks[i]) == -1)
      return -1;
  return 0;
}

static void __attribute__ ((format (printf, 2, 3)))
refuse (const char *field, const char *fmt, ...)
{
  va_list ap;

  fprintf (stderr, "vmimport manifest: preflight: %s: ", field);
  va_start (ap, fmt);
  vfprintf (stderr, fmt, ap);
  va_end (ap);
  fprintf (stderr, "\n");
}

static bool
valid_subdomain (const char *s, size_t len)
{
  if (len == 0 || len > 253)
    return false;
  for (size_t i = 0; i < len; i++) {
    char c = s[i];
    bool alnum = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
    if (!alnum && ((c != '-' && c != '.') || i == 0 || i == len - 1))
      return false;
  }
  return true;
}

/* "namespace/name": a namespace label and a NetworkAttachmentDefinition
 * name. */
static bool
valid_destination (const char *d)
{
  const char *slash = strchr (d, '/');
  char ns[VMI_K8S_NAME_MAX + 1];

  if (slash == NULL || (size_t) (slash - d) > VMI_K8S_NAME_MAX)
    return false;
  memcpy (ns, d, (size_t) (slash - d));
  ns[slash - d] = '\0';
  return vmi_k8s_is_label (ns)
         && valid_subdomain (slash + 1, strlen (slash + 1));
}

/* The spec's own values, before the source is opened.  Returns the
 * number of errors (each printed). */
static int
preflight_spec (const struct vmi_import_spec *s)
{
  char field[96];
  int n = 0;

  if (s->default_disk_bus && !one_of (s->default_disk_bus, disk_buses)) {
    refuse ("spec.defaultDiskBusType", "\"%s\" is not a disk bus KubeVirt "
            "has (valid: sata, scsi, usb, virtio)", s->default_disk_bus);
    n++;
  }
  if (s->default_nic_model && !one_of (s->default_nic_model, nic_models)) {
    refuse ("spec.defaultNetworkInterfaceModel", "\"%s\" is not a valid "
            "model (valid: e1000, e1000e, ne2k_pci, pcnet, rtl8139, virtio)",
            s->default_nic_model);
    n++;
  }
  if (s->namespace_ && !vmi_k8s_is_label (s->namespace_)) {
    refuse ("metadata.namespace", "\"%s\" is not a valid namespace name "
            "(RFC 1123 label)", s->namespace_);
    n++;
  }
  for (size_t i = 0; i < s->nmappings; i++) {
    const struct vmi_network_mapping *m = &s->mappings[i];
    for (size_t j = 0; j < i; j++)
      if (!strcmp (s->mappings[j].source_network, m->source_network)) {
        char other[64];
        snprintf (field, sizeof field, "spec.networkMapping[%zu].sourceNetwork",
                  i);
        snprintf (other, sizeof other, "spec.networkMapping[%zu]", j);
        refuse (field, "\"%s\" is mapped twice (also in %s)",
                m->source_network, other);
        n++;
        break;
      }
    if (!valid_destination (m->destination_network)) {
      snprintf (field, sizeof field,
                "spec.networkMapping[%zu].destinationNetwork", i);
      refuse (field, "\"%s\" is not of the form namespace/name",
              m->destination_network);
      n++;
    }
    if (m->interface_model && !one_of (m->interface_model, nic_models)) {
      snprintf (field, sizeof field,
                "spec.networkMapping[%zu].networkInterfaceModel", i);
      refuse (field, "\"%s\" is not a valid model (valid: e1000, e1000e, "
              "ne2k_pci, pcnet, rtl8139, virtio)", m->interface_model);
      n++;
    }
  }
  return n;
}

/* spec.sourceCluster against the source object of PATH (a source YAML):
 * the same kind, and the same name when both say one.  Returns the number
 * of errors (printed); a file that does not parse is left to the
 * provider, which says why. */
static int
preflight_cluster (const struct vmi_import_spec *s, const char *path)
{
  struct vmi_source_spec src;
  char *text = NULL;
  size_t len = 0;
  FILE *f = fopen (path, "rb"), *mem = NULL;
  int n = 0;

  if (f == NULL || (s->cluster_kind == NULL && s->cluster_name == NULL))
    goto out;
  if ((mem = open_memstream (&text, &len)) == NULL)
    goto out;
  for (int c; (c = getc (f)) != EOF && len < (1u << 20);)
    putc (c, mem);
  fclose (mem);
  if (vmi_source_yaml_parse (text, len, path, &src) == -1)
    goto out;
  if (s->cluster_kind && strcmp (s->cluster_kind, src.kind)) {
    refuse ("spec.sourceCluster.kind",
            "\"%s\", but %s holds a source of kind %s",
            s->cluster_kind, path, src.kind);
    n++;
  }
  if (s->cluster_name && src.name && strcmp (s->cluster_name, src.name)) {
    refuse ("spec.sourceCluster.name", "\"%s\", but %s holds %s \"%s\"",
            s->cluster_name, path, src.kind, src.name);
    n++;
  }
  vmi_source_spec_clear (&src);
 out:
  if (text)
    explicit_bzero (text, len);   /* it held the Secret */
  free (text);
  if (f)
    fclose (f);
  return n;
}

/* Folder paths equal, leading and trailing '/' aside ("" is the top). */
static bool
same_folder (const char *a, const char *b)
{
  size_t la, lb;

  a = a ? a : "";
  b = b ? b : "";
  a += strspn (a, "/");
  b += strspn (b, "/");
  for (la = strlen (a); la > 0 && a[la - 1] == '/'; la--)
    ;
  for (lb = strlen (b); lb > 0 && b[lb - 1] == '/'; lb--)
    ;
  return la == lb && strncmp (a, b, la) == 0;
}

/* The VM spec.virtualMachineName names (by name or ID; for VMware, in
 * spec.folder when given, as the add-on uses it).  -1 and a message when
 * none or several match. */
static long
find_vm (const struct vmi_provider *p, const struct vmi_import_spec *s)
{
  long found = -1;
  size_t n = 0;

  for (size_t i = 0; i < p->nvms; i++) {
    const struct vmi_vm *vm = p->vms[i];
    bool m = s->vm_name == NULL || !strcmp (vm->name, s->vm_name)
             || (vm->id && !strcmp (vm->id, s->vm_name));
    if (m && s->folder && vm->source_kind
        && !strcmp (vm->source_kind, "vmware")
        && !same_folder (s->folder, vm->folder))
      m = false;
    if (m) {
      if (found == -1)
        found = (long) i;
      n++;
    }
  }
  if (n == 1)
    return found;
  if (n == 0)
    fprintf (stderr, "vmimport manifest: preflight: spec.virtualMachineName: "
             "no VM named \"%s\"%s%s%s in the source (it holds:", s->vm_name,
             s->folder ? " in folder \"" : "", s->folder ? s->folder : "",
             s->folder ? "\"" : "");
  else if (s->vm_name == NULL)
    fprintf (stderr, "vmimport manifest: the source holds %zu VMs; name one "
             "with --vm or spec.virtualMachineName (", n);
  else
    fprintf (stderr, "vmimport manifest: preflight: spec.virtualMachineName: "
             "%zu VMs are named \"%s\"; give the ID (", n, s->vm_name);
  for (size_t i = 0; i < p->nvms; i++)
    fprintf (stderr, "%s %s%s%s%s%s%s", i ? "," : "",
             p->vms[i]->folder ? p->vms[i]->folder : "",
             p->vms[i]->folder ? "/" : "", p->vms[i]->name,
             p->vms[i]->id ? " [" : "", p->vms[i]->id ? p->vms[i]->id : "",
             p->vms[i]->id ? "]" : "");
  fprintf (stderr, ")\n");
  return -1;
}

/* A comment above the VirtualMachine. */
static int __attribute__ ((format (printf, 2, 3)))
note (struct mf_plan *p, const char *fmt, ...)
{
  char **v = realloc (p->notes, (p->nnotes + 1) * sizeof *v);
  va_list ap;
  int r;

  if (v == NULL)
    return -1;
  p->notes = v;
  va_start (ap, fmt);
  r = vasprintf (&v[p->nnotes], fmt, ap);
  va_end (ap);
  if (r == -1)
    return -1;
  p->nnotes++;
  return 0;
}

static bool
is_openstack (const struct vmi_vm *vm)
{
  return vm->source_kind && !strcmp (vm->source_kind, "openstack");
}

/* The KubeVirt bus of a source disk; *WHY says what was not kept. */
static const char *
disk_bus (const struct mf_plan *p, const struct vmi_disk *d, const char **why)
{
  const char *def = p->spec->default_disk_bus
                    ? p->spec->default_disk_bus : "virtio";
  const char *b = d->bus;

  *why = NULL;
  if (is_openstack (p->vm))
    return def;   /* the add-on's rule: OpenStack disks get the default */
  if (b == NULL) {
    *why = "the source does not say its bus; spec.defaultDiskBusType is used";
    return def;
  }
  if (!strcasecmp (b, "virtio") || !strcasecmp (b, "sata")
      || !strcasecmp (b, "usb"))
    return !strcasecmp (b, "virtio") ? "virtio" : !strcasecmp (b, "sata")
           ? "sata" : "usb";
  if (strcasestr (b, "ahci"))
    return "sata";
  if (strcasestr (b, "scsi") || strcasestr (b, "lsi")
      || strcasestr (b, "buslogic") || strcasestr (b, "sas"))
    return "scsi";   /* PVSCSI, LSI Logic (SAS), BusLogic */
  if (!strcasecmp (b, "ide")) {
    *why = "the source's IDE bus is attached as sata: KubeVirt has no IDE "
           "bus, and guests that boot from IDE have AHCI drivers";
    return "sata";
  }
  if (!strcasecmp (b, "nvme")) {
    *why = "the source's NVMe bus becomes spec.defaultDiskBusType: KubeVirt "
           "has no NVMe disk bus";
    return def;
  }
  *why = "the source's bus is unknown to KubeVirt; spec.defaultDiskBusType "
         "is used";
  return def;
}

/* A source NIC model as KubeVirt names it, or NULL. */
static const char *
nic_model_of (const char *m)
{
  if (m == NULL)
    return NULL;
  if (!strncasecmp (m, "vmxnet", 6) || !strncasecmp (m, "virtio", 6))
    return "virtio";
  if (!strcasecmp (m, "e1000e"))
    return "e1000e";
  if (!strcasecmp (m, "e1000"))
    return "e1000";
  if (!strncasecmp (m, "pcnet", 5))
    return "pcnet";
  if (!strcasecmp (m, "rtl8139"))
    return "rtl8139";
  if (!strcasecmp (m, "ne2k_pci"))
    return "ne2k_pci";
  return NULL;
}

static const struct vmi_network_mapping *
mapping_of (const struct vmi_import_spec *s, const char *network)
{
  for (size_t i = 0; network && i < s->nmappings; i++)
    if (!strcmp (s->mappings[i].source_network, network))
      return &s->mappings[i];
  return NULL;
}

/* NICs: mapped ones to their Multus network (bridge); the first unmapped
 * one to the pod network, as the add-on's documentation promises (KubeVirt
 * allows one pod interface: more unmapped NICs are a preflight error). */
static int
plan_nics (struct mf_plan *p)
{
  const struct vmi_vm *vm = p->vm;
  const char *def = p->spec->default_nic_model
                    ? p->spec->default_nic_model : "virtio";
  size_t n = vm->nnics ? vm->nnics : 1, pod = (size_t) -1;
  int errors = 0;
  char name[32];

  if ((p->nics = calloc (n, sizeof *p->nics)) == NULL)
    return -1;
  for (size_t i = 0; i < n; i++) {
    const struct vmi_nic *src = vm->nnics ? &vm->nics[i] : NULL;
    const struct vmi_network_mapping *m
      = src ? mapping_of (p->spec, src->network) : NULL;
    struct mf_nic *nic = &p->nics[p->nnics];
    const char *model = is_openstack (vm) ? NULL
                        : nic_model_of (src ? src->model : NULL);

    if (m == NULL && pod != (size_t) -1) {
      char a[256];
      snprintf (a, sizeof a, "NIC %zu (source network \"%s\")", i,
                src && src->network ? src->network : "?");
      if (!p->spec->skip_preflight) {
        refuse ("spec.networkMapping", "%s has no entry, and the pod network "
                "already holds another unmapped NIC (KubeVirt allows one); "
                "map it to a network", a);
        errors++;
      }
      else if (note (p, "%s: not attached: unmapped, and the pod network "
                     "already holds another NIC", a) == -1)
        return -1;
      continue;
    }
    if (m == NULL)
      pod = i;
    nic->src = src;
    snprintf (name, sizeof name, "nic-%zu", i);
    if ((nic->name = strdup (name)) == NULL)
      return -1;
    nic->model = m && m->interface_model ? m->interface_model
                 : model ? model : def;
    nic->multus = m ? m->destination_network : NULL;
    p->nnics++;
  }
  return errors ? -2 : 0;
}

/* The path S percent-encoded for a URL (RFC 3986 unreserved and '/'
 * kept). */
static char *
url_escape (const char *s)
{
  char *out = malloc (strlen (s) * 3 + 1), *o = out;

  if (out == NULL)
    return NULL;
  for (; *s; s++) {
    unsigned char c = (unsigned char) *s;
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
        || (c >= '0' && c <= '9') || strchr ("-._~/", c))
      *o++ = (char) c;
    else
      o += sprintf (o, "%%%02X", c);
  }
  *o = '\0';
  return out;
}

/* VM_PATH: where vmimport serve (and vmimportfs) show the VM:
 * [<folder>/...]<name>, as the source's tree names it. */
static int
plan_disks (struct mf_plan *p, const char *url_base, const char *vm_path)
{
  const struct vmi_vm *vm = p->vm;
  char *dir = NULL, buf[160];
  int rc = -1;

  if ((p->disks = calloc (vm->ndisks ? vm->ndisks : 1, sizeof *p->disks))
      == NULL || (vm_path && (dir = strdup (vm_path)) == NULL)
      || (dir == NULL && (dir = vmi_vm_dir_name (vm->name)) == NULL))
    goto out;
  for (size_t i = 0; i < vm->ndisks; i++) {
    struct mf_disk *d = &p->disks[i];
    const char *why;
    d->src = &vm->disks[i];
    p->ndisks++;
    if (d->src->capacity < 0) {
      fprintf (stderr, "vmimport manifest: %s %s: the source does not say "
               "its capacity\n", vm->name, d->src->file);
      rc = -2;
      goto out;
    }
    d->size_mib = (d->src->capacity + (1 << 20) - 1) >> 20;
    d->bus = disk_bus (p, d->src, &why);
    if (why) {
      if (note (p, "disk-%zu: bus %s: %s", i, d->bus, why) == -1)
        goto out;
    }
    /* <vm>-disk-N: unique, as the VM name is. */
    snprintf (buf, sizeof buf, "%s-disk-%zu", p->name, i);
    if ((d->claim = vmi_k8s_name (buf, VMI_K8S_NAME_MAX)) == NULL
        || (p->image_mode
            && (d->image = vmi_k8s_name (buf, VMI_K8S_NAME_MAX)) == NULL))
      goto out;
    if (p->image_mode) {
      size_t blen = strlen (url_base);
      char *esc = url_escape (dir);
      if (esc == NULL
          || asprintf (&d->url, "%.*s/%s/%s", (int) (blen && url_base[blen - 1]
                                                     == '/' ? blen - 1 : blen),
                       url_base, esc, d->src->file) == -1) {
        free (esc);
        d->url = NULL;
        goto out;
      }
      free (esc);
    }
  }
  rc = 0;
 out:
  free (dir);
  return rc;
}

/* CPU topology: sockets x cores from cpus and cores_per_socket; a source
 * that does not say cores_per_socket gets one socket. */
static int
plan_cpu_memory (struct mf_plan *p)
{
  const struct vmi_vm *vm = p->vm;
  int cpus = vm->cpus > 0 ? vm->cpus : 1;
  int cps = vm->cores_per_socket > 0 ? vm->cores_per_socket : cpus;

  if (vm->cpus <= 0
      && note (p, "CPUs: the source does not say; 1 assumed") == -1)
    return -1;
  if (cpus % cps != 0)
    cps = 1;
  p->sockets = cpus / cps;
  p->cores = cps;
  p->threads = 1;
  p->memory_mib = vm->memory_mib > 0 ? vm->memory_mib : 2048;
  if (vm->memory_mib <= 0
      && note (p, "memory: the source does not say; 2048 MiB assumed") == -1)
    return -1;
  p->efi = vm->firmware && !strcmp (vm->firmware, "efi");
  p->secure_boot = p->efi && vm->secure_boot == 1;
  p->tpm = vm->tpm == 1;
  return 0;
}

static void
plan_free (struct mf_plan *p)
{
  for (size_t i = 0; i < p->ndisks; i++) {
    free (p->disks[i].claim);
    free (p->disks[i].image);
    free (p->disks[i].url);
  }
  for (size_t i = 0; i < p->nnics; i++)
    free (p->nics[i].name);
  for (size_t i = 0; i < p->nnotes; i++)
    free (p->notes[i]);
  free (p->disks);
  free (p->nics);
  free (p->notes);
  free (p->name);
  free (p->job_name);
}

/* Decide everything, then write it all at once: a refused import writes
 * nothing. */
static int
write_manifest (const struct vmi_vm *vm, const struct vmi_import_spec *s,
                const struct mf_flags *f, const char *vm_path, FILE *out)
{
  struct mf_plan p = { .vm = vm, .spec = s };
  char *text = NULL;
  size_t len = 0;
  FILE *mem = NULL;
  int rc = EXIT_SOURCE, r;

  p.ns = s->namespace_ ? s->namespace_ : "default";
  p.image_mode = f->mode && !strcmp (f->mode, "image");
  p.start = !f->no_start;
  if (f->job) {
    char buf[160];
    /* The VM starts once the Job has copied its disks (vmimport import
     * --job sets the run strategy then). */
    p.job = true;
    p.start = false;
    p.job_image = f->job_image ? f->job_image : "vmimport:" VMIMPORT_VERSION;
    p.job_source = f->job_source;
    p.job_secret = f->job_secret;
    p.job_vm = vm->id ? vm->id : vm->name;
    snprintf (buf, sizeof buf, "%s-copy", vm->name);
    if ((p.job_name = vmi_k8s_name (buf, VMI_K8S_NAME_MAX)) == NULL)
      goto nomem;
  }
  if ((p.name = vmi_k8s_name (vm->name, VMI_K8S_NAME_MAX)) == NULL
      || plan_cpu_memory (&p) == -1)
    goto nomem;
  if ((r = plan_nics (&p)) == -1)
    goto nomem;
  if (r == -2)
    goto out;
  if ((r = plan_disks (&p, f->url_base, vm_path)) == -1)
    goto nomem;
  if (r == -2)
    goto out;
  if ((mem = open_memstream (&text, &len)) == NULL)
    goto nomem;
  if (mf_emit (&p, mem) == -1) {
    fclose (mem);
    mem = NULL;
    cli_print_error ("manifest");
    goto out;
  }
  if (fclose (mem) != 0) {
    mem = NULL;
    goto nomem;
  }
  mem = NULL;
  if (fwrite (text, 1, len, out) != len || fflush (out) != 0) {
    fprintf (stderr, "vmimport manifest: writing %s: %s\n",
             out == stdout ? "to standard output" : "the manifest",
             strerror (errno));
    rc = EXIT_DEST;
    goto out;
  }
  rc = EXIT_DONE;
  goto out;
 nomem:
  fprintf (stderr, "vmimport manifest: out of memory\n");
 out:
  if (mem)
    fclose (mem);
  free (text);
  plan_free (&p);
  return rc;
}

static int
parse_flags (int argc, char **argv, struct cli_common *c, struct mf_flags *f)
{
  static const struct option longopts[] = {
    CLI_COMMON_OPTIONS,
    { "file", required_argument, NULL, 'f' },
    { "vm", required_argument, NULL, OPT_VM },
    { "mode", required_argument, NULL, OPT_MODE },
    { "image-url-base", required_argument, NULL, OPT_IMAGE_URL_BASE },
    { "no-start", no_argument, NULL, OPT_NO_START },
    { "namespace", required_argument, NULL, OPT_NAMESPACE },
    { "storage-class", required_argument, NULL, OPT_STORAGE_CLASS },
    { "disk-bus", required_argument, NULL, OPT_DISK_BUS },
    { "nic-model", required_argument, NULL, OPT_NIC_MODEL },
    { "network", required_argument, NULL, OPT_NETWORK },
    { "skip-preflight-checks", no_argument, NULL, OPT_SKIP_PREFLIGHT },
    { "job", no_argument, NULL, OPT_JOB },
    { "job-image", required_argument, NULL, OPT_JOB_IMAGE },
    { "job-source", required_argument, NULL, OPT_JOB_SOURCE },
    { "job-secret", required_argument, NULL, OPT_JOB_SECRET },
    { "folder", required_argument, NULL, OPT_FOLDER },
    { "converted", required_argument, NULL, OPT_CONVERTED },
    { 0 }
  };
  int opt, r;

  while ((opt = getopt_long (argc, argv, "f:vh", longopts, NULL)) != -1) {
    switch (opt) {
    case 'h':
      usage (stdout);
      return EXIT_DONE;
    case 'f': f->file = optarg; break;
    case OPT_MODE: f->mode = optarg; break;
    case OPT_IMAGE_URL_BASE: f->url_base = optarg; break;
    case OPT_NO_START: f->no_start = true; break;
    case OPT_JOB: f->job = true; break;
    case OPT_JOB_IMAGE: f->job_image = optarg; break;
    case OPT_JOB_SOURCE: f->job_source = optarg; break;
    case OPT_JOB_SECRET: f->job_secret = optarg; break;
    case OPT_NAMESPACE: f->ns = optarg; break;
    case OPT_STORAGE_CLASS: f->storage_class = optarg; break;
    case OPT_DISK_BUS: f->disk_bus = optarg; break;
    case OPT_NIC_MODEL: f->nic_model = optarg; break;
    case OPT_SKIP_PREFLIGHT: f->skip_preflight = 1; break;
    case OPT_FOLDER: f->folder = optarg; break;
    case OPT_CONVERTED: f->converted = optarg; break;
    case OPT_NETWORK: {
      const char **v;
      const char *eq = strrchr (optarg, '=');
      if (eq == NULL || eq == optarg) {
        fprintf (stderr, "vmimport manifest: --network %s: expected "
                 "SOURCE-NETWORK=NAMESPACE/NAME[,MODEL]\n", optarg);
        return EXIT_USAGE;
      }
      if ((v = realloc (f->networks, (f->nnetworks + 1) * sizeof *v)) == NULL)
        return EXIT_SOURCE;
      f->networks = v;
      v[f->nnetworks++] = optarg;
      break;
    }
    default:
      if ((r = cli_common_option (c, opt, optarg)) != 1) {
        if (r == 0)
          usage (stderr);
        return EXIT_USAGE;
      }
    }
  }
  if (f->mode && strcmp (f->mode, "pvc") && strcmp (f->mode, "image")) {
    fprintf (stderr, "vmimport manifest: --mode %s: expected pvc or image\n",
             f->mode);
    return EXIT_USAGE;
  }
  if (f->mode && !strcmp (f->mode, "image") && f->url_base == NULL) {
    fprintf (stderr, "vmimport manifest: --mode image needs --image-url-base "
             "URL (where vmimport serve publishes the disks)\n");
    return EXIT_USAGE;
  }
  if (optind + 1 < argc) {
    fprintf (stderr, "vmimport manifest: give one SOURCE at most\n");
    return EXIT_USAGE;
  }
  if (optind == argc && f->file == NULL && c->source_file == NULL) {
    fprintf (stderr, "vmimport manifest: give -f IMPORT.yaml or SOURCE "
                     "(or --source-file)\n");
    return EXIT_USAGE;
  }
  return cli_common_finish (c) == -1 ? EXIT_USAGE : -1;
}

/* --job: the source as the Job's pod reaches it (a URL: the pod has none
 * of this machine's files) and the Secret it mounts, from the flags, else
 * from SOURCE or the source object (kept in *SRC).  -1 when set. */
static int
job_source (struct mf_flags *f, const char *source_file, const char *source,
            struct vmi_source_spec *src)
{
  if (f->mode && !strcmp (f->mode, "image")) {
    fprintf (stderr, "vmimport manifest: --job copies into PVCs: it goes with "
             "--mode pvc\n");
    return EXIT_USAGE;
  }
  if (source_file) {
    FILE *in = fopen (source_file, "rb");
    char *text = NULL;
    size_t len = 0;
    if (in) {
      len = fread ((text = malloc (1 << 20)), 1, 1 << 20, in);
      fclose (in);
    }
    if (text == NULL
        || vmi_source_yaml_parse (text, len, source_file, src) == -1) {
      if (text)
        explicit_bzero (text, len);
      free (text);
      cli_print_error ("manifest --job");
      return EXIT_SOURCE;
    }
    explicit_bzero (text, len);
    free (text);
    if (f->job_secret == NULL)
      f->job_secret = src->credentials;
    if (f->job_source == NULL && src->kind && !strcmp (src->kind, "OvaSource"))
      f->job_source = src->url;
  }
  if (f->job_source == NULL && source && strstr (source, "://"))
    f->job_source = source;
  if (f->job_source == NULL || strstr (f->job_source, "://") == NULL) {
    fprintf (stderr, "vmimport manifest: --job: the Job's pod reads the "
             "source over the network; give --job-source URL\n");
    return EXIT_USAGE;
  }
  return -1;
}

int
mf_preflight (const struct vmi_import_spec *s, const char *source_file)
{
  int n;

  if (s->skip_preflight)
    return 0;
  if ((n = preflight_spec (s)) > 0 || source_file == NULL)
    return n;
  return preflight_cluster (s, source_file);
}

int
mf_write_vm (struct vmi_provider *p, const struct vmi_import_spec *s,
             struct mf_flags *f, const char *source, const char *source_file,
             FILE *out)
{
  char *vm_path = NULL;
  struct vmi_source_spec job_text = { 0 };
  int rc = EXIT_SOURCE;
  long v;

  if ((v = find_vm (p, s)) == -1)
    goto out;
  if (f->job && (rc = job_source (f, source_file, source, &job_text)) != -1)
    goto out;
  rc = EXIT_SOURCE;
  /* Image mode: the URLs follow the tree vmimport serve publishes (its
   * path worked out, no disk opened). */
  if (f->mode && !strcmp (f->mode, "image")
      && (vm_path = vmi_tree_vm_path (p, (size_t) v)) == NULL) {
    cli_print_error (NULL);
    goto out;
  }
  if (f->converted && convert_record_apply (p->vms[v], f->converted) == -1) {
    cli_print_error ("manifest --converted");
    goto out;
  }
  rc = write_manifest (p->vms[v], s, f, vm_path, out);
 out:
  free (vm_path);
  vmi_source_spec_clear (&job_text);
  return rc;
}

int
cli_manifest (int argc, char **argv)
{
  struct cli_common c;
  struct mf_flags f = { .skip_preflight = -1 };
  struct vmi_import_spec spec;
  struct vmi_provider *p = NULL;
  const char *source;
  int rc;

  cli_common_init (&c);
  vmi_import_spec_init (&spec);
  if ((rc = parse_flags (argc, argv, &c, &f)) != -1)
    goto out;
  rc = EXIT_SOURCE;
  if (f.file && vmi_import_yaml_read (f.file, &spec) == -1) {
    cli_print_error (NULL);
    goto out;
  }
  if (apply_flags (&spec, &f, c.vm) == -1)
    goto out;
  source = optind < argc ? argv[optind] : NULL;
  /* The import file may carry its source object and Secret too. */
  if (source == NULL && c.source_file == NULL)
    c.source_file = f.file;
  if (mf_preflight (&spec, source ? NULL : c.source_file) > 0)
    goto out;
  if ((p = cli_open_source (&c, source, &rc)) == NULL)
    goto out;
  rc = mf_write_vm (p, &spec, &f, source, c.source_file, stdout);
 out:
  vmi_provider_close (p);
  vmi_import_spec_clear (&spec);
  free (f.networks);
  cli_common_clear (&c);
  return rc;
}
