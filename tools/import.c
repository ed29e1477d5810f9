/* vmimport import -f IMPORT.yaml: the whole import of one VM, as Harvester's
 * VM Import add-on runs it for a VirtualMachineImport object, with the
 * add-on's status and condition names:
 *
 *   preflight (vmimport manifest)   virtualMachineImportValid / ...Invalid
 *   the source opens                sourceReady
 *   power off (sources with power)  VMPoweringOff, VMPoweredOff
 *   the disks are readable          disksExported (VMExported)
 *   --mode pvc: vmimport copy of each disk into --target disk-N=PATH;
 *   --mode image: vmimport serve until every disk was read once
 *                                   diskImageSubmitted, per disk
 *                                   VirtualMachineImageSubmitted / Ready /
 *                                   Failed, then diskImagesReady or
 *                                   diskImageFailed
 *   the manifests (--out, --apply)  virtualMachineCreated
 *   kubectl wait (with --apply)     virtualMachineRunning
 *   any failure                     VMMigrationFailed, with the reason
 *
 * Each step is the tool's own command (the manifest and copy functions of
 * vmimport manifest and vmimport copy, called here on the source opened
 * once: one login, one read of the OVF, the copy's own worker threads), so
 * an import does what a user doing it by hand would, and says so step by
 * step: a line per step on a terminal, one JSON object per line
 * otherwise. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <json-c/json.h>

#include "vmimport/error.h"
#include "vmimport/k8s.h"
#include "cli.h"
#include "convert.h"
#include "manifest.h"

#define MAX_TARGETS 64

struct import {
  struct cli_common c;
  const char *file;           /* -f IMPORT.yaml */
  const char *source;         /* SOURCE, or NULL */
  const char *source_file;    /* --source-file, or -f's file */
  bool image_mode;
  const char *out_dir;
  bool apply;
  bool job;                   /* a Job in the cluster copies the disks */
  const char *job_image;
  bool target_is_zero;
  const char *targets[MAX_TARGETS];   /* by disk index */
  long wait_seconds;          /* kubectl wait, with --apply */
  struct serve_opts serve;
  bool json;                  /* JSON lines (stdout is not a terminal) */
  struct vmi_import_spec spec;
  struct vmi_provider *p;
  size_t vm_index;
  char *manifest_path;
  bool convert;               /* --convert: virt-v2v-in-place after the copy */
  const char *virtio_win;
  char *convert_record;       /* its record, for manifest --converted */
};

/* ---- reporting ------------------------------------------------------- */

/* One step: KEY ("status", "condition") = NAME, for DISK (or NULL), with
 * REASON (or NULL). */
static void
report (const struct import *im, const char *key, const char *name,
        const char *disk, const char *fmt, ...)
{
  char reason[1024] = "";

  if (fmt) {
    va_list ap;
    va_start (ap, fmt);
    vsnprintf (reason, sizeof reason, fmt, ap);
    va_end (ap);
  }
  if (im->json) {
    struct json_object *o = json_object_new_object ();
    json_object_object_add (o, key, json_object_new_string (name));
    if (disk)
      json_object_object_add (o, "disk", json_object_new_string (disk));
    if (*reason)
      json_object_object_add (o, "reason", json_object_new_string (reason));
    printf ("%s\n", json_object_to_json_string_ext (o, JSON_C_TO_STRING_PLAIN
                                                    | JSON_C_TO_STRING_NOSLASHESCAPE));
    json_object_put (o);
  }
  else
    printf ("%-9s %s%s%s%s%s\n", key, name, disk ? " " : "", disk ? disk : "",
            *reason ? ": " : "", reason);
  fflush (stdout);
}

static int
failed (const struct import *im, const char *fmt, const char *what)
{
  report (im, "status", "VMMigrationFailed", NULL, fmt, what);
  return EXIT_SOURCE;
}

/* ---- manifest and copy, on the source opened once ---------------------- */

/* A step's messages (stderr) go to a temporary file while it runs: the
 * status lines are the import's output, and the last message is the
 * reason of the one that says the step failed. */
struct captured {
  int fd;       /* the temporary file */
  int saved;    /* our stderr */
};

static int
capture_begin (struct captured *cap, char *why, size_t whylen)
{
  char path[] = "/tmp/vmimport-import-XXXXXX";

  fflush (stderr);
  if ((cap->fd = mkostemp (path, O_CLOEXEC)) == -1) {
    snprintf (why, whylen, "temporary file: %s", strerror (errno));
    return -1;
  }
  unlink (path);
  if ((cap->saved = fcntl (STDERR_FILENO, F_DUPFD_CLOEXEC, 3)) == -1
      || dup2 (cap->fd, STDERR_FILENO) == -1) {
    snprintf (why, whylen, "standard error: %s", strerror (errno));
    if (cap->saved >= 0)
      close (cap->saved);
    close (cap->fd);
    return -1;
  }
  return 0;
}

/* The last non-empty line of the file at FD (a step's messages). */
static void
last_line (int fd, char *buf, size_t len)
{
  char tmp[8192];
  ssize_t n = pread (fd, tmp, sizeof tmp - 1, 0);
  char *end, *start;

  snprintf (buf, len, "see the messages above");
  if (n <= 0)
    return;
  tmp[n] = '\0';
  end = tmp + n;
  while (end > tmp && (end[-1] == '\n' || end[-1] == '\r'))
    *--end = '\0';
  start = strrchr (tmp, '\n');
  start = start ? start + 1 : tmp;
  if (strncmp (start, "vmimport", 8) == 0 && strchr (start, ':'))
    start = strchr (start, ':') + 2 <= end ? strchr (start, ':') + 2 : start;
  if (*start)
    snprintf (buf, len, "%.1000s", start);
}

/* Our stderr back; the reason in WHY when RC says the step failed.  0, or
 * -1 when it failed. */
static int
capture_end (struct captured *cap, int rc, char *why, size_t whylen)
{
  fflush (stderr);
  dup2 (cap->saved, STDERR_FILENO);
  close (cap->saved);
  if (rc != EXIT_DONE)
    last_line (cap->fd, why, whylen);
  close (cap->fd);
  return rc == EXIT_DONE ? 0 : -1;
}

/* The manifest of this import (--mode, the URL base of image mode) into
 * OUT, preflight checks first.  0, or -1 with the reason in WHY. */
static int
run_manifest (struct import *im, FILE *out, const char *url_base,
              char *why, size_t whylen)
{
  struct mf_flags f = {
    .mode = im->image_mode ? "image" : "pvc", .url_base = url_base,
    .job = im->job, .job_image = im->job_image,
    .converted = im->convert_record, .skip_preflight = -1,
  };
  const char *source_file = im->source ? NULL : im->source_file;
  struct captured cap;
  int rc;

  if (capture_begin (&cap, why, whylen) == -1)
    return -1;
  rc = mf_preflight (&im->spec, source_file) > 0 ? EXIT_SOURCE
       : mf_write_vm (im->p, &im->spec, &f, im->source, source_file, out);
  return capture_end (&cap, rc, why, whylen);
}

/* A copy's JSON progress lines, each passed on as {"disk": ...,
 * "progress": {...}}: a stream (fopencookie) the copy writes to. */
struct progress_wrap {
  const char *disk;
  char line[4096];
  size_t len;
};

static void
wrap_progress (struct progress_wrap *w)
{
  struct json_object *p, *o;

  w->line[w->len] = '\0';
  w->len = 0;
  if ((p = json_tokener_parse (w->line)) == NULL)
    return;
  o = json_object_new_object ();
  json_object_object_add (o, "disk", json_object_new_string (w->disk));
  json_object_object_add (o, "progress", p);
  printf ("%s\n", json_object_to_json_string_ext (o, JSON_C_TO_STRING_PLAIN
                                                  | JSON_C_TO_STRING_NOSLASHESCAPE));
  fflush (stdout);
  json_object_put (o);
}

static ssize_t
wrap_write (void *cookie, const char *buf, size_t size)
{
  struct progress_wrap *w = cookie;

  for (size_t i = 0; i < size; i++) {
    if (buf[i] == '\n')
      wrap_progress (w);
    else if (w->len < sizeof w->line - 1)
      w->line[w->len++] = buf[i];
  }
  return (ssize_t) size;
}

/* Disk I copied into its target, progress passed on.  0, or -1 with the
 * reason in WHY. */
static int
run_copy (struct import *im, size_t i, char *why, size_t whylen)
{
  const struct vmi_vm *vm = im->p->vms[im->vm_index];
  struct copy_args a = { .jobs = copy_default_jobs (im->source),
                         .target_is_zero = im->target_is_zero };
  struct progress_wrap w = { .disk = vm->disks[i].file };
  cookie_io_functions_t io = { .write = wrap_write };
  FILE *out = stdout;
  struct captured cap;
  int rc;

  if (im->json && (out = fopencookie (&w, "w", io)) == NULL) {
    snprintf (why, whylen, "out of memory");
    return -1;
  }
  if (capture_begin (&cap, why, whylen) == -1) {
    if (out != stdout)
      fclose (out);
    return -1;
  }
  rc = copy_disk (im->p, im->vm_index, i,
                  im->source ? im->source : im->source_file, &a,
                  im->targets[i], out);
  if (out != stdout)
    fclose (out);
  return capture_end (&cap, rc, why, whylen);
}

/* ---- steps -------------------------------------------------------------- */

static int
find_vm (struct import *im, char *why, size_t whylen)
{
  const char *want = im->spec.vm_name;
  long found = -1;

  for (size_t i = 0; i < im->p->nvms; i++) {
    const struct vmi_vm *vm = im->p->vms[i];
    if (strcmp (vm->name, want) && (vm->id == NULL || strcmp (vm->id, want)))
      continue;
    if (im->spec.folder && *im->spec.folder && vm->folder
        && strcmp (vm->folder, im->spec.folder))
      continue;
    if (found >= 0) {
      snprintf (why, whylen, "several VMs are named \"%s\"; give its ID in "
                "spec.virtualMachineName", want);
      return -1;
    }
    found = (long) i;
  }
  if (found < 0) {
    snprintf (why, whylen, "VM \"%s\" not found in the source", want);
    return -1;
  }
  im->vm_index = (size_t) found;
  return 0;
}

static int
power_off (struct import *im)
{
  const struct vmi_vm *vm = im->p->vms[im->vm_index];

  if (im->p->ops->power_off == NULL || vm->power_state == NULL
      || strcmp (vm->power_state, "on") != 0)
    return 0;
  report (im, "condition", "VMPoweringOff", NULL, "%s",
          im->spec.force_power_off ? "forced" : "graceful, then forced");
  if (im->p->ops->power_off (im->p, vm, im->spec.force_power_off == 1,
                             (int) im->spec.graceful_timeout) == -1)
    return failed (im, "power off: %s", vmi_error_get ());
  report (im, "condition", "VMPoweredOff", NULL, NULL);
  return 0;
}

static int
copy_disks (struct import *im)
{
  const struct vmi_vm *vm = im->p->vms[im->vm_index];
  char why[1024];
  bool ok = true;

  report (im, "status", "diskImageSubmitted", NULL, NULL);
  for (size_t i = 0; i < vm->ndisks; i++) {
    report (im, "condition", "VirtualMachineImageSubmitted", vm->disks[i].file,
            "copy into %s", im->targets[i]);
    if (run_copy (im, i, why, sizeof why) == -1) {
      report (im, "condition", "VirtualMachineImageFailed", vm->disks[i].file,
              "%s", why);
      ok = false;
      break;
    }
    report (im, "condition", "VirtualMachineImageReady", vm->disks[i].file, NULL);
  }
  if (!ok) {
    report (im, "status", "diskImageFailed", NULL, NULL);
    return failed (im, "%s", "a disk could not be copied");
  }
  report (im, "status", "diskImagesReady", NULL, NULL);
  return 0;
}

/* --convert: the guest on the copied targets made to boot on virtio
 * (convert.c); a failure ends the import, the targets as copied. */
static int
convert_disks (struct import *im)
{
  const struct vmi_vm *vm = im->p->vms[im->vm_index];
  struct domain_disk *d = calloc (vm->ndisks, sizeof *d);
  struct convert_opts o = { .virtio_win = im->virtio_win, .json = im->json };
  int rc;

  if (d == NULL)
    return failed (im, "%s", "out of memory");
  for (size_t i = 0; i < vm->ndisks; i++)
    d[i] = (struct domain_disk) { .path = im->targets[i], .format = "raw" };
  report (im, "status", "guestConversionSubmitted", NULL,
          "virt-v2v-in-place on %s", im->targets[0]);
  rc = convert_guest (vm, d, &o);
  free (d);
  if (rc != EXIT_DONE) {
    report (im, "status", "guestConversionFailed", NULL, "%s",
            "the disks are as copied; see the conversion's messages");
    return failed (im, "%s", "the guest could not be converted");
  }
  if ((im->convert_record = convert_record_path (im->targets[0])) == NULL)
    return failed (im, "%s", "out of memory");
  report (im, "status", "guestConverted", NULL, "virtio disks and NICs");
  return 0;
}

/* Write the manifest into --out (URL_BASE for image mode). */
static int
write_manifests (struct import *im, const char *url_base)
{
  const struct vmi_vm *vm = im->p->vms[im->vm_index];
  char why[1024], *name = vmi_k8s_name (im->spec.name ? im->spec.name
                                        : vm->name, VMI_K8S_NAME_MAX);
  FILE *out;
  int fd;

  if (name == NULL || asprintf (&im->manifest_path, "%s/%s.yaml", im->out_dir,
                                name) == -1) {
    free (name);
    im->manifest_path = NULL;
    return failed (im, "%s", "out of memory");
  }
  free (name);
  if ((fd = open (im->manifest_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
                  0644)) == -1 || (out = fdopen (fd, "w")) == NULL) {
    if (fd >= 0)
      close (fd);
    return failed (im, "%s", strerror (errno));
  }
  if (run_manifest (im, out, url_base, why, sizeof why) == -1) {
    fclose (out);
    return failed (im, "manifest: %s", why);
  }
  if (fflush (out) != 0 || fsync (fd) == -1) {
    fclose (out);
    return failed (im, "%s", strerror (errno));
  }
  if (fclose (out) != 0)
    return failed (im, "%s", strerror (errno));
  return 0;
}

/* kubectl with ARGS (NULL-terminated, after "kubectl"): true if it
 * exited 0. */
static bool
kubectl (const char *const *args)
{
  const char *argv[16] = { "kubectl" };
  pid_t pid;
  int status = -1, n = 1;

  for (; args[n - 1] && n < 15; n++)
    argv[n] = args[n - 1];
  argv[n] = NULL;
  fflush (stdout);
  if ((pid = fork ()) == 0) {
    execvp ("kubectl", (char *const *) argv);
    fprintf (stderr, "vmimport import: kubectl: %s\n", strerror (errno));
    _exit (127);
  }
  if (pid > 0)
    while (waitpid (pid, &status, 0) == -1 && errno == EINTR)
      ;
  return pid > 0 && WIFEXITED (status) && WEXITSTATUS (status) == 0;
}

/* "NAME" of the object the manifest calls after SUFFIX-ed source NAME. */
static char *
object_name (const char *name, const char *suffix)
{
  char buf[512];

  snprintf (buf, sizeof buf, "%s%s", name, suffix);
  return vmi_k8s_name (buf, VMI_K8S_NAME_MAX);
}

/* The manifest written (and applied): virtualMachineCreated; with
 * --apply, wait for the VM to run.  No kubectl: the manifest stays in
 * --out for whoever applies it. */
static int
finish (struct import *im)
{
  const struct vmi_vm *vm = im->p->vms[im->vm_index];
  char *vmname = object_name (vm->name, "");
  const char *ns = im->spec.namespace_ ? im->spec.namespace_ : "default";
  char timeout[32], target[600];
  int rc = EXIT_DONE;

  report (im, "status", "virtualMachineCreated", NULL, "%s%s",
          im->apply ? "applied " : "written to ", im->manifest_path);
  if (!im->apply || vmname == NULL) {
    free (vmname);
    return im->apply ? failed (im, "%s", "out of memory") : EXIT_DONE;
  }
  snprintf (timeout, sizeof timeout, "--timeout=%lds", im->wait_seconds);
  if (im->job) {
    /* The Job copied the disks: now the VM may start. */
    const char *patch[] = { "patch", "virtualmachine", vmname, "-n", ns,
                            "--type", "merge", "-p",
                            "{\"spec\":{\"runStrategy\":\"RerunOnFailure\"}}",
                            NULL };
    if (!kubectl (patch)) {
      free (vmname);
      return failed (im, "%s", "kubectl patch: the VM's run strategy could "
                     "not be set");
    }
  }
  snprintf (target, sizeof target, "virtualmachineinstance/%s", vmname);
  {
    const char *wait[] = { "wait", "--for=condition=Ready", "-n", ns, target,
                           timeout, NULL };
    if (kubectl (wait))
      report (im, "status", "virtualMachineRunning", NULL, NULL);
    else
      rc = failed (im, "%s", "kubectl wait: the VirtualMachine did not "
                   "become ready");
  }
  free (vmname);
  return rc;
}

/* kubectl apply -f MANIFEST. */
static int
kubectl_apply (struct import *im)
{
  const char *args[] = { "apply", "-f", im->manifest_path, NULL };

  return kubectl (args) ? 0 : failed (im, "%s", "kubectl apply failed");
}

/* --job: the manifest's Job copies the disks in the cluster; wait for it
 * to complete. */
static int
job_mode (struct import *im)
{
  const struct vmi_vm *vm = im->p->vms[im->vm_index];
  const char *ns = im->spec.namespace_ ? im->spec.namespace_ : "default";
  char *job = object_name (vm->name, "-copy"), target[600], timeout[32];
  int rc;

  if (job == NULL)
    return failed (im, "%s", "out of memory");
  if ((rc = write_manifests (im, NULL)) != 0 || (rc = kubectl_apply (im)) != 0) {
    free (job);
    return rc;
  }
  report (im, "status", "diskImageSubmitted", NULL, "Job %s", job);
  for (size_t i = 0; i < vm->ndisks; i++)
    report (im, "condition", "VirtualMachineImageSubmitted", vm->disks[i].file,
            "copied by Job %s", job);
  snprintf (target, sizeof target, "job/%s", job);
  snprintf (timeout, sizeof timeout, "--timeout=%lds", im->wait_seconds);
  {
    const char *wait[] = { "wait", "--for=condition=complete", "-n", ns,
                           target, timeout, NULL };
    if (!kubectl (wait)) {
      for (size_t i = 0; i < vm->ndisks; i++)
        report (im, "condition", "VirtualMachineImageFailed",
                vm->disks[i].file, "Job %s did not complete", job);
      report (im, "status", "diskImageFailed", NULL, NULL);
      rc = failed (im, "Job %s did not complete (kubectl logs for its "
                   "messages)", job);
      free (job);
      return rc;
    }
  }
  for (size_t i = 0; i < vm->ndisks; i++)
    report (im, "condition", "VirtualMachineImageReady", vm->disks[i].file,
            NULL);
  report (im, "status", "diskImagesReady", NULL, NULL);
  free (job);
  return 0;
}

static int
image_mode (struct import *im)
{
  const struct vmi_vm *vm = im->p->vms[im->vm_index];
  struct server *s;
  int rc;

  im->serve.until_read = true;
  if ((s = server_start (im->p, &im->serve, &rc)) == NULL)
    return failed (im, "%s", "the disks could not be served");
  if ((rc = write_manifests (im, server_url (s))) != 0
      || (im->apply && (rc = kubectl_apply (im)) != 0)) {
    server_stop (s);
    return rc;
  }
  report (im, "status", "diskImageSubmitted", NULL, "serving at %s",
          "the URLs in the manifest");
  for (size_t i = 0; i < vm->ndisks; i++)
    report (im, "condition", "VirtualMachineImageSubmitted", vm->disks[i].file,
            NULL);
  if (!server_wait (s)) {
    server_stop (s);
    report (im, "status", "diskImageFailed", NULL, "stopped by a signal");
    return failed (im, "%s", "stopped before every disk was downloaded");
  }
  for (size_t i = 0; i < vm->ndisks; i++)
    report (im, "condition", "VirtualMachineImageReady", vm->disks[i].file,
            NULL);
  report (im, "status", "diskImagesReady", NULL, NULL);
  server_stop (s);
  return 0;
}

/* ---- command line ----------------------------------------------------- */

static void
usage (FILE *f)
{
  fprintf (f,
"Usage: vmimport import -f IMPORT.yaml [SOURCE | --source-file SOURCE.yaml]\n"
"                       [--mode pvc|image] [--out DIR] [--apply] ...\n"
"The whole import of the VM a VirtualMachineImport names: preflight, power\n"
"off, the disks, the manifests; each step printed with the add-on's status\n"
"and condition names (a line each; JSON lines when not on a terminal).\n"
"The source is SOURCE, --source-file, or the source object in IMPORT.yaml.\n\n"
"  -f, --file FILE        the VirtualMachineImport (and maybe its source)\n"
"  --mode pvc|image       pvc (default): copy each disk into a volume this\n"
"                         node sees; image: serve the disks for Harvester's\n"
"                         VirtualMachineImages to download, until each was\n"
"                         read whole\n"
"  --target disk-N=PATH   pvc mode: where disk N goes (a block device or a\n"
"                         file); one for every disk\n"
"  --target-is-zero       pvc mode: the targets are new (all zeros)\n"
"  --convert              pvc mode: after the copies, make the guest boot on\n"
"                         virtio (virt-v2v-in-place; see vmimport convert)\n"
"  --virtio-win PATH      with --convert: virtio-win drivers (Windows)\n"
"  --out DIR              where the manifest is written (default .)\n"
"  --apply                kubectl apply it, then wait for the VM to run\n"
"  --job                  (with --apply) a Job per VM copies the disks in\n"
"                         the cluster; the VM starts once it completed\n"
"  --job-image IMAGE      the Job's image (see Containerfile)\n"
"  --wait-seconds N       how long to wait for it (default 600)\n"
"  --listen, --tls-cert, --tls-key, --token-file, --cache-size\n"
"                         image mode: as for vmimport serve\n\n"
"Exit status: 0 imported, 1 failed (the reason is the last line), 2 usage.\n\n"
CLI_COMMON_HELP);
}

enum { OPT_MODE = OPT_FIRST_COMMAND_OPTION, OPT_TARGET, OPT_TARGET_IS_ZERO,
       OPT_JOB, OPT_JOB_IMAGE,
       OPT_OUT, OPT_APPLY, OPT_WAIT, OPT_LISTEN, OPT_TLS_CERT, OPT_TLS_KEY,
       OPT_TOKEN_FILE, OPT_CACHE_SIZE, OPT_CONVERT, OPT_VIRTIO_WIN };

static int
set_target (struct import *im, const char *arg)
{
  char *end;
  long i;

  if (strncmp (arg, "disk-", 5) != 0)
    goto bad;
  errno = 0;
  i = strtol (arg + 5, &end, 10);
  if (errno || end == arg + 5 || *end != '=' || end[1] == '\0' || i < 0
      || i >= MAX_TARGETS)
    goto bad;
  im->targets[i] = end + 1;
  return 0;
 bad:
  fprintf (stderr, "vmimport import: --target %s: expected disk-N=PATH\n", arg);
  return -1;
}

static int
parse (int argc, char **argv, struct import *im)
{
  static const struct option longopts[] = {
    CLI_COMMON_OPTIONS,
    { "file", required_argument, NULL, 'f' },
    { "json", no_argument, NULL, OPT_JSON },
    { "mode", required_argument, NULL, OPT_MODE },
    { "target", required_argument, NULL, OPT_TARGET },
    { "target-is-zero", no_argument, NULL, OPT_TARGET_IS_ZERO },
    { "out", required_argument, NULL, OPT_OUT },
    { "apply", no_argument, NULL, OPT_APPLY },
    { "job", no_argument, NULL, OPT_JOB },
    { "job-image", required_argument, NULL, OPT_JOB_IMAGE },
    { "wait-seconds", required_argument, NULL, OPT_WAIT },
    { "listen", required_argument, NULL, OPT_LISTEN },
    { "tls-cert", required_argument, NULL, OPT_TLS_CERT },
    { "tls-key", required_argument, NULL, OPT_TLS_KEY },
    { "token-file", required_argument, NULL, OPT_TOKEN_FILE },
    { "cache-size", required_argument, NULL, OPT_CACHE_SIZE },
    { "convert", no_argument, NULL, OPT_CONVERT },
    { "virtio-win", required_argument, NULL, OPT_VIRTIO_WIN },
    { 0 }
  };
  int opt, r;
  int64_t size;
  char *end;

  while ((opt = getopt_long (argc, argv, "f:vh", longopts, NULL)) != -1) {
    switch (opt) {
    case 'h': usage (stdout); return EXIT_DONE;
    case 'f': im->file = optarg; break;
    case OPT_MODE:
      if (strcmp (optarg, "pvc") && strcmp (optarg, "image")) {
        fprintf (stderr, "vmimport import: --mode %s: expected pvc or image\n",
                 optarg);
        return EXIT_USAGE;
      }
      im->image_mode = !strcmp (optarg, "image");
      break;
    case OPT_TARGET:
      if (set_target (im, optarg) == -1)
        return EXIT_USAGE;
      break;
    case OPT_TARGET_IS_ZERO: im->target_is_zero = true; break;
    case OPT_OUT: im->out_dir = optarg; break;
    case OPT_CONVERT: im->convert = true; break;
    case OPT_VIRTIO_WIN: im->virtio_win = optarg; break;
    case OPT_APPLY: im->apply = true; break;
    case OPT_JOB: im->job = true; break;
    case OPT_JOB_IMAGE: im->job_image = optarg; break;
    case OPT_WAIT:
      im->wait_seconds = strtol (optarg, &end, 10);
      if (*end || end == optarg || im->wait_seconds < 0) {
        fprintf (stderr, "vmimport import: --wait-seconds %s: not a number "
                 "of seconds\n", optarg);
        return EXIT_USAGE;
      }
      break;
    case OPT_LISTEN: im->serve.listen = optarg; break;
    case OPT_TLS_CERT: im->serve.tls_cert_file = optarg; break;
    case OPT_TLS_KEY: im->serve.tls_key_file = optarg; break;
    case OPT_TOKEN_FILE: im->serve.token_file = optarg; break;
    case OPT_CACHE_SIZE:
      if ((size = vmi_parse_size (optarg)) < 0) {
        fprintf (stderr, "vmimport import: --cache-size %s: not a size\n",
                 optarg);
        return EXIT_USAGE;
      }
      im->serve.cache_size = (uint64_t) size;
      break;
    default:
      if ((r = cli_common_option (&im->c, opt, optarg)) != 1) {
        if (r == 0)
          usage (stderr);
        return EXIT_USAGE;
      }
    }
  }
  if (im->convert && im->image_mode) {
    fprintf (stderr, "vmimport import: --convert needs --mode pvc: a guest "
             "is converted on its copied disks\n");
    return EXIT_USAGE;
  }
  if (im->file == NULL) {
    fprintf (stderr, "vmimport import: give -f IMPORT.yaml\n");
    return EXIT_USAGE;
  }
  if (im->job && (!im->apply || im->image_mode)) {
    fprintf (stderr, "vmimport import: --job runs in the cluster: it needs "
             "--apply, and --mode pvc\n");
    return EXIT_USAGE;
  }
  if (optind + 1 < argc || (optind < argc && im->c.source_file)) {
    fprintf (stderr, "vmimport import: give one SOURCE or --source-file, "
             "not both\n");
    return EXIT_USAGE;
  }
  im->source = optind < argc ? argv[optind] : NULL;
  im->source_file = im->c.source_file ? im->c.source_file
                    : im->source ? NULL : im->file;
  im->c.source_file = NULL;
  if (im->apply && access ("/usr/bin/kubectl", X_OK) != 0) {
    /* Look the whole PATH through, as execvp will. */
    const char *path = getenv ("PATH");
    bool found = false;
    char buf[PATH_MAX];
    for (const char *p = path; p && *p && !found;) {
      size_t n = strcspn (p, ":");
      snprintf (buf, sizeof buf, "%.*s/kubectl", (int) n, p);
      found = access (buf, X_OK) == 0;
      p += n + (p[n] == ':');
    }
    if (!found) {
      fprintf (stderr, "vmimport import: --apply needs kubectl on PATH; "
               "without it, apply the manifest from --out yourself\n");
      return EXIT_USAGE;
    }
  }
  return cli_common_finish (&im->c) == -1 ? EXIT_USAGE : -1;
}

int
cli_import (int argc, char **argv)
{
  struct import im = { .out_dir = ".", .wait_seconds = 600 };
  char why[1024];
  int rc;

  cli_common_init (&im.c);
  serve_opts_init (&im.serve);
  vmi_import_spec_init (&im.spec);
  im.json = !isatty (STDOUT_FILENO);
  if ((rc = parse (argc, argv, &im)) != -1)
    goto out;
  if (vmi_import_yaml_read (im.file, &im.spec) == -1) {
    report (&im, "status", "virtualMachineImportInvalid", NULL, "%s",
            vmi_error_get ());
    rc = EXIT_SOURCE;
    goto out;
  }

  /* The source, opened once for every step: one that cannot be reached
   * fails the import.  Only the VM the import names is wanted (providers
   * that can look one VM up describe only it, as for --vm). */
  if (im.spec.vm_name && (im.c.opts.only_vm = strdup (im.spec.vm_name))
                         == NULL) {
    rc = failed (&im, "%s", "out of memory");
    goto out;
  }
  im.p = im.source ? vmi_provider_open (im.source, &im.c.opts)
                   : vmi_provider_open_yaml (im.source_file, &im.c.opts);
  if (im.p == NULL) {
    rc = failed (&im, "source: %s", vmi_error_get ());
    goto out;
  }
  /* Preflight: the manifest decides every object; nothing is touched if
   * it refuses. */
  {
    FILE *null = fopen ("/dev/null", "we");
    const char *url = im.image_mode ? "http://127.0.0.1/preflight" : NULL;
    int r = null ? run_manifest (&im, null, url, why, sizeof why) : -1;
    if (null == NULL)
      snprintf (why, sizeof why, "/dev/null: %s", strerror (errno));
    else
      fclose (null);
    if (r == -1) {
      report (&im, "status", "virtualMachineImportInvalid", NULL, "%s", why);
      rc = EXIT_SOURCE;
      goto out;
    }
  }
  report (&im, "status", "virtualMachineImportValid", NULL, NULL);
  report (&im, "status", "sourceReady", NULL, NULL);
  if (find_vm (&im, why, sizeof why) == -1) {
    rc = failed (&im, "%s", why);
    goto out;
  }
  if (!im.image_mode && !im.job)
    for (size_t i = 0; i < im.p->vms[im.vm_index]->ndisks; i++)
      if (i >= MAX_TARGETS || im.targets[i] == NULL) {
        fprintf (stderr, "vmimport import: --mode pvc: VM %s has %zu disks; "
                 "give --target disk-%zu=PATH for each\n",
                 im.p->vms[im.vm_index]->name, im.p->vms[im.vm_index]->ndisks, i);
        rc = EXIT_USAGE;
        goto out;
      }
  if ((rc = power_off (&im)) != 0)
    goto out;
  report (&im, "status", "disksExported", NULL, "read in place from the source");
  report (&im, "condition", "VMExported", NULL, NULL);
  if (im.image_mode) {
    if ((rc = image_mode (&im)) != 0)
      goto out;
  }
  else if (im.job) {
    if ((rc = job_mode (&im)) != 0)
      goto out;
  }
  else if ((rc = copy_disks (&im)) != 0
           || (im.convert && (rc = convert_disks (&im)) != 0)
           || (rc = write_manifests (&im, NULL)) != 0
           || (im.apply && (rc = kubectl_apply (&im)) != 0))
    goto out;
  rc = finish (&im);
 out:
  free (im.manifest_path);
  free (im.convert_record);
  vmi_import_spec_clear (&im.spec);
  vmi_provider_close (im.p);
  cli_common_clear (&im.c);
  if (copy_stop_signal ()) {   /* a copy stopped by it: end as it asked */
    signal (copy_stop_signal (), SIG_DFL);
    raise (copy_stop_signal ());
  }
  return rc;
}
