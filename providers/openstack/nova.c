/* OpenStack inventory: the project's servers (Nova, flavor embedded with
 * microversion 2.47+), their volumes (Cinder: size, attachment device,
 * the boot image's properties) and boot images (Glance), as VMs.
 *
 * Disks in boot order: the root disk of a server booted from an image
 * first, then the attached volumes sorted by device name (/dev/vda,
 * /dev/vdb, ...).  Firmware, secure boot, TPM and disk bus come from the
 * boot image's properties (hw_firmware_type, os_secure_boot, hw_tpm_model,
 * hw_disk_bus), read from Glance or from the boot volume's
 * volume_image_metadata.  NICs come from the server's addresses. */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "vmimport/error.h"
#include "os-internal.h"
#include "../providers.h"

#define GIB (INT64_C (1) << 30)

struct attached {
  const char *device;
  json_object *volume;
};

static int
by_device (const void *a, const void *b)
{
  const struct attached *x = a, *y = b;
  size_t lx = x->device ? strlen (x->device) : 0;
  size_t ly = y->device ? strlen (y->device) : 0;

  /* "/dev/vdz" before "/dev/vdaa"; unknown devices last. */
  if (!x->device || !y->device)
    return !x->device - !y->device;
  if (lx != ly)
    return lx < ly ? -1 : 1;
  return strcmp (x->device, y->device);
}

static json_object *
find_volume (json_object *volumes, const char *id)
{
  for (size_t i = 0; i < os_jlen (volumes); i++) {
    json_object *v = json_object_array_get_idx (volumes, i);
    const char *vid = os_jstr (v, "id");
    if (vid && strcmp (vid, id) == 0)
      return v;
  }
  return NULL;
}

/* The device name of VOLUME's attachment to SERVER. */
static const char *
attachment_device (json_object *volume, const char *server)
{
  json_object *atts;

  if (!json_object_object_get_ex (volume, "attachments", &atts))
    return NULL;
  for (size_t i = 0; i < os_jlen (atts); i++) {
    json_object *a = json_object_array_get_idx (atts, i);
    const char *s = os_jstr (a, "server_id");
    if (s && strcmp (s, server) == 0)
      return os_jstr (a, "device");
  }
  return NULL;
}

static int
set_str (char **field, const char *value)
{
  if (value == NULL)
    return 0;
  free (*field);
  return (*field = strdup (value)) ? 0 : -1;
}

/* Firmware, secure boot, TPM, bus and NIC model from image properties. */
static int
apply_image_properties (struct vmi_vm *vm, json_object *props)
{
  const char *fw = os_jstr (props, "hw_firmware_type");
  const char *sb = os_jstr (props, "os_secure_boot");
  const char *bus = os_jstr (props, "hw_disk_bus");
  const char *os = os_jstr (props, "os_distro");
  const char *tpm = os_jstr (props, "hw_tpm_model");

  if (fw && set_str (&vm->firmware, strcmp (fw, "uefi") == 0 ? "efi" : fw) == -1)
    return -1;
  if (sb)
    vm->secure_boot = strcmp (sb, "required") == 0 ? 1
                      : strcmp (sb, "disabled") == 0 ? 0 : -1;
  /* Nova's vTPM: hw_tpm_version asks for one, hw_tpm_model says which;
   * image properties without either: none. */
  vm->tpm = tpm || os_jstr (props, "hw_tpm_version") ? 1 : props ? 0 : -1;
  if (set_str (&vm->guest_os, os) == -1)
    return -1;
  for (size_t i = 0; bus && i < vm->ndisks; i++)
    if (set_str (&vm->disks[i].bus, bus) == -1)
      return -1;
  for (size_t i = 0; i < vm->nnics; i++)
    if (set_str (&vm->nics[i].model, os_jstr (props, "hw_vif_model")) == -1)
      return -1;
  return 0;
}

static struct vmi_disk *
add_disk (struct vmi_vm *vm, int64_t capacity, const char *kind,
          const char *id, const char *name)
{
  struct vmi_disk *d = vmi_vm_add_disk (vm);

  if (d == NULL)
    return NULL;
  d->capacity = capacity;
  if (asprintf ((char **) &d->provider_data, "%s %s", kind, id) == -1) {
    d->provider_data = NULL;
    return NULL;
  }
  if ((d->source_format = strdup (kind[0] == 'v' ? "cinder-volume"
                                  : "glance-image")) == NULL
      || (d->source_name = strdup (name ? name : id)) == NULL
      || (d->export_state = strdup ("none")) == NULL)
    return NULL;
  return d;
}

/* A size OpenStack gives in GiB, in bytes; -1 (unknown) when it is
   missing, negative or too large for an int64_t. */
static int64_t
gib_to_bytes (int64_t gib)
{
  int64_t bytes;

  if (gib < 0 || __builtin_mul_overflow (gib, GIB, &bytes))
    return -1;
  return bytes;
}

static int
add_nics (struct vmi_vm *vm, json_object *server)
{
  json_object *addrs;

  if (!json_object_object_get_ex (server, "addresses", &addrs)
      || !json_object_is_type (addrs, json_type_object))
    return 0;
  json_object_object_foreach (addrs, net, list) {
    for (size_t i = 0; i < os_jlen (list); i++) {
      json_object *a = json_object_array_get_idx (list, i);
      const char *mac = os_jstr (a, "OS-EXT-IPS-MAC:mac_addr");
      bool seen = false;
      struct vmi_nic *n;
      for (size_t k = 0; mac && k < vm->nnics; k++)
        seen |= vm->nics[k].mac && strcmp (vm->nics[k].mac, mac) == 0;
      if (seen)
        continue;   /* one port, several addresses (IPv4 and IPv6) */
      if ((n = vmi_vm_add_nic (vm)) == NULL
          || (n->network = strdup (net)) == NULL
          || (mac && (n->mac = strdup (mac)) == NULL))
        return -1;
    }
  }
  return 0;
}

/* A flavor's ephemeral and swap disks: Nova makes them on the compute
 * host, and no API exports them (createImage takes the root disk only).
 * They are not disks of the VM here; a note says so (vm.json "notes",
 * printed as a warning by copy, manifest and import). */
static int
note_local_disks (struct vmi_vm *vm, json_object *flavor)
{
  const char *fl = os_jstr (flavor, "original_name");
  int64_t eph = os_jint (flavor, "ephemeral", 0);
  int64_t swap = os_jint (flavor, "swap", 0);   /* MiB; "" when none (old) */

  if (eph > 0 && vmi_vm_add_note (vm, "flavor %s has a %" PRId64 " GiB "
                                  "ephemeral disk: OpenStack cannot export it, "
                                  "it is not imported (its data is lost; "
                                  "recreate it on the target)",
                                  fl ? fl : "(unnamed)", eph) == -1)
    return -1;
  if (swap > 0 && vmi_vm_add_note (vm, "flavor %s has a %" PRId64 " MiB swap "
                                   "disk: OpenStack cannot export it, it is not "
                                   "imported (give the target VM swap space "
                                   "of its own)", fl ? fl : "(unnamed)",
                                   swap) == -1)
    return -1;
  return 0;
}

static const char *
power_state (const char *status)
{
  if (status == NULL)
    return NULL;
  if (strcmp (status, "ACTIVE") == 0)
    return "on";
  if (strcmp (status, "SHUTOFF") == 0)
    return "off";
  if (strcmp (status, "SUSPENDED") == 0 || strcmp (status, "PAUSED") == 0)
    return "suspended";
  return NULL;
}

/* The boot image's description, or NULL (deleted image: properties
 * unknown, not an error). */
static json_object *
get_image (struct os_client *c, const char *id)
{
  json_object *img = NULL;
  char path[128];
  long st;

  if (c == NULL)
    return NULL;   /* describing saved answers (tests, fuzzing) */
  snprintf (path, sizeof path, "/images/%s", id);
  if (os_call_status (c, "image", "GET", path, NULL, &img, 404, &st) == -1)
    return NULL;
  return img;
}

static int
describe (struct os_client *c, const char *where, json_object *server,
          json_object *volumes, struct vmi_vm *vm)
{
  const char *sid = os_jstr (server, "id");
  json_object *flavor = NULL, *image = NULL, *atts = NULL, *img = NULL;
  struct attached *list = NULL;
  size_t n = 0;
  int r = -1;

  if (set_str (&vm->id, sid) == -1 || set_str (&vm->source_kind, "openstack") == -1
      || set_str (&vm->source_where, where) == -1
      || set_str (&vm->power_state, power_state (os_jstr (server, "status"))) == -1)
    goto out;
  if (json_object_object_get_ex (server, "flavor", &flavor)) {
    int64_t vcpus = os_jint (flavor, "vcpus", -1);
    vm->cpus = vcpus > 0 && vcpus <= INT_MAX ? (int) vcpus : -1;
    int64_t ram = os_jint (flavor, "ram", -1);
    vm->memory_mib = ram >= 0 ? ram : -1;   /* negative: unknown */
    if (note_local_disks (vm, flavor) == -1)
      goto out;
  }
  if (add_nics (vm, server) == -1)
    goto out;

  /* Booted from an image: the root disk is the first disk. */
  if (json_object_object_get_ex (server, "image", &image)
      && json_object_is_type (image, json_type_object) && os_jstr (image, "id")) {
    int64_t cap = gib_to_bytes (os_jint (flavor, "disk", 0));
    if (!os_id_ok (os_jstr (image, "id"))) {
      errno = EPROTO;
      vmi_error ("nova: GET /servers/detail: server %s boots from an image "
                 "whose id is not an OpenStack id: \"%.80s\"", sid,
                 os_jstr (image, "id"));
      goto out;
    }
    img = get_image (c, os_jstr (image, "id"));
    if (cap <= 0)
      cap = os_jint (img, "virtual_size", -1);
    if (cap < 0)
      cap = -1;   /* negative: unknown */
    if (add_disk (vm, cap, "i", sid, os_jstr (img, "name")) == NULL)
      goto out;
  }
  if (json_object_object_get_ex (server, "os-extended-volumes:volumes_attached",
                                 &atts)) {
    size_t na = os_jlen (atts);
    if ((list = calloc (na + 1, sizeof *list)) == NULL)
      goto out;
    for (size_t i = 0; i < na; i++) {
      const char *vid = os_jstr (json_object_array_get_idx (atts, i), "id");
      json_object *v = vid ? find_volume (volumes, vid) : NULL;
      if (v == NULL)
        continue;   /* not visible to this project */
      if (!os_id_ok (vid)) {
        errno = EPROTO;
        vmi_error ("cinder: GET /volumes/detail: the volume attached to "
                   "server %s has an id that is not an OpenStack id: "
                   "\"%.80s\"", sid, vid);
        goto out;
      }
      list[n].volume = v;
      list[n++].device = attachment_device (v, sid);
    }
    qsort (list, n, sizeof *list, by_device);
    for (size_t i = 0; i < n; i++)
      if (add_disk (vm, gib_to_bytes (os_jint (list[i].volume, "size", -1)), "v",
                    os_jstr (list[i].volume, "id"),
                    os_jstr (list[i].volume, "name")) == NULL)
        goto out;
  }
  if (img)
    r = apply_image_properties (vm, img);
  else if (n > 0) {
    json_object *meta = NULL;
    json_object_object_get_ex (list[0].volume, "volume_image_metadata", &meta);
    r = apply_image_properties (vm, meta);
  }
  else
    r = 0;
 out:
  if (r == -1 && errno != ENOENT && errno != EACCES && errno != EIO
      && errno != EPROTO) {
    errno = ENOMEM;
    vmi_error ("out of memory");
  }
  if (img)
    json_object_put (img);
  free (list);
  return r;
}

int
os_vms_from_json (struct vmi_provider *p, struct os_client *c,
                  const char *project, json_object *servers,
                  json_object *volumes)
{
  json_object *sl, *vl = NULL;
  char *where = NULL;
  int r = -1;

  if (!json_object_object_get_ex (servers, "servers", &sl)
      || !json_object_is_type (sl, json_type_array)) {
    errno = EPROTO;
    vmi_error ("nova: GET /servers/detail: no \"servers\" list in the answer");
    return -1;
  }
  if (!json_object_object_get_ex (volumes, "volumes", &vl)
      || !json_object_is_type (vl, json_type_array)) {
    errno = EPROTO;
    vmi_error ("cinder: GET /volumes/detail: no \"volumes\" list in the answer");
    return -1;
  }
  if (asprintf (&where, "openstack project %s", project) == -1) {
    errno = ENOMEM;
    vmi_error ("out of memory");
    return -1;
  }
  for (size_t i = 0; i < os_jlen (sl); i++) {
    json_object *s = json_object_array_get_idx (sl, i);
    const char *name = os_jstr (s, "name") ? os_jstr (s, "name") : os_jstr (s, "id");
    struct vmi_vm *vm;
    if (name == NULL || os_jstr (s, "id") == NULL) {
      errno = EPROTO;
      vmi_error ("nova: GET /servers/detail: server %zu has no id", i);
      goto out;
    }
    if (!os_id_ok (os_jstr (s, "id"))) {
      errno = EPROTO;
      vmi_error ("nova: GET /servers/detail: server %zu (%s) has an id that "
                 "is not an OpenStack id (letters, digits, '-' and '_', at "
                 "most %d): \"%.80s\"", i, name, OS_ID_MAX, os_jstr (s, "id"));
      goto out;
    }
    vm = vmi_vm_new (name);
    if (vm == NULL || describe (c, where, s, vl, vm) == -1
        || vmi_provider_add_vm (p, vm) == -1) {
      vmi_vm_free (vm);
      goto out;
    }
  }
  r = 0;
 out:
  free (where);
  return r;
}

/* Does S look like a server ID (a UUID)? */
static bool
looks_like_id (const char *s)
{
  if (strlen (s) != 36)
    return false;
  for (int i = 0; i < 36; i++)
    if (i == 8 || i == 13 || i == 18 || i == 23 ? s[i] != '-'
        : !strchr ("0123456789abcdefABCDEF", s[i]))
      return false;
  return true;
}

/* ^NAME$ with NAME's regular-expression characters escaped, URL-encoded:
 * Nova's name filter is a regular expression. */
static char *
name_filter (const char *name)
{
  size_t n = strlen (name);
  char *re = malloc (2 * n + 3), *q = re, *enc, *r = NULL;

  if (re == NULL)
    return NULL;
  *q++ = '^';
  for (const char *s = name; *s; s++) {
    if (strchr ("\\.^$|?*+()[]{}", *s))
      *q++ = '\\';
    *q++ = *s;
  }
  *q++ = '$';
  *q = 0;
  if ((enc = curl_easy_escape (NULL, re, 0)) != NULL
      && asprintf (&r, "/servers/detail?name=%s", enc) == -1)
    r = NULL;
  curl_free (enc);
  free (re);
  return r;
}

/* The servers named or numbered WANT: GET /servers/ID when it looks like
 * an ID (a 404 falls back to the name), else the name filter. */
static int
find_servers (struct os_client *c, const char *want, json_object **servers)
{
  char *path;
  int r;

  if (looks_like_id (want)) {
    json_object *one = NULL, *s;
    char p[64];
    long st;
    snprintf (p, sizeof p, "/servers/%s", want);
    if (os_call_status (c, "compute", "GET", p, NULL, &one, 404, &st) == -1)
      return -1;
    if (st != 404 && json_object_object_get_ex (one, "server", &s)) {
      *servers = json_object_new_array ();
      json_object_array_add (*servers, json_object_get (s));
      json_object_put (one);
      return 0;
    }
    if (one)
      json_object_put (one);
  }
  if ((path = name_filter (want)) == NULL) {
    errno = ENOMEM;
    vmi_error ("out of memory");
    return -1;
  }
  r = os_list_all (c, "compute", path, "servers", servers);
  free (path);
  return r;
}

/* The volumes attached to SERVERS, one GET each (not the project's list). */
static int
attached_volumes (struct os_client *c, json_object *servers,
                  json_object **volumes)
{
  *volumes = json_object_new_array ();
  for (size_t i = 0; i < os_jlen (servers); i++) {
    json_object *atts = NULL;
    json_object_object_get_ex (json_object_array_get_idx (servers, i),
                               "os-extended-volumes:volumes_attached", &atts);
    for (size_t k = 0; k < os_jlen (atts); k++) {
      const char *id = os_jstr (json_object_array_get_idx (atts, k), "id");
      json_object *v = NULL, *vol;
      char p[64];
      long st;
      if (id == NULL || strlen (id) > 40)
        continue;
      snprintf (p, sizeof p, "/volumes/%s", id);
      if (os_call_status (c, "volume", "GET", p, NULL, &v, 404, &st) == -1)
        return -1;
      if (st != 404 && json_object_object_get_ex (v, "volume", &vol))
        json_object_array_add (*volumes, json_object_get (vol));
      if (v)
        json_object_put (v);
    }
  }
  return 0;
}

/* Each disk's export state (vm.json "export"): an image a "vmimport
 * export" made for it (named OS_TMP_PREFIX<server>-diskN, tagged
 * OS_EXPORT_TAG) is "ready" once active, "exporting" before; else
 * "none". */
static int
export_states (struct vmi_provider *p, struct os_client *c)
{
  json_object *images = NULL;
  char path[200];

  snprintf (path, sizeof path, "/images?owner=%s&tag=" OS_EXPORT_TAG,
            c->project_id ? c->project_id : "");
  if (os_list_all (c, "image", path, "images", &images) == -1)
    return -1;
  for (size_t v = 0; v < p->nvms; v++)
    for (size_t i = 0; i < p->vms[v]->ndisks; i++) {
      struct vmi_disk *d = &p->vms[v]->disks[i];
      const char *state = "none", *img = NULL;
      char name[200];
      snprintf (name, sizeof name, OS_TMP_PREFIX "%s-disk%zu", p->vms[v]->id, i);
      for (size_t k = 0; k < os_jlen (images); k++) {
        json_object *o = json_object_array_get_idx (images, k);
        const char *n = os_jstr (o, "name"), *st = os_jstr (o, "status");
        if (n == NULL || strcmp (n, name) != 0 || st == NULL
            || strcmp (st, "killed") == 0 || strcmp (st, "deleted") == 0
            || strcmp (st, "pending_delete") == 0)
          continue;
        img = os_jstr (o, "id");
        state = strcmp (st, "active") == 0 ? "ready" : "exporting";
      }
      if (set_str (&d->export_state, state) == -1
          || set_str (&d->export_id, img) == -1) {
        json_object_put (images);
        errno = ENOMEM;
        vmi_error ("out of memory");
        return -1;
      }
    }
  json_object_put (images);
  return 0;
}

int
os_list_servers (struct vmi_provider *p, struct os_client *c)
{
  json_object *servers = NULL, *vols = NULL, *so, *vo;
  const char *only = p->opts.only_vm;
  int r = -1;

  /* One VM named (vmimport --vm): that server and its volumes only, not
   * the project's lists. */
  if ((only ? find_servers (c, only, &servers)
       : os_list_all (c, "compute", "/servers/detail", "servers", &servers)) == -1
      || (only ? attached_volumes (c, servers, &vols)
          : os_list_all (c, "volume", "/volumes/detail", "volumes", &vols)) == -1)
    goto out;
  so = json_object_new_object ();
  vo = json_object_new_object ();
  json_object_object_add (so, "servers", servers);
  json_object_object_add (vo, "volumes", vols);
  servers = so;
  vols = vo;
  r = os_vms_from_json (p, c, c->cfg.project, servers, vols);
  if (r == 0)
    r = export_states (p, c);
 out:
  if (servers)
    json_object_put (servers);
  if (vols)
    json_object_put (vols);
  return r;
}
