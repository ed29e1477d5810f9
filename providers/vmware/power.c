/* VMware: power and tasks.  poweroff = ShutdownGuest when VMware Tools
 * run (guest.toolsRunningStatus, read at that moment: the property vm.json's
 * guest_tools shows), runtime.powerState polled until the grace period
 * ends, then PowerOffVM_Task; a guest that ignores the request, or has no
 * Tools running, is powered off hard after the grace period instead of
 * waiting forever. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "vmimport/error.h"
#include "vmware-internal.h"

static double
now (void)
{
  struct timespec ts;

  clock_gettime (CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void
sleep_s (double s)
{
  struct timespec ts = { (time_t) s, (long) ((s - (time_t) s) * 1e9) };

  nanosleep (&ts, NULL);
}

/* One property of one object: its val element, in *DOC (caller frees). */
static xmlNodePtr
get_prop (struct vmi_vmw_soap *s, const char *type, const char *moref,
          const char *path, xmlDocPtr *doc)
{
  const char *t, *pc = vmi_vmw_soap_service (s, "propertyCollector", &t);
  xmlNodePtr m = vmi_vmw_req_new ("RetrievePropertiesEx", t, pc), spec, ps, os,
             ret, o;

  if (m == NULL) {
    errno = ENOMEM;
    vmi_error ("out of memory");
    return NULL;
  }
  spec = vmi_vmw_req_add (m, "specSet", NULL);
  ps = vmi_vmw_req_add (spec, "propSet", NULL);
  vmi_vmw_req_add (ps, "type", type);
  vmi_vmw_req_add (ps, "pathSet", path);
  os = vmi_vmw_req_add (spec, "objectSet", NULL);
  vmi_vmw_req_moref (os, "obj", type, moref);
  vmi_vmw_req_add (os, "skip", "false");
  vmi_vmw_req_add (m, "options", NULL);
  if ((*doc = vmi_vmw_soap_call (s, m, &ret)) == NULL)
    return NULL;
  o = vmi_vmw_child (vmi_vmw_child (ret, "returnval"), "objects");
  for (xmlNodePtr p = vmi_vmw_child (o, "propSet"); p; p = vmi_vmw_next (p, "propSet")) {
    char *name = vmi_vmw_child_text (p, "name");
    bool match = name && strcmp (name, path) == 0;
    free (name);
    if (match)
      return vmi_vmw_child (p, "val");
  }
  xmlFreeDoc (*doc);
  *doc = NULL;
  errno = ENOENT;
  vmi_error ("%s: %s %s has no property %s", vmi_vmw_soap_endpoint (s), type,
             moref, path);
  return NULL;
}

int
vmi_vmw_power_state (struct vmi_vmw_soap *s, const char *moref, char **state)
{
  xmlDocPtr doc;
  xmlNodePtr v = get_prop (s, "VirtualMachine", moref, "runtime.powerState",
                           &doc);

  if (v == NULL)
    return -1;
  *state = vmi_vmw_text (v);
  xmlFreeDoc (doc);
  return *state ? 0 : -1;
}

int
vmi_vmw_task_wait (struct vmi_vmw_soap *s, const char *task, const char *what,
               char **result)
{
  double delay = 0.05;

  if (result)
    *result = NULL;
  for (;;) {
    xmlDocPtr doc;
    xmlNodePtr info = get_prop (s, "Task", task, "info", &doc);
    char *state;
    if (info == NULL)
      return -1;
    state = vmi_vmw_child_text (info, "state");
    if (state && strcmp (state, "success") == 0) {
      if (result)
        *result = vmi_vmw_child_text (info, "result");
      free (state);
      xmlFreeDoc (doc);
      return 0;
    }
    if (state && strcmp (state, "error") == 0) {
      xmlNodePtr err = vmi_vmw_child (info, "error");
      char *ftype = vmi_vmw_xsi_type (vmi_vmw_child (err, "fault"));
      char *msg = vmi_vmw_child_text (err, "localizedMessage");
      errno = EIO;
      vmi_error ("%s: %s failed: %s%s%s", vmi_vmw_soap_endpoint (s), what,
                 ftype ? ftype : "error", msg && *msg ? ": " : "",
                 msg ? msg : "");
      free (ftype);
      free (msg);
      free (state);
      xmlFreeDoc (doc);
      return -1;
    }
    free (state);
    xmlFreeDoc (doc);
    sleep_s (delay);
    if (delay < 1)
      delay *= 2;
  }
}

/* A *_Task method on a VM; waits for the task.  RESULT may be NULL. */
static int
vm_task (struct vmi_vmw_soap *s, xmlNodePtr m, const char *what, char **result)
{
  xmlNodePtr ret;
  xmlDocPtr r = vmi_vmw_soap_call (s, m, &ret);
  char *task;
  int rc;

  if (r == NULL)
    return -1;
  task = vmi_vmw_child_text (ret, "returnval");
  xmlFreeDoc (r);
  if (task == NULL) {
    errno = EIO;
    vmi_error ("%s: %s returned no task", vmi_vmw_soap_endpoint (s), what);
    return -1;
  }
  rc = vmi_vmw_task_wait (s, task, what, result);
  free (task);
  return rc;
}

/* guest.toolsRunningStatus now (vm.json's was read at open time):
 * "running", "not-running", or NULL when unknown (then ShutdownGuest is
 * tried and its fault, ToolsUnavailable, said). */
static const char *
tools_now (struct vmi_vmw_soap *s, const struct vmi_vm *vm)
{
  xmlDocPtr doc;
  xmlNodePtr v = get_prop (s, "VirtualMachine", vm->id,
                           "guest.toolsRunningStatus", &doc);
  char *t;
  const char *tools;

  if (v == NULL)
    return NULL;   /* not said (or not readable): ShutdownGuest tells */
  t = vmi_vmw_text (v);
  tools = vmi_vmw_guest_tools (t);
  free (t);
  xmlFreeDoc (doc);
  return tools;
}

static int
hard_off (struct vmi_vmw_soap *s, const struct vmi_vm *vm, const char *moref)
{
  char what[512];

  snprintf (what, sizeof what, "PowerOffVM_Task of VM %s (%s)", vm->name,
            moref);
  vmi_log (VMI_LOG_WARN, "VM %s: powering off hard", vm->name);
  return vm_task (s, vmi_vmw_req_new ("PowerOffVM_Task", "VirtualMachine", moref),
                  what, NULL);
}

int
vmi_vmw_power_off (struct vmi_vmw_soap *s, const struct vmi_vm *vm, bool force,
               int timeout_seconds)
{
  char *state = NULL;
  const char *tools;
  xmlDocPtr r;
  double deadline;

  if (vmi_vmw_power_state (s, vm->id, &state) == -1)
    return -1;
  if (strcmp (state, "poweredOff") == 0) {
    free (state);
    vmi_log (VMI_LOG_INFO, "VM %s is already off", vm->name);
    return 0;
  }
  free (state);
  if (force)
    return hard_off (s, vm, vm->id);

  tools = tools_now (s, vm);
  if (tools && strcmp (tools, "not-running") == 0) {
    vmi_log (VMI_LOG_WARN, "VM %s: VMware Tools are not running in the guest "
             "(guest.toolsRunningStatus): it cannot be asked to shut down; "
             "it is powered off hard after %d s", vm->name, timeout_seconds);
    r = NULL;
  }
  else {
    r = vmi_vmw_soap_call (s, vmi_vmw_req_new ("ShutdownGuest",
                                               "VirtualMachine", vm->id),
                           NULL);
    if (r == NULL)
      vmi_log (VMI_LOG_WARN, "VM %s: the guest cannot be asked to shut down "
               "(%s); it is powered off hard after %d s", vm->name,
               vmi_error_get (), timeout_seconds);
  }
  xmlFreeDoc (r);
  deadline = now () + timeout_seconds;
  for (;;) {
    if (vmi_vmw_power_state (s, vm->id, &state) == -1)
      return -1;
    if (strcmp (state, "poweredOff") == 0) {
      free (state);
      return 0;
    }
    free (state);
    if (now () >= deadline)
      break;
    sleep_s (0.5);
  }
  vmi_log (VMI_LOG_WARN, "VM %s did not shut down within %d s", vm->name,
           timeout_seconds);
  return hard_off (s, vm, vm->id);
}

int
vmi_vmw_snapshot_create (struct vmi_vmw_soap *s, const struct vmi_vm *vm,
                         char **snap)
{
  xmlNodePtr m = vmi_vmw_req_new ("CreateSnapshot_Task", "VirtualMachine",
                                  vm->id);
  char what[512];

  if (m) {
    vmi_vmw_req_add (m, "name", "vmimport");
    vmi_vmw_req_add (m, "description", "vmimport: the disks are read under "
                     "this snapshot; removed when the read ends");
    vmi_vmw_req_add (m, "memory", "false");
    vmi_vmw_req_add (m, "quiesce", "false");
  }
  snprintf (what, sizeof what, "CreateSnapshot_Task of VM %s (%s)", vm->name,
            vm->id);
  if (vm_task (s, m, what, snap) == -1)
    return -1;
  if (*snap == NULL) {
    errno = EIO;
    vmi_error ("%s: %s gave no snapshot", vmi_vmw_soap_endpoint (s), what);
    return -1;
  }
  vmi_log (VMI_LOG_INFO, "VM %s: snapshot %s created", vm->name, *snap);
  return 0;
}

int
vmi_vmw_snapshot_remove (struct vmi_vmw_soap *s, const char *vm_name,
                         const char *snap)
{
  xmlNodePtr m = vmi_vmw_req_new ("RemoveSnapshot_Task",
                                  "VirtualMachineSnapshot", snap);
  char what[512];

  if (m) {
    vmi_vmw_req_add (m, "removeChildren", "false");
    vmi_vmw_req_add (m, "consolidate", "true");
  }
  snprintf (what, sizeof what, "RemoveSnapshot_Task of VM %s (%s)", vm_name,
            snap);
  return vm_task (s, m, what, NULL);
}
