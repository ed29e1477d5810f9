/* vmimport: the companion tool of vmimportfs.  One file per command
 * (ls.c, inspect.c, copy.c, verify.c, serve.c, manifest.c); this one
 * dispatches. */
#include <stdio.h>
#include <string.h>

#include "vmimport/error.h"
#include "cli.h"
#include "convert.h"

static const struct command {
  const char *name;
  int (*run) (int argc, char **argv);
  const char *summary;
} commands[] = {
  { "ls", cli_ls, "list the VMs of a source: power, CPUs, memory, firmware, disks, NICs" },
  { "inspect", cli_inspect, "partitions, filesystems and boot firmware of each disk" },
  { "copy", cli_copy, "sparse, parallel copy of a disk into a file or block device" },
  { "export", cli_export, "start the export of a VM's disks (OpenStack) without reading them" },
  { "cleanup", cli_cleanup, "remove what imports left in a source (OpenStack temporaries)" },
  { "verify", cli_verify, "check an OVA/OVF against its manifest" },
  { "poweroff", cli_poweroff, "power a source VM off: gracefully, then hard after a timeout" },
  { "import", cli_import, "the whole import of a VM into Harvester (VirtualMachineImport)" },
  { "serve", cli_serve, "every disk of a source over HTTP(S), for Harvester to download" },
  { "manifest", cli_manifest, "the Harvester objects (PVCs or images, the VirtualMachine) of an import, as YAML" },
  { "convert", cli_convert, "make the guest on copied disks boot on virtio (virt-v2v-in-place)" },
};

static void
usage (FILE *f)
{
  fprintf (f, "Usage: vmimport COMMAND [OPTIONS] ...\n\nCommands:\n");
  for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
    fprintf (f, "  %-8s %s\n", commands[i].name, commands[i].summary);
  fprintf (f, "\n'vmimport COMMAND --help' describes a command.\n"
           "  --version   print the version\n"
           "Exit codes: 0 done, 1 source error, 2 usage, "
           "3 destination error, 4 conversion failed.\n");
}

int
main (int argc, char **argv)
{
  vmi_log_set_program ("vmimport");
  if (argc < 2) {
    usage (stderr);
    return EXIT_USAGE;
  }
  if (!strcmp (argv[1], "--version") || !strcmp (argv[1], "-V")) {
    printf ("vmimport %s\n", VMIMPORT_VERSION);
    return EXIT_DONE;
  }
  if (!strcmp (argv[1], "--help") || !strcmp (argv[1], "-h")
      || !strcmp (argv[1], "help")) {
    usage (stdout);
    return EXIT_DONE;
  }
  for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
    if (!strcmp (argv[1], commands[i].name))
      return commands[i].run (argc - 1, argv + 1);
  fprintf (stderr, "vmimport: unknown command '%s'\n", argv[1]);
  usage (stderr);
  return EXIT_USAGE;
}
