/* The normalized VM description and its JSON form (vm.json). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "vmimport/error.h"
#include "vmimport/vm.h"

struct vmi_vm *
vmi_vm_new (const char *name)
{
  struct vmi_vm *vm = calloc (1, sizeof *vm);

  if (vm == NULL || (vm->name = strdup (name)) == NULL) {
    free (vm);
    errno = ENOMEM;
    vmi_error ("out of memory");
    return NULL;
  }
  vm->cpus = -1;
  vm->cores_per_socket = -1;
  vm->memory_mib = -1;
  vm->secure_boot = -1;
  vm->tpm = -1;
  return vm;
}

struct vmi_disk *
vmi_vm_add_disk (struct vmi_vm *vm)
{
  struct vmi_disk *v = realloc (vm->disks, (vm->ndisks + 1) * sizeof *v);
  struct vmi_disk *d;
  char file[32];

  if (v == NULL)
    goto nomem;
  vm->disks = v;
  d = &v[vm->ndisks];
  memset (d, 0, sizeof *d);
  d->index = (int) vm->ndisks;
  d->capacity = -1;
  d->allocated = -1;
  snprintf (file, sizeof file, "disk-%d.img", d->index);
  if ((d->file = strdup (file)) == NULL)
    goto nomem;
  vm->ndisks++;
  return d;
 nomem:
  errno = ENOMEM;
  vmi_error ("out of memory");
  return NULL;
}

struct vmi_nic *
vmi_vm_add_nic (struct vmi_vm *vm)
{
  struct vmi_nic *v = realloc (vm->nics, (vm->nnics + 1) * sizeof *v);

  if (v == NULL) {
    errno = ENOMEM;
    vmi_error ("out of memory");
    return NULL;
  }
  vm->nics = v;
  memset (&v[vm->nnics], 0, sizeof *v);
  v[vm->nnics].index = (int) vm->nnics;
  return &v[vm->nnics++];
}

void
vmi_vm_free (struct vmi_vm *vm)
{
  if (vm == NULL)
    return;
  for (size_t i = 0; i < vm->ndisks; i++) {
    struct vmi_disk *d = &vm->disks[i];
    free (d->file);
    free (d->bus);
    free (d->source_format);
    free (d->source_name);
    free (d->provider_data);
  }
  for (size_t i = 0; i < vm->nnics; i++) {
    free (vm->nics[i].network);
    free (vm->nics[i].model);
    free (vm->nics[i].mac);
  }
  free (vm->disks);
  free (vm->nics);
  free (vm->name);
  free (vm->id);
  free (vm->source_kind);
  free (vm->source_where);
  free (vm->folder);
  free (vm->power_state);
  free (vm->firmware);
  free (vm->guest_os);
  free (vm->guest_tools);
  free (vm);
}

static struct json_object *
str_or_null (const char *s)
{
  return s ? json_object_new_string (s) : NULL;
}

static struct json_object *
int_or_null (int64_t v)
{
  return v >= 0 ? json_object_new_int64 (v) : NULL;
}

char *
vmi_vm_to_json (const struct vmi_vm *vm)
{
  struct json_object *o = json_object_new_object ();
  struct json_object *src = json_object_new_object ();
  struct json_object *disks = json_object_new_array ();
  struct json_object *nics = json_object_new_array ();
  char *text = NULL;

  json_object_object_add (o, "name", str_or_null (vm->name));
  json_object_object_add (o, "id", str_or_null (vm->id));
  json_object_object_add (src, "kind", str_or_null (vm->source_kind));
  json_object_object_add (src, "where", str_or_null (vm->source_where));
  json_object_object_add (src, "folder", str_or_null (vm->folder));
  json_object_object_add (o, "source", src);
  json_object_object_add (o, "power_state", str_or_null (vm->power_state));
  json_object_object_add (o, "cpus", int_or_null (vm->cpus));
  json_object_object_add (o, "cores_per_socket",
                          int_or_null (vm->cores_per_socket));
  json_object_object_add (o, "memory_mib", int_or_null (vm->memory_mib));
  json_object_object_add (o, "firmware", str_or_null (vm->firmware));
  json_object_object_add (o, "secure_boot",
                          vm->secure_boot < 0 ? NULL
                          : json_object_new_boolean (vm->secure_boot));
  json_object_object_add (o, "tpm", vm->tpm < 0 ? NULL
                          : json_object_new_boolean (vm->tpm));
  json_object_object_add (o, "guest_os", str_or_null (vm->guest_os));
  json_object_object_add (o, "guest_tools", str_or_null (vm->guest_tools));
  for (size_t i = 0; i < vm->ndisks; i++) {
    const struct vmi_disk *d = &vm->disks[i];
    struct json_object *j = json_object_new_object ();
    json_object_object_add (j, "index", json_object_new_int (d->index));
    json_object_object_add (j, "file", str_or_null (d->file));
    json_object_object_add (j, "capacity", int_or_null (d->capacity));
    json_object_object_add (j, "allocated", int_or_null (d->allocated));
    json_object_object_add (j, "bus", str_or_null (d->bus));
    json_object_object_add (j, "source_format", str_or_null (d->source_format));
    json_object_object_add (j, "source_name", str_or_null (d->source_name));
    json_object_array_add (disks, j);
  }
  json_object_object_add (o, "disks", disks);
  for (size_t i = 0; i < vm->nnics; i++) {
    const struct vmi_nic *n = &vm->nics[i];
    struct json_object *j = json_object_new_object ();
    json_object_object_add (j, "index", json_object_new_int (n->index));
    json_object_object_add (j, "network", str_or_null (n->network));
    json_object_object_add (j, "model", str_or_null (n->model));
    json_object_object_add (j, "mac", str_or_null (n->mac));
    json_object_array_add (nics, j);
  }
  json_object_object_add (o, "nics", nics);

  const char *s = json_object_to_json_string_ext (
    o, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED
       | JSON_C_TO_STRING_NOSLASHESCAPE);
  if (s && (text = malloc (strlen (s) + 2)) != NULL) {
    strcpy (text, s);
    strcat (text, "\n");
  }
  json_object_put (o);
  if (text == NULL) {
    errno = ENOMEM;
    vmi_error ("vm.json: out of memory");
  }
  return text;
}

char *
vmi_vm_dir_name (const char *name)
{
  char *s;

  if (name == NULL || !*name || !strcmp (name, ".") || !strcmp (name, ".."))
    name = "vm";
  s = strdup (name);
  if (s == NULL) {
    errno = ENOMEM;
    vmi_error ("out of memory");
    return NULL;
  }
  for (char *p = s; *p; p++)
    if (*p == '/' || (unsigned char) *p < 0x20 || *p == 0x7f)
      *p = '_';
  return s;
}
