/* Transport: a local file or block device.  pread(2); extents from
 * SEEK_DATA / SEEK_HOLE, so a sparse raw image reports its holes. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/fs.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vmimport/error.h"
#include "vmimport/formats.h"

struct file {
  int fd;
};

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
    close (f->fd);
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
  f = malloc (sizeof *f);
  if (f == NULL) {
    close (fd);
    errno = ENOMEM;
    vmi_error ("%s: out of memory", path);
    return NULL;
  }
  f->fd = fd;
  struct vmi_layer *l = vmi_layer_new (&file_ops, f, size, path, NULL);
  if (l == NULL)
    file_close (&(struct vmi_layer){ .priv = f });
  return l;
}
