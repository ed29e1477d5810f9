/* VMware: the datacenter check and every VM's description in one
 * RetrievePropertiesEx round trip (a ContainerView over the datacenter:
 * VMs, their folders and the distributed port groups their NICs name),
 * continued with ContinueRetrievePropertiesEx when the server pages.
 *
 * Bus of a disk: the type of the controller its controllerKey names (some
 * servers leave controllers' device[] empty, so it is never read).
 * Capacity: capacityInKB (some servers leave capacityInBytes 0). */
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vmimport/error.h"
#include "vmware-internal.h"

/* An object of the view: its moref and properties. */
struct obj {
  char *type, *moref;
  char *name, *parent;   /* Folder, VM, DVPG */
  char *key;             /* DVPG */
  char *url;             /* Datastore */
  xmlNodePtr props;      /* the objects element (VMs), in a kept document */
};

struct inv {
  struct obj *v;
  size_t n;
  xmlDocPtr *docs;
  size_t ndocs;
};

static const char *vm_paths[] = {
  "name", "parent", "config.hardware.numCPU",
  "config.hardware.numCoresPerSocket", "config.hardware.memoryMB",
  "config.hardware.device", "config.firmware",
  "config.bootOptions.efiSecureBootEnabled", "config.guestId",
  "config.template", "runtime.powerState", NULL,
};

static void
inv_free (struct inv *iv)
{
  for (size_t i = 0; i < iv->n; i++) {
    free (iv->v[i].type);
    free (iv->v[i].moref);
    free (iv->v[i].name);
    free (iv->v[i].parent);
    free (iv->v[i].key);
    free (iv->v[i].url);
  }
  free (iv->v);
  for (size_t i = 0; i < iv->ndocs; i++)
    xmlFreeDoc (iv->docs[i]);
  free (iv->docs);
}

static int
nomem (void)
{
  errno = ENOMEM;
  vmi_error ("out of memory");
  return -1;
}

/* The propSet whose name is PATH in an objects element; its val. */
static xmlNodePtr
prop (xmlNodePtr objects, const char *path)
{
  for (xmlNodePtr ps = vmi_vmw_child (objects, "propSet"); ps;
       ps = vmi_vmw_next (ps, "propSet")) {
    char *name = vmi_vmw_child_text (ps, "name");
    bool match = name && strcmp (name, path) == 0;
    free (name);
    if (match)
      return vmi_vmw_child (ps, "val");
  }
  return NULL;
}

static char *
prop_text (xmlNodePtr objects, const char *path)
{
  return vmi_vmw_text (prop (objects, path));
}

static long
prop_long (xmlNodePtr objects, const char *path)
{
  char *t = prop_text (objects, path), *end;
  long v = -1;

  if (t) {
    errno = 0;
    v = strtol (t, &end, 10);
    if (*t == '\0' || *end || errno)
      v = -1;   /* not a number, or past a long: unknown */
  }
  free (t);
  return v;
}

/* A count (CPUs, cores per socket) as an int: -1 (unknown) when missing,
 * not positive or past what an int holds (never a wrapped value). */
static int
prop_count (xmlNodePtr objects, const char *path)
{
  long v = prop_long (objects, path);

  return v > 0 && v <= INT_MAX ? (int) v : -1;
}

static int
add_objects (struct inv *iv, xmlNodePtr rv)
{
  for (xmlNodePtr o = vmi_vmw_child (rv, "objects"); o; o = vmi_vmw_next (o, "objects")) {
    struct obj *v = realloc (iv->v, (iv->n + 1) * sizeof *v), *x;
    xmlNodePtr ref = vmi_vmw_child (o, "obj");

    if (v == NULL)
      return nomem ();
    iv->v = v;
    x = &v[iv->n++];
    memset (x, 0, sizeof *x);
    x->type = vmi_vmw_attr (ref, "type");
    x->moref = vmi_vmw_text (ref);
    x->name = prop_text (o, "name");
    x->parent = prop_text (o, "parent");
    x->key = prop_text (o, "key");
    x->url = prop_text (o, "summary.url");
    x->props = o;
    if (x->type == NULL || x->moref == NULL) {
      errno = EIO;
      vmi_error ("RetrievePropertiesEx: an object without a type or an id");
      return -1;
    }
  }
  return 0;
}

static int
keep_doc (struct inv *iv, xmlDocPtr d)
{
  xmlDocPtr *v = realloc (iv->docs, (iv->ndocs + 1) * sizeof *v);

  if (v == NULL) {
    xmlFreeDoc (d);
    return nomem ();
  }
  iv->docs = v;
  v[iv->ndocs++] = d;
  return 0;
}

/* SearchIndex.FindByInventoryPath: the moref (and type) or NULL. */
static char *
find_path (struct vmi_vmw_soap *s, const char *path, char **type)
{
  const char *t, *si = vmi_vmw_soap_service (s, "searchIndex", &t);
  xmlNodePtr m = vmi_vmw_req_new ("FindByInventoryPath", t, si), ret, rv;
  xmlDocPtr r;
  char *v;

  if (m)
    vmi_vmw_req_add (m, "inventoryPath", path);
  if ((r = vmi_vmw_soap_call (s, m, &ret)) == NULL)
    return NULL;
  rv = vmi_vmw_child (ret, "returnval");
  v = vmi_vmw_text (rv);
  if (type)
    *type = vmi_vmw_attr (rv, "type");
  xmlFreeDoc (r);
  if (v == NULL)
    errno = ENOENT;
  return v;
}

static char *
create_view (struct vmi_vmw_soap *s, const char *dc)
{
  const char *t, *vm = vmi_vmw_soap_service (s, "viewManager", &t);
  xmlNodePtr m = vmi_vmw_req_new ("CreateContainerView", t, vm), ret;
  xmlDocPtr r;
  char *v;

  if (m) {
    vmi_vmw_req_moref (m, "container", "Datacenter", dc);
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

static int
retrieve (struct vmi_vmw_soap *s, const char *view, struct inv *iv)
{
  const char *t, *pc = vmi_vmw_soap_service (s, "propertyCollector", &t);
  xmlNodePtr m = vmi_vmw_req_new ("RetrievePropertiesEx", t, pc), spec, ps, os,
             sel, ret, rv;
  xmlDocPtr r;
  char *token;

  if (m == NULL)
    return nomem ();
  spec = vmi_vmw_req_add (m, "specSet", NULL);
  ps = vmi_vmw_req_add (spec, "propSet", NULL);
  vmi_vmw_req_add (ps, "type", "VirtualMachine");
  for (int i = 0; vm_paths[i]; i++)
    vmi_vmw_req_add (ps, "pathSet", vm_paths[i]);
  ps = vmi_vmw_req_add (spec, "propSet", NULL);
  vmi_vmw_req_add (ps, "type", "Folder");
  vmi_vmw_req_add (ps, "pathSet", "name");
  vmi_vmw_req_add (ps, "pathSet", "parent");
  ps = vmi_vmw_req_add (spec, "propSet", NULL);
  vmi_vmw_req_add (ps, "type", "DistributedVirtualPortgroup");
  vmi_vmw_req_add (ps, "pathSet", "name");
  vmi_vmw_req_add (ps, "pathSet", "key");
  ps = vmi_vmw_req_add (spec, "propSet", NULL);
  vmi_vmw_req_add (ps, "type", "Datastore");
  vmi_vmw_req_add (ps, "pathSet", "name");
  vmi_vmw_req_add (ps, "pathSet", "summary.url");
  os = vmi_vmw_req_add (spec, "objectSet", NULL);
  vmi_vmw_req_moref (os, "obj", "ContainerView", view);
  vmi_vmw_req_add (os, "skip", "true");
  sel = vmi_vmw_req_add (os, "selectSet", NULL);
  vmi_vmw_req_xsi_type (sel, "TraversalSpec");
  vmi_vmw_req_add (sel, "type", "ContainerView");
  vmi_vmw_req_add (sel, "path", "view");
  vmi_vmw_req_add (sel, "skip", "false");
  vmi_vmw_req_add (vmi_vmw_req_add (m, "options", NULL), "maxObjects", "500");

  if ((r = vmi_vmw_soap_call (s, m, &ret)) == NULL)
    return -1;
  for (;;) {
    rv = vmi_vmw_child (ret, "returnval");
    if (keep_doc (iv, r) == -1 || add_objects (iv, rv) == -1)
      return -1;
    token = vmi_vmw_child_text (rv, "token");
    if (token == NULL)
      return 0;
    m = vmi_vmw_req_new ("ContinueRetrievePropertiesEx", t, pc);
    if (m)
      vmi_vmw_req_add (m, "token", token);
    free (token);
    if ((r = vmi_vmw_soap_call (s, m, &ret)) == NULL)
      return -1;
  }
}

static struct obj *
find_obj (struct inv *iv, const char *moref)
{
  for (size_t i = 0; moref && i < iv->n; i++)
    if (strcmp (iv->v[i].moref, moref) == 0)
      return &iv->v[i];
  return NULL;
}

/* The folder path of a VM relative to VMFOLDER ("a/b", "" at the top), or
 * NULL when the VM is not under UNDER (a folder moref). */
static char *
folder_path (struct inv *iv, const struct obj *vm, const char *vmfolder,
             const char *under, bool *inside)
{
  char *path = strdup ("");
  const char *p = vm->parent;
  int depth = 0;

  *inside = under == NULL || strcmp (under, vmfolder) == 0;
  while (path && p && strcmp (p, vmfolder) != 0 && depth++ < 256) {
    struct obj *f = find_obj (iv, p);
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
add_nic (struct inv *iv, struct vmi_vm *vm, xmlNodePtr d, const char *type)
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
add_devices (struct inv *iv, struct vmi_vm *vm, xmlNodePtr devices)
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
describe (struct inv *iv, const struct obj *o, const char *folder,
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
  vm->cpus = prop_count (x, "config.hardware.numCPU");
  vm->cores_per_socket = prop_count (x, "config.hardware.numCoresPerSocket");
  vm->memory_mib = prop_long (x, "config.hardware.memoryMB");
  if (vm->memory_mib < 0)
    vm->memory_mib = -1;   /* negative: unknown */
  vm->guest_os = prop_text (x, "config.guestId");
  t = prop_text (x, "runtime.powerState");
  if (power_of (t))
    vm->power_state = strdup (power_of (t));
  free (t);
  t = prop_text (x, "config.firmware");
  if (t && (!strcmp (t, "bios") || !strcmp (t, "efi")))
    vm->firmware = strdup (t);
  free (t);
  t = prop_text (x, "config.bootOptions.efiSecureBootEnabled");
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
  if (add_devices (iv, vm, prop (x, "config.hardware.device")) == -1) {
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

/* Every VM of the view under UNDER (NULL: all) becomes a vmi_vm of P. */
static int
add_vms (struct inv *iv, struct vmi_provider *p, const char *vmfolder,
         const char *under, const char *only_vm, const char *where)
{
  for (size_t i = 0; i < iv->n; i++) {
    struct obj *o = &iv->v[i];
    struct vmi_vm *vm;
    char *fp, *tmpl;
    bool inside;
    if (strcmp (o->type, "VirtualMachine") != 0
        || (only_vm && strcmp (o->moref, only_vm) != 0))
      continue;
    tmpl = prop_text (o->props, "config.template");
    if (tmpl && strcmp (tmpl, "true") == 0) {
      free (tmpl);
      continue;   /* a template is not a VM to import */
    }
    free (tmpl);
    if ((fp = folder_path (iv, o, vmfolder, under, &inside)) == NULL)
      return nomem ();
    if (!inside) {
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
  struct inv iv = { 0 };
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
  if (keep_doc (&iv, d) == 0
      && add_objects (&iv, vmi_vmw_child (ret, "returnval")) == 0)
    r = add_vms (&iv, p, vmfolder, NULL, NULL, "vmware://fuzz/DC");
  inv_free (&iv);
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
collect_datastores (struct inv *iv, struct vmi_vmw_datastore **ds,
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

int
vmi_vmw_inventory (struct vmi_vmw_soap *s, struct vmi_provider *p,
                   const char *dc, const char *folder, const char *where,
                   struct vmi_vmw_datastore **ds, size_t *nds)
{
  struct inv iv = { 0 };
  char *dcref = NULL, *dctype = NULL, *vmfolder = NULL, *under = NULL,
       *view = NULL, *path = NULL, *utype = NULL;
  const char *only_vm = NULL;
  int r = -1;

  dcref = find_path (s, dc, &dctype);
  if (dcref == NULL || dctype == NULL || strcmp (dctype, "Datacenter") != 0) {
    if (dcref == NULL && errno != ENOENT)
      goto out;
    errno = ENOENT;
    vmi_error ("%s: datacenter %s not found", vmi_vmw_soap_endpoint (s), dc);
    goto out;
  }
  if (asprintf (&path, "%s/vm", dc) == -1 || (vmfolder = find_path (s, path, NULL)) == NULL) {
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
    if ((under = find_path (s, path, &utype)) == NULL) {
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
  if ((view = create_view (s, dcref)) == NULL)
    goto out;
  r = retrieve (s, view, &iv);
  destroy_view (s, view);
  if (r == -1)
    goto out;
  r = add_vms (&iv, p, vmfolder, only_vm ? NULL : under, only_vm, where);
  if (r == 0)
    r = collect_datastores (&iv, ds, nds);
 out:
  inv_free (&iv);
  free (dcref);
  free (dctype);
  free (vmfolder);
  free (under);
  free (utype);
  free (view);
  free (path);
  return r;
}
