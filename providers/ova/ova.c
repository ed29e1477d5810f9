/* STUB: to be written (see the open issue).  Everything here fails cleanly. */
#include <errno.h>
#include <stddef.h>
#include "vmimport/error.h"
#include "../providers.h"

struct vmi_provider *
vmi_ova_provider_open (const char *source, const struct vmi_source_opts *o)
{
  (void) o;
  errno = ENOTSUP;
  vmi_error ("%s: OVA/OVF is not supported yet", source);
  return NULL;
}

struct vmi_provider *
vmi_yaml_provider_open (const char *path, const struct vmi_source_opts *o)
{
  (void) o;
  errno = ENOTSUP;
  vmi_error ("%s: source YAML is not supported yet", path);
  return NULL;
}
