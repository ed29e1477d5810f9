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
#include "../local/confine.h"
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
  struct vmi_confine confine; /* local OVF: its files stay in its folder */
  char *ovf_dir;             /* OVA: the OVF member's folder ("" or "app/");
                                its hrefs and manifest are relative to it */
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

/* The archive member called NAME (its full path in the archive). */
static struct vmi_layer *
open_member (const struct ova *o, const char *name, const char *href)
{
  const struct member *m = member_find (o, name);
  char seen[512] = "", *path;
  struct vmi_layer *l;

  if (m) {
    if (asprintf (&path, "%s:%s", o->archive->name, m->name) == -1) {
      errno = ENOMEM;
      vmi_error ("out of memory");
      return NULL;
    }
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
  if (strcmp (name, href) != 0)
    vmi_error ("%s: the OVF names file %s (member %s beside the OVF), but "
               "the archive has no such member (it holds: %s)", o->source,
               href, name, seen);
  else
    vmi_error ("%s: the OVF names file %s, but the archive has no such "
               "member (it holds: %s)", o->source, href, seen);
  return NULL;
}

/* The raw bytes of file HREF of the appliance: relative to the OVF's
 * folder, inside the archive or beside the OVF. */
static struct vmi_layer *
open_file (const struct ova *o, const char *href)
{
  struct vmi_layer *l;
  char *path, *esc;

  if (check_href (o, href) == -1)
    return NULL;
  while (href[0] == '.' && href[1] == '/')
    href += 2;
  if (!o->is_ovf) {
    if (asprintf (&path, "%s%s", o->ovf_dir ? o->ovf_dir : "", href) == -1)
      goto nomem;
    l = open_member (o, path, href);
    free (path);
    return l;
  }
  if (!o->remote)   /* no symlink out of the OVF's folder either */
    return vmi_confine_open (&o->confine, href);
  esc = url_path_escape (href);
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
  free (o->ovf_dir);
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
    if (!o->remote
        && vmi_confine_init (&o->confine, o->dir, opts->allow_outside_paths) == -1)
      return NULL;
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
    l = open_member (o, ovf->name, ovf->name);
    if (l == NULL)
      return NULL;
    /* app/app.ovf: its hrefs (and its manifest) are relative to app/. */
    n = strlen (ovf->name);
    while (n > 0 && ovf->name[n - 1] != '/')
      n--;
    o->ovf_dir = strndup (ovf->name, n);
    *ovf_name = strdup (l->name);
    if (o->ovf_dir == NULL) {
      vmi_layer_close (l);
      errno = ENOMEM;
      vmi_error ("out of memory");
      return NULL;
    }
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

/* ---- chunked files (ovftool --chunkSize): HREF.000000000, ... ---- */

/* ovftool numbers pieces with 9 digits; a million is already absurd. */
#define MAX_PIECES 1000000

struct pieces {
  struct vmi_layer *archive;   /* OVA: the archive (a reference) */
  uint64_t *offset, *len;      /* OVA: where each piece's data is */
  char *prefix;                /* OVF: URL of the file (escaped), or its
                                  href in the local OVF's folder */
  bool remote;
  char *dir, *allow;           /* local OVF: its folder, what is allowed */
  struct vmi_confine confine;  /* local OVF: pieces stay in its folder */
  struct vmi_source_opts opts; /* OVF over http: a copy (pieces open late) */
  char *name;                  /* the file as the OVF names it */
};

static void
pieces_free (void *opaque)
{
  struct pieces *p = opaque;

  vmi_layer_close (p->archive);
  free (p->offset);
  free (p->len);
  free (p->prefix);
  free (p->dir);
  free (p->allow);
  free (p->name);
  vmi_source_opts_clear (&p->opts);
  free (p);
}

static struct vmi_layer *
piece_open (void *opaque, size_t i)
{
  struct pieces *p = opaque;
  struct vmi_layer *l = NULL;
  char *path;

  if (asprintf (&path, "%s.%09zu", p->archive ? p->name : p->prefix, i) == -1) {
    errno = ENOMEM;
    vmi_error ("out of memory");
    return NULL;
  }
  if (p->archive) {
    /* The size is checked by the concat layer. */
    char *full;
    if (asprintf (&full, "%s:%s", p->archive->name, path) != -1) {
      l = vmi_slice_open (vmi_layer_ref (p->archive), p->offset[i],
                          p->len[i], full);
      free (full);
    }
  }
  else
    l = p->remote ? vmi_http_open (path, &p->opts)
                  : vmi_confine_open (&p->confine, path);
  free (path);
  return l;
}

static char *
dup_opt (const char *s, bool *err)
{
  char *d = s ? strdup (s) : NULL;

  if (s && d == NULL)
    *err = true;
  return d;
}

/* The sizes of the pieces of HREF in the archive, in order; *N of them. */
static int
archive_pieces (const struct ova *o, const char *member, struct pieces *p,
                uint64_t **sizes, size_t *n)
{
  for (size_t i = 0;; i++) {
    char *name;
    const struct member *m;
    uint64_t *s, *off, *len;
    if (asprintf (&name, "%s.%09zu", member, i) == -1)
      return -1;
    m = member_find (o, name);
    free (name);
    if (m == NULL)
      return 0;
    if ((s = realloc (*sizes, (i + 1) * sizeof *s)) == NULL)
      return -1;
    *sizes = s;
    if ((off = realloc (p->offset, (i + 1) * sizeof *off)) == NULL)
      return -1;
    p->offset = off;
    if ((len = realloc (p->len, (i + 1) * sizeof *len)) == NULL)
      return -1;
    p->len = len;
    s[i] = len[i] = m->size;
    off[i] = m->offset;
    *n = i + 1;
  }
}

/* The sizes of the pieces of a file beside the OVF: from chunkSize and
 * ovf:size, without opening any; or, without ovf:size, by opening pieces
 * until one is missing. */
static int
beside_pieces (const struct ova_file_info *info, struct pieces *p,
               uint64_t **sizes, size_t *n)
{
  uint64_t total = (uint64_t) info->size;

  if (info->size >= 0) {
    uint64_t pieces = total / info->chunk_size + (total % info->chunk_size != 0);
    if (pieces > MAX_PIECES) {
      errno = EINVAL;
      vmi_error ("ovf:size %" PRIu64 " in pieces of ovf:chunkSize %" PRIu64
                 " is %" PRIu64 " pieces (at most %d)", total,
                 info->chunk_size, pieces, MAX_PIECES);
      return -1;
    }
    *n = pieces == 0 ? 1 : (size_t) pieces;
    if ((*sizes = calloc (*n, sizeof **sizes)) == NULL)
      return -1;
    for (size_t i = 0; i < *n; i++)
      (*sizes)[i] = i + 1 < *n ? info->chunk_size
                               : total - (uint64_t) i * info->chunk_size;
    return 0;
  }
  for (size_t i = 0; i < MAX_PIECES; i++) {
    struct vmi_layer *l = piece_open (p, i);
    uint64_t *s;
    if (l == NULL)
      return errno == ENOENT && i > 0 ? 0 : -1;
    s = realloc (*sizes, (i + 1) * sizeof *s);
    if (s)
      s[i] = l->size;
    vmi_layer_close (l);
    if (s == NULL)
      return -1;
    *sizes = s;
    *n = i + 1;
  }
  errno = EINVAL;
  vmi_error ("more than %d pieces", MAX_PIECES);
  return -1;
}

/* File HREF split in pieces, as one layer.  Every piece but the last
 * must be exactly chunkSize bytes. */
static struct vmi_layer *
open_chunked (const struct ova *o, const char *href,
              const struct ova_file_info *info)
{
  struct pieces *p = calloc (1, sizeof *p);
  uint64_t *sizes = NULL, total = 0;
  size_t n = 0;
  bool err = false;
  struct vmi_layer *l;
  int r;

  if (check_href (o, href) == -1) {
    free (p);
    return NULL;
  }
  while (href[0] == '.' && href[1] == '/')
    href += 2;
  if (p == NULL || (p->name = strdup (href)) == NULL)
    goto nomem;
  if (!o->is_ovf) {
    char *member;
    if (asprintf (&member, "%s%s", o->ovf_dir, href) == -1)
      goto nomem;
    p->archive = vmi_layer_ref (o->archive);
    r = archive_pieces (o, member, p, &sizes, &n);
    free (p->name);
    p->name = member;
    if (r == -1)
      goto nomem;
  }
  else if (!o->remote) {
    if ((p->dir = strdup (o->dir)) == NULL
        || (o->opts->allow_outside_paths
            && (p->allow = strdup (o->opts->allow_outside_paths)) == NULL)
        || (p->prefix = strdup (href)) == NULL)
      goto nomem;
    if (vmi_confine_init (&p->confine, p->dir, p->allow) == -1)
      goto fail;
  }
  if (o->is_ovf && o->remote) {
    char *esc = url_path_escape (href);
    p->remote = o->remote;
    /* What vmi_http_open uses, field by field (no shallow copies). */
    vmi_source_opts_init (&p->opts);
    p->opts.insecure = o->opts->insecure;
    p->opts.timeout_seconds = o->opts->timeout_seconds;
    p->opts.connect_timeout_seconds = o->opts->connect_timeout_seconds;
    p->opts.retry = o->opts->retry;
    p->opts.username = dup_opt (o->opts->username, &err);
    p->opts.password = dup_opt (o->opts->password, &err);
    p->opts.ca_cert_file = dup_opt (o->opts->ca_cert_file, &err);
    p->opts.ca_cert_pem = dup_opt (o->opts->ca_cert_pem, &err);
    if (esc == NULL || err
        || asprintf (&p->prefix, "%s%s", o->dir, esc) == -1) {
      free (esc);
      goto nomem;
    }
    free (esc);
  }
  if (o->is_ovf) {
    if (beside_pieces (info, p, &sizes, &n) == -1) {
      if (errno == ENOMEM)
        goto nomem;
      vmi_error_prefix ("%s: chunked file %s", o->source, href);
      pieces_free (p);
      free (sizes);
      return NULL;
    }
  }
  for (size_t i = 0; i < n; i++) {
    if (i + 1 < n && sizes[i] != info->chunk_size) {
      errno = EINVAL;
      vmi_error ("%s: piece %s.%09zu of chunked file %s is %" PRIu64
                 " bytes; ovf:chunkSize says %" PRIu64, o->source, href, i,
                 href, sizes[i], info->chunk_size);
      goto fail;
    }
    total += sizes[i];
  }
  if (n == 0) {
    errno = ENOENT;
    vmi_error ("%s: the OVF names chunked file %s, but %s.000000000 is not "
               "there", o->source, href, href);
    goto fail;
  }
  if (info->size >= 0 && total != (uint64_t) info->size) {
    errno = EINVAL;
    vmi_error ("%s: the pieces of chunked file %s add up to %" PRIu64
               " bytes; ovf:size says %" PRId64, o->source, href, total,
               info->size);
    goto fail;
  }
  l = vmi_concat_open (n, sizes, piece_open, p, pieces_free, href);
  free (sizes);
  return l;
 nomem:
  errno = ENOMEM;
  vmi_error ("out of memory");
 fail:
  if (p)
    pieces_free (p);
  free (sizes);
  return NULL;
}

/* The raw view of disk D: its file, decompressed if need be, with its
 * format layer stacked. */
static struct vmi_layer *
open_view (struct ova *o, const struct vmi_disk *d, const char **format)
{
  const struct ova_file_info *info = d->provider_data;
  struct vmi_opener sib = { open_sibling, o };
  struct vmi_layer *f;

  f = info && info->chunked ? open_chunked (o, d->source_name, info)
                             : open_file (o, d->source_name);
  if (f == NULL)
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
  size_t base = 0, k = 0;

  /* The views are every VM's disks, VM after VM, in p->vms order. */
  for (; k < p->nvms && p->vms[k] != vm; k++)
    base += p->vms[k]->ndisks;
  if (k == p->nvms || i >= vm->ndisks || base + i >= o->nviews) {
    errno = ENOENT;
    vmi_error ("%s: %s: no disk %zu", o->source, vm->name, i);
    return NULL;
  }
  return vmi_layer_ref (o->views[base + i]);
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

/* Open the raw view of every disk of VM (appended to o->views) and fill
 * in what the images say: capacity, allocation, format. */
static int
open_vm_disks (struct ova *o, struct vmi_vm *vm)
{
  struct vmi_layer **v = realloc (o->views, (o->nviews + vm->ndisks + 1)
                                            * sizeof *v);

  if (v == NULL || (vm->source_kind = strdup ("ova")) == NULL
      || (vm->source_where = strdup (o->source)) == NULL) {
    if (v)
      o->views = v;
    errno = ENOMEM;
    vmi_error ("out of memory");
    return -1;
  }
  o->views = v;
  for (size_t i = 0; i < vm->ndisks; i++) {
    struct vmi_disk *d = &vm->disks[i];
    const char *format = "raw";
    struct vmi_layer *l = open_view (o, d, &format);
    if (l == NULL) {
      vmi_error_prefix ("%s: disk %zu (%s)", vm->name, i, d->source_name);
      return -1;
    }
    o->views[o->nviews++] = l;
    if (d->capacity >= 0 && (uint64_t) d->capacity != l->size)
      vmi_log (VMI_LOG_WARN, "%s: %s: disk %zu: the OVF says %" PRId64
               " bytes, the %s image holds %" PRIu64 "; using the image's",
               o->source, vm->name, i, d->capacity, format, l->size);
    d->capacity = (int64_t) l->size;
    /* Format layers answer this from their metadata (already read). */
    d->allocated = vmi_layer_allocated (l);
    if (d->allocated < 0)
      return -1;
    free (d->source_format);
    if ((d->source_format = strdup (format)) == NULL) {
      errno = ENOMEM;
      vmi_error ("out of memory");
      return -1;
    }
  }
  return 0;
}

struct vmi_provider *
vmi_ova_provider_open (const char *source, const struct vmi_source_opts *opts)
{
  struct ova *o = calloc (1, sizeof *o);
  struct vmi_provider *p = NULL;
  struct vmi_vm **vms = NULL;
  char *text = NULL, *ovf_name = NULL;
  size_t len = 0, nvms = 0, k = 0;

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
  if (text == NULL
      || vmi_ovf_parse_all (text, len, ovf_name, &vms, &nvms) == -1)
    goto fail;
  for (; k < nvms; k++) {
    if (open_vm_disks (o, vms[k]) == -1 || vmi_provider_add_vm (p, vms[k]) == -1)
      goto fail;
  }
  free (vms);
  free (text);
  free (ovf_name);
  return p;

 fail:
  for (; k < nvms; k++)
    vmi_vm_free (vms[k]);
  free (vms);
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

/* The signing certificate beside the manifest MF_NAME, if there is one:
 * its signature over the manifest's bytes must verify.  0 (none, or
 * good), 1 bad (noted in WHY), -1 error. */
static int
check_cert (const struct ova *o, const char *mf_name, const char *mf,
            size_t mf_len, const struct vmi_source_opts *opts, FILE *out,
            char *why, size_t whylen)
{
  struct vmi_ova_cert c;
  struct vmi_layer *l = NULL;
  char *name = NULL, *text = NULL;
  size_t len, n = strlen (mf_name);
  int r = -1;

  if (!o->is_ovf) {
    size_t dl = strlen (o->ovf_dir);
    for (size_t i = 0; i < o->nmembers && !name; i++)
      if (has_suffix (o->members[i].name, ".cert")
          && strncmp (o->members[i].name, o->ovf_dir, dl) == 0
          && !strchr (o->members[i].name + dl, '/'))
        name = strdup (o->members[i].name + dl);
    if (name == NULL)
      return 0;
  }
  else if (n < 3 || asprintf (&name, "%.*s.cert", (int) (n - 3), mf_name) == -1)
    name = NULL;
  if (name == NULL) {
    errno = ENOMEM;
    vmi_error ("out of memory");
    return -1;
  }
  if ((l = open_file (o, name)) == NULL) {
    r = errno == ENOENT && o->is_ovf ? 0 : -1;   /* no certificate: fine */
    goto out;
  }
  if ((text = read_all (l, &len)) == NULL
      || vmi_ova_cert_parse (text, len, l->name, &c) == -1)
    goto out;
  r = vmi_ova_cert_check (&c, name, mf, mf_len, mf_name, opts->ca_cert_file,
                          out, why, whylen);
  vmi_ova_cert_clear (&c);
 out:
  vmi_layer_close (l);
  free (text);
  free (name);
  return r;
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
    /* A .mf in the OVF's folder; names relative to that folder. */
    size_t dl = strlen (o->ovf_dir);
    for (size_t i = 0; i < o->nmembers && !mf_name; i++)
      if (has_suffix (o->members[i].name, ".mf")
          && strncmp (o->members[i].name, o->ovf_dir, dl) == 0
          && !strchr (o->members[i].name + dl, '/'))
        mf_name = strdup (o->members[i].name + dl);
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
      size_t dl = strlen (o->ovf_dir);
      /* The manifest names files relative to the OVF's folder. */
      const char *rel = strncmp (m->name, o->ovf_dir, dl) == 0
                        ? m->name + dl : m->name;
      struct check c;
      struct vmi_layer *l;
      int v;
      if (!strcmp (rel, mf_name) || has_suffix (rel, ".cert"))
        continue;
      collect (&c, rel, ents, nents);
      for (size_t k = 0; k < c.ne; k++)
        used[c.e[k] - ents] = true;
      if (c.ne == 0) {
        fprintf (out, "%s: FAILED (not listed in the manifest)\n", m->name);
        snprintf (why, sizeof why, "%s: not listed in the manifest", m->name);
        fail_note (&failures, first, sizeof first, why);
        continue;
      }
      if ((l = open_member (o, m->name, m->name)) == NULL)
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
  switch (check_cert (o, mf_name, mf_text, len, opts, out, why, sizeof why)) {
  case -1: goto out;
  case 1: fail_note (&failures, first, sizeof first, why); break;
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
