/* vmimport: OVA / OVF appliances, manifests, and Harvester source YAML.
 * The parsers take untrusted text from memory, so fuzz targets and the
 * providers call the very same functions. */
#ifndef VMIMPORT_OVA_H
#define VMIMPORT_OVA_H

#include <stddef.h>
#include <stdio.h>

#include "vmimport/provider.h"
#include "vmimport/vm.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Parse OVF XML (libxml2, no network, no entity expansion) into a VM.
 * For each disk, source_name is the href of its file (inside the OVA or
 * beside the OVF) and source_format what the OVF says ("vmdk", ...).
 * WHERE names the document in messages.  NULL with an error on failure. */
struct vmi_vm *vmi_ovf_parse(const char *xml, size_t len, const char *where);
/* Every VirtualSystem of the OVF (several in a VirtualSystemCollection)
 * as a VM: *VMS (N of them) is an array the caller frees, with each VM.
 * vmi_ovf_parse returns the first only.  0, or -1 with an error. */
int vmi_ovf_parse_all(const char *xml, size_t len, const char *where,
                      struct vmi_vm ***vms, size_t *n);

/* One line of a .mf manifest: "SHA256(file)= hex" (or SHA1, SHA512). */
struct vmi_manifest_entry {
  char *algo;                  /* "SHA1", "SHA256", "SHA512" */
  char *file;
  unsigned char digest[64];
  size_t digest_len;
};
int vmi_manifest_parse(const char *text, size_t len, const char *where,
                       struct vmi_manifest_entry **entries, size_t *n);
void vmi_manifest_free(struct vmi_manifest_entry *entries, size_t n);

/* A signing certificate (.cert): "SHA256(app.mf)= HEX" then PEM. */
struct x509_st;
struct stack_st_X509;
struct vmi_ova_cert {
  const char *algo;            /* "SHA1", "SHA256", "SHA512" */
  char *file;                  /* the file it signs (the manifest) */
  unsigned char *sig;
  size_t sig_len;
  struct x509_st *x509;        /* the signer */
  struct stack_st_X509 *chain; /* any further certificates */
};
int vmi_ova_cert_parse(const char *text, size_t len, const char *where,
                       struct vmi_ova_cert *c);
void vmi_ova_cert_clear(struct vmi_ova_cert *c);
/* Verify C's signature over the manifest MF (its exact bytes, MF_LEN of
 * them, named MF_NAME).  Writes one line to OUT: who signed it and whether
 * the certificate is trusted (system store and CA_FILE).  0 good; 1 the
 * signature does not verify (reason in WHY); -1 error. */
int vmi_ova_cert_check(const struct vmi_ova_cert *c, const char *cert_name,
                       const char *mf, size_t mf_len, const char *mf_name,
                       const char *ca_file, FILE *out, char *why,
                       size_t whylen);

/* Check every file of an OVA / OVF against its manifest, reading each file
 * once, in order.  Writes one line per file to OUT.  0 if all match. */
int vmi_ova_verify(const char *source, const struct vmi_source_opts *opts,
                   FILE *out);

/* A Harvester source object (OvaSource, VmwareSource, OpenstackSource) and
 * its Secret, from one YAML document stream. */
struct vmi_source_spec {
  char *kind;        /* "OvaSource", "VmwareSource", "OpenstackSource" */
  char *name;        /* metadata.name */
  char *url;         /* spec.url (OVA) or spec.endpoint */
  char *dc;          /* VMware spec.dc */
  char *region;      /* OpenStack spec.region */
  char *project_name, *domain_name;  /* OpenStack, from the Secret */
  int upload_retry_count, upload_retry_delay;  /* OpenStack; 0: default */
  char *credentials; /* spec.credentials.name: the Secret's name */
  struct vmi_source_opts opts;       /* username, password, CA, timeout */
};
int vmi_source_yaml_parse(const char *text, size_t len, const char *where,
                          struct vmi_source_spec *out);
void vmi_source_spec_clear(struct vmi_source_spec *s);

#ifdef __cplusplus
}
#endif
#endif
