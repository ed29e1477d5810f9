/* vmimport: the tree a source is shown as, by vmimportfs and vmimport serve.
 *
 *   [<folder>/...]<vm>/vm.json
 *   [<folder>/...]<vm>/disk-N.img      raw view; size = virtual capacity
 *
 * Folder and VM names are made safe as path components; a VM whose name is
 * taken in its folder (by another VM or a folder) gets "-2", "-3" ...  VMs
 * and folders are found by binary search, so a source of thousands of VMs
 * costs a few comparisons per lookup.  A disk's layer stack (with a block
 * cache on top) is opened once: when the tree is made, or, for providers
 * with lazy_disks, at its first vmi_tree_disk_open.
 */
#ifndef VMIMPORT_TREE_H
#define VMIMPORT_TREE_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "vmimport/layer.h"
#include "vmimport/provider.h"

#ifdef __cplusplus
extern "C" {
#endif

struct vmi_tree_disk {
  char *name;                /* "disk-0.img" */
  size_t vm_index, disk_index;  /* in the provider */
  uint64_t size;             /* virtual size (the inventory's until opened) */
  int64_t allocated;         /* -1: unknown until opened */
  pthread_mutex_t lock;      /* opening */
  struct vmi_layer *layer;   /* raw view + cache; NULL until opened */
};

struct vmi_tree_vm {
  char *path;                /* "folder/sub/name" */
  const char *name;          /* its last component */
  size_t vm_index;           /* in the provider */
  char *json;                /* vm.json text */
  struct vmi_tree_disk *disks;
  size_t ndisks;
};

struct vmi_tree {
  struct vmi_provider *provider;  /* not owned */
  struct vmi_tree_vm *vms;   /* sorted by path */
  size_t nvms;
  char **folders;            /* every folder and its parents, sorted */
  size_t nfolders;
  uint64_t per_disk_cache;   /* bytes of block cache per disk; 0: none */
  uint32_t cache_block;
};

enum vmi_tree_kind {
  VMI_TREE_NONE, VMI_TREE_ROOT, VMI_TREE_FOLDER, VMI_TREE_VM,
  VMI_TREE_JSON, VMI_TREE_DISK,
};

struct vmi_tree_node {
  enum vmi_tree_kind kind;
  const char *folder;        /* VMI_TREE_FOLDER: its path */
  struct vmi_tree_vm *vm;    /* VM, JSON, DISK */
  struct vmi_tree_disk *disk;  /* DISK */
};

/* The tree of P's VMs.  CACHE_SIZE bytes of block cache (blocks of
 * CACHE_BLOCK) are shared out among the disks.  Disks of providers without
 * lazy_disks are opened now: a bad image fails here.  NULL on error. */
struct vmi_tree *vmi_tree_new(struct vmi_provider *p, uint64_t cache_size,
                              uint32_t cache_block);
void vmi_tree_free(struct vmi_tree *t);

/* The path VM V of P has in the tree vmi_tree_new makes of P ("folder/
 * sub/name", a name taken made unique), worked out without making the
 * tree: nothing is opened.  Caller frees.  NULL with an error recorded. */
char *vmi_tree_vm_path(struct vmi_provider *p, size_t v);

/* PATH relative to the tree's root ("" or "/" is the root; a leading '/'
 * is ignored). */
struct vmi_tree_node vmi_tree_lookup(const struct vmi_tree *t, const char *path);

/* Call FN with the name of each entry of the folder (or root) NODE. */
void vmi_tree_list(const struct vmi_tree *t, const struct vmi_tree_node *node,
                   void (*fn)(void *opaque, const char *name), void *opaque);

/* Open D's layer stack unless it is open.  0, or -1 with an error. */
int vmi_tree_disk_open(struct vmi_tree *t, struct vmi_tree_disk *d);

#ifdef __cplusplus
}
#endif
#endif
