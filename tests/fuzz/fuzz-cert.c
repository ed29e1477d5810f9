/* Fuzz target: OVF signing certificates (.cert: "SHA256(x.mf)= hex" and
 * PEM), parsed and then checked against a small manifest. */
#include <stdio.h>

#include "vmimport/ova.h"
#include "fuzz-common.h"

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  struct vmi_ova_cert c;
  char why[256];
  FILE *out;

  if (vmi_ova_cert_parse ((const char *) data, size, "fuzz.cert", &c) == 0) {
    if ((out = fopen ("/dev/null", "w")) != NULL) {
      vmi_ova_cert_check (&c, "fuzz.cert", "x", 1, "vm.mf", NULL, out, why,
                          sizeof why);
      fclose (out);
    }
    vmi_ova_cert_clear (&c);
  }
  return 0;
}
