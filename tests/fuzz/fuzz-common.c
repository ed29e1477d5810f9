/* Helpers for the fuzz targets (see fuzz-common.h). */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vmimport/error.h"
#include "vmimport/formats.h"
#include "fuzz-common.h"

#define READ_BUDGET (8u << 20)      /* bytes read per input */
#define EXTENT_BUDGET 100000        /* extents visited per input */
#define WINDOW (UINT64_C (1) << 32) /* extents asked for at once */
#define MAX_OPENS 256

/* Every target's: quiet logging (a warning per input would slow the
 * fuzzer down). */
int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
  (void) argc;
  (void) argv;
  vmi_log_set_program ("fuzz");
  vmi_log_set_level (VMI_LOG_ERROR);
  return 0;
}

static void
check_zero (const struct vmi_layer *l, const char *buf, size_t n,
            uint64_t off)
{
  for (size_t i = 0; i < n; i++)
    if (buf[i]) {
      fprintf (stderr, "fuzz: %s: byte %" PRIu64 " is in an extent that "
               "reads as zeros but is 0x%02x\n", l->name, off + i,
               (unsigned char) buf[i]);
      abort ();
    }
}

void
fuzz_read_layer (struct vmi_layer *l)
{
  struct vmi_extents e = { 0 };
  /* 1 MiB reads, as FUSE and vmimport copy make them: a read spans many
   * grains or clusters, which takes the batched, parallel paths. */
  size_t bufsz = 1 << 20, budget = READ_BUDGET, nextents = 0;
  char *buf = malloc (bufsz);
  uint64_t pos = 0;

  if (buf == NULL)
    return;
  /* A few awkward reads first: one byte, an odd span, the last bytes. */
  if (l->size > 0) {
    uint64_t odd = l->size < 4099 ? l->size : 4099;
    uint64_t tail = l->size < 777 ? l->size : 777;
    vmi_layer_pread (l, buf, 1, 0);
    vmi_layer_pread (l, buf, odd, (l->size - odd) / 3);
    vmi_layer_pread (l, buf, tail, l->size - tail);
    if (l->size > 65536 + 300)
      vmi_layer_pread (l, buf, 600, 65536 - 300);
  }
  while (pos < l->size && budget > 0 && nextents < EXTENT_BUDGET) {
    if (vmi_layer_extents (l, pos, WINDOW, &e) == -1)
      break;
    if (e.n == 0 || e.v[0].offset != pos) {
      fprintf (stderr, "fuzz: %s: extents at %" PRIu64 " do not start there\n",
               l->name, pos);
      abort ();
    }
    for (size_t i = 0; i < e.n && budget > 0; i++, nextents++) {
      const struct vmi_extent *x = &e.v[i];
      uint64_t end = x->offset + x->length;
      for (uint64_t o = x->offset; o < end && budget > 0;) {
        size_t n = end - o;
        if (n > bufsz)
          n = bufsz;
        if (n > budget)
          n = budget;
        /* Zeros: the head and the tail of the extent are enough. */
        if (x->type != VMI_EXTENT_DATA && o > x->offset && end - o > bufsz)
          o = end - n;
        if (vmi_layer_pread (l, buf, n, o) == -1)
          break;   /* a corrupt grain: EIO for this read, go on */
        if (x->type != VMI_EXTENT_DATA)
          check_zero (l, buf, n, o);
        budget -= n;
        o += n;
      }
    }
    pos = e.v[e.n - 1].offset + e.v[e.n - 1].length;
  }
  vmi_extents_free (&e);
  free (buf);
}

struct input {
  const uint8_t *data;
  size_t size;
  int opens;
};

static struct input input;

static struct vmi_layer *
open_sibling (const struct vmi_opener *o, const char *relpath)
{
  struct input *in = o->opaque;

  if (++in->opens > MAX_OPENS) {
    vmi_error ("%s: too many files opened", relpath);
    return NULL;
  }
  return vmi_memory_open (in->data, in->size, relpath);
}

void
fuzz_opener_init (struct vmi_opener *o, const uint8_t *data, size_t size)
{
  input = (struct input){ data, size, 0 };
  o->open = open_sibling;
  o->opaque = &input;
}
