/* Backing chains (not a public header): a delta or overlay image names its
 * parent relative to its own folder, and a chain must end.
 *
 *   vmi_chain_enter  opens the parent NAME through the child's opener, refuses
 *                    a name already being opened on this thread (a loop) or
 *                    a chain deeper than VMI_CHAIN_MAX, and gives an opener
 *                    for the parent's own siblings (its folder);
 *   vmi_chain_leave  undoes it once the parent is open (or failed).
 *
 * A chain is opened recursively on one thread, so the files being opened
 * are kept in a per-thread stack. */
#ifndef VMIMPORT_CONVERT_CHAIN_H
#define VMIMPORT_CONVERT_CHAIN_H

#include "vmimport/layer.h"

/* VMware allows 32 deltas below a disk; qemu has no fixed limit. */
#define VMI_CHAIN_MAX 32

struct vmi_chain_link {
  struct vmi_opener o;               /* the parent's siblings */
  const struct vmi_opener *siblings; /* the child's */
  char *dir;                         /* the parent's folder, "" or ".../" */
  char *key;                         /* the parent's normalized name */
  char *top;                         /* the chain's top, at depth 0 */
};

/* Open parent NAME of CHILD (for messages) through SIBLINGS.  Returns the
 * parent's raw file layer and fills LINK, or NULL with an error recorded.
 * Call vmi_chain_leave (LINK) after opening the parent's format on it,
 * with &LINK->o as its siblings. */
struct vmi_layer *vmi_chain_enter (struct vmi_chain_link *link,
                                   const char *child, const char *name,
                                   const struct vmi_opener *siblings);
void vmi_chain_leave (struct vmi_chain_link *link);

/* A lexically normalized copy of PATH ("a/./b//../c" -> "a/c"). */
char *vmi_path_normalize (const char *path);

#endif
