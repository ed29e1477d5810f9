/* VMware: the datacenter a path names and every VM's description in one
 * RetrievePropertiesEx round trip (a ContainerView over the datacenter:
 * VMs, their folders and the distributed port groups their NICs name),
 * continued with ContinueRetrievePropertiesEx when the server pages.
 *
 * One VM named (--vm, or DC/FOLDER/VM in the URL): only that VM's
 * properties are read.  An ID (vm-N) is read directly, a path with
 * SearchIndex.FindByInventoryPath; a bare name costs one pass over the
 * VMs' names only (the property collector cannot filter by value, and
 * SearchIndex has no search by VM name: FindAllByDnsName is the guest's
 * DNS name, known only with Tools), then the matches' full properties.
 * The folders, port groups and datastores come from the same view as in
 * the full inventory, so vm.json is the same either way.
 *
 * Bus of a disk: the type of the controller its controllerKey names (some
 * servers leave controllers' device[] empty, so it is never read).
 * Capacity: capacityInKB (some servers leave capacityInBytes 0). */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vmimport/error.h"
#include "vmware-internal.h"

static int
nomem (void)
{
  errno = ENOMEM;
  vmi_error ("out of memory");
  return -1;
}

static const char *vm_paths[] = {
  "name", "parent", "config.hardware.numCPU",
  "config.hardware.numCoresPerSocket", "config.hardware.memoryMB",
  "config.hardware.device", "config.firmware",
  "config.bootOptions.efiSecureBootEnabled", "config.guestId",
  "config.template", "runtime.powerState", "guest.toolsRunningStatus", NULL,
};
static const char *name_only[] = { "name", NULL };

static long
prop_long (xmlNodePtr objects, const char *path)
{
  char *t = vmi_vmw_prop_text (objects, path), *end;
  long v = -1;

  if (t) {
    v = strtol (t, &end, 10);
    if (*t == '\0' || *end)
      v = -1;
  }
  free (t);
  return v;
}

/* A ContainerView over the datacenter DC: its folders, distributed port
 * groups and datastores, and its VMs when VMS. */
static char *
create_view (struct vmi_vmw_soap *s, const char *dc, bool vms)
{
  const char *t, *vm = vmi_vmw_soap_service (s, "viewManager", &t);
  xmlNodePtr m = vmi_vmw_req_new ("CreateContainerView", t, vm), ret;
  xmlDocPtr r;
  char *v;

  if (m) {
    vmi_vmw_req_moref (m, "container", "Datacenter", dc);
    if (vms)
      vmi_vmw_req_add (m, "type", "VirtualMachine");
    vmi_vmw_req_add (m, "type", "Folder");
    vmi_vmw_req_add (m, "type", "DistributedVirtualPortgroup");
    vmi_vmw_req_add (m, "type", "Datastore");
    vmi_vmw_req_add (m, "recursive", "true");
  }
  if ((r = vmi_vmw_soap_call (s, m, &ret)) == NULL)
    return NULL;
  v = vmi_vmw_child_text (ret, "returnval");
  xmlFreeDoc (r);
  return v;
}

static void
destroy_view (struct vmi_vmw_soap *s, const char *view)
{
  xmlDocPtr r = vmi_vmw_soap_call (s, vmi_vmw_req_new ("DestroyView", "ContainerView",
                                               view), NULL);
  xmlFreeDoc (r);
}

/* The view's objects: folders, port groups, datastores, and its VMs with
 * VM_PROPS (NULL: the view holds none). */
static int
retrieve_view (struct vmi_vmw_soap *s, const char *view,
               const char *const *vm_props, struct vmi_vmw_objs *iv)
{
  static const char *const named[] = { "name", "parent", NULL };
  static const char *const dvpg[] = { "name", "key", NULL };
  static const char *const ds[] = { "name", "summary.url", NULL };
  xmlNodePtr spec, os, sel, m = vmi_vmw_retrieve_req (s, &spec);

  if (m == NULL)
    return nomem ();
  if (vm_props)
    vmi_vmw_prop_spec (spec, "VirtualMachine", vm_props);
  vmi_vmw_prop_spec (spec, "Folder", named);
  vmi_vmw_prop_spec (spec, "DistributedVirtualPortgroup", dvpg);
  vmi_vmw_prop_spec (spec, "Datastore", ds);
  os = vmi_vmw_req_add (spec, "objectSet", NULL);
  vmi_vmw_req_moref (os, "obj", "ContainerView", view);
  vmi_vmw_req_add (os, "skip", "true");
  sel = vmi_vmw_req_add (os, "selectSet", NULL);
  vmi_vmw_req_xsi_type (sel, "TraversalSpec");
  vmi_vmw_req_add (sel, "type", "ContainerView");
  vmi_vmw_req_add (sel, "path", "view");
  vmi_vmw_req_add (sel, "skip", "false");
  return vmi_vmw_retrieve_all (s, m, iv);
}

/* The full properties of the VMs IDS (N of them), without a view: an ID
 * that names nothing is left out, not a fault. */
static int
retrieve_vms (struct vmi_vmw_soap *s, char **ids, size_t n, struct vmi_vmw_objs *iv)
{
  xmlNodePtr spec, m;

  if (n == 0)
    return 0;
  if ((m = vmi_vmw_retrieve_req (s, &spec)) == NULL)
    return nomem ();
  vmi_vmw_prop_spec (spec, "VirtualMachine", vm_paths);
  for (size_t i = 0; i < n; i++) {
    xmlNodePtr os = vmi_vmw_req_add (spec, "objectSet", NULL);
    vmi_vmw_req_moref (os, "obj", "VirtualMachine", ids[i]);
    vmi_vmw_req_add (os, "skip", "false");
  }
  vmi_vmw_req_add (spec, "reportMissingObjectsInResults", "true");
  return vmi_vmw_retrieve_all (s, m, iv);
}

/* The folder path of a VM relative to VMFOLDER ("a/b", "" at the top);
 * *INSIDE: the VM is under UNDER (a folder moref; NULL: anywhere);
 * *IN_DC: its folders lead up to VMFOLDER (or it has no folder: a vApp's). */
static char *
folder_path (struct vmi_vmw_objs *iv, const struct vmi_vmw_obj *vm, const char *vmfolder,
             const char *under, bool *inside, bool *in_dc)
{
  char *path = strdup ("");
  const char *p = vm->parent;
  int depth = 0;

  *inside = under == NULL || strcmp (under, vmfolder) == 0;
  while (path && p && strcmp (p, vmfolder) != 0 && depth++ < 256) {
    struct vmi_vmw_obj *f = vmi_vmw_objs_find (iv, p);
    char *np;
    if (f == NULL || f->name == NULL)
      break;   /* a vApp or a folder outside the view */
    if (under && strcmp (p, under) == 0)
      *inside = true;
    if (asprintf (&np, "%s%s%s", f->name, *path ? "/" : "", path) == -1)
      np = NULL;
    free (path);
    path = np;
    p = f->parent;
  }
  *in_dc = p == NULL || strcmp (p, vmfolder) == 0;
  return path;
}

static const char *
bus_of (const char *ctrl_type)
{
  static const struct { const char *type, *bus; } map[] = {
    { "VirtualIDEController", "ide" },
    { "VirtualAHCIController", "sata" },
    { "VirtualNVMEController", "nvme" },
    { "VirtualLsiLogicController", "scsi" },
    { "VirtualLsiLogicSASController", "scsi" },
    { "VirtualBusLogicController", "scsi" },
    { "ParaVirtualSCSIController", "scsi" },
  };

  for (size_t i = 0; ctrl_type && i < sizeof map / sizeof map[0]; i++)
    if (strcmp (ctrl_type, map[i].type) == 0)
      return map[i].bus;
  return NULL;
}

static const char *
nic_model (const char *type)
{
  static const struct { const char *type, *model; } map[] = {
    { "VirtualE1000", "e1000" }, { "VirtualE1000e", "e1000e" },
    { "VirtualVmxnet2", "vmxnet2" }, { "VirtualVmxnet3", "vmxnet3" },
    { "VirtualVmxnet3Vrdma", "vmxnet3vrdma" }, { "VirtualVmxnet", "vmxnet" },
    { "VirtualPCNet32", "pcnet32" }, { "VirtualSriovEthernetCard", "sriov" },
  };

  for (size_t i = 0; type && i < sizeof map / sizeof map[0]; i++)
    if (strcmp (type, map[i].type) == 0)
      return map[i].model;
  return NULL;
}

/* The type of the device whose key is KEY. */
static char *
device_type (xmlNodePtr devices, const char *key)
{
  for (xmlNodePtr d = devices ? devices->children : NULL; d; d = d->next) {
    char *k;
    bool match;
    if (d->type != XML_ELEMENT_NODE)
      continue;
    k = vmi_vmw_child_text (d, "key");
    match = k && key && strcmp (k, key) == 0;
    free (k);
    if (match)
      return vmi_vmw_xsi_type (d);
  }
  return NULL;
}

/* A non-negative decimal count, or -1. */
static int64_t
count (const char *t)
{
  char *end;
  long long v;

  if (t == NULL || *t < '0' || *t > '9')
    return -1;
  errno = 0;
  v = strtoll (t, &end, 10);
  return errno || *end ? -1 : (int64_t) v;
}

/* "[ds] dir/name.vmdk" -> datastore and path. */
static int
split_ds_path (const char *file, struct vmi_vmw_disk *d)
{
  const char *close;

  if (file == NULL || file[0] != '[' || (close = strchr (file, ']')) == NULL) {
    errno = EINVAL;
    vmi_error ("disk backing \"%s\" is not a datastore path "
               "(\"[datastore] dir/name.vmdk\")", file ? file : "");
    return -1;
  }
  d->datastore = strndup (file + 1, (size_t) (close - file - 1));
  close++;
  while (*close == ' ')
    close++;
  d->path = strdup (close);
  if (d->datastore == NULL || d->path == NULL)
    return nomem ();
  return 0;
}

static int
add_disk (struct vmi_vm *vm, xmlNodePtr devices, xmlNodePtr d)
{
  xmlNodePtr backing = vmi_vmw_child (d, "backing");
  char *file = vmi_vmw_child_text (backing, "fileName");
  char *ckey = vmi_vmw_child_text (d, "controllerKey");
  char *ctype = device_type (devices, ckey);
  char *kb = vmi_vmw_child_text (d, "capacityInKB");
  char *bytes = vmi_vmw_child_text (d, "capacityInBytes");
  struct vmi_disk *disk = vmi_vm_add_disk (vm);
  struct vmi_vmw_disk *pd = calloc (1, sizeof *pd);
  const char *bus = bus_of (ctype);
  int r = -1;

  if (disk == NULL || pd == NULL) {
    free (pd);
    nomem ();
    goto out;
  }
  disk->provider_data = pd;
  if (split_ds_path (file, pd) == -1) {
    vmi_error_prefix ("VM %s", vm->name);
    goto out;
  }
  if ((disk->source_name = strdup (file)) == NULL
      || (disk->source_format = strdup ("vmdk")) == NULL
      || (bus && (disk->bus = strdup (bus)) == NULL)) {
    nomem ();
    goto out;
  }
  if (count (kb) > 0 && count (kb) <= INT64_MAX / 1024)
    disk->capacity = count (kb) * 1024;
  else if (count (bytes) > 0)
    disk->capacity = count (bytes);
  r = 0;
 out:
  free (file);
  free (ckey);
  free (ctype);
  free (kb);
  free (bytes);
  return r;
}

static int
add_nic (struct vmi_vmw_objs *iv, struct vmi_vm *vm, xmlNodePtr d, const char *type)
{
  xmlNodePtr backing = vmi_vmw_child (d, "backing");
  char *btype = vmi_vmw_xsi_type (backing);
  struct vmi_nic *nic = vmi_vm_add_nic (vm);
  const char *model = nic_model (type);

  if (nic == NULL) {
    free (btype);
    return nomem ();
  }
  nic->mac = vmi_vmw_child_text (d, "macAddress");
  if (model)
    nic->model = strdup (model);
  if (btype && strcmp (btype, "VirtualEthernetCardDistributedVirtualPortBackingInfo") == 0) {
    char *key = vmi_vmw_child_text (vmi_vmw_child (backing, "port"), "portgroupKey");
    for (size_t i = 0; key && i < iv->n; i++)
      if (strcmp (iv->v[i].type, "DistributedVirtualPortgroup") == 0
          && (strcmp (iv->v[i].moref, key) == 0
              || (iv->v[i].key && strcmp (iv->v[i].key, key) == 0))) {
        nic->network = iv->v[i].name ? strdup (iv->v[i].name) : NULL;
        break;
      }
    if (nic->network == NULL)
      nic->network = key;   /* not in the view: the key, not a guess */
    else
      free (key);
  }
  else if (btype && strcmp (btype, "VirtualEthernetCardOpaqueNetworkBackingInfo") == 0)
    nic->network = vmi_vmw_child_text (backing, "opaqueNetworkId");
  else
    nic->network = vmi_vmw_child_text (backing, "deviceName");
  free (btype);
  return 0;
}

static int
add_devices (struct vmi_vmw_objs *iv, struct vmi_vm *vm, xmlNodePtr devices)
{
  /* The device list says whether a vTPM is there; without it, unknown. */
  if (devices)
    vm->tpm = 0;
  for (xmlNodePtr d = devices ? devices->children : NULL; d; d = d->next) {
    char *type;
    int r = 0;
    if (d->type != XML_ELEMENT_NODE)
      continue;
    type = vmi_vmw_xsi_type (d);
    if (type && strcmp (type, "VirtualDisk") == 0)
      r = add_disk (vm, devices, d);
    else if (type && nic_model (type))
      r = add_nic (iv, vm, d, type);
    else if (type && strcmp (type, "VirtualTPM") == 0)
      vm->tpm = 1;
    free (type);
    if (r == -1)
      return -1;
  }
  for (size_t i = 0; i < vm->ndisks; i++)
    vm->disks[i].index = (int) i;
  for (size_t i = 0; i < vm->nnics; i++)
    vm->nics[i].index = (int) i;
  return 0;
}

static const char *
power_of (const char *s)
{
  if (s == NULL)
    return NULL;
  if (!strcmp (s, "poweredOn"))
    return "on";
  if (!strcmp (s, "poweredOff"))
    return "off";
  if (!strcmp (s, "suspended"))
    return "suspended";
  return NULL;
}

static struct vmi_vm *
describe (struct vmi_vmw_objs *iv, const struct vmi_vmw_obj *o, const char *folder,
          const char *where)
{
  struct vmi_vm *vm = vmi_vm_new (o->name ? o->name : o->moref);
  xmlNodePtr x = o->props;
  char *t;

  if (vm == NULL) {
    nomem ();
    return NULL;
  }
  vm->id = strdup (o->moref);
  vm->source_kind = strdup ("vmware");
  if (asprintf (&vm->source_where, "%s%s%s", where, *folder ? "/" : "",
                folder) == -1)
    vm->source_where = NULL;
  vm->folder = *folder ? strdup (folder) : NULL;
  vm->cpus = (int) prop_long (x, "config.hardware.numCPU");
  vm->cores_per_socket = (int) prop_long (x, "config.hardware.numCoresPerSocket");
  vm->memory_mib = prop_long (x, "config.hardware.memoryMB");
  vm->guest_os = vmi_vmw_prop_text (x, "config.guestId");
  t = vmi_vmw_prop_text (x, "guest.toolsRunningStatus");
  if (vmi_vmw_guest_tools (t))
    vm->guest_tools = strdup (vmi_vmw_guest_tools (t));
  free (t);
  t = vmi_vmw_prop_text (x, "runtime.powerState");
  if (power_of (t))
    vm->power_state = strdup (power_of (t));
  free (t);
  t = vmi_vmw_prop_text (x, "config.firmware");
  if (t && (!strcmp (t, "bios") || !strcmp (t, "efi")))
    vm->firmware = strdup (t);
  free (t);
  t = vmi_vmw_prop_text (x, "config.bootOptions.efiSecureBootEnabled");
  vm->secure_boot = t ? strcmp (t, "true") == 0
                    : vm->firmware && !strcmp (vm->firmware, "bios") ? 0 : -1;
  free (t);
  if (vm->id == NULL || vm->source_kind == NULL
      || vm->source_where == NULL || (*folder && vm->folder == NULL)) {
    vmi_vmw_vm_data_free (vm);
    vmi_vm_free (vm);
    nomem ();
    return NULL;
  }
  if (add_devices (iv, vm, vmi_vmw_prop (x, "config.hardware.device")) == -1) {
    vmi_vmw_vm_data_free (vm);
    vmi_vm_free (vm);
    return NULL;
  }
  return vm;
}

void
vmi_vmw_vm_data_free (struct vmi_vm *vm)
{
  for (size_t i = 0; i < vm->ndisks; i++) {
    struct vmi_vmw_disk *d = vm->disks[i].provider_data;
    if (d) {
      free (d->datastore);
      free (d->path);
      free (d);
      vm->disks[i].provider_data = NULL;
    }
  }
}

/* Every VM of IV under UNDER (NULL: all) becomes a vmi_vm of P; with
 * IN_DC_ONLY, not those whose folders do not lead to VMFOLDER (an ID of
 * another datacenter's VM). */
static int
add_vms (struct vmi_vmw_objs *iv, struct vmi_provider *p, const char *vmfolder,
         const char *under, bool in_dc_only, const char *where)
{
  for (size_t i = 0; i < iv->n; i++) {
    struct vmi_vmw_obj *o = &iv->v[i];
    struct vmi_vm *vm;
    char *fp, *tmpl;
    bool inside, in_dc;
    if (strcmp (o->type, "VirtualMachine") != 0)
      continue;
    tmpl = vmi_vmw_prop_text (o->props, "config.template");
    if (tmpl && strcmp (tmpl, "true") == 0) {
      free (tmpl);
      continue;   /* a template is not a VM to import */
    }
    free (tmpl);
    if ((fp = folder_path (iv, o, vmfolder, under, &inside, &in_dc)) == NULL)
      return nomem ();
    if (!inside || (in_dc_only && !in_dc)) {
      free (fp);
      continue;
    }
    vm = describe (iv, o, fp, where);
    free (fp);
    if (vm == NULL)
      return -1;
    if (vmi_provider_add_vm (p, vm) == -1) {
      vmi_vmw_vm_data_free (vm);
      vmi_vm_free (vm);
      return -1;
    }
  }
  return 0;
}

int
vmi_vmw_inventory_parse (const char *xml, size_t len, struct vmi_provider *p,
                         const char *vmfolder)
{
  struct vmi_vmw_objs iv = { 0 };
  char *fault = NULL;
  xmlDocPtr d = vmi_vmw_soap_parse ("fuzz", "RetrievePropertiesEx", xml, len,
                                    200, &fault);
  xmlNodePtr ret = NULL;
  int r = -1;

  free (fault);
  if (d == NULL)
    return -1;
  for (xmlNodePtr n = xmlDocGetRootElement (d)->children; n && !ret; n = n->next)
    for (xmlNodePtr c = n->children; c && !ret; c = c->next)
      if (c->type == XML_ELEMENT_NODE)
        ret = c;
  if (vmi_vmw_objs_keep (&iv, d) == 0
      && vmi_vmw_objs_add (&iv, vmi_vmw_child (ret, "returnval")) == 0)
    r = add_vms (&iv, p, vmfolder, NULL, false, "vmware://fuzz/DC");
  vmi_vmw_objs_free (&iv);
  return r;
}

void
vmi_vmw_datastores_free (struct vmi_vmw_datastore *ds, size_t nds)
{
  for (size_t i = 0; i < nds; i++) {
    free (ds[i].name);
    free (ds[i].url);
  }
  free (ds);
}

static int
collect_datastores (struct vmi_vmw_objs *iv, struct vmi_vmw_datastore **ds,
                    size_t *nds)
{
  for (size_t i = 0; i < iv->n; i++) {
    struct vmi_vmw_datastore *v;
    if (strcmp (iv->v[i].type, "Datastore") != 0 || iv->v[i].name == NULL)
      continue;
    if ((v = realloc (*ds, (*nds + 1) * sizeof *v)) == NULL)
      return nomem ();
    *ds = v;
    v[*nds].name = strdup (iv->v[i].name);
    v[*nds].url = iv->v[i].url ? strdup (iv->v[i].url) : NULL;
    (*nds)++;
    if (v[*nds - 1].name == NULL)
      return nomem ();
  }
  return 0;
}

/* ---- one VM ---- */

/* A VM's managed object id: vCenter's vm-N, a standalone host's N. */
static bool
moref_like (const char *v)
{
  if (strncmp (v, "vm-", 3) == 0)
    v += 3;
  return *v && strspn (v, "0123456789") == strlen (v);
}

struct ids {
  char **v;
  size_t n;
};

static int
ids_add (struct ids *ids, const char *id)
{
  char **v = realloc (ids->v, (ids->n + 1) * sizeof *v);

  if (v == NULL)
    return nomem ();
  ids->v = v;
  if ((v[ids->n] = strdup (id)) == NULL)
    return nomem ();
  ids->n++;
  return 0;
}

static void
ids_free (struct ids *ids)
{
  for (size_t i = 0; i < ids->n; i++)
    free (ids->v[i]);
  free (ids->v);
}

static bool
has_vm (const struct vmi_vmw_objs *iv)
{
  for (size_t i = 0; i < iv->n; i++)
    if (strcmp (iv->v[i].type, "VirtualMachine") == 0)
      return true;
  return false;
}

/* The VMs of the names pass named NAME go to IDS; all VMs leave IV (their
 * full properties come next). */
static int
take_names (struct vmi_vmw_objs *iv, const char *name, struct ids *ids)
{
  size_t j = 0;
  int r = 0;

  for (size_t i = 0; i < iv->n; i++) {
    if (strcmp (iv->v[i].type, "VirtualMachine") != 0) {
      iv->v[j++] = iv->v[i];
      continue;
    }
    if (r == 0 && iv->v[i].name && strcmp (iv->v[i].name, name) == 0)
      r = ids_add (ids, iv->v[i].moref);
    vmi_vmw_obj_clear (&iv->v[i]);
  }
  iv->n = j;
  return r;
}

/* Only the VM ONE (a moref: the URL named it) or WANT (--vm: an ID, a
 * path under the VM folder, or a name) is described. */
static int
inventory_one (struct vmi_vmw_soap *s, struct vmi_provider *p, struct vmi_vmw_objs *iv,
               const char *dc, const char *dcref, const char *vmfolder,
               const char *under, const char *one, const char *want,
               const char *where)
{
  struct ids ids = { 0 };
  bool by_name = false;
  char *view = NULL, *path = NULL, *ref = NULL, *type = NULL;
  int r = -1;

  if (one)
    r = ids_add (&ids, one);
  else if (strchr (want, '/')) {
    if (asprintf (&path, "%s/vm/%s", dc, want) == -1) {
      path = NULL;
      nomem ();
      goto out;
    }
    ref = vmi_vmw_find_path (s, path, &type);
    if (ref == NULL && errno != ENOENT)
      goto out;
    r = ref && type && strcmp (type, "VirtualMachine") == 0
        ? ids_add (&ids, ref) : 0;
  }
  else if (moref_like (want))
    r = ids_add (&ids, want);
  else {
    by_name = true;
    r = 0;
  }
  if (r == -1)
    goto out;
  r = retrieve_vms (s, ids.v, ids.n, iv);
  /* An ID that names no VM may still be a VM's name.  (A server that
   * ignores reportMissingObjectsInResults faults ManagedObjectNotFound.) */
  if (!one && !by_name && moref_like (want)
      && ((r == -1 && errno == ENOENT) || (r == 0 && !has_vm (iv)))) {
    by_name = true;
    r = 0;
  }
  if (r == -1)
    goto out;
  r = -1;
  if ((view = create_view (s, dcref, by_name)) == NULL)
    goto out;
  r = retrieve_view (s, view, by_name ? name_only : NULL, iv);
  destroy_view (s, view);
  if (r == 0 && by_name) {
    ids_free (&ids);
    memset (&ids, 0, sizeof ids);
    r = take_names (iv, want, &ids);
    if (r == 0)
      r = retrieve_vms (s, ids.v, ids.n, iv);
  }
  if (r == 0)
    r = add_vms (iv, p, vmfolder, under, true, where);
 out:
  ids_free (&ids);
  free (view);
  free (path);
  free (ref);
  free (type);
  return r;
}

const char *
vmi_vmw_guest_tools (const char *status)
{
  if (status == NULL)
    return NULL;
  if (strcmp (status, "guestToolsRunning") == 0
      || strcmp (status, "guestToolsExecutingScripts") == 0)
    return "running";
  if (strcmp (status, "guestToolsNotRunning") == 0)
    return "not-running";
  return NULL;
}

int
vmi_vmw_inventory (struct vmi_vmw_soap *s, struct vmi_provider *p,
                   const char *dc, const char *folder, const char *where,
                   struct vmi_vmw_datastore **ds, size_t *nds)
{
  struct vmi_vmw_objs iv = { 0 };
  char *dcref = NULL, *dctype = NULL, *vmfolder = NULL, *under = NULL,
       *view = NULL, *path = NULL, *utype = NULL;
  const char *only_vm = NULL;
  int r = -1;

  dcref = vmi_vmw_find_path (s, dc, &dctype);
  if (dcref == NULL || dctype == NULL || strcmp (dctype, "Datacenter") != 0) {
    if (dcref == NULL && errno != ENOENT)
      goto out;
    errno = ENOENT;
    vmi_error ("%s: datacenter %s not found", vmi_vmw_soap_endpoint (s), dc);
    goto out;
  }
  if (asprintf (&path, "%s/vm", dc) == -1 || (vmfolder = vmi_vmw_find_path (s, path, NULL)) == NULL) {
    vmi_error ("%s: datacenter %s has no VM folder", vmi_vmw_soap_endpoint (s), dc);
    goto out;
  }
  if (folder && *folder) {
    free (path);
    if (asprintf (&path, "%s/vm/%s", dc, folder) == -1) {
      path = NULL;
      nomem ();
      goto out;
    }
    if ((under = vmi_vmw_find_path (s, path, &utype)) == NULL) {
      if (errno != ENOENT)
        goto out;
      vmi_error ("%s: folder %s not found in datacenter %s",
                 vmi_vmw_soap_endpoint (s), folder, dc);
      goto out;
    }
    /* DC/FOLDER/VM names one VM (SearchIndex.FindByInventoryPath). */
    if (utype && strcmp (utype, "VirtualMachine") == 0)
      only_vm = under;
  }
  if (only_vm || p->opts.only_vm) {
    r = inventory_one (s, p, &iv, dc, dcref, vmfolder, only_vm ? NULL : under,
                       only_vm, p->opts.only_vm, where);
  }
  else {
    if ((view = create_view (s, dcref, true)) == NULL)
      goto out;
    r = retrieve_view (s, view, vm_paths, &iv);
    destroy_view (s, view);
    if (r == 0)
      r = add_vms (&iv, p, vmfolder, under, false, where);
  }
  if (r == 0)
    r = collect_datastores (&iv, ds, nds);
 out:
  vmi_vmw_objs_free (&iv);
  free (dcref);
  free (dctype);
  free (vmfolder);
  free (under);
  free (utype);
  free (view);
  free (path);
  return r;
}
