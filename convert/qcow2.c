/* STUB: to be written (see the open issue).  Everything here fails cleanly. */
#include <errno.h>
#include <stddef.h>
#include "vmimport/error.h"
#include "vmimport/formats.h"

int
vmi_qcow2_probe (const void *buf, size_t len)
{
  (void) buf; (void) len;
  return 0;
}

struct vmi_layer *
vmi_qcow2_open (struct vmi_layer *file, const struct vmi_opener *siblings)
{
  (void) siblings;
  errno = ENOTSUP;
  vmi_error ("%s: QCOW2 is not supported yet", file->name);
  vmi_layer_close (file);
  return NULL;
}
