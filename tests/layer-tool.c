/* layer-tool: drive the layer stack directly (no FUSE) for tests.
 *
 *   layer-tool info  SOURCE              format, size, allocated (JSON)
 *   layer-tool cat   SOURCE OUT          raw view to OUT; holes stay holes
 *   layer-tool map   SOURCE              extents: "offset length data|zero|hole"
 *   layer-tool vmjson SOURCE             vm.json of every VM (describe only)
 *   layer-tool random SOURCE REF N THREADS SEED [CACHE_BYTES]
 *        N random reads (1 byte .. 4 MiB, a third of them crossing 64 KiB
 *        boundaries) from THREADS threads, each compared with REF.
 *   layer-tool reads SOURCE REF OFFSET+LEN...
 *        the reads given, one after another, each compared with REF.
 *
 * SOURCE is anything vmi_provider_open accepts; disk 0 of VM 0 is used
 * (VMI_VM / VMI_DISK pick others).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vmimport/error.h"
#include "vmimport/formats.h"
#include "vmimport/provider.h"

static struct vmi_provider *prov;

static struct vmi_layer *
open_source (const char *source)
{
  struct vmi_source_opts o;
  const char *pw = getenv ("VMIMPORT_PASSWORD");
  const char *vm = getenv ("VMI_VM"), *disk = getenv ("VMI_DISK");
  struct vmi_layer *l;

  vmi_source_opts_init (&o);
  if (pw)
    o.password = strdup (pw);
  if (getenv ("VMI_USER"))
    o.username = strdup (getenv ("VMI_USER"));
  if (getenv ("VMI_CA"))
    o.ca_cert_file = strdup (getenv ("VMI_CA"));
  if (getenv ("VMI_ALLOW_OUTSIDE_PATHS"))
    o.allow_outside_paths = strdup (getenv ("VMI_ALLOW_OUTSIDE_PATHS"));
  /* Retry policy and timeout, for fault tests. */
  if (getenv ("VMI_RETRY_ATTEMPTS"))
    o.retry.attempts = atoi (getenv ("VMI_RETRY_ATTEMPTS"));
  if (getenv ("VMI_RETRY_DEADLINE"))
    o.retry.deadline = atof (getenv ("VMI_RETRY_DEADLINE"));
  if (getenv ("VMI_TIMEOUT"))
    o.timeout_seconds = atol (getenv ("VMI_TIMEOUT"));
  prov = vmi_provider_open (source, &o);
  vmi_source_opts_clear (&o);
  if (prov == NULL) {
    fprintf (stderr, "layer-tool: %s\n", vmi_error_get ());
    exit (1);
  }
  l = vmi_provider_open_disk (prov, vm ? atoi (vm) : 0, disk ? atoi (disk) : 0);
  if (l == NULL) {
    fprintf (stderr, "layer-tool: %s\n", vmi_error_get ());
    exit (1);
  }
  return l;
}

static int
cmd_info (struct vmi_layer *l)
{
  int64_t alloc = vmi_layer_allocated (l);

  if (alloc < 0) {
    fprintf (stderr, "layer-tool: %s\n", vmi_error_get ());
    return 1;
  }
  printf ("{\"format\": \"%s\", \"size\": %" PRIu64 ", \"allocated\": %" PRId64 "}\n",
          prov->vms[0]->disks[0].source_format, l->size, alloc);
  return 0;
}

static int
cmd_map (struct vmi_layer *l)
{
  static const char *names[] = { "data", "zero", "hole" };
  struct vmi_extents e = { 0 };

  if (vmi_layer_extents (l, 0, l->size, &e) == -1) {
    fprintf (stderr, "layer-tool: %s\n", vmi_error_get ());
    return 1;
  }
  for (size_t i = 0; i < e.n; i++)
    printf ("%" PRIu64 " %" PRIu64 " %s\n", e.v[i].offset, e.v[i].length,
            names[e.v[i].type]);
  vmi_extents_free (&e);
  return 0;
}

static int
cmd_cat (struct vmi_layer *l, const char *out)
{
  struct vmi_extents e = { 0 };
  size_t bufsz = 4 << 20;
  char *buf = malloc (bufsz);
  int fd = open (out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  int r = 1;

  if (fd == -1 || buf == NULL) {
    perror (out);
    return 1;
  }
  if (vmi_layer_extents (l, 0, l->size, &e) == -1)
    goto err;
  for (size_t i = 0; i < e.n; i++) {
    if (e.v[i].type != VMI_EXTENT_DATA)
      continue;
    for (uint64_t pos = e.v[i].offset; pos < e.v[i].offset + e.v[i].length;) {
      size_t n = e.v[i].offset + e.v[i].length - pos;
      if (n > bufsz)
        n = bufsz;
      if (vmi_layer_pread (l, buf, n, pos) == -1)
        goto err;
      if (pwrite (fd, buf, n, pos) != (ssize_t) n) {
        perror (out);
        goto out;
      }
      pos += n;
    }
  }
  if (ftruncate (fd, l->size) == -1) {
    perror (out);
    goto out;
  }
  r = 0;
  goto out;
 err:
  fprintf (stderr, "layer-tool: %s\n", vmi_error_get ());
 out:
  vmi_extents_free (&e);
  free (buf);
  close (fd);
  return r;
}

struct rnd {
  struct vmi_layer *l;
  int ref;
  long n;
  unsigned seed;
  long failures;
};

static uint64_t
next (uint64_t *s)
{
  *s ^= *s << 13;
  *s ^= *s >> 7;
  *s ^= *s << 17;
  return *s;
}

static void *
random_worker (void *arg)
{
  struct rnd *r = arg;
  uint64_t s = r->seed * 2654435761u + 1;
  char *a = malloc (4 << 20), *b = malloc (4 << 20);

  for (long i = 0; i < r->n && a && b; i++) {
    uint64_t size = r->l->size, off, len;
    switch (next (&s) % 3) {
    case 0:  /* tiny */
      len = 1 + next (&s) % 4096;
      break;
    case 1:  /* up to 4 MiB */
      len = 1 + next (&s) % (4 << 20);
      break;
    default: /* straddles a 64 KiB boundary */
      len = 2 + next (&s) % 200000;
      break;
    }
    if (len > size)
      len = size;
    off = next (&s) % (size - len + 1);
    if (next (&s) % 3 == 0) {
      uint64_t b64 = (off >> 16) << 16;
      if (b64 > len / 2 && b64 - len / 2 + len <= size)
        off = b64 - len / 2;
    }
    if (vmi_layer_pread (r->l, a, len, off) == -1) {
      fprintf (stderr, "layer-tool: read %" PRIu64 "+%" PRIu64 ": %s\n", off, len,
               vmi_error_get ());
      r->failures++;
      continue;
    }
    if (pread (r->ref, b, len, off) != (ssize_t) len || memcmp (a, b, len)) {
      fprintf (stderr, "layer-tool: MISMATCH at %" PRIu64 "+%" PRIu64 "\n", off, len);
      r->failures++;
    }
  }
  free (a);
  free (b);
  return NULL;
}

static int
cmd_random (struct vmi_layer *l, const char *ref, long n, int threads,
            unsigned seed)
{
  pthread_t t[64];
  struct rnd r[64];
  int fd = open (ref, O_RDONLY);
  long failures = 0;

  if (fd == -1) {
    perror (ref);
    return 1;
  }
  if (threads < 1 || threads > 64)
    threads = 4;
  for (int i = 0; i < threads; i++) {
    r[i] = (struct rnd){ l, fd, n / threads + (i < n % threads), seed + i, 0 };
    pthread_create (&t[i], NULL, random_worker, &r[i]);
  }
  for (int i = 0; i < threads; i++) {
    pthread_join (t[i], NULL);
    failures += r[i].failures;
  }
  close (fd);
  printf ("%ld reads, %ld failures\n", n, failures);
  return failures != 0;
}

/* Reads "OFFSET+LEN", one after another, each compared with REF. */
static int
cmd_reads (struct vmi_layer *l, const char *ref, char **spec, int n)
{
  int fd = open (ref, O_RDONLY), failures = 0;

  if (fd == -1) {
    perror (ref);
    return 1;
  }
  for (int i = 0; i < n; i++) {
    unsigned long long off, len;
    char *a, *b;
    if (sscanf (spec[i], "%llu+%llu", &off, &len) != 2 || len == 0
        || len > (64u << 20)) {
      fprintf (stderr, "layer-tool: %s: not OFFSET+LEN\n", spec[i]);
      failures++;
      break;
    }
    a = malloc (len);
    b = malloc (len);
    if (a == NULL || b == NULL)
      failures++;
    else if (vmi_layer_pread (l, a, len, off) == -1) {
      fprintf (stderr, "layer-tool: read %s: %s\n", spec[i], vmi_error_get ());
      failures++;
    }
    else if (pread (fd, b, len, off) != (ssize_t) len || memcmp (a, b, len)) {
      fprintf (stderr, "layer-tool: MISMATCH at %s\n", spec[i]);
      failures++;
    }
    free (a);
    free (b);
  }
  close (fd);
  return failures != 0;
}

int
main (int argc, char **argv)
{
  struct vmi_layer *l;
  int r;

  vmi_log_set_program ("layer-tool");
  if (getenv ("VMI_LOG_LEVEL"))   /* 0 error .. 3 debug */
    vmi_log_set_level ((enum vmi_log_level) atoi (getenv ("VMI_LOG_LEVEL")));
  if (argc < 3) {
    fprintf (stderr, "usage: layer-tool info|map|cat|random|reads SOURCE ...\n");
    return 2;
  }
  if (!strcmp (argv[1], "vmjson")) {
    struct vmi_source_opts o;
    vmi_source_opts_init (&o);
    if (getenv ("VMIMPORT_PASSWORD"))
      o.password = strdup (getenv ("VMIMPORT_PASSWORD"));
    if (getenv ("VMI_USER"))
      o.username = strdup (getenv ("VMI_USER"));
    if (getenv ("VMI_CA"))
      o.ca_cert_file = strdup (getenv ("VMI_CA"));
    if (getenv ("VMI_ALLOW_OUTSIDE_PATHS"))
      o.allow_outside_paths = strdup (getenv ("VMI_ALLOW_OUTSIDE_PATHS"));
    prov = vmi_provider_open (argv[2], &o);
    vmi_source_opts_clear (&o);
    if (prov == NULL) {
      fprintf (stderr, "layer-tool: %s\n", vmi_error_get ());
      return 1;
    }
    for (size_t i = 0; i < prov->nvms; i++) {
      char *j = vmi_vm_to_json (prov->vms[i]);
      fputs (j, stdout);
      free (j);
    }
    vmi_provider_close (prov);
    return 0;
  }
  l = open_source (argv[2]);
  if (!strcmp (argv[1], "info"))
    r = cmd_info (l);
  else if (!strcmp (argv[1], "map"))
    r = cmd_map (l);
  else if (!strcmp (argv[1], "cat") && argc == 4)
    r = cmd_cat (l, argv[3]);
  else if (!strcmp (argv[1], "random") && argc >= 7) {
    if (argc >= 8)
      l = vmi_cache_open (l, strtoull (argv[7], NULL, 0), 65536);
    r = l ? cmd_random (l, argv[3], atol (argv[4]), atoi (argv[5]),
                        (unsigned) atoi (argv[6])) : 1;
  }
  else if (!strcmp (argv[1], "reads") && argc >= 5)
    r = cmd_reads (l, argv[3], argv + 4, argc - 4);
  else {
    fprintf (stderr, "layer-tool: bad command\n");
    r = 2;
  }
  vmi_layer_close (l);
  vmi_provider_close (prov);
  return r;
}
