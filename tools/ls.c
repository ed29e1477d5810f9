/* vmimport ls SOURCE [--json]: one line per VM. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vmimport/error.h"
#include "cli.h"

static void
usage (FILE *f)
{
  fprintf (f,
           "Usage: vmimport ls [OPTIONS] SOURCE\n"
           "List the VMs of SOURCE (a path, http(s)://, nbd://, or\n"
           "--source-file): name, power state, CPUs, memory, firmware, disks\n"
           "(capacity, allocated) and NICs (network, model).\n\n"
           "  --json       print the vm.json objects (a JSON array)\n"
           "  --vm NAME    only this VM\n\n" CLI_COMMON_HELP);
}

static const char *
or_dash (const char *s)
{
  return s ? s : "-";
}

static void
print_vm (const struct vmi_vm *vm)
{
  char a[32], b[32];

  /* A name can repeat in two folders: the folder and the ID tell them
   * apart (--vm takes the ID). */
  printf ("%s%s%s%s%s  power=%s  cpus=", vm->folder ? vm->folder : "",
          vm->folder ? "/" : "", vm->name, vm->id ? "  id=" : "",
          vm->id ? vm->id : "", or_dash (vm->power_state));
  if (vm->cpus >= 0)
    printf ("%d", vm->cpus);
  else
    printf ("-");
  printf ("  memory=");
  if (vm->memory_mib >= 0)
    printf ("%lldMiB", (long long) vm->memory_mib);
  else
    printf ("-");
  printf ("  firmware=%s  disks=", or_dash (vm->firmware));
  for (size_t i = 0; i < vm->ndisks; i++) {
    const struct vmi_disk *d = &vm->disks[i];
    if (d->capacity >= 0)
      cli_format_size (a, sizeof a, (double) d->capacity);
    else
      strcpy (a, "?");
    if (d->allocated >= 0)
      cli_format_size (b, sizeof b, (double) d->allocated);
    else
      strcpy (b, "?");
    printf ("%s%s:%s/%s", i ? "," : "", d->file, a, b);
  }
  if (vm->ndisks == 0)
    printf ("-");
  printf ("  nics=");
  for (size_t i = 0; i < vm->nnics; i++)
    printf ("%s%s/%s", i ? "," : "", or_dash (vm->nics[i].network),
            or_dash (vm->nics[i].model));
  if (vm->nnics == 0)
    printf ("-");
  printf ("\n");
}

int
cli_ls (int argc, char **argv)
{
  static const struct option longopts[] = {
    CLI_COMMON_OPTIONS,
    { "json", no_argument, NULL, OPT_JSON },
    { "vm", required_argument, NULL, OPT_VM },
    { 0 }
  };
  struct cli_common c;
  struct vmi_provider *p = NULL;
  int rc;
  long i, n = 0;

  cli_common_init (&c);
  if ((p = cli_open_one_source (argc, argv, longopts, &c, usage, "ls",
                                "one SOURCE", &rc)) == NULL)
    goto out;
  if (c.json)
    printf ("[\n");
  for (i = cli_next_vm (&c, p, 0); i != -1; i = cli_next_vm (&c, p, i + 1)) {
    if (c.json) {
      char *j = vmi_vm_to_json (p->vms[i]);
      size_t len;
      if (j == NULL) {
        cli_print_error ("ls");
        rc = EXIT_SOURCE;
        goto out;
      }
      len = strlen (j);
      while (len > 0 && j[len - 1] == '\n')
        j[--len] = '\0';
      printf ("%s%s", n ? ",\n" : "", j);
      free (j);
    }
    else
      print_vm (p->vms[i]);
    n++;
  }
  if (c.json)
    printf ("\n]\n");
  rc = EXIT_DONE;
 out:
  vmi_provider_close (p);
  cli_common_clear (&c);
  return rc;
}
