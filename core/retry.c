/* The shared retry policy: exponential back-off with jitter, bounded by a
 * number of attempts and a total deadline. */
#include <stdlib.h>
#include <time.h>

#include "vmimport/error.h"
#include "vmimport/retry.h"

static double
now (void)
{
  struct timespec ts;

  clock_gettime (CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

void
vmi_retry_policy_default (struct vmi_retry_policy *p)
{
  p->attempts = 8;
  p->initial_delay = 0.1;
  p->max_delay = 5;
  p->deadline = 120;
}

void
vmi_retry_start (struct vmi_retry *r, const struct vmi_retry_policy *p)
{
  r->p = *p;
  r->attempt = 0;
  r->start = now ();
  r->delay = p->initial_delay;
}

int
vmi_retry_again (struct vmi_retry *r, const char *what, const char *cause)
{
  double sleep_for, elapsed = now () - r->start;
  struct timespec ts;

  if (r->attempt >= r->p.attempts)
    return 0;
  /* Full jitter in [delay/2, delay]: many readers do not retry in step. */
  sleep_for = r->delay * (0.5 + 0.5 * (double) (rand () % 1000) / 1000.0);
  if (r->p.deadline > 0 && elapsed + sleep_for > r->p.deadline)
    return 0;
  r->attempt++;
  vmi_log (VMI_LOG_INFO, "%s: %s; retry %d of %d in %.2f s", what, cause,
           r->attempt, r->p.attempts, sleep_for);
  ts.tv_sec = (time_t) sleep_for;
  ts.tv_nsec = (long) ((sleep_for - (double) ts.tv_sec) * 1e9);
  while (nanosleep (&ts, &ts) == -1)
    ;
  r->delay *= 2;
  if (r->delay > r->p.max_delay)
    r->delay = r->p.max_delay;
  return 1;
}
