/* Unit tests: the tree of a source (folders, names made unique, lookups,
 * listings; a VM's path worked out alone) and lazy disks (opened at first use, once; a disk whose size
 * differs from the inventory's is refused). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vmimport/error.h"
#include "vmimport/formats.h"
#include "vmimport/tree.h"

static int failures;
#define CHECK(cond) do { if (!(cond)) { \
  fprintf (stderr, "%s:%d: FAIL: %s\n", __FILE__, __LINE__, #cond); failures++; } } while (0)

static char disk_bytes[65536];
static int opens;

/* A provider whose disks are memory layers of DISK_BYTES, counting opens. */
static struct vmi_layer *
fake_open_disk (struct vmi_provider *p, const struct vmi_vm *vm, size_t i)
{
  (void) p;
  (void) vm;
  (void) i;
  opens++;
  return vmi_memory_open (disk_bytes, sizeof disk_bytes, "fake-disk");
}

static const struct vmi_provider_ops fake_ops = {
  .name = "fake", .open_disk = fake_open_disk,
};

static void
add (struct vmi_provider *p, const char *folder, const char *name,
     int64_t capacity)
{
  struct vmi_vm *vm = vmi_vm_new (name);
  struct vmi_disk *d = vmi_vm_add_disk (vm);

  d->capacity = capacity;
  vm->folder = folder ? strdup (folder) : NULL;
  vmi_provider_add_vm (p, vm);
}

struct names { char buf[1024]; };

static void
collect (void *opaque, const char *name)
{
  struct names *n = opaque;
  strcat (n->buf, name);
  strcat (n->buf, " ");
}

static const char *
list (struct vmi_tree *t, const char *path)
{
  static struct names n;
  struct vmi_tree_node node = vmi_tree_lookup (t, path);

  n.buf[0] = '\0';
  vmi_tree_list (t, &node, collect, &n);
  return n.buf;
}

static void
folders_nest_and_names_stay_unique (void)
{
  struct vmi_provider *p = vmi_provider_new (&fake_ops, NULL, NULL);
  struct vmi_tree *t;
  struct vmi_tree_node n;

  p->lazy_disks = true;
  add (p, "prod/web", "app", 65536);
  add (p, "dev", "app", 65536);            /* the same name, another folder */
  add (p, "dev", "app", 65536);            /* and again in the same one */
  add (p, NULL, "prod", 65536);            /* a VM named like a folder */
  add (p, "dev/", "a/b", 65536);           /* '/' in a name, trailing '/' */
  t = vmi_tree_new (p, 1 << 20, 65536);
  CHECK (t != NULL);
  CHECK (opens == 0);                      /* lazy: nothing opened yet */
  CHECK (strcmp (list (t, "/"), "dev prod prod-2 ") == 0);
  CHECK (strcmp (list (t, "/prod"), "web ") == 0);
  CHECK (strcmp (list (t, "/prod/web"), "app ") == 0);
  CHECK (strcmp (list (t, "/dev"), "a_b app app-2 ") == 0);
  CHECK (strcmp (list (t, "/dev/app-2"), "vm.json disk-0.img ") == 0);
  n = vmi_tree_lookup (t, "/prod/web/app/disk-0.img");
  CHECK (n.kind == VMI_TREE_DISK && n.disk->size == 65536);
  CHECK (n.kind == VMI_TREE_DISK && n.disk->allocated == -1);
  n = vmi_tree_lookup (t, "/prod/web/app/vm.json");
  CHECK (n.kind == VMI_TREE_JSON && strstr (n.vm->json, "\"folder\": \"prod/web\""));
  CHECK (vmi_tree_lookup (t, "/prod/web").kind == VMI_TREE_FOLDER);
  CHECK (vmi_tree_lookup (t, "/prod-2").kind == VMI_TREE_VM);
  CHECK (vmi_tree_lookup (t, "prod-2/").kind == VMI_TREE_VM);
  CHECK (vmi_tree_lookup (t, "/prod/web/").kind == VMI_TREE_FOLDER);
  CHECK (vmi_tree_lookup (t, "/prod/web/app/disk-1.img").kind == VMI_TREE_NONE);
  CHECK (vmi_tree_lookup (t, "/nothing/here").kind == VMI_TREE_NONE);
  CHECK (opens == 0);
  vmi_tree_free (t);
  vmi_provider_close (p);
}

static void
lazy_disk_opens_once_at_first_use (void)
{
  struct vmi_provider *p = vmi_provider_new (&fake_ops, NULL, NULL);
  struct vmi_tree *t;
  struct vmi_tree_node n;
  char buf[16];

  opens = 0;
  memset (disk_bytes, 0, sizeof disk_bytes);
  memcpy (disk_bytes + 100, "lazy", 4);
  p->lazy_disks = true;
  add (p, NULL, "good", 65536);
  add (p, NULL, "bad", 4096);             /* inventory disagrees with disk */
  t = vmi_tree_new (p, 1 << 20, 65536);
  CHECK (t && opens == 0);
  n = vmi_tree_lookup (t, "good/disk-0.img");
  CHECK (vmi_tree_disk_open (t, n.disk) == 0);
  CHECK (vmi_tree_disk_open (t, n.disk) == 0);
  CHECK (opens == 1);
  CHECK (n.disk->allocated == 65536);
  CHECK (vmi_layer_pread (n.disk->layer, buf, 4, 100) == 0
         && memcmp (buf, "lazy", 4) == 0);
  n = vmi_tree_lookup (t, "bad/disk-0.img");
  CHECK (vmi_tree_disk_open (t, n.disk) == -1 && errno == EIO);
  CHECK (strstr (vmi_error_get (), "inventory says 4096") != NULL);
  CHECK (n.disk->layer == NULL);
  vmi_tree_free (t);
  vmi_provider_close (p);
}

static void
eager_provider_opens_every_disk_at_once (void)
{
  struct vmi_provider *p = vmi_provider_new (&fake_ops, NULL, NULL);
  struct vmi_tree *t;

  opens = 0;
  add (p, NULL, "one", -1);
  add (p, NULL, "two", -1);
  t = vmi_tree_new (p, 0, 65536);
  CHECK (t && opens == 2);
  CHECK (t && vmi_tree_lookup (t, "two/disk-0.img").disk->size == 65536);
  vmi_tree_free (t);
  vmi_provider_close (p);
}

/* vmi_tree_vm_path names every VM as the tree does (nested folders, a
 * name taken twice in a folder, a VM named like a folder, a VM without
 * disks) and opens nothing, even for a provider that opens disks with
 * its tree. */
static void
vm_path_is_the_trees_without_opening (void)
{
  struct vmi_provider *p = vmi_provider_new (&fake_ops, NULL, NULL);
  struct vmi_tree *t;
  char *path;
  size_t seen = 0;

  opens = 0;
  add (p, "prod/web", "app", -1);
  add (p, "dev", "app", -1);
  add (p, "dev", "app", -1);
  add (p, "a/b", "c", -1);                 /* a VM named like a folder ... */
  add (p, "a/b/c", "deep", -1);            /* ... that a later VM makes */
  add (p, NULL, "prod", -1);
  add (p, "dev/", "a/b", -1);
  vmi_provider_add_vm (p, vmi_vm_new ("dev"));   /* no disks */
  path = vmi_tree_vm_path (p, 2);
  CHECK (path && strcmp (path, "dev/app-2") == 0);
  free (path);
  path = vmi_tree_vm_path (p, 3);
  CHECK (path && strcmp (path, "a/b/c-2") == 0);
  free (path);
  CHECK (opens == 0);
  CHECK (vmi_tree_vm_path (p, p->nvms) == NULL && errno == EINVAL);
  t = vmi_tree_new (p, 0, 65536);
  CHECK (t != NULL && t->nvms == p->nvms);
  for (size_t i = 0; t && i < t->nvms; i++) {
    path = vmi_tree_vm_path (p, t->vms[i].vm_index);
    CHECK (path && strcmp (path, t->vms[i].path) == 0);
    if (path == NULL || strcmp (path, t->vms[i].path) != 0)
      fprintf (stderr, "  VM %zu: %s, the tree says %s\n", t->vms[i].vm_index,
               path ? path : "(null)", t->vms[i].path);
    seen |= (size_t) 1 << t->vms[i].vm_index;
    free (path);
  }
  CHECK (seen == ((size_t) 1 << p->nvms) - 1);
  vmi_tree_free (t);
  vmi_provider_close (p);
}

int
main (void)
{
  folders_nest_and_names_stay_unique ();
  lazy_disk_opens_once_at_first_use ();
  eager_provider_opens_every_disk_at_once ();
  vm_path_is_the_trees_without_opening ();
  if (failures)
    fprintf (stderr, "%d check(s) failed\n", failures);
  return failures != 0;
}
