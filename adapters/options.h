/* Route options shared by the JSON adapters (senml, ngsi): building a per-route state key by key,
 * and the "name -> canonical field" maps. Pure functions; they never log, a message goes to the
 * caller's err buffer. JSON values passed in are borrowed. */
#ifndef HUB_OPTIONS_H
#define HUB_OPTIONS_H

#include <jansson.h>
#include <stddef.h>

/* Builds an adapter state: size zeroed bytes, then one(key, value, state, err, errlen) for each
 * key of options (an object, or NULL for none) until one fails. HUB_OK with *state set (the
 * caller frees it with free_state); else HUB_EINVAL with err filled, the state freed with
 * free_state and *state untouched. */
int hub_options_init(const json_t *options, size_t size,
                     int (*one)(const char *key, json_t *v, void *state, char *err, size_t errlen),
                     void (*free_state)(void *state), void **state, char *err, size_t errlen);

/* Checks that option `opt` (value v) maps names to field names (non-empty strings) and sets *out
 * to a deep copy the caller decrefs; what says what it maps in the message ("a SenML name to a
 * field name").
 * HUB_EINVAL with err filled and *out untouched otherwise. */
int hub_options_field_map(json_t *v, const char *opt, const char *what, json_t **out, char *err,
                          size_t errlen);

#endif
