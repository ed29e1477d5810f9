/* VMware vSphere source (vCenter or a standalone ESXi host): internal
 * interfaces shared by the files of providers/vmware/.
 *
 *   soap.c       the SOAP client: envelope, session cookie, faults, re-login
 *   collector.c  the property collector's answers, FindByInventoryPath
 *   datacenter.c the datacenter a path names (inside folders or not)
 *   inventory.c  the VMs' description (vm.json), all or only one
 *   power.c      ShutdownGuest / PowerOffVM_Task / snapshots
 *   vmware.c     the provider: URL, disks read in place from /folder
 */
#ifndef VMIMPORT_VMWARE_INTERNAL_H
#define VMIMPORT_VMWARE_INTERNAL_H

#include <stdbool.h>

#include <libxml/tree.h>

#include "vmimport/provider.h"

#define VMI_VMW_VIM_NS "urn:vim25"
#define VMI_VMW_SOAP_NS "http://schemas.xmlsoap.org/soap/envelope/"
#define VMI_VMW_XSI_NS "http://www.w3.org/2001/XMLSchema-instance"

struct vmi_vmw_soap;

/* A client for ENDPOINT ("https://host:port/sdk").  Credentials and TLS
 * settings from OPTS (copied).  No request is made yet. */
struct vmi_vmw_soap *vmi_vmw_soap_new (const char *endpoint,
                               const struct vmi_source_opts *opts);
/* RetrieveServiceContent and Login.  Returns 0 or -1 (error recorded). */
int vmi_vmw_soap_connect (struct vmi_vmw_soap *s);
/* Logout (errors ignored) and free.  NULL is fine.  The client is shared
 * by reference with the disks' HTTP layers: freed with its last holder. */
void vmi_vmw_soap_unref (struct vmi_vmw_soap *s);
struct vmi_vmw_soap *vmi_vmw_soap_ref (struct vmi_vmw_soap *s);
const char *vmi_vmw_soap_endpoint (const struct vmi_vmw_soap *s);
/* A managed object of the service content by its field name
 * ("propertyCollector", "viewManager", "searchIndex", "rootFolder").
 * Returns its value (e.g. "propertyCollector"); *TYPE gets its type. */
const char *vmi_vmw_soap_service (const struct vmi_vmw_soap *s, const char *field,
                              const char **type);
/* "vmware_soap_session=..." for the /folder requests (caller frees), or
 * NULL when not logged in. */
char *vmi_vmw_soap_cookie (struct vmi_vmw_soap *s);
/* Log in again unless another thread already replaced REFUSED (the cookie
 * a request was refused with).  0 or -1. */
int vmi_vmw_soap_renew (struct vmi_vmw_soap *s, const char *refused);
int vmi_vmw_soap_logins (const struct vmi_vmw_soap *s);

/* Building a request: a new envelope whose body holds
 * <METHOD xmlns="urn:vim25"><_this type="TYPE">VALUE</_this></METHOD>.
 * Returns the METHOD element (its doc is the request). */
xmlNodePtr vmi_vmw_req_new (const char *method, const char *this_type,
                        const char *this_value);
/* A child element in urn:vim25 with TEXT (escaped; NULL = empty). */
xmlNodePtr vmi_vmw_req_add (xmlNodePtr parent, const char *name, const char *text);
/* A child <NAME type="TYPE">VALUE</NAME> (a managed object reference). */
xmlNodePtr vmi_vmw_req_moref (xmlNodePtr parent, const char *name,
                          const char *type, const char *value);
/* xsi:type="TYPE" on NODE. */
void vmi_vmw_req_xsi_type (xmlNodePtr node, const char *type);

/* Send the request METHOD belongs to (freed here).  Returns the response
 * document and in *RET the METHODResponse element; NULL with an error
 * naming the fault, the method and the endpoint.  A NotAuthenticated fault
 * logs in again once and repeats the call. */
xmlDocPtr vmi_vmw_soap_call (struct vmi_vmw_soap *s, xmlNodePtr method, xmlNodePtr *ret);

/* A response body: the parsed envelope, or NULL with the error (the
 * fault's type in *FAULT, caller frees).  Used by calls and fuzzing. */
xmlDocPtr vmi_vmw_soap_parse (const char *endpoint, const char *method,
                              const char *xml, size_t len, long status,
                              char **fault);

/* Reading responses (namespace-aware). */
xmlNodePtr vmi_vmw_child (xmlNodePtr n, const char *name);       /* urn:vim25 */
xmlNodePtr vmi_vmw_next (xmlNodePtr n, const char *name);        /* next sibling */
char *vmi_vmw_text (xmlNodePtr n);                               /* strdup'd */
char *vmi_vmw_child_text (xmlNodePtr n, const char *name);       /* strdup'd */
char *vmi_vmw_xsi_type (xmlNodePtr n);                           /* strdup'd */
char *vmi_vmw_attr (xmlNodePtr n, const char *name);             /* strdup'd */

/* The property collector (collector.c).  An object of an answer: its
 * moref, type and the properties the inventory looks up by name. */
struct vmi_vmw_obj {
  char *type, *moref;
  char *name, *parent;   /* Folder, VM, DVPG, Datacenter */
  char *key;             /* DVPG */
  char *url;             /* Datastore */
  xmlNodePtr props;      /* the objects element, in a kept document */
};

/* The objects of one or more answers, and the documents they point into. */
struct vmi_vmw_objs {
  struct vmi_vmw_obj *v;
  size_t n;
  xmlDocPtr *docs;
  size_t ndocs;
};

void vmi_vmw_obj_clear (struct vmi_vmw_obj *o);
void vmi_vmw_objs_free (struct vmi_vmw_objs *iv);
/* The objects of a RetrieveResult (returnval) RV; 0 or -1. */
int vmi_vmw_objs_add (struct vmi_vmw_objs *iv, xmlNodePtr rv);
/* Keep D (freed with IV; freed at once on failure).  0 or -1. */
int vmi_vmw_objs_keep (struct vmi_vmw_objs *iv, xmlDocPtr d);
struct vmi_vmw_obj *vmi_vmw_objs_find (struct vmi_vmw_objs *iv,
                                       const char *moref);
/* The val of the property PATH of an objects element (NULL: not said). */
xmlNodePtr vmi_vmw_prop (xmlNodePtr objects, const char *path);
char *vmi_vmw_prop_text (xmlNodePtr objects, const char *path);
/* SearchIndex.FindByInventoryPath: the moref (*TYPE its type, may be NULL),
 * or NULL with errno ENOENT when nothing is there (no error recorded), or
 * another errno with the error. */
char *vmi_vmw_find_path (struct vmi_vmw_soap *s, const char *path,
                         char **type);
/* A RetrievePropertiesEx request; *SPEC gets its specSet, to which
 * vmi_vmw_prop_spec adds a propSet (TYPE, PATHS NULL-terminated). */
xmlNodePtr vmi_vmw_retrieve_req (struct vmi_vmw_soap *s, xmlNodePtr *spec);
void vmi_vmw_prop_spec (xmlNodePtr spec, const char *type,
                        const char *const *paths);
/* Send M and every ContinueRetrievePropertiesEx its token asks for; the
 * objects go to IV.  0 or -1. */
int vmi_vmw_retrieve_all (struct vmi_vmw_soap *s, xmlNodePtr m,
                          struct vmi_vmw_objs *iv);

/* Inventory. */
struct vmi_vmw_disk {
  char *datastore;   /* "LocalDS_0" */
  char *path;        /* "dir/name.vmdk" */
};

/* A datastore of the datacenter: its name and summary.url
 * ("ds:///vmfs/volumes/<uuid>/"), to map the absolute parent names linked
 * clones carry ("/vmfs/volumes/<uuid or name>/dir/base.vmdk"). */
struct vmi_vmw_datastore {
  char *name, *url;
};

/* The datacenter PATH starts with: "DC[/FOLDER...]", or "F/.../DC[/...]"
 * for a datacenter inside folders (vCenter allows it).  *DC gets its
 * inventory path, *REST what follows (the VM folder path, "" if none);
 * both malloc'd.  0, or -1 with an error naming the path and listing the
 * datacenters there are. */
int vmi_vmw_datacenter (struct vmi_vmw_soap *s, const char *path, char **dc,
                        char **rest);
/* guest.toolsRunningStatus as vm.json's guest_tools: "running" (also
 * while Tools run power-state scripts), "not-running", NULL unknown. */
const char *vmi_vmw_guest_tools (const char *status);

/* Find the datacenter DC (an inventory path; and FOLDER under its VM folder, may be NULL) and
 * add every VM under it to P (vmi_vm with provider's data; only the VM
 * p->opts.only_vm names, by ID, path or name, when set); *DS gets the
 * datacenter's datastores (caller frees with vmi_vmw_datastores_free).
 * WHERE is the "vmware://host/DC" prefix for vm.json.  0 or -1. */
int vmi_vmw_inventory (struct vmi_vmw_soap *s, struct vmi_provider *p,
                       const char *dc, const char *folder, const char *where,
                       struct vmi_vmw_datastore **ds, size_t *nds);
void vmi_vmw_datastores_free (struct vmi_vmw_datastore *ds, size_t nds);
void vmi_vmw_vm_data_free (struct vmi_vm *vm);
/* The VMs of one RetrievePropertiesEx response (XML, LEN bytes), folders
 * relative to VMFOLDER, added to P: what vmi_vmw_inventory does with each
 * page.  For the fuzz target.  0 or -1. */
int vmi_vmw_inventory_parse (const char *xml, size_t len,
                             struct vmi_provider *p, const char *vmfolder);

/* Power. */
int vmi_vmw_power_state (struct vmi_vmw_soap *s, const char *moref, char **state);
int vmi_vmw_power_off (struct vmi_vmw_soap *s, const struct vmi_vm *vm, bool force,
                   int timeout_seconds);
/* A snapshot of VM without memory or quiescing (its disks stop changing
 * underneath: the VM now writes to new deltas); *SNAP gets its moref. */
int vmi_vmw_snapshot_create (struct vmi_vmw_soap *s, const struct vmi_vm *vm,
                             char **snap);
int vmi_vmw_snapshot_remove (struct vmi_vmw_soap *s, const char *vm_name,
                             const char *snap);
/* A task's moref from a *_Task response; wait until it ends.  0 or -1 with
 * the task's fault. */
int vmi_vmw_task_wait (struct vmi_vmw_soap *s, const char *task, const char *what,
                   char **result);

#endif
