/* libyaml documents as vmimport reads them (core/import.c, the source
 * objects of providers/ova/yaml.c): every document of a stream loaded at
 * once, values looked up by key.  Internal to the library. */
#ifndef VMIMPORT_YAML_UTIL_H
#define VMIMPORT_YAML_UTIL_H

#include <stdbool.h>
#include <stddef.h>

#include <yaml.h>

/* Documents one file may hold at most. */
#define VMI_YAML_MAX_DOCS 64

/* Is K a scalar that reads KEY? */
bool vmi_yaml_key_is(const yaml_node_t *k, const char *key);
/* The value of KEY in MAP (a mapping of D), or NULL. */
yaml_node_t *vmi_yaml_map_get(yaml_document_t *d, yaml_node_t *map,
                              const char *key);
/* A scalar's text (copied), or NULL (not a scalar, or no memory). */
char *vmi_yaml_scalar(const yaml_node_t *n);

/* Load every document of TEXT into DOCS (room for VMI_YAML_MAX_DOCS); the
 * empty one that ends the stream is the last.  *NDOCS counts them, also
 * on failure: free them with vmi_yaml_free_docs either way.  0, or -1
 * with an error naming WHERE (and the line of a YAML error). */
int vmi_yaml_load_docs(const char *text, size_t len, const char *where,
                       yaml_document_t *docs, size_t *ndocs);
void vmi_yaml_free_docs(yaml_document_t *docs, size_t ndocs);

#endif
