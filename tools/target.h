/* vmimport copy: the destination (a file or a block device) and the state
 * kept beside it for --resume.  Internal to tools/. */
#ifndef VMIMPORT_TARGET_H
#define VMIMPORT_TARGET_H

#include <stdbool.h>
#include <stdint.h>

#include <pthread.h>

/* Offsets, lengths and buffers of direct writes are multiples of this (or
 * of a device's larger sector size). */
#define DIRECT_ALIGN 4096

struct target {
  char *path;
  int fd;
  int dfd;             /* the same file opened O_DIRECT, or -1 */
  bool direct;         /* aligned writes go through dfd */
  bool is_blk;
  bool created;        /* we created the file (removed if we stop early) */
  uint64_t size;       /* file size, or device size */
  uint32_t sector;     /* logical block size of a device */
  uint32_t align;      /* of direct writes */
  pthread_mutex_t buffered_lock;  /* one write through the page cache at once */
};

/* Check that PATH may receive a disk of VSIZE bytes and open it, changing
 * nothing yet.  Returns 0, or an exit code (message printed). */
int target_open(struct target *t, const char *path, uint64_t vsize,
                bool force, bool resume);
/* Make a file DST VSIZE bytes of holes (or keep it, when resuming). */
int target_prepare(struct target *t, uint64_t vsize, bool resume);
/* Write aligned data around the page cache from now on, when the
 * destination can (else nothing changes). */
void target_use_direct(struct target *t);
/* Write all of BUF; safe from several threads at once. */
int target_write(struct target *t, const void *buf, size_t len,
                 uint64_t offset);
int target_read(struct target *t, void *buf, size_t len, uint64_t offset);
/* Make [OFFSET, OFFSET+LEN) of a block device read as zeros: BLKZEROOUT
 * for the sector-aligned middle, written zeros at unaligned edges. */
int target_zero(struct target *t, uint64_t offset, uint64_t len);
int target_sync(struct target *t);
/* Bytes of [OFFSET, OFFSET+LEN) that a file DST has allocated (SEEK_DATA /
 * SEEK_HOLE); all of it for a device, none where SEEK_DATA is missing. */
uint64_t target_allocated(struct target *t, uint64_t offset, uint64_t len);
/* Close; a file we created is removed when REMOVE is set. */
void target_close(struct target *t, bool remove);

/* Which units (fixed-size pieces of the disk) are safely written.  The file
 * is rewritten (tmp + rename) after DST was synced, so a unit marked in
 * the file is on the destination even after a crash. */
struct resume_state;
char *resume_default_path(const struct target *t);
struct resume_state *resume_new(const char *path, const char *identity,
                                uint64_t vsize, uint64_t unit);
/* Load the marks from the file: 0; 1 when there is no file; -1 (message
 * recorded) when it cannot be read or was written for another source,
 * size or unit. */
int resume_load(struct resume_state *s);
void resume_mark(struct resume_state *s, uint64_t unit_index);
bool resume_is_done(const struct resume_state *s, uint64_t unit_index);
/* Sync DST_FD, then write the marks made before the sync. */
int resume_save(struct resume_state *s, struct target *t);
void resume_remove(struct resume_state *s);
void resume_free(struct resume_state *s);
const char *resume_path(const struct resume_state *s);

#endif
