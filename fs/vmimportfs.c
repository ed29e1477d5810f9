/* STUB: the FUSE daemon (issue 2). */
#include <stdio.h>
int
main (void)
{
  fprintf (stderr, "vmimportfs: not written yet\n");
  return 1;
}
