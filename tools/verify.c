/* vmimport verify SOURCE: check an OVA / OVF against its manifest. */
#include <stdio.h>
#include <stdlib.h>

#include "vmimport/ova.h"
#include "cli.h"

static void
usage (FILE *f)
{
  fprintf (f,
           "Usage: vmimport verify [OPTIONS] SOURCE\n"
           "Check every file of an OVA or OVF (local or http(s)://) against\n"
           "its manifest (.mf), reading each file once.  One line per file.\n"
           "A signing certificate (.cert) beside the manifest is checked: the\n"
           "line says who signed it and whether the certificate is trusted\n"
           "(system store, --ca-cert).\n"
           "Exit: 0 all files match (and the signature verifies), 1 a file\n"
           "differs or cannot be read, or the signature does not verify,\n"
           "2 usage.\n\n" CLI_COMMON_HELP);
}

int
cli_verify (int argc, char **argv)
{
  static const struct option longopts[] = { CLI_COMMON_OPTIONS, { 0 } };
  struct cli_common c;
  int opt, r;

  cli_common_init (&c);
  while ((opt = getopt_long (argc, argv, "vh", longopts, NULL)) != -1) {
    if (opt == 'h') {
      usage (stdout);
      cli_common_clear (&c);
      return EXIT_DONE;
    }
    r = cli_common_option (&c, opt, optarg);
    if (r != 1) {
      if (r == 0)
        usage (stderr);
      cli_common_clear (&c);
      return EXIT_USAGE;
    }
  }
  if (optind + 1 != argc || c.source_file) {
    fprintf (stderr, "vmimport verify: give exactly one SOURCE (an .ova or "
             ".ovf path or URL)\n");
    cli_common_clear (&c);
    return EXIT_USAGE;
  }
  if (cli_common_finish (&c) == -1) {
    cli_common_clear (&c);
    return EXIT_USAGE;
  }
  r = vmi_ova_verify (argv[optind], &c.opts, stdout);
  fflush (stdout);
  if (r != 0)
    cli_print_error ("verify");
  cli_common_clear (&c);
  return r == 0 ? EXIT_DONE : EXIT_SOURCE;
}
