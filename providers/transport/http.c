/* STUB: to be written (see the open issue).  Everything here fails cleanly. */
#include <errno.h>
#include <stddef.h>
#include "vmimport/error.h"
#include "vmimport/transport.h"

struct vmi_layer *
vmi_http_open (const char *url, const struct vmi_source_opts *opts)
{
  (void) opts;
  errno = ENOTSUP;
  vmi_error ("%s: HTTP is not supported yet", url);
  return NULL;
}
