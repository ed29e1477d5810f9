/* libyaml documents as vmimport reads them (see yaml-util.h). */
#include <errno.h>
#include <string.h>

#include "vmimport/error.h"
#include "yaml-util.h"

bool
vmi_yaml_key_is (const yaml_node_t *k, const char *key)
{
  return k && k->type == YAML_SCALAR_NODE
         && k->data.scalar.length == strlen (key)
         && memcmp (k->data.scalar.value, key, k->data.scalar.length) == 0;
}

yaml_node_t *
vmi_yaml_map_get (yaml_document_t *d, yaml_node_t *map, const char *key)
{
  if (map == NULL || map->type != YAML_MAPPING_NODE)
    return NULL;
  for (yaml_node_pair_t *p = map->data.mapping.pairs.start;
       p < map->data.mapping.pairs.top; p++)
    if (vmi_yaml_key_is (yaml_document_get_node (d, p->key), key))
      return yaml_document_get_node (d, p->value);
  return NULL;
}

char *
vmi_yaml_scalar (const yaml_node_t *n)
{
  if (n == NULL || n->type != YAML_SCALAR_NODE)
    return NULL;
  return strndup ((const char *) n->data.scalar.value, n->data.scalar.length);
}

int
vmi_yaml_load_docs (const char *text, size_t len, const char *where,
                    yaml_document_t *docs, size_t *ndocs)
{
  yaml_parser_t parser;
  int r = -1;

  *ndocs = 0;
  if (!yaml_parser_initialize (&parser)) {
    errno = ENOMEM;
    vmi_error ("%s: out of memory", where);
    return -1;
  }
  yaml_parser_set_input_string (&parser, (const unsigned char *) text, len);
  for (;;) {
    if (*ndocs == VMI_YAML_MAX_DOCS) {
      errno = EINVAL;
      vmi_error ("%s: more than %d YAML documents", where, VMI_YAML_MAX_DOCS);
      break;
    }
    if (!yaml_parser_load (&parser, &docs[*ndocs])) {
      errno = EINVAL;
      vmi_error ("%s: line %zu: YAML error: %s", where,
                 parser.problem_mark.line + 1,
                 parser.problem ? parser.problem : "malformed");
      break;
    }
    if (yaml_document_get_root_node (&docs[(*ndocs)++]) == NULL) {
      r = 0;   /* the end of the stream */
      break;
    }
  }
  yaml_parser_delete (&parser);
  return r;
}

void
vmi_yaml_free_docs (yaml_document_t *docs, size_t ndocs)
{
  for (size_t i = 0; i < ndocs; i++)
    yaml_document_delete (&docs[i]);
}
