/* vmimport copy SRC DST: a sparse, parallel copy of a disk's raw view into
 * a file or a block device.
 *
 * The disk is cut into units of UNIT bytes.  Workers (--jobs) take the next
 * unit, ask the source which parts of it hold data, read only those, and
 * write them at the same offsets: writes need not be ordered, and several
 * reads in flight hide a remote source's latency.  Memory: one UNIT buffer
 * per worker.  Holes stay holes on a file (all-zero blocks are not written
 * either); on a block device they are zeroed with BLKZEROOUT unless
 * --target-is-zero.  Data goes around the page cache where DST allows
 * (see target.c).  A unit done is marked in the resume state, written
 * beside DST every STATE_INTERVAL seconds after DST was synced. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "vmimport/error.h"
#include "vmimport/formats.h"
#include "cli.h"
#include "convert.h"
#include "target.h"

#define UNIT (UINT64_C (4) << 20)
#define ZERO_BLOCK 65536      /* granularity of skipping zeros on a file */
#define MAX_JOBS 64
/* A remote source gets at least this many workers: one range request in
 * flight each, and the HTTP transport keeps 8 connections (16 on a wide
 * link, where it fetches a worker's large read in two parts at once).  Over
 * a link of 40 MB/s per connection and 50 ms of round trip, 4 workers (2
 * cores x 2) copied the benchmark's quick OVA in 1.64 s, 8 in 1.05 s, 16 in
 * 1.04 s (docs/performance.md, round seven).  16 workers cost 8 more
 * buffers (the quick OVA from loopback: 149 MiB peak, against 114); the
 * split reads cost nothing (ninth round). */
#define REMOTE_JOBS 8
/* Seconds between saves of the resume state.  Each save syncs DST first,
 * which makes the copy wait for the disk: often enough that a crash costs
 * little, seldom enough that a fast copy is not held to the disk's pace. */
#define STATE_INTERVAL 5

enum {
  OPT_JOBS = OPT_FIRST_COMMAND_OPTION,
  OPT_TARGET_IS_ZERO,
  OPT_VERIFY,
  OPT_FORCE,
  OPT_RESUME,
  OPT_QUIET,
  OPT_PROGRESS,
  OPT_STATE_FILE,
  OPT_FSYNC,
  OPT_BUFFERED,
  OPT_CONVERT,
  OPT_VIRTIO_WIN,
};

struct copy {
  struct vmi_layer *src;        /* counting layer over the disk */
  struct target *dst;
  struct resume_state *state;
  struct progress *prog;
  uint64_t vsize, nunits;
  bool zero_holes;              /* block device not known to be zero */
  bool verify;
  unsigned char (*digest)[32];  /* per unit: SHA-256 of its data, as read */
  uint8_t *has_digest;

  pthread_mutex_t lock;
  pthread_cond_t cond;
  uint64_t next;                /* next unit to hand out */
  int running;                  /* workers still going */
  int failed;                   /* first failure wins */
  int fail_code;
  char fail_msg[2300];
};

static volatile sig_atomic_t stop_signal;

static void
on_signal (int sig)
{
  stop_signal = sig;
}

static void
usage (FILE *f)
{
  fprintf (f,
           "Usage: vmimport copy [OPTIONS] SRC DST\n"
           "       vmimport copy [OPTIONS] SOURCE --vm NAME --disk N DST\n"
           "Copy a disk's raw view into DST (a file or a block device), reading\n"
           "only the allocated parts of the source.  SRC is a disk-N.img in a\n"
           "vmimportfs mount, a raw/VMDK/QCOW2 image, or any SOURCE with\n"
           "--vm/--disk (or --source-file FILE.yaml --vm --disk DST).\n\n"
           "  --vm NAME           the VM (when the source holds several)\n"
           "  --disk N            the disk (when the VM has several)\n"
           "  --jobs N            extents in flight at once (default: cores x 2,\n"
           "                      at least 8 for a remote source; memory: N x 4 MiB)\n"
           "  --target-is-zero    DST already reads as zeros (a new volume):\n"
           "                      do not zero its unallocated ranges\n"
           "  --verify            read DST back, compare a SHA-256 of every\n"
           "                      allocated range, print the image's SHA-256\n"
           "  --force             overwrite a non-empty file or a mounted device,\n"
           "                      skip the free-space check (never a file the\n"
           "                      source reads)\n"
           "  --buffered          write through the page cache (default: around\n"
           "                      it, O_DIRECT, where DST allows)\n"
           "  --fsync             flush a file DST to stable storage before\n"
           "                      reporting done, as a block device always is\n"
           "  --resume            continue a copy that stopped (state beside DST;\n"
           "                      without one, a fresh copy)\n"
           "  --state-file FILE   where the resume state is kept (default:\n"
           "                      DST.vmimport-state; for a device\n"
           "                      /var/tmp/vmimport-copy_dev_NAME.state)\n"
           "  --convert           then make the guest boot on virtio with\n"
           "                      virt-v2v-in-place (a one-disk VM; see\n"
           "                      vmimport convert)\n"
           "  --virtio-win PATH   with --convert: virtio-win drivers (Windows)\n"
           "  --quiet             no progress\n"
           "  --progress=bar|json|none  progress style (default: a bar on a\n"
           "                      terminal, else one JSON line per second)\n\n"
           CLI_COMMON_HELP
           "\nExit: 0 done, 1 source error (or verify found a difference in\n"
           "what was read), 2 usage, 3 destination error.\n");
}

/* Record the first failure (message printed later, once). */
static void
fail (struct copy *c, int code, const char *fmt, ...)
  __attribute__((format (printf, 3, 4)));
static void
fail (struct copy *c, int code, const char *fmt, ...)
{
  va_list ap;

  pthread_mutex_lock (&c->lock);
  if (!c->failed) {
    c->failed = 1;
    c->fail_code = code;
    va_start (ap, fmt);
    vsnprintf (c->fail_msg, sizeof c->fail_msg, fmt, ap);
    va_end (ap);
  }
  pthread_mutex_unlock (&c->lock);
}

static int
stopping (struct copy *c)
{
  return stop_signal || __atomic_load_n (&c->failed, __ATOMIC_RELAXED);
}

/* The next unit not yet done, or -1. */
static int64_t
take_unit (struct copy *c)
{
  int64_t k = -1;

  pthread_mutex_lock (&c->lock);
  while (!c->failed && c->next < c->nunits) {
    uint64_t i = c->next++;
    if (!resume_is_done (c->state, i)) {
      k = (int64_t) i;
      break;
    }
  }
  pthread_mutex_unlock (&c->lock);
  return stop_signal ? -1 : k;
}

static uint64_t
unit_len (const struct copy *c, uint64_t k)
{
  uint64_t off = k * UNIT;

  return c->vsize - off < UNIT ? c->vsize - off : UNIT;
}

static int
all_zero (const char *p, size_t n)
{
  /* Compare with itself shifted: memcmp is fast, and the first byte
   * anchors the rest. */
  return n == 0 || (p[0] == 0 && memcmp (p, p + 1, n - 1) == 0);
}

/* Write data to a file, leaving zero blocks as holes (the file was made of
 * holes).  A device gets every byte. */
static int
write_data (struct copy *c, const char *buf, size_t len, uint64_t off)
{
  size_t i = 0;

  if (c->dst->is_blk)
    return target_write (c->dst, buf, len, off);
  while (i < len) {
    /* Pieces end on ZERO_BLOCK boundaries of the disk. */
    size_t n = ZERO_BLOCK - (off + i) % ZERO_BLOCK, run;
    if (n > len - i)
      n = len - i;
    if (all_zero (buf + i, n)) {
      i += n;
      continue;
    }
    for (run = n; i + run < len; run += n) {
      n = len - i - run < ZERO_BLOCK ? len - i - run : ZERO_BLOCK;
      if (all_zero (buf + i + run, n))
        break;
    }
    if (target_write (c->dst, buf + i, run, off + i) == -1)
      return -1;
    i += run;
  }
  return 0;
}

static void
copy_unit (struct copy *c, uint64_t k, char *buf, struct vmi_extents *seg,
           EVP_MD_CTX *md)
{
  uint64_t start = k * UNIT, len = unit_len (c, k), handled = 0;
  size_t i;

  if (vmi_layer_extents (c->src, start, len, seg) == -1) {
    fail (c, EXIT_SOURCE, "reading the allocation map at offset %" PRIu64
          ": %s", start, vmi_error_get ());
    return;
  }
  if (c->verify)
    EVP_DigestInit_ex (md, EVP_sha256 (), NULL);
  for (i = 0; i < seg->n && !stopping (c); i++) {
    const struct vmi_extent *x = &seg->v[i];
    if (x->type == VMI_EXTENT_DATA) {
      /* Placed so that the buffer lines up with the disk: the aligned part
       * of an extent that starts off a 4 KiB boundary can go direct. */
      char *p = buf + x->offset % DIRECT_ALIGN;
      if (vmi_layer_pread (c->src, p, x->length, x->offset) == -1) {
        fail (c, EXIT_SOURCE, "source read error at offset %" PRIu64
              " (%" PRIu64 " bytes): %s", x->offset, x->length,
              vmi_error_get ());
        return;
      }
      if (c->verify)
        EVP_DigestUpdate (md, p, x->length);
      if (write_data (c, p, x->length, x->offset) == -1) {
        fail (c, EXIT_DEST, "%s: write error at offset %" PRIu64 ": %s",
              c->dst->path, x->offset, strerror (errno));
        return;
      }
      handled += x->length;
    }
    else if (c->zero_holes) {
      if (target_zero (c->dst, x->offset, x->length) == -1) {
        fail (c, EXIT_DEST, "%s: zeroing %" PRIu64 " bytes at offset %"
              PRIu64 ": %s", c->dst->path, x->length, x->offset,
              strerror (errno));
        return;
      }
      handled += x->length;
    }
  }
  if (i < seg->n)   /* stopped part way: the unit is not done */
    return;
  if (c->verify) {
    EVP_DigestFinal_ex (md, c->digest[k], NULL);
    c->has_digest[k] = 1;
  }
  progress_add (c->prog, handled);
  resume_mark (c->state, k);
}

static void *
worker (void *arg)
{
  struct copy *c = arg;
  char *buf = NULL;
  struct vmi_extents seg = { 0 };
  EVP_MD_CTX *md = EVP_MD_CTX_new ();
  int64_t k;

  /* Aligned, so that the target can write it directly; one block more, for
   * extents that start off a block boundary. */
  if (posix_memalign ((void **) &buf, DIRECT_ALIGN, UNIT + DIRECT_ALIGN) != 0)
    buf = NULL;
  if (buf == NULL || md == NULL)
    fail (c, EXIT_SOURCE, "out of memory");
  else
    while ((k = take_unit (c)) != -1)
      copy_unit (c, (uint64_t) k, buf, &seg, md);
  free (buf);
  vmi_extents_free (&seg);
  EVP_MD_CTX_free (md);
  pthread_mutex_lock (&c->lock);
  c->running--;
  pthread_cond_signal (&c->cond);
  pthread_mutex_unlock (&c->lock);
  return NULL;
}

/* Bytes the copy handles in all (TOTAL), in the units already done by an
 * earlier run (DONE), and the space it still needs on a file DST (NEED):
 * the data of the units not done, less what DST already holds there
 * (written before a resumed copy stopped). */
static int
count_work (struct copy *c, uint64_t *total, uint64_t *done, uint64_t *need)
{
  struct vmi_extents e = { 0 };
  int64_t data = vmi_layer_allocated (c->src);
  bool resumed = false;

  *done = *need = 0;
  if (data < 0)
    return -1;
  *total = c->zero_holes ? c->vsize : (uint64_t) data;
  for (uint64_t k = 0; k < c->nunits && !resumed; k++)
    resumed = resume_is_done (c->state, k);
  if (!resumed && (c->dst->is_blk || c->dst->size == 0)) {
    *need = c->zero_holes ? 0 : *total;
    return 0;
  }
  for (uint64_t k = 0; k < c->nunits; k++) {
    uint64_t d = 0, have;
    if (vmi_layer_extents (c->src, k * UNIT, unit_len (c, k), &e) == -1) {
      vmi_extents_free (&e);
      return -1;
    }
    for (size_t i = 0; i < e.n; i++)
      if (e.v[i].type == VMI_EXTENT_DATA)
        d += e.v[i].length;
    if (resume_is_done (c->state, k)) {
      *done += c->zero_holes ? unit_len (c, k) : d;
      continue;
    }
    have = c->dst->is_blk ? d : target_allocated (c->dst, k * UNIT,
                                                  unit_len (c, k));
    *need += d > have ? d - have : 0;
  }
  vmi_extents_free (&e);
  return 0;
}

static double
now (void)
{
  struct timespec ts;

  clock_gettime (CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Run the workers; tick the progress and save the resume state while they
 * work. */
static void
run (struct copy *c, int jobs, bool save_state)
{
  pthread_t t[MAX_JOBS];
  double last_save = now (), last_tick = now ();
  int started = 0;

  c->running = jobs;
  for (int i = 0; i < jobs; i++)
    if (pthread_create (&t[i], NULL, worker, c) == 0)
      started++;
  pthread_mutex_lock (&c->lock);
  c->running -= jobs - started;
  if (started == 0 && !c->failed) {
    c->failed = 1;
    c->fail_code = EXIT_SOURCE;
    snprintf (c->fail_msg, sizeof c->fail_msg, "cannot start threads");
  }
  while (c->running > 0) {
    struct timespec ts;
    double wake = last_tick + progress_interval (c->prog);
    clock_gettime (CLOCK_REALTIME, &ts);
    double d = wake - now ();
    if (d > 0) {
      ts.tv_sec += (time_t) d;
      ts.tv_nsec += (long) ((d - (time_t) d) * 1e9);
      if (ts.tv_nsec >= 1000000000) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000;
      }
      pthread_cond_timedwait (&c->cond, &c->lock, &ts);
    }
    if (c->running == 0)
      break;
    pthread_mutex_unlock (&c->lock);
    if (now () >= wake) {
      progress_tick (c->prog);
      last_tick = now ();
    }
    if (save_state && now () - last_save >= STATE_INTERVAL) {
      if (resume_save (c->state, c->dst) == -1)
        vmi_log (VMI_LOG_WARN, "cannot save the copy state: %s",
                 vmi_error_get ());
      last_save = now ();
    }
    pthread_mutex_lock (&c->lock);
  }
  pthread_mutex_unlock (&c->lock);
  for (int i = 0; i < started; i++)
    pthread_join (t[i], NULL);
}

static void
hex (char *out, const unsigned char *d, size_t n)
{
  for (size_t i = 0; i < n; i++)
    sprintf (out + 2 * i, "%02x", d[i]);
}

/* Read DST back: every allocated range must hash as the source did.  Also
 * the SHA-256 of the whole raw image (holes hashed as zeros, not read). */
static int
verify (struct copy *c, char *sha_hex)
{
  static const char zeros[65536];
  char *buf = malloc (UNIT);
  struct vmi_extents seg = { 0 };
  EVP_MD_CTX *whole = EVP_MD_CTX_new (), *md = EVP_MD_CTX_new ();
  unsigned char d[32], w[32];
  int r = EXIT_DEST;

  if (buf == NULL || whole == NULL || md == NULL) {
    fprintf (stderr, "vmimport copy: --verify: out of memory\n");
    goto out;
  }
  /* Read what is on the destination, not what is cached. */
  posix_fadvise (c->dst->fd, 0, 0, POSIX_FADV_DONTNEED);
  EVP_DigestInit_ex (whole, EVP_sha256 (), NULL);
  for (uint64_t k = 0; k < c->nunits; k++) {
    uint64_t start = k * UNIT;
    if (vmi_layer_extents (c->src, start, unit_len (c, k), &seg) == -1) {
      fprintf (stderr, "vmimport copy: --verify: %s\n", vmi_error_get ());
      r = EXIT_SOURCE;
      goto out;
    }
    if (!c->has_digest[k]) {   /* copied by an earlier run: ask the source */
      EVP_DigestInit_ex (md, EVP_sha256 (), NULL);
      for (size_t i = 0; i < seg.n; i++) {
        const struct vmi_extent *x = &seg.v[i];
        if (x->type != VMI_EXTENT_DATA)
          continue;
        if (vmi_layer_pread (c->src, buf, x->length, x->offset) == -1) {
          fprintf (stderr, "vmimport copy: --verify: source read error at "
                   "offset %" PRIu64 ": %s\n", x->offset, vmi_error_get ());
          r = EXIT_SOURCE;
          goto out;
        }
        EVP_DigestUpdate (md, buf, x->length);
      }
      EVP_DigestFinal_ex (md, c->digest[k], NULL);
    }
    EVP_DigestInit_ex (md, EVP_sha256 (), NULL);
    for (size_t i = 0; i < seg.n; i++) {
      const struct vmi_extent *x = &seg.v[i];
      if (x->type != VMI_EXTENT_DATA) {
        for (uint64_t n = 0; n < x->length; n += sizeof zeros)
          EVP_DigestUpdate (whole, zeros, x->length - n < sizeof zeros
                                          ? x->length - n : sizeof zeros);
        continue;
      }
      if (target_read (c->dst, buf, x->length, x->offset) == -1) {
        fprintf (stderr, "vmimport copy: --verify: %s: read error at offset %"
                 PRIu64 ": %s\n", c->dst->path, x->offset, strerror (errno));
        goto out;
      }
      EVP_DigestUpdate (md, buf, x->length);
      EVP_DigestUpdate (whole, buf, x->length);
    }
    EVP_DigestFinal_ex (md, d, NULL);
    if (memcmp (d, c->digest[k], 32) != 0) {
      fprintf (stderr, "vmimport copy: --verify: %s differs from the source "
               "in bytes %" PRIu64 "..%" PRIu64 "\n", c->dst->path, start,
               start + unit_len (c, k) - 1);
      goto out;
    }
  }
  EVP_DigestFinal_ex (whole, w, NULL);
  hex (sha_hex, w, 32);
  r = EXIT_DONE;
 out:
  free (buf);
  vmi_extents_free (&seg);
  EVP_MD_CTX_free (whole);
  EVP_MD_CTX_free (md);
  return r;
}

static int
parse (int argc, char **argv, struct cli_common *c, struct copy_args *a)
{
  static const struct option longopts[] = {
    CLI_COMMON_OPTIONS,
    { "vm", required_argument, NULL, OPT_VM },
    { "disk", required_argument, NULL, OPT_DISK },
    { "jobs", required_argument, NULL, OPT_JOBS },
    { "target-is-zero", no_argument, NULL, OPT_TARGET_IS_ZERO },
    { "verify", no_argument, NULL, OPT_VERIFY },
    { "force", no_argument, NULL, OPT_FORCE },
    { "resume", no_argument, NULL, OPT_RESUME },
    { "quiet", no_argument, NULL, OPT_QUIET },
    { "progress", required_argument, NULL, OPT_PROGRESS },
    { "state-file", required_argument, NULL, OPT_STATE_FILE },
    { "fsync", no_argument, NULL, OPT_FSYNC },
    { "buffered", no_argument, NULL, OPT_BUFFERED },
    { "convert", no_argument, NULL, OPT_CONVERT },
    { "virtio-win", required_argument, NULL, OPT_VIRTIO_WIN },
    { 0 }
  };
  int opt, r;
  char *end;

  a->jobs = 0;                  /* default_jobs () once SRC is known */
  while ((opt = getopt_long (argc, argv, "vhqj:", longopts, NULL)) != -1) {
    switch (opt) {
    case 'h':
      usage (stdout);
      return EXIT_DONE;
    case 'j':
    case OPT_JOBS:
      a->jobs = (int) strtol (optarg, &end, 10);
      if (*end || end == optarg || a->jobs < 1 || a->jobs > MAX_JOBS) {
        fprintf (stderr, "vmimport copy: --jobs: give 1..%d\n", MAX_JOBS);
        return EXIT_USAGE;
      }
      break;
    case OPT_TARGET_IS_ZERO: a->target_is_zero = true; break;
    case OPT_VERIFY: a->verify = true; break;
    case OPT_FORCE: a->force = true; break;
    case OPT_FSYNC: a->fsync = true; break;
    case OPT_BUFFERED: a->buffered = true; break;
    case OPT_CONVERT: a->convert = true; break;
    case OPT_VIRTIO_WIN: a->virtio_win = optarg; break;
    case OPT_RESUME: a->resume = true; break;
    case 'q':
    case OPT_QUIET: a->quiet = true; break;
    case OPT_STATE_FILE: a->state_file = optarg; break;
    case OPT_PROGRESS:
      if (strcmp (optarg, "bar") && strcmp (optarg, "json")
          && strcmp (optarg, "none")) {
        fprintf (stderr, "vmimport copy: --progress: bar, json or none\n");
        return EXIT_USAGE;
      }
      a->progress = optarg;
      break;
    default:
      r = cli_common_option (c, opt, optarg);
      if (r != 1) {
        if (r == 0)
          usage (stderr);
        return EXIT_USAGE;
      }
    }
  }
  if (argc - optind != (c->source_file ? 1 : 2)) {
    fprintf (stderr, "vmimport copy: give SRC and DST (or --source-file FILE "
             "--vm NAME --disk N and DST); see vmimport copy --help\n");
    return EXIT_USAGE;
  }
  return cli_common_finish (c) == -1 ? EXIT_USAGE : -1;
}

/* Cores x 2; a remote source (a URL, or a --source-file's) at least
 * REMOTE_JOBS, since there latency and per-connection caps, not the CPU,
 * set the pace. */
int
copy_default_jobs (const char *src_arg)
{
  long n = sysconf (_SC_NPROCESSORS_ONLN);
  int jobs = n > 0 ? (int) (2 * n) : 4;

  if (jobs > MAX_JOBS)
    jobs = MAX_JOBS;
  if ((src_arg == NULL || strstr (src_arg, "://")) && jobs < REMOTE_JOBS)
    jobs = REMOTE_JOBS;
  return jobs;
}

static enum progress_mode
progress_mode (const struct copy_args *a)
{
  if (a->quiet)
    return PROGRESS_NONE;
  if (a->progress)
    return !strcmp (a->progress, "bar") ? PROGRESS_BAR
           : !strcmp (a->progress, "json") ? PROGRESS_JSON : PROGRESS_NONE;
  return isatty (STDOUT_FILENO) ? PROGRESS_BAR : PROGRESS_JSON;
}

static int
check_space (struct target *t, uint64_t need)
{
  struct statvfs sv;
  char a[32], b[32];

  if (t->is_blk || fstatvfs (t->fd, &sv) == -1)
    return 0;
  if ((uint64_t) sv.f_bavail * sv.f_frsize >= need)
    return 0;
  cli_format_size (a, sizeof a, (double) need);
  cli_format_size (b, sizeof b, (double) sv.f_bavail * sv.f_frsize);
  fprintf (stderr, "vmimport copy: %s: not enough free space: the copy still "
           "has %s to write, the filesystem has %s free; nothing was written "
           "(--force to try anyway)\n", t->path, a, b);
  return -1;
}

static bool
same_file (const char *a, const char *b)
{
  struct stat sa, sb;

  return stat (a, &sa) == 0 && stat (b, &sb) == 0
         && ((sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino)
             || (S_ISBLK (sa.st_mode) && sa.st_rdev == sb.st_rdev));
}

/* DST must not be a file the source reads: a backing file, an extent, the
 * archive, or the file behind a loop device; nor one that another program
 * reads or writes under a lock, as qemu does (a vmimportfs mount, qemu, a
 * second copy).  --force does not change that: it would destroy the
 * source. */
static int
check_not_source (struct target *t)
{
  char name[1024];

  if (vmi_file_is_open (t->fd, name, sizeof name)) {
    fprintf (stderr, "vmimport copy: %s: the source reads it (as %s); "
             "refusing to overwrite a file of the source, even with "
             "--force\n", t->path, name);
    return EXIT_USAGE;
  }
  if (vmi_file_lock_writer (t->fd) == -1) {
    fprintf (stderr, "vmimport copy: %s: another program holds it open under "
             "a lock (a vmimportfs mount reading it, qemu, another vmimport "
             "copy); refusing to write it, even with --force\n", t->path);
    return EXIT_DEST;
  }
  return 0;
}

/* The previous handlers of SIGINT and SIGTERM, restored when a copy ends
 * (vmimport import goes on after it). */
struct saved_signals {
  struct sigaction intr, term, pipe;
};

static void
catch_signals (struct saved_signals *s)
{
  struct sigaction sa = { .sa_handler = on_signal };

  sigemptyset (&sa.sa_mask);
  sigaction (SIGINT, &sa, &s->intr);
  sigaction (SIGTERM, &sa, &s->term);
  sa.sa_handler = SIG_IGN;
  sigaction (SIGPIPE, &sa, &s->pipe);
}

static void
restore_signals (const struct saved_signals *s)
{
  sigaction (SIGINT, &s->intr, NULL);
  sigaction (SIGTERM, &s->term, NULL);
  sigaction (SIGPIPE, &s->pipe, NULL);
}

int
copy_stop_signal (void)
{
  return stop_signal;
}

int
copy_disk (struct vmi_provider *p, size_t vmi, size_t di, const char *source,
           const struct copy_args *args, const char *dst_arg, FILE *out)
{
  struct copy_args a = *args;
  struct copy c = { 0 };
  struct target dst = { .fd = -1 };
  struct vmi_layer *disk = NULL;
  struct saved_signals saved;
  char *state_path = NULL, *identity = NULL, extra[256], sha[65];
  uint64_t total = 0, done = 0, need = 0;
  bool save_state = true, keep_dst = false, caught = false;
  int rc, r = 0;

  pthread_mutex_init (&c.lock, NULL);
  pthread_cond_init (&c.cond, NULL);
  rc = EXIT_SOURCE;
  if ((disk = vmi_provider_open_disk (p, vmi, di)) == NULL
      || (disk = c.src = cli_counting_open (disk)) == NULL) {
    cli_print_error (NULL);
    goto out;
  }
  c.vsize = disk->size;
  c.nunits = (c.vsize + UNIT - 1) / UNIT;
  c.verify = a.verify;

  if ((rc = target_open (&dst, dst_arg, c.vsize, a.force, a.resume)) != 0
      || (rc = check_not_source (&dst)) != 0)
    goto out;
  c.dst = &dst;
  c.zero_holes = dst.is_blk && !a.target_is_zero;
  rc = EXIT_USAGE;
  if (asprintf (&identity, "%s vm=%s disk=%zu", source, p->vms[vmi]->name,
                di) == -1
      || (state_path = a.state_file ? strdup (a.state_file)
                                    : resume_default_path (&dst)) == NULL
      || (c.state = resume_new (state_path, identity, c.vsize, UNIT)) == NULL) {
    fprintf (stderr, "vmimport copy: out of memory\n");
    goto out;
  }
  if (a.resume && (r = resume_load (c.state)) == -1) {
    cli_print_error ("copy --resume");
    goto out;
  }
  if (a.resume && r == 1) {   /* as rsync --partial: nothing kept, start */
    fprintf (stderr, "vmimport copy: no copy state at %s: starting a fresh "
             "copy\n", state_path);
    a.resume = false;
  }
  rc = EXIT_SOURCE;
  if (count_work (&c, &total, &done, &need) == -1) {
    cli_print_error (NULL);
    goto out;
  }
  rc = EXIT_DEST;
  if ((!a.force && check_space (&dst, need) == -1)
      || target_prepare (&dst, c.vsize, a.resume) == -1)
    goto out;
  keep_dst = true;
  if (!a.buffered)
    target_use_direct (&dst);
  if (resume_save (c.state, &dst) == -1) {
    vmi_log (VMI_LOG_WARN, "cannot keep a copy state (%s): --resume will not "
             "be possible", vmi_error_get ());
    save_state = false;
  }
  if (c.verify
      && ((c.digest = calloc (c.nunits + 1, 32)) == NULL
          || (c.has_digest = calloc (c.nunits + 1, 1)) == NULL)) {
    fprintf (stderr, "vmimport copy: out of memory\n");
    goto out;
  }
  if ((c.prog = progress_new (progress_mode (&a), out, total, done)) == NULL) {
    fprintf (stderr, "vmimport copy: out of memory\n");
    goto out;
  }

  catch_signals (&saved);
  caught = true;
  run (&c, a.jobs, save_state);

  if (c.failed || stop_signal) {
    if (save_state && resume_save (c.state, &dst) == -1) {
      fprintf (stderr, "vmimport copy: cannot save the copy state: %s\n",
               vmi_error_get ());
      save_state = false;
    }
    progress_finish (c.prog, c.failed ? "failed" : "interrupted", NULL);
    if (c.failed)
      fprintf (stderr, "vmimport copy: %s\n", c.fail_msg);
    else
      fprintf (stderr, "vmimport copy: stopped by signal %d\n",
               (int) stop_signal);
    if (save_state && a.hint_resume)
      fprintf (stderr, "vmimport copy: what was copied is kept; run the same "
               "command with --resume to continue (state: %s)\n", state_path);
    rc = c.failed ? c.fail_code : EXIT_SOURCE;
    goto out;
  }
  /* --verify reads DST back from the device, so it flushes first. */
  if ((dst.is_blk || a.fsync || a.verify) && target_sync (&dst) == -1) {
    fprintf (stderr, "vmimport copy: %s: sync: %s\n", dst.path,
             strerror (errno));
    rc = EXIT_DEST;
    goto out;
  }
  snprintf (extra, sizeof extra, "\"read\": %" PRIu64 ", \"reads\": %" PRIu64
            ", \"virtual_size\": %" PRIu64, cli_counting_bytes (c.src),
            cli_counting_reads (c.src), c.vsize);
  progress_finish (c.prog, "done", extra);
  if (c.verify) {
    rc = verify (&c, sha);
    if (rc != EXIT_DONE)
      goto out;
    if (progress_mode (&a) == PROGRESS_JSON)
      fprintf (out, "{\"verified\": true, \"sha256\": \"%s\"}\n", sha);
    else
      fprintf (out, "%s  %s\n", sha, dst.path);
  }
  resume_remove (c.state);
  rc = EXIT_DONE;
  if (a.convert) {
    struct domain_disk dd = { .path = dst.path, .format = "raw" };
    struct convert_opts co = {
      .virtio_win = a.virtio_win,
      .quiet = progress_mode (&a) == PROGRESS_NONE,
      .json = progress_mode (&a) == PROGRESS_JSON,
    };
    fflush (out);
    rc = convert_guest (p->vms[vmi], &dd, &co);
  }
 out:
  fflush (out);
  if (caught)
    restore_signals (&saved);
  if (dst.path)
    target_close (&dst, !keep_dst);
  resume_free (c.state);
  progress_free (c.prog);
  free (c.digest);
  free (c.has_digest);
  free (state_path);
  free (identity);
  vmi_layer_close (disk);
  pthread_mutex_destroy (&c.lock);
  pthread_cond_destroy (&c.cond);
  return rc;
}

int
cli_copy (int argc, char **argv)
{
  struct cli_common cc;
  struct copy_args a = { 0 };
  struct vmi_provider *p = NULL;
  const char *src_arg, *dst_arg;
  size_t vmi, di;
  int rc;

  cli_common_init (&cc);
  if ((rc = parse (argc, argv, &cc, &a)) != -1)
    goto out;
  a.hint_resume = true;
  src_arg = cc.source_file ? NULL : argv[optind];
  dst_arg = argv[argc - 1];
  if (a.jobs == 0)
    a.jobs = copy_default_jobs (src_arg);

  if (src_arg && same_file (src_arg, dst_arg)) {
    fprintf (stderr, "vmimport copy: %s and %s are the same file\n", src_arg,
             dst_arg);
    rc = EXIT_USAGE;
    goto out;
  }
  /* The source first: nothing touches DST until it is known to work. */
  if ((p = cli_open_source (&cc, src_arg, &rc)) == NULL)
    goto out;
  rc = EXIT_USAGE;
  if (cli_pick_disk (&cc, p, &vmi, &di) == -1)
    goto out;
  if (a.convert && p->vms[vmi]->ndisks != 1) {
    fprintf (stderr, "vmimport copy: --convert converts a one-disk VM; VM %s "
             "has %zu disks: copy each, then run vmimport convert SOURCE "
             "--vm NAME DISK...\n", p->vms[vmi]->name, p->vms[vmi]->ndisks);
    goto out;
  }
  rc = copy_disk (p, vmi, di, src_arg ? src_arg : cc.source_file, &a, dst_arg,
                  stdout);
 out:
  fflush (stdout);
  vmi_provider_close (p);
  cli_common_clear (&cc);
  if (stop_signal) {
    signal (stop_signal, SIG_DFL);
    raise (stop_signal);
  }
  return rc;
}
