/* Transport: bytes in memory.  Used by unit tests and fuzz targets, so they
 * run the same parsers as production on top of it. */
#include <string.h>

#include "vmimport/formats.h"

static int
memory_pread (struct vmi_layer *l, void *buf, size_t count, uint64_t offset)
{
  memcpy (buf, (const char *) l->priv + offset, count);
  return 0;
}

static const struct vmi_layer_ops memory_ops = {
  .name = "memory",
  .pread = memory_pread,
};

struct vmi_layer *
vmi_memory_open (const void *data, uint64_t size, const char *name)
{
  return vmi_layer_new (&memory_ops, (void *) data, size,
                        name ? name : "memory", NULL);
}
