/* vmimport poweroff SOURCE VM: power a source VM off before its disks are
 * read.  Gracefully (the guest is asked to shut down) and, when it is not
 * off after --graceful-timeout seconds (default 60), hard; --force: hard at
 * once.  A VM without VMware Tools is powered off hard after the timeout
 * instead of waiting forever. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vmimport/error.h"
#include "cli.h"

enum { OPT_GRACEFUL_TIMEOUT = OPT_FIRST_COMMAND_OPTION, OPT_FORCE };

static void
usage (FILE *f)
{
  fprintf (f,
           "Usage: vmimport poweroff [OPTIONS] SOURCE VM\n"
           "       vmimport poweroff [OPTIONS] SOURCE --vm VM\n"
           "Power VM (a name, or its ID when names repeat) off: ask the guest\n"
           "to shut down, wait up to --graceful-timeout seconds, then power\n"
           "it off hard.  A VM already off is left alone.\n\n"
           "  --graceful-timeout S  seconds to wait for the guest (default 60)\n"
           "  --force               power off hard at once\n\n"
           CLI_COMMON_HELP);
}

static int
parse_timeout (const char *arg, int *out)
{
  char *end;
  long v;

  errno = 0;
  v = strtol (arg, &end, 10);
  if (errno || end == arg || *end || v < 0 || v > 86400) {
    fprintf (stderr, "vmimport poweroff: --graceful-timeout: '%s' is not a "
             "number of seconds (0..86400)\n", arg);
    return -1;
  }
  *out = (int) v;
  return 0;
}

int
cli_poweroff (int argc, char **argv)
{
  static const struct option longopts[] = {
    CLI_COMMON_OPTIONS,
    { "vm", required_argument, NULL, OPT_VM },
    { "graceful-timeout", required_argument, NULL, OPT_GRACEFUL_TIMEOUT },
    { "force", no_argument, NULL, OPT_FORCE },
    { 0 },
  };
  struct cli_common c;
  struct vmi_provider *p = NULL;
  int opt, r, rc = EXIT_USAGE, timeout = 60, npos;
  bool force = false;
  long v;

  cli_common_init (&c);
  while ((opt = getopt_long (argc, argv, "vh", longopts, NULL)) != -1) {
    if (opt == 'h') {
      usage (stdout);
      rc = EXIT_DONE;
      goto out;
    }
    if (opt == OPT_GRACEFUL_TIMEOUT) {
      if (parse_timeout (optarg, &timeout) == -1)
        goto out;
      continue;
    }
    if (opt == OPT_FORCE) {
      force = true;
      continue;
    }
    if ((r = cli_common_option (&c, opt, optarg)) != 1) {
      if (r == 0)
        usage (stderr);
      goto out;
    }
  }
  npos = c.source_file ? 0 : 1;
  if (argc - optind == npos + 1 && c.vm == NULL)
    c.vm = argv[optind + npos];
  else if (argc - optind != npos || c.vm == NULL) {
    fprintf (stderr, "vmimport poweroff: give SOURCE (or --source-file) and "
             "one VM\n");
    goto out;
  }
  if (cli_common_finish (&c) == -1)
    goto out;
  if ((p = cli_open_source (&c, npos ? argv[optind] : NULL, &rc)) == NULL)
    goto out;
  rc = EXIT_USAGE;
  if ((v = cli_pick_vm (&c, p, "poweroff")) == -1)
    goto out;
  if (p->ops->power_off == NULL) {
    fprintf (stderr, "vmimport poweroff: this source (%s) has no power to "
             "turn off\n", p->ops->name);
    goto out;
  }
  rc = EXIT_SOURCE;
  if (p->ops->power_off (p, p->vms[v], force, timeout) == -1) {
    cli_print_error ("poweroff");
    goto out;
  }
  printf ("%s (%s): powered off\n", p->vms[v]->name,
          p->vms[v]->id ? p->vms[v]->id : "-");
  rc = EXIT_DONE;
 out:
  vmi_provider_close (p);
  cli_common_clear (&c);
  return rc;
}
