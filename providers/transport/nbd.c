/* Transport: an NBD export, read with libnbd.
 *
 *   nbd://host[:port]/export   nbds://...   nbd+unix:///export?socket=PATH
 *
 * TLS as libnbd takes it: nbds:// requires TLS; the URI may carry
 * tls-psk-file=FILE or tls-certificates=DIR.  opts->ca_cert_file naming a
 * directory is passed as the certificates directory; a CA bundle file (or
 * opts->ca_cert_pem) is put as ca-cert.pem in a private folder that is.
 * opts->username is the TLS (PSK) user name, opts->insecure turns off
 * peer verification.
 *
 * Requests are issued with libnbd's asynchronous API so that many are in
 * flight on one connection at once: each connection has an event-loop
 * thread that polls the socket and moves libnbd's state machine; callers
 * issue nbd_aio_* commands and sleep until the command's free callback
 * fires (exactly once, whether it succeeded, failed, or was aborted by a
 * dropped connection).  When the server offers multi-conn, up to
 * MAX_CONNS connections share the load.
 *
 * Faults: a failed command is retried with the shared retry policy; a
 * dropped (or stalled past opts->timeout_seconds) connection is closed and
 * opened again by the first caller that sees it, while the others wait on
 * the connection's rwlock.  A read either returns every byte from the
 * offset asked for, or fails with EIO: results of a failed attempt are
 * never used.
 *
 * Extents come from NBD block status (base:allocation): a hole that reads
 * as zeros is a hole, zeros are zeros, anything else is data.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <libnbd.h>

#include "vmimport/error.h"
#include "vmimport/transport.h"

#define MAX_CONNS 4
#define CHUNK (2u << 20)          /* one NBD read request */
#define WINDOW 16                 /* requests in flight per caller */
#define STATUS_MAX (1u << 30)     /* one block status request */

struct conn {
  pthread_rwlock_t rw;        /* read: issuing commands; write: reconnect */
  struct nbd_handle *nbd;     /* NULL while down */
  unsigned gen;               /* bumped by every reconnect */
  char down_cause[256];       /* why nbd is NULL */
  pthread_t thread;           /* event loop for nbd */
  bool running;
  int wake[2];                /* pipe: wakes the event loop */
  int stop;                   /* atomic: event loop should exit */
  int inflight;               /* atomic: commands issued, not finished */
  int64_t last_progress;      /* atomic: ms, last completion or first issue */
};

struct nbdl {
  char *uri;
  char *tls_dir, *tls_user;
  bool tls_dir_ours;          /* a private folder made by tls_dir_open */
  bool insecure;
  struct vmi_retry_policy retry;
  long timeout;               /* seconds without progress before a reset */
  uint64_t size;
  uint32_t align;             /* server's minimum block size */
  uint32_t max_req;
  bool allocation;            /* base:allocation negotiated */
  size_t nconns;              /* connections in use (initialised) */
  unsigned next;              /* atomic: round robin over conns */
  pthread_mutex_t done_lock;  /* completions signal done_cond */
  pthread_cond_t done_cond;
  struct conn conns[MAX_CONNS];
};

/* One command: a read into BUF, or a block status into EXT. */
struct req {
  struct nbdl *n;
  struct conn *c;
  char *buf;
  uint64_t off;
  uint32_t len;
  struct vmi_extents *ext;
  uint64_t size;              /* layer size, to clip extents */
  int err;                    /* from the completion (0: success) */
  bool completed, released, ok;
  char cause[200];
};

static int64_t
now_ms (void)
{
  struct timespec ts;

  clock_gettime (CLOCK_MONOTONIC, &ts);
  return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---------------------------------------------------------------- */
/* The event loop of one connection. */

static void
wake (struct conn *c)
{
  char b = 0;

  if (write (c->wake[1], &b, 1) == -1) {
    /* The pipe is full: the loop is already awake. */
  }
}

static void *
event_loop (void *arg)
{
  struct conn *c = arg;
  struct nbd_handle *h = c->nbd;
  int fd = nbd_aio_get_fd (h);

  for (;;) {
    struct pollfd p[2] = { { fd, 0, 0 }, { c->wake[0], POLLIN, 0 } };
    unsigned dir;
    char buf[64];

    if (__atomic_load_n (&c->stop, __ATOMIC_ACQUIRE))
      break;
    if (nbd_aio_is_dead (h) || nbd_aio_is_closed (h))
      p[0].fd = -1;
    else {
      dir = nbd_aio_get_direction (h);
      p[0].events = (dir & LIBNBD_AIO_DIRECTION_READ ? POLLIN : 0)
                    | (dir & LIBNBD_AIO_DIRECTION_WRITE ? POLLOUT : 0);
      if (p[0].events == 0)   /* else POLLHUP would wake us in a loop */
        p[0].fd = -1;
    }
    if (poll (p, 2, 1000) == -1 && errno != EINTR)
      break;
    if (p[1].revents & POLLIN)
      while (read (c->wake[0], buf, sizeof buf) == (ssize_t) sizeof buf)
        ;
    if (p[0].fd >= 0) {
      dir = nbd_aio_get_direction (h);
      if ((dir & LIBNBD_AIO_DIRECTION_READ)
          && (p[0].revents & (POLLIN | POLLHUP | POLLERR)))
        nbd_aio_notify_read (h);
      else if ((dir & LIBNBD_AIO_DIRECTION_WRITE)
               && (p[0].revents & (POLLOUT | POLLHUP | POLLERR)))
        nbd_aio_notify_write (h);
    }
  }
  return NULL;
}

/* A connection whose commands make no progress for TIMEOUT seconds is
 * reset: shutting the socket down makes libnbd abort its commands, and the
 * callers reconnect.  Waiting callers call this once a second. */
static void
stall_check (struct nbdl *n, struct conn *c, struct nbd_handle *h)
{
  int64_t last = __atomic_load_n (&c->last_progress, __ATOMIC_RELAXED);

  if (n->timeout <= 0 || __atomic_load_n (&c->inflight, __ATOMIC_RELAXED) == 0)
    return;
  if (now_ms () - last > n->timeout * 1000) {
    vmi_log (VMI_LOG_WARN, "%s: no reply from the server for %ld s; "
             "dropping the connection", n->uri, n->timeout);
    __atomic_store_n (&c->last_progress, now_ms (), __ATOMIC_RELAXED);
    shutdown (nbd_aio_get_fd (h), SHUT_RDWR);
  }
}

static int
loop_start (struct conn *c)
{
  int err;

  __atomic_store_n (&c->stop, 0, __ATOMIC_RELEASE);
  err = pthread_create (&c->thread, NULL, event_loop, c);
  if (err) {
    errno = err;
    return -1;
  }
  c->running = true;
  return 0;
}

static void
loop_stop (struct conn *c)
{
  if (!c->running)
    return;
  __atomic_store_n (&c->stop, 1, __ATOMIC_RELEASE);
  wake (c);
  pthread_join (c->thread, NULL);
  c->running = false;
}

/* ---------------------------------------------------------------- */
/* Connecting. */

static struct nbd_handle *
handle_connect (struct nbdl *n, char *cause, size_t causelen)
{
  struct nbd_handle *h = nbd_create ();

  if (h == NULL)
    goto err;
  if (nbd_set_uri_allow_local_file (h, true) == -1
      || nbd_add_meta_context (h, LIBNBD_CONTEXT_BASE_ALLOCATION) == -1
      || (n->tls_dir && nbd_set_tls_certificates (h, n->tls_dir) == -1)
      || (n->tls_user && nbd_set_tls_username (h, n->tls_user) == -1)
      || (n->insecure && nbd_set_tls_verify_peer (h, false) == -1)
      || nbd_connect_uri (h, n->uri) == -1)
    goto err;
  return h;
 err:
  errno = nbd_get_errno () ? nbd_get_errno () : EIO;
  snprintf (cause, causelen, "%s", nbd_get_error () ? nbd_get_error ()
            : strerror (errno));
  nbd_close (h);
  return NULL;
}

/* Under c->rw held for writing. */
static int
conn_up (struct nbdl *n, struct conn *c)
{
  struct nbd_handle *h;
  int64_t size;

  h = handle_connect (n, c->down_cause, sizeof c->down_cause);
  if (h == NULL)
    return -1;
  size = nbd_get_size (h);
  if (size < 0 || (uint64_t) size != n->size) {
    snprintf (c->down_cause, sizeof c->down_cause,
              "the export's size changed from %" PRIu64 " to %" PRId64
              " bytes", n->size, size);
    nbd_close (h);
    errno = EIO;
    return -1;
  }
  c->nbd = h;
  if (loop_start (c) == -1) {
    snprintf (c->down_cause, sizeof c->down_cause, "thread: %s",
              strerror (errno));
    c->nbd = NULL;
    nbd_close (h);
    return -1;
  }
  return 0;
}

static void
conn_down (struct conn *c)
{
  loop_stop (c);
  nbd_close (c->nbd);   /* aborts anything still queued */
  c->nbd = NULL;
}

/* Replace connection C, unless someone already did since generation GEN. */
static void
reconnect (struct nbdl *n, struct conn *c, unsigned gen)
{
  pthread_rwlock_wrlock (&c->rw);
  if (c->gen == gen) {
    conn_down (c);
    if (conn_up (n, c) == 0)
      vmi_log (VMI_LOG_INFO, "%s: reconnected", n->uri);
    c->gen++;
  }
  pthread_rwlock_unlock (&c->rw);
}

/* ---------------------------------------------------------------- */
/* Commands. */

static int
req_complete (void *opaque, int *error)
{
  struct req *q = opaque;

  q->err = *error;
  q->completed = true;
  return 1;   /* retire the command */
}

/* libnbd calls this last, exactly once, also when issuing failed. */
static void
req_release (void *opaque)
{
  struct req *q = opaque;
  struct nbdl *n = q->n;

  __atomic_sub_fetch (&q->c->inflight, 1, __ATOMIC_RELAXED);
  __atomic_store_n (&q->c->last_progress, now_ms (), __ATOMIC_RELAXED);
  pthread_mutex_lock (&n->done_lock);
  q->released = true;
  pthread_cond_broadcast (&n->done_cond);
  pthread_mutex_unlock (&n->done_lock);
}

static int
req_extent (void *opaque, const char *context, uint64_t offset,
            uint32_t *entries, size_t nr, int *error)
{
  struct req *q = opaque;

  (void) error;
  if (strcmp (context, LIBNBD_CONTEXT_BASE_ALLOCATION) != 0)
    return 0;
  if (offset != q->off || nr < 2 || q->ext->n > 0) {
    snprintf (q->cause, sizeof q->cause, "malformed block status reply "
              "(offset %" PRIu64 ", %zu entries)", offset, nr / 2);
    *error = EIO;
    return -1;
  }
  for (size_t i = 0; i + 1 < nr && offset < q->size; i += 2) {
    uint64_t len = entries[i];
    uint32_t flags = entries[i + 1];
    enum vmi_extent_type t;

    if (len == 0) {
      snprintf (q->cause, sizeof q->cause, "block status reply has an "
                "empty extent at offset %" PRIu64, offset);
      *error = EIO;
      return -1;
    }
    if (len > q->size - offset)
      len = q->size - offset;
    if ((flags & LIBNBD_STATE_HOLE) && (flags & LIBNBD_STATE_ZERO))
      t = VMI_EXTENT_HOLE;
    else if (flags & LIBNBD_STATE_ZERO)
      t = VMI_EXTENT_ZERO;
    else
      t = VMI_EXTENT_DATA;   /* a hole that may not read as zeros is data */
    if (vmi_extents_add (q->ext, offset, len, t) == -1) {
      *error = ENOMEM;
      return -1;
    }
    offset += len;
  }
  return 0;
}

/* Issue Q on connection C (held for reading).  On failure Q is already
 * released. */
static void
req_issue (struct conn *c, struct req *q)
{
  nbd_completion_callback done = { .callback = req_complete, .user_data = q,
                                   .free = req_release };
  int64_t r;

  q->c = c;
  q->err = 0;
  q->completed = q->released = false;
  q->cause[0] = '\0';
  if (q->ext)
    vmi_extents_clear (q->ext);
  if (__atomic_fetch_add (&c->inflight, 1, __ATOMIC_RELAXED) == 0)
    __atomic_store_n (&c->last_progress, now_ms (), __ATOMIC_RELAXED);
  if (q->ext)
    r = nbd_aio_block_status (c->nbd, q->len, q->off,
                              (nbd_extent_callback) { .callback = req_extent,
                                                      .user_data = q },
                              done, 0);
  else
    r = nbd_aio_pread (c->nbd, q->buf, q->len, q->off, done, 0);
  if (r == -1) {
    q->err = nbd_get_errno () ? nbd_get_errno () : EIO;
    snprintf (q->cause, sizeof q->cause, "%s", nbd_get_error ());
  }
}

/* Server errors that another try will not cure. */
static bool
permanent (int err)
{
  return err == EINVAL || err == ERANGE || err == EOVERFLOW || err == ENOTSUP
         || err == ENOMEM;
}

static const char *
req_what (const struct req *q, char *buf, size_t len)
{
  snprintf (buf, len, "%s of %" PRIu32 " bytes at offset %" PRIu64,
            q->ext ? "block status" : "read", q->len, q->off);
  return buf;
}

/* Run every request of Q[0..N) to success, retrying with the policy.  All
 * go to one connection per try, so a caller holds one lock at a time. */
static int
run (struct vmi_layer *l, struct req *q, size_t nq)
{
  struct nbdl *n = l->priv;
  struct vmi_retry retry;
  char cause[512], what[128];

  for (size_t i = 0; i < nq; i++)
    q[i].ok = false;
  vmi_retry_start (&retry, &n->retry);
  for (;;) {
    size_t idx = __atomic_fetch_add (&n->next, 1, __ATOMIC_RELAXED)
                 % n->nconns;
    struct conn *c = &n->conns[idx];
    bool dead = false, again = true;
    unsigned gen;
    int err = 0;

    cause[0] = '\0';
    pthread_rwlock_rdlock (&c->rw);
    gen = c->gen;
    if (c->nbd == NULL) {
      snprintf (cause, sizeof cause, "not connected: %s", c->down_cause);
      dead = true;
    }
    else {
      for (size_t i = 0; i < nq; i++)
        if (!q[i].ok)
          req_issue (c, &q[i]);
      wake (c);   /* the loop polls for what libnbd now waits for */
      stall_check (n, c, c->nbd);
      pthread_mutex_lock (&n->done_lock);
      for (size_t i = 0; i < nq; i++) {
        while (!q[i].ok && !q[i].released) {
          struct timespec ts;
          clock_gettime (CLOCK_REALTIME, &ts);
          ts.tv_sec += 1;
          if (pthread_cond_timedwait (&n->done_cond, &n->done_lock, &ts)
              == ETIMEDOUT) {
            pthread_mutex_unlock (&n->done_lock);
            stall_check (n, c, c->nbd);
            pthread_mutex_lock (&n->done_lock);
          }
        }
      }
      pthread_mutex_unlock (&n->done_lock);
      again = false;
      for (size_t i = 0; i < nq; i++) {
        if (q[i].ok)
          continue;
        if (q[i].completed && q[i].err == 0) {
          q[i].ok = true;
          continue;
        }
        if (!q[i].completed && q[i].err == 0)
          q[i].err = ENOTCONN;
        if (!again) {
          err = q[i].err;
          snprintf (cause, sizeof cause, "%s: %s",
                    req_what (&q[i], what, sizeof what),
                    q[i].cause[0] ? q[i].cause : strerror (q[i].err));
        }
        again = true;
      }
      dead = nbd_aio_is_dead (c->nbd) || nbd_aio_is_closed (c->nbd);
    }
    pthread_rwlock_unlock (&c->rw);
    if (!again)
      return 0;
    if ((!dead && permanent (err)) || !vmi_retry_again (&retry, l->name, cause)) {
      vmi_error ("%s: %s (gave up after %d %s)", l->name, cause,
                 retry.attempt + 1, retry.attempt ? "tries" : "try");
      errno = EIO;
      return -1;
    }
    if (dead)
      reconnect (n, c, gen);
  }
}

/* ---------------------------------------------------------------- */
/* Layer operations. */

static int
read_aligned (struct vmi_layer *l, char *buf, size_t count, uint64_t offset)
{
  struct nbdl *n = l->priv;
  struct req q[WINDOW];

  while (count > 0) {
    size_t nq = 0;
    while (count > 0 && nq < WINDOW) {
      uint32_t len = count > n->max_req ? n->max_req : (uint32_t) count;
      q[nq++] = (struct req){ .n = n, .buf = buf, .off = offset, .len = len };
      buf += len;
      offset += len;
      count -= len;
    }
    if (run (l, q, nq) == -1)
      return -1;
  }
  return 0;
}

static int
nbd_layer_pread (struct vmi_layer *l, void *buf, size_t count, uint64_t offset)
{
  struct nbdl *n = l->priv;
  uint64_t start, end;
  char *tmp;
  int r;

  if (n->align <= 1 || ((offset | count) & (n->align - 1)) == 0)
    return read_aligned (l, buf, count, offset);
  /* The server wants aligned requests: read around and copy. */
  start = offset & ~(uint64_t) (n->align - 1);
  end = (offset + count + n->align - 1) & ~(uint64_t) (n->align - 1);
  if (end > l->size)
    end = l->size;
  tmp = malloc (end - start);
  if (tmp == NULL) {
    errno = ENOMEM;
    vmi_error ("%s: out of memory", l->name);
    return -1;
  }
  r = read_aligned (l, tmp, end - start, start);
  if (r == 0)
    memcpy (buf, tmp + (offset - start), count);
  free (tmp);
  return r;
}

static int
nbd_layer_extents (struct vmi_layer *l, uint64_t offset, uint64_t length,
                   struct vmi_extents *out)
{
  struct nbdl *n = l->priv;
  struct vmi_extents e = { 0 };
  struct req q;
  int r;

  if (!n->allocation)
    return vmi_extents_add (out, offset, l->size - offset, VMI_EXTENT_DATA);
  if (length > STATUS_MAX)
    length = STATUS_MAX;
  q = (struct req){ .n = n, .off = offset, .len = (uint32_t) length,
                    .ext = &e, .size = l->size };
  r = run (l, &q, 1);
  if (r == 0 && e.n == 0) {
    vmi_error ("%s: block status at offset %" PRIu64 " returned no extents",
               l->name, offset);
    errno = EIO;
    r = -1;
  }
  for (size_t i = 0; r == 0 && i < e.n; i++)
    r = vmi_extents_add (out, e.v[i].offset, e.v[i].length, e.v[i].type);
  vmi_extents_free (&e);
  return r;
}

#define CA_MAX (1u << 20)

/* libnbd reads certificates from a directory (ca-cert.pem, client-cert.pem,
 * client-key.pem).  A directory in opts is used as it is; a CA file or PEM
 * text is written to ca-cert.pem in a private folder removed at close. */
static int
tls_dir_open (struct nbdl *n, const struct vmi_source_opts *o,
              const char *uri)
{
  const char *tmp = getenv ("TMPDIR");
  char *pem = NULL, *path = NULL;
  size_t len = 0;
  struct stat st;
  FILE *f;
  int r = -1;

  if (o->ca_cert_file && stat (o->ca_cert_file, &st) == 0
      && S_ISDIR (st.st_mode)) {
    if ((n->tls_dir = strdup (o->ca_cert_file)) == NULL)
      goto nomem;
    return 0;
  }
  if (o->ca_cert_file) {
    if ((f = fopen (o->ca_cert_file, "re")) == NULL) {
      vmi_error ("%s: CA certificates %s: %s", uri, o->ca_cert_file,
                 strerror (errno));
      return -1;
    }
    if ((pem = malloc (CA_MAX)) == NULL) {
      fclose (f);
      goto nomem;
    }
    len = fread (pem, 1, CA_MAX, f);
    fclose (f);
    if (len == CA_MAX) {
      errno = EFBIG;
      vmi_error ("%s: CA certificates %s: larger than %u bytes", uri,
                 o->ca_cert_file, CA_MAX);
      goto out;
    }
  }
  else if (o->ca_cert_pem) {
    len = strlen (o->ca_cert_pem);
    if ((pem = strdup (o->ca_cert_pem)) == NULL)
      goto nomem;
  }
  else
    return 0;
  if (asprintf (&n->tls_dir, "%s/vmimport-nbd-XXXXXX", tmp ? tmp : "/tmp") == -1) {
    n->tls_dir = NULL;
    goto nomem;
  }
  if (mkdtemp (n->tls_dir) == NULL) {
    vmi_error ("%s: private folder for the CA certificates: %s", uri,
               strerror (errno));
    free (n->tls_dir);
    n->tls_dir = NULL;
    goto out;
  }
  n->tls_dir_ours = true;
  if (asprintf (&path, "%s/ca-cert.pem", n->tls_dir) == -1) {
    path = NULL;
    goto nomem;
  }
  f = fopen (path, "we");
  if (f == NULL || fwrite (pem, 1, len, f) != len || fclose (f) != 0) {
    vmi_error ("%s: %s: %s", uri, path, strerror (errno));
    goto out;
  }
  r = 0;
  goto out;
 nomem:
  errno = ENOMEM;
  vmi_error ("%s: out of memory", uri);
 out:
  free (pem);
  free (path);
  return r;
}

static void
tls_dir_close (struct nbdl *n)
{
  char *path;

  if (n->tls_dir_ours && asprintf (&path, "%s/ca-cert.pem", n->tls_dir) != -1) {
    unlink (path);
    free (path);
    rmdir (n->tls_dir);
  }
  free (n->tls_dir);
}

static void
nbdl_free (struct nbdl *n)
{
  for (size_t i = 0; i < n->nconns; i++) {
    struct conn *c = &n->conns[i];
    conn_down (c);
    close (c->wake[0]);
    close (c->wake[1]);
    pthread_rwlock_destroy (&c->rw);
  }
  pthread_mutex_destroy (&n->done_lock);
  pthread_cond_destroy (&n->done_cond);
  free (n->uri);
  tls_dir_close (n);
  free (n->tls_user);
  free (n);
}

static void
nbd_layer_close (struct vmi_layer *l)
{
  if (l->priv)
    nbdl_free (l->priv);
}

static const struct vmi_layer_ops nbd_ops = {
  .name = "nbd",
  .pread = nbd_layer_pread,
  .extents = nbd_layer_extents,
  .close = nbd_layer_close,
};

/* ---------------------------------------------------------------- */
/* Opening. */

static int
conn_init (struct conn *c)
{
  pthread_rwlockattr_t a;

  /* Writer preference: a reconnect is not starved by new readers. */
  pthread_rwlockattr_init (&a);
  pthread_rwlockattr_setkind_np (&a,
                                 PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
  pthread_rwlock_init (&c->rw, &a);
  pthread_rwlockattr_destroy (&a);
  if (pipe2 (c->wake, O_CLOEXEC | O_NONBLOCK) == -1) {
    pthread_rwlock_destroy (&c->rw);
    return -1;
  }
  return 0;
}

/* Connection 0 is made by the opener; the size and features come from it. */
static int
first_connection (struct nbdl *n, const char *uri, size_t *want)
{
  struct conn *c = &n->conns[0];
  struct nbd_handle *h;
  int64_t size, min, max;

  h = handle_connect (n, c->down_cause, sizeof c->down_cause);
  if (h == NULL) {
    vmi_error ("%s: %s", uri, c->down_cause);
    return -1;
  }
  size = nbd_get_size (h);
  if (size < 0) {
    errno = nbd_get_errno () ? nbd_get_errno () : EIO;
    vmi_error ("%s: size: %s", uri, nbd_get_error ());
    nbd_close (h);
    return -1;
  }
  n->size = size;
  n->allocation = nbd_can_meta_context (h, LIBNBD_CONTEXT_BASE_ALLOCATION) == 1;
  min = nbd_get_block_size (h, LIBNBD_SIZE_MINIMUM);
  max = nbd_get_block_size (h, LIBNBD_SIZE_MAXIMUM);
  n->align = min > 1 && min <= 65536 && (min & (min - 1)) == 0 ? min : 1;
  n->max_req = CHUNK;
  if (max > 0 && (uint64_t) max < n->max_req)
    n->max_req = max & ~(uint64_t) (n->align - 1);
  if (n->max_req < n->align)
    n->max_req = n->align;
  if (nbd_can_multi_conn (h) == 1)
    *want = MAX_CONNS;
  c->nbd = h;
  if (loop_start (c) == -1) {
    vmi_error ("%s: thread: %s", uri, strerror (errno));
    c->nbd = NULL;
    nbd_close (h);
    return -1;
  }
  return 0;
}

struct vmi_layer *
vmi_nbd_open (const char *uri, const struct vmi_source_opts *opts)
{
  struct nbdl *n = calloc (1, sizeof *n);
  struct vmi_layer *l;
  size_t want = 1;

  if (n == NULL)
    goto nomem;
  pthread_mutex_init (&n->done_lock, NULL);
  pthread_cond_init (&n->done_cond, NULL);
  if ((n->uri = strdup (uri)) == NULL)
    goto nomem;
  if (opts) {
    n->retry = opts->retry;
    n->timeout = opts->timeout_seconds;
    n->insecure = opts->insecure;
    if (tls_dir_open (n, opts, uri) == -1)
      goto err;
    if (opts->username && strncasecmp (uri, "nbds", 4) == 0
        && (n->tls_user = strdup (opts->username)) == NULL)
      goto nomem;
  }
  else {
    vmi_retry_policy_default (&n->retry);
    n->timeout = 600;
  }
  if (conn_init (&n->conns[0]) == -1)
    goto sys;
  n->nconns = 1;
  if (first_connection (n, uri, &want) == -1)
    goto err;
  while (n->nconns < want) {
    struct conn *c = &n->conns[n->nconns];
    if (conn_init (c) == -1)
      break;
    n->nconns++;
    /* A failed extra connection stays down; callers reconnect it later. */
    if (conn_up (n, c) == -1)
      vmi_log (VMI_LOG_INFO, "%s: extra connection %zu: %s", uri,
               n->nconns - 1, c->down_cause);
  }
  l = vmi_layer_new (&nbd_ops, n, n->size, uri, NULL);
  if (l == NULL)
    nbdl_free (n);
  return l;
 sys:
  vmi_error ("%s: %s", uri, strerror (errno));
  goto err;
 nomem:
  errno = ENOMEM;
  vmi_error ("%s: out of memory", uri);
 err:
  if (n) {
    int e = errno;
    nbdl_free (n);
    errno = e;
  }
  return NULL;
}
