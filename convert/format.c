/* Format detection by content, and the table of format layers.  A new
 * format is one line here. */
#include <errno.h>
#include <string.h>

#include "vmimport/error.h"
#include "vmimport/formats.h"

static const struct format {
  const char *name;
  int (*probe) (const void *buf, size_t len);
  struct vmi_layer *(*open) (struct vmi_layer *, const struct vmi_opener *);
} formats[] = {
  { "qcow2", vmi_qcow2_probe, vmi_qcow2_open },
  { "vmdk", vmi_vmdk_probe, vmi_vmdk_open },
};

#define PROBE_BYTES 4096

struct vmi_layer *
vmi_format_open (struct vmi_layer *file, const struct vmi_opener *siblings,
                 const char **format_out)
{
  char buf[PROBE_BYTES];
  size_t len = file->size < sizeof buf ? file->size : sizeof buf;

  if (vmi_layer_pread (file, buf, len, 0) == -1) {
    vmi_layer_close (file);
    return NULL;
  }
  for (size_t i = 0; i < sizeof formats / sizeof formats[0]; i++) {
    if (formats[i].probe (buf, len)) {
      if (format_out)
        *format_out = formats[i].name;
      return formats[i].open (file, siblings);
    }
  }
  if (format_out)
    *format_out = "raw";
  return file;
}
