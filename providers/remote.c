/* Providers: a single disk image over a remote transport (http(s) URL or an
 * NBD export).  One VM of one disk, named after the last path component. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vmimport/error.h"
#include "vmimport/formats.h"
#include "vmimport/transport.h"
#include "providers.h"

struct remote {
  char *where;
  int is_nbd;
  struct vmi_layer *view;   /* opened once to describe the VM, then shared */
};

/* Files beside an image on a web server: the same URL directory. */
static struct vmi_layer *
open_http_sibling (const struct vmi_opener *o, const char *relpath)
{
  const struct vmi_provider *p = o->opaque;
  const struct remote *r = p->priv;
  size_t dirlen = strcspn (r->where, "?#");
  char *url;
  struct vmi_layer *l;

  while (dirlen > 0 && r->where[dirlen - 1] != '/')
    dirlen--;
  if (strstr (relpath, "://") || relpath[0] == '/') {
    errno = EPERM;
    vmi_error ("%s: refusing to follow a reference to %s outside the image's "
               "folder", r->where, relpath);
    return NULL;
  }
  if (asprintf (&url, "%.*s%s", (int) dirlen, r->where, relpath) == -1) {
    errno = ENOMEM;
    vmi_error ("out of memory");
    return NULL;
  }
  l = vmi_http_open (url, &p->opts);
  free (url);
  return l;
}

static struct vmi_layer *
open_raw_view (struct vmi_provider *p, const char **format)
{
  struct remote *r = p->priv;
  struct vmi_opener sib = { open_http_sibling, p };
  struct vmi_layer *t;

  t = r->is_nbd ? vmi_nbd_open (r->where, &p->opts)
                : vmi_http_open (r->where, &p->opts);
  if (t == NULL)
    return NULL;
  return vmi_format_open (t, r->is_nbd ? NULL : &sib, format);
}

/* Every open of the disk shares the view made at describe time: one
 * connection setup, one probe.  Layers are thread-safe. */
static struct vmi_layer *
remote_open_disk (struct vmi_provider *p, const struct vmi_vm *vm, size_t i)
{
  struct remote *r = p->priv;

  (void) vm;
  (void) i;
  return vmi_layer_ref (r->view);
}

static void
remote_close (struct vmi_provider *p)
{
  struct remote *r = p->priv;

  if (r) {
    vmi_layer_close (r->view);
    free (r->where);
    free (r);
  }
}

static const struct vmi_provider_ops remote_ops = {
  .name = "remote",
  .open_disk = remote_open_disk,
  .close = remote_close,
};

static struct vmi_provider *
remote_open (const char *where, int is_nbd, const struct vmi_source_opts *o)
{
  struct remote *r = calloc (1, sizeof *r);
  struct vmi_provider *p;
  struct vmi_layer *l;
  struct vmi_vm *vm;
  const char *format = "raw";
  char *name;

  if (r == NULL || (r->where = strdup (where)) == NULL) {
    free (r);
    errno = ENOMEM;
    vmi_error ("out of memory");
    return NULL;
  }
  r->is_nbd = is_nbd;
  if ((p = vmi_provider_new (&remote_ops, r, o)) == NULL) {
    free (r->where);
    free (r);
    return NULL;
  }
  if ((l = open_raw_view (p, &format)) == NULL)
    goto err;
  name = vmi_image_name (where);
  if (name == NULL || *name == '\0') {
    free (name);
    name = strdup (is_nbd ? "nbd" : "disk");
  }
  vm = name ? vmi_image_vm_new (name, is_nbd ? "nbd" : "http", where, l, format)
            : NULL;
  free (name);
  r->view = l;
  if (vm == NULL || vmi_provider_add_vm (p, vm) == -1) {
    vmi_vm_free (vm);
    goto err;
  }
  return p;
 err:
  vmi_provider_close (p);
  return NULL;
}

struct vmi_provider *
vmi_http_image_provider_open (const char *url, const struct vmi_source_opts *o)
{
  return remote_open (url, 0, o);
}

struct vmi_provider *
vmi_nbd_provider_open (const char *uri, const struct vmi_source_opts *o)
{
  return remote_open (uri, 1, o);
}
