/* The tree a source is shown as (see tree.h): folders, VM folders, their
 * vm.json and disk files. */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vmimport/error.h"
#include "vmimport/formats.h"
#include "vmimport/tree.h"

#define MIN_CACHE_BLOCKS_PER_DISK 4

static int
nomem (void)
{
  errno = ENOMEM;
  vmi_error ("out of memory");
  return -1;
}

static int
cmp_vm_path (const void *key, const void *elt)
{
  return strcmp (key, ((const struct vmi_tree_vm *) elt)->path);
}

static int
cmp_str (const void *key, const void *elt)
{
  return strcmp (key, *(char *const *) elt);
}

static int
qcmp_str (const void *a, const void *b)
{
  return strcmp (*(char *const *) a, *(char *const *) b);
}

static int
qcmp_vm (const void *a, const void *b)
{
  return strcmp (((const struct vmi_tree_vm *) a)->path,
                 ((const struct vmi_tree_vm *) b)->path);
}

static struct vmi_tree_vm *
find_vm (const struct vmi_tree *t, const char *path)
{
  /* bsearch's array must not be NULL, even when empty. */
  if (t->nvms == 0)
    return NULL;
  return bsearch (path, t->vms, t->nvms, sizeof *t->vms, cmp_vm_path);
}

static char **
find_folder (const struct vmi_tree *t, const char *path)
{
  if (t->nfolders == 0)         /* no folders: t->folders is NULL */
    return NULL;
  return bsearch (path, t->folders, t->nfolders, sizeof *t->folders, cmp_str);
}

struct vmi_tree_node
vmi_tree_lookup (const struct vmi_tree *t, const char *path)
{
  struct vmi_tree_node n = { VMI_TREE_NONE, NULL, NULL, NULL };
  char buf[PATH_MAX];
  char **folder, *slash;

  if (*path == '/')
    path++;
  if (*path == '\0') {
    n.kind = VMI_TREE_ROOT;
    return n;
  }
  if (strlen (path) >= sizeof buf)
    return n;
  strcpy (buf, path);
  for (size_t len = strlen (buf); len > 1 && buf[len - 1] == '/'; len--)
    buf[len - 1] = '\0';        /* "vm/" is the folder "vm" */
  if ((n.vm = find_vm (t, buf)) != NULL) {
    n.kind = VMI_TREE_VM;
    return n;
  }
  if ((folder = find_folder (t, buf)) != NULL) {
    n.kind = VMI_TREE_FOLDER;
    n.folder = *folder;
    return n;
  }
  if ((slash = strrchr (buf, '/')) == NULL)
    return n;
  *slash = '\0';
  if ((n.vm = find_vm (t, buf)) == NULL)
    return n;
  if (strcmp (slash + 1, "vm.json") == 0) {
    n.kind = VMI_TREE_JSON;
    return n;
  }
  for (size_t i = 0; i < n.vm->ndisks; i++)
    if (strcmp (n.vm->disks[i].name, slash + 1) == 0) {
      n.kind = VMI_TREE_DISK;
      n.disk = &n.vm->disks[i];
      return n;
    }
  n.vm = NULL;
  return n;
}

void
vmi_tree_list (const struct vmi_tree *t, const struct vmi_tree_node *node,
               void (*fn) (void *opaque, const char *name), void *opaque)
{
  const char *dir;
  size_t len;

  if (node->kind == VMI_TREE_VM) {
    fn (opaque, "vm.json");
    for (size_t i = 0; i < node->vm->ndisks; i++)
      fn (opaque, node->vm->disks[i].name);
    return;
  }
  if (node->kind != VMI_TREE_ROOT && node->kind != VMI_TREE_FOLDER)
    return;
  /* The VMs and folders directly in this folder ("" is the root). */
  dir = node->kind == VMI_TREE_ROOT ? "" : node->folder;
  len = strlen (dir);
  for (size_t i = 0; i < t->nfolders + t->nvms; i++) {
    const char *p = i < t->nfolders ? t->folders[i] : t->vms[i - t->nfolders].path;
    if (len && (strncmp (p, dir, len) != 0 || p[len] != '/'))
      continue;
    p += len ? len + 1 : 0;
    if (*p && strchr (p, '/') == NULL)
      fn (opaque, p);
  }
}

int
vmi_tree_disk_open (struct vmi_tree *t, struct vmi_tree_disk *d)
{
  struct vmi_layer *l;
  int64_t alloc;
  int r = -1;

  pthread_mutex_lock (&d->lock);
  if (d->layer) {
    r = 0;
    goto out;
  }
  l = vmi_provider_open_disk (t->provider, d->vm_index, d->disk_index);
  if (l == NULL)
    goto out;
  if (t->provider->lazy_disks && l->size != d->size) {
    vmi_error ("%s: the disk holds %" PRIu64 " bytes, but the source's "
               "inventory says %" PRIu64, l->name, l->size, d->size);
    vmi_layer_close (l);
    errno = EIO;
    goto out;
  }
  alloc = d->allocated;
  if (alloc < 0 && (alloc = vmi_layer_allocated (l)) < 0) {
    vmi_layer_close (l);
    goto out;
  }
  if (t->per_disk_cache > 0
      && (l = vmi_cache_open (l, t->per_disk_cache, t->cache_block)) == NULL)
    goto out;
  d->size = l->size;
  d->allocated = alloc;
  d->layer = l;
  r = 0;
 out:
  pthread_mutex_unlock (&d->lock);
  return r;
}

/* FOLDER ("a/b", as the source names it) as a path of safe names. */
static char *
folder_path (const char *folder)
{
  char *out = strdup (""), *copy = strdup (folder), *save = NULL;

  if (out == NULL || copy == NULL)
    goto nomem;
  for (char *seg = strtok_r (copy, "/", &save); seg;
       seg = strtok_r (NULL, "/", &save)) {
    char *name = vmi_vm_dir_name (seg), *joined;
    if (name == NULL)
      goto fail;
    if (asprintf (&joined, "%s%s%s", out, *out ? "/" : "", name) == -1) {
      free (name);
      goto nomem;
    }
    free (name);
    free (out);
    out = joined;
  }
  free (copy);
  return out;
 nomem:
  nomem ();
 fail:
  free (out);
  free (copy);
  return NULL;
}

/* Add FOLDER and each of its parents to t->folders (unsorted, may repeat). */
static int
add_folders (struct vmi_tree *t, const char *folder)
{
  char *f = strdup (folder), *slash;

  while (f && *f) {
    char **v = realloc (t->folders, (t->nfolders + 1) * sizeof *v);
    if (v == NULL)
      break;
    t->folders = v;
    t->folders[t->nfolders++] = f;
    if ((f = strdup (f)) == NULL)
      break;
    if ((slash = strrchr (f, '/')) == NULL)
      *f = '\0';
    else
      *slash = '\0';
  }
  if (f == NULL || *f) {
    free (f);
    return nomem ();
  }
  free (f);
  return 0;
}

/* The folders of every VM, sorted, each once. */
static int
collect_folders (struct vmi_tree *t, char **vm_folders)
{
  size_t n = 0;

  for (size_t i = 0; i < t->provider->nvms; i++)
    if (vm_folders[i] && add_folders (t, vm_folders[i]) == -1)
      return -1;
  if (t->nfolders)
    qsort (t->folders, t->nfolders, sizeof *t->folders, qcmp_str);
  for (size_t i = 0; i < t->nfolders; i++) {
    if (n && strcmp (t->folders[n - 1], t->folders[i]) == 0)
      free (t->folders[i]);
    else
      t->folders[n++] = t->folders[i];
  }
  t->nfolders = n;
  return 0;
}

/* Is PATH a folder, or the path of one of the first UPTO VMs? */
static bool
path_taken (const struct vmi_tree *t, const char *path, size_t upto)
{
  if (find_folder (t, path))
    return true;
  for (size_t i = 0; i < upto; i++)
    if (strcmp (t->vms[i].path, path) == 0)
      return true;
  return false;
}

/* VM I's path: its folder and name, with -2, -3 ... added when another VM
 * of the same folder (or a folder) has the name. */
static char *
vm_path (const struct vmi_tree *t, const char *folder, size_t i)
{
  char *name = vmi_vm_dir_name (t->provider->vms[i]->name), *path = NULL;
  const char *sep = folder && *folder ? "/" : "";

  if (name == NULL)
    return NULL;
  for (int k = 1;; k++) {
    int r = k == 1 ? asprintf (&path, "%s%s%s", folder ? folder : "", sep, name)
                   : asprintf (&path, "%s%s%s-%d", folder ? folder : "", sep,
                               name, k);
    if (r == -1) {
      path = NULL;
      nomem ();
      break;
    }
    if (!path_taken (t, path, i))
      break;
    free (path);
  }
  free (name);
  return path;
}

static int
add_vm (struct vmi_tree *t, size_t i, const char *folder)
{
  struct vmi_vm *vm = t->provider->vms[i];
  struct vmi_tree_vm *d = &t->vms[i];
  const char *slash;

  d->vm_index = i;
  if ((d->path = vm_path (t, folder, i)) == NULL)
    return -1;
  slash = strrchr (d->path, '/');
  d->name = slash ? slash + 1 : d->path;
  t->nvms = i + 1;
  if ((d->disks = calloc (vm->ndisks ? vm->ndisks : 1, sizeof *d->disks)) == NULL)
    return nomem ();
  for (size_t j = 0; j < vm->ndisks; j++) {
    struct vmi_tree_disk *f = &d->disks[j];
    f->vm_index = i;
    f->disk_index = j;
    f->size = vm->disks[j].capacity < 0 ? 0 : (uint64_t) vm->disks[j].capacity;
    f->allocated = vm->disks[j].allocated;
    pthread_mutex_init (&f->lock, NULL);
    d->ndisks = j + 1;
    if ((f->name = strdup (vm->disks[j].file)) == NULL)
      return nomem ();
    /* A lazy provider's disks are opened when first used; the others
     * now, so that a bad source fails at once. */
    if (!t->provider->lazy_disks && vmi_tree_disk_open (t, f) == -1)
      return -1;
  }
  if ((d->json = vmi_vm_to_json (vm)) == NULL)
    return -1;
  return 0;
}

static void
free_strings (char **v, size_t n)
{
  for (size_t i = 0; v && i < n; i++)
    free (v[i]);
  free (v);
}

/* The folder of each of t->provider's VMs as a path of safe names (NULL:
 * the top), and t->folders: every folder and its parents.  NULL on
 * error. */
static char **
tree_folders (struct vmi_tree *t)
{
  size_t nvms = t->provider->nvms;
  char **folders = calloc (nvms ? nvms : 1, sizeof *folders);

  if (folders == NULL) {
    nomem ();
    return NULL;
  }
  for (size_t i = 0; i < nvms; i++)
    if (t->provider->vms[i]->folder
        && (folders[i] = folder_path (t->provider->vms[i]->folder)) == NULL)
      goto fail;
  if (collect_folders (t, folders) == -1)
    goto fail;
  return folders;
 fail:
  free_strings (folders, nvms);
  return NULL;
}

struct vmi_tree *
vmi_tree_new (struct vmi_provider *p, uint64_t cache_size, uint32_t cache_block)
{
  struct vmi_tree *t = calloc (1, sizeof *t);
  size_t total_disks = 0, nvms = p->nvms;
  char **folders = NULL;
  bool ok = false;

  if (t == NULL) {
    nomem ();
    goto out;
  }
  t->provider = p;
  t->cache_block = cache_block;
  for (size_t i = 0; i < nvms; i++)
    total_disks += p->vms[i]->ndisks;
  t->per_disk_cache = total_disks ? cache_size / total_disks : cache_size;
  if (cache_size > 0
      && t->per_disk_cache < (uint64_t) MIN_CACHE_BLOCKS_PER_DISK * cache_block)
    t->per_disk_cache = (uint64_t) MIN_CACHE_BLOCKS_PER_DISK * cache_block;
  if ((folders = tree_folders (t)) == NULL)
    goto out;
  if ((t->vms = calloc (nvms ? nvms : 1, sizeof *t->vms)) == NULL) {
    nomem ();
    goto out;
  }
  for (size_t i = 0; i < nvms; i++)
    if (add_vm (t, i, folders[i]) == -1)
      goto out;
  if (t->nvms)
    qsort (t->vms, t->nvms, sizeof *t->vms, qcmp_vm);
  ok = true;
 out:
  free_strings (folders, nvms);
  if (!ok) {
    vmi_tree_free (t);
    return NULL;
  }
  return t;
}

char *
vmi_tree_vm_path (struct vmi_provider *p, size_t v)
{
  struct vmi_tree t = { .provider = p };
  char **folders = NULL, *path = NULL;

  if (v >= p->nvms) {
    errno = EINVAL;
    vmi_error ("no VM %zu in the source (it holds %zu)", v, p->nvms);
    return NULL;
  }
  /* As vmi_tree_new names them: the folders, then VMs 0..V in order (a
   * name taken by an earlier VM gets -2, -3 ...); no disk is opened. */
  if ((folders = tree_folders (&t)) == NULL)
    goto out;
  if ((t.vms = calloc (v + 1, sizeof *t.vms)) == NULL) {
    nomem ();
    goto out;
  }
  for (size_t i = 0; i <= v; i++)
    if ((t.vms[i].path = vm_path (&t, folders[i], i)) == NULL)
      goto out;
  path = t.vms[v].path;
  t.vms[v].path = NULL;
 out:
  for (size_t i = 0; t.vms && i <= v; i++)
    free (t.vms[i].path);
  free (t.vms);
  free_strings (t.folders, t.nfolders);
  free_strings (folders, p->nvms);
  return path;
}

void
vmi_tree_free (struct vmi_tree *t)
{
  if (t == NULL)
    return;
  for (size_t i = 0; i < t->nvms; i++) {
    for (size_t j = 0; j < t->vms[i].ndisks; j++) {
      vmi_layer_close (t->vms[i].disks[j].layer);
      free (t->vms[i].disks[j].name);
      pthread_mutex_destroy (&t->vms[i].disks[j].lock);
    }
    free (t->vms[i].disks);
    free (t->vms[i].path);
    free (t->vms[i].json);
  }
  free (t->vms);
  for (size_t i = 0; i < t->nfolders; i++)
    free (t->folders[i]);
  free (t->folders);
  free (t);
}
