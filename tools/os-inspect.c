/* vmimport inspect --os: the operating system on a VM's disks, found by
 * libguestfs's inspection in its appliance, read-only, before anything is
 * copied: which OS and version, its kernels, whether the initramfs a
 * kernel boots with holds virtio drivers, and whether virt-v2v can convert
 * it.
 *
 * "virtio drivers: yes" means the guest can reach its root on a virtio
 * disk: the default (newest) kernel has virtio_blk or virtio_scsi, and
 * virtio_pci, built in or in its initramfs.  Modules only on the root
 * filesystem do not count: they cannot be loaded before root is found.
 *
 * The disks must be files libguestfs's qemu opens: a VM folder in a
 * vmimportfs mount (MOUNT/VM, its vm.json and disk-N.img), or a local
 * image (raw, VMDK, QCOW2) or block device. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <guestfs.h>
#include <json-c/json.h>

#include "vmimport/error.h"
#include "cli.h"
#include "convert.h"

enum { OPT_OS = OPT_FIRST_COMMAND_OPTION };

struct os_disks {
  char *vm;                 /* VM name */
  char **paths;
  char **formats;
  size_t n;
};

/* The one place the libguestfs backend is chosen (convert.c and inspect
 * --os call it).  Once per process: a second call would find the
 * settings the first one set and call them the environment's. */
const char *
guest_env_setup (void)
{
  static const char *chosen;
  const char *s = getenv ("LIBGUESTFS_BACKEND_SETTINGS");

  if (chosen)
    return chosen;
  if (getenv ("LIBGUESTFS_BACKEND") == NULL)
    setenv ("LIBGUESTFS_BACKEND", "direct", 1);
  if (s != NULL)
    chosen = "libguestfs: LIBGUESTFS_BACKEND_SETTINGS from the environment";
  else {
    setenv ("LIBGUESTFS_BACKEND_SETTINGS", "force_tcg", 1);
    chosen = access ("/dev/kvm", R_OK | W_OK) == -1
      ? "libguestfs: direct backend, TCG (force_tcg): no usable /dev/kvm"
      : "libguestfs: direct backend, TCG (force_tcg): /dev/kvm may start "
        "qemu and still hang the appliance; set LIBGUESTFS_BACKEND_SETTINGS= "
        "(empty) to use KVM";
  }
  return chosen;
}

static void
usage (FILE *f)
{
  fprintf (f,
           "Usage: vmimport inspect --os [--json] MOUNT/VM | IMAGE...\n"
           "The guest operating system on a VM's disks (libguestfs, read-only):\n"
           "OS and version, kernels, whether the default kernel's initramfs has\n"
           "virtio drivers, the bootloader, and whether virt-v2v converts it.\n"
           "Give a VM folder of a vmimportfs mount (vmimportfs SOURCE MOUNT),\n"
           "or the VM's local images or block devices in disk order.\n\n"
           "  --json       a JSON array, one object per operating system found\n\n"
           CLI_COMMON_HELP);
}

static void
disks_clear (struct os_disks *d)
{
  for (size_t i = 0; i < d->n; i++) {
    free (d->paths[i]);
    free (d->formats[i]);
  }
  free (d->paths);
  free (d->formats);
  free (d->vm);
}

static int
disks_add (struct os_disks *d, const char *path, const char *format)
{
  char **p = realloc (d->paths, (d->n + 1) * sizeof *p);
  char **f;

  if (p == NULL)
    return -1;
  d->paths = p;
  if ((f = realloc (d->formats, (d->n + 1) * sizeof *f)) == NULL)
    return -1;
  d->formats = f;
  d->paths[d->n] = strdup (path);
  d->formats[d->n] = format ? strdup (format) : NULL;
  d->n++;
  return d->paths[d->n - 1] ? 0 : -1;
}

/* MOUNT/VM: vm.json names the disks, in order. */
static int
disks_from_folder (struct os_disks *d, const char *dir)
{
  char *path = NULL;
  struct json_object *o = NULL, *name, *disks;
  int r = -1;

  if (asprintf (&path, "%s/vm.json", dir) == -1)
    return -1;
  if ((o = json_object_from_file (path)) == NULL
      || !json_object_object_get_ex (o, "disks", &disks)
      || !json_object_is_type (disks, json_type_array)) {
    vmi_error ("%s: not a vm.json with a disks array", path);
    goto out;
  }
  if (json_object_object_get_ex (o, "name", &name))
    d->vm = strdup (json_object_get_string (name));
  for (size_t i = 0; i < json_object_array_length (disks); i++) {
    struct json_object *file;
    char *p;
    if (!json_object_object_get_ex (json_object_array_get_idx (disks, i),
                                    "file", &file)) {
      vmi_error ("%s: disk %zu has no \"file\"", path, i);
      goto out;
    }
    if (asprintf (&p, "%s/%s", dir, json_object_get_string (file)) == -1)
      goto out;
    r = disks_add (d, p, "raw");
    free (p);
    if (r == -1)
      goto out;
  }
  r = 0;
 out:
  json_object_put (o);
  free (path);
  return r;
}

/* A local image: the provider says its format (qemu reads raw, VMDK and
 * QCOW2 itself). */
static int
disks_from_image (struct cli_common *c, struct os_disks *d, const char *path)
{
  struct vmi_provider *p;
  int code, r = -1;

  if ((p = cli_open_source (c, path, &code)) == NULL)
    return -1;
  if (p->nvms != 1 || p->vms[0]->ndisks != 1
      || strcmp (p->vms[0]->source_kind, "local") != 0) {
    vmi_error ("%s: inspect --os reads local images and VM folders of a "
               "vmimportfs mount; mount this source (vmimportfs SOURCE MOUNT) "
               "and give MOUNT/VM", path);
    goto out;
  }
  if (d->vm == NULL)
    d->vm = strdup (p->vms[0]->name);
  r = disks_add (d, path, p->vms[0]->disks[0].source_format);
 out:
  vmi_provider_close (p);
  return r;
}

static struct json_object *
jstr_free (char *s)
{
  struct json_object *o = s ? json_object_new_string (s) : NULL;
  free (s);
  return o;
}

static void
strings_free (char **v)
{
  for (size_t i = 0; v && v[i]; i++)
    free (v[i]);
  free (v);
}

static bool
is_file (guestfs_h *g, const char *path)
{
  return guestfs_is_file_opts (g, path, GUESTFS_IS_FILE_OPTS_FOLLOWSYMLINKS,
                               1, -1) == 1;
}

/* Mount ROOT's filesystems read-only, shortest mountpoint first. */
static void
mount_root (guestfs_h *g, const char *root)
{
  char **mp = guestfs_inspect_get_mountpoints (g, root);
  size_t n = 0;

  if (mp == NULL)
    return;
  while (mp[n])
    n++;
  for (size_t len = 1; len < 4096; len++) {
    bool any = false;
    for (size_t i = 0; i < n; i += 2) {
      size_t l = strlen (mp[i]);
      if (l == len)
        guestfs_mount_ro (g, mp[i + 1], mp[i]);
      any |= l > len;
    }
    if (!any)
      break;
  }
  strings_free (mp);
}

static const char *const virtio_disk_mods[] = { "virtio_blk", "virtio_scsi", NULL };

/* Does the list of file names (initramfs, modules.builtin) hold MOD? */
static bool
lists_module (char **names, const char *mod)
{
  char ko[64];
  size_t kl = (size_t) snprintf (ko, sizeof ko, "/%s.ko", mod);

  for (size_t i = 0; names && names[i]; i++)
    if (strstr (names[i], ko) || (strncmp (names[i], ko + 1, kl - 1) == 0))
      return true;
  return false;
}

static bool
has_virtio (char **names)
{
  return (lists_module (names, "virtio_blk") || lists_module (names, "virtio_scsi"))
         && lists_module (names, "virtio_pci");
}

static int
kver_cmp (const void *a, const void *b)
{
  return strverscmp (*(char *const *) b, *(char *const *) a);   /* newest first */
}

/* One kernel of a Linux guest. */
static struct json_object *
linux_kernel (guestfs_h *g, const char *kver, int *virtio)
{
  static const char *const initrd_names[] = {
    "/boot/initrd.img-%s", "/boot/initramfs-%s.img", "/boot/initrd-%s", NULL
  };
  struct json_object *k = json_object_new_object ();
  char path[512], **builtin = NULL, **initrd = NULL;
  bool mods = false;

  json_object_object_add (k, "version", json_object_new_string (kver));
  snprintf (path, sizeof path, "/lib/modules/%s/modules.builtin", kver);
  if (is_file (g, path))
    builtin = guestfs_grep (g, "virtio", path);
  for (size_t i = 0; virtio_disk_mods[i]; i++) {
    static const char *const dirs[] = { "block", "scsi" };
    static const char *const exts[] = { "", ".xz", ".zst", ".gz" };
    for (size_t e = 0; e < 4; e++) {
      snprintf (path, sizeof path, "/lib/modules/%s/kernel/drivers/%s/%s.ko%s",
                kver, dirs[i], virtio_disk_mods[i], exts[e]);
      mods |= is_file (g, path);
    }
  }
  json_object_object_add (k, "virtio_modules",
                          json_object_new_boolean (mods || has_virtio (builtin)));
  json_object_object_add (k, "virtio_built_in",
                          json_object_new_boolean (has_virtio (builtin)));
  *virtio = has_virtio (builtin) ? 1 : 0;
  json_object_object_add (k, "initramfs", NULL);
  for (size_t i = 0; initrd_names[i]; i++) {
    snprintf (path, sizeof path, initrd_names[i], kver);
    if (!is_file (g, path))
      continue;
    json_object_object_add (k, "initramfs", json_object_new_string (path));
    if ((initrd = guestfs_initrd_list (g, path)) == NULL) {
      if (*virtio == 0)
        *virtio = -1;       /* an initramfs libguestfs cannot list */
    } else if (has_virtio (initrd))
      *virtio = 1;
    break;
  }
  json_object_object_add (k, "initramfs_virtio",
                          initrd ? json_object_new_boolean (has_virtio (initrd))
                          : NULL);
  strings_free (builtin);
  strings_free (initrd);
  return k;
}

static const char *
linux_bootloader (guestfs_h *g)
{
  if (is_file (g, "/boot/grub2/grub.cfg") || is_file (g, "/boot/grub/grub.cfg"))
    return "grub2";
  if (is_file (g, "/boot/grub/menu.lst") || is_file (g, "/boot/grub/grub.conf"))
    return "grub-legacy";
  return NULL;
}

/* virt-v2v 2.2's Linux conversion: these distributions, with GRUB. */
static const char *
linux_support (const char *distro, const char *bootloader, size_t nkernels)
{
  static const char *const distros[] = {
    "rhel", "centos", "fedora", "scientificlinux", "oraclelinux", "rocky",
    "almalinux", "circle", "redhat-based", "sles", "suse-based", "opensuse",
    "debian", "ubuntu", "linuxmint", "kalilinux", NULL
  };
  bool known = false;

  for (size_t i = 0; distros[i] && distro; i++)
    known |= strcmp (distro, distros[i]) == 0;
  if (!known)
    return "no: virt-v2v does not convert this Linux distribution";
  if (bootloader == NULL)
    return "no: no GRUB configuration found in /boot";
  if (nkernels == 0)
    return "no: no kernel found in /lib/modules";
  return "yes";
}

static void
inspect_linux (guestfs_h *g, struct json_object *o)
{
  char **kv = guestfs_ls (g, "/lib/modules");
  struct json_object *ks = json_object_new_array ();
  const char *boot = linux_bootloader (g);
  size_t n = 0;
  int virtio = -1;

  while (kv && kv[n])
    n++;
  if (n)
    qsort (kv, n, sizeof *kv, kver_cmp);
  for (size_t i = 0; i < n; i++) {
    int v;
    struct json_object *k = linux_kernel (g, kv[i], &v);
    json_object_object_add (k, "default", json_object_new_boolean (i == 0));
    if (i == 0)
      virtio = v;
    json_object_array_add (ks, k);
  }
  json_object_object_add (o, "kernels", ks);
  json_object_object_add (o, "bootloader", boot ? json_object_new_string (boot) : NULL);
  json_object_object_add (o, "virtio_drivers",
                          virtio < 0 ? NULL : json_object_new_boolean (virtio));
  {
    const char *distro = json_object_get_string (json_object_object_get (o, "distro"));
    const char *s = linux_support (distro, boot, n);
    json_object_object_add (o, "conversion_supported",
                            json_object_new_boolean (strcmp (s, "yes") == 0));
    json_object_object_add (o, "conversion_note", json_object_new_string (s));
  }
  strings_free (kv);
}

static void
inspect_windows (guestfs_h *g, struct json_object *o)
{
  static const char *const drivers[] = {
    "/windows/system32/drivers/viostor.sys",
    "/windows/system32/drivers/vioscsi.sys", NULL
  };
  bool virtio = false;

  for (size_t i = 0; drivers[i]; i++) {
    char *p = guestfs_case_sensitive_path (g, drivers[i]);
    virtio |= p && is_file (g, p);
    free (p);
  }
  json_object_object_add (o, "kernels", json_object_new_array ());
  json_object_object_add (o, "bootloader", NULL);
  json_object_object_add (o, "virtio_drivers", json_object_new_boolean (virtio));
  json_object_object_add (o, "conversion_supported", json_object_new_boolean (true));
  json_object_object_add (o, "conversion_note", json_object_new_string (
    "yes, with --virtio-win (virt-v2v installs the virtio-win drivers; "
    "untested here)"));
}

static struct json_object *
inspect_root (guestfs_h *g, const char *vm, const char *root)
{
  struct json_object *o = json_object_new_object ();
  char *type = guestfs_inspect_get_type (g, root);
  int major = guestfs_inspect_get_major_version (g, root);
  int minor = guestfs_inspect_get_minor_version (g, root);

  json_object_object_add (o, "vm", vm ? json_object_new_string (vm) : NULL);
  json_object_object_add (o, "root", json_object_new_string (root));
  json_object_object_add (o, "type", type ? json_object_new_string (type) : NULL);
  json_object_object_add (o, "distro", jstr_free (guestfs_inspect_get_distro (g, root)));
  json_object_object_add (o, "product_name",
                          jstr_free (guestfs_inspect_get_product_name (g, root)));
  json_object_object_add (o, "major_version", json_object_new_int (major));
  json_object_object_add (o, "minor_version", json_object_new_int (minor));
  json_object_object_add (o, "arch", jstr_free (guestfs_inspect_get_arch (g, root)));
  json_object_object_add (o, "osinfo", jstr_free (guestfs_inspect_get_osinfo (g, root)));
  json_object_object_add (o, "hostname", jstr_free (guestfs_inspect_get_hostname (g, root)));
  mount_root (g, root);
  if (type && strcmp (type, "linux") == 0)
    inspect_linux (g, o);
  else if (type && strcmp (type, "windows") == 0)
    inspect_windows (g, o);
  else {
    json_object_object_add (o, "kernels", json_object_new_array ());
    json_object_object_add (o, "bootloader", NULL);
    json_object_object_add (o, "virtio_drivers", NULL);
    json_object_object_add (o, "conversion_supported", json_object_new_boolean (false));
    json_object_object_add (o, "conversion_note", json_object_new_string (
      "no: virt-v2v converts Linux and Windows guests only"));
  }
  guestfs_umount_all (g);
  free (type);
  return o;
}

/* Every operating system on the disks: an array, or NULL with an error. */
static struct json_object *
inspect_disks (const struct os_disks *d)
{
  guestfs_h *g = guestfs_create ();
  struct json_object *all = NULL;
  char **roots = NULL;

  if (g == NULL) {
    vmi_error ("libguestfs: cannot create a handle: %s", strerror (errno));
    return NULL;
  }
  guestfs_set_error_handler (g, NULL, NULL);
  for (size_t i = 0; i < d->n; i++)
    if (guestfs_add_drive_opts (g, d->paths[i], GUESTFS_ADD_DRIVE_OPTS_READONLY, 1,
                                d->formats[i] ? GUESTFS_ADD_DRIVE_OPTS_FORMAT : -1,
                                d->formats[i], -1) == -1) {
      vmi_error ("%s: libguestfs cannot add it: %s", d->paths[i],
                 guestfs_last_error (g));
      goto out;
    }
  if (guestfs_launch (g) == -1) {
    vmi_error ("libguestfs: the appliance did not start: %s (try "
               "libguestfs-test-tool)", guestfs_last_error (g));
    goto out;
  }
  if ((roots = guestfs_inspect_os (g)) == NULL) {
    vmi_error ("libguestfs: inspection failed: %s", guestfs_last_error (g));
    goto out;
  }
  all = json_object_new_array ();
  for (size_t i = 0; roots[i]; i++)
    json_object_array_add (all, inspect_root (g, d->vm, roots[i]));
 out:
  strings_free (roots);
  guestfs_shutdown (g);
  guestfs_close (g);
  return all;
}

static const char *
get (struct json_object *o, const char *key)
{
  struct json_object *v;

  if (json_object_object_get_ex (o, key, &v) && v)
    return json_object_get_string (v);
  return NULL;
}

static const char *
yes_no (struct json_object *o, const char *key)
{
  struct json_object *v;

  if (!json_object_object_get_ex (o, key, &v) || v == NULL)
    return "unknown";
  return json_object_get_boolean (v) ? "yes" : "no";
}

static void
print_os (struct json_object *o)
{
  struct json_object *ks = json_object_object_get (o, "kernels");
  const char *pn = get (o, "product_name");

  printf ("%s: %s\n", get (o, "vm") ? get (o, "vm") : "guest", get (o, "root"));
  printf ("  os: %s %s %s.%s (product \"%s\", osinfo %s, %s)\n",
          get (o, "type") ? get (o, "type") : "unknown",
          get (o, "distro") ? get (o, "distro") : "unknown",
          get (o, "major_version"), get (o, "minor_version"),
          pn ? pn : "unknown", get (o, "osinfo") ? get (o, "osinfo") : "unknown",
          get (o, "arch") ? get (o, "arch") : "unknown arch");
  for (size_t i = 0; ks && i < json_object_array_length (ks); i++) {
    struct json_object *k = json_object_array_get_idx (ks, i);
    printf ("  kernel: %s%s, virtio modules: %s, initramfs %s: virtio %s\n",
            get (k, "version"),
            json_object_get_boolean (json_object_object_get (k, "default"))
            ? " (default)" : "", yes_no (k, "virtio_modules"),
            get (k, "initramfs") ? get (k, "initramfs") : "(none)",
            yes_no (k, "initramfs_virtio"));
  }
  printf ("  bootloader: %s\n", get (o, "bootloader") ? get (o, "bootloader") : "none found");
  printf ("  virtio drivers: %s\n", yes_no (o, "virtio_drivers"));
  printf ("  conversion supported: %s\n", get (o, "conversion_note"));
}

static int
parse (int argc, char **argv, struct cli_common *c)
{
  static const struct option longopts[] = {
    CLI_COMMON_OPTIONS,
    { "json", no_argument, NULL, OPT_JSON },
    { "os", no_argument, NULL, OPT_OS },
    { 0 }
  };
  int opt, r;

  optind = 1;
  while ((opt = getopt_long (argc, argv, "vh", longopts, NULL)) != -1) {
    if (opt == 'h') {
      usage (stdout);
      return EXIT_DONE;
    }
    if (opt == OPT_OS)
      continue;
    if ((r = cli_common_option (c, opt, optarg)) != 1) {
      if (r == 0)
        usage (stderr);
      return EXIT_USAGE;
    }
  }
  if (optind >= argc) {
    fprintf (stderr, "vmimport inspect --os: give MOUNT/VM or the VM's images\n");
    return EXIT_USAGE;
  }
  return cli_common_finish (c) == -1 ? EXIT_USAGE : -1;
}

int
cli_inspect_os (int argc, char **argv)
{
  struct cli_common c;
  struct os_disks d = { 0 };
  struct json_object *all = NULL;
  struct stat st;
  int rc;

  cli_common_init (&c);
  if ((rc = parse (argc, argv, &c)) != -1)
    goto out;
  rc = EXIT_SOURCE;
  for (int i = optind; i < argc; i++) {
    int r = stat (argv[i], &st) == 0 && S_ISDIR (st.st_mode)
            ? disks_from_folder (&d, argv[i])
            : disks_from_image (&c, &d, argv[i]);
    if (r == -1) {
      cli_print_error ("inspect --os");
      goto out;
    }
  }
  vmi_log (VMI_LOG_INFO, "%s", guest_env_setup ());
  if ((all = inspect_disks (&d)) == NULL) {
    cli_print_error ("inspect --os");
    goto out;
  }
  if (json_object_array_length (all) == 0)
    fprintf (stderr, "vmimport inspect --os: no operating system found on "
             "the %zu disk(s)\n", d.n);
  if (c.json)
    printf ("%s\n", json_object_to_json_string_ext (
              all, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED
                   | JSON_C_TO_STRING_NOSLASHESCAPE));
  else
    for (size_t i = 0; i < json_object_array_length (all); i++)
      print_os (json_object_array_get_idx (all, i));
  rc = json_object_array_length (all) ? EXIT_DONE : EXIT_SOURCE;
 out:
  json_object_put (all);
  disks_clear (&d);
  cli_common_clear (&c);
  return rc;
}
