/* VMware: the property collector's answers as a list of objects (moref,
 * type, the few properties the inventory needs by name, the rest kept in
 * their documents), RetrievePropertiesEx requests continued page by page
 * with ContinueRetrievePropertiesEx, and SearchIndex.FindByInventoryPath. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vmimport/error.h"
#include "vmware-internal.h"

static int
nomem (void)
{
  errno = ENOMEM;
  vmi_error ("out of memory");
  return -1;
}

void
vmi_vmw_obj_clear (struct vmi_vmw_obj *o)
{
  free (o->type);
  free (o->moref);
  free (o->name);
  free (o->parent);
  free (o->key);
  free (o->url);
}

void
vmi_vmw_objs_free (struct vmi_vmw_objs *iv)
{
  for (size_t i = 0; i < iv->n; i++)
    vmi_vmw_obj_clear (&iv->v[i]);
  free (iv->v);
  for (size_t i = 0; i < iv->ndocs; i++)
    xmlFreeDoc (iv->docs[i]);
  free (iv->docs);
}

/* The propSet whose name is PATH in an objects element; its val. */
xmlNodePtr
vmi_vmw_prop (xmlNodePtr objects, const char *path)
{
  for (xmlNodePtr ps = vmi_vmw_child (objects, "propSet"); ps;
       ps = vmi_vmw_next (ps, "propSet")) {
    char *name = vmi_vmw_child_text (ps, "name");
    bool match = name && strcmp (name, path) == 0;
    free (name);
    if (match)
      return vmi_vmw_child (ps, "val");
  }
  return NULL;
}

char *
vmi_vmw_prop_text (xmlNodePtr objects, const char *path)
{
  return vmi_vmw_text (vmi_vmw_prop (objects, path));
}

int
vmi_vmw_objs_add (struct vmi_vmw_objs *iv, xmlNodePtr rv)
{
  for (xmlNodePtr o = vmi_vmw_child (rv, "objects"); o; o = vmi_vmw_next (o, "objects")) {
    struct vmi_vmw_obj *v, *x;
    xmlNodePtr ref = vmi_vmw_child (o, "obj");

    /* reportMissingObjectsInResults: an ID that names nothing comes back
     * with a missingSet and no properties. */
    if (vmi_vmw_child (o, "missingSet") && !vmi_vmw_child (o, "propSet"))
      continue;
    if ((v = realloc (iv->v, (iv->n + 1) * sizeof *v)) == NULL)
      return nomem ();
    iv->v = v;
    x = &v[iv->n++];
    memset (x, 0, sizeof *x);
    x->type = vmi_vmw_attr (ref, "type");
    x->moref = vmi_vmw_text (ref);
    x->name = vmi_vmw_prop_text (o, "name");
    x->parent = vmi_vmw_prop_text (o, "parent");
    x->key = vmi_vmw_prop_text (o, "key");
    x->url = vmi_vmw_prop_text (o, "summary.url");
    x->props = o;
    if (x->type == NULL || x->moref == NULL) {
      errno = EIO;
      vmi_error ("RetrievePropertiesEx: an object without a type or an id");
      return -1;
    }
  }
  return 0;
}

int
vmi_vmw_objs_keep (struct vmi_vmw_objs *iv, xmlDocPtr d)
{
  xmlDocPtr *v = realloc (iv->docs, (iv->ndocs + 1) * sizeof *v);

  if (v == NULL) {
    xmlFreeDoc (d);
    return nomem ();
  }
  iv->docs = v;
  v[iv->ndocs++] = d;
  return 0;
}

/* SearchIndex.FindByInventoryPath: the moref (and type) or NULL. */
char *
vmi_vmw_find_path (struct vmi_vmw_soap *s, const char *path, char **type)
{
  const char *t, *si = vmi_vmw_soap_service (s, "searchIndex", &t);
  xmlNodePtr m = vmi_vmw_req_new ("FindByInventoryPath", t, si), ret, rv;
  xmlDocPtr r;
  char *v;

  if (m)
    vmi_vmw_req_add (m, "inventoryPath", path);
  if ((r = vmi_vmw_soap_call (s, m, &ret)) == NULL)
    return NULL;
  rv = vmi_vmw_child (ret, "returnval");
  v = vmi_vmw_text (rv);
  if (type)
    *type = vmi_vmw_attr (rv, "type");
  xmlFreeDoc (r);
  if (v == NULL)
    errno = ENOENT;
  return v;
}

/* A RetrievePropertiesEx request; *SPEC gets its specSet. */
xmlNodePtr
vmi_vmw_retrieve_req (struct vmi_vmw_soap *s, xmlNodePtr *spec)
{
  const char *t, *pc = vmi_vmw_soap_service (s, "propertyCollector", &t);
  xmlNodePtr m = vmi_vmw_req_new ("RetrievePropertiesEx", t, pc);

  if (m)
    *spec = vmi_vmw_req_add (m, "specSet", NULL);
  return m;
}

void
vmi_vmw_prop_spec (xmlNodePtr spec, const char *type, const char *const *paths)
{
  xmlNodePtr ps = vmi_vmw_req_add (spec, "propSet", NULL);

  vmi_vmw_req_add (ps, "type", type);
  for (int i = 0; paths[i]; i++)
    vmi_vmw_req_add (ps, "pathSet", paths[i]);
}

/* Send M (a RetrievePropertiesEx) and every ContinueRetrievePropertiesEx
 * its token asks for; the objects go to IV. */
int
vmi_vmw_retrieve_all (struct vmi_vmw_soap *s, xmlNodePtr m, struct vmi_vmw_objs *iv)
{
  const char *t, *pc = vmi_vmw_soap_service (s, "propertyCollector", &t);
  xmlNodePtr ret, rv;
  xmlDocPtr r;
  char *token;

  if (m == NULL)
    return nomem ();
  vmi_vmw_req_add (vmi_vmw_req_add (m, "options", NULL), "maxObjects", "500");
  if ((r = vmi_vmw_soap_call (s, m, &ret)) == NULL)
    return -1;
  for (;;) {
    rv = vmi_vmw_child (ret, "returnval");
    if (vmi_vmw_objs_keep (iv, r) == -1 || vmi_vmw_objs_add (iv, rv) == -1)
      return -1;
    token = vmi_vmw_child_text (rv, "token");
    if (token == NULL)
      return 0;
    m = vmi_vmw_req_new ("ContinueRetrievePropertiesEx", t, pc);
    if (m)
      vmi_vmw_req_add (m, "token", token);
    free (token);
    if ((r = vmi_vmw_soap_call (s, m, &ret)) == NULL)
      return -1;
  }
}

struct vmi_vmw_obj *
vmi_vmw_objs_find (struct vmi_vmw_objs *iv, const char *moref)
{
  for (size_t i = 0; moref && i < iv->n; i++)
    if (strcmp (iv->v[i].moref, moref) == 0)
      return &iv->v[i];
  return NULL;
}

