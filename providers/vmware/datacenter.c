/* VMware: the datacenter a path names.  vCenter allows datacenters inside
 * folders (virt-v2v's vpx:// takes /Folder/Datacenter/...): the first
 * prefix of the path that FindByInventoryPath says is a Datacenter is the
 * datacenter, the rest is its VM folder.  A path with none is an error
 * that lists the datacenters there are. */
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

/* "DC0, F0/DC1": every datacenter's inventory path, for an error.  The
 * folders under rootFolder are walked (childEntity), not the datacenters'
 * own trees.  NULL when they cannot be listed. */
static char *
list_datacenters (struct vmi_vmw_soap *s)
{
  static const char *const named[] = { "name", "parent", NULL };
  const char *rt, *root = vmi_vmw_soap_service (s, "rootFolder", &rt);
  xmlNodePtr spec, os, sel, m = vmi_vmw_retrieve_req (s, &spec);
  struct vmi_vmw_objs iv = { 0 };
  char *list = NULL;
  size_t len = 0;
  FILE *f;

  if (m == NULL || root == NULL) {
    xmlFreeDoc (m ? m->doc : NULL);
    return NULL;
  }
  vmi_vmw_prop_spec (spec, "Folder", named);
  vmi_vmw_prop_spec (spec, "Datacenter", named);
  os = vmi_vmw_req_add (spec, "objectSet", NULL);
  vmi_vmw_req_moref (os, "obj", rt, root);
  vmi_vmw_req_add (os, "skip", "false");
  sel = vmi_vmw_req_add (os, "selectSet", NULL);
  vmi_vmw_req_xsi_type (sel, "TraversalSpec");
  vmi_vmw_req_add (sel, "name", "folders");
  vmi_vmw_req_add (sel, "type", "Folder");
  vmi_vmw_req_add (sel, "path", "childEntity");
  vmi_vmw_req_add (sel, "skip", "false");
  vmi_vmw_req_add (vmi_vmw_req_add (sel, "selectSet", NULL), "name", "folders");
  if (vmi_vmw_retrieve_all (s, m, &iv) == -1 || (f = open_memstream (&list, &len)) == NULL) {
    vmi_vmw_objs_free (&iv);
    return NULL;
  }
  for (size_t i = 0; i < iv.n; i++) {
    const struct vmi_vmw_obj *o = &iv.v[i];
    char *path;
    int depth = 0;
    if (strcmp (o->type, "Datacenter") != 0 || o->name == NULL)
      continue;
    path = strdup (o->name);
    for (const char *pa = o->parent; path && pa && strcmp (pa, root) != 0
         && depth++ < 256;) {
      const struct vmi_vmw_obj *up = vmi_vmw_objs_find (&iv, pa);
      char *np;
      if (up == NULL || up->name == NULL)
        break;
      if (asprintf (&np, "%s/%s", up->name, path) == -1)
        np = NULL;
      free (path);
      path = np;
      pa = up->parent;
    }
    if (path)
      fprintf (f, "%s%s", ftell (f) ? ", " : "", path);
    free (path);
  }
  fclose (f);
  vmi_vmw_objs_free (&iv);
  return list;
}

int
vmi_vmw_datacenter (struct vmi_vmw_soap *s, const char *path, char **dc,
                    char **rest)
{
  char *norm = malloc (strlen (path) + 1), *o = norm, *end, *list,
       *found = NULL;
  int r = -1;

  *dc = *rest = NULL;
  if (norm == NULL)
    return nomem ();
  /* "a//b/" is "a/b" */
  for (const char *q = path + strspn (path, "/"); *q; q++)
    if (*q != '/' || (q[1] != '/' && q[1] != '\0'))
      *o++ = *q;
  *o = '\0';
  /* Datacenters do not nest: the first prefix that is one is the only one;
   * the prefixes before it must be folders. */
  for (end = norm; *norm;) {
    char *ref, save;
    end += strcspn (end, "/");
    save = *end;
    *end = '\0';
    free (found);
    found = NULL;
    ref = vmi_vmw_find_path (s, norm, &found);
    if (ref == NULL && errno != ENOENT)
      goto out;
    if (ref == NULL) {
      free (found);
      found = NULL;
    }
    free (ref);
    if (found && strcmp (found, "Datacenter") == 0) {
      *dc = strdup (norm);
      *end = save;
      *rest = strdup (end + (save == '/'));
      if (*dc == NULL || *rest == NULL) {
        nomem ();
        goto out;
      }
      r = 0;
      goto out;
    }
    if (found == NULL || strcmp (found, "Folder") != 0 || save == '\0')
      break;
    *end++ = '/';
  }
  list = list_datacenters (s);
  errno = ENOENT;
  if (found == NULL)
    vmi_error ("%s: datacenter %s not found (no datacenter on the path %s; "
               "the datacenters are: %s)", vmi_vmw_soap_endpoint (s), norm,
               path, list && *list ? list : "none found");
  else
    vmi_error ("%s: no datacenter on the path %s (%s is a %s; the "
               "datacenters are: %s)", vmi_vmw_soap_endpoint (s), path, norm,
               found, list && *list ? list : "none found");
  free (list);
 out:
  if (r == -1) {
    free (*dc);
    free (*rest);
    *dc = *rest = NULL;
  }
  free (found);
  free (norm);
  return r;
}

