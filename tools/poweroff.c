/* vmimport poweroff --vm NAME SOURCE: stop a VM of the source and wait
 * until it is off (OpenStack: os-stop, then SHUTOFF within the deadline). */
#include <stdio.h>
#include <stdlib.h>

#include "vmimport/error.h"
#include "cli.h"

#define DEADLINE 120   /* seconds for the VM to be off */

static void
usage (FILE *f)
{
  fprintf (f,
           "Usage: vmimport poweroff [OPTIONS] --vm NAME-OR-ID SOURCE\n"
           "Power a VM of SOURCE off and wait until it is off (at most %d s).\n\n"
           "  --vm NAME    the VM (a name, or an ID)\n\n" CLI_COMMON_HELP,
           DEADLINE);
}

int
cli_poweroff (int argc, char **argv)
{
  static const struct option longopts[] = {
    CLI_COMMON_OPTIONS,
    { "vm", required_argument, NULL, OPT_VM },
    { 0 }
  };
  struct cli_common c;
  struct vmi_provider *p;
  long v;
  int rc;

  cli_common_init (&c);
  if ((p = cli_open_one_source (argc, argv, longopts, &c, usage, "poweroff",
                                "one SOURCE", &rc)) == NULL)
    goto out;
  rc = EXIT_SOURCE;
  if (c.vm == NULL) {
    fprintf (stderr, "vmimport poweroff: give the VM with --vm\n");
    rc = EXIT_USAGE;
    goto out;
  }
  v = cli_next_vm (&c, p, 0);
  if (v == -1 || cli_next_vm (&c, p, v + 1) != -1) {
    fprintf (stderr, "vmimport poweroff: %s VM named '%s'%s\n",
             v == -1 ? "no" : "several", c.vm,
             v == -1 ? "" : "; give its ID with --vm");
    goto out;
  }
  if (p->ops->power_off == NULL) {
    fprintf (stderr, "vmimport poweroff: %s sources have no power to turn "
             "off\n", p->ops->name);
    goto out;
  }
  if (p->ops->power_off (p, p->vms[v], false, DEADLINE) == -1) {
    cli_print_error ("poweroff");
    goto out;
  }
  printf ("%s is off\n", p->vms[v]->name);
  rc = EXIT_DONE;
 out:
  vmi_provider_close (p);
  cli_common_clear (&c);
  return rc;
}
