/* Harvester's VirtualMachineImport (migration.harvesterhci.io/v1beta1) as
 * users write it for the vm-import-controller add-on:
 *
 *   kind: VirtualMachineImport
 *   metadata: { name: alpine-export-test, namespace: default }
 *   spec:
 *     virtualMachineName: alpine-export-test
 *     networkMapping:
 *     - { sourceNetwork: "dvSwitch 1", destinationNetwork: default/vlan1,
 *         networkInterfaceModel: e1000 }
 *     defaultNetworkInterfaceModel: virtio
 *     storageClass: my-storage-class
 *     defaultDiskBusType: scsi
 *     sourceCluster: { name: vcsim, namespace: default, kind: VmwareSource,
 *                      apiVersion: migration.harvesterhci.io/v1beta1 }
 *     skipPreflightChecks: false
 *     forcePowerOff: false
 *     gracefulShutdownTimeoutSeconds: 30
 *
 * Read with libyaml's document loader (aliases are references, not
 * copies).  A field of the wrong shape or an unknown spec field is an
 * error naming it, as the API server's strict validation would say. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include <yaml.h>

#include "vmimport/error.h"
#include "vmimport/k8s.h"
#include "yaml-util.h"

#define MAX_IMPORT_YAML (1u << 20)

struct reader {
  yaml_document_t *doc;
  const char *where;
};

void
vmi_import_spec_init (struct vmi_import_spec *s)
{
  memset (s, 0, sizeof *s);
  s->graceful_timeout = 60;
}

void
vmi_import_spec_clear (struct vmi_import_spec *s)
{
  for (size_t i = 0; i < s->nmappings; i++) {
    free (s->mappings[i].source_network);
    free (s->mappings[i].destination_network);
    free (s->mappings[i].interface_model);
  }
  free (s->mappings);
  free (s->name);
  free (s->namespace_);
  free (s->vm_name);
  free (s->folder);
  free (s->default_nic_model);
  free (s->storage_class);
  free (s->default_disk_bus);
  free (s->cluster_name);
  free (s->cluster_namespace);
  free (s->cluster_kind);
  free (s->cluster_api_version);
  vmi_import_spec_init (s);
}

static char *
dup_or_null (const char *s, int *err)
{
  char *r;

  if (s == NULL)
    return NULL;
  if ((r = strdup (s)) == NULL)
    *err = 1;
  return r;
}

int
vmi_import_spec_add_mapping (struct vmi_import_spec *s, const char *src,
                             const char *dst, const char *model)
{
  struct vmi_network_mapping *m;
  int err = 0;

  m = realloc (s->mappings, (s->nmappings + 1) * sizeof *m);
  if (m == NULL)
    goto nomem;
  s->mappings = m;
  m = &m[s->nmappings];
  m->source_network = dup_or_null (src, &err);
  m->destination_network = dup_or_null (dst, &err);
  m->interface_model = dup_or_null (model, &err);
  s->nmappings++;
  if (!err)
    return 0;
 nomem:
  errno = ENOMEM;
  vmi_error ("out of memory");
  return -1;
}

static int
bad (struct reader *r, yaml_node_t *n, const char *field, const char *what)
{
  errno = EINVAL;
  vmi_error ("%s: line %zu: %s: %s", r->where,
             n ? n->start_mark.line + 1 : 0, field, what);
  return -1;
}

/* A string field: absent leaves *OUT NULL; a null value too. */
static int
get_string (struct reader *r, yaml_node_t *map, const char *key,
            const char *field, char **out)
{
  yaml_node_t *n = vmi_yaml_map_get (r->doc, map, key);

  if (n == NULL)
    return 0;
  if (n->type != YAML_SCALAR_NODE)
    return bad (r, n, field, "expected a string");
  if (n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE
      && (n->data.scalar.length == 0
          || !strcmp ((char *) n->data.scalar.value, "null")
          || !strcmp ((char *) n->data.scalar.value, "~")))
    return 0;
  free (*out);
  *out = strndup ((const char *) n->data.scalar.value, n->data.scalar.length);
  if (*out == NULL) {
    errno = ENOMEM;
    vmi_error ("out of memory");
    return -1;
  }
  return 0;
}

static int
get_bool (struct reader *r, yaml_node_t *map, const char *key,
          const char *field, int *out)
{
  yaml_node_t *n = vmi_yaml_map_get (r->doc, map, key);
  const char *v;

  if (n == NULL)
    return 0;
  v = n->type == YAML_SCALAR_NODE ? (const char *) n->data.scalar.value : "";
  if (n->type == YAML_SCALAR_NODE
      && n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE) {
    if (!strcasecmp (v, "true")) {
      *out = 1;
      return 0;
    }
    if (!strcasecmp (v, "false")) {
      *out = 0;
      return 0;
    }
  }
  return bad (r, n, field, "expected true or false");
}

static int
get_seconds (struct reader *r, yaml_node_t *map, const char *key,
             const char *field, long *out)
{
  yaml_node_t *n = vmi_yaml_map_get (r->doc, map, key);
  char *end;
  long v;

  if (n == NULL)
    return 0;
  if (n->type != YAML_SCALAR_NODE
      || n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE
      || n->data.scalar.length == 0)
    return bad (r, n, field, "expected a number of seconds");
  errno = 0;
  v = strtol ((const char *) n->data.scalar.value, &end, 10);
  if (errno || *end || v < 0)
    return bad (r, n, field, "expected a number of seconds (0 or more)");
  *out = v;
  return 0;
}

/* Every key of MAP must be one of KEYS (NULL-terminated). */
static int
known_keys (struct reader *r, yaml_node_t *map, const char *field,
            const char *const *keys)
{
  char buf[512];

  if (map->type != YAML_MAPPING_NODE)
    return bad (r, map, field, "expected a mapping");
  for (yaml_node_pair_t *p = map->data.mapping.pairs.start;
       p < map->data.mapping.pairs.top; p++) {
    yaml_node_t *k = yaml_document_get_node (r->doc, p->key);
    size_t i;
    for (i = 0; keys[i] && !vmi_yaml_key_is (k, keys[i]); i++)
      ;
    if (keys[i] == NULL) {
      snprintf (buf, sizeof buf, "unknown field \"%.*s\"",
                k && k->type == YAML_SCALAR_NODE
                ? (int) (k->data.scalar.length > 200 ? 200
                         : k->data.scalar.length) : 1,
                k && k->type == YAML_SCALAR_NODE
                ? (const char *) k->data.scalar.value : "?");
      return bad (r, k, field, buf);
    }
  }
  return 0;
}

static int
read_mappings (struct reader *r, yaml_node_t *seq, struct vmi_import_spec *s)
{
  static const char *const keys[] = {
    "sourceNetwork", "destinationNetwork", "networkInterfaceModel", NULL
  };
  char field[96];
  size_t i = 0;

  if (seq->type != YAML_SEQUENCE_NODE)
    return bad (r, seq, "spec.networkMapping", "expected a list");
  for (yaml_node_item_t *it = seq->data.sequence.items.start;
       it < seq->data.sequence.items.top; it++, i++) {
    yaml_node_t *m = yaml_document_get_node (r->doc, *it);
    char *src = NULL, *dst = NULL, *model = NULL;
    int rc = -1;

    snprintf (field, sizeof field, "spec.networkMapping[%zu]", i);
    if (m == NULL || known_keys (r, m, field, keys) == -1)
      return -1;
    snprintf (field, sizeof field, "spec.networkMapping[%zu].sourceNetwork", i);
    if (get_string (r, m, "sourceNetwork", field, &src) == -1)
      goto next;
    if (src == NULL) {
      bad (r, m, field, "missing");
      goto next;
    }
    snprintf (field, sizeof field,
              "spec.networkMapping[%zu].destinationNetwork", i);
    if (get_string (r, m, "destinationNetwork", field, &dst) == -1)
      goto next;
    if (dst == NULL) {
      bad (r, m, field, "missing");
      goto next;
    }
    snprintf (field, sizeof field,
              "spec.networkMapping[%zu].networkInterfaceModel", i);
    if (get_string (r, m, "networkInterfaceModel", field, &model) == -1)
      goto next;
    rc = vmi_import_spec_add_mapping (s, src, dst, model);
  next:
    free (src);
    free (dst);
    free (model);
    if (rc == -1)
      return -1;
  }
  return 0;
}

static int
read_cluster (struct reader *r, yaml_node_t *c, struct vmi_import_spec *s)
{
  static const char *const keys[] = {
    "name", "namespace", "kind", "apiVersion", NULL
  };

  if (known_keys (r, c, "spec.sourceCluster", keys) == -1
      || get_string (r, c, "name", "spec.sourceCluster.name",
                     &s->cluster_name) == -1
      || get_string (r, c, "namespace", "spec.sourceCluster.namespace",
                     &s->cluster_namespace) == -1
      || get_string (r, c, "kind", "spec.sourceCluster.kind",
                     &s->cluster_kind) == -1
      || get_string (r, c, "apiVersion", "spec.sourceCluster.apiVersion",
                     &s->cluster_api_version) == -1)
    return -1;
  return 0;
}

static int
read_spec (struct reader *r, yaml_node_t *root, struct vmi_import_spec *s)
{
  static const char *const keys[] = {
    "virtualMachineName", "folder", "networkMapping",
    "defaultNetworkInterfaceModel", "skipPreflightChecks", "storageClass",
    "defaultDiskBusType", "sourceCluster", "forcePowerOff",
    "gracefulShutdownTimeoutSeconds", NULL
  };
  yaml_node_t *meta = vmi_yaml_map_get (r->doc, root, "metadata");
  yaml_node_t *spec = vmi_yaml_map_get (r->doc, root, "spec"), *n;

  if (get_string (r, meta, "name", "metadata.name", &s->name) == -1
      || get_string (r, meta, "namespace", "metadata.namespace",
                     &s->namespace_) == -1)
    return -1;
  if (spec == NULL)
    return bad (r, root, "spec", "missing");
  if (known_keys (r, spec, "spec", keys) == -1
      || get_string (r, spec, "virtualMachineName", "spec.virtualMachineName",
                     &s->vm_name) == -1
      || get_string (r, spec, "folder", "spec.folder", &s->folder) == -1
      || get_string (r, spec, "defaultNetworkInterfaceModel",
                     "spec.defaultNetworkInterfaceModel",
                     &s->default_nic_model) == -1
      || get_bool (r, spec, "skipPreflightChecks", "spec.skipPreflightChecks",
                   &s->skip_preflight) == -1
      || get_string (r, spec, "storageClass", "spec.storageClass",
                     &s->storage_class) == -1
      || get_string (r, spec, "defaultDiskBusType", "spec.defaultDiskBusType",
                     &s->default_disk_bus) == -1
      || get_bool (r, spec, "forcePowerOff", "spec.forcePowerOff",
                   &s->force_power_off) == -1
      || get_seconds (r, spec, "gracefulShutdownTimeoutSeconds",
                      "spec.gracefulShutdownTimeoutSeconds",
                      &s->graceful_timeout) == -1)
    return -1;
  if ((n = vmi_yaml_map_get (r->doc, spec, "networkMapping")) != NULL
      && !(n->type == YAML_SCALAR_NODE && n->data.scalar.length == 0)
      && read_mappings (r, n, s) == -1)
    return -1;
  if ((n = vmi_yaml_map_get (r->doc, spec, "sourceCluster")) != NULL
      && read_cluster (r, n, s) == -1)
    return -1;
  if (s->vm_name == NULL)
    return bad (r, spec, "spec.virtualMachineName", "missing");
  return 0;
}

static bool
is_import (yaml_document_t *d)
{
  yaml_node_t *root = yaml_document_get_root_node (d);
  yaml_node_t *kind = vmi_yaml_map_get (d, root, "kind");

  return vmi_yaml_key_is (kind, "VirtualMachineImport");
}

int
vmi_import_yaml_parse (const char *text, size_t len, const char *where,
                       struct vmi_import_spec *out)
{
  yaml_document_t docs[VMI_YAML_MAX_DOCS];
  size_t ndocs = 0, found = 0, at = 0;
  int rc = -1;

  vmi_import_spec_init (out);
  if (len > MAX_IMPORT_YAML) {
    errno = EFBIG;
    vmi_error ("%s: %zu bytes is too large for a VirtualMachineImport",
               where, len);
    return -1;
  }
  if (vmi_yaml_load_docs (text, len, where, docs, &ndocs) == -1)
    goto out;
  for (size_t i = 0; i < ndocs; i++)
    if (is_import (&docs[i])) {
      found++;
      at = i;
    }
  if (found != 1) {
    errno = EINVAL;
    vmi_error ("%s: %s VirtualMachineImport object%s (give one per file)",
               where, found ? "more than one" : "no", found ? "s" : "");
    goto out;
  }
  {
    struct reader r = { &docs[at], where };
    rc = read_spec (&r, yaml_document_get_root_node (&docs[at]), out);
  }
 out:
  vmi_yaml_free_docs (docs, ndocs);
  if (rc == -1)
    vmi_import_spec_clear (out);
  return rc;
}

int
vmi_import_yaml_read (const char *path, struct vmi_import_spec *out)
{
  FILE *f = fopen (path, "rb");
  char *buf = NULL;
  size_t len;
  int rc = -1;

  vmi_import_spec_init (out);
  if (f == NULL) {
    vmi_error ("%s: %s", path, strerror (errno));
    return -1;
  }
  if ((buf = malloc (MAX_IMPORT_YAML + 1)) == NULL) {
    errno = ENOMEM;
    vmi_error ("%s: out of memory", path);
    goto out;
  }
  len = fread (buf, 1, MAX_IMPORT_YAML + 1, f);
  if (ferror (f)) {
    errno = EIO;
    vmi_error ("%s: read error", path);
    goto out;
  }
  rc = vmi_import_yaml_parse (buf, len, path, out);
 out:
  free (buf);
  fclose (f);
  return rc;
}
