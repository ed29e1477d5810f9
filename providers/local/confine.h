/* Internal to the local provider: open files a local image names, confined
 * to the image's folder tree (see confine.c). */
#ifndef VMIMPORT_CONFINE_H
#define VMIMPORT_CONFINE_H

#include <limits.h>

#include "vmimport/layer.h"

struct vmi_confine {
  const char *dir;      /* the image's folder, as given (not owned) */
  const char *allow;    /* NULL: nothing outside; "": anything; else
                           ':'-separated folders also allowed (not owned) */
  char root[PATH_MAX];  /* DIR resolved */
};

/* Resolve IMAGE_DIR.  0, or -1 with an error recorded. */
int vmi_confine_init (struct vmi_confine *c, const char *image_dir,
                      const char *allow);

/* Open RELPATH (relative to the image's folder, or absolute) if it
 * resolves inside the allowed folders.  NULL with errno EPERM and a
 * message naming the path and --allow-outside-paths otherwise. */
struct vmi_layer *vmi_confine_open (const struct vmi_confine *c,
                                    const char *relpath);

#endif
