/* vmimportfs: mount a source VM as a read-only folder of raw disk images.
 *
 *   MOUNTPOINT/[<folder>/...]<vm-name>/vm.json
 *   MOUNTPOINT/[<folder>/...]<vm-name>/disk-N.img   raw view; size = virtual capacity
 *
 * Every disk is opened (metadata only) before the mount exists, so a bad
 * source fails with a message and nothing is mounted; except for providers
 * whose inventory describes the disks (lazy_disks: vCenter, OpenStack),
 * where a disk is opened when its file is first opened.  Reads go through the
 * provider's layer stack plus a bounded block cache; SEEK_DATA / SEEK_HOLE
 * follow the layer's extents and st_blocks is the allocated size, so sparse
 * copies skip holes.
 */
#define FUSE_USE_VERSION 314

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fuse.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "vmimport/error.h"
#include "vmimport/formats.h"
#include "vmimport/provider.h"
#include "vmimport/tree.h"

#define CACHE_BLOCK 65536
#define EXTENTS_CHUNK (UINT64_C (1) << 32)  /* extents asked per lseek step */

static struct {
  struct vmi_provider *provider;
  struct vmi_tree *tree;
  time_t mount_time;
  char *mountpoint;          /* realpath, for the read-ahead tuning */
  unsigned readahead_kb;
  uint64_t drop_behind;      /* bytes of streaming between drops; 0: never */
  bool single;               /* one request thread (-s) */
} fs;

/* ---- read-ahead ---------------------------------------------------------- */

/* FUSE caps the kernel's read-ahead for a mount at 128 KiB, so page-cache
 * reads arrive as 128 KiB requests.  Raising the mount's bdi read_ahead_kb
 * (root only) makes sequential readers send requests of up to 1 MiB, several
 * at once.  It must happen after the INIT handshake, which resets it: so on
 * the first open of a disk.  Best effort. */
static void
tune_readahead (void)
{
  FILE *f = fopen ("/proc/self/mountinfo", "r");
  char line[4096], path[PATH_MAX + 64];
  unsigned maj, min;

  if (f == NULL || fs.mountpoint == NULL || fs.readahead_kb == 0) {
    if (f)
      fclose (f);
    return;
  }
  while (fgets (line, sizeof line, f)) {
    char mnt[PATH_MAX], un[PATH_MAX];
    size_t j = 0;
    if (sscanf (line, "%*u %*u %u:%u %*s %4095s", &maj, &min, mnt) != 3)
      continue;
    for (size_t i = 0; mnt[i] && j + 1 < sizeof un; i++) {  /* \040 escapes */
      if (mnt[i] == '\\' && mnt[i + 1] && mnt[i + 2] && mnt[i + 3]) {
        un[j++] = (char) ((mnt[i + 1] - '0') * 64 + (mnt[i + 2] - '0') * 8
                          + (mnt[i + 3] - '0'));
        i += 3;
      }
      else
        un[j++] = mnt[i];
    }
    un[j] = '\0';
    if (strcmp (un, fs.mountpoint) == 0 && strstr (line, "vmimportfs")) {
      FILE *ra;
      snprintf (path, sizeof path, "/sys/class/bdi/%u:%u/read_ahead_kb", maj, min);
      if ((ra = fopen (path, "w")) != NULL) {
        fprintf (ra, "%u\n", fs.readahead_kb);
        fclose (ra);
        vmi_log (VMI_LOG_DEBUG, "read-ahead of %s set to %u KiB", un,
                 fs.readahead_kb);
      }
    }
  }
  fclose (f);
}

/* ---- drop-behind ------------------------------------------------------ */

/* A reader streaming through a disk (cp, dd, qemu-img convert) never reads
 * the same bytes twice, but the kernel keeps every page it read in the
 * mount's page cache: copying a disk would fill memory with a second copy
 * of it, beside the destination's.  So after each --drop-behind bytes of
 * streaming through one open file, the file's cached pages are dropped.
 * Only reads in runs of more than STREAM_RUN contiguous bytes count, so
 * random reads (a VM booting from the mount) keep their cache.  Only the
 * pages more than STREAM_KEEP behind the reader go, so that what was read
 * ahead stays.  The daemon drops them as any process would, with
 * posix_fadvise on the file in its own mount, from a thread that serves no
 * request (opening the file is a request to this daemon).  While it has
 * the file open, the mount is busy: so a reader's close (FUSE's flush)
 * waits for a drop on the reader's behalf to end, and `cp ...; fusermount3
 * -u` right after works. */
#define STREAM_WINDOW (UINT64_C (4) << 20)  /* reordered read-ahead */
#define STREAM_RUN (UINT64_C (8) << 20)
#define STREAM_KEEP (UINT64_C (16) << 20)

struct handle {
  pthread_mutex_t lock;
  uint64_t next;             /* end of the last read */
  uint64_t run;              /* bytes read in a row up to it */
  uint64_t streamed;         /* bytes read in long runs since a drop */
};

static struct {
  pthread_mutex_t lock;
  pthread_cond_t cond;
  pthread_t thread;
  bool running, stop;
  /* One request waits at most: a newer one replaces it, and the file
   * whose request was replaced drops at its next turn. */
  const struct handle *waiting;  /* whose read asked for one, or NULL */
  char path[PATH_MAX];           /* the file to drop from */
  uint64_t upto;                 /* drop its pages before this offset */
  const struct handle *busy;     /* whose drop is under way, or NULL */
  pthread_cond_t idle;           /* signalled when a drop ends */
} dropper = { .lock = PTHREAD_MUTEX_INITIALIZER,
               .cond = PTHREAD_COND_INITIALIZER,
               .idle = PTHREAD_COND_INITIALIZER };

static void
drop_pages (const char *path, uint64_t upto)
{
  char full[PATH_MAX * 2];
  int fd, e;

  snprintf (full, sizeof full, "%s%s", fs.mountpoint, path);
  /* Closed at once: an open file would keep the mount busy. */
  if ((fd = open (full, O_RDONLY | O_CLOEXEC)) == -1) {
    vmi_log (VMI_LOG_DEBUG, "%s: cannot drop cached pages: %s", full,
             strerror (errno));
    return;
  }
  e = posix_fadvise (fd, 0, (off_t) upto, POSIX_FADV_DONTNEED);
  close (fd);
  vmi_log (VMI_LOG_DEBUG, "%s: dropped the kernel's cached pages before "
           "offset %" PRIu64 "%s%s", path, upto, e ? ": " : "",
           e ? strerror (e) : "");
}

static void *
dropper_main (void *arg)
{
  char path[PATH_MAX];
  uint64_t upto;

  (void) arg;
  pthread_mutex_lock (&dropper.lock);
  for (;;) {
    while (dropper.waiting == NULL && !dropper.stop)
      pthread_cond_wait (&dropper.cond, &dropper.lock);
    if (dropper.stop)
      break;
    memcpy (path, dropper.path, sizeof path);
    upto = dropper.upto;
    dropper.busy = dropper.waiting;
    dropper.waiting = NULL;
    pthread_mutex_unlock (&dropper.lock);
    drop_pages (path, upto);
    pthread_mutex_lock (&dropper.lock);
    dropper.busy = NULL;
    pthread_cond_broadcast (&dropper.idle);
  }
  pthread_mutex_unlock (&dropper.lock);
  return NULL;
}

static void
note_read (struct handle *h, const char *path, uint64_t off, size_t size)
{
  bool drop = false;
  uint64_t upto = 0;

  pthread_mutex_lock (&h->lock);
  if (off + STREAM_WINDOW >= h->next && off <= h->next + STREAM_WINDOW)
    h->run += size;
  else
    h->run = size;
  if (h->run > STREAM_RUN)
    h->streamed += size;
  h->next = off + size;
  if (h->streamed >= fs.drop_behind && h->next > STREAM_KEEP) {
    h->streamed = 0;
    upto = h->next - STREAM_KEEP;
    drop = true;
  }
  pthread_mutex_unlock (&h->lock);
  if (!drop || fs.mountpoint == NULL)
    return;
  pthread_mutex_lock (&dropper.lock);
  if (dropper.running && strlen (path) < sizeof dropper.path) {
    strcpy (dropper.path, path);
    dropper.upto = upto;
    dropper.waiting = h;
    pthread_cond_signal (&dropper.cond);
  }
  pthread_mutex_unlock (&dropper.lock);
}

/* The reader of H is closing: forget a drop it asked for that has not
 * started, and wait for one under way.  The dropper's own open and close
 * are requests too; with one request thread (-s) this one would keep them
 * waiting, so there it does not wait. */
static void
drop_settle (const struct handle *h)
{
  pthread_mutex_lock (&dropper.lock);
  if (dropper.waiting == h)
    dropper.waiting = NULL;
  while (dropper.busy == h && !fs.single)
    pthread_cond_wait (&dropper.idle, &dropper.lock);
  pthread_mutex_unlock (&dropper.lock);
}

/* ---- FUSE operations --------------------------------------------------- */

static void *
vfs_init (struct fuse_conn_info *conn, struct fuse_config *cfg)
{
  /* The content never changes while mounted: let the kernel keep it. */
  cfg->kernel_cache = 1;
  cfg->entry_timeout = 3600;
  cfg->attr_timeout = 3600;
  cfg->negative_timeout = 3600;
  /* Read-ahead is not asked for here: the kernel takes the smaller of this
   * reply and its own 128 KiB.  tune_readahead raises it through sysfs. */
  conn->want |= FUSE_CAP_ASYNC_READ;
  if (fs.drop_behind) {
    pthread_mutex_lock (&dropper.lock);
    dropper.running = pthread_create (&dropper.thread, NULL, dropper_main,
                                      NULL) == 0;
    pthread_mutex_unlock (&dropper.lock);
  }
  return NULL;
}

static void
vfs_destroy (void *data)
{
  bool running;

  (void) data;
  pthread_mutex_lock (&dropper.lock);
  dropper.stop = true;
  running = dropper.running;
  dropper.running = false;
  pthread_cond_signal (&dropper.cond);
  pthread_mutex_unlock (&dropper.lock);
  if (running)
    pthread_join (dropper.thread, NULL);
}

static int
vfs_getattr (const char *path, struct stat *st, struct fuse_file_info *fi)
{
  struct vmi_tree_node n = vmi_tree_lookup (fs.tree, path);

  (void) fi;
  memset (st, 0, sizeof *st);
  st->st_uid = getuid ();
  st->st_gid = getgid ();
  st->st_atime = st->st_mtime = st->st_ctime = fs.mount_time;
  switch (n.kind) {
  case VMI_TREE_ROOT:
  case VMI_TREE_FOLDER:
  case VMI_TREE_VM:
    st->st_mode = S_IFDIR | 0555;
    st->st_nlink = 2;
    return 0;
  case VMI_TREE_JSON:
    st->st_mode = S_IFREG | 0444;
    st->st_nlink = 1;
    st->st_size = strlen (n.vm->json);
    st->st_blocks = (st->st_size + 511) / 512;
    return 0;
  case VMI_TREE_DISK:
    st->st_mode = S_IFREG | 0444;
    st->st_nlink = 1;
    st->st_size = n.disk->size;
    /* Not yet opened (lazy): all of it may hold data. */
    st->st_blocks = ((n.disk->allocated < 0 ? (int64_t) n.disk->size
                      : n.disk->allocated) + 511) / 512;
    st->st_blksize = CACHE_BLOCK;
    return 0;
  default:
    return -ENOENT;
  }
}

struct fill_ctx {
  void *buf;
  fuse_fill_dir_t fill;
};

static void
fill_one (void *opaque, const char *name)
{
  struct fill_ctx *c = opaque;

  c->fill (c->buf, name, NULL, 0, 0);
}

static int
vfs_readdir (const char *path, void *buf, fuse_fill_dir_t fill, off_t off,
             struct fuse_file_info *fi, enum fuse_readdir_flags flags)
{
  struct vmi_tree_node n = vmi_tree_lookup (fs.tree, path);

  (void) off;
  (void) fi;
  (void) flags;
  if (n.kind != VMI_TREE_ROOT && n.kind != VMI_TREE_FOLDER && n.kind != VMI_TREE_VM)
    return n.kind == VMI_TREE_NONE ? -ENOENT : -ENOTDIR;
  fill (buf, ".", NULL, 0, 0);
  fill (buf, "..", NULL, 0, 0);
  struct fill_ctx ctx = { buf, fill };
  vmi_tree_list (fs.tree, &n, fill_one, &ctx);
  return 0;
}

static int
vfs_open (const char *path, struct fuse_file_info *fi)
{
  struct vmi_tree_node n = vmi_tree_lookup (fs.tree, path);

  if (n.kind == VMI_TREE_NONE)
    return -ENOENT;
  if (n.kind != VMI_TREE_JSON && n.kind != VMI_TREE_DISK)
    return -EISDIR;
  if ((fi->flags & O_ACCMODE) != O_RDONLY)
    return -EROFS;
  if (n.kind == VMI_TREE_DISK && vmi_tree_disk_open (fs.tree, n.disk) == -1) {
    vmi_log (VMI_LOG_ERROR, "%s/%s: %s", n.vm->path, n.disk->name,
             vmi_error_get ());
    return errno == ENOMEM ? -ENOMEM : -EIO;
  }
  if (n.kind == VMI_TREE_DISK) {
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    struct handle *h;
    pthread_once (&once, tune_readahead);
    if (fs.drop_behind) {
      if ((h = calloc (1, sizeof *h)) == NULL)
        return -ENOMEM;
      pthread_mutex_init (&h->lock, NULL);
      fi->fh = (uintptr_t) h;
    }
  }
  fi->keep_cache = 1;
  return 0;
}

/* Every close() of a descriptor of the file (the reader waits for it). */
static int
vfs_flush (const char *path, struct fuse_file_info *fi)
{
  (void) path;
  if (fi->fh)
    drop_settle ((const struct handle *) (uintptr_t) fi->fh);
  return 0;
}

static int
vfs_release (const char *path, struct fuse_file_info *fi)
{
  struct handle *h = (struct handle *) (uintptr_t) fi->fh;

  (void) path;
  if (h) {
    drop_settle (h);            /* no pointer to it stays behind */
    pthread_mutex_destroy (&h->lock);
    free (h);
  }
  return 0;
}

static int
vfs_read (const char *path, char *buf, size_t size, off_t off,
          struct fuse_file_info *fi)
{
  struct vmi_tree_node n = vmi_tree_lookup (fs.tree, path);
  uint64_t fsize;

  if (n.kind == VMI_TREE_JSON) {
    fsize = strlen (n.vm->json);
    if ((uint64_t) off >= fsize)
      return 0;
    if (size > fsize - off)
      size = fsize - off;
    memcpy (buf, n.vm->json + off, size);
    return size;
  }
  if (n.kind != VMI_TREE_DISK || n.disk->layer == NULL)
    return n.kind == VMI_TREE_DISK ? -EIO : -ENOENT;
  fsize = n.disk->layer->size;
  if (off < 0 || (uint64_t) off >= fsize)
    return 0;
  if (size > fsize - off)
    size = fsize - off;
  vmi_log (VMI_LOG_DEBUG, "%s/%s: read %zu bytes at offset %jd", n.vm->path,
           n.disk->name, size, (intmax_t) off);
  if (vmi_layer_pread (n.disk->layer, buf, size, off) == -1) {
    int e = errno == 0 || errno == EINVAL ? EIO : errno;
    vmi_log (VMI_LOG_ERROR, "%s/%s: read of %zu bytes at offset %jd: %s",
             n.vm->path, n.disk->name, size, (intmax_t) off, vmi_error_get ());
    /* Whatever went wrong below, the reader sees an I/O error. */
    return e == ENOMEM ? -ENOMEM : -EIO;
  }
  if (fi->fh)
    note_read ((struct handle *) (uintptr_t) fi->fh, path, off, size);
  return size;
}

/* SEEK_DATA / SEEK_HOLE from the layer's extents: ZERO and HOLE extents both
 * read as zeros, so both count as holes. */
static off_t
vfs_lseek (const char *path, off_t off, int whence, struct fuse_file_info *fi)
{
  struct vmi_tree_node n = vmi_tree_lookup (fs.tree, path);
  struct vmi_extents e = { 0 };
  uint64_t size, pos;
  off_t r = -ENXIO;

  (void) fi;
  if (n.kind == VMI_TREE_JSON) {
    size = strlen (n.vm->json);
    if (off < 0 || (uint64_t) off >= size)
      return -ENXIO;
    return whence == SEEK_DATA ? off : (off_t) size;
  }
  if (n.kind != VMI_TREE_DISK || n.disk->layer == NULL)
    return n.kind == VMI_TREE_DISK ? -EIO : -ENOENT;
  if (whence != SEEK_DATA && whence != SEEK_HOLE)
    return -EINVAL;
  size = n.disk->layer->size;
  if (off < 0 || (uint64_t) off >= size)
    return -ENXIO;
  for (pos = off; pos < size;) {
    if (vmi_layer_extents (n.disk->layer, pos, EXTENTS_CHUNK, &e) == -1) {
      vmi_log (VMI_LOG_ERROR, "%s/%s: extents at offset %" PRIu64 ": %s",
               n.vm->path, n.disk->name, pos, vmi_error_get ());
      r = -EIO;
      goto out;
    }
    for (size_t i = 0; i < e.n; i++) {
      int data = e.v[i].type == VMI_EXTENT_DATA;
      if ((whence == SEEK_DATA) == data) {
        r = e.v[i].offset;
        goto out;
      }
    }
    if (e.n == 0)
      break;
    pos = e.v[e.n - 1].offset + e.v[e.n - 1].length;
  }
  /* No more data: ENXIO.  No hole before the end: the virtual hole at EOF. */
  r = whence == SEEK_DATA ? -ENXIO : (off_t) size;
 out:
  vmi_extents_free (&e);
  return r;
}

static const struct fuse_operations vfs_ops = {
  .init = vfs_init,
  .destroy = vfs_destroy,
  .getattr = vfs_getattr,
  .readdir = vfs_readdir,
  .open = vfs_open,
  .flush = vfs_flush,
  .release = vfs_release,
  .read = vfs_read,
  .lseek = vfs_lseek,
};

/* ---- building the tree from a provider -------------------------------- */

/* ---- the mount point -------------------------------------------------- */

/* Remove option NAME from the comma-separated OPTS (in place); true when
 * it was there. */
static bool
take_option (char *opts, const char *name)
{
  size_t n = strlen (name);
  bool found = false;
  char *p = opts;

  while (p && *p) {
    char *end = strchr (p, ',');
    size_t len = end ? (size_t) (end - p) : strlen (p);
    if (len == n && strncmp (p, name, n) == 0) {
      found = true;
      memmove (p, end ? end + 1 : p + len, strlen (end ? end + 1 : p + len) + 1);
      continue;
    }
    p = end ? end + 1 : NULL;
  }
  n = strlen (opts);
  if (n > 0 && opts[n - 1] == ',')
    opts[n - 1] = '\0';
  return found;
}

/* What FUSE lets through and the user regrets: a file (every access then
 * fails with EIO), a point already mounted (the mounts stack; statx says
 * whether it is a mount's root), a folder with files in it (hidden
 * without a word).  -o nonempty covers a folder on purpose.  Puts the
 * full path in *REAL.  0, or -1 with the message printed. */
static int
check_mountpoint (const char *given, bool nonempty, char **real)
{
  struct statx stx;
  DIR *d;
  struct dirent *e;
  int err;

  if ((*real = realpath (given, NULL)) == NULL) {
    err = errno;
    fprintf (stderr, "vmimportfs: mount point %s: %s%s\n", given,
             strerror (err), err == ENOTCONN ? " (a stale mount: "
             "fusermount3 -u it)" : err == ENOENT ? " (create the folder "
             "first)" : "");
    return -1;
  }
  if (statx (AT_FDCWD, *real, 0, STATX_TYPE, &stx) == -1
      || !S_ISDIR (stx.stx_mode)) {
    fprintf (stderr, "vmimportfs: mount point %s: not a folder\n", given);
    return -1;
  }
  if (stx.stx_attributes_mask & stx.stx_attributes & STATX_ATTR_MOUNT_ROOT) {
    fprintf (stderr, "vmimportfs: mount point %s: something is already "
             "mounted there; unmount it first (fusermount3 -u %s)\n", given,
             given);
    return -1;
  }
  if (!nonempty && (d = opendir (*real)) != NULL) {
    while ((e = readdir (d)) != NULL)
      if (strcmp (e->d_name, ".") && strcmp (e->d_name, ".."))
        break;
    if (e) {
      fprintf (stderr, "vmimportfs: mount point %s: the folder is not empty "
               "(it holds %s); the mount would hide its files (-o nonempty "
               "to mount there anyway)\n", given, e->d_name);
      closedir (d);
      return -1;
    }
    closedir (d);
  }
  return 0;
}

/* ---- command line ------------------------------------------------------ */

static void
usage (FILE *f)
{
  fprintf (f,
"Usage: vmimportfs [OPTIONS] SOURCE MOUNTPOINT\n"
"       vmimportfs [OPTIONS] --source-file FILE.yaml MOUNTPOINT\n"
"\n"
"Mount the VMs of SOURCE read-only: MOUNTPOINT/<vm>/vm.json and disk-N.img\n"
"(raw views of VMDK, QCOW2 and raw disks, read lazily).\n"
"\n"
"SOURCE: an image file or a folder of images, an .ova / .ovf, an http(s)://\n"
"URL of one, nbd://HOST[:PORT]/EXPORT, nbd+unix:///EXPORT?socket=PATH, or\n"
"vmware://USER@HOST[:PORT]/DATACENTER[/FOLDER] (vCenter or ESXi).\n"
"\n"
"  -f, --foreground        stay in the foreground (log to stderr)\n"
"  -d, --debug             FUSE debug output (implies -f)\n"
"  -s, --single-thread     one FUSE thread\n"
"  -o OPT[,OPT...]         FUSE mount options (e.g. allow_other)\n"
"      --cache-size SIZE   block cache for all disks (default 64M; 0 = none)\n"
"      --readahead KB      kernel read-ahead for the mount (default 1024; 0:\n"
"                          leave the kernel's 128)\n"
"      --drop-behind SIZE  a reader streaming through a disk: drop the\n"
"                          kernel's cached pages of it after every SIZE\n"
"                          read (default 64M; 0: keep them)\n"
"      --source-file FILE  a Harvester OvaSource or VmwareSource (+ Secret) YAML\n"
"      --user NAME         user name for the source\n"
"      --password-file F   password for the source (or VMIMPORT_PASSWORD)\n"
"      --ca-cert FILE      trust this CA bundle for TLS\n"
"      --insecure          do not verify TLS certificates (never the default)\n"
"      --allow-outside-paths[=DIR:DIR...]\n"
"                          a local image may name files (extents, backing\n"
"                          files) outside its folder: anywhere, or in DIRs\n"
"      --timeout SECONDS   whole-request timeout (default 600; 0 = none)\n"
"      --retries N         retries of a failed network request (default 8)\n"
"      --retry-deadline S  give up on a request after S seconds of retrying\n"
"                          (default 120; 0 = none)\n"
"      --allow-running     read a running VM's disks as they are (VMware;\n"
"                          crash-consistent at best)\n"
"      --snapshot          read a running VM's disks under a temporary\n"
"                          snapshot, removed at unmount (VMware)\n"
"  -v, --verbose           debug log lines (every read)\n"
"  -h, --help              this text\n"
"  -V, --version           the version\n"
"\n"
"Unmount with: fusermount3 -u MOUNTPOINT\n"
"Exit status: 0 unmounted cleanly, 1 the source could not be opened,\n"
"2 usage, 3 the mount failed.\n");
}

enum {
  OPT_CACHE_SIZE = 256, OPT_SOURCE_FILE, OPT_USER, OPT_PASSWORD_FILE,
  OPT_CA_CERT, OPT_INSECURE, OPT_TIMEOUT, OPT_READAHEAD, OPT_RETRIES,
  OPT_RETRY_DEADLINE, OPT_DROP_BEHIND, OPT_ALLOW_RUNNING, OPT_SNAPSHOT,
  OPT_ALLOW_OUTSIDE_PATHS,
};

static const struct option long_opts[] = {
  { "foreground", no_argument, NULL, 'f' },
  { "debug", no_argument, NULL, 'd' },
  { "single-thread", no_argument, NULL, 's' },
  { "cache-size", required_argument, NULL, OPT_CACHE_SIZE },
  { "source-file", required_argument, NULL, OPT_SOURCE_FILE },
  { "user", required_argument, NULL, OPT_USER },
  { "password-file", required_argument, NULL, OPT_PASSWORD_FILE },
  { "ca-cert", required_argument, NULL, OPT_CA_CERT },
  { "insecure", no_argument, NULL, OPT_INSECURE },
  { "allow-outside-paths", optional_argument, NULL, OPT_ALLOW_OUTSIDE_PATHS },
  { "timeout", required_argument, NULL, OPT_TIMEOUT },
  { "readahead", required_argument, NULL, OPT_READAHEAD },
  { "drop-behind", required_argument, NULL, OPT_DROP_BEHIND },
  { "retries", required_argument, NULL, OPT_RETRIES },
  { "retry-deadline", required_argument, NULL, OPT_RETRY_DEADLINE },
  { "allow-running", no_argument, NULL, OPT_ALLOW_RUNNING },
  { "snapshot", no_argument, NULL, OPT_SNAPSHOT },
  { "verbose", no_argument, NULL, 'v' },
  { "help", no_argument, NULL, 'h' },
  { "version", no_argument, NULL, 'V' },
  { NULL, 0, NULL, 0 },
};

/* A size option's value (e.g. 64M) into *OUT, or -1 with a message. */
static int
size_arg (const char *opt, const char *arg, uint64_t *out)
{
  int64_t v = vmi_parse_size (arg);

  if (v < 0) {
    fprintf (stderr, "vmimportfs: %s %s: not a size; give bytes, or a "
             "number with K, M, G or T (binary units, e.g. 64M, 2G)\n", opt,
             arg);
    return -1;
  }
  *out = (uint64_t) v;
  return 0;
}

/* libfuse's loop returns 0 when unmounted from outside, and the number of
 * the signal (SIGTERM, SIGINT, SIGHUP) when its handlers ended it: both are
 * a clean unmount. */
static int
loop_status (int r)
{
  return r == 0 || r == SIGTERM || r == SIGINT || r == SIGHUP ? 0 : 3;
}

int
main (int argc, char **argv)
{
  struct vmi_source_opts opts;
  struct fuse_args args = FUSE_ARGS_INIT (0, NULL);
  struct fuse_loop_config *loop_cfg = NULL;
  const char *source_file = NULL, *source, *mountpoint;
  char *mount_opts = NULL;
  int foreground = 0, debug = 0, verbose = 0, c, status = 1;
  bool nonempty;
  struct fuse *f = NULL;

  vmi_log_set_program ("vmimportfs");
  vmi_source_opts_init (&opts);
  fs.readahead_kb = 1024;
  fs.drop_behind = UINT64_C (64) << 20;
  /* Memory: every read allocates buffers of about 1 MiB (libfuse's reply
   * buffer, a run of compressed grains).  From mmap they would cost a page
   * fault per 4 KiB on every read, so they come from a few arenas that keep
   * up to 16 MiB of freed memory each for the next read.  That bounds the
   * daemon at about 4 x 16 MiB plus what is in use, instead of letting
   * glibc's dynamic thresholds grow without limit. */
  mallopt (M_MMAP_THRESHOLD, 16 << 20);
  mallopt (M_TRIM_THRESHOLD, 16 << 20);
  mallopt (M_ARENA_MAX, 4);
  while ((c = getopt_long (argc, argv, "fdso:vhV", long_opts, NULL)) != -1) {
    switch (c) {
    case 'f': foreground = 1; break;
    case 'd': debug = foreground = 1; break;
    case 's': fs.single = true; break;
    case 'o':
      if (mount_opts) {
        char *m;
        if (asprintf (&m, "%s,%s", mount_opts, optarg) == -1)
          return 1;
        free (mount_opts);
        mount_opts = m;
      }
      else
        mount_opts = strdup (optarg);
      break;
    case 'v': verbose++; break;
    case 'h': usage (stdout); return 0;
    case 'V': printf ("vmimportfs %s\n", VMIMPORT_VERSION); return 0;
    case OPT_CACHE_SIZE:
      if (size_arg ("--cache-size", optarg, &opts.cache_size) == -1)
        return 2;
      break;
    case OPT_SOURCE_FILE: source_file = optarg; break;
    case OPT_DROP_BEHIND:
      if (size_arg ("--drop-behind", optarg, &fs.drop_behind) == -1)
        return 2;
      break;
    case OPT_READAHEAD: {
      char *end;
      long v = strtol (optarg, &end, 10);
      if (*end || v < 0 || v > 1 << 20) {
        fprintf (stderr, "vmimportfs: --readahead %s: not a number of KiB\n",
                 optarg);
        return 2;
      }
      fs.readahead_kb = (unsigned) v;
      break;
    }
    case OPT_USER: free (opts.username); opts.username = strdup (optarg); break;
    case OPT_PASSWORD_FILE:
      if (vmi_source_opts_read_password (&opts, optarg) == -1) {
        fprintf (stderr, "vmimportfs: %s\n", vmi_error_get ());
        return 2;
      }
      break;
    case OPT_CA_CERT: free (opts.ca_cert_file); opts.ca_cert_file = strdup (optarg); break;
    case OPT_INSECURE: opts.insecure = true; break;
    case OPT_ALLOW_RUNNING: opts.allow_running = true; break;
    case OPT_SNAPSHOT: opts.snapshot = true; break;
    case OPT_ALLOW_OUTSIDE_PATHS:
      free (opts.allow_outside_paths);
      opts.allow_outside_paths = strdup (optarg ? optarg : "");
      break;
    case OPT_TIMEOUT:
    case OPT_RETRIES:
    case OPT_RETRY_DEADLINE:
      if (vmi_source_opts_set (&opts, c == OPT_TIMEOUT ? "timeout"
                               : c == OPT_RETRIES ? "retries" : "retry-deadline",
                               optarg) == -1) {
        fprintf (stderr, "vmimportfs: %s\n", vmi_error_get ());
        return 2;
      }
      break;
    default:
      usage (stderr);
      return 2;
    }
  }
  if (argc - optind != (source_file ? 1 : 2)) {
    int n = argc - optind;
    fprintf (stderr, "vmimportfs: %s; see vmimportfs --help\n",
             n > (source_file ? 1 : 2) ? "too many arguments"
             : source_file ? "missing MOUNTPOINT"
             : n == 1 ? "missing MOUNTPOINT after SOURCE"
             : "missing SOURCE and MOUNTPOINT");
    fprintf (stderr, "Usage: vmimportfs [OPTIONS] SOURCE MOUNTPOINT\n"
             "       vmimportfs [OPTIONS] --source-file FILE.yaml MOUNTPOINT\n");
    return 2;
  }
  source = source_file ? NULL : argv[optind];
  mountpoint = argv[argc - 1];
  nonempty = mount_opts && take_option (mount_opts, "nonempty");
  if (opts.password == NULL && getenv ("VMIMPORT_PASSWORD"))
    opts.password = strdup (getenv ("VMIMPORT_PASSWORD"));
  /* A daemon says what it retried (info); -v adds debug lines. */
  vmi_log_set_level (verbose >= 1 ? VMI_LOG_DEBUG : VMI_LOG_INFO);

  /* Open everything before mounting: a bad source mounts nothing. */
  fs.mount_time = time (NULL);
  fs.provider = source_file ? vmi_provider_open_yaml (source_file, &opts)
                            : vmi_provider_open (source, &opts);
  vmi_source_opts_clear (&opts);
  if (fs.provider == NULL
      || (fs.tree = vmi_tree_new (fs.provider, fs.provider->opts.cache_size,
                                  CACHE_BLOCK)) == NULL) {
    fprintf (stderr, "vmimportfs: %s\n", vmi_error_get ());
    goto out;
  }

  /* After the source (its errors come first, exit 1), before FUSE. */
  status = 3;
  if (check_mountpoint (mountpoint, nonempty, &fs.mountpoint) == -1)
    goto out;
  fuse_opt_add_arg (&args, argv[0]);
  fuse_opt_add_arg (&args, "-o");
  fuse_opt_add_arg (&args, "ro,default_permissions,fsname=vmimportfs,"
                           "subtype=vmimportfs");
  if (mount_opts && *mount_opts) {
    fuse_opt_add_arg (&args, "-o");
    fuse_opt_add_arg (&args, mount_opts);
  }
  if (debug)
    fuse_opt_add_arg (&args, "-d");
  f = fuse_new (&args, &vfs_ops, sizeof vfs_ops, NULL);
  if (f == NULL) {
    fprintf (stderr, "vmimportfs: bad FUSE options\n");
    status = 2;
    goto out;
  }
  /* The daemon moves to /, and FUSE unmounts the path it was given: give
   * it the full one. */
  if (fuse_mount (f, fs.mountpoint) != 0) {
    fprintf (stderr, "vmimportfs: could not mount on %s\n", mountpoint);
    goto out;
  }
  if (fuse_daemonize (foreground) != 0) {
    fprintf (stderr, "vmimportfs: could not become a daemon\n");
    fuse_unmount (f);
    goto out;
  }
  if (!foreground)
    vmi_log_to_syslog ();
  if (fuse_set_signal_handlers (fuse_get_session (f)) != 0) {
    fuse_unmount (f);
    goto out;
  }
  if (fs.single)
    status = loop_status (fuse_loop (f));
  else {
    loop_cfg = fuse_loop_cfg_create ();
    fuse_loop_cfg_set_max_threads (loop_cfg, 8);
    fuse_loop_cfg_set_idle_threads (loop_cfg, 4);
    status = loop_status (fuse_loop_mt (f, loop_cfg));
  }
  fuse_remove_signal_handlers (fuse_get_session (f));
  fuse_unmount (f);

 out:
  if (f)
    fuse_destroy (f);
  if (loop_cfg)
    fuse_loop_cfg_destroy (loop_cfg);
  fuse_opt_free_args (&args);
  free (mount_opts);
  free (fs.mountpoint);
  vmi_tree_free (fs.tree);
  vmi_provider_close (fs.provider);
  return status;
}
