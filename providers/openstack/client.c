/* OpenStack API client: Keystone v3 password auth scoped to a project, the
 * service catalog, JSON calls to Nova, Cinder and Glance with the token
 * renewed before it ends.  libcurl + json-c.  The password and the token
 * never appear in a message. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "vmimport/error.h"
#include "vmimport/transport.h"
#include "os-internal.h"

#define MAX_BODY (64u << 20)

struct reply {
  char *body;
  size_t len;
  char *token;         /* X-Subject-Token */
  bool too_big;
};

void
os_sleep (double seconds)
{
  struct timespec ts = { (time_t) seconds,
                         (long) ((seconds - (double) (time_t) seconds) * 1e9) };

  while (nanosleep (&ts, &ts) == -1 && errno == EINTR)
    ;
}

const char *
os_jstr (json_object *o, const char *key)
{
  json_object *v;

  if (o && json_object_object_get_ex (o, key, &v)
      && json_object_is_type (v, json_type_string))
    return json_object_get_string (v);
  return NULL;
}

bool
os_id_ok (const char *id)
{
  size_t n = id ? strlen (id) : 0;

  if (n == 0 || n > OS_ID_MAX)
    return false;
  for (size_t i = 0; i < n; i++)
    if (!((id[i] >= 'a' && id[i] <= 'z') || (id[i] >= 'A' && id[i] <= 'Z')
          || (id[i] >= '0' && id[i] <= '9') || id[i] == '-' || id[i] == '_'))
      return false;
  return true;
}

/* Answers are untrusted: a list that is not a JSON array has no items
 * (json-c's own length aborts on anything else). */
size_t
os_jlen (json_object *a)
{
  return a && json_object_is_type (a, json_type_array)
         ? json_object_array_length (a) : 0;
}

int64_t
os_jint (json_object *o, const char *key, int64_t def)
{
  json_object *v;

  if (o && json_object_object_get_ex (o, key, &v)
      && (json_object_is_type (v, json_type_int)
          || json_object_is_type (v, json_type_double)))
    return json_object_get_int64 (v);
  return def;
}

void
os_config_clear (struct os_config *c)
{
  free (c->auth_url);
  free (c->project);
  free (c->user_domain);
  free (c->project_domain);
  free (c->region);
  free (c->disk_format);
  memset (c, 0, sizeof *c);
}

static size_t
body_cb (char *data, size_t size, size_t n, void *opaque)
{
  struct reply *r = opaque;
  size_t len = size * n;
  char *b;

  if (r->len + len > MAX_BODY) {
    r->too_big = true;
    return 0;
  }
  if ((b = realloc (r->body, r->len + len + 1)) == NULL)
    return 0;
  memcpy (b + r->len, data, len);
  r->len += len;
  b[r->len] = '\0';
  r->body = b;
  return len;
}

static size_t
header_cb (char *line, size_t size, size_t n, void *opaque)
{
  struct reply *r = opaque;
  size_t len = size * n;
  static const char name[] = "x-subject-token:";

  if (len > sizeof name - 1 && strncasecmp (line, name, sizeof name - 1) == 0) {
    const char *v = line + sizeof name - 1;
    size_t vl = len - (sizeof name - 1);
    while (vl && (*v == ' ' || *v == '\t'))
      v++, vl--;
    while (vl && (v[vl - 1] == '\r' || v[vl - 1] == '\n' || v[vl - 1] == ' '))
      vl--;
    free (r->token);
    r->token = strndup (v, vl);
  }
  return len;
}

static void
reply_clear (struct reply *r)
{
  free (r->body);
  if (r->token) {
    explicit_bzero (r->token, strlen (r->token));
    free (r->token);
  }
  memset (r, 0, sizeof *r);
}

/* OpenStack's own words from an error body: {"itemNotFound": {"message":
 * ...}}, {"error": {"message": ...}}, {"message": ...}, or the text. */
static void
error_text (const struct reply *r, char *out, size_t len)
{
  json_object *j = r->body ? json_tokener_parse (r->body) : NULL;
  const char *m = NULL;

  out[0] = '\0';
  if (j && json_object_is_type (j, json_type_object)) {
    if ((m = os_jstr (j, "message")) == NULL
        && (m = os_jstr (j, "error_message")) == NULL) {
      json_object_object_foreach (j, k, v) {
        (void) k;
        if (json_object_is_type (v, json_type_object)
            && (m = os_jstr (v, "message")) != NULL)
          break;
      }
    }
  }
  if (m)
    snprintf (out, len, "%s", m);
  else if (r->body) {
    /* Text or HTML: keep the words, drop the tags and line breaks. */
    size_t o = 0;
    bool tag = false;
    for (const char *s = r->body; *s && o + 1 < len; s++) {
      if (*s == '<')
        tag = true;
      else if (*s == '>')
        tag = false;
      else if (!tag && (*s != ' ' || (o && out[o - 1] != ' '))) {
        out[o++] = (*s == '\n' || *s == '\r' || *s == '\t') ? ' ' : *s;
        if (o > 1 && out[o - 1] == ' ' && out[o - 2] == ' ')
          o--;
      }
    }
    out[o] = '\0';
  }
  if (j)
    json_object_put (j);
}

static void
set_tls (struct os_client *c, CURL *h)
{
  const struct vmi_source_opts *o = c->opts;

  if (o->insecure) {
    curl_easy_setopt (h, CURLOPT_SSL_VERIFYPEER, 0L);
    curl_easy_setopt (h, CURLOPT_SSL_VERIFYHOST, 0L);
  }
  else if (o->ca_cert_file)
    curl_easy_setopt (h, CURLOPT_CAINFO, o->ca_cert_file);
  else if (o->ca_cert_pem) {
    struct curl_blob blob = { o->ca_cert_pem, strlen (o->ca_cert_pem),
                              CURL_BLOB_COPY };
    curl_easy_setopt (h, CURLOPT_CAINFO_BLOB, &blob);
  }
}

/* One HTTP exchange on the client's handle.  Returns the curl code; *STATUS
 * the HTTP status. */
static CURLcode
perform (struct os_client *c, const char *method, const char *url,
         const char *body, const char *token, const char *service,
         struct reply *r, long *status)
{
  struct curl_slist *hdrs = NULL;
  char *auth = NULL;
  CURLcode rc;
  CURL *h = c->h;

  curl_easy_reset (h);
  curl_easy_setopt (h, CURLOPT_URL, url);
  curl_easy_setopt (h, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt (h, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt (h, CURLOPT_FOLLOWLOCATION, 0L);
  curl_easy_setopt (h, CURLOPT_TIMEOUT, c->opts->timeout_seconds > 0
                    ? c->opts->timeout_seconds : 0L);
  curl_easy_setopt (h, CURLOPT_CONNECTTIMEOUT, c->opts->connect_timeout_seconds > 0
                    ? c->opts->connect_timeout_seconds : 30L);
  curl_easy_setopt (h, CURLOPT_USERAGENT, "vmimport/" VMIMPORT_VERSION);
  curl_easy_setopt (h, CURLOPT_CUSTOMREQUEST, method);
  curl_easy_setopt (h, CURLOPT_WRITEFUNCTION, body_cb);
  curl_easy_setopt (h, CURLOPT_WRITEDATA, r);
  curl_easy_setopt (h, CURLOPT_HEADERFUNCTION, header_cb);
  curl_easy_setopt (h, CURLOPT_HEADERDATA, r);
  set_tls (c, h);
  hdrs = curl_slist_append (hdrs, "Accept: application/json");
  if (service && strcmp (service, "compute") == 0)
    hdrs = curl_slist_append (hdrs, "OpenStack-API-Version: compute 2.79");
  if (service && strcmp (service, "image") == 0 && strcmp (method, "PATCH") == 0)
    hdrs = curl_slist_append (hdrs, "Content-Type: "
                              "application/openstack-images-v2.1-json-patch");
  else if (body)
    hdrs = curl_slist_append (hdrs, "Content-Type: application/json");
  if (token && asprintf (&auth, "X-Auth-Token: %s", token) != -1)
    hdrs = curl_slist_append (hdrs, auth);
  curl_easy_setopt (h, CURLOPT_HTTPHEADER, hdrs);
  if (body) {
    curl_easy_setopt (h, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt (h, CURLOPT_POSTFIELDSIZE, (long) strlen (body));
  }
  rc = curl_easy_perform (h);
  *status = 0;
  curl_easy_getinfo (h, CURLINFO_RESPONSE_CODE, status);
  curl_easy_setopt (h, CURLOPT_HTTPHEADER, NULL);
  curl_easy_setopt (h, CURLOPT_POSTFIELDS, NULL);
  curl_slist_free_all (hdrs);   /* libcurl copies the header lines it sends */
  if (auth) {
    explicit_bzero (auth, strlen (auth));
    free (auth);
  }
  return rc;
}

static json_object *
auth_body (const struct os_client *c, bool scoped)
{
  const struct os_config *g = &c->cfg;
  json_object *user = json_object_new_object ();
  json_object *udom = json_object_new_object ();
  json_object *pw = json_object_new_object ();
  json_object *id = json_object_new_object ();
  json_object *methods = json_object_new_array ();
  json_object *auth = json_object_new_object ();
  json_object *root = json_object_new_object ();

  json_object_object_add (udom, "name", json_object_new_string (g->user_domain));
  json_object_object_add (user, "name",
                          json_object_new_string (c->opts->username));
  json_object_object_add (user, "domain", udom);
  json_object_object_add (user, "password",
                          json_object_new_string (c->opts->password));
  json_object_object_add (pw, "user", user);
  json_object_array_add (methods, json_object_new_string ("password"));
  json_object_object_add (id, "methods", methods);
  json_object_object_add (id, "password", pw);
  json_object_object_add (auth, "identity", id);
  if (scoped) {
    json_object *scope = json_object_new_object ();
    json_object *proj = json_object_new_object ();
    json_object *pdom = json_object_new_object ();
    json_object_object_add (pdom, "name",
                            json_object_new_string (g->project_domain));
    json_object_object_add (proj, "name", json_object_new_string (g->project));
    json_object_object_add (proj, "domain", pdom);
    json_object_object_add (scope, "project", proj);
    json_object_object_add (auth, "scope", scope);
  }
  json_object_object_add (root, "auth", auth);
  return root;
}

/* POST /v3/auth/tokens.  Returns the HTTP status (or -1: no answer) and
 * fills R. */
static long
auth_request (struct os_client *c, bool scoped, struct reply *r)
{
  json_object *b = auth_body (c, scoped);
  char *url = NULL, *text;
  long status = -1;
  CURLcode rc;

  if (asprintf (&url, "%s/auth/tokens", c->cfg.auth_url) == -1) {
    json_object_put (b);
    errno = ENOMEM;
    vmi_error ("out of memory");
    return -1;
  }
  text = (char *) json_object_to_json_string_ext (b, JSON_C_TO_STRING_PLAIN);
  rc = perform (c, "POST", url, text, NULL, NULL, r, &status);
  explicit_bzero (text, strlen (text));
  json_object_put (b);
  if (rc != CURLE_OK) {
    errno = rc == CURLE_PEER_FAILED_VERIFICATION ? EPERM : EIO;
    vmi_error ("keystone: POST %s: %s%s", url, curl_easy_strerror (rc),
               rc == CURLE_PEER_FAILED_VERIFICATION
               ? " (the server's certificate is not signed by a trusted CA; "
                 "give the CA with --ca-cert or the Secret's ca_cert)" : "");
    status = -1;
  }
  free (url);
  return status;
}

/* "2026-12-02T18:43:45.000000Z" -> seconds since the epoch. */
static time_t
parse_time (const char *s)
{
  struct tm tm = { 0 };

  if (s == NULL || strptime (s, "%Y-%m-%dT%H:%M:%S", &tm) == NULL)
    return time (NULL) + 600;
  return timegm (&tm);
}

/* The public endpoint of TYPE in the configured region.  NULL (with an
 * error naming the regions there are) when there is none. */
static char *
catalog_url (struct os_client *c, json_object *catalog, const char *type,
             bool required)
{
  char regions[256] = "";
  size_t n = os_jlen (catalog);

  for (size_t i = 0; i < n; i++) {
    json_object *s = json_object_array_get_idx (catalog, i), *eps;
    const char *t = os_jstr (s, "type");
    if (t == NULL || strcmp (t, type) != 0
        || !json_object_object_get_ex (s, "endpoints", &eps))
      continue;
    for (size_t k = 0; k < os_jlen (eps); k++) {
      json_object *e = json_object_array_get_idx (eps, k);
      const char *iface = os_jstr (e, "interface");
      const char *reg = os_jstr (e, "region_id");
      const char *url = os_jstr (e, "url");
      if (iface == NULL || strcmp (iface, "public") != 0 || url == NULL)
        continue;
      if (reg == NULL)
        reg = os_jstr (e, "region");
      if (c->cfg.region == NULL || (reg && strcmp (reg, c->cfg.region) == 0))
        return strdup (url);
      if (reg && strlen (regions) + strlen (reg) + 3 < sizeof regions
          && strstr (regions, reg) == NULL)
        snprintf (regions + strlen (regions), sizeof regions - strlen (regions),
                  "%s%s", regions[0] ? ", " : "", reg);
    }
  }
  if (required) {
    errno = ENOENT;
    if (c->cfg.region && regions[0])
      vmi_error ("keystone: the catalog has no public %s endpoint in region "
                 "\"%s\" (it has: %s)", type, c->cfg.region, regions);
    else
      vmi_error ("keystone: the catalog has no public %s endpoint%s%s%s",
                 type, c->cfg.region ? " in region \"" : "",
                 c->cfg.region ? c->cfg.region : "", c->cfg.region ? "\"" : "");
  }
  return NULL;
}

int
os_read_catalog (struct os_client *c, json_object *token)
{
  json_object *cat = NULL;
  char *img;

  json_object_object_get_ex (token, "catalog", &cat);
  free (c->compute);
  free (c->volume);
  free (c->image);
  c->compute = c->volume = c->image = NULL;
  if ((c->compute = catalog_url (c, cat, "compute", true)) == NULL)
    return -1;
  if ((c->volume = catalog_url (c, cat, "volumev3", false)) == NULL
      && (c->volume = catalog_url (c, cat, "block-storage", true)) == NULL)
    return -1;
  if ((img = catalog_url (c, cat, "image", true)) == NULL)
    return -1;
  /* Glance's catalog URL has no version; Nova's and Cinder's have one. */
  while (*img && img[strlen (img) - 1] == '/')
    img[strlen (img) - 1] = '\0';
  if (strlen (img) >= 3 && strcmp (img + strlen (img) - 3, "/v2") == 0)
    c->image = img;
  else {
    if (asprintf (&c->image, "%s/v2", img) == -1)
      c->image = NULL;
    free (img);
  }
  for (char **u = &c->compute; u <= &c->image; u++)
    while (*u && **u && (*u)[strlen (*u) - 1] == '/')
      (*u)[strlen (*u) - 1] = '\0';
  if (c->image == NULL) {
    errno = ENOMEM;
    vmi_error ("out of memory");
    return -1;
  }
  return 0;
}

/* Why a scoped login failed: try unscoped to tell a wrong password from a
 * project that does not exist (or where the user has no role). */
static void
explain_auth_failure (struct os_client *c, long status, const char *text)
{
  struct reply r = { 0 };
  long st;
  char saved[512];

  snprintf (saved, sizeof saved, "%s", text);
  if (status == 401 && (st = auth_request (c, false, &r)) >= 200 && st < 300) {
    errno = EACCES;
    vmi_error ("keystone: POST %s/auth/tokens: the user \"%s\" logs in, but "
               "cannot be scoped to project \"%s\" in domain \"%s\" (no such "
               "project, or no role on it): HTTP 401: %s", c->cfg.auth_url,
               c->opts->username, c->cfg.project, c->cfg.project_domain, saved);
  }
  else {
    errno = status == 401 ? EACCES : EIO;
    vmi_error ("keystone: POST %s/auth/tokens: HTTP %ld: %s%s",
               c->cfg.auth_url, status, saved,
               status == 401 ? " (wrong user name, domain or password)" : "");
  }
  reply_clear (&r);
}

/* Log in and read the catalog.  Under c->lock (or before any thread). */
static int
authenticate (struct os_client *c)
{
  struct reply r = { 0 };
  json_object *j = NULL, *token = NULL, *proj = NULL;
  long status = auth_request (c, true, &r);
  int ret = -1;
  char text[512];

  if (status < 0)
    goto out;
  if (status < 200 || status >= 300 || r.token == NULL) {
    error_text (&r, text, sizeof text);
    explain_auth_failure (c, status, text);
    goto out;
  }
  if ((j = json_tokener_parse (r.body ? r.body : "")) == NULL
      || !json_object_object_get_ex (j, "token", &token)) {
    errno = EPROTO;
    vmi_error ("keystone: POST %s/auth/tokens: the answer is not a token",
               c->cfg.auth_url);
    goto out;
  }
  if (os_read_catalog (c, token) == -1)
    goto out;
  json_object_object_get_ex (token, "project", &proj);
  free (c->project_id);
  /* It goes into a query ("?owner=ID"): only as a plain id. */
  c->project_id = os_id_ok (os_jstr (proj, "id"))
                  ? strdup (os_jstr (proj, "id")) : NULL;
  if (c->token) {
    explicit_bzero (c->token, strlen (c->token));
    free (c->token);
  }
  c->token = r.token;
  r.token = NULL;
  c->expires = parse_time (os_jstr (token, "expires_at"));
  ret = 0;
 out:
  if (j)
    json_object_put (j);
  reply_clear (&r);
  return ret;
}

static int
token_fresh (struct os_client *c)
{
  if (c->token && time (NULL) + c->cfg.renew_before < c->expires)
    return 0;
  vmi_log (VMI_LOG_INFO, "openstack: renewing the Keystone token");
  return authenticate (c);
}

char *
os_token_dup (void *client)
{
  struct os_client *c = client;
  char *t = NULL;

  pthread_mutex_lock (&c->lock);
  if (token_fresh (c) == 0)
    t = strdup (c->token);
  pthread_mutex_unlock (&c->lock);
  return t;
}

int
os_token_renew (void *client, const char *refused)
{
  struct os_client *c = client;
  int r = 0;

  pthread_mutex_lock (&c->lock);
  /* Another reader may have renewed it already. */
  if (c->token == NULL || refused == NULL || strcmp (c->token, refused) == 0) {
    vmi_log (VMI_LOG_INFO, "openstack: the token was refused (HTTP 401): "
             "logging in to Keystone again");
    r = authenticate (c);
  }
  pthread_mutex_unlock (&c->lock);
  return r;
}

int
os_client_init (struct os_client *c, struct os_config *cfg,
                const struct vmi_source_opts *opts)
{
  memset (c, 0, sizeof *c);
  pthread_mutex_init (&c->lock, NULL);
  c->cfg = *cfg;
  memset (cfg, 0, sizeof *cfg);
  c->opts = opts;
  if (opts->username == NULL || opts->password == NULL) {
    errno = EINVAL;
    vmi_error ("openstack: %s needed (the URL's user part or --user, and "
               "--password-file, a Secret or VMIMPORT_PASSWORD)",
               opts->username ? "a password is" : "a user name is");
    return -1;
  }
  if ((c->h = curl_easy_init ()) == NULL) {
    errno = ENOMEM;
    vmi_error ("openstack: cannot create a curl handle");
    return -1;
  }
  return authenticate (c);
}

void
os_client_clear (struct os_client *c)
{
  if (c->h)
    curl_easy_cleanup (c->h);
  if (c->token) {
    explicit_bzero (c->token, strlen (c->token));
    free (c->token);
  }
  free (c->project_id);
  free (c->compute);
  free (c->volume);
  free (c->image);
  os_config_clear (&c->cfg);
  pthread_mutex_destroy (&c->lock);
  memset (c, 0, sizeof *c);
}

static const char *
service_base (struct os_client *c, const char *service, const char **label)
{
  if (strcmp (service, "compute") == 0) {
    *label = "nova";
    return c->compute;
  }
  if (strcmp (service, "volume") == 0) {
    *label = "cinder";
    return c->volume;
  }
  *label = "glance";
  return c->image;
}

/* Calls that may be sent again after a server error (5xx) or a broken
 * connection, with the source's retry policy: the same request twice has
 * the effect of once.  A POST makes something: create_retry (export.c)
 * looks for what a failed one left before it tries again. */
static bool
idempotent (const char *method)
{
  return strcmp (method, "POST") != 0;
}

int
os_call_status (struct os_client *c, const char *service, const char *method,
                const char *path, json_object *body, json_object **out,
                long accept, long *status_out)
{
  const char *label, *text = body
    ? json_object_to_json_string_ext (body, JSON_C_TO_STRING_PLAIN) : NULL;
  struct reply r = { 0 };
  struct vmi_retry retry;
  char *url = NULL, msg[512];
  long status = 0;
  int ret = -1;
  CURLcode rc;

  if (out)
    *out = NULL;
  pthread_mutex_lock (&c->lock);
  vmi_retry_start (&retry, &c->opts->retry);
 again:
  for (int attempt = 0; attempt < 2; attempt++) {
    const char *base;
    if (token_fresh (c) == -1)
      goto out;
    base = service_base (c, service, &label);
    free (url);
    if (asprintf (&url, "%s%s", base, path) == -1) {
      url = NULL;
      errno = ENOMEM;
      vmi_error ("out of memory");
      goto out;
    }
    reply_clear (&r);
    rc = perform (c, method, url, text, c->token, service, &r, &status);
    if (rc != CURLE_OK) {
      errno = EIO;
      vmi_error ("%s: %s %s: %s", label, method, path,
                 r.too_big ? "the answer is too large" : curl_easy_strerror (rc));
      if (!r.too_big && idempotent (method) && vmi_curl_transient (rc)
          && vmi_retry_again (&retry, label, curl_easy_strerror (rc)))
        goto again;
      goto out;
    }
    if (status != 401 || attempt == 1)
      break;
    /* A token revoked early: log in again, once. */
    vmi_log (VMI_LOG_INFO, "openstack: %s %s: the token was refused (HTTP "
             "401): logging in to Keystone again", method, path);
    explicit_bzero (c->token, strlen (c->token));
    free (c->token);
    c->token = NULL;
  }
  if (status_out)
    *status_out = status;
  if (status < 200 || status >= 300) {
    if (status == accept) {
      ret = 0;
      goto out;
    }
    error_text (&r, msg, sizeof msg);
    errno = status == 404 ? ENOENT : status == 401 || status == 403 ? EACCES : EIO;
    vmi_error ("%s: %s %s: HTTP %ld: %s", label, method, path, status,
               msg[0] ? msg : "(no message)");
    if (status >= 500 && status != accept && idempotent (method)
        && vmi_retry_again (&retry, label, vmi_error_get ()))
      goto again;
    goto out;
  }
  if (out && r.body && r.len) {
    enum json_tokener_error jerr;
    *out = json_tokener_parse_verbose (r.body, &jerr);
    if (*out == NULL) {
      errno = EPROTO;
      vmi_error ("%s: %s %s: the answer is not JSON (%s)", label, method, path,
                 json_tokener_error_desc (jerr));
      goto out;
    }
  }
  ret = 0;
 out:
  pthread_mutex_unlock (&c->lock);
  reply_clear (&r);
  free (url);
  return ret;
}

int
os_call (struct os_client *c, const char *service, const char *method,
         const char *path, json_object *body, json_object **out)
{
  return os_call_status (c, service, method, path, body, out, 0, NULL);
}

/* Does PAGE say there is a page after it?  Nova and Cinder: a "next" link
 * in KEY_links; Glance: a "next" member. */
static bool
has_next (json_object *page, const char *key)
{
  json_object *links;
  char name[64];

  if (os_jstr (page, "next"))
    return true;
  snprintf (name, sizeof name, "%s_links", key);
  if (!json_object_object_get_ex (page, name, &links))
    return false;
  for (size_t i = 0; i < os_jlen (links); i++) {
    const char *rel = os_jstr (json_object_array_get_idx (links, i), "rel");
    if (rel && strcmp (rel, "next") == 0)
      return true;
  }
  return false;
}

int
os_list_all (struct os_client *c, const char *service, const char *path,
             const char *key, json_object **items)
{
  json_object *all = json_object_new_array ();
  char *marker = NULL, *p = NULL;
  int r = -1;

  for (;;) {
    json_object *page = NULL, *list;
    const char *last;
    char *m = marker ? curl_easy_escape (NULL, marker, 0) : NULL;
    size_t n;
    if (asprintf (&p, "%s%s%s%s", path, !m ? "" : strchr (path, '?') ? "&" : "?",
                  m ? "marker=" : "", m ? m : "") == -1) {
      p = NULL;
      curl_free (m);
      errno = ENOMEM;
      vmi_error ("out of memory");
      goto out;
    }
    curl_free (m);
    if (os_call (c, service, "GET", p, NULL, &page) == -1)
      goto out;
    if (!json_object_object_get_ex (page, key, &list)
        || !json_object_is_type (list, json_type_array)) {
      json_object_put (page);
      errno = EPROTO;
      vmi_error ("%s: GET %s: no \"%s\" list in the answer", service, p, key);
      goto out;
    }
    n = os_jlen (list);
    for (size_t i = 0; i < n; i++)
      json_object_array_add (all, json_object_get (json_object_array_get_idx (list, i)));
    last = n ? os_jstr (json_object_array_get_idx (list, n - 1), "id") : NULL;
    if (n == 0 || !has_next (page, key) || last == NULL
        || (marker && strcmp (marker, last) == 0)) {
      json_object_put (page);
      break;
    }
    free (marker);
    marker = strdup (last);
    json_object_put (page);
    free (p);
    p = NULL;
    if (marker == NULL) {
      errno = ENOMEM;
      vmi_error ("out of memory");
      goto out;
    }
  }
  *items = all;
  all = NULL;
  r = 0;
 out:
  if (all)
    json_object_put (all);
  free (marker);
  free (p);
  return r;
}
