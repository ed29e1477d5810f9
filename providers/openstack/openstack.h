/* The OpenStack provider's entry points (openstack.c). */
#ifndef VMIMPORT_OPENSTACK_H
#define VMIMPORT_OPENSTACK_H

#include "vmimport/provider.h"

/* openstack://USER@HOST[:PORT][/PATH]/PROJECT?region=R&domain=D */
struct vmi_provider *vmi_openstack_provider_open(const char *source,
                                                 const struct vmi_source_opts *o);
/* An OpenstackSource (yaml.c): Keystone ENDPOINT, REGION (may be NULL),
 * the Secret's PROJECT and DOMAIN (may be NULL: "Default"), the upload
 * retries (0: defaults 30 and 10 s). */
struct vmi_provider *vmi_openstack_provider_open_spec(const char *endpoint,
                                                      const char *region,
                                                      const char *project,
                                                      const char *domain,
                                                      int retry_count,
                                                      int retry_delay,
                                                      const struct vmi_source_opts *o);

#endif
