/* vmimport manifest: the plan as Kubernetes objects, one YAML document
 * each, written with libyaml's document API and emitter.  libyaml writes
 * no comments, so a document's comments go out just before its "---". */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <json-c/json.h>
#include <yaml.h>

#include "vmimport/error.h"
#include "manifest.h"

#define LABEL_IMPORTED "migration.harvesterhci.io/imported"
#define LABEL_SOURCE_KIND "migration.harvesterhci.io/source-kind"
#define ANN_SOURCE_NAME "migration.harvesterhci.io/source-name"

/* A document being built; a failed add leaves ok false. */
struct ydoc {
  yaml_document_t d;
  bool ok;
};

/* Would a plain scalar S be read back as something other than a string
 * (a bool, a number, null), or not be plain at all? */
static bool
needs_quotes (const char *s)
{
  static const char *const words[] = {
    "true", "false", "yes", "no", "on", "off", "y", "n", "null", "~", NULL
  };
  char *end;

  /* A leading digit may read as a number, a date or (YAML 1.1) a
   * sexagesimal like a MAC address: quote it. */
  if (*s == '\0' || (*s >= '0' && *s <= '9'))
    return true;
  for (size_t i = 0; words[i]; i++)
    if (!strcasecmp (s, words[i]))
      return true;
  (void) strtod (s, &end);
  if (*end == '\0')
    return true;
  return strchr ("-?:,[]{}#&*!|>'\"%@` ", *s) != NULL;
}

static int
node (struct ydoc *y, int id)
{
  if (id == 0)
    y->ok = false;
  return id;
}

static int
y_str (struct ydoc *y, const char *s)
{
  return node (y, yaml_document_add_scalar (
                    &y->d, NULL, (yaml_char_t *) s, (int) strlen (s),
                    needs_quotes (s) ? YAML_DOUBLE_QUOTED_SCALAR_STYLE
                    : YAML_ANY_SCALAR_STYLE));
}

/* Numbers and booleans: plain scalars with the default tag, so the
 * emitter writes them bare (as YAML's core schema reads them). */
static int
y_plain (struct ydoc *y, const char *s)
{
  return node (y, yaml_document_add_scalar (&y->d, NULL, (yaml_char_t *) s,
                                            (int) strlen (s),
                                            YAML_PLAIN_SCALAR_STYLE));
}

static int
y_int (struct ydoc *y, int64_t v)
{
  char buf[32];

  snprintf (buf, sizeof buf, "%" PRId64, v);
  return y_plain (y, buf);
}

static int
y_bool (struct ydoc *y, bool v)
{
  return y_plain (y, v ? "true" : "false");
}

static int
y_map (struct ydoc *y)
{
  return node (y, yaml_document_add_mapping (&y->d, NULL,
                                             YAML_BLOCK_MAPPING_STYLE));
}

static int
y_seq (struct ydoc *y)
{
  return node (y, yaml_document_add_sequence (&y->d, NULL,
                                              YAML_BLOCK_SEQUENCE_STYLE));
}

static void
y_set (struct ydoc *y, int map, const char *key, int value)
{
  int k = y_str (y, key);

  if (map && k && value
      && !yaml_document_append_mapping_pair (&y->d, map, k, value))
    y->ok = false;
}

static void
y_append (struct ydoc *y, int seq, int value)
{
  if (seq && value && !yaml_document_append_sequence_item (&y->d, seq, value))
    y->ok = false;
}

/* A new mapping set as KEY in MAP. */
static int
y_sub (struct ydoc *y, int map, const char *key)
{
  int m = y_map (y);

  y_set (y, map, key, m);
  return m;
}

static int
y_quantity_mib (struct ydoc *y, int64_t mib)
{
  char buf[32];

  snprintf (buf, sizeof buf, "%" PRId64 "Mi", mib);
  return y_str (y, buf);
}

/* apiVersion, kind and metadata (name, namespace, the import's labels and
 * the source name annotation); returns the root, *ANN the annotations. */
static int
y_object (struct ydoc *y, const struct mf_plan *p, const char *api,
          const char *kind, const char *name, int *ann)
{
  int root = y_map (y), meta, labels;

  y_set (y, root, "apiVersion", y_str (y, api));
  y_set (y, root, "kind", y_str (y, kind));
  meta = y_sub (y, root, "metadata");
  y_set (y, meta, "name", y_str (y, name));
  y_set (y, meta, "namespace", y_str (y, p->ns));
  labels = y_sub (y, meta, "labels");
  y_set (y, labels, LABEL_IMPORTED, y_str (y, "true"));
  y_set (y, labels, LABEL_SOURCE_KIND,
         y_str (y, p->vm->source_kind ? p->vm->source_kind : "unknown"));
  *ann = y_sub (y, meta, "annotations");
  y_set (y, *ann, ANN_SOURCE_NAME, y_str (y, p->vm->name));
  return root;
}

static int
write_handler (void *data, unsigned char *buffer, size_t size)
{
  return fwrite (buffer, 1, size, data) == size;
}

/* Dump Y (deleted here: the emitter takes the document) to OUT after
 * COMMENTS. */
static int
y_dump (struct ydoc *y, char *const *comments, size_t ncomments, FILE *out)
{
  yaml_emitter_t e;
  int ok;

  if (!y->ok || !yaml_emitter_initialize (&e)) {
    yaml_document_delete (&y->d);
    errno = ENOMEM;
    vmi_error ("writing YAML: out of memory");
    return -1;
  }
  for (size_t i = 0; i < ncomments; i++)
    fprintf (out, "# %s\n", comments[i]);
  yaml_emitter_set_output (&e, write_handler, out);
  yaml_emitter_set_unicode (&e, 1);
  yaml_emitter_set_width (&e, -1);
  if (!(ok = yaml_emitter_open (&e)))
    yaml_document_delete (&y->d);
  else
    ok = yaml_emitter_dump (&e, &y->d) && yaml_emitter_close (&e);
  if (!ok) {
    errno = EIO;
    vmi_error ("writing YAML: %s", e.problem ? e.problem : "emitter error");
  }
  yaml_emitter_delete (&e);
  return ok ? 0 : -1;
}

static int
y_begin (struct ydoc *y)
{
  y->ok = yaml_document_initialize (&y->d, NULL, NULL, NULL, 0, 1);
  if (!y->ok) {
    errno = ENOMEM;
    vmi_error ("writing YAML: out of memory");
    return -1;
  }
  return 0;
}

/* spec of a PVC: Block, RWX (Longhorn live migration), the size, and
 * storageClassName when one is chosen (else the cluster default). */
static void
y_claim_spec (struct ydoc *y, int spec, const struct mf_disk *d,
              const char *storage_class)
{
  int modes = y_seq (y), res, req;

  y_set (y, spec, "accessModes", modes);
  y_append (y, modes, y_str (y, "ReadWriteMany"));
  y_set (y, spec, "volumeMode", y_str (y, "Block"));
  res = y_sub (y, spec, "resources");
  req = y_sub (y, res, "requests");
  y_set (y, req, "storage", y_quantity_mib (y, d->size_mib));
  if (storage_class)
    y_set (y, spec, "storageClassName", y_str (y, storage_class));
}

static int
emit_claim (const struct mf_plan *p, const struct mf_disk *d, FILE *out)
{
  struct ydoc y;
  int root, ann;

  if (y_begin (&y) == -1)
    return -1;
  root = y_object (&y, p, "v1", "PersistentVolumeClaim", d->claim, &ann);
  if (d->src->source_name)
    y_set (&y, ann, "migration.harvesterhci.io/source-disk",
           y_str (&y, d->src->source_name));
  y_claim_spec (&y, y_sub (&y, root, "spec"), d, p->spec->storage_class);
  return y_dump (&y, NULL, 0, out);
}

static int
emit_image (const struct mf_plan *p, const struct mf_disk *d, FILE *out)
{
  struct ydoc y;
  int root, ann, spec;
  char display[512];

  if (y_begin (&y) == -1)
    return -1;
  root = y_object (&y, p, "harvesterhci.io/v1beta1", "VirtualMachineImage",
                   d->image, &ann);
  /* Harvester derives the image's Longhorn parameters from this class. */
  if (p->spec->storage_class)
    y_set (&y, ann, "harvesterhci.io/storageClassName",
           y_str (&y, p->spec->storage_class));
  spec = y_sub (&y, root, "spec");
  snprintf (display, sizeof display, "%s %s", p->vm->name, d->src->file);
  y_set (&y, spec, "displayName", y_str (&y, display));
  y_set (&y, spec, "sourceType", y_str (&y, "download"));
  y_set (&y, spec, "url", y_str (&y, d->url));
  return y_dump (&y, NULL, 0, out);
}

/* Image mode: the VM's PVCs come from its images through the annotation
 * Harvester's UI writes (JSON), each with the image's storage class. */
static char *
claim_templates (const struct mf_plan *p)
{
  struct json_object *a = json_object_new_array ();
  char *s = NULL;

  for (size_t i = 0; i < p->ndisks; i++) {
    const struct mf_disk *d = &p->disks[i];
    struct json_object *t = json_object_new_object ();
    struct json_object *meta = json_object_new_object ();
    struct json_object *ann = json_object_new_object ();
    struct json_object *spec = json_object_new_object ();
    struct json_object *modes = json_object_new_array ();
    struct json_object *res = json_object_new_object ();
    struct json_object *req = json_object_new_object ();
    char buf[600];

    json_object_object_add (meta, "name", json_object_new_string (d->claim));
    snprintf (buf, sizeof buf, "%s/%s", p->ns, d->image);
    json_object_object_add (ann, "harvesterhci.io/imageId",
                            json_object_new_string (buf));
    json_object_object_add (meta, "annotations", ann);
    json_object_object_add (t, "metadata", meta);
    json_object_array_add (modes, json_object_new_string ("ReadWriteMany"));
    json_object_object_add (spec, "accessModes", modes);
    snprintf (buf, sizeof buf, "%" PRId64 "Mi", d->size_mib);
    json_object_object_add (req, "storage", json_object_new_string (buf));
    json_object_object_add (res, "requests", req);
    json_object_object_add (spec, "resources", res);
    json_object_object_add (spec, "volumeMode",
                            json_object_new_string ("Block"));
    snprintf (buf, sizeof buf, "longhorn-%s", d->image);
    json_object_object_add (spec, "storageClassName",
                            json_object_new_string (buf));
    json_object_object_add (t, "spec", spec);
    json_object_array_add (a, t);
  }
  s = strdup (json_object_to_json_string_ext (
        a, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
  json_object_put (a);
  return s;
}

static void
y_domain_cpu_memory (struct ydoc *y, const struct mf_plan *p, int domain)
{
  int cpu = y_sub (y, domain, "cpu"), mem, res, lim;
  char buf[32];

  y_set (y, cpu, "sockets", y_int (y, p->sockets));
  y_set (y, cpu, "cores", y_int (y, p->cores));
  y_set (y, cpu, "threads", y_int (y, p->threads));
  mem = y_sub (y, domain, "memory");
  y_set (y, mem, "guest", y_quantity_mib (y, p->memory_mib));
  /* As Harvester's UI writes a VM: limits; its webhook derives requests. */
  res = y_sub (y, domain, "resources");
  lim = y_sub (y, res, "limits");
  snprintf (buf, sizeof buf, "%d", p->sockets * p->cores * p->threads);
  y_set (y, lim, "cpu", y_str (y, buf));
  y_set (y, lim, "memory", y_quantity_mib (y, p->memory_mib));
}

static void
y_domain_firmware (struct ydoc *y, const struct mf_plan *p, int domain)
{
  int fw = y_sub (y, domain, "firmware");
  int boot = y_sub (y, fw, "bootloader");

  if (p->efi) {
    int efi = y_sub (y, boot, "efi");
    y_set (y, efi, "secureBoot", y_bool (y, p->secure_boot));
    if (p->secure_boot) {
      /* KubeVirt: secure boot needs SMM. */
      int features = y_sub (y, domain, "features");
      int smm = y_sub (y, features, "smm");
      y_set (y, smm, "enabled", y_bool (y, true));
    }
  }
  else
    y_sub (y, boot, "bios");
}

static void
y_devices (struct ydoc *y, const struct mf_plan *p, int domain)
{
  int dev = y_sub (y, domain, "devices");
  int disks = y_seq (y), ifaces = y_seq (y);

  y_set (y, dev, "disks", disks);
  for (size_t i = 0; i < p->ndisks; i++) {
    int d = y_map (y), t;
    char name[32];
    snprintf (name, sizeof name, "disk-%zu", i);
    y_append (y, disks, d);
    y_set (y, d, "name", y_str (y, name));
    y_set (y, d, "bootOrder", y_int (y, (int64_t) i + 1));
    t = y_sub (y, d, "disk");
    y_set (y, t, "bus", y_str (y, p->disks[i].bus));
  }
  y_set (y, dev, "interfaces", ifaces);
  for (size_t i = 0; i < p->nnics; i++) {
    const struct mf_nic *n = &p->nics[i];
    int m = y_map (y);
    y_append (y, ifaces, m);
    y_set (y, m, "name", y_str (y, n->name));
    y_set (y, m, "model", y_str (y, n->model));
    if (n->src && n->src->mac)
      y_set (y, m, "macAddress", y_str (y, n->src->mac));
    /* The pod network: masquerade (it live-migrates); Multus: bridge. */
    y_sub (y, m, n->multus ? "bridge" : "masquerade");
  }
  if (p->tpm)
    y_sub (y, dev, "tpm");
}

static void
y_networks_volumes (struct ydoc *y, const struct mf_plan *p, int spec)
{
  int nets = y_seq (y), vols = y_seq (y);

  y_set (y, spec, "networks", nets);
  for (size_t i = 0; i < p->nnics; i++) {
    int m = y_map (y);
    y_append (y, nets, m);
    y_set (y, m, "name", y_str (y, p->nics[i].name));
    if (p->nics[i].multus) {
      int mu = y_sub (y, m, "multus");
      y_set (y, mu, "networkName", y_str (y, p->nics[i].multus));
    }
    else
      y_sub (y, m, "pod");
  }
  y_set (y, spec, "volumes", vols);
  for (size_t i = 0; i < p->ndisks; i++) {
    int v = y_map (y), c;
    char name[32];
    snprintf (name, sizeof name, "disk-%zu", i);
    y_append (y, vols, v);
    y_set (y, v, "name", y_str (y, name));
    c = y_sub (y, v, "persistentVolumeClaim");
    y_set (y, c, "claimName", y_str (y, p->disks[i].claim));
  }
}

static int
emit_vm (const struct mf_plan *p, FILE *out)
{
  struct ydoc y;
  int root, ann, spec, tmpl, tmeta, tlabels, tspec, domain;
  char *templates = NULL;

  if (y_begin (&y) == -1)
    return -1;
  root = y_object (&y, p, "kubevirt.io/v1", "VirtualMachine", p->name, &ann);
  if (p->image_mode) {
    if ((templates = claim_templates (p)) == NULL)
      y.ok = false;
    else
      y_set (&y, ann, "harvesterhci.io/volumeClaimTemplates",
             y_str (&y, templates));
  }
  spec = y_sub (&y, root, "spec");
  y_set (&y, spec, "runStrategy",
         y_str (&y, p->start ? "RerunOnFailure" : "Halted"));
  tmpl = y_sub (&y, spec, "template");
  tmeta = y_sub (&y, tmpl, "metadata");
  tlabels = y_sub (&y, tmeta, "labels");
  y_set (&y, tlabels, "harvesterhci.io/vmName", y_str (&y, p->name));
  tspec = y_sub (&y, tmpl, "spec");
  y_set (&y, tspec, "evictionStrategy", y_str (&y, "LiveMigrateIfPossible"));
  domain = y_sub (&y, tspec, "domain");
  y_domain_cpu_memory (&y, p, domain);
  y_domain_firmware (&y, p, domain);
  y_devices (&y, p, domain);
  y_networks_volumes (&y, p, tspec);
  free (templates);
  return y_dump (&y, p->notes, p->nnotes, out);
}

#define JOB_CREDENTIALS "/var/run/vmimport/credentials"
#define JOB_UID "10001"
#define JOB_DISK_GID "6"         /* Debian's "disk" group: block devices */

/* A container's security: not root, no privilege escalation, no
 * capability (a block device needs none: its group is enough), a
 * read-only root filesystem. */
static void
y_container_security (struct ydoc *y, int c)
{
  int sc = y_sub (y, c, "securityContext"), caps, drop;

  y_set (y, sc, "runAsNonRoot", y_bool (y, true));
  y_set (y, sc, "runAsUser", y_plain (y, JOB_UID));
  y_set (y, sc, "allowPrivilegeEscalation", y_bool (y, false));
  y_set (y, sc, "readOnlyRootFilesystem", y_bool (y, true));
  caps = y_sub (y, sc, "capabilities");
  drop = y_seq (y);
  y_set (y, caps, "drop", drop);
  y_append (y, drop, y_str (y, "ALL"));
}

/* One container per disk, so the disks copy in parallel: vmimport copy
 * of disk N into the PVC's device, the source's Secret as files (never in
 * env or args); JSON progress lines go to the pod's log. */
static void
y_job_container (struct ydoc *y, const struct mf_plan *p, int containers,
                 size_t i)
{
  int c = y_map (y), cmd, args, devs, dev, mounts, m;
  char name[32], path[64], idx[24];

  snprintf (name, sizeof name, "disk-%zu", i);
  snprintf (path, sizeof path, "/dev/vmimport/disk-%zu", i);
  snprintf (idx, sizeof idx, "%zu", i);
  y_append (y, containers, c);
  y_set (y, c, "name", y_str (y, name));
  y_set (y, c, "image", y_str (y, p->job_image));
  cmd = y_seq (y);
  y_set (y, c, "command", cmd);
  y_append (y, cmd, y_str (y, "vmimport"));
  y_append (y, cmd, y_str (y, "copy"));
  args = y_seq (y);
  y_set (y, c, "args", args);
  y_append (y, args, y_str (y, p->job_source));
  if (p->job_secret) {
    y_append (y, args, y_str (y, "--credentials-dir"));
    y_append (y, args, y_str (y, JOB_CREDENTIALS));
  }
  y_append (y, args, y_str (y, "--vm"));
  y_append (y, args, y_str (y, p->job_vm));
  y_append (y, args, y_str (y, "--disk"));
  y_append (y, args, y_str (y, idx));
  y_append (y, args, y_str (y, "--target-is-zero"));
  y_append (y, args, y_str (y, path));
  devs = y_seq (y);
  y_set (y, c, "volumeDevices", devs);
  dev = y_map (y);
  y_append (y, devs, dev);
  y_set (y, dev, "name", y_str (y, name));
  y_set (y, dev, "devicePath", y_str (y, path));
  if (p->job_secret) {
    mounts = y_seq (y);
    y_set (y, c, "volumeMounts", mounts);
    m = y_map (y);
    y_append (y, mounts, m);
    y_set (y, m, "name", y_str (y, "credentials"));
    y_set (y, m, "mountPath", y_str (y, JOB_CREDENTIALS));
    y_set (y, m, "readOnly", y_bool (y, true));
  }
  y_container_security (y, c);
}

static int
emit_job (const struct mf_plan *p, FILE *out)
{
  struct ydoc y;
  int root, ann, spec, tmpl, tmeta, tlabels, tspec, psc, groups, containers,
      volumes;

  if (y_begin (&y) == -1)
    return -1;
  root = y_object (&y, p, "batch/v1", "Job", p->job_name, &ann);
  spec = y_sub (&y, root, "spec");
  y_set (&y, spec, "backoffLimit", y_plain (&y, "3"));
  y_set (&y, spec, "activeDeadlineSeconds", y_plain (&y, "86400"));
  y_set (&y, spec, "ttlSecondsAfterFinished", y_plain (&y, "86400"));
  tmpl = y_sub (&y, spec, "template");
  tmeta = y_sub (&y, tmpl, "metadata");
  tlabels = y_sub (&y, tmeta, "labels");
  y_set (&y, tlabels, LABEL_IMPORTED, y_str (&y, "true"));
  y_set (&y, tlabels, "harvesterhci.io/vmName", y_str (&y, p->name));
  tspec = y_sub (&y, tmpl, "spec");
  y_set (&y, tspec, "restartPolicy", y_str (&y, "Never"));
  psc = y_sub (&y, tspec, "securityContext");
  y_set (&y, psc, "runAsNonRoot", y_bool (&y, true));
  y_set (&y, psc, "runAsUser", y_plain (&y, JOB_UID));
  y_set (&y, psc, "runAsGroup", y_plain (&y, JOB_UID));
  y_set (&y, psc, "fsGroup", y_plain (&y, JOB_UID));
  groups = y_seq (&y);
  y_set (&y, psc, "supplementalGroups", groups);
  y_append (&y, groups, y_plain (&y, JOB_DISK_GID));
  containers = y_seq (&y);
  y_set (&y, tspec, "containers", containers);
  for (size_t i = 0; i < p->ndisks; i++)
    y_job_container (&y, p, containers, i);
  volumes = y_seq (&y);
  y_set (&y, tspec, "volumes", volumes);
  for (size_t i = 0; i < p->ndisks; i++) {
    int v = y_map (&y), c;
    char name[32];
    snprintf (name, sizeof name, "disk-%zu", i);
    y_append (&y, volumes, v);
    y_set (&y, v, "name", y_str (&y, name));
    c = y_sub (&y, v, "persistentVolumeClaim");
    y_set (&y, c, "claimName", y_str (&y, p->disks[i].claim));
  }
  if (p->job_secret) {
    int v = y_map (&y), sec;
    y_append (&y, volumes, v);
    y_set (&y, v, "name", y_str (&y, "credentials"));
    sec = y_sub (&y, v, "secret");
    y_set (&y, sec, "secretName", y_str (&y, p->job_secret));
    y_set (&y, sec, "defaultMode", y_plain (&y, "288"));   /* 0440 */
  }
  return y_dump (&y, NULL, 0, out);
}

int
mf_emit (const struct mf_plan *p, FILE *out)
{
  for (size_t i = 0; i < p->ndisks; i++)
    if ((p->image_mode ? emit_image (p, &p->disks[i], out)
         : emit_claim (p, &p->disks[i], out)) == -1)
      return -1;
  if (emit_vm (p, out) == -1)
    return -1;
  return p->job ? emit_job (p, out) : 0;
}
