/* vmimport: the options every command takes, and picking a source, a VM
 * and a disk from them. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vmimport/error.h"
#include "cli.h"

void
cli_common_init (struct cli_common *c)
{
  memset (c, 0, sizeof *c);
  vmi_source_opts_init (&c->opts);
  c->disk = -1;
}

void
cli_common_clear (struct cli_common *c)
{
  vmi_source_opts_clear (&c->opts);
}

void
cli_print_error (const char *what)
{
  const char *msg = vmi_error_get ();

  if (what && *msg)
    fprintf (stderr, "vmimport: %s: %s\n", what, msg);
  else
    fprintf (stderr, "vmimport: %s\n", *msg ? msg : what ? what : "error");
}

static int
replace (char **dst, const char *src)
{
  char *s = strdup (src);

  if (s == NULL) {
    fprintf (stderr, "vmimport: out of memory\n");
    return -1;
  }
  free (*dst);
  *dst = s;
  return 1;
}

/* A Kubernetes Secret mounted as files (a Job's pod): username, password
 * and a CA, each only if its file is there.  1, or -1 (message printed). */
static int
credentials_dir (struct cli_common *c, const char *dir)
{
  static const char *const ca_names[] = { "ca.crt", "caCert", "ca_cert" };
  char path[4096];
  struct stat st;
  FILE *f;

  if (stat (dir, &st) == -1 || !S_ISDIR (st.st_mode)) {
    fprintf (stderr, "vmimport: --credentials-dir %s: not a folder\n", dir);
    return -1;
  }
  snprintf (path, sizeof path, "%s/username", dir);
  if ((f = fopen (path, "r")) != NULL) {
    char *line = NULL;
    size_t cap = 0;
    ssize_t n = getline (&line, &cap, f);
    fclose (f);
    while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
      line[--n] = '\0';
    if (n > 0 && replace (&c->opts.username, line) == -1) {
      free (line);
      return -1;
    }
    free (line);
  }
  snprintf (path, sizeof path, "%s/password", dir);
  if (access (path, F_OK) == 0
      && vmi_source_opts_read_password (&c->opts, path) == -1) {
    cli_print_error (NULL);
    return -1;
  }
  for (size_t i = 0; i < sizeof ca_names / sizeof *ca_names; i++) {
    snprintf (path, sizeof path, "%s/%s", dir, ca_names[i]);
    if (stat (path, &st) == 0 && st.st_size > 0)
      return replace (&c->opts.ca_cert_file, path);
  }
  return 1;
}

int
cli_common_option (struct cli_common *c, int opt, const char *arg)
{
  char *end;

  switch (opt) {
  case OPT_PASSWORD_FILE:
    if (vmi_source_opts_read_password (&c->opts, arg) == -1) {
      cli_print_error (NULL);
      return -1;
    }
    return 1;
  case OPT_PASSWORD:
    /* argv is visible to every user of the machine (ps, /proc). */
    fprintf (stderr, "vmimport: a password is never taken on the command "
             "line; use --password-file FILE or VMIMPORT_PASSWORD\n");
    return -1;
  case OPT_USER:
    return replace (&c->opts.username, arg);
  case OPT_CA_CERT:
    return replace (&c->opts.ca_cert_file, arg);
  case OPT_INSECURE:
    c->opts.insecure = true;
    return 1;
  case OPT_ALLOW_OUTSIDE_PATHS:
    return replace (&c->opts.allow_outside_paths, arg ? arg : "");
  case OPT_TIMEOUT:
  case OPT_RETRIES:
  case OPT_RETRY_DEADLINE:
    if (vmi_source_opts_set (&c->opts, opt == OPT_TIMEOUT ? "timeout"
                             : opt == OPT_RETRIES ? "retries" : "retry-deadline",
                             arg) == -1) {
      fprintf (stderr, "vmimport: %s\n", vmi_error_get ());
      return -1;
    }
    return 1;
  case OPT_SOURCE_FILE:
    c->source_file = arg;
    return 1;
  case OPT_VM:
    c->vm = arg;
    return 1;
  case OPT_DISK:
    errno = 0;
    c->disk = strtol (arg, &end, 10);
    if (errno || end == arg || *end || c->disk < 0) {
      fprintf (stderr, "vmimport: --disk: '%s' is not a disk index "
               "(0, 1, ...)\n", arg);
      return -1;
    }
    return 1;
  case OPT_JSON:
    c->json = true;
    return 1;
  case OPT_CREDENTIALS_DIR:
    return credentials_dir (c, arg);
  case OPT_ALLOW_RUNNING:
    c->opts.allow_running = true;
    return 1;
  case OPT_SNAPSHOT:
    c->opts.snapshot = true;
    return 1;
  case 'v':
    c->verbose++;
    return 1;
  default:
    return 0;
  }
}

int
cli_common_finish (struct cli_common *c)
{
  const char *pw = getenv ("VMIMPORT_PASSWORD");

  if (c->opts.password == NULL && pw && *pw
      && replace (&c->opts.password, pw) == -1)
    return -1;
  vmi_log_set_level (c->verbose >= 2 ? VMI_LOG_DEBUG
                     : c->verbose == 1 ? VMI_LOG_INFO : VMI_LOG_WARN);
  return 0;
}

struct vmi_provider *
cli_open_source (struct cli_common *c, const char *source, int *exit_code)
{
  struct vmi_provider *p;

  if (source && c->source_file) {
    fprintf (stderr, "vmimport: give either SOURCE (%s) or --source-file, "
             "not both\n", source);
    *exit_code = EXIT_USAGE;
    return NULL;
  }
  if (source == NULL && c->source_file == NULL) {
    fprintf (stderr, "vmimport: no SOURCE given (a path, a URL, or "
             "--source-file FILE.yaml)\n");
    *exit_code = EXIT_USAGE;
    return NULL;
  }
  free (c->opts.only_vm);
  c->opts.only_vm = NULL;
  if (c->vm && (c->opts.only_vm = strdup (c->vm)) == NULL) {
    fprintf (stderr, "vmimport: out of memory\n");
    *exit_code = EXIT_SOURCE;
    return NULL;
  }
  if (source)
    p = vmi_provider_open (source, &c->opts);
  else
    p = vmi_provider_open_yaml (c->source_file, &c->opts);
  if (p == NULL) {
    int err = errno;
    cli_print_error (NULL);
    /* An unknown scheme is a typing error, not a broken source. */
    *exit_code = source && err == EINVAL && strstr (source, "://")
                 ? EXIT_USAGE : EXIT_SOURCE;
    return NULL;
  }
  return p;
}

static int
vm_matches (const struct cli_common *c, const struct vmi_vm *vm)
{
  size_t fl;

  if (c->vm == NULL || strcmp (vm->name, c->vm) == 0
      || (vm->id && strcmp (vm->id, c->vm) == 0))
    return 1;
  /* FOLDER/NAME, as the mount shows it */
  fl = vm->folder ? strlen (vm->folder) : 0;
  return fl > 0 && strncmp (c->vm, vm->folder, fl) == 0 && c->vm[fl] == '/'
         && strcmp (c->vm + fl + 1, vm->name) == 0;
}

long
cli_next_vm (const struct cli_common *c, const struct vmi_provider *p, long i)
{
  for (; i >= 0 && (size_t) i < p->nvms; i++)
    if (vm_matches (c, p->vms[i]))
      return i;
  return -1;
}

static void
list_vms (const struct vmi_provider *p)
{
  fprintf (stderr, "vmimport: the source holds:");
  for (size_t i = 0; i < p->nvms; i++)
    fprintf (stderr, "%s %s", i ? "," : "", p->vms[i]->name);
  fprintf (stderr, "\n");
}

void
cli_warn_notes (const struct vmi_vm *vm)
{
  for (size_t i = 0; i < vm->nnotes; i++)
    fprintf (stderr, "vmimport: WARNING: VM %s: %s\n", vm->name, vm->notes[i]);
}

long
cli_pick_vm (const struct cli_common *c, const struct vmi_provider *p,
             const char *cmd)
{
  long v = cli_next_vm (c, p, 0);

  if (v == -1) {
    fprintf (stderr, "vmimport %s: no VM named '%s' in the source\n", cmd,
             c->vm);
    list_vms (p);
    return -1;
  }
  if (c->vm == NULL && p->nvms > 1) {
    fprintf (stderr, "vmimport %s: the source holds %zu VMs; choose one with "
             "--vm NAME\n", cmd, p->nvms);
    list_vms (p);
    return -1;
  }
  if (c->vm && cli_next_vm (c, p, v + 1) != -1) {
    fprintf (stderr, "vmimport %s: several VMs are named '%s'; give its ID "
             "with --vm:", cmd, c->vm);
    for (long i = v; i != -1; i = cli_next_vm (c, p, i + 1))
      fprintf (stderr, " %s", p->vms[i]->id ? p->vms[i]->id : "(no ID)");
    fprintf (stderr, "\n");
    return -1;
  }
  return v;
}

int
cli_pick_disk (const struct cli_common *c, const struct vmi_provider *p,
               size_t *vm_index, size_t *disk_index)
{
  long v = cli_pick_vm (c, p, "copy");
  const struct vmi_vm *vm;

  if (v == -1)
    return -1;
  vm = p->vms[v];
  cli_warn_notes (vm);
  if (c->disk < 0 && vm->ndisks != 1) {
    fprintf (stderr, "vmimport: VM %s has %zu disks; choose one with "
             "--disk N (0..%zu)\n", vm->name, vm->ndisks,
             vm->ndisks ? vm->ndisks - 1 : 0);
    return -1;
  }
  if (c->disk >= 0 && (size_t) c->disk >= vm->ndisks) {
    fprintf (stderr, "vmimport: VM %s has no disk %ld (it has %zu: "
             "indexes 0..%zu)\n", vm->name, c->disk, vm->ndisks,
             vm->ndisks ? vm->ndisks - 1 : 0);
    return -1;
  }
  *vm_index = v;
  *disk_index = c->disk < 0 ? 0 : (size_t) c->disk;
  return 0;
}

void
cli_format_size (char *buf, size_t len, double bytes)
{
  static const char *units[] = { "B", "KiB", "MiB", "GiB", "TiB", "PiB" };
  size_t u = 0;

  while (bytes >= 1024 && u + 1 < sizeof units / sizeof units[0]) {
    bytes /= 1024;
    u++;
  }
  if (u == 0)
    snprintf (buf, len, "%.0f B", bytes);
  else
    snprintf (buf, len, "%.1f %s", bytes, units[u]);
}


struct vmi_provider *
cli_open_one_source (int argc, char **argv, const struct option *longopts,
                     struct cli_common *c, void (*usage) (FILE *),
                     const char *cmd, const char *what, int *rc)
{
  struct vmi_provider *p;
  int opt, r;

  *rc = EXIT_USAGE;
  while ((opt = getopt_long (argc, argv, "vh", longopts, NULL)) != -1) {
    if (opt == 'h') {
      usage (stdout);
      *rc = EXIT_DONE;
      return NULL;
    }
    if ((r = cli_common_option (c, opt, optarg)) != 1) {
      if (r == 0)
        usage (stderr);
      return NULL;
    }
  }
  if (optind + (c->source_file ? 0 : 1) != argc) {
    fprintf (stderr, "vmimport %s: give %s (or --source-file)\n", cmd, what);
    return NULL;
  }
  if (cli_common_finish (c) == -1)
    return NULL;
  p = cli_open_source (c, optind < argc ? argv[optind] : NULL, rc);
  if (p && c->vm && cli_next_vm (c, p, 0) == -1) {
    fprintf (stderr, "vmimport %s: no VM named '%s' in the source\n", cmd,
             c->vm);
    vmi_provider_close (p);
    *rc = EXIT_USAGE;
    return NULL;
  }
  return p;
}
