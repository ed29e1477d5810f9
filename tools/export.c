/* vmimport export SOURCE --vm VM [--wait]: make VM's disks readable
 * without reading them.  For OpenStack: each disk's export (volume:
 * snapshot -> volume -> upload to Glance; booted from an image:
 * createImage) starts now instead of when its disk-N.img is first opened.
 * The images stay after this command (tagged vmimport-export): a later
 * copy, mount or import of the same source reads them instead of exporting
 * again, and "vmimport cleanup SOURCE" removes them.  Prints, for each
 * disk, the image it will be read from and its state ("exporting",
 * "ready"); --wait waits until every one is ready. */
#include <stdio.h>
#include <stdlib.h>

#include "vmimport/error.h"
#include "cli.h"

enum { OPT_WAIT = OPT_FIRST_COMMAND_OPTION };

static void
usage (FILE *f)
{
  fprintf (f,
           "Usage: vmimport export [OPTIONS] SOURCE --vm VM [--wait]\n"
           "       vmimport export [OPTIONS] SOURCE VM [--wait]\n"
           "Start the export of each disk of VM (a name, or its ID when names\n"
           "repeat) without reading it (OpenStack: volume -> Glance image).\n"
           "Prints each disk's image and state; the images stay for later\n"
           "copies and mounts of SOURCE until 'vmimport cleanup SOURCE'.\n\n"
           "  --wait                wait until every disk is ready\n\n"
           CLI_COMMON_HELP);
}

static void
print_disks (const struct vmi_vm *vm)
{
  for (size_t i = 0; i < vm->ndisks; i++) {
    const struct vmi_disk *d = &vm->disks[i];
    printf ("%s\t%s\t%s\n", d->file,
            d->export_state ? d->export_state : "-",
            d->export_id ? d->export_id : "-");
  }
}

int
cli_export (int argc, char **argv)
{
  static const struct option longopts[] = {
    CLI_COMMON_OPTIONS,
    { "vm", required_argument, NULL, OPT_VM },
    { "wait", no_argument, NULL, OPT_WAIT },
    { 0 },
  };
  struct cli_common c;
  struct vmi_provider *p = NULL;
  int opt, r, rc = EXIT_USAGE, npos;
  bool wait = false;
  long v;

  cli_common_init (&c);
  while ((opt = getopt_long (argc, argv, "vh", longopts, NULL)) != -1) {
    if (opt == 'h') {
      usage (stdout);
      rc = EXIT_DONE;
      goto out;
    }
    if (opt == OPT_WAIT) {
      wait = true;
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
    fprintf (stderr, "vmimport export: give SOURCE (or --source-file) and "
             "one VM (--vm)\n");
    goto out;
  }
  if (cli_common_finish (&c) == -1)
    goto out;
  if ((p = cli_open_source (&c, npos ? argv[optind] : NULL, &rc)) == NULL)
    goto out;
  rc = EXIT_USAGE;
  if ((v = cli_pick_vm (&c, p, "export")) == -1)
    goto out;
  cli_warn_notes (p->vms[v]);
  rc = EXIT_SOURCE;
  /* One disk after the other (with --wait, each until it is ready): the
   * cloud's own work for one export (snapshot, volume, upload) is already
   * parallel, and several at once made the test peer's sqlite databases
   * fail ("database is locked"). */
  for (size_t i = 0; i < p->vms[v]->ndisks; i++)
    if (vmi_provider_start_export (p, (size_t) v, i, wait) == -1) {
      cli_print_error ("export");
      goto out;
    }
  print_disks (p->vms[v]);
  rc = EXIT_DONE;
 out:
  vmi_provider_close (p);
  cli_common_clear (&c);
  return rc;
}
