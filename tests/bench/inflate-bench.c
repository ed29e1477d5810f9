/* inflate-bench VMDK: inflate every compressed grain of a streamOptimized
 * VMDK with libdeflate and with zlib, and print the output rate of each
 * (MB/s, single thread) as JSON.  The decompression ceiling for the
 * benchmark's VMDK cases. */
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <libdeflate.h>
#include <zlib.h>

struct grain { const unsigned char *p; uint32_t len; };

static double
now (void)
{
  struct timespec ts;
  clock_gettime (CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

int
main (int argc, char **argv)
{
  int fd;
  struct stat st;
  unsigned char *img;
  struct grain *g = NULL;
  size_t ng = 0, cap = 0;
  uint64_t grain_bytes, out_total = 0;
  unsigned char *out;

  if (argc != 2 || (fd = open (argv[1], O_RDONLY)) == -1 || fstat (fd, &st) == -1) {
    fprintf (stderr, "usage: inflate-bench STREAM.vmdk\n");
    return 2;
  }
  img = malloc (st.st_size);
  if (img == NULL || pread (fd, img, st.st_size, 0) != st.st_size) {
    fprintf (stderr, "inflate-bench: cannot read %s\n", argv[1]);
    return 1;
  }
  if (memcmp (img, "KDMV", 4) != 0) {
    fprintf (stderr, "inflate-bench: %s is not a sparse VMDK\n", argv[1]);
    return 1;
  }
  /* Header: grainSize (sectors) at 20, overHead (sectors) at 64. */
  uint64_t grain_sectors, overhead;
  memcpy (&grain_sectors, img + 20, 8);
  memcpy (&overhead, img + 64, 8);
  grain_bytes = grain_sectors * 512;
  /* Walk the markers: {uint64 lba; uint32 size; data} for grains, size 0
   * for metadata markers {lba = sectors; size 0; type}. */
  for (uint64_t pos = overhead * 512; pos + 12 <= (uint64_t) st.st_size;) {
    uint64_t val;
    uint32_t size, type;
    memcpy (&val, img + pos, 8);
    memcpy (&size, img + pos + 8, 4);
    if (size > 0) {
      if (pos + 12 + size > (uint64_t) st.st_size)
        break;
      if (ng == cap) {
        cap = cap ? cap * 2 : 4096;
        g = realloc (g, cap * sizeof *g);
      }
      g[ng++] = (struct grain){ img + pos + 12, size };
      pos = (pos + 12 + size + 511) / 512 * 512;
    }
    else {
      memcpy (&type, img + pos + 12, 4);
      if (type == 0)  /* EOS */
        break;
      pos += 512 + val * 512;
    }
  }
  if (ng == 0) {
    fprintf (stderr, "inflate-bench: no compressed grains in %s\n", argv[1]);
    return 1;
  }
  out = malloc (grain_bytes);

  struct libdeflate_decompressor *d = libdeflate_alloc_decompressor ();
  double t0 = now ();
  for (size_t i = 0; i < ng; i++) {
    size_t got;
    if (libdeflate_zlib_decompress (d, g[i].p, g[i].len, out, grain_bytes, &got)
        != LIBDEFLATE_SUCCESS) {
      fprintf (stderr, "inflate-bench: libdeflate failed on grain %zu\n", i);
      return 1;
    }
    out_total += got;
  }
  double t_libdeflate = now () - t0;
  libdeflate_free_decompressor (d);

  t0 = now ();
  for (size_t i = 0; i < ng; i++) {
    uLongf got = grain_bytes;
    if (uncompress (out, &got, g[i].p, g[i].len) != Z_OK) {
      fprintf (stderr, "inflate-bench: zlib failed on grain %zu\n", i);
      return 1;
    }
  }
  double t_zlib = now () - t0;
  printf ("{\"grains\": %zu, \"output_bytes\": %" PRIu64
          ", \"libdeflate_MBps\": %.0f, \"zlib_MBps\": %.0f, \"speedup\": %.2f}\n",
          ng, out_total, out_total / t_libdeflate / 1e6, out_total / t_zlib / 1e6,
          t_zlib / t_libdeflate);
  return 0;
}
