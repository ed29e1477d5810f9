/* vmimport copy: the destination.  Every check (directory, non-empty file,
 * mounted or busy device, too small) happens before the first byte is
 * written.
 *
 * Writes go around the page cache (O_DIRECT, through a second descriptor)
 * when the destination allows it, as qemu-img convert -t none does: the
 * data is on the device when the write returns, the copy does not fill
 * memory with pages that are written once, and no writeback is left for
 * later.  Pieces that are not aligned go through the page cache. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <linux/fs.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "vmimport/error.h"
#include "cli.h"
#include "target.h"

static int
fail (const char *path, const char *what, int code)
{
  fprintf (stderr, "vmimport copy: %s: %s\n", path, what);
  return code;
}

/* The device's name in /sys/class/block ("loop0", "sda1"). */
static int
sys_name (dev_t dev, char *buf, size_t len)
{
  char link[64], target[512];
  ssize_t n;
  const char *slash;

  snprintf (link, sizeof link, "/sys/dev/block/%u:%u", major (dev), minor (dev));
  if ((n = readlink (link, target, sizeof target - 1)) <= 0)
    return -1;
  target[n] = '\0';
  slash = strrchr (target, '/');
  snprintf (buf, len, "%s", slash ? slash + 1 : target);
  return 0;
}

/* Is DEV, or a partition of DEV, mounted?  Puts the mount point in MNT. */
static int
is_mounted (dev_t dev, char *mnt, size_t len)
{
  FILE *f = fopen ("/proc/self/mountinfo", "r");
  char line[4096], name[512], pname[512], parent[PATH_MAX], plink[600];
  int found = 0;

  if (f == NULL || sys_name (dev, name, sizeof name) == -1) {
    if (f)
      fclose (f);
    return 0;
  }
  while (!found && fgets (line, sizeof line, f)) {
    unsigned ma, mi;
    char point[2048];
    if (sscanf (line, "%*u %*u %u:%u %*s %2047s", &ma, &mi, point) != 3)
      continue;
    if (makedev (ma, mi) == dev)
      found = 1;
    else if (sys_name (makedev (ma, mi), pname, sizeof pname) == 0) {
      /* A partition's sysfs folder sits inside its disk's folder. */
      snprintf (plink, sizeof plink, "/sys/class/block/%s/..", pname);
      if (realpath (plink, parent)) {
        const char *slash = strrchr (parent, '/');
        found = slash && strcmp (slash + 1, name) == 0;
      }
    }
    if (found)
      snprintf (mnt, len, "%s", point);
  }
  fclose (f);
  return found;
}

static int
open_device (struct target *t, const char *path, const struct stat *st,
             uint64_t vsize, bool force)
{
  char mnt[2048], msg[4096], a[32], b[32];
  uint64_t size;
  int sector;

  if (!force && is_mounted (st->st_rdev, mnt, sizeof mnt)) {
    snprintf (msg, sizeof msg, "is mounted on %s (or holds a mounted "
              "partition); refusing to overwrite it (--force to insist)", mnt);
    return fail (path, msg, EXIT_DEST);
  }
  /* O_EXCL on a block device: EBUSY while the kernel holds it (mounted,
   * part of a device-mapper or md device, or opened exclusively). */
  t->fd = open (path, O_RDWR | O_CLOEXEC | (force ? 0 : O_EXCL));
  if (t->fd == -1) {
    if (errno == EBUSY)
      return fail (path, "is in use (mounted, or held by device-mapper, md "
                   "or another program); refusing to overwrite it "
                   "(--force to insist)", EXIT_DEST);
    snprintf (msg, sizeof msg, "cannot open: %s", strerror (errno));
    return fail (path, msg, EXIT_DEST);
  }
  if (ioctl (t->fd, BLKGETSIZE64, &size) == -1
      || ioctl (t->fd, BLKSSZGET, &sector) == -1) {
    snprintf (msg, sizeof msg, "cannot get the device size: %s",
              strerror (errno));
    return fail (path, msg, EXIT_DEST);
  }
  t->size = size;
  t->sector = sector > 0 ? (uint32_t) sector : 512;
  if (size < vsize) {
    cli_format_size (a, sizeof a, (double) size);
    cli_format_size (b, sizeof b, (double) vsize);
    snprintf (msg, sizeof msg, "is too small: %" PRIu64 " bytes (%s), the "
              "disk needs %" PRIu64 " bytes (%s); nothing was written",
              size, a, vsize, b);
    return fail (path, msg, EXIT_DEST);
  }
  return 0;
}

int
target_open (struct target *t, const char *path, uint64_t vsize, bool force,
             bool resume)
{
  struct stat st;
  struct statfs sf;
  char msg[512];

  memset (t, 0, sizeof *t);
  t->fd = -1;
  t->dfd = -1;
  pthread_mutex_init (&t->buffered_lock, NULL);
  if ((t->path = strdup (path)) == NULL)
    return fail (path, "out of memory", EXIT_DEST);
  if (stat (path, &st) == -1) {
    if (errno != ENOENT) {
      snprintf (msg, sizeof msg, "%s", strerror (errno));
      return fail (path, msg, EXIT_DEST);
    }
    t->fd = open (path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (t->fd == -1) {
      snprintf (msg, sizeof msg, "cannot create: %s", strerror (errno));
      return fail (path, msg, EXIT_DEST);
    }
    t->created = true;
    return 0;
  }
  if (S_ISDIR (st.st_mode))
    return fail (path, "is a directory; give a file name (./disk-0.raw) or "
                 "a block device", EXIT_DEST);
  if (S_ISBLK (st.st_mode)) {
    t->is_blk = true;
    return open_device (t, path, &st, vsize, force);
  }
  /* /proc and /sys files say they are regular, on a filesystem of no
   * blocks. */
  if (!S_ISREG (st.st_mode)
      || (statfs (path, &sf) == 0 && sf.f_blocks == 0))
    return fail (path, "is neither a regular file nor a block device",
                 EXIT_DEST);
  if (st.st_size > 0 && !force && !resume) {
    snprintf (msg, sizeof msg, "exists and is not empty (%lld bytes); "
              "refusing to overwrite it (--force to overwrite, --resume to "
              "continue a copy)", (long long) st.st_size);
    return fail (path, msg, EXIT_DEST);
  }
  t->fd = open (path, O_RDWR | O_CLOEXEC);
  if (t->fd == -1) {
    snprintf (msg, sizeof msg, "cannot open: %s", strerror (errno));
    return fail (path, msg, EXIT_DEST);
  }
  t->size = st.st_size;
  return 0;
}

int
target_prepare (struct target *t, uint64_t vsize, bool resume)
{
  if (t->is_blk)
    return 0;
  /* A fresh file of holes: what we do not write reads as zeros.  An empty
   * file is not truncated: ext4 would then write back all the data on
   * close (its defence against truncate-and-rewrite). */
  if ((!resume && t->size > 0 && ftruncate (t->fd, 0) == -1)
      || ((!resume || t->size != vsize) && ftruncate (t->fd, vsize) == -1)) {
    fprintf (stderr, "vmimport copy: %s: cannot set the size to %" PRIu64
             ": %s\n", t->path, vsize, strerror (errno));
    return -1;
  }
  t->size = vsize;
  return 0;
}

void
target_use_direct (struct target *t)
{
  char self[64];

  /* Reopen what is open, not the path, which may have changed since. */
  snprintf (self, sizeof self, "/proc/self/fd/%d", t->fd);
  t->dfd = open (self, O_WRONLY | O_DIRECT | O_CLOEXEC);
  if (t->dfd == -1) {
    vmi_log (VMI_LOG_DEBUG, "%s: no direct I/O (%s): writing through the "
             "page cache", t->path, strerror (errno));
    return;
  }
  t->align = t->sector > DIRECT_ALIGN ? t->sector : DIRECT_ALIGN;
  __atomic_store_n (&t->direct, true, __ATOMIC_RELAXED);
}

/* The largest write into the page cache.  The kernel sizes a file's page
 * cache folios by the write (up to 2 MiB), and large folios come from
 * large free blocks.  On a VM whose kernel hands free 2 MiB blocks back to
 * the host (free page reporting), writing into them faults in the host,
 * page by page: on our test VMs 1.25 GiB written in 2 or 4 MiB pieces
 * took 3.0 s of system time, in 256 KiB to 1 MiB pieces 0.3 s.  Elsewhere
 * pieces of 512 KiB cost a few more system calls, and nothing else. */
#define BUFFERED_CHUNK (512u << 10)

static int
write_all (int fd, const char *p, size_t len, uint64_t offset)
{
  while (len > 0) {
    ssize_t r = pwrite (fd, p, len, offset);
    if (r == -1 && errno == EINTR)
      continue;
    if (r <= 0) {
      if (r == 0)
        errno = EIO;
      return -1;
    }
    p += r;
    len -= r;
    offset += r;
  }
  return 0;
}

/* Through the page cache, in pieces of at most BUFFERED_CHUNK, and to a
 * file one write at a time: the filesystem takes the file's lock for each,
 * and writers waiting for it spin in the kernel, taking the cores that the
 * readers need.  Waiting here sleeps instead.  A block device has no such
 * lock. */
static int
write_buffered (struct target *t, const char *p, size_t len, uint64_t offset)
{
  while (len > 0) {
    size_t n = len < BUFFERED_CHUNK ? len : BUFFERED_CHUNK;
    int r;

    if (!t->is_blk)
      pthread_mutex_lock (&t->buffered_lock);
    r = write_all (t->fd, p, n, offset);
    if (!t->is_blk)
      pthread_mutex_unlock (&t->buffered_lock);
    if (r == -1)
      return -1;
    p += n;
    len -= n;
    offset += n;
  }
  return 0;
}

int
target_write (struct target *t, const void *buf, size_t len, uint64_t offset)
{
  const char *p = buf;
  uint64_t a = t->align, head, mid;

  /* The aligned middle goes direct when the buffer lines up with it. */
  if (!__atomic_load_n (&t->direct, __ATOMIC_RELAXED)
      || ((uintptr_t) p - offset) % a != 0)
    return write_buffered (t, p, len, offset);
  head = (a - offset % a) % a;
  if (head >= len)
    return write_buffered (t, p, len, offset);
  mid = (len - head) / a * a;
  if (head && write_buffered (t, p, head, offset) == -1)
    return -1;
  if (mid && write_all (t->dfd, p + head, mid, offset + head) == -1) {
    if (errno != EINVAL)
      return -1;
    /* The device wants a larger alignment than we know of: the same bytes
     * through the page cache, and no more direct writes. */
    vmi_log (VMI_LOG_DEBUG, "%s: direct write refused (%s): writing through "
             "the page cache", t->path, strerror (errno));
    __atomic_store_n (&t->direct, false, __ATOMIC_RELAXED);
    if (write_buffered (t, p + head, mid, offset + head) == -1)
      return -1;
  }
  if (head + mid < len
      && write_buffered (t, p + head + mid, len - head - mid,
                         offset + head + mid) == -1)
    return -1;
  return 0;
}

int
target_read (struct target *t, void *buf, size_t len, uint64_t offset)
{
  char *p = buf;

  while (len > 0) {
    ssize_t r = pread (t->fd, p, len, offset);
    if (r == -1 && errno == EINTR)
      continue;
    if (r <= 0) {
      if (r == 0)
        errno = EIO;
      return -1;
    }
    p += r;
    len -= r;
    offset += r;
  }
  return 0;
}

static int
write_zeros (struct target *t, uint64_t offset, uint64_t len)
{
  static const char zeros[65536];

  while (len > 0) {
    size_t n = len > sizeof zeros ? sizeof zeros : len;
    if (target_write (t, zeros, n, offset) == -1)
      return -1;
    offset += n;
    len -= n;
  }
  return 0;
}

int
target_zero (struct target *t, uint64_t offset, uint64_t len)
{
  uint64_t end = offset + len, s = t->sector ? t->sector : 512;
  uint64_t a = (offset + s - 1) / s * s, b = end / s * s;

  if (a >= b)
    return write_zeros (t, offset, len);
  if (write_zeros (t, offset, a - offset) == -1
      || write_zeros (t, b, end - b) == -1)
    return -1;
  uint64_t range[2] = { a, b - a };
  if (ioctl (t->fd, BLKZEROOUT, range) == 0)
    return 0;
  if (errno != EOPNOTSUPP && errno != ENOTTY && errno != EINVAL)
    return -1;
  return write_zeros (t, a, b - a);
}

uint64_t
target_allocated (struct target *t, uint64_t offset, uint64_t len)
{
  uint64_t end = offset + len, n = 0;
  off_t data, hole;

  if (t->is_blk)
    return len;
  while (offset < end) {
    if ((data = lseek (t->fd, offset, SEEK_DATA)) == -1
        || (uint64_t) data >= end)
      break;
    if ((hole = lseek (t->fd, data, SEEK_HOLE)) == -1)
      hole = end;
    if ((uint64_t) hole > end)
      hole = end;
    n += hole - data;
    offset = hole;
  }
  return n;
}

int
target_sync (struct target *t)
{
  return fdatasync (t->fd);
}

void
target_close (struct target *t, bool remove)
{
  if (t->dfd >= 0)
    close (t->dfd);
  if (t->fd >= 0)
    close (t->fd);
  if (t->path)
    pthread_mutex_destroy (&t->buffered_lock);
  if (remove && t->created && t->path)
    unlink (t->path);
  free (t->path);
  t->path = NULL;
  t->fd = -1;
  t->dfd = -1;
}
