/* vmimport serve SOURCE: every disk of every VM of SOURCE over HTTP(S),
 * read straight from the layer stack (no scratch), for Harvester's
 * VirtualMachineImage (sourceType: download) and CDI's HTTP source.
 *
 *   /<token>/[<folder>/...]<vm>/disk-N.img   GET, HEAD, one Range
 *   /<token>/[<folder>/...]<vm>/vm.json
 *   /<token>/<folder or vm>/                 the names in it, one a line
 *   /<token>/status                          per disk: bytes served,
 *                                            distinct bytes, readers now
 *
 * The tree is vmimportfs's (tree.h).  The token is an unguessable prefix,
 * so that the URL can be handed to a cluster without opening the source to
 * whoever finds the port; a wrong one gets the same 404 as a missing file,
 * and it is never logged. */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include <microhttpd.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "vmimport/error.h"
#include "vmimport/tree.h"
#include "cli.h"

#define CACHE_BLOCK 65536
#define SEND_BLOCK (256 * 1024)   /* bytes per read into a response */
#define MAX_TOKEN 256
#define MAX_CONNECTIONS 64

/* The distinct bytes read from a disk: sorted, disjoint [start, end). */
struct coverage {
  uint64_t (*v)[2];
  size_t n, cap;
  uint64_t bytes;
};

struct disk_stats {
  pthread_mutex_t lock;
  uint64_t served;          /* bytes sent, counting repeats */
  struct coverage covered;
  int readers;              /* responses under way */
};

struct server {
  struct vmi_provider *provider;
  struct vmi_tree *tree;
  struct disk_stats **stats; /* [vm][disk], as the tree */
  char token[MAX_TOKEN];
  time_t started;
  bool until_read;          /* stop once every disk was read whole */
  pthread_mutex_t lock;
  pthread_cond_t cond;
  bool done;
  struct MHD_Daemon *daemon;
  char *url;                /* base URL, token included */
};


/* ---- coverage ------------------------------------------------------- */

/* Add [START, END) to C, merging what it touches.  -1 on ENOMEM. */
static int
coverage_add (struct coverage *c, uint64_t start, uint64_t end)
{
  size_t lo = 0, hi = c->n, first, last;

  if (start >= end)
    return 0;
  while (lo < hi) {             /* first range ending at or after START */
    size_t mid = (lo + hi) / 2;
    if (c->v[mid][1] < start)
      lo = mid + 1;
    else
      hi = mid;
  }
  first = last = lo;
  while (last < c->n && c->v[last][0] <= end)
    last++;
  if (first == last) {          /* touches nothing: insert */
    if (c->n == c->cap) {
      size_t cap = c->cap ? c->cap * 2 : 16;
      void *v = realloc (c->v, cap * sizeof *c->v);
      if (v == NULL)
        return -1;
      c->v = v;
      c->cap = cap;
    }
    memmove (&c->v[first + 1], &c->v[first], (c->n - first) * sizeof *c->v);
    c->v[first][0] = start;
    c->v[first][1] = end;
    c->n++;
    c->bytes += end - start;
    return 0;
  }
  /* Merge ranges FIRST..LAST-1 with [START, END) into FIRST. */
  for (size_t i = first; i < last; i++)
    c->bytes -= c->v[i][1] - c->v[i][0];
  if (c->v[first][0] < start)
    start = c->v[first][0];
  if (c->v[last - 1][1] > end)
    end = c->v[last - 1][1];
  c->v[first][0] = start;
  c->v[first][1] = end;
  c->bytes += end - start;
  memmove (&c->v[first + 1], &c->v[last], (c->n - last) * sizeof *c->v);
  c->n -= last - first - 1;
  return 0;
}

/* ---- responses -------------------------------------------------------- */

struct reader {
  struct server *srv;
  struct vmi_tree_disk *disk;
  struct disk_stats *stats;
  uint64_t start, length;       /* the range sent */
  uint64_t sent;
};

static bool
all_read (struct server *s)
{
  for (size_t i = 0; i < s->tree->nvms; i++)
    for (size_t j = 0; j < s->tree->vms[i].ndisks; j++) {
      struct disk_stats *st = &s->stats[i][j];
      bool whole;
      pthread_mutex_lock (&st->lock);
      whole = st->covered.bytes >= s->tree->vms[i].disks[j].size;
      pthread_mutex_unlock (&st->lock);
      if (!whole)
        return false;
    }
  return true;
}

static ssize_t
read_disk (void *cls, uint64_t pos, char *buf, size_t max)
{
  struct reader *r = cls;
  uint64_t off = r->start + pos;
  size_t n = max;

  if (pos >= r->length)
    return MHD_CONTENT_READER_END_OF_STREAM;
  if (n > r->length - pos)
    n = r->length - pos;
  if (vmi_layer_pread (r->disk->layer, buf, n, off) == -1) {
    vmi_log (VMI_LOG_ERROR, "%s: read of %zu bytes at offset %" PRIu64 ": %s",
             r->disk->name, n, off, vmi_error_get ());
    return MHD_CONTENT_READER_END_WITH_ERROR;
  }
  pthread_mutex_lock (&r->stats->lock);
  r->stats->served += n;
  if (coverage_add (&r->stats->covered, off, off + n) == -1)
    vmi_log (VMI_LOG_WARN, "%s: out of memory counting the bytes read",
             r->disk->name);
  pthread_mutex_unlock (&r->stats->lock);
  r->sent += n;
  return (ssize_t) n;
}

static void
reader_done (void *cls)
{
  struct reader *r = cls;
  struct server *s = r->srv;

  pthread_mutex_lock (&r->stats->lock);
  r->stats->readers--;
  pthread_mutex_unlock (&r->stats->lock);
  free (r);
  if (s->until_read && all_read (s)) {
    pthread_mutex_lock (&s->lock);
    s->done = true;
    pthread_cond_signal (&s->cond);
    pthread_mutex_unlock (&s->lock);
  }
}

static enum MHD_Result
send_text (struct MHD_Connection *c, unsigned status, const char *type,
           const char *text)
{
  struct MHD_Response *resp = MHD_create_response_from_buffer (
    strlen (text), (void *) text, MHD_RESPMEM_MUST_COPY);
  enum MHD_Result r;

  if (resp == NULL)
    return MHD_NO;
  MHD_add_response_header (resp, MHD_HTTP_HEADER_CONTENT_TYPE, type);
  r = MHD_queue_response (c, status, resp);
  MHD_destroy_response (resp);
  return r;
}

static enum MHD_Result
not_found (struct MHD_Connection *c)
{
  return send_text (c, MHD_HTTP_NOT_FOUND, "text/plain", "not found\n");
}

/* One "bytes=A-B", "bytes=A-" or "bytes=-N" range of SIZE bytes.
 * 1: START and LEN set; 0: no usable Range (send it all: several ranges,
 * or a unit we do not know, which RFC 9110 lets a server ignore);
 * -1: unsatisfiable (416). */
static int
parse_range (const char *h, uint64_t size, uint64_t *start, uint64_t *len)
{
  unsigned long long a, b;
  char *end;

  if (h == NULL || strncmp (h, "bytes=", 6) != 0 || strchr (h, ','))
    return 0;
  h += 6;
  errno = 0;
  if (*h == '-') {
    b = strtoull (h + 1, &end, 10);
    if (errno || end == h + 1 || *end)
      return 0;
    if (b == 0 || size == 0)
      return -1;
    if (b > size)
      b = size;
    *start = size - b;
    *len = b;
    return 1;
  }
  a = strtoull (h, &end, 10);
  if (errno || end == h || *end != '-')
    return 0;
  h = end + 1;
  if (*h == '\0')
    b = size ? size - 1 : 0;
  else {
    b = strtoull (h, &end, 10);
    if (errno || *end || b < a)
      return 0;
  }
  if (a >= size)
    return -1;
  if (b >= size)
    b = size - 1;
  *start = a;
  *len = b - a + 1;
  return 1;
}

/* ETag and Last-Modified from the source: a local file's identity and
 * time, else what the source says of the disk and when serving began. */
static void
disk_validators (const struct server *s, const struct vmi_tree_vm *vm, const struct vmi_tree_disk *d,
                 char *etag, size_t etag_len, char *date, size_t date_len)
{
  const struct vmi_vm *v = s->provider->vms[d->vm_index];
  const struct vmi_disk *src = &v->disks[d->disk_index];
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned mdlen = 0;
  char text[4096];
  struct stat st;
  time_t when = s->started;
  struct tm tm;

  if (src->source_name && stat (src->source_name, &st) == 0) {
    when = st.st_mtime;
    snprintf (text, sizeof text, "%s|%ju|%ju|%jd|%jd", vm->path,
              (uintmax_t) st.st_dev, (uintmax_t) st.st_ino,
              (intmax_t) st.st_size, (intmax_t) st.st_mtime);
  }
  else
    snprintf (text, sizeof text, "%s|%s|%s|%s|%" PRIu64 "|%jd", vm->path,
              d->name, v->source_where ? v->source_where : "",
              src->source_name ? src->source_name : "", d->size,
              (intmax_t) s->started);
  EVP_Digest (text, strlen (text), md, &mdlen, EVP_sha256 (), NULL);
  snprintf (etag, etag_len, "\"");
  for (unsigned i = 0; i < 12 && i < mdlen; i++)
    snprintf (etag + 1 + 2 * i, etag_len - 1 - 2 * i, "%02x", md[i]);
  strncat (etag, "\"", etag_len - strlen (etag) - 1);
  gmtime_r (&when, &tm);
  strftime (date, date_len, "%a, %d %b %Y %H:%M:%S GMT", &tm);
}

static enum MHD_Result
send_disk (struct server *s, struct MHD_Connection *c, struct vmi_tree_vm *vm,
           struct vmi_tree_disk *d, struct disk_stats *stats)
{
  const char *range = MHD_lookup_connection_value (c, MHD_HEADER_KIND,
                                                   MHD_HTTP_HEADER_RANGE);
  uint64_t start = 0, len;
  char etag[64], date[64], buf[128];
  struct MHD_Response *resp;
  struct reader *r;
  enum MHD_Result ret;
  int ranged;

  if (vmi_tree_disk_open (s->tree, d) == -1) {
    vmi_log (VMI_LOG_ERROR, "%s/%s: %s", vm->path, d->name, vmi_error_get ());
    return send_text (c, MHD_HTTP_BAD_GATEWAY, "text/plain",
                      "the source disk could not be opened\n");
  }
  len = d->size;
  ranged = parse_range (range, d->size, &start, &len);
  if (ranged == -1) {
    resp = MHD_create_response_from_buffer (0, NULL, MHD_RESPMEM_PERSISTENT);
    if (resp == NULL)
      return MHD_NO;
    snprintf (buf, sizeof buf, "bytes */%" PRIu64, d->size);
    MHD_add_response_header (resp, MHD_HTTP_HEADER_CONTENT_RANGE, buf);
    ret = MHD_queue_response (c, MHD_HTTP_RANGE_NOT_SATISFIABLE, resp);
    MHD_destroy_response (resp);
    return ret;
  }
  if ((r = calloc (1, sizeof *r)) == NULL)
    return MHD_NO;
  r->srv = s;
  r->disk = d;
  r->stats = stats;
  r->start = start;
  r->length = len;
  resp = MHD_create_response_from_callback (len, SEND_BLOCK, read_disk, r,
                                            reader_done);
  if (resp == NULL) {
    free (r);
    return MHD_NO;
  }
  pthread_mutex_lock (&stats->lock);
  stats->readers++;
  pthread_mutex_unlock (&stats->lock);
  disk_validators (s, vm, d, etag, sizeof etag, date, sizeof date);
  MHD_add_response_header (resp, MHD_HTTP_HEADER_CONTENT_TYPE,
                           "application/octet-stream");
  MHD_add_response_header (resp, MHD_HTTP_HEADER_ACCEPT_RANGES, "bytes");
  MHD_add_response_header (resp, MHD_HTTP_HEADER_ETAG, etag);
  MHD_add_response_header (resp, MHD_HTTP_HEADER_LAST_MODIFIED, date);
  if (ranged == 1) {
    snprintf (buf, sizeof buf, "bytes %" PRIu64 "-%" PRIu64 "/%" PRIu64,
              start, start + len - 1, d->size);
    MHD_add_response_header (resp, MHD_HTTP_HEADER_CONTENT_RANGE, buf);
  }
  ret = MHD_queue_response (c, ranged == 1 ? MHD_HTTP_PARTIAL_CONTENT
                                           : MHD_HTTP_OK, resp);
  MHD_destroy_response (resp);
  return ret;
}

static enum MHD_Result
send_status (const struct server *s, struct MHD_Connection *c)
{
  char *text = NULL;
  size_t len = 0;
  FILE *f = open_memstream (&text, &len);
  enum MHD_Result r;
  bool first = true;

  if (f == NULL)
    return MHD_NO;
  fprintf (f, "{\"disks\": [");
  for (size_t i = 0; i < s->tree->nvms; i++)
    for (size_t j = 0; j < s->tree->vms[i].ndisks; j++) {
      struct disk_stats *st = &s->stats[i][j];
      const struct vmi_tree_disk *d = &s->tree->vms[i].disks[j];
      pthread_mutex_lock (&st->lock);
      /* Paths are made of names vmi_vm_dir_name cleaned: no control
       * characters; quotes and backslashes are escaped here. */
      fprintf (f, "%s\n  {\"path\": \"", first ? "" : ",");
      for (const char *p = s->tree->vms[i].path; *p; p++)
        fprintf (f, *p == '"' || *p == '\\' ? "\\%c" : "%c", *p);
      fprintf (f, "/%s\", \"size\": %" PRIu64 ", \"bytes_served\": %" PRIu64
               ", \"bytes_covered\": %" PRIu64 ", \"readers\": %d}",
               d->name, d->size, st->served, st->covered.bytes, st->readers);
      pthread_mutex_unlock (&st->lock);
      first = false;
    }
  fprintf (f, "\n]}\n");
  fclose (f);
  r = send_text (c, MHD_HTTP_OK, "application/json", text);
  free (text);
  return r;
}

static void
list_one (void *opaque, const char *name)
{
  fprintf (opaque, "%s\n", name);
}

static enum MHD_Result
send_listing (const struct server *s, struct MHD_Connection *c,
              const struct vmi_tree_node *n)
{
  char *text = NULL;
  size_t len = 0;
  FILE *f = open_memstream (&text, &len);
  enum MHD_Result r;

  if (f == NULL)
    return MHD_NO;
  vmi_tree_list (s->tree, n, list_one, f);
  fclose (f);
  r = send_text (c, MHD_HTTP_OK, "text/plain", text);
  free (text);
  return r;
}

/* The part of URL after "/<token>", or NULL when the token is wrong.
 * Compared in constant time, so its bytes cannot be found one by one. */
static const char *
after_token (const struct server *s, const char *url)
{
  size_t n = strlen (s->token);

  if (url[0] != '/' || strlen (url + 1) < n
      || CRYPTO_memcmp (url + 1, s->token, n) != 0
      || (url[1 + n] != '/' && url[1 + n] != '\0'))
    return NULL;
  return url + 1 + n;
}

static enum MHD_Result
handle (void *cls, struct MHD_Connection *c, const char *url,
        const char *method, const char *version, const char *upload_data,
        size_t *upload_size, void **con_cls)
{
  static int seen;
  struct server *s = cls;
  struct vmi_tree_node n;
  const char *path;

  (void) version;
  (void) upload_data;
  (void) upload_size;
  /* The first call comes with the headers only: answering then makes
   * libmicrohttpd close the connection after the response (the request
   * might still have a body), and every range read a client makes costs
   * a new connection (qemu's curl driver sometimes hangs on that).  So
   * answer at the second call, when the request is all in. */
  if (*con_cls == NULL) {
    *con_cls = &seen;
    return MHD_YES;
  }
  if (strcmp (method, "GET") != 0 && strcmp (method, "HEAD") != 0)
    return send_text (c, MHD_HTTP_METHOD_NOT_ALLOWED, "text/plain",
                      "only GET and HEAD\n");
  if ((path = after_token (s, url)) == NULL)
    return not_found (c);
  if (strcmp (path, "/status") == 0)
    return send_status (s, c);
  n = vmi_tree_lookup (s->tree, path);
  switch (n.kind) {
  case VMI_TREE_ROOT:
  case VMI_TREE_FOLDER:
  case VMI_TREE_VM:
    return send_listing (s, c, &n);
  case VMI_TREE_JSON:
    return send_text (c, MHD_HTTP_OK, "application/json", n.vm->json);
  case VMI_TREE_DISK:
    return send_disk (s, c, n.vm, n.disk,
                      &s->stats[n.vm - s->tree->vms][n.disk - n.vm->disks]);
  default:
    return not_found (c);
  }
}

/* ---- setup ------------------------------------------------------------ */

static void
usage (FILE *f)
{
  fprintf (f,
"Usage: vmimport serve [OPTIONS] SOURCE\n"
"Serve every disk of every VM of SOURCE over HTTP(S), read from the source\n"
"as it is asked for (no scratch), under an unguessable prefix:\n"
"  URL/<token>/<vm>/disk-N.img   GET, HEAD, one Range (206; 416)\n"
"  URL/<token>/<vm>/vm.json\n"
"  URL/<token>/status            JSON: per disk, bytes served and covered\n\n"
"  --listen ADDR:PORT   where to listen (default 127.0.0.1:8080; port 0:\n"
"                       any free port)\n"
"  --tls-cert FILE      serve HTTPS with this certificate (PEM) ...\n"
"  --tls-key FILE       ... and this key (PEM)\n"
"  --token-file FILE    the prefix (first line of FILE; else\n"
"                       $VMIMPORT_SERVE_TOKEN; else random, printed once)\n"
"  --cache-size SIZE    block cache for all disks (default 64M)\n"
"  --until-read         exit once every disk was read completely\n\n"
"The first line printed is the base URL, token included.  SIGINT or\n"
"SIGTERM stop the server.\n\n" CLI_COMMON_HELP);
}

static char *
read_file (const char *path)
{
  FILE *f = fopen (path, "rb");
  char *buf = NULL;
  size_t len = 0;

  if (f == NULL) {
    fprintf (stderr, "vmimport serve: %s: %s\n", path, strerror (errno));
    return NULL;
  }
  if (getdelim (&buf, &len, '\0', f) < 0) {
    free (buf);
    buf = NULL;
    fprintf (stderr, "vmimport serve: %s is empty\n", path);
  }
  fclose (f);
  return buf;
}

/* A token from FILE's first line, the environment, or 32 random hex. */
static int
set_token (struct server *s, const char *file)
{
  const char *env = getenv ("VMIMPORT_SERVE_TOKEN");
  unsigned char raw[16];
  char *text = NULL;

  if (file && (text = read_file (file)) == NULL)
    return -1;
  if (text || (env && *env)) {
    const char *t = text ? text : env;
    size_t n = strcspn (t, "\r\n");
    bool ok = n > 0 && n < sizeof s->token;
    for (size_t i = 0; ok && i < n; i++)
      ok = (t[i] >= 'a' && t[i] <= 'z') || (t[i] >= 'A' && t[i] <= 'Z')
           || (t[i] >= '0' && t[i] <= '9') || t[i] == '-' || t[i] == '_';
    if (ok)
      memcpy (s->token, t, n);
    if (text) {
      OPENSSL_cleanse (text, strlen (text));
      free (text);
    }
    if (!ok) {
      fprintf (stderr, "vmimport serve: the token must be 1 to %zu letters, "
               "digits, '-' or '_'\n", sizeof s->token - 1);
      return -1;
    }
    return 0;
  }
  if (RAND_bytes (raw, sizeof raw) != 1) {
    fprintf (stderr, "vmimport serve: no random bytes for a token\n");
    return -1;
  }
  for (size_t i = 0; i < sizeof raw; i++)
    snprintf (s->token + 2 * i, 3, "%02x", raw[i]);
  return 0;
}

static int
parse_listen (const char *text, struct sockaddr_in *sa)
{
  const char *colon = strrchr (text, ':');
  char host[64];
  char *end;
  long port;

  memset (sa, 0, sizeof *sa);
  sa->sin_family = AF_INET;
  if (colon == NULL || (size_t) (colon - text) >= sizeof host)
    goto bad;
  memcpy (host, text, colon - text);
  host[colon - text] = '\0';
  port = strtol (colon + 1, &end, 10);
  if (*end || end == colon + 1 || port < 0 || port > 65535
      || inet_pton (AF_INET, host, &sa->sin_addr) != 1)
    goto bad;
  sa->sin_port = htons ((uint16_t) port);
  return 0;
 bad:
  fprintf (stderr, "vmimport serve: --listen %s: expected IPV4-ADDRESS:PORT "
           "(e.g. 127.0.0.1:8080)\n", text);
  return -1;
}

static int
make_stats (struct server *s)
{
  if ((s->stats = calloc (s->tree->nvms + 1, sizeof *s->stats)) == NULL)
    return -1;
  for (size_t i = 0; i < s->tree->nvms; i++) {
    size_t n = s->tree->vms[i].ndisks;
    if ((s->stats[i] = calloc (n + 1, sizeof **s->stats)) == NULL)
      return -1;
    for (size_t j = 0; j < n; j++)
      pthread_mutex_init (&s->stats[i][j].lock, NULL);
  }
  return 0;
}

static void
free_stats (struct server *s)
{
  for (size_t i = 0; s->stats && s->tree && i < s->tree->nvms; i++) {
    for (size_t j = 0; s->stats[i] && j < s->tree->vms[i].ndisks; j++) {
      pthread_mutex_destroy (&s->stats[i][j].lock);
      free (s->stats[i][j].covered.v);
    }
    free (s->stats[i]);
  }
  free (s->stats);
}

void
serve_opts_init (struct serve_opts *o)
{
  memset (o, 0, sizeof *o);
  o->listen = "127.0.0.1:8080";
  o->cache_size = 64 << 20;
}

struct server *
server_start (struct vmi_provider *p, const struct serve_opts *o, int *rc)
{
  struct server *s = calloc (1, sizeof *s);
  struct sockaddr_in sa;
  const union MHD_DaemonInfo *info;
  char *cert = NULL, *key = NULL;
  unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD
                   | MHD_USE_THREAD_PER_CONNECTION | MHD_USE_ERROR_LOG;

  *rc = EXIT_USAGE;
  if (s == NULL) {
    fprintf (stderr, "vmimport serve: out of memory\n");
    return NULL;
  }
  pthread_mutex_init (&s->lock, NULL);
  pthread_cond_init (&s->cond, NULL);
  s->provider = p;
  s->until_read = o->until_read;
  s->started = time (NULL);
  if ((o->tls_cert_file == NULL) != (o->tls_key_file == NULL)) {
    fprintf (stderr, "vmimport serve: --tls-cert and --tls-key go together\n");
    goto fail;
  }
  if (parse_listen (o->listen, &sa) == -1 || set_token (s, o->token_file) == -1)
    goto fail;
  if (o->tls_cert_file && ((cert = read_file (o->tls_cert_file)) == NULL
                           || (key = read_file (o->tls_key_file)) == NULL))
    goto fail;
  *rc = EXIT_SOURCE;
  if ((s->tree = vmi_tree_new (p, o->cache_size, CACHE_BLOCK)) == NULL) {
    cli_print_error (NULL);
    goto fail;
  }
  if (make_stats (s) == -1) {
    fprintf (stderr, "vmimport serve: out of memory\n");
    goto fail;
  }
  if (cert)
    flags |= MHD_USE_TLS;
  s->daemon = MHD_start_daemon (flags, 0, NULL, NULL, handle, s,
                                MHD_OPTION_SOCK_ADDR, (struct sockaddr *) &sa,
                                MHD_OPTION_CONNECTION_LIMIT,
                                (unsigned) MAX_CONNECTIONS,
                                MHD_OPTION_CONNECTION_TIMEOUT, (unsigned) 600,
                                cert ? MHD_OPTION_HTTPS_MEM_CERT : MHD_OPTION_END,
                                cert, MHD_OPTION_HTTPS_MEM_KEY, key,
                                MHD_OPTION_END);
  if (s->daemon == NULL) {
    fprintf (stderr, "vmimport serve: cannot listen on %s%s\n", o->listen,
             cert ? " with that certificate and key" : "");
    *rc = EXIT_DEST;
    goto fail;
  }
  info = MHD_get_daemon_info (s->daemon, MHD_DAEMON_INFO_BIND_PORT);
  if (asprintf (&s->url, "%s://%s:%u/%s/", cert ? "https" : "http",
                inet_ntoa (sa.sin_addr),
                info ? info->port : ntohs (sa.sin_port), s->token) == -1) {
    s->url = NULL;
    fprintf (stderr, "vmimport serve: out of memory\n");
    goto fail;
  }
  free (cert);
  if (key) {
    OPENSSL_cleanse (key, strlen (key));
    free (key);
  }
  *rc = EXIT_DONE;
  return s;
 fail:
  free (cert);
  if (key) {
    OPENSSL_cleanse (key, strlen (key));
    free (key);
  }
  server_stop (s);
  return NULL;
}

const char *
server_url (const struct server *s)
{
  return s->url;
}

static volatile sig_atomic_t stop_signal;

static void
on_signal (int sig)
{
  stop_signal = sig;   /* seen by the waiting loop below */
}

bool
server_wait (struct server *s)
{
  struct sigaction sa = { .sa_handler = on_signal };
  bool done;

  sigaction (SIGINT, &sa, NULL);
  sigaction (SIGTERM, &sa, NULL);
  pthread_mutex_lock (&s->lock);
  while (!s->done && !stop_signal) {
    struct timespec ts;
    clock_gettime (CLOCK_REALTIME, &ts);
    ts.tv_nsec += 200 * 1000 * 1000;
    if (ts.tv_nsec >= 1000000000) {
      ts.tv_sec++;
      ts.tv_nsec -= 1000000000;
    }
    pthread_cond_timedwait (&s->cond, &s->lock, &ts);
  }
  done = s->done;
  pthread_mutex_unlock (&s->lock);
  return done;
}

void
server_stop (struct server *s)
{
  if (s == NULL)
    return;
  if (s->daemon)
    MHD_stop_daemon (s->daemon);
  free_stats (s);
  vmi_tree_free (s->tree);
  OPENSSL_cleanse (s->token, sizeof s->token);
  if (s->url) {
    OPENSSL_cleanse (s->url, strlen (s->url));
    free (s->url);
  }
  pthread_mutex_destroy (&s->lock);
  pthread_cond_destroy (&s->cond);
  free (s);
}

enum { OPT_LISTEN = OPT_FIRST_COMMAND_OPTION, OPT_TLS_CERT, OPT_TLS_KEY,
       OPT_TOKEN, OPT_TOKEN_FILE, OPT_CACHE_SIZE, OPT_UNTIL_READ };

int
cli_serve (int argc, char **argv)
{
  static const struct option longopts[] = {
    CLI_COMMON_OPTIONS,
    { "listen", required_argument, NULL, OPT_LISTEN },
    { "tls-cert", required_argument, NULL, OPT_TLS_CERT },
    { "tls-key", required_argument, NULL, OPT_TLS_KEY },
    { "token", required_argument, NULL, OPT_TOKEN },
    { "token-file", required_argument, NULL, OPT_TOKEN_FILE },
    { "cache-size", required_argument, NULL, OPT_CACHE_SIZE },
    { "until-read", no_argument, NULL, OPT_UNTIL_READ },
    { 0 }
  };
  struct serve_opts so;
  struct cli_common c;
  struct vmi_provider *p = NULL;
  struct server *s = NULL;
  int64_t size;
  int opt, r, rc = EXIT_USAGE;

  cli_common_init (&c);
  serve_opts_init (&so);
  while ((opt = getopt_long (argc, argv, "vh", longopts, NULL)) != -1) {
    switch (opt) {
    case 'h': usage (stdout); rc = EXIT_DONE; goto out;
    case OPT_LISTEN: so.listen = optarg; break;
    case OPT_TLS_CERT: so.tls_cert_file = optarg; break;
    case OPT_TLS_KEY: so.tls_key_file = optarg; break;
    case OPT_TOKEN:
      /* argv is visible to every user of the machine (ps, /proc). */
      fprintf (stderr, "vmimport serve: the token is never taken on the "
               "command line; use --token-file FILE or VMIMPORT_SERVE_TOKEN\n");
      goto out;
    case OPT_TOKEN_FILE: so.token_file = optarg; break;
    case OPT_UNTIL_READ: so.until_read = true; break;
    case OPT_CACHE_SIZE:
      if ((size = vmi_parse_size (optarg)) < 0) {
        fprintf (stderr, "vmimport serve: --cache-size %s: not a size "
                 "(e.g. 64M)\n", optarg);
        goto out;
      }
      so.cache_size = (uint64_t) size;
      break;
    default:
      if ((r = cli_common_option (&c, opt, optarg)) != 1) {
        if (r == 0)
          usage (stderr);
        goto out;
      }
    }
  }
  if (optind + (c.source_file ? 0 : 1) != argc) {
    fprintf (stderr, "vmimport serve: give one SOURCE (or --source-file)\n");
    goto out;
  }
  if (cli_common_finish (&c) == -1)
    goto out;
  if ((p = cli_open_source (&c, optind < argc ? argv[optind] : NULL, &rc)) == NULL)
    goto out;
  if ((s = server_start (p, &so, &rc)) == NULL)
    goto out;
  printf ("%s\n", server_url (s));
  fflush (stdout);
  server_wait (s);
  rc = EXIT_DONE;
 out:
  server_stop (s);
  vmi_provider_close (p);
  cli_common_clear (&c);
  return rc;
}
