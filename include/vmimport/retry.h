/* vmimport: one retry policy for every transport (HTTP, NBD).
 *
 *   struct vmi_retry r;
 *   vmi_retry_start (&r, &opts->retry);
 *   for (;;) {
 *     if (try_once () == 0) break;
 *     if (!is_transient || !vmi_retry_again (&r, url, cause)) fail;
 *   }
 *
 * vmi_retry_again logs the retry once at info level with its cause, sleeps
 * with exponential back-off (and jitter), and says whether to try again:
 * not after ATTEMPTS retries, nor past the total DEADLINE. */
#ifndef VMIMPORT_RETRY_H
#define VMIMPORT_RETRY_H

#ifdef __cplusplus
extern "C" {
#endif

struct vmi_retry_policy {
  int attempts;          /* retries after the first try; default 8 */
  double initial_delay;  /* seconds before the first retry; default 0.1 */
  double max_delay;      /* cap on one back-off; default 5 */
  double deadline;       /* seconds for all tries of one request; 0 = none; default 120 */
};

void vmi_retry_policy_default(struct vmi_retry_policy *p);

struct vmi_retry {
  struct vmi_retry_policy p;
  int attempt;
  double start, delay;
};

void vmi_retry_start(struct vmi_retry *r, const struct vmi_retry_policy *p);
/* 1: slept, try again.  0: give up (attempts or deadline used up). */
int vmi_retry_again(struct vmi_retry *r, const char *what, const char *cause);

#ifdef __cplusplus
}
#endif
#endif
