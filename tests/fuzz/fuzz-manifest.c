/* Fuzz target: .mf manifests ("SHA256(file)= hex" lines). */
#include "vmimport/ova.h"
#include "fuzz-common.h"

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  struct vmi_manifest_entry *e = NULL;
  size_t n = 0;

  if (vmi_manifest_parse ((const char *) data, size, "fuzz.mf", &e, &n) == 0)
    vmi_manifest_free (e, n);
  return 0;
}
