/* Fuzz target: Harvester source YAML (OvaSource, VmwareSource,
 * OpenstackSource and their Secret). */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vmimport/ova.h"
#include "fuzz-common.h"

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  struct vmi_source_spec s;

  memset (&s, 0, sizeof s);
  vmi_source_opts_init (&s.opts);
  if (vmi_source_yaml_parse ((const char *) data, size, "fuzz.yaml", &s) == 0) {
    /* The transports count the timeout in milliseconds (NBD in a long). */
    if (s.opts.timeout_seconds < 0 || s.opts.timeout_seconds > LONG_MAX / 1000) {
      fprintf (stderr, "fuzz: httpTimeoutSeconds %ld taken\n",
               s.opts.timeout_seconds);
      abort ();
    }
    vmi_source_spec_clear (&s);
  }
  return 0;
}
