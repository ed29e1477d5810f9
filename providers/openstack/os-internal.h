/* OpenStack provider internals: the API client (client.c), the inventory
 * (nova.c), the disk exports (export.c) and the provider (openstack.c). */
#ifndef VMIMPORT_OS_INTERNAL_H
#define VMIMPORT_OS_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>
#include <time.h>

#include <curl/curl.h>
#include <json-c/json.h>

#include "vmimport/provider.h"

/* Names of every temporary object we create start with this, so that an
 * import that ended (or died) can be cleaned up by name. */
#define OS_TMP_PREFIX "vmimport-tmp-"
#define OS_TMP_TAG "vmimport-temporary"
/* Images a "vmimport export" made also carry this tag: a later copy or
 * mount of the same server reads them (adopts them) instead of exporting
 * again, and leaves them for "vmimport cleanup". */
#define OS_EXPORT_TAG "vmimport-export"

/* What the user gave: the URL or OpenstackSource + Secret. */
struct os_config {
  char *auth_url;        /* Keystone, ending in /v3 */
  char *project;         /* project name */
  char *user_domain;     /* default "Default" */
  char *project_domain;  /* default: user_domain */
  char *region;          /* NULL: the only region of the catalog */
  int upload_retry_count;  /* polls of an upload before giving up (30) */
  int upload_retry_delay;  /* seconds between polls (10) */
  char *disk_format;     /* of the uploaded images: "qcow2" (default) / "raw" */
  int renew_before;      /* seconds before its end a token is renewed (300) */
};

void os_config_clear(struct os_config *c);

/* One client per provider.  Calls are serialised (control plane only). */
struct os_client {
  pthread_mutex_t lock;
  struct os_config cfg;
  const struct vmi_source_opts *opts;  /* the provider's */
  CURL *h;
  char *token;           /* never logged */
  time_t expires;
  char *project_id;
  char *compute, *volume, *image;  /* public endpoints (image with /v2) */
};

/* Authenticate (Keystone v3 password, project scope) and read the catalog.
 * Takes CFG.  Returns 0 or -1 with an error that says what was wrong. */
int os_client_init(struct os_client *c, struct os_config *cfg,
                   const struct vmi_source_opts *opts);
void os_client_clear(struct os_client *c);

/* METHOD PATH on SERVICE ("compute", "volume", "image"), BODY (may be NULL).
 * *OUT (when OUT is not NULL) gets the parsed JSON body (NULL if empty).
 * A 2xx answer is success; anything else is an error naming the service,
 * the call and OpenStack's own message.  The token is renewed when it is
 * near its end, or once after a 401. */
int os_call(struct os_client *c, const char *service, const char *method,
            const char *path, json_object *body, json_object **out);
/* Like os_call, but *STATUS gets the HTTP status and no error is recorded
 * for STATUS == ACCEPT (a 404 when deleting what is already gone). */
int os_call_status(struct os_client *c, const char *service,
                   const char *method, const char *path, json_object *body,
                   json_object **out, long accept, long *status);

/* Every item of the list GET PATH on SERVICE answers under KEY
 * ("servers", "volumes", "images"), page after page: Nova, Cinder and
 * Glance give at most their max_limit items per call and say there is
 * more ("next" link); the next page starts after the last item (marker).
 * *ITEMS gets a new array (caller puts it). */
int os_list_all(struct os_client *c, const char *service, const char *path,
                const char *key, json_object **items);

/* The HTTP transport's session (vmi_http_session, header X-Auth-Token): a
 * valid token (renewed when near its end; caller frees; NULL when the
 * login fails), and a new one after a 401 unless REFUSED was already
 * replaced.  Thread-safe. */
char *os_token_dup(void *client);
int os_token_renew(void *client, const char *refused);

/* The public compute, volume and image endpoints of Keystone's TOKEN (the
 * "token" member of its answer) in C's region into C->compute, volume and
 * image.  0, or -1 with an error naming the regions there are.  Called
 * on its own by fuzz-openstack. */
int os_read_catalog(struct os_client *c, json_object *token);

/* An id from an answer that goes into a request path ("/servers/ID"):
 * letters, digits, '-' and '_', at most OS_ID_MAX of them (UUIDs are 36).
 * Anything else ("..", '/', '?', or so long that the path is cut) would
 * name another object than the one the answer meant. */
#define OS_ID_MAX 64
bool os_id_ok(const char *id);

/* JSON helpers: a member's string / integer, or NULL / DEF. */
const char *os_jstr(json_object *o, const char *key);
/* Items of A if it is an array, else 0. */
size_t os_jlen(json_object *a);
int64_t os_jint(json_object *o, const char *key, int64_t def);

/* Inventory: every server of the project as a VM (nova.c). */
int os_list_servers(struct vmi_provider *p, struct os_client *c);
/* The VMs Nova's servers/detail answer SERVERS and Cinder's volumes/detail
 * answer VOLUMES describe, added to P.  C may be NULL (tests, fuzzing):
 * boot images are then not looked up. */
int os_vms_from_json(struct vmi_provider *p, struct os_client *c,
                     const char *project, json_object *servers,
                     json_object *volumes);

/* A disk's bytes: export it (snapshot, volume, image) and open the Glance
 * image as a raw-view layer (export.c).  DATA is the disk's provider_data. */
struct vmi_layer *os_export_open(struct vmi_provider *p, struct os_client *c,
                                 const struct vmi_vm *vm, size_t disk_index);
/* vmimport export: start the export of disk I of VM (or find the one an
 * earlier export started), kept after the provider closes; with WAIT,
 * until the image is active.  Sets the disk's export_state / export_id. */
int os_export_start(struct os_client *c, struct vmi_vm *vm, size_t i,
                    bool wait);
/* Delete every temporary object this provider made. */
void os_export_cleanup_own(struct os_client *c);
/* Delete every temporary object of ours in the project (vmimport cleanup). */
int os_cleanup_all(struct os_client *c);
/* os-stop, then wait for SHUTOFF for at most TIMEOUT seconds. */
int os_power_off(struct os_client *c, const struct vmi_vm *vm,
                 int timeout_seconds);

/* Sleep SECONDS (fractions allowed). */
void os_sleep(double seconds);

#endif
