/* VMware vSphere source: vCenter or a standalone ESXi host (datacenter
 * "ha-datacenter"), given as vmware://USER@HOST[:PORT]/DC[/FOLDER] or as a
 * VmwareSource (endpoint https://HOST/sdk + dc).
 *
 * The inventory is read at open time (inventory.c); each disk is read in
 * place, lazily, from the datastore: its descriptor and extents over
 * https://HOST/folder/<dir>/<file>?dcPath=<dc>&dsName=<ds> with range
 * requests carrying the session cookie (the HTTP transport and the VMDK
 * layer, nothing copied).  A session that expires mid-read is renewed by
 * the first request that meets the 401. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>

#include "vmimport/error.h"
#include "vmimport/formats.h"
#include "vmimport/transport.h"
#include "providers.h"
#include "vmware-internal.h"

/* A snapshot taken for --snapshot, removed at close. */
struct snap {
  char *vm_id, *vm_name, *moref;
};

struct vmi_vmw {
  struct vmi_vmw_soap *soap;
  pthread_mutex_t lock;       /* snaps */
  struct snap *snaps;
  size_t nsnaps;
  struct vmi_vmw_datastore *ds;   /* the datacenter's datastores */
  size_t nds;
  char *base;       /* "https://host:port" */
  char *dc;
  struct vmi_source_opts http_opts;   /* TLS and timeouts, no credentials */
};

static int
nomem (void)
{
  errno = ENOMEM;
  vmi_error ("out of memory");
  return -1;
}

/* ---- disks ---- */

static char *
session_cookie (void *opaque)
{
  return vmi_vmw_soap_cookie (opaque);
}

static int
session_renew (void *opaque, const char *refused)
{
  return vmi_vmw_soap_renew (opaque, refused);
}

static void
session_release (void *opaque)
{
  vmi_vmw_soap_unref (opaque);
}

/* dir + relpath with "." and ".." resolved inside the datastore.  NULL
 * (error recorded) when it climbs out of it or is absolute. */
static char *
ds_join (const char *ds, const char *dir, const char *rel)
{
  char *joined, *out, *o;
  const char *p;

  if (rel[0] == '/') {
    errno = EPERM;
    vmi_error ("[%s] %s: refusing the absolute path %s (followed: names "
               "relative to the disk's folder, and /vmfs/volumes/<datastore "
               "name or uuid>/... of this datacenter's datastores)", ds,
               dir, rel);
    return NULL;
  }
  if (asprintf (&joined, "%s%s%s", dir, *dir ? "/" : "", rel) == -1
      || (out = malloc (strlen (joined) + 1)) == NULL) {
    nomem ();
    return NULL;
  }
  o = out;
  for (p = joined; *p;) {
    size_t n = strcspn (p, "/");
    if (n == 0 || (n == 1 && p[0] == '.'))
      ;
    else if (n == 2 && p[0] == '.' && p[1] == '.') {
      if (o == out) {
        errno = EPERM;
        vmi_error ("[%s] %s: %s climbs out of the datastore", ds, dir, rel);
        free (joined);
        free (out);
        return NULL;
      }
      while (o > out && o[-1] != '/')
        o--;
      if (o > out)
        o--;
    }
    else {
      if (o > out)
        *o++ = '/';
      memcpy (o, p, n);
      o += n;
    }
    p += n;
    if (*p == '/')
      p++;
  }
  *o = '\0';
  free (joined);
  return out;
}

static char *
escape (const char *s)
{
  char *e = curl_easy_escape (NULL, s, 0), *d;

  if (e == NULL)
    return NULL;
  d = strdup (e);
  curl_free (e);
  return d;
}

/* https://host/folder/<path>?dcPath=<dc>&dsName=<ds>, each path segment
 * escaped. */
static char *
folder_url (const struct vmi_vmw *w, const char *ds, const char *path)
{
  char *url = NULL, *edc = escape (w->dc), *eds = escape (ds);
  size_t cap = strlen (w->base) + 16 + 3 * strlen (path) + 1;
  char *epath = malloc (cap);

  if (edc && eds && epath) {
    char *o = epath;
    const char *p = path;
    *o = '\0';
    while (*p) {
      size_t n = strcspn (p, "/");
      char *seg = strndup (p, n), *es = seg ? escape (seg) : NULL;
      free (seg);
      if (es == NULL) {
        free (epath);
        epath = NULL;
        break;
      }
      o += sprintf (o, "%s%s", o == epath ? "" : "/", es);
      free (es);
      p += n;
      while (*p == '/')
        p++;
    }
    if (epath && asprintf (&url, "%s/folder/%s?dcPath=%s&dsName=%s", w->base,
                           epath, edc, eds) == -1)
      url = NULL;
  }
  free (edc);
  free (eds);
  free (epath);
  if (url == NULL)
    nomem ();
  return url;
}

static struct vmi_layer *
open_ds_file (const struct vmi_vmw *w, const char *ds, const char *path)
{
  struct vmi_http_session sess = {
    session_cookie, session_renew, session_release, vmi_vmw_soap_ref (w->soap),
  };
  char *url = folder_url (w, ds, path);
  struct vmi_layer *l;

  if (url == NULL) {
    vmi_vmw_soap_unref (sess.opaque);
    return NULL;
  }
  l = vmi_http_open_session (url, &w->http_opts, &sess);
  free (url);
  return l;
}

/* The files beside a disk's descriptor: the same datastore folder. */
struct sibling {
  struct vmi_opener op;
  const struct vmi_vmw *w;
  const char *ds;
  char *dir;
};

/* "/vmfs/volumes/<uuid or name>/rest": the datastore whose name is that,
 * or whose summary.url ends in /vmfs/volumes/<uuid>/.  NULL if none. */
static const char *
vmfs_datastore (const struct vmi_vmw *w, const char *abs, const char **rest)
{
  static const char prefix[] = "/vmfs/volumes/";
  const char *id;
  size_t n;

  if (strncmp (abs, prefix, sizeof prefix - 1) != 0)
    return NULL;
  id = abs + sizeof prefix - 1;
  n = strcspn (id, "/");
  *rest = id + n + strspn (id + n, "/");
  for (size_t i = 0; n > 0 && i < w->nds; i++) {
    const char *u = w->ds[i].url, *at;
    size_t ul;
    if (strlen (w->ds[i].name) == n && strncmp (w->ds[i].name, id, n) == 0)
      return w->ds[i].name;
    if (u == NULL || (at = strstr (u, prefix)) == NULL)
      continue;
    at += sizeof prefix - 1;
    ul = strcspn (at, "/");
    if (ul == n && strncmp (at, id, n) == 0)
      return w->ds[i].name;
  }
  return NULL;
}

static struct vmi_layer *
open_sibling (const struct vmi_opener *o, const char *relpath)
{
  const struct sibling *sb = (const struct sibling *) o;
  const char *ds = sb->ds, *dir = sb->dir, *rest;
  char *path;
  struct vmi_layer *l;

  /* A linked clone's parent is named by its absolute VMFS path. */
  if (relpath[0] == '/' && (ds = vmfs_datastore (sb->w, relpath, &rest))) {
    dir = "";
    relpath = rest;
  }
  else
    ds = sb->ds;
  if ((path = ds_join (ds, dir, relpath)) == NULL)
    return NULL;
  l = open_ds_file (sb->w, ds, path);
  free (path);
  return l;
}

/* Has VM a snapshot of ours?  Under w->lock. */
static bool
has_snapshot (const struct vmi_vmw *w, const struct vmi_vm *vm)
{
  for (size_t i = 0; i < w->nsnaps; i++)
    if (w->snaps[i].vm_id && strcmp (w->snaps[i].vm_id, vm->id) == 0)
      return true;
  return false;
}

static int
take_snapshot (struct vmi_vmw *w, const struct vmi_vm *vm)
{
  struct snap *v;
  char *moref = NULL;
  int r = -1;

  pthread_mutex_lock (&w->lock);
  if (has_snapshot (w, vm)) {
    pthread_mutex_unlock (&w->lock);
    return 0;
  }
  if (vmi_vmw_snapshot_create (w->soap, vm, &moref) == -1)
    goto out;
  if ((v = realloc (w->snaps, (w->nsnaps + 1) * sizeof *v)) == NULL) {
    vmi_vmw_snapshot_remove (w->soap, vm->name, moref);
    nomem ();
    goto out;
  }
  w->snaps = v;
  v[w->nsnaps].moref = moref;
  v[w->nsnaps].vm_id = strdup (vm->id);
  v[w->nsnaps].vm_name = strdup (vm->name);
  w->nsnaps++;
  moref = NULL;
  if (v[w->nsnaps - 1].vm_id == NULL || v[w->nsnaps - 1].vm_name == NULL)
    nomem ();   /* kept anyway: close still removes the snapshot */
  else
    r = 0;
 out:
  free (moref);
  pthread_mutex_unlock (&w->lock);
  return r;
}

/* A running VM's disks are read only with --snapshot (its disks as they
 * were at the snapshot: the backing files named by the inventory, which
 * was read before it) or --allow-running (said loudly). */
static int
check_running (struct vmi_provider *p, const struct vmi_vm *vm)
{
  struct vmi_vmw *w = p->priv;
  char *state = NULL;
  bool off;

  if (vmi_vmw_power_state (w->soap, vm->id, &state) == -1)
    return -1;
  off = strcmp (state, "poweredOff") == 0;
  if (off) {
    free (state);
    return 0;
  }
  if (p->opts.snapshot) {
    free (state);
    return take_snapshot (w, vm);
  }
  if (p->opts.allow_running) {
    vmi_log (VMI_LOG_WARN, "VM %s is %s: reading its disks while it runs "
             "(--allow-running): the copy is crash-consistent at best",
             vm->name, state);
    free (state);
    return 0;
  }
  errno = EBUSY;
  vmi_error ("VM %s (%s) is %s: its disks change while they are read; power "
             "it off first (vmimport poweroff), or give --snapshot (read "
             "under a temporary snapshot) or --allow-running "
             "(crash-consistent)", vm->name, vm->id, state);
  free (state);
  return -1;
}

static struct vmi_layer *
vmi_vmw_open_disk (struct vmi_provider *p, const struct vmi_vm *vm, size_t i)
{
  struct vmi_vmw *w = p->priv;
  const struct vmi_vmw_disk *d = vm->disks[i].provider_data;
  struct sibling sb = { { open_sibling, NULL }, w, d->datastore, NULL };
  const char *slash = strrchr (d->path, '/');
  struct vmi_layer *f, *l;
  const char *format = NULL;

  if (check_running (p, vm) == -1)
    return NULL;
  sb.op.opaque = &sb;
  sb.dir = slash ? strndup (d->path, (size_t) (slash - d->path)) : strdup ("");
  if (sb.dir == NULL) {
    nomem ();
    return NULL;
  }
  f = open_ds_file (w, d->datastore, d->path);
  l = f ? vmi_format_open (f, &sb.op, &format) : NULL;
  free (sb.dir);
  if (l == NULL) {
    vmi_error_prefix ("VM %s disk %zu ([%s] %s)", vm->name, i, d->datastore,
                      d->path);
    return NULL;
  }
  if (format == NULL || strcmp (format, "vmdk") != 0) {
    vmi_log (VMI_LOG_WARN, "VM %s disk %zu: [%s] %s is %s, not a VMDK",
             vm->name, i, d->datastore, d->path, format ? format : "unknown");
  }
  return l;
}

static int
vmi_vmw_power_off_op (struct vmi_provider *p, const struct vmi_vm *vm, bool force,
                  int timeout_seconds)
{
  struct vmi_vmw *w = p->priv;

  return vmi_vmw_power_off (w->soap, vm, force, timeout_seconds);
}

static void
vmi_vmw_close (struct vmi_provider *p)
{
  struct vmi_vmw *w = p->priv;

  if (w == NULL)
    return;
  for (size_t i = 0; i < w->nsnaps; i++) {
    const char *name = w->snaps[i].vm_name ? w->snaps[i].vm_name : "?";
    if (vmi_vmw_snapshot_remove (w->soap, name, w->snaps[i].moref) == -1)
      vmi_log (VMI_LOG_ERROR, "%s; remove snapshot %s of VM %s by hand",
               vmi_error_get (), w->snaps[i].moref, name);
    else
      vmi_log (VMI_LOG_INFO, "VM %s: snapshot %s removed", name,
               w->snaps[i].moref);
    free (w->snaps[i].moref);
    free (w->snaps[i].vm_id);
    free (w->snaps[i].vm_name);
  }
  free (w->snaps);
  vmi_vmw_datastores_free (w->ds, w->nds);
  pthread_mutex_destroy (&w->lock);
  for (size_t i = 0; i < p->nvms; i++)
    vmi_vmw_vm_data_free (p->vms[i]);
  vmi_vmw_soap_unref (w->soap);
  vmi_source_opts_clear (&w->http_opts);
  free (w->base);
  free (w->dc);
  free (w);
}

static const struct vmi_provider_ops vmi_vmw_ops = {
  .name = "vmware",
  .open_disk = vmi_vmw_open_disk,
  .power_off = vmi_vmw_power_off_op,
  .close = vmi_vmw_close,
};

/* ---- opening ---- */

/* The datacenter PATH starts with (inside folders or not), and the VM
 * folder after it; DC_ONLY: PATH must be the datacenter itself. */
static int
vmi_vmw_locate (struct vmi_vmw *w, const char *path, bool dc_only,
                char **folder)
{
  size_t n;

  if (vmi_vmw_datacenter (w->soap, path, &w->dc, folder) == -1)
    return -1;
  if (dc_only && **folder) {
    errno = EINVAL;
    vmi_error ("%s: %s is not a datacenter but the folder %s of datacenter "
               "%s", vmi_vmw_soap_endpoint (w->soap), path, *folder, w->dc);
    return -1;
  }
  /* A trailing '/' of the folder is not part of its name. */
  n = strlen (*folder);
  while (n > 0 && (*folder)[n - 1] == '/')
    (*folder)[--n] = '\0';
  return 0;
}

/* ENDPOINT is https://host[:port]/sdk, BASE https://host[:port]; PATH is
 * the datacenter (DC_ONLY) or DC[/FOLDER...]; HOSTPORT names the source in
 * vm.json (vmware://HOSTPORT/DC). */
static struct vmi_provider *
vmi_vmw_open (const char *endpoint, const char *base, const char *hostport,
              const char *path, bool dc_only,
              const struct vmi_source_opts *o)
{
  struct vmi_vmw *w = calloc (1, sizeof *w);
  struct vmi_provider *p;
  char *folder = NULL, *where = NULL;

  if (w == NULL || (w->base = strdup (base)) == NULL) {
    free (w);
    nomem ();
    return NULL;
  }
  pthread_mutex_init (&w->lock, NULL);
  w->http_opts = *o;
  w->http_opts.username = w->http_opts.password = NULL;
  w->http_opts.allow_outside_paths = w->http_opts.only_vm = NULL;
  w->http_opts.ca_cert_file = o->ca_cert_file ? strdup (o->ca_cert_file) : NULL;
  w->http_opts.ca_cert_pem = o->ca_cert_pem ? strdup (o->ca_cert_pem) : NULL;
  if ((p = vmi_provider_new (&vmi_vmw_ops, w, o)) == NULL) {
    vmi_source_opts_clear (&w->http_opts);
    pthread_mutex_destroy (&w->lock);
    free (w->base);
    free (w);
    return NULL;
  }
  p->lazy_disks = true;
  if ((w->soap = vmi_vmw_soap_new (endpoint, &p->opts)) == NULL
      || vmi_vmw_soap_connect (w->soap) == -1
      || vmi_vmw_locate (w, path, dc_only, &folder) == -1)
    goto fail;
  if (asprintf (&where, "vmware://%s/%s", hostport, w->dc) == -1) {
    where = NULL;
    nomem ();
    goto fail;
  }
  if (vmi_vmw_inventory (w->soap, p, w->dc, folder, where, &w->ds,
                         &w->nds) == -1)
    goto fail;
  free (folder);
  free (where);
  return p;
 fail:
  free (folder);
  free (where);
  vmi_provider_close (p);
  return NULL;
}

static char *
url_part (CURLU *u, CURLUPart what, unsigned flags)
{
  char *v = NULL, *d = NULL;

  if (curl_url_get (u, what, &v, flags) == CURLUE_OK && v)
    d = strdup (v);
  curl_free (v);
  return d;
}

/* vmware://USER@HOST[:PORT]/DC[/FOLDER...], DC possibly inside folders
 * (FOLDER/DC/...) */
struct vmi_provider *
vmi_vmware_provider_open (const char *source, const struct vmi_source_opts *o)
{
  CURLU *u = curl_url ();
  struct vmi_source_opts opts = *o;
  char *user = NULL, *pass = NULL, *host = NULL, *port = NULL, *path = NULL,
       *endpoint = NULL, *base = NULL;
  const char *folder;
  struct vmi_provider *p = NULL;

  if (u == NULL) {
    nomem ();
    return NULL;
  }
  if (curl_url_set (u, CURLUPART_URL, source,
                    CURLU_NON_SUPPORT_SCHEME) != CURLUE_OK
      || (host = url_part (u, CURLUPART_HOST, 0)) == NULL) {
    errno = EINVAL;
    vmi_error ("%.*s...: not a valid vmware://USER@HOST[:PORT]/DATACENTER"
               "[/FOLDER] URL", (int) strcspn (source, "@"), source);
    goto out;
  }
  user = url_part (u, CURLUPART_USER, CURLU_URLDECODE);
  pass = url_part (u, CURLUPART_PASSWORD, 0);
  port = url_part (u, CURLUPART_PORT, 0);
  path = url_part (u, CURLUPART_PATH, CURLU_URLDECODE);
  if (pass) {
    errno = EINVAL;
    vmi_error ("vmware://%s: the URL holds a password; give it with "
               "--password-file, a Secret or VMIMPORT_PASSWORD instead", host);
    goto out;
  }
  folder = path ? path + strspn (path, "/") : "";
  if (*folder == '\0') {
    errno = EINVAL;
    vmi_error ("vmware://%s: no datacenter in the URL (vmware://USER@HOST/"
               "DATACENTER[/FOLDER]; a standalone ESXi host's is "
               "ha-datacenter)", host);
    goto out;
  }
  if (asprintf (&base, "https://%s%s%s", host, port ? ":" : "",
                port ? port : "") == -1
      || asprintf (&endpoint, "%s/sdk", base) == -1) {
    nomem ();
    goto out;
  }
  if (opts.username == NULL)
    opts.username = user;
  /* The datacenter may sit in folders: which prefix of the path is the
   * datacenter is asked of the server. */
  p = vmi_vmw_open (endpoint, base, base + strlen ("https://"), folder, false,
                    &opts);
 out:
  curl_url_cleanup (u);
  free (user);
  if (pass) {
    explicit_bzero (pass, strlen (pass));
    free (pass);
  }
  free (host);
  free (port);
  free (path);
  free (endpoint);
  free (base);
  return p;
}

/* A VmwareSource: ENDPOINT https://HOST[:PORT]/sdk and DC. */
struct vmi_provider *
vmi_vmware_endpoint_open (const char *endpoint, const char *dc,
                          const struct vmi_source_opts *o)
{
  CURLU *u = curl_url ();
  char *scheme = NULL, *host = NULL, *port = NULL, *base = NULL,
       *where = NULL, *path = NULL, *sdk = NULL;
  struct vmi_provider *p = NULL;

  if (u == NULL) {
    nomem ();
    return NULL;
  }
  if (dc == NULL || *dc == '\0') {
    errno = EINVAL;
    vmi_error ("%s: VmwareSource has no spec.dc (the datacenter; a "
               "standalone ESXi host's is ha-datacenter)", endpoint);
    goto out;
  }
  if (curl_url_set (u, CURLUPART_URL, endpoint, 0) != CURLUE_OK
      || (scheme = url_part (u, CURLUPART_SCHEME, 0)) == NULL
      || (host = url_part (u, CURLUPART_HOST, 0)) == NULL
      || (strcasecmp (scheme, "https") != 0 && strcasecmp (scheme, "http") != 0)) {
    errno = EINVAL;
    vmi_error ("%s: spec.endpoint is not an https://HOST/sdk URL", endpoint);
    goto out;
  }
  port = url_part (u, CURLUPART_PORT, 0);
  path = url_part (u, CURLUPART_PATH, 0);
  if (asprintf (&base, "%s://%s%s%s", scheme, host, port ? ":" : "",
                port ? port : "") == -1
      /* "https://vcenter" means its /sdk, as Harvester's controller reads it */
      || asprintf (&sdk, "%s%s", base, path && strcmp (path, "/") != 0
                                       ? path : "/sdk") == -1
      || asprintf (&where, "%s%s%s", host, port ? ":" : "",
                   port ? port : "") == -1) {
    nomem ();
    goto out;
  }
  p = vmi_vmw_open (sdk, base, where, dc, true, o);
 out:
  curl_url_cleanup (u);
  free (path);
  free (sdk);
  free (scheme);
  free (host);
  free (port);
  free (base);
  free (where);
  return p;
}
