/* A process-wide pool of worker threads for CPU-bound work inside a layer
 * (inflating the grains or clusters of one large read on every core).
 *
 * vmi_parallel (N, FN, ARG) calls FN (ARG, I) once for each I in [0, N) and
 * returns when all calls are done.  The calling thread takes items too, so
 * the work always completes even when every pool thread is busy with other
 * callers' items; nested calls are allowed.  FN must not fail silently: it
 * records its own errors in ARG.  vmi_error is per thread, so a message
 * set by FN on a pool thread is not seen by the caller. */
#ifndef VMIMPORT_POOL_H
#define VMIMPORT_POOL_H

#include <pthread.h>
#include <stddef.h>

void vmi_parallel (size_t n, void (*fn) (void *arg, size_t i), void *arg);

/* Threads in the pool (0 on a single core: the caller does everything). */
unsigned vmi_pool_threads (void);

/* The first failure (by item number) of a vmi_parallel run, so that the
 * caller reports the same error a serial loop would have. */
struct vmi_parallel_error {
  pthread_mutex_t lock;
  size_t item;                  /* SIZE_MAX: none */
  int err;
  char msg[1024];
};

void vmi_parallel_error_init (struct vmi_parallel_error *e);
/* Item ITEM failed with errno and vmi_error set (on the calling thread). */
void vmi_parallel_fail (struct vmi_parallel_error *e, size_t item);
/* -1 with errno and vmi_error of the first failure, or 0.  Ends E. */
int vmi_parallel_error_end (struct vmi_parallel_error *e);

#endif
