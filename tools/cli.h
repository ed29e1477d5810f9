/* vmimport (the command-line tool): what its commands share.
 * Internal to tools/; not part of the library's public interface. */
#ifndef VMIMPORT_CLI_H
#define VMIMPORT_CLI_H

#include <getopt.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "vmimport/layer.h"
#include "vmimport/provider.h"

/* Exit codes every command uses. */
enum {
  EXIT_DONE = 0,
  EXIT_SOURCE = 1,   /* the source could not be read, or did not verify */
  EXIT_USAGE = 2,    /* the command line is wrong */
  EXIT_DEST = 3,     /* the destination could not be written, or is unsafe */
};

/* Long options every command takes (same names as vmimportfs). */
enum {
  OPT_PASSWORD_FILE = 0x100,
  OPT_PASSWORD,
  OPT_USER,
  OPT_CA_CERT,
  OPT_INSECURE,
  OPT_TIMEOUT,
  OPT_RETRIES,
  OPT_RETRY_DEADLINE,
  OPT_SOURCE_FILE,
  OPT_VM,
  OPT_DISK,
  OPT_JSON,
  OPT_ALLOW_RUNNING,
  OPT_SNAPSHOT,
  OPT_ALLOW_OUTSIDE_PATHS,
  OPT_CREDENTIALS_DIR,
  OPT_FIRST_COMMAND_OPTION,  /* commands number their own options from here */
};

#define CLI_COMMON_OPTIONS                                              \
  { "password-file", required_argument, NULL, OPT_PASSWORD_FILE },      \
  { "password", required_argument, NULL, OPT_PASSWORD },                \
  { "user", required_argument, NULL, OPT_USER },                        \
  { "ca-cert", required_argument, NULL, OPT_CA_CERT },                  \
  { "insecure", no_argument, NULL, OPT_INSECURE },                      \
  { "timeout", required_argument, NULL, OPT_TIMEOUT },                  \
  { "retries", required_argument, NULL, OPT_RETRIES },                  \
  { "retry-deadline", required_argument, NULL, OPT_RETRY_DEADLINE },    \
  { "source-file", required_argument, NULL, OPT_SOURCE_FILE },          \
  { "allow-running", no_argument, NULL, OPT_ALLOW_RUNNING },            \
  { "snapshot", no_argument, NULL, OPT_SNAPSHOT },                      \
  { "credentials-dir", required_argument, NULL, OPT_CREDENTIALS_DIR },  \
  { "allow-outside-paths", optional_argument, NULL,                     \
    OPT_ALLOW_OUTSIDE_PATHS },                                          \
  { "verbose", no_argument, NULL, 'v' },                                \
  { "help", no_argument, NULL, 'h' }

#define CLI_COMMON_HELP                                                 \
  "Source options:\n"                                                   \
  "  --password-file FILE  read the password from FILE (else $VMIMPORT_PASSWORD)\n" \
  "  --user NAME           user name for the source\n"                  \
  "  --ca-cert FILE        trust the CA certificates in FILE (PEM)\n"   \
  "  --insecure            do not verify TLS certificates\n"            \
  "  --timeout SECONDS     timeout of one request (0: none; default 600)\n" \
  "  --retries N           retries of a failed network request (default 8)\n" \
  "  --retry-deadline S    stop retrying a request after S seconds (0: none; default 120)\n" \
  "  --source-file FILE    a Harvester OvaSource/VmwareSource/OpenstackSource\n" \
  "                        YAML (with its Secret) instead of SOURCE\n"  \
  "  --allow-running       read a running VM's disks as they are (VMware;\n" \
  "                        crash-consistent at best)\n"               \
  "  --snapshot            read a running VM's disks under a temporary\n" \
  "                        snapshot, removed at the end (VMware)\n"    \
  "  --credentials-dir DIR a mounted Secret: DIR/username, DIR/password,\n" \
  "                        DIR/ca.crt (or caCert, ca_cert), each if present\n" \
  "  --allow-outside-paths[=DIR:DIR...]\n"                              \
  "                        a local image may name files (extents, backing\n" \
  "                        files) outside its folder: anywhere, or in DIRs\n" \
  "  -v, --verbose         more messages (repeat for debug)\n"          \
  "  -h, --help            this help\n"

struct cli_common {
  struct vmi_source_opts opts;
  const char *source_file;   /* --source-file */
  const char *vm;            /* --vm NAME */
  long disk;                 /* --disk N, -1 when not given */
  bool json;                 /* --json */
  int verbose;
};

void cli_common_init(struct cli_common *c);
void cli_common_clear(struct cli_common *c);
/* Handle one option returned by getopt_long.  1: it was a common option;
 * 0: not one of ours; -1: bad value (message printed). */
int cli_common_option(struct cli_common *c, int opt, const char *arg);
/* After parsing: the password from the environment, the log level.
 * Returns 0 or -1 (message printed). */
int cli_common_finish(struct cli_common *c);

/* Open SOURCE (or --source-file when SOURCE is NULL).  Prints the error and
 * returns NULL on failure; *EXIT_CODE says which. */
struct vmi_provider *cli_open_source(struct cli_common *c, const char *source,
                                     int *exit_code);
/* The start of a command that takes one SOURCE (or --source-file): parse
 * the options (LONGOPTS, all common ones), open the source and check that
 * --vm names a VM in it.  NULL with *RC set (and the message printed) when
 * the command is over: -h, a usage error, a source that does not open.
 * CMD ("ls") and WHAT ("one SOURCE") are for messages. */
struct vmi_provider *cli_open_one_source(int argc, char **argv,
                                         const struct option *longopts,
                                         struct cli_common *c,
                                         void (*usage)(FILE *),
                                         const char *cmd, const char *what,
                                         int *rc);
/* Which VMs --vm selects: index of the first match from *I on, or -1 when
 * none is left.  Without --vm every VM matches. */
long cli_next_vm(const struct cli_common *c, const struct vmi_provider *p,
                 long i);
/* Exactly one VM: --vm (needed if the source holds several VMs), not
 * shared by several.  Prints why not, as "vmimport CMD: ...", and returns
 * -1. */
long cli_pick_vm(const struct cli_common *c, const struct vmi_provider *p,
                 const char *cmd);
/* Exactly one disk: --vm (needed if the source holds several VMs) and
 * --disk (needed if the VM holds several disks).  Prints why not. */
int cli_pick_disk(const struct cli_common *c, const struct vmi_provider *p,
                  size_t *vm_index, size_t *disk_index);

void cli_print_error(const char *what);
/* Each of VM's notes (what an import will not carry over) as a warning on
 * stderr. */
void cli_warn_notes(const struct vmi_vm *vm);
/* "12.5 GiB" */
void cli_format_size(char *buf, size_t len, double bytes);
/* Bytes from "123", "4k", "64M", "1G" (binary units).  -1 on error. */

/* A layer that counts the bytes read through it (to prove laziness). */
struct vmi_layer *cli_counting_open(struct vmi_layer *below);
uint64_t cli_counting_bytes(const struct vmi_layer *l);
uint64_t cli_counting_reads(const struct vmi_layer *l);

/* Commands. */
int cli_ls(int argc, char **argv);
int cli_inspect(int argc, char **argv);
int cli_copy(int argc, char **argv);
int cli_verify(int argc, char **argv);
int cli_cleanup(int argc, char **argv);
int cli_export(int argc, char **argv);
int cli_poweroff(int argc, char **argv);
int cli_serve(int argc, char **argv);
int cli_import(int argc, char **argv);
int cli_manifest(int argc, char **argv);

/* vmimport copy of one disk (copy.c), also run by vmimport import for
 * each disk of its VM, on the source it opened. */
struct copy_args {
  int jobs;                    /* workers; copy_default_jobs () */
  bool target_is_zero, verify, force, resume, quiet, fsync, buffered, convert;
  const char *progress, *state_file, *virtio_win;
  bool hint_resume;            /* a failure says "run it again with --resume"
                                  (vmimport copy; import has no --resume) */
};
/* Cores x 2; at least 8 for a remote source (SRC_ARG a URL, or NULL for
 * a --source-file's). */
int copy_default_jobs(const char *src_arg);
/* Copy disk DI of VM VMI of the open source P into DST_ARG, progress on
 * OUT (the style from ARGS and whether stdout is a terminal).  SOURCE
 * names the source in the resume state.  SIGINT and SIGTERM stop the
 * copy (its state kept) while it runs: copy_stop_signal () then says
 * which.  Messages on stderr; returns an exit code. */
int copy_disk(struct vmi_provider *p, size_t vmi, size_t di,
              const char *source, const struct copy_args *args,
              const char *dst_arg, FILE *out);
int copy_stop_signal(void);

/* The HTTP(S) server of `vmimport serve`, also run by `vmimport import
 * --mode image` (serve.c). */
struct serve_opts {
  const char *listen;          /* "ADDR:PORT"; default 127.0.0.1:8080 */
  const char *tls_cert_file, *tls_key_file;  /* both or neither */
  const char *token_file;      /* NULL: $VMIMPORT_SERVE_TOKEN or random */
  uint64_t cache_size;         /* default 64 MiB */
  bool until_read;             /* server_wait returns once all was read */
};
struct server;
void serve_opts_init(struct serve_opts *o);
/* Serve P's tree (P stays the caller's; close it after server_stop).
 * NULL with the message printed and *RC set on failure. */
struct server *server_start(struct vmi_provider *p, const struct serve_opts *o,
                            int *rc);
/* The base URL, token included ("http://127.0.0.1:8080/TOKEN/"). */
const char *server_url(const struct server *s);
/* Until SIGINT/SIGTERM, or (until_read) every disk was read whole: true
 * in that last case. */
bool server_wait(struct server *s);
void server_stop(struct server *s);

/* Progress of a copy: a bar on a terminal, JSON lines otherwise. */
enum progress_mode { PROGRESS_NONE, PROGRESS_BAR, PROGRESS_JSON };
struct progress;
struct progress *progress_new(enum progress_mode mode, FILE *out,
                              uint64_t total, uint64_t done);
void progress_add(struct progress *p, uint64_t bytes);
uint64_t progress_done(struct progress *p);
/* Print the current state (a bar refresh or one JSON line). */
void progress_tick(struct progress *p);
/* Last report.  EXTRA (may be NULL) is appended to the JSON object
 * ("\"read\": 123"). */
void progress_finish(struct progress *p, const char *status,
                     const char *extra);
void progress_free(struct progress *p);
/* Seconds between ticks for this mode. */
double progress_interval(const struct progress *p);

#endif
