/* A layer that passes everything through and counts the bytes read, so
 * that inspect and copy can say (and tests can check) how much of the
 * source they actually fetched. */
#include <errno.h>
#include <stdlib.h>

#include "vmimport/error.h"
#include "cli.h"

struct counting {
  uint64_t bytes;
  uint64_t reads;
};

static int
counting_pread (struct vmi_layer *l, void *buf, size_t count, uint64_t offset)
{
  struct counting *c = l->priv;

  __atomic_add_fetch (&c->bytes, count, __ATOMIC_RELAXED);
  __atomic_add_fetch (&c->reads, 1, __ATOMIC_RELAXED);
  return vmi_layer_pread (l->below, buf, count, offset);
}

static void
counting_close (struct vmi_layer *l)
{
  free (l->priv);
}

static const struct vmi_layer_ops counting_ops = {
  .name = "counting",
  .pread = counting_pread,
  .extents = vmi_layer_extents_below,
  .close = counting_close,
};

struct vmi_layer *
cli_counting_open (struct vmi_layer *below)
{
  struct counting *c = calloc (1, sizeof *c);

  if (c == NULL) {
    vmi_layer_close (below);
    errno = ENOMEM;
    vmi_error ("out of memory");
    return NULL;
  }
  struct vmi_layer *l = vmi_layer_new (&counting_ops, c, below->size,
                                       below->name, below);
  if (l == NULL)
    free (c);
  return l;
}

uint64_t
cli_counting_bytes (const struct vmi_layer *l)
{
  const struct counting *c = l->priv;

  return __atomic_load_n (&c->bytes, __ATOMIC_RELAXED);
}

uint64_t
cli_counting_reads (const struct vmi_layer *l)
{
  const struct counting *c = l->priv;

  return __atomic_load_n (&c->reads, __ATOMIC_RELAXED);
}
