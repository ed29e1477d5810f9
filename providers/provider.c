/* Providers: options, the common object, and dispatch from a SOURCE string
 * to the provider that understands it. */
#include <errno.h>
#include <stdbool.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "vmimport/error.h"
#include "vmimport/provider.h"
#include "providers.h"
#include "openstack/openstack.h"

void
vmi_source_opts_init (struct vmi_source_opts *o)
{
  memset (o, 0, sizeof *o);
  o->timeout_seconds = 600;
  o->connect_timeout_seconds = 30;
  vmi_retry_policy_default (&o->retry);
  o->cache_size = 64u << 20;
}

static void
wipe_free (char *s)
{
  if (s) {
    explicit_bzero (s, strlen (s));
    free (s);
  }
}

void
vmi_source_opts_clear (struct vmi_source_opts *o)
{
  free (o->username);
  wipe_free (o->password);
  free (o->ca_cert_file);
  free (o->ca_cert_pem);
  free (o->allow_outside_paths);
  free (o->only_vm);
  o->username = o->password = o->ca_cert_file = o->ca_cert_pem = NULL;
  o->allow_outside_paths = o->only_vm = NULL;
}

int64_t
vmi_parse_size (const char *s)
{
  char *end;
  unsigned long long v;
  int shift = 0;

  errno = 0;
  v = strtoull (s, &end, 10);
  if (errno || end == s)
    return -1;
  switch (*end) {
  case 'k': case 'K': shift = 10; end++; break;
  case 'm': case 'M': shift = 20; end++; break;
  case 'g': case 'G': shift = 30; end++; break;
  case 't': case 'T': shift = 40; end++; break;
  case '\0': break;
  default: return -1;
  }
  if (*end == 'i' && end[-1] != '\0')
    end++;
  if (*end == 'B')
    end++;
  if (*end || v > (UINT64_C (1) << (62 - shift)))
    return -1;
  return (int64_t) (v << shift);
}

int
vmi_source_opts_set (struct vmi_source_opts *o, const char *name,
                     const char *value)
{
  char *end;
  double v;

  errno = 0;
  v = strtod (value, &end);
  if (errno || end == value || *end || v < 0 || v > 1e7
      || (strcmp (name, "retries") == 0 && v != (int) v)) {
    errno = EINVAL;
    vmi_error ("--%s: '%s' is not a non-negative number", name, value);
    return -1;
  }
  if (strcmp (name, "retries") == 0)
    o->retry.attempts = (int) v;
  else if (strcmp (name, "retry-deadline") == 0)
    o->retry.deadline = v;
  else if (strcmp (name, "timeout") == 0)
    o->timeout_seconds = (long) v;
  else {
    errno = EINVAL;
    vmi_error ("--%s: not a source option", name);
    return -1;
  }
  return 0;
}

int
vmi_source_opts_read_password (struct vmi_source_opts *o, const char *path)
{
  FILE *f = fopen (path, "r");
  char *line = NULL;
  size_t cap = 0;
  ssize_t n;

  if (f == NULL) {
    vmi_error ("password file %s: %s", path, strerror (errno));
    return -1;
  }
  n = getline (&line, &cap, f);
  fclose (f);
  if (n < 0) {
    free (line);
    errno = EINVAL;
    vmi_error ("password file %s is empty", path);
    return -1;
  }
  while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
    line[--n] = '\0';
  wipe_free (o->password);
  o->password = line;
  return 0;
}

static char *
dup_or_null (const char *s, int *err)
{
  char *d;

  if (s == NULL)
    return NULL;
  if ((d = strdup (s)) == NULL)
    *err = 1;
  return d;
}

struct vmi_provider *
vmi_provider_new (const struct vmi_provider_ops *ops, void *priv,
                  const struct vmi_source_opts *opts)
{
  struct vmi_provider *p = calloc (1, sizeof *p);
  int err = 0;

  if (p == NULL)
    goto nomem;
  p->ops = ops;
  p->priv = priv;
  if (opts) {
    p->opts = *opts;
    p->opts.username = dup_or_null (opts->username, &err);
    p->opts.password = dup_or_null (opts->password, &err);
    p->opts.ca_cert_file = dup_or_null (opts->ca_cert_file, &err);
    p->opts.ca_cert_pem = dup_or_null (opts->ca_cert_pem, &err);
    p->opts.allow_outside_paths = dup_or_null (opts->allow_outside_paths,
                                               &err);
    p->opts.only_vm = dup_or_null (opts->only_vm, &err);
  }
  else
    vmi_source_opts_init (&p->opts);
  if (err) {
    vmi_source_opts_clear (&p->opts);
    free (p);
    goto nomem;
  }
  return p;
 nomem:
  errno = ENOMEM;
  vmi_error ("out of memory");
  return NULL;
}

int
vmi_provider_add_vm (struct vmi_provider *p, struct vmi_vm *vm)
{
  struct vmi_vm **v = realloc (p->vms, (p->nvms + 1) * sizeof *v);

  if (v == NULL) {
    errno = ENOMEM;
    vmi_error ("out of memory");
    return -1;
  }
  p->vms = v;
  p->vms[p->nvms++] = vm;
  return 0;
}

struct vmi_layer *
vmi_provider_open_disk (struct vmi_provider *p, size_t vm_index,
                        size_t disk_index)
{
  if (vm_index >= p->nvms || disk_index >= p->vms[vm_index]->ndisks) {
    errno = ENOENT;
    vmi_error ("no disk %zu in VM %zu", disk_index, vm_index);
    return NULL;
  }
  return p->ops->open_disk (p, p->vms[vm_index], disk_index);
}

int
vmi_provider_cleanup (struct vmi_provider *p)
{
  if (p->ops->cleanup == NULL) {
    errno = ENOTSUP;
    vmi_error ("%s sources leave nothing to clean up", p->ops->name);
    return -1;
  }
  return p->ops->cleanup (p);
}

int
vmi_provider_start_export (struct vmi_provider *p, size_t vm_index,
                           size_t disk_index, bool wait)
{
  if (p->ops->start_export == NULL) {
    errno = ENOTSUP;
    vmi_error ("%s sources need no export: their disks are read directly",
               p->ops->name);
    return -1;
  }
  if (vm_index >= p->nvms || disk_index >= p->vms[vm_index]->ndisks) {
    errno = EINVAL;
    vmi_error ("no disk %zu of VM %zu in the source", disk_index, vm_index);
    return -1;
  }
  return p->ops->start_export (p, p->vms[vm_index], disk_index, wait);
}

void
vmi_provider_close (struct vmi_provider *p)
{
  if (p == NULL)
    return;
  if (p->ops && p->ops->close)
    p->ops->close (p);
  for (size_t i = 0; i < p->nvms; i++)
    vmi_vm_free (p->vms[i]);
  free (p->vms);
  vmi_source_opts_clear (&p->opts);
  free (p);
}

static int
has_prefix (const char *s, const char *prefix)
{
  return strncasecmp (s, prefix, strlen (prefix)) == 0;
}

/* Does the path (before any ?query) end in .ova or .ovf? */
static bool
is_appliance_name (const char *s)
{
  size_t n = strcspn (s, "?#");

  return n >= 4 && (strncasecmp (s + n - 4, ".ova", 4) == 0
                    || strncasecmp (s + n - 4, ".ovf", 4) == 0);
}

/* A tar archive has "ustar" at offset 257 of its first header. */
static bool
is_tar_file (const char *path)
{
  char buf[263];
  FILE *f = fopen (path, "rb");
  bool r = false;

  if (f) {
    r = fread (buf, 1, sizeof buf, f) == sizeof buf
        && memcmp (buf + 257, "ustar", 5) == 0;
    fclose (f);
  }
  return r;
}

/* A local regular file that is an appliance: named .ova/.ovf, or a tar. */
static bool
is_local_appliance (const char *path)
{
  struct stat st;

  return stat (path, &st) == 0 && S_ISREG (st.st_mode)
         && (is_appliance_name (path) || is_tar_file (path));
}

/* Which provider opens a SOURCE: the first row whose scheme prefixes it
 * (rows without a scheme take local paths) and whose probe, if any, says
 * yes.  A new kind of source is one row here (and its folder). */
static const struct vmi_provider_class provider_classes[] = {
  { "ova",   "http://",      is_appliance_name, vmi_ova_provider_open },
  { "ova",   "https://",     is_appliance_name, vmi_ova_provider_open },
  { "http",  "http://",      NULL, vmi_http_image_provider_open },
  { "http",  "https://",     NULL, vmi_http_image_provider_open },
  { "nbd",   "nbd://",       NULL, vmi_nbd_provider_open },
  { "nbd",   "nbds://",      NULL, vmi_nbd_provider_open },
  { "nbd",   "nbd+unix://",  NULL, vmi_nbd_provider_open },
  { "nbd",   "nbds+unix://", NULL, vmi_nbd_provider_open },
  { "vmware",    "vmware://",    NULL, vmi_vmware_provider_open },
  { "openstack", "openstack://", NULL, vmi_openstack_provider_open },
  { "ova",   NULL,           is_local_appliance, vmi_ova_provider_open },
  { "local", NULL,           NULL, vmi_local_provider_open },
};

struct vmi_provider *
vmi_unsupported_provider_open (const char *source,
                               const struct vmi_source_opts *opts)
{
  (void) opts;
  errno = ENOTSUP;
  vmi_error ("%.*s: this source kind is not supported yet",
             (int) strcspn (source, ":"), source);
  return NULL;
}

static void
unknown_scheme (const char *source)
{
  char list[256] = "";
  size_t n = 0;

  for (size_t i = 0; i < sizeof provider_classes / sizeof *provider_classes; i++) {
    const char *s = provider_classes[i].scheme;
    if (s && n < sizeof list && !strstr (list, s))
      n += snprintf (list + n, sizeof list - n, ", %s", s);
  }
  errno = EINVAL;
  vmi_error ("%s: unknown source scheme (expected a path%s)", source, list);
}

const struct vmi_provider_class *
vmi_provider_class_find (const char *source)
{
  bool is_url = strstr (source, "://") != NULL;

  for (size_t i = 0; i < sizeof provider_classes / sizeof *provider_classes; i++) {
    const struct vmi_provider_class *c = &provider_classes[i];
    if (c->scheme ? !has_prefix (source, c->scheme) : is_url)
      continue;
    if (c->probe == NULL || c->probe (source))
      return c;
  }
  return NULL;
}

struct vmi_provider *
vmi_provider_open (const char *source, const struct vmi_source_opts *opts)
{
  const struct vmi_provider_class *c;
  struct stat st;

  if (strstr (source, "://") == NULL && stat (source, &st) == -1) {
    vmi_error ("%s: %s", source, strerror (errno));
    return NULL;
  }
  if ((c = vmi_provider_class_find (source)) == NULL) {
    unknown_scheme (source);
    return NULL;
  }
  return c->open (source, opts);
}

struct vmi_provider *
vmi_provider_open_yaml (const char *yaml_path, const struct vmi_source_opts *opts)
{
  return vmi_yaml_provider_open (yaml_path, opts);
}

char *
vmi_image_name (const char *path)
{
  size_t n = strcspn (path, "?#");
  const char *base, *dot;
  char *s;

  while (n > 1 && path[n - 1] == '/')
    n--;
  base = path;
  for (size_t i = 0; i < n; i++)
    if (path[i] == '/' && i + 1 < n)
      base = path + i + 1;
  n -= base - path;
  dot = NULL;
  for (size_t i = 1; i < n; i++)
    if (base[i] == '.')
      dot = base + i;
  if (dot)
    n = dot - base;
  s = strndup (base, n);
  if (s == NULL) {
    errno = ENOMEM;
    vmi_error ("out of memory");
    return NULL;
  }
  /* Folder names cannot hold '/' anyway; keep the rest as the source says. */
  return s;
}

struct vmi_vm *
vmi_image_vm_new (const char *name, const char *source_kind, const char *where,
                  struct vmi_layer *layer, const char *format)
{
  struct vmi_vm *vm = vmi_vm_new (name);
  struct vmi_disk *d;
  int64_t alloc;

  if (vm == NULL)
    return NULL;
  if ((vm->source_kind = strdup (source_kind)) == NULL
      || (vm->source_where = strdup (where)) == NULL
      || (d = vmi_vm_add_disk (vm)) == NULL
      || (d->source_format = strdup (format)) == NULL
      || (d->source_name = strdup (where)) == NULL) {
    vmi_vm_free (vm);
    errno = ENOMEM;
    vmi_error ("out of memory");
    return NULL;
  }
  d->capacity = (int64_t) layer->size;
  alloc = vmi_layer_allocated (layer);
  if (alloc == -1) {
    vmi_vm_free (vm);
    return NULL;
  }
  d->allocated = alloc;
  return vm;
}
