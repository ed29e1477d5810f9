/* Transport: a file on a web server, read with HTTP range requests
 * (libcurl).
 *
 * The size comes from the Content-Range of a ranged GET of the first
 * 64 KiB, which are kept for the reads that follow (opening a source
 * reads them first; HEAD and a read would cost two round trips); from
 * HEAD when that range has no total.  Each pread is one
 * "Range: bytes=A-B" GET.  Requests run on a pool of easy handles, each
 * keeping its own keep-alive connection, so readers on many threads have
 * many requests in flight and none waits for another's transfer; DNS and
 * TLS sessions are shared between them.
 *
 * Read-ahead (a link's latency is paid once per request, and HTTP/1.1 has
 * one request in flight per connection): reads that continue one another
 * form a stream, also when several threads read neighbouring ranges (the
 * workers of a copy).  A stream's next bytes are fetched in windows,
 * several in flight at once on fetcher threads (up to one per
 * connection).  A window is 4 bandwidth-delay products of one connection,
 * measured on the requests, from 2 MiB to RA_MAX (3 MiB: over 50 ms at
 * 40 MB/s a request of 3 MiB spends 61% of its time receiving); a stream
 * has at most one window in flight per read that continued it, and reads
 * ahead at most as far as it has read, as far as fills every connection
 * (at least two windows), and the budget.  It starts once it has read
 * RA_START (a random reader through a mount must not look sequential), or
 * RA_START_FAR on a far link, where every small read costs a round trip.
 * Reads as large as a window fill the link by themselves: no read-ahead.
 * A read waits only for the bytes it wants of a window being received.
 * Memory is bounded: at most RA_BUDGET bytes of windows, each in its own
 * mapping, given back once every page of it was read (else the least
 * recently read first).  A window is tried once: when it fails,
 * the readers that want its bytes fetch them themselves, with the retries
 * below, so a failed read-ahead costs time, never an error or a wrong
 * byte.  Small reads (≤ 64 KiB, 256 KiB in all) are kept a while: metadata
 * is read again in parts.
 * Closing, and fork (pthread_atfork), stop the windows in flight.
 *
 * A far link (every request waits 10 ms or more for its first byte)
 * reads ahead sooner and grows the read-ahead faster, and a small read that
 * misses fetches 256 KiB from where it starts: the reads after it (the
 * kernel's read-ahead starting small after a seek, the next compressed
 * cluster) would cost a round trip each.  A wide link (far, and a window
 * cannot hold 4 bandwidth-delay products: a WAN to a vCenter whose every
 * connection is capped) gets WIDE_CONNS connections and RA_WIDE_BUDGET of
 * windows: more connections are the only way up there.  On it large reads
 * are read ahead too (a copy's workers leave connections idle between
 * their reads), and a read missing 2 MiB or more is fetched in two halves
 * at once.
 *
 * A window stays while a stream may still read in it: its front in it or
 * less than RA_LAG past it (a mount's reads come in any order).
 *
 * Connection errors, 5xx, 408, 429 and short bodies are retried with the
 * shared back-off policy; a broken transfer resumes at the first byte it
 * did not get.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>

#include <curl/curl.h>

#include "vmimport/error.h"
#include "vmimport/retry.h"
#include "vmimport/transport.h"

#define CONNS 8                /* connections on a short or slow link */
#define WIDE_CONNS 16          /* ... on a wide one (see link_wide) */
#define WIDE_LATENCY 0.010     /* seconds to the first byte, at least */
#define WIDE_SAMPLES 8         /* requests measured before a link is far */
#define RECV_BUFFER (512L << 10)

/* Read-ahead (see the top of the file). */
#define RA_STREAMS 8                 /* sequential readers followed */
#define RA_WINDOWS 32                /* windows held at once */
#define RA_MIN (64u << 10)           /* smallest window */
#define RA_WIN_MIN (2u << 20)        /* smallest full-grown window: fewer
                                        requests than reads, on any link */
#define RA_START (4u << 20)          /* bytes a stream reads before it reads
                                        ahead: a random reader through FUSE
                                        makes runs of about 2 MiB (its read
                                        of 1 MiB, the grains around it) */
#define RA_START_FAR (512u << 10)    /* ... on a far link (link_far), where
                                        4 MiB of 32 KiB QCOW2 clusters read
                                        through a mount, 4 at a time, took
                                        32 round trips */
#define RA_FAR_AHEAD 4              /* a stream on a far link reads ahead
                                        this many times what it read */
#define RA_BUDGET (24u << 20)        /* bytes of all windows */
#define RA_WIDE_BUDGET (56u << 20)   /* ... on a wide link (40 MiB held
                                        13 windows in flight: the full OVA
                                        copied in 2.45 s, 2.1 with 56; 64
                                        was no faster) */
#define RA_MAX (3u << 20)            /* largest window: one in flight per
                                        connection (8) fits RA_BUDGET; on a
                                        wide link 16 fit RA_WIDE_BUDGET, with
                                        room for those read but not yet
                                        dropped */
#define RA_SPLIT (1u << 20)          /* on a wide link, a read missing this
                                        many bytes twice over is fetched in
                                        parts on several connections */
#define RA_EXTEND (256u << 10)       /* on a far link, a small read that
                                        misses fetches this much from where
                                        it starts (as qemu's curl driver
                                        does): the reads after it come at
                                        once, not a round trip each */
#define RA_BACK (16u << 20)          /* a read this far behind a stream's
                                        front still belongs to it (workers
                                        reading neighbouring ranges) */
#define RA_GAP (256u << 10)          /* ... or this far past its end */
#define RA_LAG (2u << 20)            /* a window this close behind a
                                        stream's front is still being read */
#define RA_BDP_GUESS (256u << 10)    /* until the link is measured */
#define RA_KEEP (64u << 10)          /* reads kept for re-reading, at most */
#define RA_KEEP_TOTAL (256u << 10)   /* ... and all of them */
#define SEEN_PAGE 4096               /* a window counts the pages read of it:
                                        a grain read by two FUSE reads must
                                        not make it look read to the end */
#define RA_STALE 4096                /* reads after which an unread window
                                        may be dropped */

struct conn {
  CURL *h;
  struct curl_slist *headers;   /* a session's token header */
  struct conn *next;
  char errbuf[CURL_ERROR_SIZE];
};

enum win_state { WIN_FREE, WIN_QUEUED, WIN_FETCHING, WIN_DONE, WIN_FAILED };

/* A window of read-ahead: [off, off+len) fetched into buf by a fetcher.
 * Bytes [0, got) are in buf and never change; a reader copies them out
 * with the lock released, holding a pin so the window is not dropped. */
struct window {
  enum win_state state;
  uint64_t off;
  size_t len;
  char *buf;            /* its own mapping of len bytes */
  size_t got;
  size_t hit;           /* bytes copied out (a byte read twice counts twice) */
  uint64_t *seen;       /* pages (SEEN_PAGE) of it a read copied from */
  size_t pages, pages_seen;
  int pins;
  bool kept;            /* a copy of a small read (win_keep) */
  uint64_t stream;      /* id of the stream that launched it */
  uint64_t seq;         /* launch order: fetched first come, first served */
  uint64_t used;
};

/* A sequential reader. */
struct ra_stream {
  uint64_t id;          /* 0: slot unused */
  uint64_t front;       /* end of the furthest read */
  uint64_t ra_end;      /* end of the read-ahead launched */
  unsigned hits;        /* reads that continued it (up to WIDE_CONNS): the
                           windows it may have in flight */
  uint64_t bytes;       /* bytes it read: how far ahead it may read */
  uint64_t used;
};

struct http {
  char *url;                 /* without credentials */
  char *username, *password;
  char *ca_file, *ca_pem;
  bool insecure;
  long timeout, connect_timeout;
  struct vmi_retry_policy retry;
  uint64_t size;
  struct vmi_http_session session;   /* cookie == NULL: none */
  char *session_header;              /* NULL: the session is a cookie */

  CURLSH *share;
  pthread_mutex_t share_locks[CURL_LOCK_DATA_LAST];

  pthread_mutex_t lock;      /* the pool and the read-ahead state */
  pthread_cond_t cond;
  struct conn *idle;
  int nconns;

  /* Read-ahead, under lock. */
  struct window win[RA_WINDOWS];
  struct ra_stream streams[RA_STREAMS];
  uint64_t tick, seq, next_stream_id;
  size_t win_bytes;          /* sum of the windows' len */
  size_t kept_bytes;         /* of which kept reads */
  double bdp;                /* bytes in flight that fill one connection
                                (0: not measured yet) */
  double min_latency;        /* shortest wait for a first byte (s) */
  unsigned samples;          /* requests measured */
  pthread_cond_t ra_cond;    /* a window got bytes or ended; a pin dropped */
  pthread_cond_t work_cond;  /* a window was queued; closing */
  bool wide;                 /* a window cannot hold 4 bandwidth-delay
                                products (link_wide): more connections */
  pthread_t fetchers[WIDE_CONNS];
  int nfetchers;
  int queued;                /* windows in WIN_QUEUED */
  int fetching;              /* ... in WIN_FETCHING */
  bool closing;              /* stop the windows (close, or a fork) */
  struct http *reg_prev, *reg_next;   /* the instances, for fork */
};

/* What one request is receiving. */
struct xfer {
  CURL *h;
  char *buf;          /* NULL: discard the body */
  size_t want, got;
  uint64_t offset;    /* first byte asked for */
  bool ranged;        /* a Range header was sent */
  bool whole;         /* the range asked for is the whole file */
  bool probe;         /* http_size's first GET: a 200 carrying a whole file
                         no longer than asked for is an answer too */
  bool no_ranges;     /* server answered 200 to a Range request */
  bool bad_range;     /* Content-Range does not start where we asked */
  bool started;       /* the body of the final response has begun */
  long status;
  int64_t cr_start, cr_total;  /* from Content-Range; -1 unknown */
  bool accept_none;   /* Accept-Ranges: none */
  struct http *s;
  struct window *win; /* a read-ahead window: publish what arrives */
};

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_result;

/* Every open instance, so that a fork (vmimportfs becoming a daemon after
 * it opened its source) finds no fetcher thread in the middle of a window:
 * the child would wait for threads it does not have. */
static pthread_mutex_t reg_lock = PTHREAD_MUTEX_INITIALIZER;
static struct http *reg_head;

static void ra_stop (struct http *s);

static void
fork_prepare (void)
{
  pthread_mutex_lock (&reg_lock);
  for (struct http *s = reg_head; s; s = s->reg_next)
    ra_stop (s);
}

static void
fork_done (void)
{
  pthread_mutex_unlock (&reg_lock);
}

static void
curl_init (void)
{
  curl_init_result = curl_global_init (CURL_GLOBAL_ALL);
  pthread_atfork (fork_prepare, fork_done, fork_done);
}

static void
reg_add (struct http *s)
{
  pthread_mutex_lock (&reg_lock);
  s->reg_next = reg_head;
  if (reg_head)
    reg_head->reg_prev = s;
  reg_head = s;
  pthread_mutex_unlock (&reg_lock);
}

static void
reg_remove (struct http *s)
{
  pthread_mutex_lock (&reg_lock);
  if (s->reg_prev)
    s->reg_prev->reg_next = s->reg_next;
  else if (reg_head == s)
    reg_head = s->reg_next;
  if (s->reg_next)
    s->reg_next->reg_prev = s->reg_prev;
  s->reg_prev = s->reg_next = NULL;
  pthread_mutex_unlock (&reg_lock);
}

/* The share handle's locks: one mutex per kind of shared data. */
static void
share_lock (CURL *h, curl_lock_data data, curl_lock_access access, void *p)
{
  struct http *s = p;

  (void) h;
  (void) access;
  pthread_mutex_lock (&s->share_locks[data]);
}

static void
share_unlock (CURL *h, curl_lock_data data, void *p)
{
  struct http *s = p;

  (void) h;
  pthread_mutex_unlock (&s->share_locks[data]);
}

static size_t
header_cb (char *line, size_t size, size_t n, void *opaque)
{
  struct xfer *x = opaque;
  size_t len = size * n;
  char tmp[256];

  if (len >= sizeof tmp)
    return len;
  memcpy (tmp, line, len);
  tmp[len] = '\0';
  if (strncmp (tmp, "HTTP/", 5) == 0) {
    /* A new response (after a redirect or a 100): forget the last one. */
    x->cr_start = x->cr_total = -1;
    x->accept_none = false;
  }
  else if (strncasecmp (tmp, "Content-Range:", 14) == 0) {
    unsigned long long a, b, t;
    const char *v = tmp + 14;
    while (*v == ' ' || *v == '\t')
      v++;
    /* A start past INT64_MAX (or "-1", which %llu takes) is still a
     * start that is not ours: INT64_MAX, not -1 (unknown, accepted). */
    if (sscanf (v, "bytes %llu-%llu/%llu", &a, &b, &t) == 3) {
      x->cr_start = a <= INT64_MAX ? (int64_t) a : INT64_MAX;
      x->cr_total = t <= INT64_MAX ? (int64_t) t : -1;
    }
    else if (sscanf (v, "bytes */%llu", &t) == 1)
      x->cr_total = t <= INT64_MAX ? (int64_t) t : -1;
  }
  else if (strncasecmp (tmp, "Accept-Ranges:", 14) == 0) {
    const char *v = tmp + 14;
    while (*v == ' ' || *v == '\t')
      v++;
    x->accept_none = strncasecmp (v, "none", 4) == 0;
  }
  return len;
}

static size_t
write_cb (char *data, size_t size, size_t n, void *opaque)
{
  struct xfer *x = opaque;
  size_t len = size * n;

  if (!x->started) {
    curl_easy_getinfo (x->h, CURLINFO_RESPONSE_CODE, &x->status);
    x->started = true;
  }
  if (x->status == 200 && x->ranged && !x->whole) {
    /* The server ignored the Range header: it is sending the whole file.
     * For the first GET of a file no longer than the range (servers may
     * answer so when a range covers all of it), that is the answer. */
    curl_off_t cl = -1;
    if (x->probe)
      curl_easy_getinfo (x->h, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &cl);
    if (!x->probe || cl < 0 || (uint64_t) cl > x->want) {
      x->no_ranges = true;
      return 0;
    }
  }
  if (x->status == 206 && x->cr_start >= 0
      && (uint64_t) x->cr_start != x->offset) {
    x->bad_range = true;
    return 0;
  }
  if (x->buf == NULL || (x->status != 200 && x->status != 206))
    return len;   /* an error page: drop it */
  if (len > x->want - x->got)
    len = x->want - x->got;   /* more than asked for: keep what we need */
  if (x->win) {
    /* A read-ahead window: readers may be waiting for these bytes. */
    bool stop;
    memcpy (x->buf + x->got, data, len);
    pthread_mutex_lock (&x->s->lock);
    x->got += len;
    x->win->got = x->got;
    stop = x->s->closing;
    pthread_cond_broadcast (&x->s->ra_cond);
    pthread_mutex_unlock (&x->s->lock);
    return stop ? 0 : size * n;
  }
  memcpy (x->buf + x->got, data, len);
  x->got += len;
  return size * n;
}

/* Stops a read-ahead window's transfer when the transport closes (or
 * forks), also while it waits for the server. */
static int
xferinfo_cb (void *p, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
             curl_off_t ulnow)
{
  struct xfer *x = p;

  (void) dltotal;
  (void) dlnow;
  (void) ultotal;
  (void) ulnow;
  return x->win && __atomic_load_n (&x->s->closing, __ATOMIC_RELAXED);
}

static struct conn *
conn_new (struct http *s)
{
  struct conn *c = calloc (1, sizeof *c);
  CURL *h;

  if (c == NULL || (h = c->h = curl_easy_init ()) == NULL) {
    free (c);
    errno = ENOMEM;
    vmi_error ("%s: cannot create a curl handle", s->url);
    return NULL;
  }
  curl_easy_setopt (h, CURLOPT_URL, s->url);
  curl_easy_setopt (h, CURLOPT_SHARE, s->share);
  curl_easy_setopt (h, CURLOPT_ERRORBUFFER, c->errbuf);
  curl_easy_setopt (h, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt (h, CURLOPT_FOLLOWLOCATION, 1L);
  curl_easy_setopt (h, CURLOPT_MAXREDIRS, 10L);
  curl_easy_setopt (h, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt (h, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
  curl_easy_setopt (h, CURLOPT_TIMEOUT, s->timeout);
  curl_easy_setopt (h, CURLOPT_CONNECTTIMEOUT, s->connect_timeout);
  curl_easy_setopt (h, CURLOPT_TCP_KEEPALIVE, 1L);
  /* Large receives: a disk is read in requests of megabytes, and curl's
   * default of 16 KiB costs a system call and a callback per 16 KiB. */
  curl_easy_setopt (h, CURLOPT_BUFFERSIZE, RECV_BUFFER);
  curl_easy_setopt (h, CURLOPT_USERAGENT, "vmimport/" VMIMPORT_VERSION);
  curl_easy_setopt (h, CURLOPT_HEADERFUNCTION, header_cb);
  curl_easy_setopt (h, CURLOPT_WRITEFUNCTION, write_cb);
  curl_easy_setopt (h, CURLOPT_NOPROGRESS, 0L);
  curl_easy_setopt (h, CURLOPT_XFERINFOFUNCTION, xferinfo_cb);
  if (s->username || s->password) {
    curl_easy_setopt (h, CURLOPT_HTTPAUTH, (long) CURLAUTH_BASIC);
    curl_easy_setopt (h, CURLOPT_USERNAME, s->username ? s->username : "");
    curl_easy_setopt (h, CURLOPT_PASSWORD, s->password ? s->password : "");
  }
  if (s->insecure) {
    curl_easy_setopt (h, CURLOPT_SSL_VERIFYPEER, 0L);
    curl_easy_setopt (h, CURLOPT_SSL_VERIFYHOST, 0L);
  }
  else if (s->ca_file)
    curl_easy_setopt (h, CURLOPT_CAINFO, s->ca_file);
  else if (s->ca_pem) {
    struct curl_blob blob = { s->ca_pem, strlen (s->ca_pem), CURL_BLOB_COPY };
    curl_easy_setopt (h, CURLOPT_CAINFO_BLOB, &blob);
  }
  return c;
}

static void
conn_free (struct conn *c)
{
  if (c) {
    curl_easy_cleanup (c->h);
    curl_slist_free_all (c->headers);
    free (c);
  }
}

/* Connections at most: a link whose every connection is capped and far
 * away gets more of them, the only way up (see link_wide).  Under s->lock. */
static int
conn_limit (const struct http *s)
{
  return s->wide ? WIDE_CONNS : CONNS;
}

/* Bytes of read-ahead windows at most.  Under s->lock. */
static size_t
ra_budget (const struct http *s)
{
  return s->wide ? RA_WIDE_BUDGET : RA_BUDGET;
}

/* Take an idle connection, make one, or wait for one (at most conn_limit). */
static struct conn *
conn_get (struct http *s)
{
  struct conn *c = NULL;

  pthread_mutex_lock (&s->lock);
  while (s->idle == NULL && s->nconns >= conn_limit (s))
    pthread_cond_wait (&s->cond, &s->lock);
  if (s->idle) {
    c = s->idle;
    s->idle = c->next;
    pthread_mutex_unlock (&s->lock);
    return c;
  }
  s->nconns++;
  pthread_mutex_unlock (&s->lock);
  c = conn_new (s);
  if (c == NULL) {
    pthread_mutex_lock (&s->lock);
    s->nconns--;
    pthread_cond_signal (&s->cond);
    pthread_mutex_unlock (&s->lock);
  }
  return c;
}

static void
conn_put (struct http *s, struct conn *c)
{
  pthread_mutex_lock (&s->lock);
  c->next = s->idle;
  s->idle = c;
  pthread_cond_signal (&s->cond);
  pthread_mutex_unlock (&s->lock);
}

static const char *
status_text (long status)
{
  switch (status) {
  case 400: return "Bad Request";
  case 401: return "Unauthorized";
  case 403: return "Forbidden";
  case 404: return "Not Found";
  case 405: return "Method Not Allowed";
  case 408: return "Request Timeout";
  case 410: return "Gone";
  case 416: return "Range Not Satisfiable";
  case 429: return "Too Many Requests";
  case 500: return "Internal Server Error";
  case 501: return "Not Implemented";
  case 502: return "Bad Gateway";
  case 503: return "Service Unavailable";
  case 504: return "Gateway Timeout";
  default: return "";
  }
}

bool
vmi_curl_transient (int rc)
{
  switch (rc) {
  case CURLE_COULDNT_CONNECT:
  case CURLE_RECV_ERROR:
  case CURLE_SEND_ERROR:
  case CURLE_PARTIAL_FILE:
  case CURLE_GOT_NOTHING:
  case CURLE_OPERATION_TIMEDOUT:
  case CURLE_HTTP2:
  case CURLE_HTTP2_STREAM:
  case CURLE_SSL_CONNECT_ERROR:
    return true;
  default:
    return false;
  }
}

static bool
status_transient (long status)
{
  return status >= 500 || status == 408 || status == 429;
}

/* Record the error for a final HTTP status (not 200/206). */
static void
status_error (struct http *s, long status, const char *what)
{
  const char *text = status_text (status);

  if (status == 401) {
    errno = EACCES;
    if (s->password)
      vmi_error ("%s: %s: authentication failed (HTTP 401 Unauthorized): "
                 "the server refused the username and password", s->url, what);
    else
      vmi_error ("%s: %s: authentication required (HTTP 401 Unauthorized): "
                 "give a username and a password (--password-file, the "
                 "Secret or VMIMPORT_PASSWORD)", s->url, what);
  }
  else if (status == 403) {
    errno = EACCES;
    vmi_error ("%s: %s: access denied (HTTP 403 Forbidden)", s->url, what);
  }
  else if (status == 404 || status == 410) {
    errno = ENOENT;
    vmi_error ("%s: %s: no such file on the server (HTTP %ld %s)", s->url,
               what, status, text);
  }
  else {
    errno = EIO;
    vmi_error ("%s: %s: the server answered HTTP %ld%s%s", s->url, what,
               status, *text ? " " : "", text);
  }
}

/* Record the error for a failed transfer. */
static void
curl_error (struct http *s, CURLcode rc, const char *errbuf, const char *what)
{
  const char *detail = errbuf && *errbuf ? errbuf : curl_easy_strerror (rc);

  switch (rc) {
  case CURLE_PEER_FAILED_VERIFICATION:
    errno = EPERM;
    vmi_error ("%s: %s: TLS certificate verification failed: %s (give the "
               "server's CA with --ca-cert FILE or the Secret's ca.crt)",
               s->url, what, detail);
    break;
  case CURLE_SSL_CACERT_BADFILE:
    errno = EINVAL;
    vmi_error ("%s: %s: cannot load the CA certificate: %s", s->url, what,
               detail);
    break;
  case CURLE_LOGIN_DENIED:
    errno = EACCES;
    vmi_error ("%s: %s: authentication failed: %s", s->url, what, detail);
    break;
  case CURLE_OPERATION_TIMEDOUT:
    errno = ETIMEDOUT;
    vmi_error ("%s: %s: timed out: %s", s->url, what, detail);
    break;
  case CURLE_COULDNT_CONNECT:
    errno = ECONNREFUSED;
    vmi_error ("%s: %s: cannot connect: %s", s->url, what, detail);
    break;
  case CURLE_OUT_OF_MEMORY:
    errno = ENOMEM;
    vmi_error ("%s: %s: out of memory", s->url, what);
    break;
  default:
    errno = EIO;
    vmi_error ("%s: %s: %s", s->url, what, detail);
    break;
  }
}

/* A provider's session: its current cookie on this request (curl copies
 * it; it never reaches a log).  Returns the cookie sent (caller frees). */
static char *
session_apply (struct http *s, struct conn *c)
{
  char *ck;

  if (s->session.cookie == NULL)
    return NULL;
  ck = s->session.cookie (s->session.opaque);
  if (s->session_header == NULL)
    curl_easy_setopt (c->h, CURLOPT_COOKIE, ck);
  else {
    struct curl_slist *l = NULL;
    char *line = NULL;
    if (ck && asprintf (&line, "%s: %s", s->session_header, ck) != -1) {
      l = curl_slist_append (NULL, line);
      explicit_bzero (line, strlen (line));
      free (line);
    }
    curl_easy_setopt (c->h, CURLOPT_HTTPHEADER, l);
    curl_slist_free_all (c->headers);
    c->headers = l;
  }
  return ck;
}

/* A 401 with a session: renew it once per request and try again.
 * 1: try again; 0: go on; -1: the renewal failed (its error recorded). */
static int
session_renewed (struct http *s, long status, bool *renewed, char **sent)
{
  int again = 0;

  if (status == 401 && s->session.renew && !*renewed) {
    *renewed = true;
    again = s->session.renew (s->session.opaque, *sent) == 0 ? 1 : -1;
  }
  if (*sent) {
    explicit_bzero (*sent, strlen (*sent));
    free (*sent);
    *sent = NULL;
  }
  return again;
}

/* A far link: every request of WIDE_SAMPLES at least waited WIDE_LATENCY
 * or more for its first byte (the shortest wait is the round trip; loopback
 * and a LAN move megabytes in a millisecond, and on a loaded machine some
 * of their requests wait 10-30 ms for a server or a core, not all).  Small
 * reads one after another cost a round trip each there: a stream reads
 * ahead sooner (RA_START_FAR).  Under s->lock. */
static bool
link_far (const struct http *s)
{
  return s->wide
    || (s->samples >= WIDE_SAMPLES && s->min_latency >= WIDE_LATENCY);
}

/* A wide link: a window (RA_MAX) cannot hold 4 bandwidth-delay products
 * of one connection, so a request spends under 80% of its time receiving
 * and the connections, not the requests, are what is short.  Over 50 ms
 * at 40 MB/s (2 MB of BDP), 3 MiB windows on 8 connections copied the
 * benchmark's quick OVA at 0.25 of what 8 capped connections carry; on
 * 16, at 0.45 (docs/performance.md, ninth round).  Such a link gets
 * WIDE_CONNS connections and RA_WIDE_BUDGET of windows, for good.  A wide
 * link is a far one (link_far).  Under s->lock. */
static void
link_wide (struct http *s)
{
  if (!s->wide && link_far (s) && 4 * s->bdp > RA_MAX) {
    s->wide = true;
    pthread_cond_broadcast (&s->cond);   /* conn_get: more connections */
    vmi_log (VMI_LOG_DEBUG, "%s: a wide link (%.0f KiB in flight fill a "
             "connection): up to %d connections", s->url, s->bdp / 1024,
             WIDE_CONNS);
  }
}

/* Learn the link from a request that just ended: its wait for the first
 * byte (a round trip) times its rate once bytes flowed is the
 * bandwidth-delay product of one connection, which sizes the read-ahead
 * (see ra_plan).  Small requests say nothing of the rate, but their wait
 * counts (link_far). */
static void
link_sample (struct http *s, struct conn *c, size_t count, uint64_t offset,
             bool ahead)
{
  double pre = 0, first = 0, total = 0, bdp;

  curl_easy_getinfo (c->h, CURLINFO_PRETRANSFER_TIME, &pre);
  curl_easy_getinfo (c->h, CURLINFO_STARTTRANSFER_TIME, &first);
  curl_easy_getinfo (c->h, CURLINFO_TOTAL_TIME, &total);
  vmi_log (VMI_LOG_DEBUG, "%s: GET %" PRIu64 "+%zu (%s): first byte %.3f s, "
           "done %.3f s", s->url, offset, count, ahead ? "read-ahead" : "read",
           first, total);
  if (first < pre)
    return;
  pthread_mutex_lock (&s->lock);
  if (s->samples == 0 || first - pre < s->min_latency)
    s->min_latency = first - pre;
  s->samples++;
  if (count >= RA_MIN && total - first >= 0.002) {
    bdp = (double) count / (total - first) * (first - pre);
    s->bdp = s->bdp == 0 ? bdp : (3 * s->bdp + bdp) / 4;
  }
  link_wide (s);
  pthread_mutex_unlock (&s->lock);
}

/* One GET of [offset, offset+count) into BUF, retried and resumed.  WHOLE
 * says the range is the whole file (a 200 answer is then fine).  With WIN
 * (a read-ahead window, BUF its buffer): one try, no retry, and what
 * arrives is published to the window as it arrives. */
static int
http_get (struct http *s, char *buf, size_t count, uint64_t offset, bool whole,
          struct window *win)
{
  struct vmi_retry r;
  struct vmi_retry_policy once = s->retry;
  char what[96];
  int ret = -1, again;
  bool renewed = false;

  once.attempts = 0;
  vmi_retry_start (&r, win ? &once : &s->retry);
  snprintf (what, sizeof what, "read of %zu bytes at offset %" PRIu64, count,
            offset);
  for (;;) {
    struct conn *c = conn_get (s);
    struct xfer x = {
      .buf = buf, .want = count, .offset = offset, .ranged = true,
      .whole = whole, .cr_start = -1, .cr_total = -1, .s = s, .win = win,
    };
    char range[64], cause[CURL_ERROR_SIZE + 64], *sent;
    CURLcode rc;
    long status = 0;

    if (c == NULL)
      return -1;
    sent = session_apply (s, c);
    x.h = c->h;
    c->errbuf[0] = '\0';
    snprintf (range, sizeof range, "%" PRIu64 "-%" PRIu64, offset,
              offset + count - 1);
    curl_easy_setopt (c->h, CURLOPT_NOBODY, 0L);
    curl_easy_setopt (c->h, CURLOPT_HTTPGET, 1L);
    curl_easy_setopt (c->h, CURLOPT_RANGE, range);
    curl_easy_setopt (c->h, CURLOPT_HEADERDATA, &x);
    curl_easy_setopt (c->h, CURLOPT_WRITEDATA, &x);
    curl_easy_setopt (c->h, CURLOPT_XFERINFODATA, &x);
    rc = curl_easy_perform (c->h);
    curl_easy_getinfo (c->h, CURLINFO_RESPONSE_CODE, &status);
    if ((again = session_renewed (s, rc == CURLE_OK ? status : 0, &renewed,
                                  &sent)) != 0) {
      conn_put (s, c);
      if (again == -1)
        goto out;
      continue;
    }

    if (x.no_ranges) {
      errno = ENOTSUP;
      vmi_error ("%s: the server does not support range requests (it "
                 "answered a Range request with the whole file, HTTP 200); "
                 "vmimport reads remote files lazily and needs a server "
                 "that honours \"Range: bytes=\" (e.g. nginx, Apache, S3)",
                 s->url);
      conn_put (s, c);
      goto out;
    }
    if (x.bad_range) {
      errno = EIO;
      vmi_error ("%s: %s: the server sent bytes from offset %" PRId64
                 " instead", s->url, what, x.cr_start);
      conn_put (s, c);
      goto out;
    }
    if (rc == CURLE_OK && (status == 206 || (status == 200 && whole))
        && x.got == x.want) {
      link_sample (s, c, count, offset, win != NULL);
      conn_put (s, c);
      ret = 0;
      goto out;
    }

    /* Something went wrong: decide whether to try again. */
    if (rc != CURLE_OK && !vmi_curl_transient (rc)) {
      curl_error (s, rc, c->errbuf, what);
      conn_put (s, c);
      goto out;
    }
    if (rc == CURLE_OK && status != 200 && status != 206
        && !status_transient (status)) {
      status_error (s, status, what);
      conn_put (s, c);
      goto out;
    }
    if (rc != CURLE_OK)
      snprintf (cause, sizeof cause, "%s",
                c->errbuf[0] ? c->errbuf : curl_easy_strerror (rc));
    else if (status != 200 && status != 206)
      snprintf (cause, sizeof cause, "HTTP %ld %s", status,
                status_text (status));
    else
      snprintf (cause, sizeof cause, "short body (%zu of %zu bytes)", x.got,
                x.want);
    conn_put (s, c);

    /* Resume from the first byte not received. */
    buf += x.got;
    count -= x.got;
    offset += x.got;
    if (x.got > 0)
      whole = false;
    if (!vmi_retry_again (&r, s->url, cause)) {
      if (rc != CURLE_OK)
        curl_error (s, rc, cause, what);
      else if (status != 200 && status != 206)
        status_error (s, status, what);
      else {
        errno = EIO;
        vmi_error ("%s: %s: the server kept sending short bodies", s->url,
                   what);
      }
      vmi_error_prefix ("%s: giving up after %d retries", s->url, r.attempt);
      goto out;
    }
  }
 out:
  return ret;
}

/* Size of the file from HEAD, for a server whose ranged GET gave no
 * total.  Returns 0, or -1 with the error set. */
static int
http_head_size (struct http *s, uint64_t *size)
{
  struct vmi_retry r;
  bool renewed = false;
  int again;

  vmi_retry_start (&r, &s->retry);
  for (;;) {
    struct conn *c = conn_get (s);
    struct xfer x = { .cr_start = -1, .cr_total = -1 };
    curl_off_t len = -1;
    long status = 0;
    CURLcode rc;
    char cause[CURL_ERROR_SIZE + 64], *sent;

    if (c == NULL)
      return -1;
    sent = session_apply (s, c);
    x.h = c->h;
    c->errbuf[0] = '\0';
    curl_easy_setopt (c->h, CURLOPT_NOBODY, 1L);
    curl_easy_setopt (c->h, CURLOPT_RANGE, NULL);
    curl_easy_setopt (c->h, CURLOPT_HEADERDATA, &x);
    curl_easy_setopt (c->h, CURLOPT_WRITEDATA, &x);
    curl_easy_setopt (c->h, CURLOPT_XFERINFODATA, &x);
    rc = curl_easy_perform (c->h);
    curl_easy_getinfo (c->h, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_getinfo (c->h, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &len);
    curl_easy_setopt (c->h, CURLOPT_NOBODY, 0L);
    curl_easy_setopt (c->h, CURLOPT_HTTPGET, 1L);
    if ((again = session_renewed (s, rc == CURLE_OK ? status : 0, &renewed,
                                  &sent)) != 0) {
      conn_put (s, c);
      if (again == -1)
        return -1;
      continue;
    }

    if (rc == CURLE_OK && status == 200 && len >= 0) {
      conn_put (s, c);
      if (x.accept_none) {
        errno = ENOTSUP;
        vmi_error ("%s: the server does not support range requests "
                   "(Accept-Ranges: none); vmimport reads remote files "
                   "lazily and needs a server that honours \"Range: bytes=\"",
                   s->url);
        return -1;
      }
      *size = (uint64_t) len;
      return 0;
    }
    if (rc == CURLE_OK && status == 200) {
      conn_put (s, c);
      errno = EIO;
      vmi_error ("%s: the server gave no size (no total in Content-Range, "
                 "no Content-Length in HEAD)", s->url);
      return -1;
    }
    if (rc != CURLE_OK && !vmi_curl_transient (rc)) {
      curl_error (s, rc, c->errbuf, "HEAD");
      conn_put (s, c);
      return -1;
    }
    if (rc == CURLE_OK && !status_transient (status)) {
      status_error (s, status, "HEAD");
      conn_put (s, c);
      return -1;
    }
    if (rc != CURLE_OK)
      snprintf (cause, sizeof cause, "%s",
                c->errbuf[0] ? c->errbuf : curl_easy_strerror (rc));
    else
      snprintf (cause, sizeof cause, "HTTP %ld %s", status,
                status_text (status));
    conn_put (s, c);
    if (!vmi_retry_again (&r, s->url, cause)) {
      if (rc != CURLE_OK)
        curl_error (s, rc, cause, "HEAD");
      else
        status_error (s, status, "HEAD");
      return -1;
    }
  }
}

/* Size of the file, and its first PROBE bytes (in *FIRST, *GOT of them),
 * from one ranged GET: "Content-Range: bytes 0-N/SIZE" gives the size, and
 * the bytes are what opening a source reads first (a tar header, a
 * VMDK or QCOW2 header): one round trip where HEAD and a read took two.
 * A server that gives no total is asked with HEAD.  Returns 0, or -1 with
 * the error set. */
#define PROBE RA_KEEP
static int
http_size (struct http *s, uint64_t *size, char *first, size_t *got)
{
  struct vmi_retry r;
  bool renewed = false;
  int again;

  *got = 0;
  vmi_retry_start (&r, &s->retry);
  for (;;) {
    struct conn *c = conn_get (s);
    struct xfer x = {
      .buf = first, .want = PROBE, .ranged = true, .probe = true,
      .cr_start = -1, .cr_total = -1, .s = s,
    };
    curl_off_t cl = -1;
    long status = 0;
    CURLcode rc;
    char range[32], *sent;

    if (c == NULL)
      return -1;
    sent = session_apply (s, c);
    x.h = c->h;
    c->errbuf[0] = '\0';
    snprintf (range, sizeof range, "0-%u", PROBE - 1);
    curl_easy_setopt (c->h, CURLOPT_NOBODY, 0L);
    curl_easy_setopt (c->h, CURLOPT_HTTPGET, 1L);
    curl_easy_setopt (c->h, CURLOPT_RANGE, range);
    curl_easy_setopt (c->h, CURLOPT_HEADERDATA, &x);
    curl_easy_setopt (c->h, CURLOPT_WRITEDATA, &x);
    curl_easy_setopt (c->h, CURLOPT_XFERINFODATA, &x);
    rc = curl_easy_perform (c->h);
    curl_easy_getinfo (c->h, CURLINFO_RESPONSE_CODE, &status);
    if ((again = session_renewed (s, rc == CURLE_OK ? status : 0, &renewed,
                                  &sent)) != 0) {
      conn_put (s, c);
      if (again == -1)
        return -1;
      continue;
    }
    if (x.no_ranges) {
      conn_put (s, c);
      errno = ENOTSUP;
      vmi_error ("%s: the server does not support range requests (it "
                 "answered a Range request with the whole file, HTTP 200); "
                 "vmimport reads remote files lazily and needs a server "
                 "that honours \"Range: bytes=\" (e.g. nginx, Apache, S3)",
                 s->url);
      return -1;
    }
    if (x.bad_range) {
      conn_put (s, c);
      errno = EIO;
      vmi_error ("%s: a read of its first bytes got bytes from offset %"
                 PRId64 " instead", s->url, x.cr_start);
      return -1;
    }
    if (rc == CURLE_OK && status == 416 && x.cr_total >= 0) {
      conn_put (s, c);   /* an empty file: "bytes * /0" */
      *size = (uint64_t) x.cr_total;
      return 0;
    }
    if (rc == CURLE_OK && status == 200)
      curl_easy_getinfo (c->h, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &cl);
    if (rc == CURLE_OK && status == 200 && cl >= 0 && (uint64_t) cl == x.got) {
      conn_put (s, c);   /* the whole file, no longer than the range */
      *size = x.got;
      *got = x.got;
      return 0;
    }
    if (rc == CURLE_OK && status == 206 && x.cr_total >= 0) {
      uint64_t total = (uint64_t) x.cr_total;
      conn_put (s, c);
      *size = total;
      /* All of the asked bytes that exist, or none (a short body). */
      if (x.got == (total < PROBE ? total : PROBE))
        *got = x.got;
      return 0;
    }
    if (rc == CURLE_OK && (status == 206 || status == 416 || status == 200)) {
      conn_put (s, c);   /* no total, or an empty 200: ask HEAD */
      return http_head_size (s, size);
    }
    if ((rc != CURLE_OK && !vmi_curl_transient (rc))
        || (rc == CURLE_OK && !status_transient (status))
        || !vmi_retry_again (&r, s->url, rc != CURLE_OK
                             ? curl_easy_strerror (rc) : status_text (status))) {
      if (rc != CURLE_OK)
        curl_error (s, rc, c->errbuf, "GET");
      else
        status_error (s, status, "GET");
      conn_put (s, c);
      return -1;
    }
    conn_put (s, c);
  }
}

/* ---- Read-ahead: windows in flight for sequential readers. ---- */

static bool
win_busy (const struct window *w)
{
  return w->state == WIN_QUEUED || w->state == WIN_FETCHING;
}

/* Give a window's memory back.  Under s->lock; not busy, not pinned. */
static void
win_drop (struct http *s, struct window *w)
{
  munmap (w->buf, w->len);
  free (w->seen);
  s->win_bytes -= w->len;
  if (w->kept)
    s->kept_bytes -= w->len;
  *w = (struct window) { .state = WIN_FREE };
}

/* Every page of W was read from (a page counts once any byte of it was
 * copied out: a reader that stops in the middle of one comes back for the
 * rest at once, and a window dropped early costs a request, never a
 * wrong byte). */
static bool
win_read_all (const struct window *w)
{
  return w->pages_seen >= w->pages;
}

/* Note that [pos, pos+n) of W was copied out.  Under s->lock. */
static void
win_mark (struct window *w, uint64_t pos, size_t n)
{
  size_t a = (pos - w->off) / SEEN_PAGE, b = (pos - w->off + n - 1) / SEEN_PAGE;

  w->hit += n;
  for (size_t i = a; i <= b && i < w->pages; i++)
    if (!(w->seen[i / 64] & (UINT64_C (1) << (i % 64)))) {
      w->seen[i / 64] |= UINT64_C (1) << (i % 64);
      w->pages_seen++;
    }
}


/* The window holding byte POS, or NULL.  Under s->lock. */
static struct window *
win_at (struct http *s, uint64_t pos)
{
  for (int i = 0; i < RA_WINDOWS; i++) {
    struct window *w = &s->win[i];
    if (w->state != WIN_FREE && pos >= w->off && pos < w->off + w->len)
      return w;
  }
  return NULL;
}

/* Start of the first window after POS (or LIMIT), kept reads counted
 * or not.  Under s->lock. */
static uint64_t
win_next (struct http *s, uint64_t pos, uint64_t limit, bool kept)
{
  for (int i = 0; i < RA_WINDOWS; i++) {
    struct window *w = &s->win[i];
    if (w->state != WIN_FREE && (kept || !w->kept) && w->off > pos
        && w->off < limit)
      limit = w->off;
  }
  return limit;
}

/* A stream is reading inside W: its front lies in it, or less than
 * RA_LAG past it.  A mount's reader has several reads in flight, answered
 * in any order; a copy's workers read neighbouring ranges; a read of
 * compressed grains takes a grain's worth more than it uses (the span ends
 * past its last grain's marker): the pages of W may all have been read
 * while a read of its last grain is still to come.  A single read (a
 * table read once: no read continued it) is no stream yet.  Under
 * s->lock. */
static bool
win_in_use (struct http *s, const struct window *w)
{
  for (int i = 0; i < RA_STREAMS; i++) {
    const struct ra_stream *st = &s->streams[i];
    if (st->id && st->hits > 0 && st->front >= w->off
        && st->front <= w->off + w->len + RA_LAG)
      return true;
  }
  return false;
}

/* A window whose bytes were all read once, and that no stream is still
 * reading in, is no longer needed (kept reads stay: metadata is read
 * again in parts; they go first when room is needed).  One still being
 * read stays until room is needed. */
static void
win_maybe_drop (struct http *s, struct window *w)
{
  if (!win_busy (w) && w->pins == 0 && !w->kept && win_read_all (w)
      && !win_in_use (s, w))
    win_drop (s, w);
}

/* The stream ID is still followed (its slot not taken by another). */
static bool
stream_alive (struct http *s, uint64_t id)
{
  for (int i = 0; i < RA_STREAMS; i++)
    if (id != 0 && s->streams[i].id == id)
      return true;
  return false;
}

/* Drop a window to make room: a kept read or one read to the end first,
 * then the least recently read.  Windows in flight, pinned, being read
 * (win_in_use) or read ahead for a stream still followed and not read yet
 * stay, for RA_STALE reads: read-ahead never pushes out what a reader is
 * about to read.  Returns false when none can go.  Under s->lock. */
static bool
win_evict (struct http *s)
{
  struct window *v = NULL;

  for (int i = 0; i < RA_WINDOWS; i++) {
    struct window *w = &s->win[i];
    bool done = w->kept || win_read_all (w);
    if (w->state == WIN_FREE || win_busy (w) || w->pins > 0)
      continue;
    if (!w->kept && s->tick - w->used < RA_STALE
        && ((w->hit == 0 && stream_alive (s, w->stream)) || win_in_use (s, w)))
      continue;
    if (v == NULL || done > (v->kept || win_read_all (v))
        || (done == (v->kept || win_read_all (v)) && w->used < v->used))
      v = w;
  }
  if (v == NULL)
    return false;
  win_drop (s, v);
  return true;
}

static void *fetcher (void *arg);

/* A free window of LEN bytes at OFF (state WIN_DONE, nothing in it), or
 * NULL when there is no room.  Under s->lock. */
static struct window *
win_new (struct http *s, uint64_t off, size_t len)
{
  struct window *w = NULL;
  uint64_t *seen;
  size_t pages;
  char *buf;

  if (s->closing)
    return NULL;
  while (s->win_bytes + len > ra_budget (s))
    if (!win_evict (s))
      return NULL;
  for (int pass = 0; pass < 2 && w == NULL; pass++) {
    for (int i = 0; i < RA_WINDOWS && w == NULL; i++)
      if (s->win[i].state == WIN_FREE)
        w = &s->win[i];
    if (w == NULL && (pass == 1 || !win_evict (s)))
      return NULL;
  }
  /* Pages are touched as bytes arrive, and given back whole on drop. */
  pages = (len + SEEN_PAGE - 1) / SEEN_PAGE;
  if ((seen = calloc ((pages + 63) / 64, sizeof *seen)) == NULL)
    return NULL;
  buf = mmap (NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
              -1, 0);
  if (buf == MAP_FAILED) {
    free (seen);
    return NULL;
  }
  *w = (struct window) {
    .state = WIN_DONE, .off = off, .len = len, .buf = buf, .used = s->tick,
    .seen = seen, .pages = pages,
  };
  s->win_bytes += len;
  return w;
}

/* Queue a window [off, off+len) for stream STREAM (0: a read's own part).
 * Under s->lock.  Returns NULL when there is no room or no fetcher
 * thread. */
static struct window *
win_launch (struct http *s, uint64_t stream, uint64_t off, size_t len)
{
  struct window *w;

  /* One fetcher per window queued or in flight (this one counted), one
   * per connection at most. */
  if (s->nfetchers < conn_limit (s)
      && s->nfetchers - s->fetching <= s->queued && !s->closing
      && pthread_create (&s->fetchers[s->nfetchers], NULL, fetcher, s) == 0)
    s->nfetchers++;
  if (s->nfetchers == 0 || (w = win_new (s, off, len)) == NULL)
    return NULL;
  w->state = WIN_QUEUED;
  w->stream = stream;
  w->seq = ++s->seq;
  s->queued++;
  pthread_cond_signal (&s->work_cond);
  return w;
}

/* A fetcher thread: takes the oldest queued window and receives it. */
static void *
fetcher (void *arg)
{
  struct http *s = arg;

  pthread_mutex_lock (&s->lock);
  for (;;) {
    struct window *w = NULL;
    uint64_t size;
    int r;

    while (!s->closing && s->queued == 0)
      pthread_cond_wait (&s->work_cond, &s->lock);
    if (s->closing)
      break;
    for (int i = 0; i < RA_WINDOWS; i++)
      if (s->win[i].state == WIN_QUEUED
          && (w == NULL || s->win[i].seq < w->seq))
        w = &s->win[i];
    w->state = WIN_FETCHING;
    s->queued--;
    s->fetching++;
    size = s->size;
    pthread_mutex_unlock (&s->lock);
    /* Its errors are the reader's to meet again, with retries. */
    r = http_get (s, w->buf, w->len, w->off, w->off == 0 && w->len == size,
                  w);
    pthread_mutex_lock (&s->lock);
    if (r == -1 && !s->closing)
      vmi_log (VMI_LOG_INFO, "%s: read-ahead of %zu bytes at offset %" PRIu64
               " stopped after %zu bytes (%s); the reads fetch the rest",
               s->url, w->len, w->off, w->got, vmi_error_get ());
    w->state = r == 0 ? WIN_DONE : WIN_FAILED;
    s->fetching--;
    pthread_cond_broadcast (&s->ra_cond);
    if (w->pins == 0 && w->hit == 0 && !stream_alive (s, w->stream))
      win_drop (s, w);   /* its stream is no longer followed */
    else
      win_maybe_drop (s, w);   /* read to the end while it finished */
  }
  pthread_mutex_unlock (&s->lock);
  return NULL;
}

/* Keep a copy of a small read (metadata: headers, tables), for the
 * readers that come back for part of it: opening a source often reads a
 * header and then a field of it, one round trip each.  Dropped first when
 * room is needed.  Under s->lock. */
static void
win_keep (struct http *s, const char *data, uint64_t off, size_t len)
{
  struct window *w;

  if (len > RA_KEEP || win_at (s, off)
      || win_next (s, off, off + len, true) < off + len)
    return;
  while (s->kept_bytes + len > RA_KEEP_TOTAL) {
    struct window *v = NULL;
    for (int i = 0; i < RA_WINDOWS; i++) {
      w = &s->win[i];
      if (w->state != WIN_FREE && w->kept && w->pins == 0
          && (v == NULL || w->used < v->used))
        v = w;
    }
    if (v == NULL)
      return;
    win_drop (s, v);
  }
  if ((w = win_new (s, off, len)) == NULL)
    return;
  s->kept_bytes += len;
  memcpy (w->buf, data, len);
  w->got = len;
  w->kept = true;
  w->hit = 1;   /* as if read once: among the first to go */
}

/* Windows of stream ST queued or in flight.  Under s->lock. */
static int
ra_in_flight (struct http *s, const struct ra_stream *st)
{
  int n = 0;

  for (int i = 0; i < RA_WINDOWS; i++)
    n += win_busy (&s->win[i]) && s->win[i].stream == st->id;
  return n;
}

/* Follow the read [a, b): find the stream it continues (or start one) and
 * launch the windows that stream may have.  Under s->lock. */
static void
ra_plan (struct http *s, uint64_t a, uint64_t b)
{
  struct ra_stream *st = NULL, *oldest = &s->streams[0];
  struct window *w;
  uint64_t ahead, wlen, fill;

  s->tick++;
  /* A read continues a stream when it starts at its front (give or take
   * RA_GAP) or in one of its windows. */
  for (int i = 0; i < RA_STREAMS && st == NULL; i++) {
    struct ra_stream *t = &s->streams[i];
    if (t->id && a + RA_GAP >= t->front && a <= t->front + RA_GAP)
      st = t;
    if (t->used < oldest->used)
      oldest = t;
  }
  if (st == NULL && (w = win_at (s, a)) != NULL && w->stream != 0)
    for (int i = 0; i < RA_STREAMS && st == NULL; i++)
      if (s->streams[i].id == w->stream)
        st = &s->streams[i];
  if (st == NULL)
    for (int i = 0; i < RA_STREAMS; i++) {
      struct ra_stream *t = &s->streams[i];
      if (t->id && a < t->front && a + RA_BACK >= t->front)
        return;   /* a worker behind the others: the stream stays */
    }
  if (st == NULL) {
    /* A first read: no read-ahead until more continue it.  The stream it
     * replaces is no longer followed: what it read ahead and nobody
     * read goes. */
    for (int i = 0; i < RA_WINDOWS; i++) {
      w = &s->win[i];
      if (w->state != WIN_FREE && oldest->id && w->stream == oldest->id
          && !win_busy (w) && w->pins == 0 && w->hit == 0)
        win_drop (s, w);
    }
    *oldest = (struct ra_stream) {
      .id = ++s->next_stream_id, .front = b, .ra_end = b, .bytes = b - a,
      .used = s->tick,
    };
    return;
  }
  st->used = s->tick;
  if (st->hits < (unsigned) conn_limit (s))
    st->hits++;
  st->bytes += b - a;
  if (b > st->front)
    st->front = b;
  /* A reader fetches what it asked for that no window holds; windows go
   * past the front, at most as far ahead as the stream has read. */
  if (st->ra_end < st->front)
    st->ra_end = st->front;
  /* A window of 4 bandwidth-delay products spends 80% of its time
   * receiving; one in flight per connection fills the link.  Ahead: at
   * most what the stream read (RA_FAR_AHEAD times that on a far link,
   * where each round trip the read-ahead grows by is costly), what fills
   * every connection, the budget. */
  fill = (uint64_t) (4 * (s->bdp > 0 ? s->bdp : RA_BDP_GUESS));
  wlen = fill < RA_WIN_MIN ? RA_WIN_MIN : fill > RA_MAX ? RA_MAX : fill;
  ahead = link_far (s) ? RA_FAR_AHEAD * st->bytes : st->bytes;
  if (ahead > ra_budget (s))
    ahead = ra_budget (s);
  if (ahead > 2 * wlen && ahead > fill * conn_limit (s))
    ahead = 2 * wlen > fill * conn_limit (s) ? 2 * wlen : fill * conn_limit (s);
  if (b - a >= wlen && !s->wide)
    return;   /* reads this large fill the link by themselves (not a wide
                 one: a copy's workers leave its 16 connections idle while
                 they inflate and write; read ahead, the full OVA copied in
                 2.45 s instead of 2.86) */
  if (st->hits < 2 || st->bytes < (link_far (s) ? RA_START_FAR : RA_START))
    return;   /* not yet: random readers (a FUSE read of 1 MiB comes as
                 several of 128 KiB) look sequential for a while */
  if (ahead / 2 < wlen)
    wlen = ahead / 2 < RA_MIN ? RA_MIN : ahead / 2;
  while (st->ra_end < s->size && st->ra_end < st->front + ahead
         && ra_in_flight (s, st) < (int) st->hits) {
    uint64_t len = wlen, stop;
    if ((w = win_at (s, st->ra_end)) != NULL) {   /* already read ahead (by another stream): skip it */
      st->ra_end = w->off + w->len;
      continue;
    }
    stop = win_next (s, st->ra_end, s->size, true);
    if (len > stop - st->ra_end)
      len = stop - st->ra_end;
    if (win_launch (s, st->id, st->ra_end, len) == NULL)
      break;
    st->ra_end += len;
  }
}

/* Copy [pos, stop) out of window W, waiting for its bytes while it is
 * being received.  Returns the bytes copied (0: the window failed before
 * them).  Under s->lock; drops it while copying. */
static size_t
win_copy (struct http *s, struct window *w, char *dst, uint64_t pos,
          uint64_t stop)
{
  size_t need = stop - w->off, n = 0;

  w->pins++;
  while (win_busy (w) && w->got < need)
    pthread_cond_wait (&s->ra_cond, &s->lock);
  if (w->got > pos - w->off) {
    n = (w->got < need ? w->got : need) - (pos - w->off);
    pthread_mutex_unlock (&s->lock);
    memcpy (dst, w->buf + (pos - w->off), n);
    pthread_mutex_lock (&s->lock);
    win_mark (w, pos, n);
    w->used = s->tick;
  }
  w->pins--;
  if (w->pins == 0)
    pthread_cond_broadcast (&s->ra_cond);
  win_maybe_drop (s, w);
  return n;
}

/* Stop the fetchers: their transfers end at the next callback, the
 * windows not received are failed (their readers fetch the bytes), and
 * fetchers start again with the next window.  Not under s->lock. */
static void
ra_stop (struct http *s)
{
  int n;

  pthread_mutex_lock (&s->lock);
  __atomic_store_n (&s->closing, true, __ATOMIC_RELAXED);
  pthread_cond_broadcast (&s->work_cond);
  n = s->nfetchers;
  pthread_mutex_unlock (&s->lock);
  for (int i = 0; i < n; i++)
    pthread_join (s->fetchers[i], NULL);
  pthread_mutex_lock (&s->lock);
  for (int i = 0; i < RA_WINDOWS; i++)
    if (win_busy (&s->win[i]))
      s->win[i].state = WIN_FAILED;
  s->queued = 0;
  s->fetching = 0;
  s->nfetchers = 0;
  __atomic_store_n (&s->closing, false, __ATOMIC_RELAXED);
  pthread_cond_broadcast (&s->ra_cond);
  pthread_mutex_unlock (&s->lock);
}

/* On a wide link, a read missing [pos, stop) of at least 2 x RA_SPLIT
 * bytes fetches its first part itself and its last half (RA_MAX at most)
 * as a window on another connection, at the same time: the copy's 8
 * workers reading 4 MiB units (a flat VMDK: no read-ahead) keep 16
 * connections busy.  Not over another window (a kept read): its bytes
 * would cross twice.  The window is pinned (*HELD) until the read is done
 * with it.  Returns where the read's own part stops.  Under s->lock. */
static uint64_t
ra_split (struct http *s, uint64_t pos, uint64_t stop, struct window **held)
{
  uint64_t part = (stop - pos) / 2 < RA_MAX ? (stop - pos) / 2 : RA_MAX;
  struct window *w;

  if (!s->wide || *held != NULL || stop - pos < 2 * RA_SPLIT
      || win_next (s, pos, stop, true) < stop
      || (w = win_launch (s, 0, stop - part, part)) == NULL)
    return stop;
  w->pins++;
  *held = w;
  return stop - part;
}

/* The read's own window HELD, still queued behind the read-ahead when
 * the read comes to it: the read fetches its bytes itself instead of
 * waiting (and a read that failed does not leave it to be fetched).
 * Under s->lock. */
static void
ra_split_take_back (struct http *s, struct window *held)
{
  if (held && held->state == WIN_QUEUED) {
    held->state = WIN_FAILED;
    s->queued--;
  }
}

/* On a far link, a read missing [pos, end) of less than RA_EXTEND bytes,
 * with no window after it, fetches RA_EXTEND bytes from POS into a window
 * of its own, published as they arrive: a new stream's next reads (the
 * kernel's read-ahead starting small after a seek, the next compressed
 * cluster) find them there, where each would cost a round trip, and a
 * random reader pays a few milliseconds more per read.  Returns the
 * window (WIN_FETCHING, pinned, for the caller to fetch), or NULL.  Under
 * s->lock. */
static struct window *
ra_extend (struct http *s, uint64_t pos, uint64_t end)
{
  uint64_t stop = s->size - pos < RA_EXTEND ? s->size : pos + RA_EXTEND;
  struct window *w;

  if (!link_far (s) || end - pos >= RA_EXTEND
      || (stop = win_next (s, pos, stop, true)) <= end
      || (w = win_new (s, pos, stop - pos)) == NULL)
    return NULL;
  w->state = WIN_FETCHING;
  w->pins++;
  return w;
}

/* Fetch window W (ra_extend's) on the reader's own thread.  Under s->lock;
 * drops it while fetching. */
static void
ra_extend_fetch (struct http *s, struct window *w)
{
  int r;

  pthread_mutex_unlock (&s->lock);
  r = http_get (s, w->buf, w->len, w->off, false, w);
  pthread_mutex_lock (&s->lock);
  w->state = r == 0 ? WIN_DONE : WIN_FAILED;
  w->pins--;
  pthread_cond_broadcast (&s->ra_cond);
}

static int
http_pread (struct vmi_layer *l, void *buf, size_t count, uint64_t offset)
{
  struct http *s = l->priv;
  uint64_t pos = offset, end = offset + count;
  struct window *w0, *held = NULL;
  char *p = buf;
  int ret = 0;

  pthread_mutex_lock (&s->lock);
  /* The window this read starts in stays while the read-ahead makes room. */
  if ((w0 = win_at (s, offset)) != NULL)
    w0->pins++;
  ra_plan (s, offset, end);
  if (w0)
    w0->pins--;
  while (pos < end) {
    struct window *w = win_at (s, pos);
    uint64_t stop;

    /* A read that runs past a kept one is one request, not two. */
    if (w && w->kept && w->off + w->len < end)
      w = NULL;
    if (w) {
      if (w == held)
        ra_split_take_back (s, held);
      stop = w->off + w->len < end ? w->off + w->len : end;
      size_t n = win_copy (s, w, p + (pos - offset), pos, stop);
      if (n > 0) {
        pos += n;
        continue;
      }
      /* The window failed short of POS: fetch the rest ourselves. */
    }
    else if ((w = ra_extend (s, pos, end)) != NULL) {
      ra_extend_fetch (s, w);
      continue;
    }
    else
      stop = ra_split (s, pos, win_next (s, pos, end, false), &held);
    pthread_mutex_unlock (&s->lock);
    ret = http_get (s, p + (pos - offset), stop - pos, pos,
                    pos == 0 && stop == l->size, NULL);
    pthread_mutex_lock (&s->lock);
    if (ret == -1)
      break;
    win_keep (s, p + (pos - offset), pos, stop - pos);
    pos = stop;
  }
  if (held) {
    /* Its bytes were this read's: nobody else waits for them. */
    ra_split_take_back (s, held);
    held->pins--;
    pthread_cond_broadcast (&s->ra_cond);
    if (held->pins == 0 && !win_busy (held))
      win_drop (s, held);
  }
  pthread_mutex_unlock (&s->lock);
  return ret;
}

static void
wipe_free (char *str)
{
  if (str) {
    explicit_bzero (str, strlen (str));
    free (str);
  }
}

static void
http_free (struct http *s)
{
  if (s == NULL)
    return;
  /* Stop the windows in flight: their transfers end at the next callback. */
  reg_remove (s);
  ra_stop (s);
  for (int i = 0; i < RA_WINDOWS; i++)
    if (s->win[i].state != WIN_FREE)
      win_drop (s, &s->win[i]);
  while (s->idle) {
    struct conn *c = s->idle;
    s->idle = c->next;
    conn_free (c);
  }
  if (s->share)
    curl_share_cleanup (s->share);
  for (int i = 0; i < CURL_LOCK_DATA_LAST; i++)
    pthread_mutex_destroy (&s->share_locks[i]);
  pthread_mutex_destroy (&s->lock);
  pthread_cond_destroy (&s->cond);
  pthread_cond_destroy (&s->ra_cond);
  pthread_cond_destroy (&s->work_cond);
  free (s->url);
  free (s->session_header);
  free (s->username);
  wipe_free (s->password);
  free (s->ca_file);
  free (s->ca_pem);
  if (s->session.release)
    s->session.release (s->session.opaque);
  free (s);
}

static void
http_close (struct vmi_layer *l)
{
  http_free (l->priv);
}

static const struct vmi_layer_ops http_ops = {
  .name = "http",
  .pread = http_pread,
  .close = http_close,
};

/* Split credentials off URL: S->url gets the URL without them, a user name
 * in the URL becomes the user name.  A password in the URL is refused: it
 * would sit in argv and in logs. */
static int
parse_url (struct http *s, const char *url)
{
  CURLU *u = curl_url ();
  char *user = NULL, *pass = NULL, *clean = NULL;
  int r = -1;

  if (u == NULL) {
    errno = ENOMEM;
    vmi_error ("out of memory");
    return -1;
  }
  if (curl_url_set (u, CURLUPART_URL, url, 0) != CURLUE_OK) {
    errno = EINVAL;
    vmi_error ("%.*s: not a valid URL", (int) strcspn (url, "@"), url);
    goto out;
  }
  curl_url_get (u, CURLUPART_USER, &user, CURLU_URLDECODE);
  curl_url_get (u, CURLUPART_PASSWORD, &pass, 0);
  curl_url_set (u, CURLUPART_USER, NULL, 0);
  curl_url_set (u, CURLUPART_PASSWORD, NULL, 0);
  if (curl_url_get (u, CURLUPART_URL, &clean, 0) != CURLUE_OK) {
    errno = EINVAL;
    vmi_error ("not a valid URL");
    goto out;
  }
  if (pass) {
    errno = EINVAL;
    vmi_error ("%s: the URL holds a password; give it with --password-file, "
               "a Secret or VMIMPORT_PASSWORD instead", clean);
    goto out;
  }
  if ((s->url = strdup (clean)) == NULL
      || (user && !s->username && (s->username = strdup (user)) == NULL)) {
    errno = ENOMEM;
    vmi_error ("out of memory");
    goto out;
  }
  r = 0;
 out:
  curl_free (user);
  if (pass) {
    explicit_bzero (pass, strlen (pass));
    curl_free (pass);
  }
  curl_free (clean);
  curl_url_cleanup (u);
  return r;
}

static char *
dup_opt (const char *str, int *err)
{
  char *d = NULL;

  if (str && (d = strdup (str)) == NULL)
    *err = 1;
  return d;
}

struct vmi_layer *
vmi_http_open (const char *url, const struct vmi_source_opts *opts)
{
  return vmi_http_open_session (url, opts, NULL);
}

struct vmi_layer *
vmi_http_open_session (const char *url, const struct vmi_source_opts *opts,
                       const struct vmi_http_session *session)
{
  return vmi_http_open_session_header (url, opts, session, NULL);
}

struct vmi_layer *
vmi_http_open_session_header (const char *url, const struct vmi_source_opts *opts,
                              const struct vmi_http_session *session,
                              const char *header)
{
  struct http *s;
  uint64_t size = 0;
  size_t got = 0;
  char *first = NULL;
  int err = 0;

  pthread_once (&curl_once, curl_init);
  if (curl_init_result != CURLE_OK) {
    errno = EIO;
    vmi_error ("cannot initialise libcurl: %s",
               curl_easy_strerror (curl_init_result));
    return NULL;
  }
  s = calloc (1, sizeof *s);
  if (s == NULL) {
    errno = ENOMEM;
    vmi_error ("out of memory");
    if (session && session->release)
      session->release (session->opaque);
    return NULL;
  }
  if (session)
    s->session = *session;
  s->session_header = dup_opt (header, &err);
  for (int i = 0; i < CURL_LOCK_DATA_LAST; i++)
    pthread_mutex_init (&s->share_locks[i], NULL);
  pthread_mutex_init (&s->lock, NULL);
  pthread_cond_init (&s->cond, NULL);
  pthread_cond_init (&s->ra_cond, NULL);
  pthread_cond_init (&s->work_cond, NULL);
  if (opts) {
    s->username = dup_opt (opts->username, &err);
    s->password = dup_opt (opts->password, &err);
    s->ca_file = dup_opt (opts->ca_cert_file, &err);
    s->ca_pem = dup_opt (opts->ca_cert_pem, &err);
    s->insecure = opts->insecure;
    s->timeout = opts->timeout_seconds > 0 ? opts->timeout_seconds : 0;
    s->connect_timeout = opts->connect_timeout_seconds > 0
                         ? opts->connect_timeout_seconds : 30;
    s->retry = opts->retry;
  }
  else {
    s->timeout = 600;
    s->connect_timeout = 30;
    vmi_retry_policy_default (&s->retry);
  }
  if (err) {
    errno = ENOMEM;
    vmi_error ("out of memory");
    goto fail;
  }
  if (parse_url (s, url) == -1)
    goto fail;
  s->share = curl_share_init ();
  if (s->share == NULL) {
    errno = ENOMEM;
    vmi_error ("%s: cannot create a curl share handle", s->url);
    goto fail;
  }
  curl_share_setopt (s->share, CURLSHOPT_LOCKFUNC, share_lock);
  curl_share_setopt (s->share, CURLSHOPT_UNLOCKFUNC, share_unlock);
  curl_share_setopt (s->share, CURLSHOPT_USERDATA, s);
  curl_share_setopt (s->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
  curl_share_setopt (s->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
  if ((first = malloc (PROBE)) == NULL) {
    errno = ENOMEM;
    vmi_error ("out of memory");
    goto fail;
  }
  if (http_size (s, &size, first, &got) == -1)
    goto fail;
  s->size = size;
  if (got > 0) {   /* kept: opening reads these bytes next */
    pthread_mutex_lock (&s->lock);
    win_keep (s, first, 0, got);
    pthread_mutex_unlock (&s->lock);
  }
  free (first);
  first = NULL;
  reg_add (s);
  {
    struct vmi_layer *l = vmi_layer_new (&http_ops, s, size, s->url, NULL);
    if (l == NULL)
      http_free (s);
    return l;
  }

 fail:
  free (first);
  http_free (s);
  return NULL;
}
