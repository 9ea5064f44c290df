/* Cayenne LPP frames: [channel][type][value bytes]..., big-endian, resolution fixed by the type
 * (IPSO object id - 3200). The type table below is the published one plus the common
 * extensions (generic, voltage, current, ..., switch). */
#include "lpp_decode.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cityhub/buf.h"
#include "cityhub/error.h"
#include "cityhub/timefmt.h"

#define LPP_UNIXTIME 133
#define MAX_NAME 128 /* longest field name a route may give */

struct lpp_type {
	uint8_t id;
	uint8_t nvals;
	uint8_t width; /* bytes per value */
	uint8_t is_signed;
	enum hub_ftype ftype;
	const char *name;
	uint32_t div[HUB_LPP_MAX_VALUES]; /* value = raw / div */
	const char *unit[HUB_LPP_MAX_VALUES];
	const char *const *suffix;
};

static const char *const xyz[] = {"_x", "_y", "_z"};
static const char *const latlonalt[] = {"_lat", "_lon", "_alt"};
static const char *const rgb[] = {"_r", "_g", "_b"};

#define ONE(id, name, width, sgn, ft, div, unit)                                                   \
	{                                                                                          \
		id, 1, width, sgn, HUB_FT_##ft, name, {div, 1, 1}, {unit, NULL, NULL}, NULL        \
	}
#define AXES(id, name, div, unit)                                                                  \
	{                                                                                          \
		id, 3, 2, 1, HUB_FT_DOUBLE, name, {div, div, div}, {unit, unit, unit}, xyz         \
	}

static const struct lpp_type types[] = {
    ONE(0, "digital_input", 1, 0, INT, 1, NULL),
    ONE(1, "digital_output", 1, 0, INT, 1, NULL),
    ONE(2, "analog_input", 2, 1, DOUBLE, 100, NULL),
    ONE(3, "analog_output", 2, 1, DOUBLE, 100, NULL),
    ONE(100, "generic", 4, 0, INT, 1, NULL),
    ONE(101, "illuminance", 2, 0, INT, 1, "lx"),
    ONE(102, "presence", 1, 0, INT, 1, NULL),
    ONE(103, "temperature", 2, 1, DOUBLE, 10, "Cel"),
    ONE(104, "humidity", 1, 0, DOUBLE, 2, "%RH"),
    AXES(113, "accelerometer", 1000, "[g]"),
    ONE(115, "barometer", 2, 0, DOUBLE, 10, "hPa"),
    ONE(116, "voltage", 2, 0, DOUBLE, 100, "V"),
    ONE(117, "current", 2, 0, DOUBLE, 1000, "A"),
    ONE(118, "frequency", 4, 0, INT, 1, "Hz"),
    ONE(120, "percentage", 1, 0, INT, 1, "%"),
    ONE(121, "altitude", 2, 1, INT, 1, "m"),
    ONE(125, "concentration", 2, 0, INT, 1, "ppm"),
    ONE(128, "power", 2, 0, INT, 1, "W"),
    ONE(130, "distance", 4, 0, DOUBLE, 1000, "m"),
    ONE(131, "energy", 4, 0, DOUBLE, 1000, "kWh"),
    ONE(132, "direction", 2, 0, INT, 1, "deg"),
    ONE(LPP_UNIXTIME, "unixtime", 4, 0, INT, 1, "s"),
    AXES(134, "gyrometer", 100, "deg/s"),
    {135, 3, 1, 0, HUB_FT_INT, "colour", {1, 1, 1}, {NULL, NULL, NULL}, rgb},
    {136, 3, 3, 1, HUB_FT_DOUBLE, "gps", {10000, 10000, 100}, {"deg", "deg", "m"}, latlonalt},
    ONE(142, "switch", 1, 0, BOOL, 1, NULL),
};

/* What the route says about one channel. */
struct chan {
	uint8_t used;    /* the channel is in the map */
	uint8_t nfields; /* 0 = dropped (null); 1 with !list = one name (a prefix for 3 values) */
	uint8_t list;    /* names come from a `fields` list, one per value (NULL = drop it) */
	uint8_t is_time; /* the channel carries the reading's time */
	char *fields[HUB_LPP_MAX_VALUES];
	char *unit;
};

struct hub_lpp_map {
	int skip_unmapped;
	struct chan chans[256];
};

static const struct lpp_type *find_type(uint8_t id)
{
	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
		if (types[i].id == id)
			return &types[i];
	return NULL;
}

/* Reads a big-endian integer of width bytes (1..4), sign-extended when is_signed. */
static int64_t read_raw(const uint8_t *p, unsigned width, int is_signed)
{
	uint32_t u = 0;
	for (unsigned i = 0; i < width; i++)
		u = (u << 8) | p[i];
	int64_t v = u;
	if (is_signed && (u >> (width * 8 - 1)) & 1u)
		v -= (int64_t)1 << (width * 8);
	return v;
}

int hub_lpp_next(const uint8_t *buf, size_t len, size_t *pos, struct hub_lpp_item *out,
                 struct hub_reject *rej)
{
	size_t p = *pos;
	if (p >= len)
		return HUB_ENOENT;
	if (len - p < 2)
		return hub_reject(rej, HUB_R_TRUNCATED, "frame ends after channel %u (byte %zu)",
		                  buf[p], p);
	const struct lpp_type *t = find_type(buf[p + 1]);
	if (!t)
		return hub_reject(rej, HUB_R_UNSUPPORTED,
		                  "channel %u: LPP type %u is not supported", buf[p], buf[p + 1]);
	size_t need = (size_t)t->nvals * t->width;
	if (len - p - 2 < need)
		return hub_reject(rej, HUB_R_TRUNCATED, "channel %u: %s needs %zu bytes, %zu left",
		                  buf[p], t->name, need, len - p - 2);
	out->channel = buf[p];
	out->type = t->id;
	out->type_name = t->name;
	out->ftype = t->ftype;
	out->nvals = t->nvals;
	for (size_t i = 0; i < HUB_LPP_MAX_VALUES; i++) {
		int have = i < t->nvals;
		int64_t raw =
		    have ? read_raw(buf + p + 2 + i * t->width, t->width, t->is_signed) : 0;
		out->vals[i] = have ? (double)raw / t->div[i] : 0;
		out->units[i] = have ? t->unit[i] : NULL;
		out->suffix[i] = have && t->suffix ? t->suffix[i] : NULL;
	}
	*pos = p + 2 + need;
	return HUB_OK;
}

/* ---- the channel map ---------------------------------------------------------------------- */

static int name_ok(const json_t *v)
{
	size_t n = json_string_length(v);
	return json_is_string(v) && n > 0 && n <= MAX_NAME;
}

/* Parses the channel number key ("0".."255", decimal digits only). */
static int parse_channel(const char *key, unsigned *out)
{
	char *end;
	if (!isdigit((unsigned char)key[0]) || strlen(key) > 3)
		return HUB_EINVAL;
	long v = strtol(key, &end, 10);
	if (*end || v < 0 || v > 255)
		return HUB_EINVAL;
	*out = (unsigned)v;
	return HUB_OK;
}

static int parse_list(const json_t *list, struct chan *c, char *err, size_t errlen)
{
	size_t n = json_array_size(list);
	if (!json_is_array(list) || n == 0 || n > HUB_LPP_MAX_VALUES) {
		snprintf(err, errlen, "fields must be a list of 1 to 3 names (null drops a value)");
		return HUB_EINVAL;
	}
	c->list = 1;
	c->nfields = (uint8_t)n;
	for (size_t i = 0; i < n; i++) {
		const json_t *v = json_array_get(list, i);
		if (!json_is_null(v) && !name_ok(v)) {
			snprintf(err, errlen, "fields[%zu] must be a field name or null", i);
			return HUB_EINVAL;
		}
		c->fields[i] = json_is_null(v) ? NULL : hub_xstrdup(json_string_value(v));
	}
	return HUB_OK;
}

/* Parses {field, unit} or {fields: [...], unit}. */
static int parse_object(const json_t *spec, struct chan *c, char *err, size_t errlen)
{
	const char *key;
	json_t *v;
	json_object_foreach((json_t *)spec, key, v) {
		if (strcmp(key, "field") && strcmp(key, "fields") && strcmp(key, "unit")) {
			snprintf(err, errlen, "unknown key %.40s (field, fields, unit)", key);
			return HUB_EINVAL;
		}
	}
	const json_t *field = json_object_get(spec, "field"),
	             *list = json_object_get(spec, "fields");
	const json_t *unit = json_object_get(spec, "unit");
	if (!field == !list || (field && !name_ok(field))) {
		snprintf(err, errlen, "give either field (a name) or fields (a list)");
		return HUB_EINVAL;
	}
	if (unit && !name_ok(unit)) {
		snprintf(err, errlen, "unit must be a non-empty string");
		return HUB_EINVAL;
	}
	c->unit = unit ? hub_xstrdup(json_string_value(unit)) : NULL;
	if (list)
		return parse_list(list, c, err, errlen);
	c->nfields = 1;
	c->fields[0] = hub_xstrdup(json_string_value(field));
	return HUB_OK;
}

static int parse_chan(const char *key, const json_t *spec, struct hub_lpp_map *m, char *err,
                      size_t errlen)
{
	unsigned ch;
	char msg[160] = "";
	int rc = HUB_OK;
	if (parse_channel(key, &ch) != HUB_OK) {
		snprintf(err, errlen, "options.channels: key %.40s is not a channel number 0..255",
		         key);
		return HUB_EINVAL;
	}
	struct chan *c = &m->chans[ch];
	if (c->used) {
		snprintf(err, errlen, "options.channels: channel %u given twice", ch);
		return HUB_EINVAL;
	}
	c->used = 1;
	if (json_is_string(spec) && name_ok(spec)) {
		c->nfields = 1;
		c->fields[0] = hub_xstrdup(json_string_value(spec));
	} else if (json_is_object(spec)) {
		rc = parse_object(spec, c, msg, sizeof(msg));
	} else if (!json_is_null(spec)) {
		snprintf(msg, sizeof(msg),
		         "must be a field name, {field, unit}, {fields, unit} or null");
		rc = HUB_EINVAL;
	}
	c->is_time = !c->list && c->nfields == 1 && strcmp(c->fields[0], "time") == 0;
	if (rc != HUB_OK)
		snprintf(err, errlen, "options.channels.%s: %s", key, msg);
	return rc;
}

const char *const hub_lpp_unmapped_names[] = {"reject", "skip", NULL};

struct hub_lpp_map *hub_lpp_map_build(const json_t *chans, int skip_unmapped, char *err,
                                      size_t errlen)
{
	struct hub_lpp_map *m = hub_xcalloc(1, sizeof(*m));
	const char *key;
	json_t *spec;
	int rc = HUB_OK;
	m->skip_unmapped = skip_unmapped;
	if (chans && !json_is_object(chans)) {
		snprintf(err, errlen, "options.channels must be a mapping of channel -> field");
		rc = HUB_EINVAL;
	}
	json_object_foreach((json_t *)chans, key, spec) {
		if (rc == HUB_OK)
			rc = parse_chan(key, spec, m, err, errlen);
	}
	if (rc != HUB_OK) {
		hub_lpp_map_free(m);
		return NULL;
	}
	return m;
}

void hub_lpp_map_free(struct hub_lpp_map *m)
{
	if (!m)
		return;
	for (size_t i = 0; i < 256; i++) {
		for (size_t j = 0; j < HUB_LPP_MAX_VALUES; j++)
			free(m->chans[i].fields[j]);
		free(m->chans[i].unit);
	}
	free(m);
}

int hub_lpp_map_skips_unmapped(const struct hub_lpp_map *m)
{
	return m && m->skip_unmapped;
}

/* ---- decoding through the map ------------------------------------------------------------- */

static int set_time(const struct hub_lpp_item *it, struct hub_record *rec, int *got_time,
                    struct hub_reject *rej)
{
	if (it->type != LPP_UNIXTIME)
		return hub_reject(rej, HUB_R_BAD_TIME,
		                  "channel %u is mapped to time but carries %s", it->channel,
		                  it->type_name);
	if (*got_time)
		return hub_reject(rej, HUB_R_BAD_TIME, "the frame gives the time twice");
	if (hub_time_from_int((int64_t)it->vals[0], 1000000000LL, &rec->ts_ns) != HUB_OK)
		return hub_reject(rej, HUB_R_BAD_TIME, "channel %u: unixtime out of range",
		                  it->channel);
	rec->has_ts = 1;
	*got_time = 1;
	return HUB_OK;
}

/* The unit value i is emitted with: the type's own, else the route's; both must agree. */
static int pick_unit(const struct chan *c, const struct hub_lpp_item *it, size_t i,
                     const char **unit, struct hub_reject *rej)
{
	*unit = it->units[i] ? it->units[i] : c->unit;
	if (c->unit && it->units[i] && strcmp(c->unit, it->units[i]) != 0)
		return hub_reject(rej, HUB_R_BAD_UNIT,
		                  "channel %u: LPP %s is in %s, the route says %.32s", it->channel,
		                  it->type_name, it->units[i], c->unit);
	return HUB_OK;
}

static int add_value(struct hub_recset *rs, struct hub_record *rec, const char *name,
                     const char *unit, const struct hub_lpp_item *it, size_t i,
                     struct hub_reject *rej)
{
	int rc;
	double v = it->vals[i];
	if (it->ftype == HUB_FT_BOOL && v > 1)
		return hub_reject(rej, HUB_R_OUT_OF_RANGE,
		                  "channel %u: %s value %.0f is not 0 or 1", it->channel,
		                  it->type_name, v);
	if (it->ftype == HUB_FT_BOOL)
		rc = hub_record_add_bool(rs, rec, name, v != 0);
	else if (it->ftype == HUB_FT_INT)
		rc = hub_record_add_int(rs, rec, name, unit, (int64_t)v);
	else
		rc = hub_record_add_double(rs, rec, name, unit, v);
	if (rc != HUB_OK)
		return hub_reject(rej, HUB_R_TOO_MANY, "more than %d fields", HUB_MAX_FIELDS);
	return HUB_OK;
}

static int emit_item(const struct hub_lpp_map *m, const struct hub_lpp_item *it,
                     struct hub_recset *rs, struct hub_record *rec, int *got_time,
                     struct hub_reject *rej)
{
	const struct chan *c = &m->chans[it->channel];
	if (!c->used)
		return m->skip_unmapped
		           ? HUB_OK
		           : hub_reject(rej, HUB_R_UNKNOWN_FIELD,
		                        "channel %u (%s) is not in the route's channel map",
		                        it->channel, it->type_name);
	if (c->nfields == 0)
		return HUB_OK;
	if (c->is_time)
		return set_time(it, rec, got_time, rej);
	if (c->list && c->nfields != it->nvals)
		return hub_reject(rej, HUB_R_BAD_FORMAT,
		                  "channel %u: %s has %zu values, the route names %u fields",
		                  it->channel, it->type_name, it->nvals, c->nfields);
	for (size_t i = 0; i < it->nvals; i++) {
		char name[MAX_NAME + 8];
		const char *unit;
		if (c->list && !c->fields[i])
			continue;
		if (c->list || it->nvals == 1)
			snprintf(name, sizeof(name), "%s", c->fields[c->list ? i : 0]);
		else
			snprintf(name, sizeof(name), "%s%s", c->fields[0], it->suffix[i]);
		int rc = pick_unit(c, it, i, &unit, rej);
		if (rc == HUB_OK)
			rc = add_value(rs, rec, name, unit, it, i, rej);
		if (rc != HUB_OK)
			return rc;
	}
	return HUB_OK;
}

int hub_lpp_decode(const struct hub_lpp_map *m, const uint8_t *buf, size_t len,
                   struct hub_recset *rs, struct hub_record *rec, struct hub_reject *rej)
{
	struct hub_lpp_item it;
	size_t pos = 0;
	int got_time = 0, rc;
	while ((rc = hub_lpp_next(buf, len, &pos, &it, rej)) == HUB_OK) {
		rc = emit_item(m, &it, rs, rec, &got_time, rej);
		if (rc != HUB_OK)
			return rc;
	}
	return rc == HUB_ENOENT ? HUB_OK : rc;
}
