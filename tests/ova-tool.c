/* ova-tool: drive the OVA / OVF / HTTP code directly for tests.
 *
 *   ova-tool verify SOURCE              vmi_ova_verify (one line per file)
 *   ova-tool head SOURCE N OUT          first N bytes of disk VMI_DISK to OUT,
 *                                       read in 128 KiB pieces (VMI_PIECE)
 *   ova-tool yaml FILE                  the parsed source YAML (password
 *                                       shown as set / unset only)
 *   ova-tool yaml-vmjson FILE           vm.json of a --source-file source
 *   ova-tool yaml-cat FILE OUT          disk VMI_DISK of it to OUT
 *   ova-tool tar ARCHIVE MEMBER OUT     member of a local tar, read into
 *                                       memory first (the fuzz targets' path)
 *   ova-tool ovf FILE                   vm.json of every VirtualSystem, one
 *                                       per line, from vmi_ovf_parse_all
 *   ova-tool manifest FILE              the parsed manifest
 *   ova-tool gzip FILE-OR-URL REF READS
 *        the gzip layer over a .gz file: one sequential pass, then READS
 *        random reads (up to 64 KiB each), every byte compared with REF;
 *        prints what the random reads cost (vmi_gzip_stats): inflated,
 *        read, restarts, interval, points.  VMI_GZIP_INTERVAL and
 *        VMI_GZIP_POINTS set the first interval and the most checkpoints
 *   ova-tool parallel SOURCE THREADS BYTES REF
 *        THREADS threads each read BYTES (in 1 MiB pieces) from their own
 *        region of disk VMI_DISK at once; compared with REF
 *
 * Credentials as layer-tool: VMIMPORT_PASSWORD, VMI_USER, VMI_CA,
 * VMI_INSECURE=1, VMI_TIMEOUT=SECONDS; VMI_VERBOSE=1 logs at info level
 * (retries). */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vmimport/error.h"
#include "vmimport/formats.h"
#include "vmimport/ova.h"
#include "vmimport/provider.h"
#include "vmimport/transport.h"
#include "../providers/ova/ova-internal.h"

static void
opts_from_env (struct vmi_source_opts *o)
{
  vmi_source_opts_init (o);
  if (getenv ("VMIMPORT_PASSWORD"))
    o->password = strdup (getenv ("VMIMPORT_PASSWORD"));
  if (getenv ("VMI_USER"))
    o->username = strdup (getenv ("VMI_USER"));
  if (getenv ("VMI_CA"))
    o->ca_cert_file = strdup (getenv ("VMI_CA"));
  if (getenv ("VMI_INSECURE"))
    o->insecure = true;
  if (getenv ("VMI_TIMEOUT"))
    o->timeout_seconds = atol (getenv ("VMI_TIMEOUT"));
}

static int
fail (void)
{
  fprintf (stderr, "ova-tool: %s\n", vmi_error_get ());
  return 1;
}

static char *
slurp (const char *path, size_t *len)
{
  FILE *f = fopen (path, "rb");
  struct stat st;
  char *buf;

  if (f == NULL || fstat (fileno (f), &st) == -1) {
    perror (path);
    exit (1);
  }
  buf = malloc (st.st_size + 1);
  if (buf == NULL || fread (buf, 1, st.st_size, f) != (size_t) st.st_size) {
    perror (path);
    exit (1);
  }
  buf[st.st_size] = '\0';
  *len = st.st_size;
  fclose (f);
  return buf;
}

static int
write_layer (struct vmi_layer *l, uint64_t n, const char *out)
{
  size_t piece = getenv ("VMI_PIECE") ? strtoull (getenv ("VMI_PIECE"), NULL, 0)
                                       : 128 << 10;
  char *buf = malloc (piece ? piece : 1);
  int fd = open (out, O_WRONLY | O_CREAT | O_TRUNC, 0644);

  if (fd == -1 || buf == NULL) {
    perror (out);
    return 1;
  }
  if (n > l->size)
    n = l->size;
  for (uint64_t pos = 0; pos < n;) {
    size_t k = n - pos < piece ? (size_t) (n - pos) : piece;
    if (vmi_layer_pread (l, buf, k, pos) == -1) {
      close (fd);
      free (buf);
      return fail ();
    }
    if (pwrite (fd, buf, k, pos) != (ssize_t) k) {
      perror (out);
      return 1;
    }
    pos += k;
  }
  close (fd);
  free (buf);
  return 0;
}

static int
print_vms (struct vmi_provider *p)
{
  for (size_t i = 0; i < p->nvms; i++) {
    char *j = vmi_vm_to_json (p->vms[i]);
    if (j == NULL)
      return fail ();
    fputs (j, stdout);
    free (j);
  }
  return 0;
}

struct par {
  struct vmi_layer *l;
  uint64_t off, len;
  int ref;
  int failed;
};

static void *
par_worker (void *arg)
{
  struct par *w = arg;
  char *a = malloc (1 << 20), *b = malloc (1 << 20);

  for (uint64_t pos = w->off; pos < w->off + w->len && a && b; pos += 1 << 20) {
    size_t n = w->off + w->len - pos < (1 << 20) ? w->off + w->len - pos : 1 << 20;
    if (vmi_layer_pread (w->l, a, n, pos) == -1) {
      fprintf (stderr, "ova-tool: %s\n", vmi_error_get ());
      w->failed = 1;
      break;
    }
    if (pread (w->ref, b, n, pos) != (ssize_t) n || memcmp (a, b, n)) {
      fprintf (stderr, "ova-tool: MISMATCH at %" PRIu64 "\n", pos);
      w->failed = 1;
      break;
    }
  }
  free (a);
  free (b);
  return NULL;
}

static int
cmd_parallel (struct vmi_layer *l, int threads, uint64_t bytes, const char *ref)
{
  pthread_t t[64];
  struct par w[64];
  int fd = open (ref, O_RDONLY), failed = 0;

  if (fd == -1 || threads < 1 || threads > 64
      || (uint64_t) threads * bytes > l->size) {
    fprintf (stderr, "ova-tool: bad parallel arguments\n");
    return 2;
  }
  for (int i = 0; i < threads; i++) {
    w[i] = (struct par){ l, (uint64_t) i * bytes, bytes, fd, 0 };
    pthread_create (&t[i], NULL, par_worker, &w[i]);
  }
  for (int i = 0; i < threads; i++) {
    pthread_join (t[i], NULL);
    failed |= w[i].failed;
  }
  close (fd);
  return failed;
}

static int
same_as_ref (struct vmi_layer *l, int fd, char *a, char *b, size_t n,
             uint64_t pos)
{
  if (vmi_layer_pread (l, a, n, pos) == -1)
    return fail ();
  if (pread (fd, b, n, pos) != (ssize_t) n || memcmp (a, b, n)) {
    fprintf (stderr, "ova-tool: MISMATCH at %" PRIu64 " (+%zu)\n", pos, n);
    return 1;
  }
  return 0;
}

static int
cmd_gzip (const struct vmi_source_opts *o, const char *src, const char *ref,
          long reads)
{
  struct vmi_layer *f = !strncmp (src, "http", 4) ? vmi_http_open (src, o)
                                                  : vmi_file_open (src);
  const char *iv = getenv ("VMI_GZIP_INTERVAL"), *mp = getenv ("VMI_GZIP_POINTS");
  struct vmi_layer *l = f == NULL ? NULL
                        : iv || mp ? vmi_gzip_open_tuned (f, iv ? strtoull (iv, NULL, 0) : 4 << 20,
                                                          mp ? strtoull (mp, NULL, 0) : 256)
                        : vmi_gzip_open (f);
  struct vmi_gzip_stats s0, s1;
  int fd = open (ref, O_RDONLY), r = 1;
  char *a = malloc (1 << 20), *b = malloc (1 << 20);
  unsigned seed = 42;

  if (l == NULL || fd == -1 || a == NULL || b == NULL) {
    r = l ? 2 : fail ();
    goto out;
  }
  for (uint64_t pos = 0; pos < l->size; pos += 1 << 20)
    if (same_as_ref (l, fd, a, b, l->size - pos < (1 << 20)
                     ? l->size - pos : 1 << 20, pos))
      goto out;
  vmi_gzip_stats (l, &s0);
  for (long i = 0; i < reads; i++) {
    uint64_t pos = ((uint64_t) rand_r (&seed) << 31 | rand_r (&seed)) % l->size;
    size_t n = 1 + rand_r (&seed) % (64 << 10);
    if (n > l->size - pos)
      n = l->size - pos;
    if (same_as_ref (l, fd, a, b, n, pos))
      goto out;
  }
  vmi_gzip_stats (l, &s1);
  printf ("reads %ld inflated %" PRIu64 " read %" PRIu64 " restarts %" PRIu64
          " interval %" PRIu64 " points %zu size %" PRIu64 "\n", reads,
          s1.inflated - s0.inflated, s1.read - s0.read,
          s1.restarts - s0.restarts, s1.interval, s1.points, l->size);
  r = 0;
 out:
  if (fd != -1)
    close (fd);
  free (a);
  free (b);
  vmi_layer_close (l);
  return r;
}

int
main (int argc, char **argv)
{
  struct vmi_source_opts o;
  struct vmi_provider *p = NULL;
  const char *disk = getenv ("VMI_DISK");
  int r = 2;

  vmi_log_set_program ("ova-tool");
  if (getenv ("VMI_VERBOSE"))
    vmi_log_set_level (VMI_LOG_INFO);
  if (argc < 3) {
    fprintf (stderr, "usage: ova-tool verify|head|yaml|yaml-vmjson|yaml-cat|"
             "tar|ovf|manifest ARGS\n");
    return 2;
  }
  opts_from_env (&o);
  if (!strcmp (argv[1], "verify")) {
    r = vmi_ova_verify (argv[2], &o, stdout) == 0 ? 0 : fail ();
  }
  else if (!strcmp (argv[1], "head") && argc == 5) {
    struct vmi_layer *l;
    if ((p = vmi_provider_open (argv[2], &o)) == NULL
        || (l = vmi_provider_open_disk (p, 0, disk ? atoi (disk) : 0)) == NULL)
      r = fail ();
    else {
      r = write_layer (l, strtoull (argv[3], NULL, 0), argv[4]);
      vmi_layer_close (l);
    }
  }
  else if (!strcmp (argv[1], "gzip") && argc == 5)
    r = cmd_gzip (&o, argv[2], argv[3], atol (argv[4]));
  else if (!strcmp (argv[1], "parallel") && argc == 6) {
    struct vmi_layer *l;
    if ((p = vmi_provider_open (argv[2], &o)) == NULL
        || (l = vmi_provider_open_disk (p, 0, disk ? atoi (disk) : 0)) == NULL)
      r = fail ();
    else {
      r = cmd_parallel (l, atoi (argv[3]), strtoull (argv[4], NULL, 0), argv[5]);
      vmi_layer_close (l);
    }
  }
  else if (!strcmp (argv[1], "yaml")) {
    size_t len;
    char *text = slurp (argv[2], &len);
    struct vmi_source_spec s;
    if (vmi_source_yaml_parse (text, len, argv[2], &s) == -1)
      r = fail ();
    else {
      printf ("kind=%s\nname=%s\nurl=%s\nusername=%s\npassword=%s\n"
              "ca=%s\ntimeout=%ld\n", s.kind, s.name ? s.name : "",
              s.url ? s.url : "", s.opts.username ? s.opts.username : "",
              s.opts.password ? "set" : "unset",
              s.opts.ca_cert_pem ? "set" : "unset", s.opts.timeout_seconds);
      vmi_source_spec_clear (&s);
      r = 0;
    }
    free (text);
  }
  else if (!strcmp (argv[1], "yaml-vmjson")) {
    p = vmi_provider_open_yaml (argv[2], &o);
    r = p ? print_vms (p) : fail ();
  }
  else if (!strcmp (argv[1], "yaml-cat") && argc == 4) {
    struct vmi_layer *l;
    if ((p = vmi_provider_open_yaml (argv[2], &o)) == NULL
        || (l = vmi_provider_open_disk (p, 0, disk ? atoi (disk) : 0)) == NULL)
      r = fail ();
    else {
      r = write_layer (l, UINT64_MAX, argv[3]);
      vmi_layer_close (l);
    }
  }
  else if (!strcmp (argv[1], "tar") && argc == 5) {
    size_t len;
    char *data = slurp (argv[2], &len);
    struct vmi_layer *a = vmi_memory_open (data, len, argv[2]), *m;
    m = a ? vmi_tar_open_member (a, argv[3]) : NULL;
    r = m ? write_layer (m, UINT64_MAX, argv[4]) : fail ();
    vmi_layer_close (m);
    vmi_layer_close (a);
    free (data);
  }
  else if (!strcmp (argv[1], "ovf")) {
    size_t len;
    char *text = slurp (argv[2], &len);
    struct vmi_vm **vms;
    size_t n;
    if (vmi_ovf_parse_all (text, len, argv[2], &vms, &n) == -1)
      r = fail ();
    else {
      for (size_t i = 0; i < n; i++) {
        char *j = vmi_vm_to_json (vms[i]);
        puts (j);
        free (j);
        vmi_vm_free (vms[i]);
      }
      free (vms);
      r = 0;
    }
    free (text);
  }
  else if (!strcmp (argv[1], "manifest")) {
    size_t len, n;
    char *text = slurp (argv[2], &len);
    struct vmi_manifest_entry *e;
    if (vmi_manifest_parse (text, len, argv[2], &e, &n) == -1)
      r = fail ();
    else {
      for (size_t i = 0; i < n; i++) {
        printf ("%s %s ", e[i].algo, e[i].file);
        for (size_t k = 0; k < e[i].digest_len; k++)
          printf ("%02x", e[i].digest[k]);
        printf ("\n");
      }
      vmi_manifest_free (e, n);
      r = 0;
    }
    free (text);
  }
  else
    fprintf (stderr, "ova-tool: bad command\n");
  vmi_provider_close (p);
  vmi_source_opts_clear (&o);
  return r;
}
