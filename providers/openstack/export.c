/* OpenStack disk exports, started when a disk is first opened.
 *
 *   volume:  snapshot (force) -> volume from it -> os-volume_upload_image
 *            (qcow2 by default: the image stays sparse) -> image active
 *   image:   createImage of the server (booted from an image) -> active
 *
 * then disk-N.img reads /v2/images/{id}/file with range requests through
 * the HTTP transport (token header, renewed), the format layer on top.
 * Every object made here is named OS_TMP_PREFIX... (and tagged) and
 * recorded; the snapshot and the volume are deleted as soon as the image
 * is active, the image when the provider closes.  What a killed import
 * leaves is found by name by os_cleanup_all (vmimport cleanup). */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>

#include "vmimport/error.h"
#include "vmimport/formats.h"
#include "vmimport/transport.h"
#include "os-internal.h"

#define POLL_MAX 2.0   /* seconds between polls of a snapshot or volume */

/* Temporary objects made by this process, deleted at close. */
struct tmp_obj {
  char service[8];   /* "volume" / "image" */
  char path[160];    /* "/snapshots/ID", "/volumes/ID", "/images/ID" */
};
static pthread_mutex_t tmp_lock = PTHREAD_MUTEX_INITIALIZER;
struct tmp_list {
  struct os_client *owner;
  struct tmp_obj *v;
  size_t n;
  struct tmp_list *next;
};
static struct tmp_list *tmp_lists;

static struct tmp_list *
tmp_list_of (struct os_client *c)
{
  struct tmp_list *t;

  for (t = tmp_lists; t; t = t->next)
    if (t->owner == c)
      return t;
  if ((t = calloc (1, sizeof *t)) == NULL)
    return NULL;
  t->owner = c;
  t->next = tmp_lists;
  tmp_lists = t;
  return t;
}

static void
tmp_add (struct os_client *c, const char *service, const char *path)
{
  struct tmp_list *t;
  struct tmp_obj *v;

  pthread_mutex_lock (&tmp_lock);
  if ((t = tmp_list_of (c)) != NULL
      && (v = realloc (t->v, (t->n + 1) * sizeof *v)) != NULL) {
    t->v = v;
    snprintf (v[t->n].service, sizeof v[t->n].service, "%s", service);
    snprintf (v[t->n].path, sizeof v[t->n].path, "%s", path);
    t->n++;
  }
  pthread_mutex_unlock (&tmp_lock);
}

static void
tmp_forget (struct os_client *c, const char *path)
{
  struct tmp_list *t;

  pthread_mutex_lock (&tmp_lock);
  if ((t = tmp_list_of (c)) != NULL)
    for (size_t i = 0; i < t->n; i++)
      if (strcmp (t->v[i].path, path) == 0) {
        t->v[i] = t->v[--t->n];
        break;
      }
  pthread_mutex_unlock (&tmp_lock);
}

/* DELETE, already gone is fine.  Logs (does not fail) when it cannot. */
static void
delete_obj (struct os_client *c, const char *service, const char *path)
{
  long st;

  if (os_call_status (c, service, "DELETE", path, NULL, NULL, 404, &st) == -1)
    vmi_log (VMI_LOG_WARN, "could not delete the temporary %s: %s", path,
             vmi_error_get ());
  tmp_forget (c, path);
}

void
os_export_cleanup_own (struct os_client *c)
{
  struct tmp_list *t, **pp;

  pthread_mutex_lock (&tmp_lock);
  for (pp = &tmp_lists; (t = *pp) != NULL; pp = &t->next)
    if (t->owner == c) {
      *pp = t->next;
      break;
    }
  pthread_mutex_unlock (&tmp_lock);
  if (t == NULL)
    return;
  /* Images first, then volumes, then the snapshots they came from. */
  for (int pass = 0; pass < 3; pass++)
    for (size_t i = 0; i < t->n; i++) {
      const char *p = t->v[i].path;
      if ((pass == 0 && strncmp (p, "/images/", 8) == 0)
          || (pass == 1 && strncmp (p, "/volumes/", 9) == 0)
          || (pass == 2 && strncmp (p, "/snapshots/", 11) == 0)) {
        long st;
        if (os_call_status (c, t->v[i].service, "DELETE", p, NULL, NULL, 404,
                            &st) == -1)
          vmi_log (VMI_LOG_WARN, "could not delete the temporary %s: %s "
                   "('vmimport cleanup' removes it later)", p,
                   vmi_error_get ());
      }
    }
  free (t->v);
  free (t);
}

static double
now_seconds (void)
{
  struct timespec ts;

  clock_gettime (CLOCK_MONOTONIC, &ts);
  return (double) ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Poll GET PATH until MEMBER.status is WANT, for POLLS times DELAY seconds
 * in all (the first polls come sooner: small disks are quick).  "error*",
 * "killed" and "deleted" end it. */
static int
wait_status (struct os_client *c, const char *service, const char *path,
             const char *member, const char *want, int polls, double delay,
             const char *what)
{
  double d = delay > 0 && delay < 0.5 ? delay : 0.5;
  double end = now_seconds () + polls * delay;

  for (;;) {
    json_object *j = NULL, *o;
    const char *st;
    char now[32];

    if (os_call (c, service, "GET", path, NULL, &j) == -1)
      return -1;
    o = j;
    if (member)
      json_object_object_get_ex (j, member, &o);
    st = os_jstr (o, "status");
    snprintf (now, sizeof now, "%s", st ? st : "?");
    json_object_put (j);
    if (strcmp (now, want) == 0)
      return 0;
    if (strncmp (now, "error", 5) == 0 || strcmp (now, "killed") == 0
        || strcmp (now, "deleted") == 0) {
      errno = EIO;
      vmi_error ("%s: %s %s went to status \"%s\"", service[0] == 'i'
                 ? "glance" : "cinder", what, path, now);
      return -1;
    }
    if (now_seconds () >= end) {
      errno = ETIMEDOUT;
      vmi_error ("%s: %s %s is still \"%s\" after %d polls (%.0f s apart); "
                 "more with uploadImageRetryCount / upload_retry_count",
                 service[0] == 'i' ? "glance" : "cinder", what, path, now,
                 polls, delay);
      return -1;
    }
    os_sleep (d);
    d = d * 2 > delay ? delay : d * 2;
  }
}

static json_object *
tmp_metadata (void)
{
  json_object *m = json_object_new_object ();

  json_object_object_add (m, "vmimport", json_object_new_string ("temporary"));
  return m;
}

/* Where what a POST makes is listed, to find it by name. */
struct made {
  const char *service;   /* "volume" / "image" */
  const char *list;      /* "/snapshots/detail", "/volumes/detail", "/images" */
  const char *key;       /* the list's member */
  const char *item;      /* "/snapshots/%s" ... */
};
static const struct made made_snapshot = {
  "volume", "/snapshots/detail", "snapshots", "/snapshots/%s" };
static const struct made made_volume = {
  "volume", "/volumes/detail", "volumes", "/volumes/%s" };
static const struct made made_image = { "image", "/images", "images", "/images/%s" };

/* After a POST that failed with a server error: delete what it may have
 * left under NAME (Nova makes the image before it fails to record the
 * snapshot task, and leaves it "queued" for good). */
static void
drop_leftovers (struct os_client *c, const struct made *m, const char *name)
{
  json_object *items = NULL;
  char *enc = curl_easy_escape (NULL, name, 0), path[400];

  if (strcmp (m->service, "image") == 0)
    snprintf (path, sizeof path, "%s?owner=%s&name=%s", m->list,
              c->project_id ? c->project_id : "", enc ? enc : "");
  else
    snprintf (path, sizeof path, "%s?name=%s", m->list, enc ? enc : "");
  curl_free (enc);
  if (os_list_all (c, m->service, path, m->key, &items) == -1) {
    vmi_log (VMI_LOG_WARN, "%s", vmi_error_get ());
    return;
  }
  for (size_t i = 0; i < os_jlen (items); i++) {
    json_object *o = json_object_array_get_idx (items, i);
    const char *n = os_jstr (o, "name"), *id = os_jstr (o, "id");
    const char *st = os_jstr (o, "status");
    if (n == NULL || id == NULL || strcmp (n, name) || !os_id_ok (id)
        || (st && (strncmp (st, "delet", 5) == 0 || strcmp (st, "killed") == 0)))
      continue;
    snprintf (path, sizeof path, m->item, id);
    vmi_log (VMI_LOG_INFO, "openstack: removing %s, left by the call that "
             "failed", path);
    delete_obj (c, m->service, path);
  }
  json_object_put (items);
}

/* POST to SERVICE PATH; the new object's id from OUT_MEMBER.id (or
 * OUT_MEMBER itself when it is a string, as image_id is).  A server error
 * (5xx: "database is locked", a restarting service) is tried twice more,
 * after removing what the failed call made (M, named NAME): an export is
 * minutes of the cloud's work, not to be lost to one hiccup. */
static char *
create (struct os_client *c, const char *service, const char *path,
        json_object *body, const char *m1, const char *m2,
        const struct made *m, const char *name)
{
  json_object *j = NULL, *o;
  const char *id;
  char *r = NULL;

  for (int attempt = 0;; attempt++) {
    long st = 0;
    if (os_call_status (c, service, "POST", path, body, &j, 0, &st) == 0)
      break;
    if (st < 500 || attempt == 2)
      return NULL;
    vmi_log (VMI_LOG_WARN, "%s (trying again in %d s)", vmi_error_get (),
             2 << attempt);
    os_sleep (2 << attempt);
    drop_leftovers (c, m, name);
  }
  o = j;
  if (m1)
    json_object_object_get_ex (o, m1, &o);
  id = os_jstr (o, m2);
  if (id && !os_id_ok (id)) {
    errno = EPROTO;
    vmi_error ("%s: POST %s: the answer's %s is not an OpenStack id: "
               "\"%.80s\"", service, path, m2, id);
  }
  else if (id == NULL || (r = strdup (id)) == NULL) {
    errno = EPROTO;
    vmi_error ("%s: POST %s: no %s in the answer", service, path, m2);
  }
  json_object_put (j);
  return r;
}

static char *
snapshot_volume (struct os_client *c, const char *volume, const char *name)
{
  json_object *b = json_object_new_object (), *s = json_object_new_object ();
  char path[160], *id;

  json_object_object_add (s, "volume_id", json_object_new_string (volume));
  json_object_object_add (s, "force", json_object_new_boolean (1));
  json_object_object_add (s, "name", json_object_new_string (name));
  json_object_object_add (s, "description", json_object_new_string
                          ("vmimport: temporary, for an export"));
  json_object_object_add (s, "metadata", tmp_metadata ());
  json_object_object_add (b, "snapshot", s);
  id = create (c, "volume", "/snapshots", b, "snapshot", "id", &made_snapshot,
               name);
  json_object_put (b);
  if (id == NULL)
    return NULL;
  snprintf (path, sizeof path, "/snapshots/%s", id);
  tmp_add (c, "volume", path);
  if (wait_status (c, "volume", path, "snapshot", "available", 600, POLL_MAX,
                   "snapshot") == -1) {
    free (id);
    return NULL;
  }
  return id;
}

static char *
volume_from_snapshot (struct os_client *c, const char *snap, int64_t gib,
                      const char *name)
{
  json_object *b = json_object_new_object (), *v = json_object_new_object ();
  char path[160], *id;

  json_object_object_add (v, "snapshot_id", json_object_new_string (snap));
  json_object_object_add (v, "size", json_object_new_int64 (gib));
  json_object_object_add (v, "name", json_object_new_string (name));
  json_object_object_add (v, "metadata", tmp_metadata ());
  json_object_object_add (b, "volume", v);
  id = create (c, "volume", "/volumes", b, "volume", "id", &made_volume, name);
  json_object_put (b);
  if (id == NULL)
    return NULL;
  snprintf (path, sizeof path, "/volumes/%s", id);
  tmp_add (c, "volume", path);
  if (wait_status (c, "volume", path, "volume", "available", 900, POLL_MAX,
                   "volume") == -1) {
    free (id);
    return NULL;
  }
  return id;
}

static char *
upload_volume (struct os_client *c, const char *volume, const char *name)
{
  json_object *b = json_object_new_object (), *u = json_object_new_object ();
  char path[160], *id;

  json_object_object_add (u, "image_name", json_object_new_string (name));
  json_object_object_add (u, "disk_format",
                          json_object_new_string (c->cfg.disk_format));
  json_object_object_add (u, "container_format", json_object_new_string ("bare"));
  json_object_object_add (u, "force", json_object_new_boolean (0));
  json_object_object_add (b, "os-volume_upload_image", u);
  snprintf (path, sizeof path, "/volumes/%s/action", volume);
  id = create (c, "volume", path, b, "os-volume_upload_image", "image_id",
               &made_image, name);
  json_object_put (b);
  return id;
}

static char *
server_image (struct os_client *c, const char *server, const char *name)
{
  json_object *b = json_object_new_object (), *u = json_object_new_object ();
  char path[160], *id;

  json_object_object_add (u, "name", json_object_new_string (name));
  json_object_object_add (u, "metadata", tmp_metadata ());
  json_object_object_add (b, "createImage", u);
  snprintf (path, sizeof path, "/servers/%s/action", server);
  id = create (c, "compute", path, b, NULL, "image_id", &made_image, name);
  json_object_put (b);
  return id;
}

/* Tag the image, wait until it is active (unless !WAIT).  The image is
 * recorded as ours first. */
static int
image_ready (struct os_client *c, const char *image, bool keep, bool wait)
{
  char path[160];

  snprintf (path, sizeof path, "/images/%s", image);
  tmp_add (c, "image", path);
  for (int k = 0; k < (keep ? 2 : 1); k++) {
    snprintf (path, sizeof path, "/images/%s/tags/%s", image,
              k == 0 ? OS_TMP_TAG : OS_EXPORT_TAG);
    if (os_call (c, "image", "PUT", path, NULL, NULL) == -1) {
      if (k == 1)
        return -1;   /* not findable again: no use keeping it */
      vmi_log (VMI_LOG_WARN, "%s", vmi_error_get ());
    }
  }
  snprintf (path, sizeof path, "/images/%s", image);
  if (!wait)
    return 0;
  return wait_status (c, "image", path, NULL, "active",
                      c->cfg.upload_retry_count, c->cfg.upload_retry_delay,
                      "image");
}

/* Delete the temporary volume VOL and the snapshot SNAP (either may be
 * NULL) once the image holds the bytes (IMAGE_DONE) or the export failed.
 * A volume made from a snapshot may hold on to it (Ceph clones): the
 * snapshot is deleted once the volume is gone. */
static void
drop_staging (struct os_client *c, const char *vol, const char *snap,
              bool image_done)
{
  char path[160];

  if (vol) {
    snprintf (path, sizeof path, "/volumes/%s", vol);
    if (image_done)   /* after the upload the volume goes back to available */
      wait_status (c, "volume", path, "volume", "available", 30, POLL_MAX,
                   "volume");
    delete_obj (c, "volume", path);
    for (int k = 0; snap && k < 120; k++) {
      long st = 0;
      if (os_call_status (c, "volume", "GET", path, NULL, NULL, 404, &st) == -1
          || st == 404)
        break;
      os_sleep (0.5);
    }
  }
  if (snap) {
    snprintf (path, sizeof path, "/snapshots/%s", snap);
    delete_obj (c, "volume", path);
  }
}

/* The ID of the first item of LIST (Cinder's answer to a name filter)
 * whose name is exactly NAME, or NULL. */
static char *
named_id (struct os_client *c, const char *list, const char *key,
          const char *name)
{
  json_object *items = NULL;
  char *enc = curl_easy_escape (NULL, name, 0), path[300], *r = NULL;

  snprintf (path, sizeof path, "%s?name=%s", list, enc ? enc : "");
  curl_free (enc);
  if (os_list_all (c, "volume", path, key, &items) == -1)
    return NULL;
  for (size_t i = 0; i < os_jlen (items) && r == NULL; i++) {
    json_object *o = json_object_array_get_idx (items, i);
    const char *n = os_jstr (o, "name"), *id = os_jstr (o, "id");
    const char *st = os_jstr (o, "status");
    if (n && id && strcmp (n, name) == 0
        && !(st && strncmp (st, "delet", 5) == 0))   /* already going */
      r = strdup (id);
  }
  json_object_put (items);
  return r;
}

/* An image "vmimport export" made for NAME (tagged OS_EXPORT_TAG), not
 * failed: its ID, or NULL (*FAILED set when the lookup itself failed). */
static char *
exported_image (struct os_client *c, const char *name, bool *failed)
{
  json_object *items = NULL;
  char *enc = curl_easy_escape (NULL, name, 0), path[400], *r = NULL;

  snprintf (path, sizeof path, "/images?owner=%s&name=%s&tag=" OS_EXPORT_TAG,
            c->project_id ? c->project_id : "", enc ? enc : "");
  curl_free (enc);
  *failed = os_list_all (c, "image", path, "images", &items) == -1;
  for (size_t i = 0; i < os_jlen (items) && r == NULL; i++) {
    json_object *o = json_object_array_get_idx (items, i);
    const char *n = os_jstr (o, "name"), *id = os_jstr (o, "id");
    const char *st = os_jstr (o, "status");
    if (n && id && st && strcmp (n, name) == 0 && strcmp (st, "killed")
        && strcmp (st, "deleted") && strcmp (st, "pending_delete"))
      r = strdup (id);
  }
  if (items)
    json_object_put (items);
  return r;
}

/* Read an image a "vmimport export" made: wait until it is active, then
 * remove the volume and snapshot that export left (it may not have waited
 * for the upload).  The image itself stays ("vmimport cleanup"). */
static int
adopt (struct os_client *c, const char *img, const char *name, bool wait)
{
  char path[160], *vol, *snap;

  vmi_log (VMI_LOG_INFO, "openstack: reading image %s, exported earlier (%s)",
           img, name);
  snprintf (path, sizeof path, "/images/%s", img);
  if (!wait)
    return 0;
  if (wait_status (c, "image", path, NULL, "active", c->cfg.upload_retry_count,
                   c->cfg.upload_retry_delay, "image") == -1)
    return -1;
  vol = named_id (c, "/volumes/detail", "volumes", name);
  snap = named_id (c, "/snapshots/detail", "snapshots", name);
  drop_staging (c, vol, snap, true);
  free (vol);
  free (snap);
  return 0;
}

/* The Glance image ID holding the bytes of disk I of VM.  KEEP (vmimport
 * export): the image is tagged OS_EXPORT_TAG and stays after the provider
 * closes; !WAIT: return once Glance has the image (the upload runs on;
 * the temporary volume and snapshot are removed by whoever reads the image
 * first, or by vmimport cleanup).  An image an earlier export made is
 * read instead of exporting again. */
static char *
export_disk (struct os_client *c, const struct vmi_vm *vm, size_t i,
             bool keep, bool wait)
{
  const struct vmi_disk *d = &vm->disks[i];
  const char *data = d->provider_data;
  char name[200], path[160], *snap = NULL, *vol = NULL, *img = NULL;
  char cause[1024];
  bool failed;

  snprintf (name, sizeof name, OS_TMP_PREFIX "%s-disk%zu", vm->id, i);
  if ((img = exported_image (c, name, &failed)) != NULL || failed) {
    if (img && adopt (c, img, name, wait) == -1) {
      free (img);
      return NULL;
    }
    return img;
  }
  vmi_log (VMI_LOG_INFO, "openstack: exporting disk %zu of %s (%s)", i,
           vm->name, data);
  if (data[0] == 'i') {
    if ((img = server_image (c, vm->id, name)) == NULL)
      return NULL;
  }
  else {
    if ((snap = snapshot_volume (c, data + 2, name)) == NULL
        || (vol = volume_from_snapshot (c, snap, d->capacity >> 30, name)) == NULL
        || (img = upload_volume (c, vol, name)) == NULL)
      goto out;
  }
  if (image_ready (c, img, keep, wait) == -1) {
    free (img);
    img = NULL;
  }
 out:
  if (img == NULL)   /* the cleanup below must not replace the cause */
    snprintf (cause, sizeof cause, "%s", vmi_error_get ());
  if (img && !wait) {
    /* The upload runs on: the volume and snapshot stay for now. */
    snprintf (path, sizeof path, "/volumes/%s", vol ? vol : "");
    tmp_forget (c, path);
    snprintf (path, sizeof path, "/snapshots/%s", snap ? snap : "");
    tmp_forget (c, path);
  }
  else
    drop_staging (c, vol, snap, img != NULL);
  if (img && keep) {   /* it stays after this provider closes */
    snprintf (path, sizeof path, "/images/%s", img);
    tmp_forget (c, path);
  }
  free (snap);
  free (vol);
  if (img == NULL) {
    errno = EIO;
    vmi_error ("%s", cause);
  }
  return img;
}

int
os_export_start (struct os_client *c, struct vmi_vm *vm, size_t i, bool wait)
{
  struct vmi_disk *d = &vm->disks[i];
  json_object *j = NULL;
  char *img = export_disk (c, vm, i, true, wait), path[160];
  const char *st;

  if (img == NULL) {
    vmi_error_prefix ("%s disk %zu", vm->name, i);
    return -1;
  }
  snprintf (path, sizeof path, "/images/%s", img);
  if (os_call (c, "image", "GET", path, NULL, &j) == -1) {
    free (img);
    return -1;
  }
  st = os_jstr (j, "status");
  free (d->export_state);
  free (d->export_id);
  d->export_id = img;
  d->export_state = strdup (st && strcmp (st, "active") == 0 ? "ready"
                            : "exporting");
  json_object_put (j);
  if (d->export_state == NULL) {
    errno = ENOMEM;
    vmi_error ("out of memory");
    return -1;
  }
  return 0;
}

struct vmi_layer *
os_export_open (struct vmi_provider *p, struct os_client *c,
                const struct vmi_vm *vm, size_t i)
{
  struct vmi_source_opts o = p->opts;
  struct vmi_http_session session = {
    .cookie = os_token_dup, .renew = os_token_renew, .opaque = c,
  };
  struct vmi_layer *t;
  char *img, *url;

  if ((img = export_disk (c, vm, i, false, true)) == NULL) {
    vmi_error_prefix ("%s disk %zu", vm->name, i);
    return NULL;
  }
  if (asprintf (&url, "%s/images/%s/file", c->image, img) == -1) {
    free (img);
    errno = ENOMEM;
    vmi_error ("out of memory");
    return NULL;
  }
  free (img);
  /* Glance gets the token, never the user's password. */
  o.username = o.password = NULL;
  t = vmi_http_open_session_header (url, &o, &session, "X-Auth-Token");
  free (url);
  if (t == NULL)
    return NULL;
  return vmi_format_open (t, NULL, NULL);
}

/* Delete LIST's members whose name starts with OS_TMP_PREFIX.  Returns the
 * number still there (deleting, or could not be deleted). */
static int
delete_named (struct os_client *c, const char *service, const char *list_path,
              const char *member, const char *item_path, int *removed)
{
  json_object *arr = NULL;
  int left = 0;

  /* Every page: ours may come after a page of the project's own. */
  if (os_list_all (c, service, list_path, member, &arr) == -1)
    return -1;
  for (size_t i = 0; i < os_jlen (arr); i++) {
    json_object *o = json_object_array_get_idx (arr, i);
    const char *name = os_jstr (o, "name"), *id = os_jstr (o, "id");
    const char *st = os_jstr (o, "status");
    char path[200];
    long code;
    if (name == NULL || id == NULL || !os_id_ok (id)
        || strncmp (name, OS_TMP_PREFIX, strlen (OS_TMP_PREFIX)) != 0)
      continue;   /* not ours (an id not to put in a path: not ours either) */
    left++;
    if (st && (strcmp (st, "deleting") == 0 || strcmp (st, "deleted") == 0))
      continue;
    snprintf (path, sizeof path, item_path, id);
    if (os_call_status (c, service, "DELETE", path, NULL, NULL, 404, &code) == -1)
      vmi_log (VMI_LOG_WARN, "%s", vmi_error_get ());
    else {
      printf ("removed %s %s (%s)\n", member, id, name);
      (*removed)++;
    }
  }
  json_object_put (arr);
  return left;
}

int
os_cleanup_all (struct os_client *c)
{
  char images[200];
  int removed = 0, left = 0;

  snprintf (images, sizeof images, "/images?owner=%s&limit=1000",
            c->project_id ? c->project_id : "");
  /* Images, then volumes; snapshots once the volumes made from them are
   * gone.  Each pass waits until what it deleted is gone (two minutes). */
  for (int pass = 0; pass < 3; pass++) {
    for (int k = 0; k < 240; k++) {
      if (pass == 0)
        left = delete_named (c, "image", images, "images", "/images/%s", &removed);
      else if (pass == 1)
        left = delete_named (c, "volume", "/volumes/detail", "volumes",
                             "/volumes/%s", &removed);
      else
        left = delete_named (c, "volume", "/snapshots/detail", "snapshots",
                             "/snapshots/%s", &removed);
      if (left <= 0)
        break;
      os_sleep (0.5);
    }
    if (left < 0)
      return -1;
    if (left > 0) {
      errno = EBUSY;
      vmi_error ("openstack: %d temporary %s of vmimport are still there after "
                 "two minutes", left, pass == 0 ? "images" : pass == 1
                 ? "volumes" : "snapshots");
      return -1;
    }
  }
  printf ("%d temporary object%s removed\n", removed, removed == 1 ? "" : "s");
  return 0;
}

int
os_power_off (struct os_client *c, const struct vmi_vm *vm, int timeout_seconds)
{
  json_object *b = json_object_new_object ();
  char path[160];
  int polls = timeout_seconds > 0 ? timeout_seconds * 2 : 120;
  int r;

  snprintf (path, sizeof path, "/servers/%s/action", vm->id);
  json_object_object_add (b, "os-stop", NULL);
  r = os_call (c, "compute", "POST", path, b, NULL);
  json_object_put (b);
  if (r == -1 && errno != EIO)
    return -1;
  /* 409: already stopped (or stopping) - wait all the same. */
  snprintf (path, sizeof path, "/servers/%s", vm->id);
  for (int i = 0; i <= polls; i++) {
    json_object *j = NULL, *s;
    const char *st;
    if (os_call (c, "compute", "GET", path, NULL, &j) == -1)
      return -1;
    json_object_object_get_ex (j, "server", &s);
    st = os_jstr (s, "status");
    r = st && strcmp (st, "SHUTOFF") == 0;
    json_object_put (j);
    if (r)
      return 0;
    os_sleep (0.5);
  }
  errno = ETIMEDOUT;
  vmi_error ("nova: server %s (%s) is not SHUTOFF %d s after os-stop",
             vm->name, vm->id, timeout_seconds);
  return -1;
}
