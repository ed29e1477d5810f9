/* The shared worker pool behind vmi_parallel (see pool.h).
 *
 * Jobs wait in a list; a worker (or the caller) claims the next item of
 * the first job that has unclaimed items.  A job leaves the list once its
 * last item is claimed, and its caller waits for the items still running.
 * Pool threads are started on first use, one per core but one, and live
 * as long as the process (a child of fork starts its own). */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <unistd.h>

#include "vmimport/error.h"
#include "vmimport/pool.h"

#define MAX_POOL_THREADS 16

struct job {
  void (*fn) (void *arg, size_t i);
  void *arg;
  size_t n, next, done;
  pthread_cond_t finished;
  struct job *link;             /* next job in the list */
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t work = PTHREAD_COND_INITIALIZER;
static struct job *jobs;        /* jobs with unclaimed items */
static bool started;            /* in this process (reset by fork) */
static unsigned nthreads;

/* Claim an item of the first job that has one.  Under lock. */
static struct job *
claim (size_t *item)
{
  struct job *j = jobs;

  if (j == NULL)
    return NULL;
  *item = j->next++;
  if (j->next == j->n)
    jobs = j->link;
  return j;
}

/* Run a claimed item, then count it done.  Called and returns under lock. */
static void
run_item (struct job *j, size_t item)
{
  pthread_mutex_unlock (&lock);
  j->fn (j->arg, item);
  pthread_mutex_lock (&lock);
  if (++j->done == j->n)
    pthread_cond_signal (&j->finished);
}

static void *
worker (void *unused)
{
  (void) unused;
  pthread_mutex_lock (&lock);
  for (;;) {
    size_t item;
    struct job *j = claim (&item);
    if (j == NULL)
      pthread_cond_wait (&work, &lock);
    else
      run_item (j, item);
  }
  return NULL;
}

/* A child of fork has none of the pool's threads, and the jobs in the
 * list belong to threads it does not have either: start afresh. */
static void
after_fork_child (void)
{
  pthread_mutex_t fresh_lock = PTHREAD_MUTEX_INITIALIZER;
  pthread_cond_t fresh_work = PTHREAD_COND_INITIALIZER;

  lock = fresh_lock;
  work = fresh_work;
  jobs = NULL;
  started = false;
  nthreads = 0;
}

/* Under lock. */
static void
start (void)
{
  static bool atfork;
  long cores = sysconf (_SC_NPROCESSORS_ONLN);
  pthread_attr_t attr;

  started = true;
  if (!atfork && pthread_atfork (NULL, NULL, after_fork_child) == 0)
    atfork = true;
  if (cores < 2)
    return;
  if (cores > MAX_POOL_THREADS + 1)
    cores = MAX_POOL_THREADS + 1;
  pthread_attr_init (&attr);
  pthread_attr_setdetachstate (&attr, PTHREAD_CREATE_DETACHED);
  for (long i = 0; i < cores - 1; i++) {
    pthread_t t;
    if (pthread_create (&t, &attr, worker, NULL) == 0)
      nthreads++;
  }
  pthread_attr_destroy (&attr);
}

unsigned
vmi_pool_threads (void)
{
  unsigned n;

  pthread_mutex_lock (&lock);
  if (!started)
    start ();
  n = nthreads;
  pthread_mutex_unlock (&lock);
  return n;
}

void
vmi_parallel (size_t n, void (*fn) (void *arg, size_t i), void *arg)
{
  struct job j = { .fn = fn, .arg = arg, .n = n };
  struct job **tail;

  if (n == 0)
    return;
  if (n == 1 || vmi_pool_threads () == 0) {
    for (size_t i = 0; i < n; i++)
      fn (arg, i);
    return;
  }
  pthread_cond_init (&j.finished, NULL);
  pthread_mutex_lock (&lock);
  for (tail = &jobs; *tail; tail = &(*tail)->link)
    ;
  *tail = &j;
  pthread_cond_broadcast (&work);
  /* Take our own items while any are left, then wait for the rest. */
  while (j.next < j.n) {
    size_t item = j.next++;
    if (j.next == j.n) {
      for (tail = &jobs; *tail != &j; tail = &(*tail)->link)
        ;
      *tail = j.link;
    }
    run_item (&j, item);
  }
  while (j.done < j.n)
    pthread_cond_wait (&j.finished, &lock);
  pthread_mutex_unlock (&lock);
  pthread_cond_destroy (&j.finished);
}

void
vmi_parallel_error_init (struct vmi_parallel_error *e)
{
  pthread_mutex_init (&e->lock, NULL);
  e->item = SIZE_MAX;
  e->err = 0;
  e->msg[0] = 0;
}

void
vmi_parallel_fail (struct vmi_parallel_error *e, size_t item)
{
  int err = errno;

  pthread_mutex_lock (&e->lock);
  if (item < e->item) {
    e->item = item;
    e->err = err ? err : EIO;
    snprintf (e->msg, sizeof e->msg, "%s", vmi_error_get ());
  }
  pthread_mutex_unlock (&e->lock);
}

int
vmi_parallel_error_end (struct vmi_parallel_error *e)
{
  pthread_mutex_destroy (&e->lock);
  if (e->item == SIZE_MAX)
    return 0;
  errno = e->err;
  vmi_error ("%s", e->msg);
  return -1;
}
