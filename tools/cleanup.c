/* vmimport cleanup SOURCE: remove what imports of SOURCE left behind (the
 * temporary snapshots, volumes and images of an OpenStack export, found
 * by name), e.g. after an import was killed half way. */
#include <stdio.h>
#include <stdlib.h>

#include "vmimport/error.h"
#include "cli.h"

static void
usage (FILE *f)
{
  fprintf (f,
           "Usage: vmimport cleanup [OPTIONS] SOURCE\n"
           "Remove the temporary objects that imports from SOURCE left in it\n"
           "(OpenStack: snapshots, volumes and images named vmimport-tmp-*).\n\n"
           CLI_COMMON_HELP);
}

int
cli_cleanup (int argc, char **argv)
{
  static const struct option longopts[] = { CLI_COMMON_OPTIONS, { 0 } };
  struct cli_common c;
  struct vmi_provider *p;
  int rc;

  cli_common_init (&c);
  if ((p = cli_open_one_source (argc, argv, longopts, &c, usage, "cleanup",
                                "one SOURCE", &rc)) == NULL)
    goto out;
  if (vmi_provider_cleanup (p) == -1) {
    cli_print_error ("cleanup");
    rc = EXIT_SOURCE;
  }
  else
    rc = EXIT_DONE;
 out:
  vmi_provider_close (p);
  cli_common_clear (&c);
  return rc;
}
