/* Fuzz target: Harvester source YAML (OvaSource, VmwareSource,
 * OpenstackSource and their Secret). */
#include <string.h>

#include "vmimport/ova.h"
#include "fuzz-common.h"

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  struct vmi_source_spec s;

  memset (&s, 0, sizeof s);
  vmi_source_opts_init (&s.opts);
  if (vmi_source_yaml_parse ((const char *) data, size, "fuzz.yaml", &s) == 0)
    vmi_source_spec_clear (&s);
  return 0;
}
