/* STUB: to be written (see the open issue).  Everything here fails cleanly. */
#include <errno.h>
#include <stddef.h>
#include "vmimport/error.h"
#include "vmimport/transport.h"

struct vmi_layer *
vmi_tar_open_member (struct vmi_layer *archive, const char *member)
{
  errno = ENOTSUP;
  vmi_error ("%s: tar member %s: tar is not supported yet", archive->name, member);
  return NULL;
}
