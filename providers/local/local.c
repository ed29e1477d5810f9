/* Provider: local images.  SOURCE is one image file (any format we read,
 * detected by content) or a folder of them; each image is a VM of one disk,
 * named after the file without its extension. */
#include <dirent.h>
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "vmimport/error.h"
#include "vmimport/formats.h"
#include "providers.h"
#include "confine.h"

/* Files beside an image are opened relative to the image's folder, and
 * only inside it unless the user allows more (confine.c). */
static struct vmi_layer *
open_sibling (const struct vmi_opener *o, const char *relpath)
{
  return vmi_confine_open (o->opaque, relpath);
}

/* Open the raw view of the image at PATH; ALLOW as --allow-outside-paths. */
static struct vmi_layer *
open_image (const char *path, const char *allow, const char **format)
{
  char *copy = strdup (path);
  struct vmi_confine *c = malloc (sizeof *c);
  struct vmi_opener sib = { open_sibling, c };
  struct vmi_layer *file, *l = NULL;

  if (copy == NULL || c == NULL) {
    free (copy);
    free (c);
    errno = ENOMEM;
    vmi_error ("out of memory");
    return NULL;
  }
  if (vmi_confine_init (c, dirname (copy), allow) == 0) {
    file = vmi_file_open (path);
    l = file ? vmi_format_open (file, &sib, format) : NULL;
  }
  free (copy);
  free (c);
  return l;
}

static struct vmi_layer *
local_open_disk (struct vmi_provider *p, const struct vmi_vm *vm, size_t i)
{
  return open_image (vm->disks[i].provider_data, p->opts.allow_outside_paths,
                     NULL);
}

static const struct vmi_provider_ops local_ops = {
  .name = "local",
  .open_disk = local_open_disk,
};

static int
add_image (struct vmi_provider *p, const char *path, const char *name)
{
  const char *format = "raw";
  struct vmi_layer *l = open_image (path, p->opts.allow_outside_paths,
                                   &format);
  struct vmi_vm *vm;

  if (l == NULL)
    return -1;
  vm = vmi_image_vm_new (name, "local", path, l, format);
  vmi_layer_close (l);
  if (vm == NULL)
    return -1;
  if ((vm->disks[0].provider_data = strdup (path)) == NULL
      || vmi_provider_add_vm (p, vm) == -1) {
    vmi_vm_free (vm);
    errno = ENOMEM;
    vmi_error ("out of memory");
    return -1;
  }
  return 0;
}

static int
is_image_name (const char *name)
{
  static const char *exts[] = { ".vmdk", ".qcow2", ".qcow", ".img", ".raw" };
  size_t n = strlen (name);

  if (name[0] == '.')
    return 0;
  for (size_t i = 0; i < sizeof exts / sizeof exts[0]; i++) {
    size_t e = strlen (exts[i]);
    if (n > e && strcasecmp (name + n - e, exts[i]) == 0)
      return 1;
  }
  return 0;
}

/* A VMDK descriptor names its extent files in quotes on lines starting with
 * RW / RDONLY / NOACCESS.  Those files are parts of that disk, not VMs. */
static int
named_by_a_descriptor (const char *dir, char **names, size_t n, const char *file)
{
  for (size_t i = 0; i < n; i++) {
    char path[PATH_MAX], line[1024];
    FILE *f;
    int found = 0, lines = 0;

    if (strcmp (names[i], file) == 0)
      continue;
    snprintf (path, sizeof path, "%s/%s", dir, names[i]);
    if ((f = fopen (path, "r")) == NULL)
      continue;
    if (fgets (line, sizeof line, f) == NULL
        || strstr (line, "Disk DescriptorFile") == NULL) {
      fclose (f);
      continue;
    }
    while (!found && lines++ < 4096 && fgets (line, sizeof line, f)) {
      char *q1, *q2;
      if (strncmp (line, "RW ", 3) && strncmp (line, "RDONLY ", 7)
          && strncmp (line, "NOACCESS ", 9))
        continue;
      if ((q1 = strchr (line, '"')) && (q2 = strchr (q1 + 1, '"'))) {
        *q2 = '\0';
        found = strcmp (q1 + 1, file) == 0;
      }
    }
    fclose (f);
    if (found)
      return 1;
  }
  return 0;
}

static int
cmp_names (const void *a, const void *b)
{
  return strcmp (*(char *const *) a, *(char *const *) b);
}

static int
add_folder (struct vmi_provider *p, const char *dir)
{
  DIR *d = opendir (dir);
  struct dirent *e;
  char **names = NULL;
  size_t n = 0;
  int r = -1;

  if (d == NULL) {
    vmi_error ("%s: %s", dir, strerror (errno));
    return -1;
  }
  while ((e = readdir (d)) != NULL) {
    char **v;
    if (!is_image_name (e->d_name))
      continue;
    if ((v = realloc (names, (n + 1) * sizeof *v)) == NULL)
      goto out;
    names = v;
    if ((names[n] = strdup (e->d_name)) == NULL)
      goto out;
    n++;
  }
  qsort (names, n, sizeof *names, cmp_names);
  for (size_t i = 0; i < n; i++) {
    char path[PATH_MAX], *name;
    struct stat st;
    snprintf (path, sizeof path, "%s/%s", dir, names[i]);
    if (stat (path, &st) == -1 || !S_ISREG (st.st_mode)
        || named_by_a_descriptor (dir, names, n, names[i]))
      continue;
    if ((name = vmi_image_name (names[i])) == NULL)
      goto out;
    /* Two images with one stem (disk.vmdk, disk.qcow2): use the file name. */
    for (size_t j = 0; j < p->nvms; j++)
      if (strcmp (p->vms[j]->name, name) == 0) {
        free (name);
        name = strdup (names[i]);
        break;
      }
    if (name == NULL || add_image (p, path, name) == -1) {
      free (name);
      goto out;
    }
    free (name);
  }
  if (p->nvms == 0) {
    errno = ENOENT;
    vmi_error ("%s: no disk images in this folder "
               "(looked for *.vmdk, *.qcow2, *.img, *.raw)", dir);
    goto out;
  }
  r = 0;
 out:
  if (r == -1 && errno == ENOMEM)
    vmi_error ("out of memory");
  for (size_t i = 0; i < n; i++)
    free (names[i]);
  free (names);
  closedir (d);
  return r;
}

struct vmi_provider *
vmi_local_provider_open (const char *path, const struct vmi_source_opts *o)
{
  struct vmi_provider *p = vmi_provider_new (&local_ops, NULL, o);
  struct stat st;
  int r;

  if (p == NULL)
    return NULL;
  if (stat (path, &st) == -1) {
    vmi_error ("%s: %s", path, strerror (errno));
    r = -1;
  }
  else if (S_ISDIR (st.st_mode))
    r = add_folder (p, path);
  else {
    char *name = vmi_image_name (path);
    r = name ? add_image (p, path, name) : -1;
    free (name);
  }
  if (r == -1) {
    vmi_provider_close (p);
    return NULL;
  }
  return p;
}
