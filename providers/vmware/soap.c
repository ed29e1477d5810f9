/* VMware: the vSphere SOAP client (libcurl + libxml2).
 *
 * Requests are built as libxml2 trees and responses read as trees, by
 * namespace and local name (a server may write xsi:type with any prefix).
 * The session is the vmware_soap_session cookie that Login sets; it is sent
 * with every call and lent to the /folder reads.  A NotAuthenticated fault
 * (the session expired) logs in again once and repeats the call.  The
 * password is held in memory only and wiped from every buffer that carried
 * it. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>
#include <libxml/parser.h>

#include "vmimport/error.h"
#include "vmimport/retry.h"
#include "vmware-internal.h"

#define MAX_RESPONSE (256u << 20)

struct service_ref {
  const char *field;
  char *type, *value;
};

struct vmi_vmw_soap {
  pthread_mutex_t lock;      /* the handle, the cookie */
  int refs;
  CURL *h;
  char errbuf[CURL_ERROR_SIZE];
  char *endpoint;
  char *username, *password;
  char *cookie;              /* "vmware_soap_session=..." */
  int logins;
  struct vmi_retry_policy retry;
  struct service_ref svc[6];
};

/* What one call receives. */
struct reply {
  char *body;
  size_t len, cap;
  char *cookie;
  bool too_big;
};

static void
wipe_free (char *s)
{
  if (s) {
    explicit_bzero (s, strlen (s));
    free (s);
  }
}

static size_t
body_cb (char *data, size_t size, size_t n, void *opaque)
{
  struct reply *r = opaque;
  size_t len = size * n;

  if (r->len + len > MAX_RESPONSE) {
    r->too_big = true;
    return 0;
  }
  if (r->len + len + 1 > r->cap) {
    size_t cap = (r->len + len + 1) * 2;
    char *b = realloc (r->body, cap);
    if (b == NULL)
      return 0;
    r->body = b;
    r->cap = cap;
  }
  memcpy (r->body + r->len, data, len);
  r->len += len;
  r->body[r->len] = '\0';
  return len;
}

/* Set-Cookie: vmware_soap_session=VALUE; Path=/; ... -> "name=VALUE". */
static size_t
header_cb (char *line, size_t size, size_t n, void *opaque)
{
  static const char name[] = "Set-Cookie:";
  struct reply *r = opaque;
  size_t len = size * n;
  const char *v;
  size_t vlen;

  if (len <= sizeof name || strncasecmp (line, name, sizeof name - 1) != 0)
    return len;
  v = line + sizeof name - 1;
  while (v < line + len && (*v == ' ' || *v == '\t'))
    v++;
  vlen = (size_t) (line + len - v);
  if (vlen < 20 || strncmp (v, "vmware_soap_session=", 20) != 0)
    return len;
  for (size_t i = 0; i < vlen; i++)
    if (v[i] == ';' || v[i] == '\r' || v[i] == '\n') {
      vlen = i;
      break;
    }
  free (r->cookie);
  r->cookie = strndup (v, vlen);
  return len;
}

struct vmi_vmw_soap *
vmi_vmw_soap_new (const char *endpoint, const struct vmi_source_opts *o)
{
  struct vmi_vmw_soap *s = calloc (1, sizeof *s);
  static const char *fields[] = {
    "propertyCollector", "viewManager", "searchIndex", "rootFolder",
    "sessionManager", NULL,
  };

  if (s == NULL || (s->endpoint = strdup (endpoint)) == NULL
      || (o->username && (s->username = strdup (o->username)) == NULL)
      || (o->password && (s->password = strdup (o->password)) == NULL)
      || (s->h = curl_easy_init ()) == NULL) {
    if (s) {
      free (s->endpoint);
      free (s->username);
      wipe_free (s->password);
      free (s);
    }
    errno = ENOMEM;
    vmi_error ("out of memory");
    return NULL;
  }
  pthread_mutex_init (&s->lock, NULL);
  s->refs = 1;
  s->retry = o->retry;
  for (int i = 0; fields[i]; i++)
    s->svc[i].field = fields[i];
  curl_easy_setopt (s->h, CURLOPT_URL, s->endpoint);
  curl_easy_setopt (s->h, CURLOPT_ERRORBUFFER, s->errbuf);
  curl_easy_setopt (s->h, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt (s->h, CURLOPT_PROTOCOLS_STR, "https,http");
  curl_easy_setopt (s->h, CURLOPT_TIMEOUT, o->timeout_seconds);
  curl_easy_setopt (s->h, CURLOPT_CONNECTTIMEOUT,
                    o->connect_timeout_seconds > 0
                    ? o->connect_timeout_seconds : 30L);
  curl_easy_setopt (s->h, CURLOPT_USERAGENT, "vmimport/" VMIMPORT_VERSION);
  curl_easy_setopt (s->h, CURLOPT_WRITEFUNCTION, body_cb);
  curl_easy_setopt (s->h, CURLOPT_HEADERFUNCTION, header_cb);
  if (o->insecure) {
    curl_easy_setopt (s->h, CURLOPT_SSL_VERIFYPEER, 0L);
    curl_easy_setopt (s->h, CURLOPT_SSL_VERIFYHOST, 0L);
  }
  else if (o->ca_cert_file)
    curl_easy_setopt (s->h, CURLOPT_CAINFO, o->ca_cert_file);
  else if (o->ca_cert_pem) {
    struct curl_blob blob = { o->ca_cert_pem, strlen (o->ca_cert_pem),
                              CURL_BLOB_COPY };
    curl_easy_setopt (s->h, CURLOPT_CAINFO_BLOB, &blob);
  }
  return s;
}

struct vmi_vmw_soap *
vmi_vmw_soap_ref (struct vmi_vmw_soap *s)
{
  pthread_mutex_lock (&s->lock);
  s->refs++;
  pthread_mutex_unlock (&s->lock);
  return s;
}

const char *
vmi_vmw_soap_endpoint (const struct vmi_vmw_soap *s)
{
  return s->endpoint;
}

int
vmi_vmw_soap_logins (const struct vmi_vmw_soap *s)
{
  return s->logins;
}

const char *
vmi_vmw_soap_service (const struct vmi_vmw_soap *s, const char *field,
                  const char **type)
{
  for (size_t i = 0; i < sizeof s->svc / sizeof s->svc[0]; i++)
    if (s->svc[i].field && strcmp (s->svc[i].field, field) == 0) {
      if (type)
        *type = s->svc[i].type;
      return s->svc[i].value;
    }
  return NULL;
}

char *
vmi_vmw_soap_cookie (struct vmi_vmw_soap *s)
{
  char *c = NULL;

  pthread_mutex_lock (&s->lock);
  if (s->cookie)
    c = strdup (s->cookie);
  pthread_mutex_unlock (&s->lock);
  return c;
}

/* ---- building requests ---- */

xmlNodePtr
vmi_vmw_req_new (const char *method, const char *this_type, const char *this_value)
{
  xmlDocPtr doc = xmlNewDoc (BAD_CAST "1.0");
  xmlNodePtr env, body, m;
  xmlNsPtr soapns, vim;

  if (doc == NULL)
    return NULL;
  env = xmlNewDocNode (doc, NULL, BAD_CAST "Envelope", NULL);
  xmlDocSetRootElement (doc, env);
  soapns = xmlNewNs (env, BAD_CAST VMI_VMW_SOAP_NS, BAD_CAST "soapenv");
  xmlNewNs (env, BAD_CAST VMI_VMW_XSI_NS, BAD_CAST "xsi");
  xmlSetNs (env, soapns);
  body = xmlNewChild (env, soapns, BAD_CAST "Body", NULL);
  m = xmlNewChild (body, NULL, BAD_CAST method, NULL);
  vim = xmlNewNs (m, BAD_CAST VMI_VMW_VIM_NS, NULL);
  xmlSetNs (m, vim);
  vmi_vmw_req_moref (m, "_this", this_type, this_value);
  return m;
}

xmlNodePtr
vmi_vmw_req_add (xmlNodePtr parent, const char *name, const char *text)
{
  xmlNsPtr vim = xmlSearchNsByHref (parent->doc, parent, BAD_CAST VMI_VMW_VIM_NS);

  return xmlNewTextChild (parent, vim, BAD_CAST name, BAD_CAST text);
}

xmlNodePtr
vmi_vmw_req_moref (xmlNodePtr parent, const char *name, const char *type,
               const char *value)
{
  xmlNodePtr n = vmi_vmw_req_add (parent, name, value);

  xmlNewProp (n, BAD_CAST "type", BAD_CAST type);
  return n;
}

void
vmi_vmw_req_xsi_type (xmlNodePtr node, const char *type)
{
  xmlNsPtr xsi = xmlSearchNsByHref (node->doc, node, BAD_CAST VMI_VMW_XSI_NS);

  xmlNewNsProp (node, xsi, BAD_CAST "type", BAD_CAST type);
}

/* ---- reading responses ---- */

static bool
is_elem (xmlNodePtr n, const char *ns, const char *name)
{
  if (n == NULL || n->type != XML_ELEMENT_NODE
      || strcmp ((const char *) n->name, name) != 0)
    return false;
  if (ns == NULL)
    return n->ns == NULL || strcmp ((const char *) n->ns->href, VMI_VMW_VIM_NS) == 0;
  return n->ns && strcmp ((const char *) n->ns->href, ns) == 0;
}

xmlNodePtr
vmi_vmw_child (xmlNodePtr n, const char *name)
{
  if (n == NULL)
    return NULL;
  for (xmlNodePtr c = n->children; c; c = c->next)
    if (is_elem (c, NULL, name))
      return c;
  return NULL;
}

xmlNodePtr
vmi_vmw_next (xmlNodePtr n, const char *name)
{
  for (xmlNodePtr c = n ? n->next : NULL; c; c = c->next)
    if (is_elem (c, NULL, name))
      return c;
  return NULL;
}

static char *
xml_to_str (xmlChar *x)
{
  char *s;

  if (x == NULL)
    return NULL;
  s = strdup ((const char *) x);
  xmlFree (x);
  return s;
}

char *
vmi_vmw_text (xmlNodePtr n)
{
  return n ? xml_to_str (xmlNodeGetContent (n)) : NULL;
}

char *
vmi_vmw_child_text (xmlNodePtr n, const char *name)
{
  return vmi_vmw_text (vmi_vmw_child (n, name));
}

char *
vmi_vmw_attr (xmlNodePtr n, const char *name)
{
  return n ? xml_to_str (xmlGetNoNsProp (n, BAD_CAST name)) : NULL;
}

/* The type without its prefix ("xsd:string" -> "string"). */
char *
vmi_vmw_xsi_type (xmlNodePtr n)
{
  char *t = n ? xml_to_str (xmlGetNsProp (n, BAD_CAST "type",
                                          BAD_CAST VMI_VMW_XSI_NS)) : NULL;
  char *colon = t ? strchr (t, ':') : NULL;

  if (colon)
    memmove (t, colon + 1, strlen (colon + 1) + 1);
  return t;
}

/* ---- calls ---- */

/* The fault of a response body: its type ("InvalidLogin") and message.
 * Returns 1 when BODY holds a SOAP fault. */
static int
parse_fault (xmlNodePtr body, char **type, char **msg)
{
  xmlNodePtr f = NULL, detail, d;

  for (xmlNodePtr c = body ? body->children : NULL; c; c = c->next)
    if (is_elem (c, VMI_VMW_SOAP_NS, "Fault"))
      f = c;
  if (f == NULL)
    return 0;
  *msg = vmi_vmw_child_text (f, "faultstring");
  *type = NULL;
  detail = vmi_vmw_child (f, "detail");
  for (d = detail ? detail->children : NULL; d; d = d->next)
    if (d->type == XML_ELEMENT_NODE)
      break;
  if (d) {
    *type = vmi_vmw_xsi_type (d);
    if (*type == NULL) {
      size_t n = strlen ((const char *) d->name);
      *type = strdup ((const char *) d->name);
      if (*type && n > 5 && strcmp (*type + n - 5, "Fault") == 0)
        (*type)[n - 5] = '\0';
    }
  }
  if (*type == NULL)
    *type = strdup ("SOAP fault");
  return 1;
}

static int
fault_errno (const char *type)
{
  if (!strcmp (type, "InvalidLogin") || !strcmp (type, "NotAuthenticated")
      || !strcmp (type, "NoPermission"))
    return EACCES;
  if (!strcmp (type, "ManagedObjectNotFound") || !strcmp (type, "NotFound")
      || !strcmp (type, "FileNotFound"))
    return ENOENT;
  if (!strcmp (type, "InvalidPowerState") || !strcmp (type, "TaskInProgress")
      || !strcmp (type, "InvalidState"))
    return EBUSY;
  if (!strcmp (type, "ToolsUnavailable"))
    return ENOTSUP;
  return EIO;
}

/* The first element of the Body. */
static xmlNodePtr
response_elem (xmlDocPtr doc)
{
  xmlNodePtr n = doc ? xmlDocGetRootElement (doc) : NULL;

  for (n = n ? n->children : NULL; n; n = n->next)
    if (is_elem (n, VMI_VMW_SOAP_NS, "Body"))
      break;
  for (n = n ? n->children : NULL; n; n = n->next)
    if (n->type == XML_ELEMENT_NODE)
      return n;
  return NULL;
}

/* One POST of the serialized request.  Under s->lock.  Returns the parsed
 * response or NULL (error recorded); *FAULT gets the fault type. */
static xmlDocPtr
post (struct vmi_vmw_soap *s, const char *method, xmlChar *xml, int len,
      char **fault, char **used_cookie, int *transient)
{
  struct reply r = { 0 };
  struct curl_slist *hdr = NULL;
  CURLcode rc;
  long status = 0;
  xmlDocPtr doc = NULL;

  *fault = NULL;
  *transient = 0;
  hdr = curl_slist_append (hdr, "Content-Type: text/xml; charset=utf-8");
  hdr = curl_slist_append (hdr, "SOAPAction: \"urn:vim25/6.5\"");
  curl_easy_setopt (s->h, CURLOPT_HTTPHEADER, hdr);
  curl_easy_setopt (s->h, CURLOPT_POSTFIELDS, (const char *) xml);
  curl_easy_setopt (s->h, CURLOPT_POSTFIELDSIZE, (long) len);
  curl_easy_setopt (s->h, CURLOPT_WRITEDATA, &r);
  curl_easy_setopt (s->h, CURLOPT_HEADERDATA, &r);
  curl_easy_setopt (s->h, CURLOPT_COOKIE, s->cookie);
  *used_cookie = s->cookie ? strdup (s->cookie) : NULL;
  s->errbuf[0] = '\0';
  rc = curl_easy_perform (s->h);
  curl_easy_setopt (s->h, CURLOPT_POSTFIELDS, NULL);
  curl_slist_free_all (hdr);
  curl_easy_getinfo (s->h, CURLINFO_RESPONSE_CODE, &status);
  if (rc != CURLE_OK) {
    const char *d = s->errbuf[0] ? s->errbuf : curl_easy_strerror (rc);
    /* 2: nothing reached the server; 1: it may have */
    *transient = rc == CURLE_COULDNT_CONNECT ? 2
                 : rc == CURLE_RECV_ERROR || rc == CURLE_SEND_ERROR
                   || rc == CURLE_GOT_NOTHING || rc == CURLE_OPERATION_TIMEDOUT
                   || rc == CURLE_SSL_CONNECT_ERROR ? 1 : 0;
    if (rc == CURLE_PEER_FAILED_VERIFICATION) {
      errno = EPERM;
      vmi_error ("%s: %s: TLS certificate verification failed: %s (give the "
                 "server's CA with --ca-cert FILE or the Secret's caCert)",
                 s->endpoint, method, d);
    }
    else {
      errno = rc == CURLE_OPERATION_TIMEDOUT ? ETIMEDOUT
              : rc == CURLE_COULDNT_CONNECT ? ECONNREFUSED : EIO;
      vmi_error ("%s: %s: %s", s->endpoint, method,
                 r.too_big ? "response too large" : d);
    }
    goto out;
  }
  if (r.cookie) {
    wipe_free (s->cookie);
    s->cookie = r.cookie;
    r.cookie = NULL;
  }
  doc = vmi_vmw_soap_parse (s->endpoint, method, r.body, r.len, status, fault);
  if (doc == NULL && *fault == NULL
      && (status == 502 || status == 503 || status == 504 || status == 429))
    *transient = 1;   /* a busy server or a proxy in front of it */
 out:
  free (r.body);
  wipe_free (r.cookie);
  return doc;
}

xmlDocPtr
vmi_vmw_soap_parse (const char *endpoint, const char *method, const char *xml,
                    size_t len, long status, char **fault)
{
  xmlDocPtr doc = NULL;
  xmlNodePtr body;
  char *ftype = NULL, *fmsg = NULL;

  *fault = NULL;
  if (len > MAX_RESPONSE) {
    errno = EFBIG;
    vmi_error ("%s: %s: response too large", endpoint, method);
    return NULL;
  }
  doc = xml ? xmlReadMemory (xml, (int) len, "soap.xml", NULL,
                             XML_PARSE_NONET | XML_PARSE_NOBLANKS
                             | XML_PARSE_NOERROR | XML_PARSE_NOWARNING)
            : NULL;
  body = doc ? xmlDocGetRootElement (doc) : NULL;
  if (body == NULL || !is_elem (body, VMI_VMW_SOAP_NS, "Envelope")) {
    errno = EIO;
    vmi_error ("%s: %s: the server answered HTTP %ld without a SOAP "
               "envelope (is this a vSphere /sdk endpoint?)", endpoint,
               method, status);
    goto fail;
  }
  for (body = body->children; body; body = body->next)
    if (is_elem (body, VMI_VMW_SOAP_NS, "Body"))
      break;
  if (parse_fault (body, &ftype, &fmsg)) {
    errno = fault_errno (ftype);
    if (!strcmp (ftype, "InvalidLogin"))
      vmi_error ("%s: %s: authentication failed (InvalidLogin: %s): the "
                 "server refused the user name and password", endpoint,
                 method, fmsg ? fmsg : "");
    else
      vmi_error ("%s: %s: %s%s%s", endpoint, method, ftype,
                 fmsg && *fmsg ? ": " : "", fmsg ? fmsg : "");
    *fault = ftype;
    ftype = NULL;
    goto fail;
  }
  if (body == NULL || status != 200 || response_elem (doc) == NULL) {
    errno = EIO;
    vmi_error ("%s: %s: the server answered HTTP %ld%s", endpoint, method,
               status, body ? "" : " without a SOAP body");
    goto fail;
  }
  free (fmsg);
  return doc;
 fail:
  xmlFreeDoc (doc);
  free (ftype);
  free (fmsg);
  return NULL;
}

/* Calls that change nothing (or nothing that matters twice): retried
 * after any transient failure.  Others only when nothing was sent. */
static bool
idempotent (const char *method)
{
  static const char *const m[] = {
    "RetrieveServiceContent", "RetrievePropertiesEx",
    "ContinueRetrievePropertiesEx", "FindByInventoryPath",
    "CreateContainerView", "DestroyView", "Login", NULL,
  };

  for (int i = 0; m[i]; i++)
    if (strcmp (method, m[i]) == 0)
      return true;
  return false;
}

static xmlDocPtr
call_once (struct vmi_vmw_soap *s, xmlNodePtr method, char **fault,
           char **used_cookie)
{
  xmlChar *xml = NULL;
  int len = 0, transient;
  xmlDocPtr r;
  struct vmi_retry rt;
  const char *name = (const char *) method->name;

  xmlDocDumpMemory (method->doc, &xml, &len);
  if (xml == NULL) {
    errno = ENOMEM;
    vmi_error ("out of memory");
    return NULL;
  }
  vmi_retry_start (&rt, &s->retry);
  for (;;) {
    pthread_mutex_lock (&s->lock);
    r = post (s, name, xml, len, fault, used_cookie, &transient);
    pthread_mutex_unlock (&s->lock);
    if (r || !(transient == 2 || (transient == 1 && idempotent (name)))
        || !vmi_retry_again (&rt, s->endpoint, vmi_error_get ()))
      break;
    free (*used_cookie);
    *used_cookie = NULL;
  }
  explicit_bzero (xml, (size_t) len);   /* a Login carries the password */
  xmlFree (xml);
  return r;
}

static int login (struct vmi_vmw_soap *s);

xmlDocPtr
vmi_vmw_soap_call (struct vmi_vmw_soap *s, xmlNodePtr method, xmlNodePtr *ret)
{
  xmlDocPtr r = NULL;
  char *fault = NULL, *used = NULL;

  if (method == NULL) {
    errno = ENOMEM;
    vmi_error ("out of memory");
    return NULL;
  }
  r = call_once (s, method, &fault, &used);
  if (r == NULL && fault && !strcmp (fault, "NotAuthenticated")
      && strcmp ((const char *) method->name, "Logout") != 0
      && s->password) {
    /* The session expired: log in again, once, and repeat the call. */
    vmi_log (VMI_LOG_INFO, "%s: session expired; logging in again",
             s->endpoint);
    free (fault);
    fault = NULL;
    if (vmi_vmw_soap_renew (s, used) == 0) {
      free (used);
      used = NULL;
      r = call_once (s, method, &fault, &used);
    }
  }
  free (fault);
  free (used);
  xmlFreeDoc (method->doc);
  if (r && ret && (*ret = response_elem (r)) == NULL) {
    xmlFreeDoc (r);
    errno = EIO;
    vmi_error ("%s: empty SOAP body", s->endpoint);
    return NULL;
  }
  return r;
}

static int
login (struct vmi_vmw_soap *s)
{
  const char *sm_type, *sm = vmi_vmw_soap_service (s, "sessionManager", &sm_type);
  xmlNodePtr m, pw;
  xmlDocPtr r;
  char *fault = NULL, *used = NULL;

  if (s->username == NULL || s->password == NULL) {
    errno = EACCES;
    vmi_error ("%s: a user name and a password are needed (USER@ in the "
               "URL or --user, and --password-file, the Secret or "
               "VMIMPORT_PASSWORD)", s->endpoint);
    return -1;
  }
  m = vmi_vmw_req_new ("Login", sm_type ? sm_type : "SessionManager",
                   sm ? sm : "SessionManager");
  if (m == NULL)
    goto nomem;
  vmi_vmw_req_add (m, "userName", s->username);
  pw = vmi_vmw_req_add (m, "password", s->password);
  r = call_once (s, m, &fault, &used);
  if (pw && pw->children && pw->children->content)
    explicit_bzero (pw->children->content,
                    strlen ((const char *) pw->children->content));
  xmlFreeDoc (m->doc);
  free (fault);
  free (used);
  if (r == NULL)
    return -1;
  xmlFreeDoc (r);
  pthread_mutex_lock (&s->lock);
  s->logins++;
  if (s->cookie == NULL) {
    pthread_mutex_unlock (&s->lock);
    errno = EIO;
    vmi_error ("%s: Login succeeded but the server set no "
               "vmware_soap_session cookie", s->endpoint);
    return -1;
  }
  pthread_mutex_unlock (&s->lock);
  return 0;
 nomem:
  errno = ENOMEM;
  vmi_error ("out of memory");
  return -1;
}

int
vmi_vmw_soap_renew (struct vmi_vmw_soap *s, const char *refused)
{
  static pthread_mutex_t renew_lock = PTHREAD_MUTEX_INITIALIZER;
  int r = 0;

  /* One renewal at a time; a thread that finds the cookie already changed
   * uses the new one. */
  pthread_mutex_lock (&renew_lock);
  pthread_mutex_lock (&s->lock);
  if (refused == NULL || s->cookie == NULL || strcmp (s->cookie, refused) == 0) {
    wipe_free (s->cookie);
    s->cookie = NULL;
    pthread_mutex_unlock (&s->lock);
    r = login (s);
  }
  else
    pthread_mutex_unlock (&s->lock);
  pthread_mutex_unlock (&renew_lock);
  return r;
}

int
vmi_vmw_soap_connect (struct vmi_vmw_soap *s)
{
  xmlNodePtr m = vmi_vmw_req_new ("RetrieveServiceContent", "ServiceInstance",
                              "ServiceInstance"), ret, rv;
  xmlDocPtr r = vmi_vmw_soap_call (s, m, &ret);

  if (r == NULL)
    return -1;
  rv = vmi_vmw_child (ret, "returnval");
  for (size_t i = 0; i < sizeof s->svc / sizeof s->svc[0]; i++) {
    xmlNodePtr n;
    if (s->svc[i].field == NULL)
      continue;
    n = vmi_vmw_child (rv, s->svc[i].field);
    s->svc[i].type = vmi_vmw_attr (n, "type");
    s->svc[i].value = vmi_vmw_text (n);
  }
  xmlFreeDoc (r);
  if (vmi_vmw_soap_service (s, "propertyCollector", NULL) == NULL
      || vmi_vmw_soap_service (s, "sessionManager", NULL) == NULL) {
    errno = EIO;
    vmi_error ("%s: the service content names no property collector or "
               "session manager", s->endpoint);
    return -1;
  }
  return login (s);
}

void
vmi_vmw_soap_unref (struct vmi_vmw_soap *s)
{
  int refs;

  if (s == NULL)
    return;
  pthread_mutex_lock (&s->lock);
  refs = --s->refs;
  pthread_mutex_unlock (&s->lock);
  if (refs > 0)
    return;
  if (s->cookie) {
    const char *t, *sm = vmi_vmw_soap_service (s, "sessionManager", &t);
    xmlDocPtr r = vmi_vmw_soap_call (s, vmi_vmw_req_new ("Logout", t, sm), NULL);
    xmlFreeDoc (r);
  }
  curl_easy_cleanup (s->h);
  pthread_mutex_destroy (&s->lock);
  for (size_t i = 0; i < sizeof s->svc / sizeof s->svc[0]; i++) {
    free (s->svc[i].type);
    free (s->svc[i].value);
  }
  free (s->endpoint);
  free (s->username);
  wipe_free (s->password);
  wipe_free (s->cookie);
  free (s);
}
