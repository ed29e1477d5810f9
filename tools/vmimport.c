/* STUB: the vmimport tool (issue 4). */
#include <stdio.h>
int
main (void)
{
  fprintf (stderr, "vmimport: not written yet\n");
  return 2;
}
