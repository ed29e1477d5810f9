/* vmimport: remote transports and container members, as layers. */
#ifndef VMIMPORT_TRANSPORT_H
#define VMIMPORT_TRANSPORT_H

#include "vmimport/layer.h"
#include "vmimport/provider.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A libcurl error code worth trying again: the network or the server
 * hiccuped (refused, reset, nothing received, timed out). */
bool vmi_curl_transient(int curl_code);

/* HTTP(S) with range requests (libcurl).  Size from HEAD (or a ranged GET).
 * Credentials and TLS settings from OPTS; the URL must not carry them. */
struct vmi_layer *vmi_http_open(const char *url,
                                const struct vmi_source_opts *opts);

/* A session a provider keeps with the server (a vCenter's
 * vmware_soap_session cookie for its /folder URLs).  COOKIE returns the
 * current "name=value" (caller frees); after a 401, RENEW (may be NULL)
 * logs in again unless the cookie it is given was already replaced, and
 * the request is tried once more.  RELEASE (may be NULL) is called when
 * the layer is closed.  Cookies are never logged. */
struct vmi_http_session {
  char *(*cookie)(void *opaque);
  int (*renew)(void *opaque, const char *refused);
  void (*release)(void *opaque);
  void *opaque;
};

/* vmi_http_open with a provider's session (SESSION is copied; its
 * RELEASE is called even when the open fails). */
struct vmi_layer *vmi_http_open_session(const char *url,
                                        const struct vmi_source_opts *opts,
                                        const struct vmi_http_session *session);
/* The same, with the session's value sent in the header HEADER (an
 * OpenStack token: "X-Auth-Token") instead of a Cookie. */
struct vmi_layer *vmi_http_open_session_header(const char *url,
                                               const struct vmi_source_opts *opts,
                                               const struct vmi_http_session *session,
                                               const char *header);

/* NBD export (libnbd): nbd://, nbds://, nbd+unix://. */
struct vmi_layer *vmi_nbd_open(const char *uri,
                               const struct vmi_source_opts *opts);

/* A member of a tar archive, found by reading only the 512-byte headers.
 * Takes a reference to ARCHIVE (vmi_layer_ref), so the caller keeps its
 * own.  MEMBER is the path inside the archive ("disk1.vmdk",
 * "sub/disk2.vmdk"). */
struct vmi_layer *vmi_tar_open_member(struct vmi_layer *archive,
                                      const char *member);

/* Walk the regular-file members of a tar archive, reading only headers.
 * FN gets each member's path, the offset of its data in the archive and
 * its size; a non-zero return from FN stops the walk and is returned.
 * Returns 0 at the end of the archive, -1 on error (truncated or corrupt
 * headers, or two regular members of one name: refused once the whole
 * archive was walked). */
typedef int (*vmi_tar_member_fn)(void *opaque, const char *name,
                                 uint64_t offset, uint64_t size);
int vmi_tar_list(struct vmi_layer *archive, vmi_tar_member_fn fn,
                 void *opaque);

#ifdef __cplusplus
}
#endif
#endif
