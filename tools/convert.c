/* vmimport convert: the guest on a VM's copied disks made to boot on
 * virtio, by virt-v2v-in-place (the real tool; we do no guest surgery).
 *
 *   vmimport convert [OPTIONS] SOURCE [--vm NAME] DISK...
 *   vmimport copy ... --convert          (a one-disk VM, after the copy)
 *
 * Steps, each named in an error:
 *   1. "domain xml": the libvirt domain of the VM (domain-xml.c) with its
 *      disks at the copied DISKs, kept as BASE.vmimport-domain.xml;
 *   2. "overlay": a qcow2 overlay per disk in a scratch folder under
 *      /var/tmp, backed by the copied disk: virt-v2v writes there, so a
 *      conversion that fails leaves the disks exactly as copied;
 *   3. "virt-v2v-in-place -i libvirtxml" on a domain pointing at the
 *      overlays; its messages are passed through, prefixed "virt-v2v: " (or
 *      as JSON lines), its whole log (-v -x) kept as BASE.vmimport-convert.log;
 *      it must say the guest has virtio drivers, or nothing is committed;
 *   4. "commit": qemu-img commit writes the changed clusters into the
 *      copied disks;
 *   5. the record BASE.vmimport-convert.json says what the guest now
 *      boots on (virtio disks and NICs), or that it failed and at which
 *      step; `vmimport manifest --converted RECORD` reads it.
 * BASE is the first DISK for a file, /var/tmp/vmimport-convert_dev_NAME
 * for a block device (as copy's resume state). */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>

#include "vmimport/error.h"
#include "cli.h"
#include "convert.h"

extern char **environ;

enum {
  OPT_VIRTIO_WIN = OPT_FIRST_COMMAND_OPTION,
  OPT_QUIET,
  OPT_PROGRESS,
};

struct run {
  const struct convert_opts *o;
  FILE *log;
  char step[256];              /* the last step virt-v2v announced */
  char error[1024];            /* its last error line */
  bool virtio;                 /* "This guest has virtio drivers installed." */
  bool windows;                /* it is converting a Windows guest */
  bool refused;                /* we stopped it: Windows without virtio-win */
  time_t start;
};

static void
say (struct run *r, const char *type, const char *text)
{
  if (r->o->quiet)
    return;
  if (r->o->json) {
    struct json_object *j = json_object_new_object ();
    json_object_object_add (j, "convert", json_object_new_string (type));
    json_object_object_add (j, "message", json_object_new_string (text));
    json_object_object_add (j, "elapsed",
                            json_object_new_int64 (time (NULL) - r->start));
    printf ("%s\n", json_object_to_json_string_ext (j, JSON_C_TO_STRING_PLAIN));
    json_object_put (j);
  } else if (strcmp (type, "message") == 0)
    printf ("virt-v2v: [%4lld s] %s\n", (long long) (time (NULL) - r->start), text);
  else
    printf ("virt-v2v: %s: %s\n", type, text);
  fflush (stdout);
}

static void
logf_ (struct run *r, const char *fmt, ...)
{
  va_list ap;

  va_start (ap, fmt);
  vfprintf (r->log, fmt, ap);
  va_end (ap);
  fputc ('\n', r->log);
  fflush (r->log);
}

/* One line of virt-v2v's stdout (--machine-readable: JSON messages). */
static void
on_stdout (struct run *r, char *line, pid_t pid)
{
  struct json_object *j = line[0] == '{' ? json_tokener_parse (line) : NULL;
  const char *type, *msg;

  if (j == NULL)
    return;
  type = json_object_get_string (json_object_object_get (j, "type"));
  msg = json_object_get_string (json_object_object_get (j, "message"));
  if (type && msg) {
    if (strcmp (type, "message") == 0)
      snprintf (r->step, sizeof r->step, "%s", msg);
    if (strcmp (type, "error") == 0) {
      bool said = r->error[0] && strncmp (msg, r->error, strlen (r->error)) == 0;
      snprintf (r->error, sizeof r->error, "%s", msg);
      if (said)
        goto out;                 /* stderr said it first */
    }
    if (strstr (msg, "This guest has virtio drivers installed"))
      r->virtio = true;
    if (strncmp (msg, "Converting ", 11) == 0 && strstr (msg, "Windows"))
      r->windows = true;
    say (r, type, msg);
    if (r->windows && r->o->virtio_win == NULL && !r->refused) {
      r->refused = true;
      kill (pid, SIGTERM);
    }
  }
 out:
  json_object_put (j);
}

/* stderr: the debug log (-v -x), and error lines. */
static void
on_stderr (struct run *r, char *line)
{
  const char *e = strstr (line, "virt-v2v-in-place: error: ");

  if (e) {
    e += strlen ("virt-v2v-in-place: error: ");
    if (strncmp (r->error, e, strlen (e)) == 0)
      return;                     /* the JSON message said it first */
    if (r->error[0] == '\0')
      snprintf (r->error, sizeof r->error, "%s", e);
    say (r, "error", e);
  }
}

/* Lines of FD, each to the log and to FN; the tail of a partial line is
 * kept in BUF. */
static int
pump (struct run *r, int fd, char *buf, size_t *len, size_t cap, bool out,
      pid_t pid)
{
  ssize_t n = read (fd, buf + *len, cap - 1 - *len);
  char *nl, *p;

  if (n <= 0)
    return n == 0 || errno != EINTR ? 0 : 1;
  *len += (size_t) n;
  buf[*len] = '\0';
  p = buf;
  while ((nl = strchr (p, '\n')) != NULL || *len - (size_t) (p - buf) == cap - 1) {
    if (nl)
      *nl = '\0';
    fprintf (r->log, "%s\n", p);
    if (out)
      on_stdout (r, p, pid);
    else
      on_stderr (r, p);
    p = nl ? nl + 1 : buf + *len;
  }
  *len -= (size_t) (p - buf);
  memmove (buf, p, *len);
  fflush (r->log);
  return 1;
}

/* Run ARGV, its output through the handlers.  Exit status, or -1. */
static int
run_v2v (struct run *r, char **argv)
{
  int out[2], err[2], status = -1;
  posix_spawn_file_actions_t fa;
  pid_t pid;
  static char obuf[65536], ebuf[65536];
  size_t olen = 0, elen = 0;
  struct pollfd pf[2];

  if (pipe2 (out, O_CLOEXEC) == -1)
    return -1;
  if (pipe2 (err, O_CLOEXEC) == -1) {
    close (out[0]);
    close (out[1]);
    return -1;
  }
  posix_spawn_file_actions_init (&fa);
  posix_spawn_file_actions_addopen (&fa, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2 (&fa, out[1], 1);
  posix_spawn_file_actions_adddup2 (&fa, err[1], 2);
  errno = posix_spawnp (&pid, argv[0], &fa, NULL, argv, environ);
  posix_spawn_file_actions_destroy (&fa);
  close (out[1]);
  close (err[1]);
  if (errno) {
    vmi_error ("cannot run %s: %s (install the virt-v2v package)", argv[0],
               strerror (errno));
    close (out[0]);
    close (err[0]);
    return -1;
  }
  pf[0] = (struct pollfd) { .fd = out[0], .events = POLLIN };
  pf[1] = (struct pollfd) { .fd = err[0], .events = POLLIN };
  while (pf[0].fd >= 0 || pf[1].fd >= 0) {
    if (poll (pf, 2, -1) == -1 && errno != EINTR)
      break;
    for (int i = 0; i < 2; i++)
      if (pf[i].fd >= 0 && pf[i].revents
          && pump (r, pf[i].fd, i ? ebuf : obuf, i ? &elen : &olen,
                   sizeof obuf, i == 0, pid) == 0) {
        close (pf[i].fd);
        pf[i].fd = -1;
      }
  }
  while (waitpid (pid, &status, 0) == -1 && errno == EINTR)
    ;
  return WIFEXITED (status) ? WEXITSTATUS (status) : 128 + WTERMSIG (status);
}

/* A command without pass-through (qemu-img): its output to the log. */
static int
run_quiet (struct run *r, char **argv)
{
  posix_spawn_file_actions_t fa;
  pid_t pid;
  int status;

  fprintf (r->log, "+");
  for (size_t i = 0; argv[i]; i++)
    fprintf (r->log, " %s", argv[i]);
  fprintf (r->log, "\n");
  fflush (r->log);
  posix_spawn_file_actions_init (&fa);
  posix_spawn_file_actions_adddup2 (&fa, fileno (r->log), 1);
  posix_spawn_file_actions_adddup2 (&fa, fileno (r->log), 2);
  errno = posix_spawnp (&pid, argv[0], &fa, NULL, argv, environ);
  posix_spawn_file_actions_destroy (&fa);
  if (errno)
    return -1;
  while (waitpid (pid, &status, 0) == -1 && errno == EINTR)
    ;
  return WIFEXITED (status) ? WEXITSTATUS (status) : 128 + WTERMSIG (status);
}

static char *
record_base (const char *disk)
{
  struct stat st;
  char *s = NULL;

  if (stat (disk, &st) == 0 && S_ISBLK (st.st_mode)) {
    if (asprintf (&s, "/var/tmp/vmimport-convert%s", disk) != -1)
      for (char *p = s + strlen ("/var/tmp/"); *p; p++)
        if (*p == '/')
          *p = '_';
    return s;
  }
  return strdup (disk);
}

char *
convert_record_path (const char *disk)
{
  char *base = record_base (disk), *s = NULL;

  if (base && asprintf (&s, "%s.vmimport-convert.json", base) == -1)
    s = NULL;
  free (base);
  return s;
}

static int
write_text (const char *path, const char *text)
{
  FILE *f = fopen (path, "w");

  if (f == NULL || fputs (text, f) == EOF || fclose (f) == EOF) {
    vmi_error ("%s: cannot write: %s", path, strerror (errno));
    return -1;
  }
  return 0;
}

/* BASE.vmimport-convert.json */
static int
write_record (const struct vmi_vm *vm, const struct domain_disk *disks,
              const char *path, const char *status, const char *step,
              const char *error, const char *log)
{
  struct json_object *o = json_object_new_object ();
  struct json_object *ds = json_object_new_array (), *ns = json_object_new_array ();
  bool ok = strcmp (status, "converted") == 0;
  int r;

  json_object_object_add (o, "vm", json_object_new_string (vm->name));
  json_object_object_add (o, "status", json_object_new_string (status));
  json_object_object_add (o, "step", step ? json_object_new_string (step) : NULL);
  json_object_object_add (o, "error", error ? json_object_new_string (error) : NULL);
  json_object_object_add (o, "log", json_object_new_string (log));
  for (size_t i = 0; i < vm->ndisks; i++) {
    struct json_object *d = json_object_new_object ();
    json_object_object_add (d, "index", json_object_new_int (vm->disks[i].index));
    json_object_object_add (d, "path", json_object_new_string (disks[i].path));
    json_object_object_add (d, "source_bus", vm->disks[i].bus
                            ? json_object_new_string (vm->disks[i].bus) : NULL);
    json_object_object_add (d, "bus", ok ? json_object_new_string ("virtio")
                            : vm->disks[i].bus
                            ? json_object_new_string (vm->disks[i].bus) : NULL);
    json_object_array_add (ds, d);
  }
  for (size_t i = 0; i < vm->nnics; i++) {
    struct json_object *n = json_object_new_object ();
    json_object_object_add (n, "index", json_object_new_int (vm->nics[i].index));
    json_object_object_add (n, "mac", vm->nics[i].mac
                            ? json_object_new_string (vm->nics[i].mac) : NULL);
    json_object_object_add (n, "model", ok ? json_object_new_string ("virtio")
                            : vm->nics[i].model
                            ? json_object_new_string (vm->nics[i].model) : NULL);
    json_object_array_add (ns, n);
  }
  json_object_object_add (o, "disks", ds);
  json_object_object_add (o, "nics", ns);
  r = write_text (path, json_object_to_json_string_ext (
                    o, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED
                       | JSON_C_TO_STRING_NOSLASHESCAPE));
  json_object_put (o);
  return r;
}

/* Steps 2-4 in the scratch folder DIR.  Returns the failed step's name, or
 * NULL when the disks now hold the converted guest. */
static const char *
convert_in (struct run *r, const struct vmi_vm *vm,
            const struct domain_disk *disks, const char *dir)
{
  struct domain_disk *ov = calloc (vm->ndisks, sizeof *ov);
  char **paths = calloc (vm->ndisks, sizeof *paths);
  char *xml = NULL, *xml_path = NULL;
  const char *failed = NULL;
  int st;

  if (ov == NULL || paths == NULL)
    goto oom;
  for (size_t i = 0; i < vm->ndisks; i++) {
    char *abs = realpath (disks[i].path, NULL);
    if (abs == NULL || asprintf (&paths[i], "%s/disk-%zu.qcow2", dir, i) == -1) {
      free (abs);
      goto oom;
    }
    char *argv[] = { "qemu-img", "create", "-q", "-f", "qcow2", "-F", "raw",
                     "-b", abs, paths[i], NULL };
    st = run_quiet (r, argv);
    free (abs);
    if (st != 0) {
      snprintf (r->error, sizeof r->error, "qemu-img create of an overlay on "
                "%s failed (see the log)", disks[i].path);
      failed = "overlay";
      goto out;
    }
    ov[i] = (struct domain_disk) { .path = paths[i], .format = "qcow2" };
  }
  if ((xml = domain_xml_new (vm, ov)) == NULL
      || asprintf (&xml_path, "%s/domain.xml", dir) == -1
      || write_text (xml_path, xml) == -1) {
    snprintf (r->error, sizeof r->error, "%s", vmi_error_get ());
    failed = "domain xml";
    goto out;
  }
  {
    char *argv[] = { "virt-v2v-in-place", "-v", "-x", "--machine-readable",
                     "-i", "libvirtxml", xml_path, NULL };
    logf_ (r, "+ virt-v2v-in-place -v -x --machine-readable -i libvirtxml %s", xml_path);
    st = run_v2v (r, argv);
  }
  if (r->refused) {
    snprintf (r->error, sizeof r->error, "a Windows guest needs the virtio-win "
              "drivers, which Debian does not ship: get virtio-win.iso from "
              "https://fedorapeople.org/groups/virt/virtio-win/ and give "
              "--virtio-win PATH");
    failed = "virt-v2v-in-place (Windows without --virtio-win)";
    goto out;
  }
  if (st != 0) {
    if (r->error[0] == '\0')
      snprintf (r->error, sizeof r->error, st < 0 ? vmi_error_get ()
                : "virt-v2v-in-place exited %d (see the log)", st);
    failed = "virt-v2v-in-place";
    goto out;
  }
  if (!r->virtio) {
    snprintf (r->error, sizeof r->error, "virt-v2v-in-place did not report "
              "virtio drivers in the guest: it would not boot on virtio");
    failed = "virt-v2v-in-place (virtio drivers)";
    goto out;
  }
  say (r, "message", "Committing the changes into the copied disks");
  for (size_t i = 0; i < vm->ndisks; i++) {
    char *argv[] = { "qemu-img", "commit", "-q", "-d", paths[i], NULL };
    if (run_quiet (r, argv) != 0) {
      snprintf (r->error, sizeof r->error, "qemu-img commit into %s failed: "
                "that disk may be half-converted; copy it again",
                disks[i].path);
      failed = "commit";
      goto out;
    }
  }
  goto out;
 oom:
  snprintf (r->error, sizeof r->error, "out of memory");
  failed = "overlay";
 out:
  for (size_t i = 0; paths && i < vm->ndisks; i++) {
    if (paths[i])
      unlink (paths[i]);
    free (paths[i]);
  }
  if (xml_path)
    unlink (xml_path);
  free (paths);
  free (ov);
  free (xml);
  free (xml_path);
  return failed;
}

int
convert_guest (const struct vmi_vm *vm, const struct domain_disk *disks,
               const struct convert_opts *o)
{
  struct run r = { .o = o, .start = time (NULL) };
  char *base = record_base (o->record_base ? o->record_base : disks[0].path);
  char *log = NULL, *xml_path = NULL, *rec = NULL, *xml = NULL;
  char dir[] = "/var/tmp/vmimport-convert.XXXXXX";
  const char *failed = NULL, *env;
  int rc = EXIT_CONVERT;

  if (base == NULL || asprintf (&log, "%s.vmimport-convert.log", base) == -1
      || asprintf (&xml_path, "%s.vmimport-domain.xml", base) == -1
      || asprintf (&rec, "%s.vmimport-convert.json", base) == -1) {
    fprintf (stderr, "vmimport convert: out of memory\n");
    goto out;
  }
  if ((r.log = fopen (log, "w")) == NULL) {
    fprintf (stderr, "vmimport convert: %s: cannot write the log: %s\n", log,
             strerror (errno));
    goto out;
  }
  unlink (rec);
  env = guest_env_setup ();
  logf_ (&r, "vmimport convert: VM %s; %s", vm->name, env);
  vmi_log (VMI_LOG_INFO, "%s", env);
  if (o->virtio_win) {
    setenv ("VIRTIO_WIN", o->virtio_win, 1);
    logf_ (&r, "VIRTIO_WIN=%s", o->virtio_win);
  }
  /* 1. the domain of the copied disks, kept for the user */
  if ((xml = domain_xml_new (vm, disks)) == NULL
      || write_text (xml_path, xml) == -1) {
    snprintf (r.error, sizeof r.error, "%s", vmi_error_get ());
    failed = "domain xml";
  } else if (mkdtemp (dir) == NULL) {
    snprintf (r.error, sizeof r.error, "mkdtemp %s: %s", dir, strerror (errno));
    failed = "overlay";
  } else {
    logf_ (&r, "vmimport convert: scratch folder %s", dir);
    failed = convert_in (&r, vm, disks, dir);
    if (rmdir (dir) == -1)
      logf_ (&r, "vmimport convert: rmdir %s: %s", dir, strerror (errno));
  }
  if (failed) {
    logf_ (&r, "vmimport convert: failed at step '%s': %s", failed, r.error);
    fprintf (stderr, "vmimport convert: failed at step '%s'%s%s%s: %s\n"
             "vmimport convert: the disks are as copied (nothing was "
             "committed); log: %s\n", failed,
             r.step[0] ? " (virt-v2v was at \"" : "", r.step,
             r.step[0] ? "\")" : "", r.error, log);
    if (strcmp (failed, "commit") == 0)
      fprintf (stderr, "vmimport convert: except where the commit failed, "
               "see above\n");
  }
  if (write_record (vm, disks, rec, failed ? "failed" : "converted", failed,
                    failed ? r.error : NULL, log) == -1) {
    cli_print_error ("convert");
    failed = failed ? failed : "record";
  }
  if (!failed) {
    say (&r, "message", "Converted: the guest boots on virtio disks and NICs");
    if (!o->quiet && !o->json)
      printf ("vmimport convert: done in %lld s; record %s\n",
              (long long) (time (NULL) - r.start), rec);
    rc = EXIT_DONE;
  } else if (o->json)
    printf ("{\"status\": \"failed\", \"step\": \"%s\"}\n", failed);
 out:
  if (r.log)
    fclose (r.log);
  free (base);
  free (log);
  free (xml_path);
  free (rec);
  free (xml);
  return rc;
}

static int
set_virtio (char **field)
{
  char *s = strdup ("virtio");

  if (s == NULL)
    return -1;
  free (*field);
  *field = s;
  return 0;
}

int
convert_record_apply (struct vmi_vm *vm, const char *record)
{
  struct json_object *o = json_object_from_file (record), *v, *ds;
  const char *status;
  int r = -1;

  if (o == NULL) {
    vmi_error ("%s: cannot read the conversion record: %s", record,
               json_util_get_last_err ());
    return -1;
  }
  /* The record is a file the user names: every member may be missing or
   * of another type (json-c aborts on a length of a non-array). */
  if (!json_object_object_get_ex (o, "vm", &v)
      || !json_object_is_type (v, json_type_string)
      || strcmp (json_object_get_string (v), vm->name) != 0) {
    errno = EINVAL;
    vmi_error ("%s: the record is for VM '%s', not '%s'", record,
               v ? json_object_get_string (v) : "?", vm->name);
    goto out;
  }
  status = json_object_get_string (json_object_object_get (o, "status"));
  if (status == NULL || strcmp (status, "converted") != 0) {
    vmi_log (VMI_LOG_WARN, "%s: the conversion %s at step '%s': the disks "
             "and NICs keep the source's bus and model", record,
             status ? status : "has no status",
             json_object_get_string (json_object_object_get (o, "step")));
    r = 0;
    goto out;
  }
  if (!json_object_object_get_ex (o, "disks", &ds)
      || !json_object_is_type (ds, json_type_array)
      || json_object_array_length (ds) != vm->ndisks) {
    errno = EINVAL;
    vmi_error ("%s: the record has %zu disks, VM %s has %zu", record,
               json_object_is_type (ds, json_type_array)
               ? json_object_array_length (ds) : 0, vm->name, vm->ndisks);
    goto out;
  }
  for (size_t i = 0; i < vm->ndisks; i++)
    if (set_virtio (&vm->disks[i].bus) == -1)
      goto out;
  for (size_t i = 0; i < vm->nnics; i++)
    if (set_virtio (&vm->nics[i].model) == -1)
      goto out;
  r = 0;
 out:
  json_object_put (o);
  return r;
}

static void
usage (FILE *f)
{
  fprintf (f,
           "Usage: vmimport convert [OPTIONS] SOURCE [--vm NAME] DISK...\n"
           "Make the guest on the VM's copied disks (files or block devices,\n"
           "one per disk of the VM, in order) boot on virtio, with\n"
           "virt-v2v-in-place.  SOURCE (or --source-file) gives the VM's\n"
           "description.  On failure the disks are left as copied.\n\n"
           "  --vm NAME           the VM (when the source holds several)\n"
           "  --virtio-win PATH   virtio-win drivers (ISO or folder), for Windows\n"
           "  --quiet             no messages but errors\n"
           "  --progress=json     messages as JSON lines\n\n"
           CLI_COMMON_HELP
           "\nExit: 0 converted, 1 source error, 2 usage, 4 conversion failed.\n");
}

int
cli_convert (int argc, char **argv)
{
  static const struct option longopts[] = {
    CLI_COMMON_OPTIONS,
    { "vm", required_argument, NULL, OPT_VM },
    { "virtio-win", required_argument, NULL, OPT_VIRTIO_WIN },
    { "quiet", no_argument, NULL, OPT_QUIET },
    { "progress", required_argument, NULL, OPT_PROGRESS },
    { 0 }
  };
  struct cli_common c;
  struct convert_opts o = { 0 };
  struct vmi_provider *p = NULL;
  struct domain_disk *disks = NULL;
  const struct vmi_vm *vm;
  size_t ndisks;
  long v;
  int opt, r, rc = EXIT_USAGE;

  cli_common_init (&c);
  while ((opt = getopt_long (argc, argv, "vh", longopts, NULL)) != -1) {
    if (opt == 'h') {
      usage (stdout);
      rc = EXIT_DONE;
      goto out;
    } else if (opt == OPT_VIRTIO_WIN)
      o.virtio_win = optarg;
    else if (opt == OPT_QUIET)
      o.quiet = true;
    else if (opt == OPT_PROGRESS) {
      if (strcmp (optarg, "json") && strcmp (optarg, "bar") && strcmp (optarg, "none")) {
        fprintf (stderr, "vmimport convert: --progress: bar, json or none\n");
        goto out;
      }
      o.json = strcmp (optarg, "json") == 0;
      o.quiet = strcmp (optarg, "none") == 0;
    } else if ((r = cli_common_option (&c, opt, optarg)) != 1) {
      if (r == 0)
        usage (stderr);
      goto out;
    }
  }
  if (optind + (c.source_file ? 1 : 2) > argc) {
    fprintf (stderr, "vmimport convert: give SOURCE (or --source-file) and the "
             "copied DISKs\n");
    goto out;
  }
  if (cli_common_finish (&c) == -1)
    goto out;
  if ((p = cli_open_source (&c, c.source_file ? NULL : argv[optind], &rc)) == NULL)
    goto out;
  rc = EXIT_USAGE;
  if ((v = cli_pick_vm (&c, p, "convert")) == -1)
    goto out;
  vm = p->vms[v];
  ndisks = (size_t) (argc - optind - (c.source_file ? 0 : 1));
  if (ndisks != vm->ndisks) {
    fprintf (stderr, "vmimport convert: VM %s has %zu disks; %zu DISKs given "
             "(one per disk, in order)\n", vm->name, vm->ndisks, ndisks);
    goto out;
  }
  if ((disks = calloc (ndisks, sizeof *disks)) == NULL)
    goto out;
  for (size_t i = 0; i < ndisks; i++) {
    disks[i].path = argv[argc - (int) ndisks + (int) i];
    disks[i].format = "raw";
    if (access (disks[i].path, R_OK | W_OK) == -1) {
      fprintf (stderr, "vmimport convert: %s: %s\n", disks[i].path,
               strerror (errno));
      rc = EXIT_DEST;
      goto out;
    }
  }
  rc = convert_guest (vm, disks, &o);
 out:
  free (disks);
  vmi_provider_close (p);
  cli_common_clear (&c);
  return rc;
}
