/* Harvester source objects as users write them: an OvaSource (or
 * VmwareSource / OpenstackSource) and the Secret its spec.credentials
 * names, in one YAML stream (documents separated by "---").
 *
 *   kind: OvaSource
 *   spec: { url: https://host/x.ova, httpTimeoutSeconds: 300,
 *           credentials: { name: example-ova-credentials } }
 *   ---
 *   kind: Secret
 *   metadata: { name: example-ova-credentials }
 *   stringData: { username: user, password: pw, ca.crt: "-----BEGIN..." }
 *
 * Secret values come from stringData, or base64 from data.  Parsed with
 * libyaml's document loader: aliases are node references, never copies,
 * so an alias bomb costs nothing. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <yaml.h>

#include "vmimport/error.h"
#include "vmimport/ova.h"
#include "../providers.h"
#include "../openstack/openstack.h"
#include "../../core/yaml-util.h"

#define MAX_YAML (1u << 20)

static char *
get_str (yaml_document_t *d, yaml_node_t *map, const char *path1,
         const char *path2)
{
  yaml_node_t *n = vmi_yaml_map_get (d, map, path1);

  if (path2)
    n = vmi_yaml_map_get (d, n, path2);
  return vmi_yaml_scalar (n);
}

static int
b64val (int c)
{
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+' || c == '-') return 62;
  if (c == '/' || c == '_') return 63;
  return -1;
}

/* Decode base64 (whitespace ignored) into a new string; NULL if invalid. */
static char *
b64decode (const char *s)
{
  size_t n = strlen (s), o = 0;
  char *out = malloc (n / 4 * 3 + 4);
  unsigned acc = 0;
  int bits = 0;

  if (out == NULL)
    return NULL;
  for (size_t i = 0; i < n; i++) {
    int v;
    if (s[i] == '=' || s[i] == ' ' || s[i] == '\n' || s[i] == '\r'
        || s[i] == '\t')
      continue;
    if ((v = b64val ((unsigned char) s[i])) < 0) {
      free (out);
      return NULL;
    }
    acc = (acc << 6) | (unsigned) v;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[o++] = (char) ((acc >> bits) & 0xff);
    }
  }
  out[o] = '\0';
  return out;
}

/* A key of a Secret: stringData wins, then base64 data. */
static char *
secret_get (yaml_document_t *d, yaml_node_t *root, const char *key)
{
  char *v = get_str (d, root, "stringData", key), *raw;

  if (v)
    return v;
  raw = get_str (d, root, "data", key);
  if (raw == NULL)
    return NULL;
  v = b64decode (raw);
  explicit_bzero (raw, strlen (raw));
  free (raw);
  return v;
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
vmi_source_spec_clear (struct vmi_source_spec *s)
{
  free (s->kind);
  free (s->name);
  free (s->url);
  free (s->dc);
  free (s->region);
  free (s->project_name);
  free (s->domain_name);
  free (s->credentials);
  vmi_source_opts_clear (&s->opts);
  memset (s, 0, sizeof *s);
}

static void
set (char **field, char *value)
{
  if (value) {
    wipe_free (*field);
    *field = value;
  }
}

static void
read_secret (yaml_document_t *d, yaml_node_t *root, struct vmi_source_spec *out)
{
  set (&out->opts.username, secret_get (d, root, "username"));
  set (&out->opts.password, secret_get (d, root, "password"));
  set (&out->opts.ca_cert_pem, secret_get (d, root, "ca.crt"));
  set (&out->opts.ca_cert_pem, secret_get (d, root, "ca_cert"));
  set (&out->opts.ca_cert_pem, secret_get (d, root, "caCert"));   /* VmwareSource */
  set (&out->project_name, secret_get (d, root, "project_name"));
  set (&out->domain_name, secret_get (d, root, "domain_name"));
}

/* spec.KEY as a positive count, when present. */
static int
get_count (yaml_document_t *d, yaml_node_t *spec, const char *key,
           const char *where, int *out)
{
  char *t = get_str (d, spec, key, NULL), *e;
  long v;

  if (t == NULL)
    return 0;
  v = strtol (t, &e, 10);
  if (*t == '\0' || *e || v <= 0 || v > 100000) {
    errno = EINVAL;
    vmi_error ("%s: spec.%s \"%s\" is not a positive number", where, key, t);
    free (t);
    return -1;
  }
  *out = (int) v;
  free (t);
  return 0;
}

int
vmi_source_yaml_parse (const char *text, size_t len, const char *where,
                       struct vmi_source_spec *out)
{
  yaml_document_t docs[VMI_YAML_MAX_DOCS];
  size_t ndocs = 0;
  char *cred = NULL;
  int r = -1, found_secret = 0, nsecrets = 0;
  size_t source_doc = (size_t) -1;

  memset (out, 0, sizeof *out);
  vmi_source_opts_init (&out->opts);
  if (len > MAX_YAML) {
    errno = EFBIG;
    vmi_error ("%s: %zu bytes is too large for a source YAML", where, len);
    return -1;
  }
  if (vmi_yaml_load_docs (text, len, where, docs, &ndocs) == -1)
    goto out;

  /* The source object first, then the Secret it names. */
  for (size_t i = 0; i < ndocs; i++) {
    yaml_node_t *root = yaml_document_get_root_node (&docs[i]);
    char *kind = get_str (&docs[i], root, "kind", NULL);
    if (kind && (!strcmp (kind, "OvaSource") || !strcmp (kind, "VmwareSource")
                 || !strcmp (kind, "OpenstackSource"))) {
      if (source_doc != (size_t) -1) {
        errno = EINVAL;
        vmi_error ("%s: more than one source object (%s and %s); give one "
                   "per file", where, out->kind, kind);
        free (kind);
        goto out;
      }
      source_doc = i;
      out->kind = kind;
    }
    else {
      if (kind && !strcmp (kind, "Secret"))
        nsecrets++;
      free (kind);
    }
  }
  if (source_doc == (size_t) -1) {
    errno = EINVAL;
    vmi_error ("%s: no OvaSource, VmwareSource or OpenstackSource object "
               "in the file", where);
    goto out;
  }
  {
    yaml_document_t *d = &docs[source_doc];
    yaml_node_t *root = yaml_document_get_root_node (d);
    yaml_node_t *spec = vmi_yaml_map_get (d, root, "spec");
    char *t;

    out->name = get_str (d, root, "metadata", "name");
    out->url = get_str (d, spec, "url", NULL);
    if (out->url == NULL)
      out->url = get_str (d, spec, "endpoint", NULL);
    out->dc = get_str (d, spec, "dc", NULL);
    out->region = get_str (d, spec, "region", NULL);
    cred = get_str (d, spec, "credentials", "name");
    if (cred && (out->credentials = strdup (cred)) == NULL) {
      errno = ENOMEM;
      vmi_error ("out of memory");
    }
    if ((t = get_str (d, spec, "httpTimeoutSeconds", NULL)) != NULL) {
      char *e;
      long v = strtol (t, &e, 10);
      if (*t == '\0' || *e || v < 0) {
        errno = EINVAL;
        vmi_error ("%s: spec.httpTimeoutSeconds \"%s\" is not a number of "
                   "seconds (0 = no timeout)", where, t);
        free (t);
        goto out;
      }
      out->opts.timeout_seconds = v;
      free (t);
    }
    if (get_count (d, spec, "uploadImageRetryCount", where,
                   &out->upload_retry_count) == -1
        || get_count (d, spec, "uploadImageRetryDelay", where,
                      &out->upload_retry_delay) == -1)
      goto out;
    if (out->url == NULL) {
      errno = EINVAL;
      vmi_error ("%s: %s has no spec.%s", where, out->kind,
                 !strcmp (out->kind, "OvaSource") ? "url" : "endpoint");
      goto out;
    }
  }
  for (size_t i = 0; i < ndocs && !found_secret; i++) {
    yaml_node_t *root = yaml_document_get_root_node (&docs[i]);
    char *kind = get_str (&docs[i], root, "kind", NULL);
    char *name = get_str (&docs[i], root, "metadata", "name");
    if (kind && !strcmp (kind, "Secret")
        && ((cred && name && !strcmp (cred, name)) || (!cred && nsecrets == 1))) {
      read_secret (&docs[i], root, out);
      found_secret = 1;
    }
    free (kind);
    free (name);
  }
  if (cred && !found_secret) {
    errno = EINVAL;
    vmi_error ("%s: spec.credentials names Secret \"%s\", which the file "
               "does not hold", where, cred);
    goto out;
  }
  r = 0;
 out:
  vmi_yaml_free_docs (docs, ndocs);
  free (cred);
  if (r == -1)
    vmi_source_spec_clear (out);
  return r;
}

static char *
read_small_file (const char *path, size_t *len)
{
  FILE *f = fopen (path, "rb");
  struct stat st;
  char *buf = NULL;

  if (f == NULL) {
    vmi_error ("%s: %s", path, strerror (errno));
    return NULL;
  }
  if (fstat (fileno (f), &st) == -1 || !S_ISREG (st.st_mode)) {
    errno = EINVAL;
    vmi_error ("%s: not a regular file", path);
  }
  else if (st.st_size > MAX_YAML) {
    errno = EFBIG;
    vmi_error ("%s: %lld bytes is too large for a source YAML", path,
               (long long) st.st_size);
  }
  else if ((buf = malloc ((size_t) st.st_size + 1)) == NULL) {
    errno = ENOMEM;
    vmi_error ("%s: out of memory", path);
  }
  else if (fread (buf, 1, (size_t) st.st_size, f) != (size_t) st.st_size) {
    vmi_error ("%s: read error", path);
    free (buf);
    buf = NULL;
    errno = EIO;
  }
  else {
    buf[st.st_size] = '\0';
    *len = (size_t) st.st_size;
  }
  fclose (f);
  return buf;
}

static int
take (char **dst, const char *caller, char **from_yaml)
{
  if (caller) {
    if ((*dst = strdup (caller)) == NULL)
      return -1;
  }
  else {
    *dst = *from_yaml;
    *from_yaml = NULL;
  }
  return 0;
}

struct vmi_provider *
vmi_yaml_provider_open (const char *path, const struct vmi_source_opts *o)
{
  struct vmi_source_spec spec;
  struct vmi_source_opts merged;
  struct vmi_provider *p = NULL;
  size_t len = 0;
  char *text = read_small_file (path, &len);
  int err = 0;

  if (text == NULL)
    return NULL;
  if (vmi_source_yaml_parse (text, len, path, &spec) == -1) {
    wipe_free (text);
    return NULL;
  }
  wipe_free (text);

  /* What the caller gave explicitly wins over the Secret. */
  if (o)
    merged = *o;
  else
    vmi_source_opts_init (&merged);
  err |= take (&merged.username, o ? o->username : NULL, &spec.opts.username);
  err |= take (&merged.password, o ? o->password : NULL, &spec.opts.password);
  err |= take (&merged.ca_cert_file, o ? o->ca_cert_file : NULL,
               &spec.opts.ca_cert_file);
  err |= take (&merged.ca_cert_pem, o ? o->ca_cert_pem : NULL,
               &spec.opts.ca_cert_pem);
  /* merged is cleared below: the caller's strings are copied, not shared */
  err |= take (&merged.allow_outside_paths, o ? o->allow_outside_paths : NULL,
               &spec.opts.allow_outside_paths);
  err |= take (&merged.only_vm, o ? o->only_vm : NULL, &spec.opts.only_vm);
  if (o == NULL || o->timeout_seconds == 600)
    merged.timeout_seconds = spec.opts.timeout_seconds;
  if (err) {
    errno = ENOMEM;
    vmi_error ("out of memory");
  }
  else if (!strcmp (spec.kind, "OvaSource"))
    p = vmi_ova_provider_open (spec.url, &merged);
  else if (!strcmp (spec.kind, "OpenstackSource"))
    p = vmi_openstack_provider_open_spec (spec.url, spec.region,
                                          spec.project_name, spec.domain_name,
                                          spec.upload_retry_count,
                                          spec.upload_retry_delay, &merged);
  else if (!strcmp (spec.kind, "VmwareSource"))
    p = vmi_vmware_endpoint_open (spec.url, spec.dc, &merged);
  else {
    errno = ENOTSUP;
    vmi_error ("%s: %s sources are not supported yet", path, spec.kind);
  }
  vmi_source_opts_clear (&merged);
  vmi_source_spec_clear (&spec);
  return p;
}
