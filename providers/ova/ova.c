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

#include "vmimport/ova.h"

struct vmi_vm *
vmi_ovf_parse (const char *xml, size_t len, const char *where)
{
  (void) xml; (void) len;
  errno = ENOTSUP;
  vmi_error ("%s: OVF is not supported yet", where);
  return NULL;
}

int
vmi_manifest_parse (const char *text, size_t len, const char *where,
                    struct vmi_manifest_entry **entries, size_t *n)
{
  (void) text; (void) len; (void) entries; (void) n;
  errno = ENOTSUP;
  vmi_error ("%s: manifests are not supported yet", where);
  return -1;
}

void
vmi_manifest_free (struct vmi_manifest_entry *entries, size_t n)
{
  (void) entries; (void) n;
}

int
vmi_ova_verify (const char *source, const struct vmi_source_opts *opts, FILE *out)
{
  (void) opts; (void) out;
  errno = ENOTSUP;
  vmi_error ("%s: verify is not supported yet", source);
  return -1;
}

int
vmi_source_yaml_parse (const char *text, size_t len, const char *where,
                       struct vmi_source_spec *out)
{
  (void) text; (void) len; (void) out;
  errno = ENOTSUP;
  vmi_error ("%s: source YAML is not supported yet", where);
  return -1;
}

void
vmi_source_spec_clear (struct vmi_source_spec *s)
{
  (void) s;
}
