/* Cayenne LPP as the raw MQTT payload (docs/payloads/lpp.md): one frame = one reading; the
 * route's channel map names the fields, the topic names the sensor. */
#include "cityhub/adapter.h"
#include "cityhub/error.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "lpp_decode.h"

struct lpp_state {
	char *kind; /* NULL = the route's default kind */
	struct hub_lpp_map *map;
};

static const char *const lpp_option_keys[] = {"kind", "channels", "unmapped", NULL};

static int check_keys(const json_t *options, char *err, size_t errlen)
{
	const char *key;
	json_t *v;
	json_object_foreach((json_t *)options, key, v) {
		size_t i = 0;
		while (lpp_option_keys[i] && strcmp(lpp_option_keys[i], key) != 0)
			i++;
		if (!lpp_option_keys[i]) {
			snprintf(err, errlen,
			         "options: unknown key %.40s (kind, channels, unmapped)", key);
			return HUB_EINVAL;
		}
	}
	return HUB_OK;
}

static void free_state(void *p)
{
	struct lpp_state *s = p;
	if (!s)
		return;
	hub_lpp_map_free(s->map);
	free(s->kind);
	free(s);
}

static int init(const json_t *options, void **state, char *err, size_t errlen)
{
	const json_t *kind = json_object_get(options, "kind");
	if (check_keys(options, err, errlen) != HUB_OK)
		return HUB_EINVAL;
	if (kind && (!json_is_string(kind) || json_string_length(kind) == 0)) {
		snprintf(err, errlen, "options.kind must be a kind name");
		return HUB_EINVAL;
	}
	if (!json_is_object(json_object_get(options, "channels"))) {
		snprintf(err, errlen, "options.channels is required: {channel: field, ...}");
		return HUB_EINVAL;
	}
	struct lpp_state *s = hub_xcalloc(1, sizeof(*s));
	s->map = hub_lpp_map_new(options, err, errlen);
	s->kind = kind ? hub_xstrdup(json_string_value(kind)) : NULL;
	if (!s->map) {
		free_state(s);
		return HUB_EINVAL;
	}
	*state = s;
	return HUB_OK;
}

static int decode(const struct hub_msg *msg, const void *state, struct hub_recset *out,
                  struct hub_reject *rej)
{
	const struct lpp_state *s = state;
	struct hub_record *rec = hub_recset_add(out);
	if (!rec)
		return hub_reject(rej, HUB_R_TOO_MANY, "too many readings in one message");
	if (s->kind)
		rec->kind = hub_recset_strdup(out, s->kind);
	int rc = hub_lpp_decode(s->map, msg->payload, msg->len, out, rec, rej);
	if (rc == HUB_OK && rec->nfields == 0)
		rc = hub_reject(rej, HUB_R_EMPTY, "no mapped channel in the frame");
	return rc;
}

const struct hub_adapter hub_adapter_lpp = {
    .name = "lpp",
    .doc = "Cayenne LPP binary frame; options.channels maps channel numbers to fields",
    .init = init,
    .free_state = free_state,
    .decode = decode,
};
