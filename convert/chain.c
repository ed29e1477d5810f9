/* Backing chains: the parent of a delta image, opened beside it, with
 * loops and runaway depth refused (see chain.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vmimport/error.h"
#include "chain.h"

static _Thread_local char *opening[VMI_CHAIN_MAX + 2];
static _Thread_local int nopening;

char *
vmi_path_normalize (const char *path)
{
  size_t n = strlen (path);
  char *out = malloc (n + 2), *o = out;
  const char *p = path;

  if (out == NULL)
    return NULL;
  if (*p == '/')
    *o++ = '/';
  while (*p) {
    const char *s;
    size_t len;
    while (*p == '/')
      p++;
    s = p;
    while (*p && *p != '/')
      p++;
    len = p - s;
    if (len == 0 || (len == 1 && s[0] == '.'))
      continue;
    if (len == 2 && s[0] == '.' && s[1] == '.') {
      char *last;
      *o = '\0';
      last = strrchr (out, '/');
      last = last ? last + 1 : out;
      if (*last && strcmp (last, "..") != 0) {
        o = last;
        if (o > out + 1 || (o == out + 1 && out[0] != '/'))
          o--;                  /* and the separator before it */
        continue;
      }
    }
    if (o > out && o[-1] != '/')
      *o++ = '/';
    memcpy (o, s, len);
    o += len;
  }
  *o = '\0';
  return out;
}

/* The parent's siblings: names relative to its folder. */
static struct vmi_layer *
link_open (const struct vmi_opener *o, const char *relpath)
{
  const struct vmi_chain_link *k = (const struct vmi_chain_link *) o;
  struct vmi_layer *l;
  char *path;

  if (relpath[0] == '/' || k->dir[0] == '\0')
    return k->siblings->open (k->siblings, relpath);
  if (asprintf (&path, "%s%s", k->dir, relpath) == -1) {
    errno = ENOMEM;
    vmi_error ("%s: out of memory", relpath);
    return NULL;
  }
  l = k->siblings->open (k->siblings, path);
  free (path);
  return l;
}

static int
seen (const char *key)
{
  for (int i = 0; i < nopening; i++)
    if (strcmp (opening[i], key) == 0)
      return 1;
  return 0;
}

struct vmi_layer *
vmi_chain_enter (struct vmi_chain_link *link, const char *child,
                 const char *name, const struct vmi_opener *siblings)
{
  const char *slash = strrchr (name, '/');
  struct vmi_layer *f;

  memset (link, 0, sizeof *link);
  if (siblings == NULL) {
    errno = ENOTSUP;
    vmi_error ("%s: has parent \"%s\" but files beside this image cannot be "
               "opened here", child, name);
    return NULL;
  }
  if (nopening > VMI_CHAIN_MAX) {
    errno = ELOOP;
    vmi_error ("%s: chain of parents is longer than %d files (parent \"%s\")",
               child, VMI_CHAIN_MAX, name);
    return NULL;
  }
  if ((f = siblings->open (siblings, name)) == NULL) {
    vmi_error_prefix ("%s: parent \"%s\"", child, name);
    return NULL;
  }
  link->key = vmi_path_normalize (f->name);
  /* The top of a chain goes on the stack with its first parent. */
  if (nopening == 0)
    link->top = vmi_path_normalize (child);
  link->dir = strndup (name, slash ? (size_t) (slash - name + 1) : 0);
  if (link->key == NULL || link->dir == NULL
      || (nopening == 0 && link->top == NULL)) {
    errno = ENOMEM;
    vmi_error ("%s: out of memory", child);
    goto err;
  }
  if (seen (link->key) || (link->top && strcmp (link->top, link->key) == 0)) {
    errno = ELOOP;
    vmi_error ("%s: parent loop: \"%s\" is already in this disk's chain",
               child, f->name);
    goto err;
  }
  link->o.open = link_open;
  link->siblings = siblings;
  if (link->top)
    opening[nopening++] = link->top;
  opening[nopening++] = link->key;
  return f;
 err:
  vmi_layer_close (f);
  vmi_chain_leave (link);
  return NULL;
}

void
vmi_chain_leave (struct vmi_chain_link *link)
{
  if (link->key && nopening > 0 && opening[nopening - 1] == link->key)
    nopening--;
  if (link->top && nopening > 0 && opening[nopening - 1] == link->top)
    nopening--;
  free (link->key);
  free (link->top);
  free (link->dir);
  memset (link, 0, sizeof *link);
}
