/* A window [offset, offset+size) of the layer below: a tar member, a flat
 * VMDK extent with a start offset. */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>

#include "vmimport/error.h"
#include "vmimport/formats.h"

static int
slice_pread (struct vmi_layer *l, void *buf, size_t count, uint64_t offset)
{
  uint64_t start = *(uint64_t *) l->priv;

  return vmi_layer_pread (l->below, buf, count, start + offset);
}

static int
slice_extents (struct vmi_layer *l, uint64_t offset, uint64_t length,
               struct vmi_extents *out)
{
  uint64_t start = *(uint64_t *) l->priv;
  struct vmi_extents e = { 0 };
  int r;

  r = vmi_layer_extents (l->below, start + offset, length, &e);
  for (size_t i = 0; r == 0 && i < e.n; i++)
    r = vmi_extents_add (out, e.v[i].offset - start, e.v[i].length,
                         e.v[i].type);
  vmi_extents_free (&e);
  return r;
}

static void
slice_close (struct vmi_layer *l)
{
  free (l->priv);
}

static const struct vmi_layer_ops slice_ops = {
  .name = "slice",
  .pread = slice_pread,
  .extents = slice_extents,
  .close = slice_close,
};

struct vmi_layer *
vmi_slice_open (struct vmi_layer *below, uint64_t offset, uint64_t size,
                const char *name)
{
  uint64_t *start;

  if (offset > below->size || size > below->size - offset) {
    errno = EINVAL;
    vmi_error ("%s: range %" PRIu64 "+%" PRIu64
               " is past the end of %s (size %" PRIu64 ")",
               name ? name : below->name, offset, size, below->name,
               below->size);
    vmi_layer_close (below);
    return NULL;
  }
  start = malloc (sizeof *start);
  if (start == NULL) {
    errno = ENOMEM;
    vmi_error ("%s: out of memory", below->name);
    vmi_layer_close (below);
    return NULL;
  }
  *start = offset;
  return vmi_layer_new (&slice_ops, start, size, name ? name : below->name,
                        below);
}
