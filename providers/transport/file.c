/* Transport: a local file or block device.  pread(2); extents from
 * SEEK_DATA / SEEK_HOLE, so a sparse raw image reports its holes.
 *
 * Every open file is kept in a list (its identity: device and inode, or
 * the device it is, and the file behind a loop device), so that a copy can
 * refuse a destination the source reads: a QCOW2 backing file, a VMDK
 * extent, the archive.  Each also holds shared OFD read locks on the bytes
 * qemu uses for the same purpose (block/file-posix.c): 100, "reads it",
 * and 201, "does not share write", so that qemu-img, qemu-io or a second
 * vmimport copy refuses to write a file we read. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/fs.h>
#include <linux/loop.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vmimport/error.h"
#include "vmimport/formats.h"

/* One file: a regular file's device and inode, or a block device's number
 * (blk) and, for a loop device, the file behind it. */
struct file_id {
  dev_t dev, back_dev;
  ino_t ino, back_ino;
  bool blk, loop;
};

struct file {
  int fd;
  struct file_id id;
  char *name;
  struct file *next;      /* in open_files */
};

static pthread_mutex_t open_lock = PTHREAD_MUTEX_INITIALIZER;
static struct file *open_files;

static void
file_id_get (int fd, const struct stat *st, struct file_id *id)
{
  struct loop_info64 li;

  memset (id, 0, sizeof *id);
  id->blk = S_ISBLK (st->st_mode);
  id->dev = id->blk ? st->st_rdev : st->st_dev;
  id->ino = id->blk ? 0 : st->st_ino;
  if (id->blk && ioctl (fd, LOOP_GET_STATUS64, &li) == 0) {
    id->loop = true;
    id->back_dev = li.lo_device;
    id->back_ino = li.lo_inode;
  }
}

/* Do A and B reach the same bytes: one file, one device, or a loop device
 * and the file behind it? */
static bool
file_id_overlap (const struct file_id *a, const struct file_id *b)
{
  if (a->blk == b->blk && a->dev == b->dev && a->ino == b->ino)
    return true;
  if (a->loop && !b->blk && a->back_dev == b->dev && a->back_ino == b->ino)
    return true;
  if (b->loop && !a->blk && b->back_dev == a->dev && b->back_ino == a->ino)
    return true;
  return a->loop && b->loop && a->back_dev == b->back_dev
         && a->back_ino == b->back_ino;
}

int
vmi_file_is_open (int fd, char *name, size_t len)
{
  struct file_id id;
  struct stat st;
  int found = 0;

  if (fstat (fd, &st) == -1)
    return 0;
  file_id_get (fd, &st, &id);
  pthread_mutex_lock (&open_lock);
  for (struct file *f = open_files; f && !found; f = f->next)
    if (file_id_overlap (&f->id, &id)) {
      snprintf (name, len, "%s", f->name);
      found = 1;
    }
  pthread_mutex_unlock (&open_lock);
  return found;
}

/* qemu's image locking bytes (block/file-posix.c): 100 + permission held,
 * 200 + permission not shared; permission 0 is "consistent read", 1
 * "write". */
#define QEMU_LOCK_READ 100
#define QEMU_LOCK_WRITE 101
#define QEMU_LOCK_NO_WRITE 201

static int
lock_byte (int fd, short type, off_t byte)
{
  struct flock fl = { .l_type = type, .l_whence = SEEK_SET,
                      .l_start = byte, .l_len = 1 };

  return fcntl (fd, F_OFD_SETLK, &fl);
}

/* qemu's locks are all shared (F_RDLCK): a conflict shows only to a test
 * with F_WRLCK. */
static bool
byte_held (int fd, off_t byte)
{
  struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET,
                      .l_start = byte, .l_len = 1 };

  return fcntl (fd, F_OFD_GETLK, &fl) == 0 && fl.l_type != F_UNLCK;
}

int
vmi_file_lock_writer (int fd)
{
  /* Another open file writes it, or reads it and does not share write.
   * A filesystem without locks (ENOLCK) shows neither: go on. */
  if (byte_held (fd, QEMU_LOCK_WRITE) || byte_held (fd, QEMU_LOCK_NO_WRITE)
      || ((lock_byte (fd, F_RDLCK, QEMU_LOCK_WRITE) == -1
           || lock_byte (fd, F_RDLCK, QEMU_LOCK_NO_WRITE) == -1)
          && errno == EAGAIN)) {
    errno = EBUSY;
    return -1;
  }
  return 0;
}

static void
file_lock_reader (int fd, const char *path)
{
  if (byte_held (fd, QEMU_LOCK_WRITE))
    vmi_log (VMI_LOG_WARN, "%s: another program (qemu?) holds it open for "
             "writing; what is read may change", path);
  lock_byte (fd, F_RDLCK, QEMU_LOCK_READ);
  lock_byte (fd, F_RDLCK, QEMU_LOCK_NO_WRITE);
}

static int
file_pread (struct vmi_layer *l, void *buf, size_t count, uint64_t offset)
{
  struct file *f = l->priv;
  char *p = buf;

  while (count > 0) {
    ssize_t r = pread (f->fd, p, count, offset);
    if (r == -1) {
      if (errno == EINTR)
        continue;
      vmi_error ("%s: read at offset %" PRIu64 ": %s", l->name, offset,
                 strerror (errno));
      return -1;
    }
    if (r == 0) {
      errno = EIO;
      vmi_error ("%s: unexpected end of file at offset %" PRIu64
                 " (the file shrank?)", l->name, offset);
      return -1;
    }
    p += r;
    count -= r;
    offset += r;
  }
  return 0;
}

static int
file_extents (struct vmi_layer *l, uint64_t offset, uint64_t length,
              struct vmi_extents *out)
{
  struct file *f = l->priv;
  uint64_t end = offset + length;
  off_t data, hole;

  (void) end;
  data = lseek (f->fd, offset, SEEK_DATA);
  if (data == -1) {
    if (errno == ENXIO)   /* no data after offset: all hole to EOF */
      return vmi_extents_add (out, offset, l->size - offset, VMI_EXTENT_HOLE);
    /* SEEK_DATA unsupported (block devices, some filesystems): all data. */
    return vmi_extents_add (out, offset, l->size - offset, VMI_EXTENT_DATA);
  }
  if ((uint64_t) data > offset)
    return vmi_extents_add (out, offset, (uint64_t) data - offset,
                            VMI_EXTENT_HOLE);
  hole = lseek (f->fd, offset, SEEK_HOLE);
  if (hole == -1 || (uint64_t) hole > l->size)
    hole = l->size;
  if ((uint64_t) hole <= offset)  /* raced with a writer; call it data */
    hole = offset + 1;
  return vmi_extents_add (out, offset, (uint64_t) hole - offset,
                          VMI_EXTENT_DATA);
}

static void
file_close (struct vmi_layer *l)
{
  struct file *f = l->priv;

  if (f) {
    pthread_mutex_lock (&open_lock);
    for (struct file **p = &open_files; *p; p = &(*p)->next)
      if (*p == f) {
        *p = f->next;
        break;
      }
    pthread_mutex_unlock (&open_lock);
    close (f->fd);   /* and with it the OFD locks */
    free (f->name);
    free (f);
  }
}

static const struct vmi_layer_ops file_ops = {
  .name = "file",
  .pread = file_pread,
  .extents = file_extents,
  .close = file_close,
};

struct vmi_layer *
vmi_file_open (const char *path)
{
  struct file *f;
  struct stat st;
  uint64_t size;
  int fd;

  fd = open (path, O_RDONLY | O_CLOEXEC);
  if (fd == -1) {
    vmi_error ("%s: %s", path, strerror (errno));
    return NULL;
  }
  if (fstat (fd, &st) == -1) {
    vmi_error ("%s: stat: %s", path, strerror (errno));
    close (fd);
    return NULL;
  }
  if (S_ISBLK (st.st_mode)) {
    if (ioctl (fd, BLKGETSIZE64, &size) == -1) {
      vmi_error ("%s: BLKGETSIZE64: %s", path, strerror (errno));
      close (fd);
      return NULL;
    }
  }
  else if (S_ISREG (st.st_mode))
    size = st.st_size;
  else {
    vmi_error ("%s: not a regular file or block device", path);
    close (fd);
    errno = EINVAL;
    return NULL;
  }
  f = calloc (1, sizeof *f);
  if (f == NULL || (f->name = strdup (path)) == NULL) {
    free (f);
    close (fd);
    errno = ENOMEM;
    vmi_error ("%s: out of memory", path);
    return NULL;
  }
  f->fd = fd;
  file_id_get (fd, &st, &f->id);
  file_lock_reader (fd, path);
  pthread_mutex_lock (&open_lock);
  f->next = open_files;
  open_files = f;
  pthread_mutex_unlock (&open_lock);
  struct vmi_layer *l = vmi_layer_new (&file_ops, f, size, path, NULL);
  if (l == NULL)
    file_close (&(struct vmi_layer){ .priv = f });
  return l;
}
