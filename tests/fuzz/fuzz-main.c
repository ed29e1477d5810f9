/* A main() for fuzz targets built without libFuzzer: runs each file named
 * on the command line (or stdin) through the target once.  Built with
 * afl-clang-fast it runs in AFL++'s persistent mode:
 *   CC=afl-clang-fast meson setup build-afl -Dfuzz=true -Dfuzz_engine=standalone
 *   afl-fuzz -i SEEDS -o OUT -- build-afl/tests/fuzz/fuzz-vmdk
 * It is also how reproducers are replayed without the fuzzer. */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "fuzz-common.h"

#ifdef __AFL_FUZZ_TESTCASE_LEN
__AFL_FUZZ_INIT ();
#endif

static int
run_file (FILE *f, const char *name)
{
  size_t cap = 1 << 16, len = 0, n;
  unsigned char *buf = malloc (cap);

  while (buf && (n = fread (buf + len, 1, cap - len, f)) > 0) {
    len += n;
    if (len == cap) {
      unsigned char *b = realloc (buf, cap * 2);
      if (b == NULL)
        break;
      buf = b;
      cap *= 2;
    }
  }
  if (buf == NULL || ferror (f)) {
    perror (name);
    free (buf);
    return 1;
  }
  LLVMFuzzerTestOneInput (buf, len);
  free (buf);
  return 0;
}

int
main (int argc, char **argv)
{
  int r = 0;

  LLVMFuzzerInitialize (&argc, &argv);
#ifdef __AFL_FUZZ_TESTCASE_LEN
  __AFL_INIT ();
  unsigned char *afl_buf = __AFL_FUZZ_TESTCASE_BUF;
  while (__AFL_LOOP (10000))
    LLVMFuzzerTestOneInput (afl_buf, __AFL_FUZZ_TESTCASE_LEN);
  return 0;
#endif
  if (argc < 2)
    return run_file (stdin, "stdin");
  for (int i = 1; i < argc; i++) {
    FILE *f = fopen (argv[i], "rb");
    if (f == NULL) {
      perror (argv[i]);
      r = 1;
      continue;
    }
    r |= run_file (f, argv[i]);
    fclose (f);
    fprintf (stderr, "fuzz: %s: ok\n", argv[i]);
  }
  return r;
}
