/* Provider: an OpenStack project.
 *
 *   openstack://USER@KEYSTONE-HOST[:PORT][/PATH]/PROJECT?region=R&domain=D
 *
 * Keystone is https://KEYSTONE-HOST[:PORT][/PATH]/v3 (PATH: a Keystone
 * behind a prefix, as https://host/identity).  Query options: region,
 * domain (the user's and, unless project_domain is given, the project's),
 * project_domain, disk_format (qcow2 or raw), upload_retry_count,
 * upload_retry_delay, renew_before (seconds before its end the Keystone
 * token is renewed, default 300: more for a cloud whose clock is behind,
 * or with tokens shorter than a copy; the test uses it to force
 * renewals).  Or an OpenstackSource + Secret (yaml.c).
 *
 * Every server of the project is a VM; disks are opened lazily: the export
 * (export.c) of a disk starts when it is first opened, never at mount. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>

#include "vmimport/error.h"
#include "os-internal.h"
#include "openstack.h"

static struct vmi_layer *
openstack_open_disk (struct vmi_provider *p, const struct vmi_vm *vm,
                     size_t disk_index)
{
  return os_export_open (p, p->priv, vm, disk_index);
}

static int
openstack_power_off (struct vmi_provider *p, const struct vmi_vm *vm,
                     bool force, int timeout_seconds)
{
  (void) force;   /* os-stop is Nova's only stop; it ends in a hard stop */
  return os_power_off (p->priv, vm, timeout_seconds);
}

static int
openstack_cleanup (struct vmi_provider *p)
{
  return os_cleanup_all (p->priv);
}

static int
openstack_start_export (struct vmi_provider *p, struct vmi_vm *vm,
                        size_t disk_index, bool wait)
{
  return os_export_start (p->priv, vm, disk_index, wait);
}

static void
openstack_close (struct vmi_provider *p)
{
  struct os_client *c = p->priv;

  if (c == NULL)
    return;
  os_export_cleanup_own (c);
  os_client_clear (c);
  free (c);
}

static const struct vmi_provider_ops openstack_ops = {
  .name = "openstack",
  .open_disk = openstack_open_disk,
  .power_off = openstack_power_off,
  .cleanup = openstack_cleanup,
  .start_export = openstack_start_export,
  .close = openstack_close,
};

struct vmi_provider *
vmi_openstack_provider_open_config (struct os_config *cfg,
                                    const struct vmi_source_opts *o)
{
  struct os_client *c = calloc (1, sizeof *c);
  struct vmi_provider *p;

  if (c == NULL || (p = vmi_provider_new (&openstack_ops, NULL, o)) == NULL) {
    free (c);
    os_config_clear (cfg);
    if (c == NULL) {
      errno = ENOMEM;
      vmi_error ("out of memory");
    }
    return NULL;
  }
  p->lazy_disks = true;
  if (cfg->user_domain == NULL)
    cfg->user_domain = strdup ("Default");
  if (cfg->project_domain == NULL && cfg->user_domain)
    cfg->project_domain = strdup (cfg->user_domain);
  if (cfg->disk_format == NULL)
    cfg->disk_format = strdup ("qcow2");
  if (cfg->upload_retry_count <= 0)
    cfg->upload_retry_count = 30;
  if (cfg->upload_retry_delay <= 0)
    cfg->upload_retry_delay = 10;
  if (cfg->renew_before <= 0)
    cfg->renew_before = 300;
  if (os_client_init (c, cfg, &p->opts) == -1) {
    os_client_clear (c);
    free (c);
    vmi_provider_close (p);
    return NULL;
  }
  p->priv = c;
  if (os_list_servers (p, c) == -1) {
    vmi_provider_close (p);
    return NULL;
  }
  return p;
}

/* A query value, percent-decoded. */
static char *
decode (const char *s, size_t n)
{
  int len;
  char *d = curl_easy_unescape (NULL, s, (int) n, &len), *r;

  if (d == NULL)
    return NULL;
  r = strdup (d);
  curl_free (d);
  return r;
}

static int
set_option (struct os_config *cfg, const char *key, size_t klen, char *val,
            const char *url)
{
  char **field = NULL;
  int *num = NULL;

  if (klen == 6 && strncmp (key, "region", 6) == 0)
    field = &cfg->region;
  else if (klen == 6 && strncmp (key, "domain", 6) == 0)
    field = &cfg->user_domain;
  else if (klen == 14 && strncmp (key, "project_domain", 14) == 0)
    field = &cfg->project_domain;
  else if (klen == 11 && strncmp (key, "disk_format", 11) == 0)
    field = &cfg->disk_format;
  else if (klen == 18 && strncmp (key, "upload_retry_count", 18) == 0)
    num = &cfg->upload_retry_count;
  else if (klen == 18 && strncmp (key, "upload_retry_delay", 18) == 0)
    num = &cfg->upload_retry_delay;
  else if (klen == 12 && strncmp (key, "renew_before", 12) == 0)
    num = &cfg->renew_before;
  if (field) {
    free (*field);
    *field = val;
    return 0;
  }
  if (num) {
    char *e;
    long v = strtol (val, &e, 10);
    if (*val && !*e && v > 0 && v < 100000) {
      *num = (int) v;
      free (val);
      return 0;
    }
  }
  errno = EINVAL;
  vmi_error ("%s: bad option \"%.*s=%s\" (options: region, domain, "
             "project_domain, disk_format, upload_retry_count, "
             "upload_retry_delay, renew_before)", url, (int) klen, key, val);
  free (val);
  return -1;
}

/* openstack://USER@HOST[:PORT][/PATH]/PROJECT?opts */
static int
parse_url (const char *url, struct os_config *cfg, char **user)
{
  const char *s = url + strlen ("openstack://");
  const char *at = strchr (s, '@'), *slash, *q, *proj;
  size_t qpos = strcspn (s, "?#");

  *user = NULL;
  if (at && (size_t) (at - s) < qpos) {
    if (memchr (s, ':', (size_t) (at - s))) {
      errno = EINVAL;
      vmi_error ("openstack://: the URL holds a password; give it with "
                 "--password-file, a Secret or VMIMPORT_PASSWORD instead");
      return -1;
    }
    *user = decode (s, (size_t) (at - s));
    s = at + 1;
    qpos = strcspn (s, "?#");
  }
  slash = memchr (s, '/', qpos);
  proj = s + qpos;
  while (proj > s && proj[-1] == '/')
    proj--;
  q = proj;
  while (q > s && q[-1] != '/')
    q--;
  if (slash == NULL || q <= slash || q == proj) {
    errno = EINVAL;
    vmi_error ("%s: expected openstack://USER@KEYSTONE-HOST[:PORT]/PROJECT"
               "?region=R&domain=D", url);
    return -1;
  }
  /* Keystone: everything before the project, over HTTPS, plus /v3. */
  if (asprintf (&cfg->auth_url, "https://%.*s/v3", (int) (q - 1 - s), s) == -1
      || (cfg->project = decode (q, (size_t) (proj - q))) == NULL) {
    cfg->auth_url = NULL;
    errno = ENOMEM;
    vmi_error ("out of memory");
    return -1;
  }
  for (const char *o = s[qpos] == '?' ? s + qpos + 1 : NULL; o && *o;) {
    size_t n = strcspn (o, "&#"), k = strcspn (o, "=");
    if (k < n && set_option (cfg, o, k, decode (o + k + 1, n - k - 1), url) == -1)
      return -1;
    o += n;
    o = *o == '&' ? o + 1 : NULL;
  }
  return 0;
}

struct vmi_provider *
vmi_openstack_provider_open (const char *source, const struct vmi_source_opts *o)
{
  struct os_config cfg = { 0 };
  struct vmi_source_opts opts;
  struct vmi_provider *p;
  char *user = NULL;

  if (parse_url (source, &cfg, &user) == -1) {
    free (user);
    os_config_clear (&cfg);
    return NULL;
  }
  if (o)
    opts = *o;
  else
    vmi_source_opts_init (&opts);
  if (opts.username == NULL)
    opts.username = user;
  p = vmi_openstack_provider_open_config (&cfg, &opts);
  free (user);
  return p;
}

/* An OpenstackSource: endpoint (Keystone: "https://host/identity" or
 * ".../v3"), region, and the Secret's project_name and domain_name. */
struct vmi_provider *
vmi_openstack_provider_open_spec (const char *endpoint, const char *region,
                                  const char *project, const char *domain,
                                  int retry_count, int retry_delay,
                                  const struct vmi_source_opts *o)
{
  struct os_config cfg = { 0 };
  size_t n = strlen (endpoint);

  while (n && endpoint[n - 1] == '/')
    n--;
  if (project == NULL) {
    errno = EINVAL;
    vmi_error ("OpenstackSource: the Secret has no project_name");
    return NULL;
  }
  if (asprintf (&cfg.auth_url, "%.*s%s", (int) n, endpoint,
                n >= 3 && strncmp (endpoint + n - 3, "/v3", 3) == 0 ? "" : "/v3") == -1
      || (cfg.project = strdup (project)) == NULL
      || (region && (cfg.region = strdup (region)) == NULL)
      || (domain && (cfg.user_domain = strdup (domain)) == NULL)) {
    os_config_clear (&cfg);
    errno = ENOMEM;
    vmi_error ("out of memory");
    return NULL;
  }
  cfg.upload_retry_count = retry_count;
  cfg.upload_retry_delay = retry_delay;
  return vmi_openstack_provider_open_config (&cfg, o);
}
