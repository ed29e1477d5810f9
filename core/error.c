/* Per-thread error messages and a small logger. */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <syslog.h>
#include <time.h>

#include "vmimport/error.h"

#define ERRBUF 2048

static _Thread_local char errbuf[ERRBUF];
static enum vmi_log_level log_level = VMI_LOG_WARN;
static const char *program = "vmimport";
static int use_syslog;
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;

void
vmi_error (const char *fmt, ...)
{
  int saved = errno;
  va_list ap;

  va_start (ap, fmt);
  vsnprintf (errbuf, sizeof errbuf, fmt, ap);
  va_end (ap);
  errno = saved;
}

void
vmi_error_prefix (const char *fmt, ...)
{
  int saved = errno;
  char prefix[ERRBUF], old[ERRBUF];
  va_list ap;

  va_start (ap, fmt);
  vsnprintf (prefix, sizeof prefix, fmt, ap);
  va_end (ap);
  memcpy (old, errbuf, sizeof old);
  /* Truncation is fine: the start of a message says the most. */
  if (old[0]) {
    size_t n = strnlen (prefix, sizeof errbuf - 3);
    memcpy (errbuf, prefix, n);
    memcpy (errbuf + n, ": ", 2);
    n += 2;
    size_t m = strnlen (old, sizeof errbuf - 1 - n);
    memcpy (errbuf + n, old, m);
    errbuf[n + m] = '\0';
  }
  else
    snprintf (errbuf, sizeof errbuf, "%s", prefix);
  errno = saved;
}

const char *
vmi_error_get (void)
{
  return errbuf;
}

void
vmi_log_set_level (enum vmi_log_level level)
{
  log_level = level;
}

enum vmi_log_level
vmi_log_get_level (void)
{
  return log_level;
}

void
vmi_log_set_program (const char *name)
{
  program = name;
}

void
vmi_log_to_syslog (void)
{
  openlog (program, LOG_PID, LOG_DAEMON);
  use_syslog = 1;
}

void
vmi_log (enum vmi_log_level level, const char *fmt, ...)
{
  static const char *names[] = { "error", "warning", "info", "debug" };
  static const int prio[] = { LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG };
  int saved = errno;
  char msg[ERRBUF];
  va_list ap;

  if (level > log_level)
    return;
  va_start (ap, fmt);
  vsnprintf (msg, sizeof msg, fmt, ap);
  va_end (ap);
  if (use_syslog)
    syslog (prio[level], "%s", msg);
  else {
    pthread_mutex_lock (&log_lock);
    fprintf (stderr, "%s: %s: %s\n", program, names[level], msg);
    pthread_mutex_unlock (&log_lock);
  }
  errno = saved;
}
