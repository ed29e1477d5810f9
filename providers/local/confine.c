/* Files a local image names (VMDK extents, QCOW2 backing files) stay
 * inside the image's own folder tree.
 *
 * A descriptor may name "/etc/shadow" and a QCOW2 header any backing path;
 * qemu follows them, which is how a downloaded image served with
 * -o allow_other exposes host files (the class of OpenStack's
 * CVE-2024-32498).  So every path is resolved (realpath: "..", symlinks)
 * and must land under the top image's folder, or under a folder the user
 * allowed with --allow-outside-paths=DIR[:DIR...] (or anywhere with
 * --allow-outside-paths).  json: specifications and protocol prefixes
 * ("nbd:", "http://") are refused whatever the user allows: they are not
 * files.  The resolved path is what is opened, so a symlink swapped in
 * after the check points at nothing we did not check. */
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vmimport/error.h"
#include "vmimport/formats.h"
#include "confine.h"

/* As qemu's path_has_protocol: a ':' before the first '/'. */
static bool
has_protocol (const char *path)
{
  size_t n = strcspn (path, ":/");

  return path[n] == ':';
}

/* REAL (resolved) is DIR or below it; DIR is resolved too. */
static bool
is_below (const char *real, const char *dir)
{
  size_t n = strlen (dir);

  if (n == 1 && dir[0] == '/')
    return true;
  while (n > 1 && dir[n - 1] == '/')
    n--;
  return strncmp (real, dir, n) == 0 && (real[n] == '/' || real[n] == '\0');
}

/* REAL is below one of the ':'-separated folders of LIST. */
static bool
is_allowed (const char *real, const char *list)
{
  const char *p = list;

  while (*p) {
    size_t n = strcspn (p, ":");
    char dir[PATH_MAX], rdir[PATH_MAX];
    if (n > 0 && n < sizeof dir) {
      memcpy (dir, p, n);
      dir[n] = '\0';
      if (realpath (dir, rdir) && is_below (real, rdir))
        return true;
    }
    p += n;
    if (*p == ':')
      p++;
  }
  return false;
}

int
vmi_confine_init (struct vmi_confine *c, const char *image_dir,
                  const char *allow)
{
  c->dir = image_dir;
  c->allow = allow;
  if (realpath (image_dir, c->root) == NULL) {
    vmi_error ("%s: %s", image_dir, strerror (errno));
    return -1;
  }
  return 0;
}

struct vmi_layer *
vmi_confine_open (const struct vmi_confine *c, const char *relpath)
{
  char path[PATH_MAX], real[PATH_MAX];

  if (strncmp (relpath, "json:", 5) == 0 || has_protocol (relpath)) {
    errno = EPERM;
    vmi_error ("\"%.200s\" is a json: specification or names a protocol, "
               "not a file; a local image may only name files (refused even "
               "with --allow-outside-paths)", relpath);
    return NULL;
  }
  if (relpath[0] == '/')
    snprintf (path, sizeof path, "%s", relpath);
  else if (snprintf (path, sizeof path, "%s/%s", c->dir, relpath)
           >= (int) sizeof path) {
    errno = ENAMETOOLONG;
    vmi_error ("%s/%s: path too long", c->dir, relpath);
    return NULL;
  }
  if (realpath (path, real) == NULL) {
    vmi_error ("%s: %s", path, strerror (errno));
    return NULL;
  }
  if (!is_below (real, c->root)
      && !(c->allow && (c->allow[0] == '\0' || is_allowed (real, c->allow)))) {
    errno = EPERM;
    vmi_error ("\"%s\" (%s) is outside the image's folder %s; refused "
               "(--allow-outside-paths allows it%s)", relpath, real, c->root,
               c->allow && c->allow[0] ? ", or list its folder there" : "");
    return NULL;
  }
  return vmi_file_open (real);
}
