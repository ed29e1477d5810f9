/* vmimport: error messages and logging.
 *
 * A failing function records one message saying which file, which offset,
 * what was expected and what was found, sets errno, and returns -1 / NULL.
 * The top of the program prints it once (vmi_error_get).  Messages are kept
 * per thread.  Never put a password or token in a message.
 */
#ifndef VMIMPORT_ERROR_H
#define VMIMPORT_ERROR_H

#include <stdarg.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Record the message for this thread (replacing the previous one).
 * Preserves errno. */
void vmi_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Prefix the current message with more context: "PREFIX: old message".
 * Preserves errno. */
void vmi_error_prefix(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* The last message recorded by this thread ("" if none). */
const char *vmi_error_get(void);

enum vmi_log_level {
  VMI_LOG_ERROR = 0,
  VMI_LOG_WARN = 1,
  VMI_LOG_INFO = 2,
  VMI_LOG_DEBUG = 3,
};

/* One line to stderr (or syslog once vmi_log_to_syslog was called),
 * prefixed with the program name and level.  Thread-safe. */
void vmi_log(enum vmi_log_level level, const char *fmt, ...)
  __attribute__((format(printf, 2, 3)));
void vmi_log_set_level(enum vmi_log_level level);
enum vmi_log_level vmi_log_get_level(void);
void vmi_log_set_program(const char *name);
void vmi_log_to_syslog(void);

#ifdef __cplusplus
}
#endif
#endif
