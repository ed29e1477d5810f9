/* vmimport inspect SOURCE-or-PATH: partitions, filesystems and the boot
 * firmware a disk needs, read lazily through the layer stack.
 *
 * libblkid probes a file descriptor, so each disk gets a sparse memfd of
 * its virtual size into which only the regions probing needs are copied
 * (holes of the source are not even read):
 *   - the first and last 1 MiB of the disk: MBR, GPT header and entries,
 *     the backup GPT, and the metadata of a filesystem or RAID member on
 *     the whole disk;
 *   - for each partition found, its first 1 MiB (every superblock libblkid
 *     knows sits there: ext2/3/4 at 1 KiB, XFS/FAT/NTFS boot sectors at 0,
 *     btrfs and reiserfs at 64 KiB, swap in the first page...) and its last
 *     512 KiB (md 0.90/1.0, ZFS labels);
 *   - for a logical (MBR) partition, the 1 MiB after it, where the next
 *     extended boot record usually is; partitions are probed again until
 *     nothing new turns up;
 *   - for NTFS, the first records of the MFT, where the volume label is.
 * That is a few MiB at most whatever the disk's size.  What it misses: a
 * FAT label kept only in a root folder that starts past the first MiB
 * (the boot sector's copy of the label is read instead). */
#include <blkid/blkid.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <unistd.h>

#include <json-c/json.h>

#include "vmimport/error.h"
#include "cli.h"
#include "convert.h"

#define MiB (UINT64_C (1) << 20)
#define MAX_ROUNDS 130        /* one per logical partition, bounded */

#define ESP_GUID "c12a7328-f81f-11d2-ba4b-00a0c93ec93b"
#define BIOS_BOOT_GUID "21686148-6449-6e6f-744e-656564454649"

/* The sparse copy of a disk that blkid probes. */
struct shadow {
  struct vmi_layer *disk;
  int fd;
  uint64_t size;
  uint64_t (*done)[2];          /* regions copied so far [start, end) */
  size_t ndone;
  char *buf;
};

static void
usage (FILE *f)
{
  fprintf (f,
           "Usage: vmimport inspect [OPTIONS] SOURCE-or-PATH\n"
           "For each disk: the partition table (MBR or GPT), each partition's\n"
           "start, size and type, the filesystem in each partition and on the\n"
           "whole disk (type, label, UUID), a boot firmware hint, and allocated\n"
           "versus virtual size.  Reads only the few MiB probing needs.\n\n"
           "  --vm NAME    only this VM\n"
           "  --disk N     only this disk\n"
           "  --json       a JSON array, one object per disk\n"
           "  --os         the guest OS instead (libguestfs): see inspect --os -h\n\n"
           CLI_COMMON_HELP);
}

/* Is [a, b) already in the shadow?  Returns the first byte not covered. */
static uint64_t
covered_until (const struct shadow *s, uint64_t a)
{
  for (int again = 1; again;) {
    again = 0;
    for (size_t i = 0; i < s->ndone; i++)
      if (s->done[i][0] <= a && a < s->done[i][1]) {
        a = s->done[i][1];
        again = 1;
      }
  }
  return a;
}

static uint64_t
next_covered (const struct shadow *s, uint64_t a, uint64_t b)
{
  for (size_t i = 0; i < s->ndone; i++)
    if (s->done[i][0] > a && s->done[i][0] < b)
      b = s->done[i][0];
  return b;
}

/* Copy the data of [A, A+LEN) from the disk into the shadow, skipping what
 * is there already and what the source says is a hole.  Returns the bytes
 * newly covered, or -1. */
static int64_t
populate (struct shadow *s, uint64_t a, uint64_t len)
{
  struct vmi_extents e = { 0 };
  uint64_t b, added = 0;

  if (a >= s->size)
    return 0;
  b = len > s->size - a ? s->size : a + len;
  while ((a = covered_until (s, a)) < b) {
    uint64_t gap_end = next_covered (s, a, b);
    void *v = realloc (s->done, (s->ndone + 1) * sizeof *s->done);
    if (v == NULL) {
      errno = ENOMEM;
      vmi_error ("out of memory");
      return -1;
    }
    s->done = v;
    if (vmi_layer_extents (s->disk, a, gap_end - a, &e) == -1)
      goto err;
    for (size_t i = 0; i < e.n; i++) {
      if (e.v[i].type != VMI_EXTENT_DATA)
        continue;
      for (uint64_t o = e.v[i].offset; o < e.v[i].offset + e.v[i].length;) {
        size_t n = e.v[i].offset + e.v[i].length - o > MiB
                   ? MiB : e.v[i].offset + e.v[i].length - o;
        if (vmi_layer_pread (s->disk, s->buf, n, o) == -1)
          goto err;
        if (pwrite (s->fd, s->buf, n, o) != (ssize_t) n) {
          vmi_error ("inspect: memfd write: %s", strerror (errno));
          goto err;
        }
        o += n;
      }
    }
    s->done[s->ndone][0] = a;
    s->done[s->ndone][1] = gap_end;
    s->ndone++;
    added += gap_end - a;
    a = gap_end;
  }
  vmi_extents_free (&e);
  return (int64_t) added;
 err:
  vmi_extents_free (&e);
  return -1;
}

static int64_t
populate_ntfs_mft (struct shadow *s, uint64_t start, uint64_t size)
{
  unsigned char bs[512];
  uint64_t cluster, mft;

  /* Where to prefetch only; blkid still decides what the bytes are. */
  if (size < 512 || pread (s->fd, bs, sizeof bs, start) != sizeof bs
      || memcmp (bs + 3, "NTFS    ", 8) != 0)
    return 0;
  cluster = (uint64_t) (bs[11] | bs[12] << 8) * bs[13];
  memcpy (&mft, bs + 48, 8);
  if (cluster == 0 || mft > size / cluster)
    return 0;
  return populate (s, start + mft * cluster, 64 * 1024);
}

static blkid_probe
new_probe (struct shadow *s, uint64_t off, uint64_t size, int parts, int fs)
{
  blkid_probe pr = blkid_new_probe ();

  if (pr == NULL)
    return NULL;
  if (blkid_probe_set_device (pr, s->fd, (blkid_loff_t) off,
                              (blkid_loff_t) size) != 0) {
    blkid_free_probe (pr);
    return NULL;
  }
  blkid_probe_enable_partitions (pr, parts);
  if (parts)
    blkid_probe_set_partitions_flags (pr, BLKID_PARTS_ENTRY_DETAILS);
  blkid_probe_enable_superblocks (pr, fs);
  if (fs)
    blkid_probe_set_superblocks_flags (pr, BLKID_SUBLKS_LABEL
                                       | BLKID_SUBLKS_UUID | BLKID_SUBLKS_TYPE
                                       | BLKID_SUBLKS_USAGE
                                       | BLKID_SUBLKS_VERSION);
  return pr;
}

/* Copy what the partition table points at, until nothing new turns up. */
static int
populate_partitions (struct shadow *s)
{
  for (int round = 0; round < MAX_ROUNDS; round++) {
    blkid_probe pr = new_probe (s, 0, s->size, 1, 0);
    blkid_partlist ls = pr ? blkid_probe_get_partitions (pr) : NULL;
    int64_t added = 0, r;
    int n = ls ? blkid_partlist_numof_partitions (ls) : 0;

    for (int i = 0; i < n && added >= 0; i++) {
      blkid_partition pa = blkid_partlist_get_partition (ls, i);
      uint64_t st = (uint64_t) blkid_partition_get_start (pa) * 512;
      uint64_t sz = (uint64_t) blkid_partition_get_size (pa) * 512;
      if ((r = populate (s, st, MiB)) < 0
          || (r += populate (s, st + sz - (sz < MiB / 2 ? sz : MiB / 2),
                             MiB / 2)) < 0
          || (blkid_partition_is_logical (pa)
              && (r += populate (s, st + sz, MiB)) < 0)
          || (r += populate_ntfs_mft (s, st, sz)) < 0)
        added = -1;
      else
        added += r;
    }
    if (pr)
      blkid_free_probe (pr);
    if (added < 0)
      return -1;
    if (added == 0)
      return 0;
  }
  return 0;
}

static struct json_object *
jstr (const char *s)
{
  return s ? json_object_new_string (s) : NULL;
}

/* TYPE, LABEL, UUID, ... of the filesystem found at [OFF, OFF+SIZE), or
 * NULL when there is none. */
static struct json_object *
probe_fs (struct shadow *s, uint64_t off, uint64_t size)
{
  static const char *keys[][2] = {
    { "TYPE", "type" }, { "LABEL", "label" }, { "UUID", "uuid" },
    { "VERSION", "version" }, { "USAGE", "usage" },
  };
  blkid_probe pr = new_probe (s, off, size, 0, 1);
  struct json_object *o = NULL;
  const char *v;

  if (pr == NULL)
    return NULL;
  if (blkid_do_safeprobe (pr) == 0
      && blkid_probe_lookup_value (pr, "TYPE", &v, NULL) == 0) {
    o = json_object_new_object ();
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
      json_object_object_add (o, keys[i][1],
                              blkid_probe_lookup_value (pr, keys[i][0], &v,
                                                        NULL) == 0
                              ? json_object_new_string (v) : NULL);
  }
  blkid_free_probe (pr);
  return o;
}

static const char *
type_name (const char *pttype, const char *guid, int mbr_type)
{
  static const struct { const char *guid; const char *name; } gpt[] = {
    { ESP_GUID, "EFI System" },
    { BIOS_BOOT_GUID, "BIOS boot" },
    { "0fc63daf-8483-4772-8e79-3d69d8477de4", "Linux filesystem" },
    { "0657fd6d-a4ab-43c4-84e5-0933c84b4f4f", "Linux swap" },
    { "e6d6d379-f507-44c2-a23c-238f2a3df928", "Linux LVM" },
    { "a19d880f-05fc-4d3b-a006-743f0f84911e", "Linux RAID" },
    { "4f68bce3-e8cd-4db1-96e7-fbcaf984b709", "Linux root (x86-64)" },
    { "bc13c2ff-59e6-4262-a352-b275fd6f7172", "Linux extended boot" },
    { "ebd0a0a2-b9e5-4433-87c0-68b6b72699c7", "Microsoft basic data" },
    { "e3c9e316-0b5c-4db8-817d-f92df00215ae", "Microsoft reserved" },
    { "de94bba4-06d1-4d40-a16a-bfd50179d6ac", "Windows recovery" },
  };
  static const struct { int type; const char *name; } mbr[] = {
    { 0x01, "FAT12" }, { 0x04, "FAT16 <32M" }, { 0x05, "Extended" },
    { 0x06, "FAT16" }, { 0x07, "HPFS/NTFS/exFAT" }, { 0x0b, "W95 FAT32" },
    { 0x0c, "W95 FAT32 (LBA)" }, { 0x0e, "W95 FAT16 (LBA)" },
    { 0x0f, "W95 Extended (LBA)" }, { 0x27, "Hidden NTFS WinRE" },
    { 0x82, "Linux swap" }, { 0x83, "Linux" }, { 0x85, "Linux extended" },
    { 0x8e, "Linux LVM" }, { 0xee, "GPT protective" }, { 0xef, "EFI System" },
    { 0xfd, "Linux RAID autodetect" },
  };

  if (pttype && !strcmp (pttype, "gpt")) {
    for (size_t i = 0; guid && i < sizeof gpt / sizeof gpt[0]; i++)
      if (!strcasecmp (guid, gpt[i].guid))
        return gpt[i].name;
    return NULL;
  }
  for (size_t i = 0; i < sizeof mbr / sizeof mbr[0]; i++)
    if (mbr[i].type == mbr_type)
      return mbr[i].name;
  return NULL;
}

/* Partition table, partitions and their filesystems, and the hint. */
static struct json_object *
describe (struct shadow *s)
{
  struct json_object *o = json_object_new_object ();
  struct json_object *parts = json_object_new_array ();
  blkid_probe pr = new_probe (s, 0, s->size, 1, 0);
  blkid_partlist ls = pr ? blkid_probe_get_partitions (pr) : NULL;
  blkid_parttable tab = ls ? blkid_partlist_get_table (ls) : NULL;
  const char *pttype = tab ? blkid_parttable_get_type (tab) : NULL;
  const char *hint = NULL, *reason;
  char why[128];
  unsigned char mbr[440] = { 0 };
  int esp = 0, bios_boot = 0, boot_code = 0;

  if (pread (s->fd, mbr, sizeof mbr, 0) == (ssize_t) sizeof mbr)
    for (size_t i = 0; i < sizeof mbr; i++)
      boot_code |= mbr[i] != 0;
  if (tab) {
    struct json_object *t = json_object_new_object ();
    json_object_object_add (t, "type", jstr (pttype));
    json_object_object_add (t, "id", jstr (blkid_parttable_get_id (tab)));
    json_object_object_add (o, "partition_table", t);
  }
  else
    json_object_object_add (o, "partition_table", NULL);
  for (int i = 0, n = ls ? blkid_partlist_numof_partitions (ls) : 0; i < n; i++) {
    blkid_partition pa = blkid_partlist_get_partition (ls, i);
    struct json_object *p = json_object_new_object ();
    uint64_t st = (uint64_t) blkid_partition_get_start (pa) * 512;
    uint64_t sz = (uint64_t) blkid_partition_get_size (pa) * 512;
    const char *ts = blkid_partition_get_type_string (pa);
    int mt = blkid_partition_get_type (pa);
    const char *pt = blkid_parttable_get_type (blkid_partition_get_table (pa));
    char tbuf[16];
    int gpt = pt && !strcmp (pt, "gpt");

    json_object_object_add (p, "number",
                            json_object_new_int (blkid_partition_get_partno (pa)));
    json_object_object_add (p, "start", json_object_new_int64 ((int64_t) st));
    json_object_object_add (p, "size", json_object_new_int64 ((int64_t) sz));
    snprintf (tbuf, sizeof tbuf, "0x%02x", mt);
    json_object_object_add (p, "type", jstr (gpt ? ts : tbuf));
    json_object_object_add (p, "type_name", jstr (type_name (pt, ts, mt)));
    json_object_object_add (p, "name", jstr (blkid_partition_get_name (pa)));
    json_object_object_add (p, "uuid", jstr (blkid_partition_get_uuid (pa)));
    if (!gpt)
      json_object_object_add (p, "bootable", json_object_new_boolean (
                                blkid_partition_get_flags (pa) == 0x80));
    json_object_object_add (p, "filesystem",
                            blkid_partition_is_extended (pa)
                            ? NULL : probe_fs (s, st, sz));
    json_object_array_add (parts, p);
    if (gpt && ts && !strcasecmp (ts, ESP_GUID))
      esp = esp ? esp : blkid_partition_get_partno (pa);
    else if (!gpt && mt == 0xef)
      esp = esp ? esp : blkid_partition_get_partno (pa);
    if (gpt && ts && !strcasecmp (ts, BIOS_BOOT_GUID))
      bios_boot = 1;
  }
  json_object_object_add (o, "partitions", parts);
  json_object_object_add (o, "filesystem", probe_fs (s, 0, s->size));

  if (pttype == NULL)
    reason = "no partition table";
  else if (esp) {
    hint = "efi";
    snprintf (why, sizeof why, "%s with an EFI system partition (#%d)%s",
              !strcmp (pttype, "gpt") ? "GPT" : "MBR", esp,
              bios_boot ? "; it also has a BIOS boot partition" : "");
    reason = why;
  }
  else if (bios_boot) {
    hint = "bios";
    reason = "GPT with a BIOS boot partition";
  }
  else if (boot_code) {
    hint = "bios";
    reason = !strcmp (pttype, "gpt") ? "GPT whose protective MBR holds boot code"
                                     : "MBR with boot code";
  }
  else
    reason = !strcmp (pttype, "gpt") ? "GPT without an EFI system partition "
                                       "or boot code"
                                     : "MBR without boot code";
  json_object_object_add (o, "firmware_hint", jstr (hint));
  json_object_object_add (o, "firmware_hint_reason", jstr (reason));
  if (pr)
    blkid_free_probe (pr);
  return o;
}

/* Inspect one disk; NULL with an error recorded on failure. */
static struct json_object *
inspect_disk (struct vmi_provider *p, size_t vi, size_t di)
{
  struct vmi_layer *disk = vmi_provider_open_disk (p, vi, di);
  struct shadow s = { .fd = -1 };
  struct json_object *o = NULL, *d;
  int64_t alloc;

  if (disk == NULL || (disk = cli_counting_open (disk)) == NULL)
    return NULL;
  s.disk = disk;
  s.size = disk->size;
  if ((s.buf = malloc (MiB)) == NULL) {
    errno = ENOMEM;
    vmi_error ("out of memory");
    goto out;
  }
  s.fd = memfd_create ("vmimport-inspect", MFD_CLOEXEC);
  if (s.fd == -1 || ftruncate (s.fd, (off_t) s.size) == -1) {
    vmi_error ("inspect: memfd of %" PRIu64 " bytes: %s", s.size,
               strerror (errno));
    goto out;
  }
  /* The provider counted it when it described the VM. */
  alloc = p->vms[vi]->disks[di].allocated;
  if ((alloc < 0 && (alloc = vmi_layer_allocated (disk)) < 0)
      || populate (&s, 0, MiB) < 0
      || populate (&s, s.size > MiB ? s.size - MiB : 0, MiB) < 0
      || populate_partitions (&s) < 0)
    goto out;
  d = describe (&s);
  o = json_object_new_object ();
  json_object_object_add (o, "vm", jstr (p->vms[vi]->name));
  json_object_object_add (o, "disk", json_object_new_int ((int) di));
  json_object_object_add (o, "file", jstr (p->vms[vi]->disks[di].file));
  json_object_object_add (o, "source_format",
                          jstr (p->vms[vi]->disks[di].source_format));
  json_object_object_add (o, "virtual_size", json_object_new_int64 ((int64_t) s.size));
  json_object_object_add (o, "allocated", json_object_new_int64 (alloc));
  json_object_object_foreach (d, key, val)
    json_object_object_add (o, key, json_object_get (val));
  json_object_put (d);
  json_object_object_add (o, "bytes_read",
                          json_object_new_int64 ((int64_t) cli_counting_bytes (disk)));
  json_object_object_add (o, "reads",
                          json_object_new_int64 ((int64_t) cli_counting_reads (disk)));
 out:
  if (o == NULL && vmi_error_get ()[0])
    vmi_error_prefix ("%s disk %zu", p->vms[vi]->name, di);
  if (s.fd >= 0)
    close (s.fd);
  free (s.done);
  free (s.buf);
  vmi_layer_close (disk);
  return o;
}

static const char *
get (struct json_object *o, const char *key)
{
  struct json_object *v;

  if (o && json_object_object_get_ex (o, key, &v) && v)
    return json_object_get_string (v);
  return NULL;
}

static int64_t
geti (struct json_object *o, const char *key)
{
  struct json_object *v;

  if (o && json_object_object_get_ex (o, key, &v) && v)
    return json_object_get_int64 (v);
  return -1;
}

static void
print_fs (struct json_object *fs)
{
  if (fs == NULL) {
    printf ("  -");
    return;
  }
  printf ("  %s", get (fs, "type"));
  if (get (fs, "label"))
    printf ("  label=%s", get (fs, "label"));
  if (get (fs, "uuid"))
    printf ("  uuid=%s", get (fs, "uuid"));
}

static void
print_disk (struct json_object *o)
{
  char a[32], b[32];
  struct json_object *pt = json_object_object_get (o, "partition_table");
  struct json_object *parts = json_object_object_get (o, "partitions");

  cli_format_size (a, sizeof a, (double) geti (o, "virtual_size"));
  cli_format_size (b, sizeof b, (double) geti (o, "allocated"));
  printf ("%s/%s: %s virtual, %s allocated, partition table: %s",
          get (o, "vm"), get (o, "file"), a, b,
          pt ? get (pt, "type") : "none");
  if (pt && get (pt, "id"))
    printf (" (id %s)", get (pt, "id"));
  printf ("\n  firmware hint: %s (%s)\n",
          get (o, "firmware_hint") ? get (o, "firmware_hint") : "unknown",
          get (o, "firmware_hint_reason"));
  if (json_object_object_get (o, "filesystem")) {
    printf ("  whole disk:");
    print_fs (json_object_object_get (o, "filesystem"));
    printf ("\n");
  }
  for (size_t i = 0; i < json_object_array_length (parts); i++) {
    struct json_object *p = json_object_array_get_idx (parts, i);
    const char *tn = get (p, "type_name");
    cli_format_size (a, sizeof a, (double) geti (p, "size"));
    printf ("  %2" PRId64 "  start %" PRId64 "  size %s  %s%s%s%s",
            geti (p, "number"), geti (p, "start"), a, get (p, "type"),
            tn ? " (" : "", tn ? tn : "", tn ? ")" : "");
    print_fs (json_object_object_get (p, "filesystem"));
    printf ("\n");
  }
  cli_format_size (a, sizeof a, (double) geti (o, "bytes_read"));
  printf ("  read %s of the source in %" PRId64 " requests\n", a,
          geti (o, "reads"));
}

int
cli_inspect (int argc, char **argv)
{
  static const struct option longopts[] = {
    CLI_COMMON_OPTIONS,
    { "json", no_argument, NULL, OPT_JSON },
    { "vm", required_argument, NULL, OPT_VM },
    { "disk", required_argument, NULL, OPT_DISK },
    { 0 }
  };
  struct cli_common c;
  struct vmi_provider *p = NULL;
  struct json_object *all = json_object_new_array ();
  int rc, n = 0;

  for (int i = 1; i < argc; i++)
    if (strcmp (argv[i], "--os") == 0) {
      json_object_put (all);
      return cli_inspect_os (argc, argv);
    }
  cli_common_init (&c);
  if ((p = cli_open_one_source (argc, argv, longopts, &c, usage, "inspect",
                                "one SOURCE or PATH", &rc)) == NULL)
    goto out;
  rc = EXIT_SOURCE;
  for (long i = cli_next_vm (&c, p, 0); i != -1; i = cli_next_vm (&c, p, i + 1)) {
    const struct vmi_vm *vm = p->vms[i];
    for (size_t d = 0; d < vm->ndisks; d++) {
      struct json_object *o;
      if (c.disk >= 0 && (size_t) c.disk != d)
        continue;
      if ((o = inspect_disk (p, i, d)) == NULL) {
        cli_print_error ("inspect");
        goto out;
      }
      if (!c.json)
        print_disk (o);
      json_object_array_add (all, o);
      n++;
    }
  }
  if (n == 0 && c.disk >= 0) {
    fprintf (stderr, "vmimport inspect: no disk %ld\n", c.disk);
    rc = EXIT_USAGE;
    goto out;
  }
  if (c.json)
    printf ("%s\n", json_object_to_json_string_ext (
              all, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED
                   | JSON_C_TO_STRING_NOSLASHESCAPE));
  rc = EXIT_DONE;
 out:
  json_object_put (all);
  vmi_provider_close (p);
  cli_common_clear (&c);
  return rc;
}
