/* Cayenne LPP as the raw MQTT payload (docs/payloads/lpp.md): one frame = one reading; the
 * route's channel map names the fields, the topic names the sensor. */
#include "cityhub/adapter.h"
#include "cityhub/error.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cityhub/buf.h"
#include "lpp_decode.h"

/* The route's options, filled by the option engine from the table below. */
struct lpp_options {
	char *kind;       /* NULL = the route's default kind */
	json_t *channels; /* channel number -> field (required) */
	int unmapped;     /* 0 reject, 1 skip */
};

struct lpp_state {
	const char *kind; /* borrowed from the options, which the pipeline keeps */
	struct hub_lpp_map *map;
};

#define OPT(member) HUB_OPT_AT(struct lpp_options, member)
static const struct hub_opt option_rows[] = {
	{.path = "kind", .type = HUB_OPT_STRING, .at = OPT(kind), .min = 1,
	 .doc = "Kind of the reading; none = the topic's `{kind}` or the route's `kind:`."},
	{.path = "channels", .type = HUB_OPT_JSON, .at = OPT(channels), .flags = HUB_OPT_REQUIRED,
	 .doc = "Channel number -> field name, `{field, unit}`, `{fields: [...], unit}` or null "
	        "(dropped); a channel mapped to `time` sets the time."},
	{.path = "unmapped", .type = HUB_OPT_ENUM, .at = OPT(unmapped), .def = "reject",
	 .names = hub_lpp_unmapped_names,
	 .doc = "A channel not in `channels`: reject the message, or skip the value."},
};
static const struct hub_opt_table options = HUB_OPT_TABLE(option_rows);

static void free_state(void *p)
{
	struct lpp_state *s = p;
	if (!s)
		return;
	hub_lpp_map_free(s->map);
	free(s);
}

static int init(const void *opts, const struct hub_schemas *schemas, void **state, char *err,
                size_t errlen)
{
	const struct lpp_options *o = opts;
	(void)schemas;
	if (!json_is_object(o->channels)) {
		snprintf(err, errlen, "options.channels is required: {channel: field, ...}");
		return HUB_EINVAL;
	}
	struct lpp_state *s = hub_xcalloc(1, sizeof(*s));
	s->map = hub_lpp_map_build(o->channels, o->unmapped, err, errlen);
	s->kind = o->kind;
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
    .options = &options,
    .options_size = sizeof(struct lpp_options),
    .init = init,
    .free_state = free_state,
    .decode = decode,
};
