/* Route options shared by the JSON adapters (senml, ngsi): the "name -> canonical field" maps,
 * which their option tables (cityhub/options.h) declare as mappings. Pure functions; they never log, a message goes to the
 * caller's err buffer. JSON values passed in are borrowed. */
#ifndef HUB_OPTIONS_H
#define HUB_OPTIONS_H

#include <jansson.h>
#include <stddef.h>

/* Checks that option `opt` (value v, an object, or NULL for none) maps names to field names
 * (non-empty strings); what says what it maps in the message ("a SenML name to a field name").
 * HUB_EINVAL with err filled otherwise. */
int hub_options_field_map(const json_t *v, const char *opt, const char *what, char *err,
                          size_t errlen);

#endif
