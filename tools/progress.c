/* Progress of a copy.  On a terminal: a bar with bytes done / total, rate
 * and time left, redrawn in place.  Otherwise one JSON object per line per
 * second, {"done": ..., "total": ..., "rate": ...}, for scripts and for the
 * import status.  The rate is measured over the last few seconds. */
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"

#define SAMPLES 8

struct progress {
  enum progress_mode mode;
  FILE *out;
  uint64_t total;
  uint64_t done;          /* atomic */
  double start;
  uint64_t start_done;    /* done before this run (a resumed copy) */
  double t[SAMPLES];      /* ring of (time, done) samples for the rate */
  uint64_t d[SAMPLES];
  unsigned nsamples;
};

static double
now (void)
{
  struct timespec ts;

  clock_gettime (CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

struct progress *
progress_new (enum progress_mode mode, FILE *out, uint64_t total,
              uint64_t done)
{
  struct progress *p = calloc (1, sizeof *p);

  if (p == NULL)
    return NULL;
  p->mode = mode;
  p->out = out;
  p->total = total;
  p->done = done;
  p->start_done = done;
  p->start = now ();
  return p;
}

void
progress_add (struct progress *p, uint64_t bytes)
{
  __atomic_add_fetch (&p->done, bytes, __ATOMIC_RELAXED);
}

uint64_t
progress_done (struct progress *p)
{
  return __atomic_load_n (&p->done, __ATOMIC_RELAXED);
}

double
progress_interval (const struct progress *p)
{
  return p->mode == PROGRESS_BAR ? 0.25 : 1.0;
}

/* Bytes per second over the samples kept (or since the start). */
static double
rate (struct progress *p, double t, uint64_t done)
{
  unsigned i = p->nsamples % SAMPLES;
  double t0 = p->start, dt;
  uint64_t d0 = p->start_done;

  if (p->nsamples >= SAMPLES) {   /* the oldest sample kept */
    t0 = p->t[i];
    d0 = p->d[i];
  }
  p->t[i] = t;
  p->d[i] = done;
  p->nsamples++;
  dt = t - t0;
  return dt > 0.05 ? (double) (done - d0) / dt : 0;
}

static void
fmt_time (char *buf, size_t len, double s)
{
  if (!isfinite (s) || s < 0)
    snprintf (buf, len, "--:--");
  else if (s >= 3600)
    snprintf (buf, len, "%d:%02d:%02d", (int) s / 3600, (int) s / 60 % 60,
              (int) s % 60);
  else
    snprintf (buf, len, "%02d:%02d", (int) s / 60, (int) s % 60);
}

static void
draw_bar (struct progress *p, uint64_t done, double r, double t, int final)
{
  char a[32], b[32], c[32], eta[32];
  double frac = p->total ? (double) done / p->total : 1;
  int width = 30, fill;

  if (frac > 1)
    frac = 1;
  fill = (int) (frac * width);
  cli_format_size (a, sizeof a, (double) done);
  cli_format_size (b, sizeof b, (double) p->total);
  cli_format_size (c, sizeof c, r);
  if (final)
    fmt_time (eta, sizeof eta, t - p->start);
  else
    fmt_time (eta, sizeof eta, r > 0 ? (p->total - done) / r : -1);
  fprintf (p->out, "\r[%.*s%.*s] %3d%%  %s / %s  %s/s  %s %s \033[K",
           fill, "##############################",
           width - fill, "                              ",
           (int) (frac * 100), a, b, c, final ? "took" : "left", eta);
  if (final)
    fputc ('\n', p->out);
  fflush (p->out);
}

static void
json_line (struct progress *p, uint64_t done, double r, double t,
           const char *status, const char *extra)
{
  fprintf (p->out, "{\"done\": %" PRIu64 ", \"total\": %" PRIu64
           ", \"rate\": %.0f, \"elapsed\": %.1f", done, p->total, r,
           t - p->start);
  if (!status && r > 0)
    fprintf (p->out, ", \"eta\": %.0f", (p->total - done) / r);
  if (status)
    fprintf (p->out, ", \"status\": \"%s\"", status);
  if (extra)
    fprintf (p->out, ", %s", extra);
  fprintf (p->out, "}\n");
  fflush (p->out);
}

void
progress_tick (struct progress *p)
{
  uint64_t done = progress_done (p);
  double t = now (), r;

  if (p->mode == PROGRESS_NONE)
    return;
  r = rate (p, t, done);
  if (p->mode == PROGRESS_BAR)
    draw_bar (p, done, r, t, 0);
  else
    json_line (p, done, r, t, NULL, NULL);
}

void
progress_finish (struct progress *p, const char *status, const char *extra)
{
  uint64_t done = progress_done (p);
  double t = now ();
  double dt = t - p->start;
  double r = dt > 0 ? (done - p->start_done) / dt : 0;

  if (p->mode == PROGRESS_BAR)
    draw_bar (p, done, r, t, 1);
  else if (p->mode == PROGRESS_JSON)
    json_line (p, done, r, t, status, extra);
}

void
progress_free (struct progress *p)
{
  free (p);
}
