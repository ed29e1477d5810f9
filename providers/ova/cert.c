/* OVF signing certificates (.cert beside the manifest), as ovftool and
 * vCenter write them: one line "SHA256(app.mf)= HEX", the signature of the
 * manifest file with the signer's private key, then the signer's X.509
 * certificate (and any chain) in PEM.  Checked with OpenSSL: the signature
 * must verify with the certificate's public key over the manifest's exact
 * bytes; the certificate's trust (system store, --ca-cert) is reported,
 * not required, as ovftool does for self-signed appliances. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>

#include "vmimport/error.h"
#include "vmimport/ova.h"
#include "ova-internal.h"

#define MAX_SIG 1024   /* bytes: RSA 8192 is 1024 */

static int
hexval (int c)
{
  if (c >= '0' && c <= '9')
    return c - '0';
  c = tolower (c);
  return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

static int
bad (const char *where, int line, const char *why)
{
  errno = EINVAL;
  vmi_error ("%s: line %d: %s (expected \"SHA256(file.mf)= hex\" then a PEM "
             "certificate)", where, line, why);
  return -1;
}

/* The signature line: "ALGO(FILE)= HEX". */
static int
parse_sig_line (const char *s, const char *end, const char *where,
                struct vmi_ova_cert *c)
{
  const char *open = memchr (s, '(', (size_t) (end - s));
  const char *close = open ? memchr (open, ')', (size_t) (end - open)) : NULL;
  const char *eq = close ? memchr (close, '=', (size_t) (end - close)) : NULL;
  const char *h;
  size_t alen;

  if (eq == NULL || close == open + 1)
    return bad (where, 1, "no signature line");
  alen = (size_t) (open - s);
  while (alen > 0 && s[alen - 1] == ' ')
    alen--;
  if (alen == 4 && !strncasecmp (s, "SHA1", 4))
    c->algo = "SHA1";
  else if (alen == 6 && !strncasecmp (s, "SHA256", 6))
    c->algo = "SHA256";
  else if (alen == 6 && !strncasecmp (s, "SHA512", 6))
    c->algo = "SHA512";
  else
    return bad (where, 1, "unknown digest (SHA1, SHA256 or SHA512)");
  if ((c->file = strndup (open + 1, (size_t) (close - open - 1))) == NULL) {
    errno = ENOMEM;
    vmi_error ("%s: out of memory", where);
    return -1;
  }
  for (h = eq + 1; h < end && *h == ' '; h++)
    ;
  while (end > h && (end[-1] == ' ' || end[-1] == '\r'))
    end--;
  if ((end - h) % 2 || end == h || (size_t) (end - h) / 2 > MAX_SIG)
    return bad (where, 1, "the signature is not an even number of hex digits");
  for (c->sig_len = 0; h < end; h += 2) {
    int hi = hexval (h[0]), lo = hexval (h[1]);
    if (hi < 0 || lo < 0)
      return bad (where, 1, "the signature is not hexadecimal");
    c->sig[c->sig_len++] = (unsigned char) (hi << 4 | lo);
  }
  return 0;
}

int
vmi_ova_cert_parse (const char *text, size_t len, const char *where,
                    struct vmi_ova_cert *c)
{
  const char *nl = memchr (text, '\n', len), *end = nl ? nl : text + len;
  BIO *bio;

  memset (c, 0, sizeof *c);
  if (len > OVA_MAX_DESCRIPTOR || len > INT32_MAX) {
    errno = EFBIG;
    vmi_error ("%s: %zu bytes is too large for a certificate", where, len);
    return -1;
  }
  if ((c->sig = malloc (MAX_SIG)) == NULL) {
    errno = ENOMEM;
    vmi_error ("%s: out of memory", where);
    return -1;
  }
  if (parse_sig_line (text, end, where, c) == -1)
    goto fail;
  bio = BIO_new_mem_buf (end, (int) (text + len - end));
  c->x509 = bio ? PEM_read_bio_X509 (bio, NULL, NULL, NULL) : NULL;
  if (c->x509 && (c->chain = sk_X509_new_null ()) != NULL) {
    X509 *x;
    while ((x = PEM_read_bio_X509 (bio, NULL, NULL, NULL)) != NULL)
      if (!sk_X509_push (c->chain, x))
        X509_free (x);
  }
  BIO_free (bio);
  ERR_clear_error ();
  if (c->x509 == NULL) {
    bad (where, 2, "no PEM certificate after the signature line");
    goto fail;
  }
  return 0;
 fail:
  vmi_ova_cert_clear (c);
  return -1;
}

void
vmi_ova_cert_clear (struct vmi_ova_cert *c)
{
  free (c->sig);
  free (c->file);
  X509_free (c->x509);
  sk_X509_pop_free (c->chain, X509_free);
  memset (c, 0, sizeof *c);
}

static const EVP_MD *
md_named (const char *algo)
{
  return !strcmp (algo, "SHA1") ? EVP_sha1 ()
         : !strcmp (algo, "SHA256") ? EVP_sha256 () : EVP_sha512 ();
}

/* Is the certificate trusted by the system store (and CA_FILE)?  Writes
 * the answer into BUF. */
static void
trust_of (const struct vmi_ova_cert *c, const char *ca_file, char *buf,
          size_t len)
{
  X509_STORE *store = X509_STORE_new ();
  X509_STORE_CTX *ctx = X509_STORE_CTX_new ();

  if (store && ctx && X509_STORE_set_default_paths (store)
      && (ca_file == NULL
          || X509_STORE_load_locations (store, ca_file, NULL))
      && X509_STORE_CTX_init (ctx, store, c->x509, c->chain)) {
    if (X509_verify_cert (ctx) == 1)
      snprintf (buf, len, "certificate trusted");
    else
      snprintf (buf, len, "certificate not trusted: %s",
                X509_verify_cert_error_string (X509_STORE_CTX_get_error (ctx)));
  }
  else
    snprintf (buf, len, "certificate trust not checked");
  ERR_clear_error ();
  X509_STORE_CTX_free (ctx);
  X509_STORE_free (store);
}

int
vmi_ova_cert_check (const struct vmi_ova_cert *c, const char *cert_name,
                    const char *mf, size_t mf_len, const char *mf_name,
                    const char *ca_file, FILE *out, char *why, size_t whylen)
{
  EVP_MD_CTX *ctx = EVP_MD_CTX_new ();
  EVP_PKEY *key = X509_get0_pubkey (c->x509);
  char subject[256], issuer[256], trust[256];
  int ok;

  if (ctx == NULL) {
    errno = ENOMEM;
    vmi_error ("out of memory");
    return -1;
  }
  X509_NAME_oneline (X509_get_subject_name (c->x509), subject, sizeof subject);
  X509_NAME_oneline (X509_get_issuer_name (c->x509), issuer, sizeof issuer);
  ok = key && strcmp (c->file, mf_name) == 0
       && EVP_DigestVerifyInit (ctx, NULL, md_named (c->algo), NULL, key) == 1
       && EVP_DigestVerify (ctx, c->sig, c->sig_len,
                            (const unsigned char *) mf, mf_len) == 1;
  ERR_clear_error ();
  EVP_MD_CTX_free (ctx);
  if (!ok) {
    fprintf (out, "%s: FAILED (the %s signature of %s does not verify with "
             "the certificate of %s%s)\n", cert_name, c->algo, c->file,
             subject, strcmp (c->file, mf_name) ? "; it signs another file "
             "than the manifest" : "");
    snprintf (why, whylen, "%s: the signature of %s does not verify",
              cert_name, mf_name);
    return 1;
  }
  trust_of (c, ca_file, trust, sizeof trust);
  fprintf (out, "%s: OK (%s signature of %s, signed by %s, issued by %s; "
           "%s)\n", cert_name, c->algo, mf_name, subject, issuer, trust);
  return 0;
}
