/* Provider: OVA appliances (a tar of OVF + manifest + disks) and OVF
 * descriptors beside their disk files, local or over http(s).
 *
 * Opening reads the tar headers (hopping over member data), the OVF, and
 * what each disk's format layer reads when it opens (a VMDK's header and
 * footer): never the disks' data.  Each disk is the tar member (or the file
 * beside the OVF) with its format layer stacked, opened once and shared by
 * every open_disk.  Also here: vmi_ova_verify, which checks every file
 * against the manifest. */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/evp.h>

#include "vmimport/error.h"
#include "vmimport/formats.h"
#include "vmimport/ova.h"
#include "vmimport/transport.h"
#include "../providers.h"
#include "ova-internal.h"

struct member {
  char *name;
  uint64_t offset, size;
};

struct ova {
  char *source;              /* path or URL as given (no credentials) */
  bool remote;
  bool is_ovf;               /* an OVF beside its files, not an archive */
  char *dir;                 /* OVF: folder path or URL prefix, ends in '/' */
  struct vmi_layer *archive; /* OVA: the whole archive */
  struct member *members;    /* OVA: regular files, archive order */
  size_t nmembers;
  struct vmi_layer **views;  /* raw view of each disk, opened at describe */
  size_t nviews;
  const struct vmi_source_opts *opts;
};

static bool
has_suffix (const char *s, const char *suffix)
{
  size_t n = strcspn (s, "?#"), m = strlen (suffix);

  return n >= m && strncasecmp (s + n - m, suffix, m) == 0;
}

static bool
is_remote (const char *s)
{
  return !strncasecmp (s, "http://", 7) || !strncasecmp (s, "https://", 8);
}

static int
list_cb (void *opaque, const char *name, uint64_t offset, uint64_t size)
{
  struct ova *o = opaque;
  struct member *v = o->members;

  /* Room for 16, then doubled at each power of two: an archive of 50,000
   * members must not cost a copy of the list per member. */
  if (o->nmembers == 0 || (o->nmembers >= 16
                           && (o->nmembers & (o->nmembers - 1)) == 0))
    v = realloc (o->members, (o->nmembers ? 2 * o->nmembers : 16) * sizeof *v);

  if (v == NULL || (name = strdup (name)) == NULL) {
    if (v)
      o->members = v;
    errno = ENOMEM;
    vmi_error ("out of memory");
    return -1;
  }
  o->members = v;
  v[o->nmembers++] = (struct member){ (char *) name, offset, size };
  return 0;
}

static const struct member *
member_find (const struct ova *o, const char *name)
{
  while (name[0] == '.' && name[1] == '/')
    name += 2;
  for (size_t i = 0; i < o->nmembers; i++)
    if (strcmp (o->members[i].name, name) == 0)
      return &o->members[i];
  return NULL;
}

/* An OVF href must name a file inside the OVA / beside the OVF. */
static int
check_href (const struct ova *o, const char *href)
{
  const char *p = href;

  if (*href == '\0' || href[0] == '/' || strstr (href, "://")
      || strchr (href, '\\'))
    goto refuse;
  while (*p) {
    size_t n = strcspn (p, "/");
    if (n == 2 && p[0] == '.' && p[1] == '.')
      goto refuse;
    p += n;
    if (*p == '/')
      p++;
  }
  return 0;
 refuse:
  errno = EPERM;
  vmi_error ("%s: the OVF names file \"%s\", which is outside the %s; "
             "refused", o->source, href, o->is_ovf ? "OVF's folder" : "OVA");
  return -1;
}

/* URL-escape what curl would refuse in a path (spaces and the like). */
static char *
url_path_escape (const char *s)
{
  static const char hex[] = "0123456789ABCDEF";
  size_t n = strlen (s);
  char *out = malloc (3 * n + 1), *q = out;

  if (out == NULL)
    return NULL;
  for (; *s; s++) {
    unsigned char c = (unsigned char) *s;
    if (c <= 0x20 || c >= 0x7f || c == '"' || c == '<' || c == '>'
        || c == '#' || c == '?' || c == '%' || c == '\\' || c == '^'
        || c == '`' || c == '{' || c == '|' || c == '}') {
      *q++ = '%';
      *q++ = hex[c >> 4];
      *q++ = hex[c & 15];
    }
    else
      *q++ = (char) c;
  }
  *q = '\0';
  return out;
}

/* The raw bytes of file HREF of the appliance. */
static struct vmi_layer *
open_file (const struct ova *o, const char *href)
{
  struct vmi_layer *l;
  char *path, *esc;

  if (check_href (o, href) == -1)
    return NULL;
  if (!o->is_ovf) {
    const struct member *m = member_find (o, href);
    char seen[512] = "";
    if (m) {
      if (asprintf (&path, "%s:%s", o->archive->name, m->name) == -1)
        goto nomem;
      l = vmi_slice_open (vmi_layer_ref (o->archive), m->offset, m->size, path);
      free (path);
      return l;
    }
    for (size_t i = 0; i < o->nmembers; i++) {
      size_t n = strlen (seen);
      if (n + strlen (o->members[i].name) + 8 >= sizeof seen)
        break;
      snprintf (seen + n, sizeof seen - n, "%s%s", n ? ", " : "",
                o->members[i].name);
    }
    errno = ENOENT;
    vmi_error ("%s: the OVF names file %s, but the archive has no such "
               "member (it holds: %s)", o->source, href, seen);
    return NULL;
  }
  esc = o->remote ? url_path_escape (href) : strdup (href);
  if (esc == NULL || asprintf (&path, "%s%s", o->dir, esc) == -1) {
    free (esc);
    goto nomem;
  }
  free (esc);
  l = o->remote ? vmi_http_open (path, o->opts) : vmi_file_open (path);
  free (path);
  return l;
 nomem:
  errno = ENOMEM;
  vmi_error ("out of memory");
  return NULL;
}

static struct vmi_layer *
open_sibling (const struct vmi_opener *op, const char *relpath)
{
  return open_file (op->opaque, relpath);
}

/* Read a whole small file of the appliance into memory. */
static char *
read_all (struct vmi_layer *l, size_t *len)
{
  char *buf;

  if (l->size > OVA_MAX_DESCRIPTOR) {
    errno = EFBIG;
    vmi_error ("%s: %" PRIu64 " bytes is too large for a descriptor "
               "(at most %u)", l->name, l->size, OVA_MAX_DESCRIPTOR);
    return NULL;
  }
  buf = malloc (l->size + 1);
  if (buf == NULL) {
    errno = ENOMEM;
    vmi_error ("%s: out of memory", l->name);
    return NULL;
  }
  if (vmi_layer_pread (l, buf, l->size, 0) == -1) {
    free (buf);
    return NULL;
  }
  buf[l->size] = '\0';
  *len = l->size;
  return buf;
}

static void
ova_free (struct ova *o)
{
  if (o == NULL)
    return;
  for (size_t i = 0; i < o->nviews; i++)
    vmi_layer_close (o->views[i]);
  free (o->views);
  for (size_t i = 0; i < o->nmembers; i++)
    free (o->members[i].name);
  free (o->members);
  vmi_layer_close (o->archive);
  free (o->dir);
  free (o->source);
  free (o);
}

/* Open the appliance: the archive and its listing, or the OVF's folder.
 * Returns the OVF text. */
static char *
ova_open_descriptor (struct ova *o, const char *source,
                     const struct vmi_source_opts *opts, size_t *len,
                     char **ovf_name)
{
  struct vmi_layer *l;
  char *text;
  size_t n;

  o->remote = is_remote (source);
  o->is_ovf = has_suffix (source, ".ovf");
  o->opts = opts;
  if (o->is_ovf) {
    n = strcspn (source, "?#");
    while (n > 0 && source[n - 1] != '/')
      n--;
    if (n == 0)
      o->dir = strdup ("./");
    else
      o->dir = strndup (source, n);
    if (o->dir == NULL) {
      errno = ENOMEM;
      vmi_error ("out of memory");
      return NULL;
    }
    l = o->remote ? vmi_http_open (source, opts) : vmi_file_open (source);
    if (l == NULL)
      return NULL;
    o->source = strdup (l->name);
    *ovf_name = strdup (l->name);
  }
  else {
    const struct member *ovf = NULL;
    o->archive = o->remote ? vmi_http_open (source, opts)
                           : vmi_file_open (source);
    if (o->archive == NULL)
      return NULL;
    o->source = strdup (o->archive->name);
    if (o->source == NULL) {
      errno = ENOMEM;
      vmi_error ("out of memory");
      return NULL;
    }
    if (vmi_tar_list (o->archive, list_cb, o) == -1)
      return NULL;
    for (size_t i = 0; i < o->nmembers && !ovf; i++)
      if (has_suffix (o->members[i].name, ".ovf"))
        ovf = &o->members[i];
    if (ovf == NULL) {
      errno = EINVAL;
      vmi_error ("%s: no .ovf descriptor in the archive (%s)", o->source,
                 o->nmembers ? "it holds no *.ovf member"
                             : "it is empty or not an OVA");
      return NULL;
    }
    l = open_file (o, ovf->name);
    if (l == NULL)
      return NULL;
    *ovf_name = strdup (l->name);
  }
  text = read_all (l, len);
  vmi_layer_close (l);
  if (*ovf_name == NULL || o->source == NULL) {
    free (text);
    errno = ENOMEM;
    vmi_error ("out of memory");
    return NULL;
  }
  return text;
}

/* The raw view of disk D: its file, decompressed if need be, with its
 * format layer stacked. */
static struct vmi_layer *
open_view (struct ova *o, const struct vmi_disk *d, const char **format)
{
  const struct ova_file_info *info = d->provider_data;
  struct vmi_opener sib = { open_sibling, o };
  struct vmi_layer *f;

  if (info && info->chunked) {
    errno = ENOTSUP;
    vmi_error ("%s: disk file %s is split in chunks (ovf:chunkSize); "
               "chunked OVF files are not supported", o->source,
               d->source_name);
    return NULL;
  }
  if ((f = open_file (o, d->source_name)) == NULL)
    return NULL;
  if (info && info->gzip) {
    f = vmi_gzip_open (f);
    if (f == NULL)
      return NULL;
  }
  return vmi_format_open (f, &sib, format);
}

static struct vmi_layer *
ova_open_disk (struct vmi_provider *p, const struct vmi_vm *vm, size_t i)
{
  struct ova *o = p->priv;

  (void) vm;
  if (i >= o->nviews) {
    errno = ENOENT;
    vmi_error ("%s: no disk %zu", o->source, i);
    return NULL;
  }
  return vmi_layer_ref (o->views[i]);
}

static void
ova_close (struct vmi_provider *p)
{
  ova_free (p->priv);
}

static const struct vmi_provider_ops ova_ops = {
  .name = "ova",
  .open_disk = ova_open_disk,
  .close = ova_close,
};

struct vmi_provider *
vmi_ova_provider_open (const char *source, const struct vmi_source_opts *opts)
{
  struct ova *o = calloc (1, sizeof *o);
  struct vmi_provider *p = NULL;
  struct vmi_vm *vm = NULL;
  char *text = NULL, *ovf_name = NULL;
  size_t len = 0;

  if (o == NULL) {
    errno = ENOMEM;
    vmi_error ("out of memory");
    return NULL;
  }
  p = vmi_provider_new (&ova_ops, o, opts);
  if (p == NULL) {
    ova_free (o);
    return NULL;
  }
  /* From here the provider's own copy of the options is used. */
  text = ova_open_descriptor (o, source, &p->opts, &len, &ovf_name);
  if (text == NULL)
    goto fail;
  vm = vmi_ovf_parse (text, len, ovf_name);
  if (vm == NULL)
    goto fail;
  if ((vm->source_kind = strdup ("ova")) == NULL
      || (vm->source_where = strdup (o->source)) == NULL
      || (o->views = calloc (vm->ndisks + 1, sizeof *o->views)) == NULL) {
    errno = ENOMEM;
    vmi_error ("out of memory");
    goto fail;
  }
  for (size_t i = 0; i < vm->ndisks; i++) {
    struct vmi_disk *d = &vm->disks[i];
    const char *format = "raw";
    struct vmi_layer *v = open_view (o, d, &format);
    if (v == NULL) {
      vmi_error_prefix ("disk %zu (%s)", i, d->source_name);
      goto fail;
    }
    o->views[o->nviews++] = v;
    if (d->capacity >= 0 && (uint64_t) d->capacity != v->size)
      vmi_log (VMI_LOG_WARN, "%s: disk %zu: the OVF says %" PRId64
               " bytes, the %s image holds %" PRIu64 "; using the image's",
               o->source, i, d->capacity, format, v->size);
    d->capacity = (int64_t) v->size;
    /* Format layers answer this from their metadata (already read). */
    d->allocated = vmi_layer_allocated (v);
    if (d->allocated < 0)
      goto fail;
    free (d->source_format);
    if ((d->source_format = strdup (format)) == NULL) {
      errno = ENOMEM;
      vmi_error ("out of memory");
      goto fail;
    }
  }
  if (vmi_provider_add_vm (p, vm) == -1)
    goto fail;
  free (text);
  free (ovf_name);
  return p;

 fail:
  vmi_vm_free (vm);
  free (text);
  free (ovf_name);
  vmi_provider_close (p);
  return NULL;
}

/* ---- vmi_ova_verify ---- */

struct check {
  const char *file;
  const struct vmi_manifest_entry *e[4];
  size_t ne;
};

static const EVP_MD *
md_of (const char *algo)
{
  if (!strcmp (algo, "SHA1"))
    return EVP_sha1 ();
  if (!strcmp (algo, "SHA256"))
    return EVP_sha256 ();
  if (!strcmp (algo, "SHA512"))
    return EVP_sha512 ();
  return NULL;
}

static void
hex (const unsigned char *d, size_t n, char *out)
{
  for (size_t i = 0; i < n; i++)
    sprintf (out + 2 * i, "%02x", d[i]);
}

/* Hash L once, in order, with every algorithm C lists; compare.  Returns 0
 * if all match, 1 on a mismatch (reported to OUT), -1 on a read error. */
static int
check_layer (struct vmi_layer *l, const struct check *c, FILE *out,
             char *why, size_t whylen)
{
  EVP_MD_CTX *ctx[4] = { 0 };
  const size_t chunk = 4u << 20;
  char *buf = malloc (chunk);
  int r = -1;

  if (buf == NULL) {
    errno = ENOMEM;
    vmi_error ("out of memory");
    return -1;
  }
  for (size_t i = 0; i < c->ne; i++) {
    if ((ctx[i] = EVP_MD_CTX_new ()) == NULL
        || !EVP_DigestInit_ex (ctx[i], md_of (c->e[i]->algo), NULL)) {
      errno = ENOMEM;
      vmi_error ("out of memory");
      goto out;
    }
  }
  for (uint64_t pos = 0; pos < l->size;) {
    size_t n = l->size - pos < chunk ? (size_t) (l->size - pos) : chunk;
    if (vmi_layer_pread (l, buf, n, pos) == -1)
      goto out;
    for (size_t i = 0; i < c->ne; i++)
      EVP_DigestUpdate (ctx[i], buf, n);
    pos += n;
  }
  r = 0;
  for (size_t i = 0; i < c->ne; i++) {
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    EVP_DigestFinal_ex (ctx[i], md, &mdlen);
    if (mdlen != c->e[i]->digest_len
        || memcmp (md, c->e[i]->digest, mdlen) != 0) {
      char want[129], got[129];
      hex (c->e[i]->digest, c->e[i]->digest_len, want);
      hex (md, mdlen, got);
      fprintf (out, "%s: FAILED (%s mismatch: the manifest says %s, the "
               "file has %s)\n", c->file, c->e[i]->algo, want, got);
      snprintf (why, whylen, "%s: %s mismatch", c->file, c->e[i]->algo);
      r = 1;
    }
  }
  if (r == 0) {
    fprintf (out, "%s: OK (", c->file);
    for (size_t i = 0; i < c->ne; i++)
      fprintf (out, "%s%s", i ? ", " : "", c->e[i]->algo);
    fprintf (out, ")\n");
  }
 out:
  for (size_t i = 0; i < c->ne; i++)
    EVP_MD_CTX_free (ctx[i]);
  free (buf);
  return r;
}

static void
collect (struct check *c, const char *file,
         const struct vmi_manifest_entry *v, size_t n)
{
  c->file = file;
  c->ne = 0;
  while (file[0] == '.' && file[1] == '/')
    file += 2;
  for (size_t i = 0; i < n && c->ne < 4; i++) {
    const char *f = v[i].file;
    while (f[0] == '.' && f[1] == '/')
      f += 2;
    if (strcmp (f, file) == 0)
      c->e[c->ne++] = &v[i];
  }
}

/* Remember a failure: the first one becomes the error message. */
static void
fail_note (int *failures, char *first, size_t firstlen, const char *why)
{
  if ((*failures)++ == 0)
    snprintf (first, firstlen, "%s", why);
}

int
vmi_ova_verify (const char *source, const struct vmi_source_opts *opts,
                FILE *out)
{
  struct ova *o = calloc (1, sizeof *o);
  struct vmi_manifest_entry *ents = NULL;
  size_t nents = 0, len = 0;
  char *text = NULL, *ovf_name = NULL, *mf_text = NULL, *mf_name = NULL;
  bool *used = NULL;
  char first[512] = "", why[512];
  int failures = 0, r = -1;
  struct vmi_layer *mf = NULL;

  if (o == NULL) {
    errno = ENOMEM;
    vmi_error ("out of memory");
    return -1;
  }
  text = ova_open_descriptor (o, source, opts, &len, &ovf_name);
  if (text == NULL)
    goto out;

  /* The manifest: the archive's .mf member, or NAME.mf beside NAME.ovf. */
  if (!o->is_ovf) {
    for (size_t i = 0; i < o->nmembers && !mf_name; i++)
      if (has_suffix (o->members[i].name, ".mf"))
        mf_name = strdup (o->members[i].name);
  }
  else {
    const char *base = source + strlen (o->dir);
    size_t n = strcspn (base, "?#");
    if (n >= 4 && asprintf (&mf_name, "%.*s.mf", (int) (n - 4), base) == -1)
      mf_name = NULL;
  }
  if (mf_name == NULL) {
    errno = ENOENT;
    vmi_error ("%s: no manifest (.mf) to verify against", o->source);
    goto out;
  }
  if ((mf = open_file (o, mf_name)) == NULL) {
    vmi_error_prefix ("%s: the manifest", o->source);
    goto out;
  }
  if ((mf_text = read_all (mf, &len)) == NULL
      || vmi_manifest_parse (mf_text, len, mf->name, &ents, &nents) == -1)
    goto out;
  used = calloc (nents + 1, sizeof *used);
  if (used == NULL) {
    errno = ENOMEM;
    vmi_error ("out of memory");
    goto out;
  }

  if (!o->is_ovf) {
    /* Every member but the manifest and a certificate, in archive order. */
    for (size_t i = 0; i < o->nmembers; i++) {
      const struct member *m = &o->members[i];
      struct check c;
      struct vmi_layer *l;
      int v;
      if (!strcmp (m->name, mf_name) || has_suffix (m->name, ".cert"))
        continue;
      collect (&c, m->name, ents, nents);
      for (size_t k = 0; k < c.ne; k++)
        used[c.e[k] - ents] = true;
      if (c.ne == 0) {
        fprintf (out, "%s: FAILED (not listed in the manifest)\n", m->name);
        snprintf (why, sizeof why, "%s: not listed in the manifest", m->name);
        fail_note (&failures, first, sizeof first, why);
        continue;
      }
      if ((l = open_file (o, m->name)) == NULL)
        goto out;
      v = check_layer (l, &c, out, why, sizeof why);
      vmi_layer_close (l);
      if (v == -1)
        goto out;
      if (v == 1)
        fail_note (&failures, first, sizeof first, why);
    }
  }
  else {
    /* The OVF and the files its manifest lists, in manifest order. */
    const char *ovf_base = source + strlen (o->dir);
    char *ovf_file = strndup (ovf_base, strcspn (ovf_base, "?#"));
    bool ovf_listed = false;
    if (ovf_file == NULL) {
      errno = ENOMEM;
      vmi_error ("out of memory");
      goto out;
    }
    for (size_t i = 0; i < nents; i++) {
      struct check c;
      struct vmi_layer *l;
      int v;
      if (used[i])
        continue;
      collect (&c, ents[i].file, ents, nents);
      for (size_t k = 0; k < c.ne; k++)
        used[c.e[k] - ents] = true;
      if (!strcmp (ents[i].file, ovf_file))
        ovf_listed = true;
      if ((l = open_file (o, ents[i].file)) == NULL) {
        fprintf (out, "%s: FAILED (listed in the manifest but cannot be "
                 "read: %s)\n", ents[i].file, vmi_error_get ());
        snprintf (why, sizeof why, "%s: missing", ents[i].file);
        fail_note (&failures, first, sizeof first, why);
        continue;
      }
      v = check_layer (l, &c, out, why, sizeof why);
      vmi_layer_close (l);
      if (v == -1) {
        free (ovf_file);
        goto out;
      }
      if (v == 1)
        fail_note (&failures, first, sizeof first, why);
    }
    if (!ovf_listed) {
      fprintf (out, "%s: FAILED (not listed in the manifest)\n", ovf_file);
      snprintf (why, sizeof why, "%s: not listed in the manifest", ovf_file);
      fail_note (&failures, first, sizeof first, why);
    }
    free (ovf_file);
  }
  for (size_t i = 0; i < nents; i++)
    if (!used[i]) {
      fprintf (out, "%s: FAILED (listed in the manifest but missing from "
               "the archive)\n", ents[i].file);
      snprintf (why, sizeof why, "%s: missing from the archive", ents[i].file);
      fail_note (&failures, first, sizeof first, why);
    }
  if (failures) {
    errno = EBADMSG;
    vmi_error ("%s: verification failed: %s%s", o->source, first,
               failures > 1 ? " (and more)" : "");
    goto out;
  }
  r = 0;
 out:
  vmi_layer_close (mf);
  vmi_manifest_free (ents, nents);
  free (used);
  free (mf_text);
  free (mf_name);
  free (text);
  free (ovf_name);
  ova_free (o);
  return r;
}
