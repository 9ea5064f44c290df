/* Reads a YAML document into a jansson tree, so scenario files can be merged and walked
 * like JSON. Plain scalars become integers, reals, booleans or null when they read as such;
 * quoted scalars stay strings. Anchors and aliases are refused. */
#ifndef SIM_YAMLTREE_H
#define SIM_YAMLTREE_H

#include <jansson.h>
#include <stddef.h>

/* Parses the YAML file at path into *out (a new reference the caller decrefs). On error
 * returns HUB_EIO or HUB_EPARSE and writes "file:line: why" into err. */
int sim_yaml_load(const char *path, json_t **out, char *err, size_t errlen);

/* Same as sim_yaml_load for len bytes of YAML text; name is used in messages. */
int sim_yaml_parse(const char *text, size_t len, const char *name, json_t **out, char *err,
                   size_t errlen);

/* Merges overlay into base: objects merge key by key, recursively; anything else replaces. */
void sim_json_merge(json_t *base, json_t *overlay);

#endif
