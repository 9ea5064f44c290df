/* Shared by the ttn and chirpstack adapters: options, decoded objects, base64 LPP frames, the
 * link record and the uplink itself, read as each adapter's dialect spells it
 * (docs/payloads/ttn.md, docs/payloads/chirpstack.md). */
#include "lorawan.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cityhub/buf.h"
#include "cityhub/error.h"
#include "cityhub/timefmt.h"
#include "../lpp/lpp_decode.h"

#define MAX_DEPTH 4  /* nesting of decoded objects we flatten ("a.b.c.d") */
#define MAX_PATH 256 /* longest flattened key path */

#define MAX_FPORT 223    /* LoRaWAN application ports are 1..223 (0 = MAC only, 224 = test) */
#define MAX_GATEWAYS 100 /* receptions one uplink may list */

enum source { SOURCE_AUTO, SOURCE_DECODED, SOURCE_LPP };

struct key_map {
	char *key;   /* key path in the decoded object ("a.b" for nested objects) */
	char *field; /* canonical field name; NULL = drop the key */
	char *unit;  /* unit as sent, or NULL */
};

struct hub_lorawan_opts {
	const struct hub_lorawan_dialect *dialect; /* the route's options only; NULL in ports */
	char *kind;                                /* NULL = the route's default kind */
	struct hub_lpp_map *map;                   /* channels and unmapped */
	struct key_map *keys;                      /* the `fields` option */
	size_t nkeys;
	enum source source; /* the `payload` option */
	int link;           /* emit the link record (default 1) */
	int sensor_choice;  /* index into the dialect's sensor_id choices (0 = default) */
	char **device_tags; /* device tag keys taken as record tags (the `device_tags` option) */
	size_t ndevice_tags;
	/* The `ports` option: 256 entries indexed by FPort, each owned (NULL = port not mapped);
	 * NULL when the route has no ports map. */
	struct hub_lorawan_opts **ports;
};

/* Radio metadata of one uplink. Strings are borrowed. */
struct link_meta {
	const char *gateway; /* id of the gateway with the strongest RSSI, or NULL */
	size_t gateways;     /* distinct gateways that heard the uplink */
	int has_rssi, has_snr, has_sf;
	double rssi, snr;
	json_int_t f_cnt, f_port, sf;
};

/* Device tags taken when the route does not say (every kind allows them, link included). */
static const char *const default_device_tags[] = {"district", "site", NULL};
/* Device tag (or attribute) keys read as the position fields lat and lon, never as tags. */
static const char *const lat_keys[] = {"lat", "latitude", NULL};
static const char *const lon_keys[] = {"lon", "lng", "longitude", NULL};
static const char *const sources[] = {"auto", "decoded", "lpp", NULL};

#define OPT(member) HUB_OPT_AT(struct hub_lorawan_options, member)
/* The rows a `ports` entry may set; the route table repeats them (same places, same rules). */
#define PORT_ROWS                                                                                  \
	{.path = "kind", .type = HUB_OPT_STRING, .at = OPT(kind), .min = 1,                        \
	 .doc = "Kind of the reading; none = the topic's `{kind}` or the route's `kind:`."},       \
	    {.path = "channels", .type = HUB_OPT_JSON, .at = OPT(channels),                        \
	     .doc = "LPP frames: channel number -> field name, `{field, unit}`, "                  \
	            "`{fields: [...], unit}` or null (dropped)."},                                 \
	    {.path = "unmapped", .type = HUB_OPT_ENUM, .at = OPT(unmapped), .def = "reject",       \
	     .names = hub_lpp_unmapped_names,                                                      \
	     .doc = "A channel or decoded key not mapped: reject the message, or skip it."},       \
	    {.path = "fields", .type = HUB_OPT_JSON, .at = OPT(fields),                            \
	     .doc = "Decoded objects: key path (`a.b`) -> field name, `{field, unit}`, `{unit}` "  \
	            "or null (dropped)."},                                                         \
	    {.path = "payload", .type = HUB_OPT_ENUM, .at = OPT(payload), .def = "auto",           \
	     .names = sources,                                                                     \
	     .doc = "Read the decoded object, the LPP frame, or (auto) the decoded object when "   \
	            "there is one."}

static const struct hub_opt port_rows[] = {PORT_ROWS};
static const struct hub_opt_table port_table = HUB_OPT_TABLE(port_rows);

static const struct hub_opt route_rows[] = {
	PORT_ROWS,
	{.path = "link", .type = HUB_OPT_BOOL, .at = OPT(link), .def = "true",
	 .doc = "Also write the uplink's radio metadata as a `link` record."},
	{.path = "sensor_id", .type = HUB_OPT_STRING, .at = OPT(sensor_id), .min = 1,
	 .doc = "The sensor id: the device's name (ttn `device_id`, chirpstack `device_name`, the "
	        "default) or `dev_eui`."},
	{.path = "device_tags", .type = HUB_OPT_JSON, .at = OPT(device_tags),
	 .doc = "Device tags taken as record tags (at most 16); none = `[district, site]`."},
	{.path = "ports", .type = HUB_OPT_JSON, .at = OPT(ports),
	 .doc = "FPort (1..223) -> `{kind, channels, unmapped, fields, payload}`; what a port "
	        "leaves out is the route's. An FPort not listed is rejected."},
};
const struct hub_opt_table hub_lorawan_options = HUB_OPT_TABLE(route_rows);

/* Returns the index of s in the NULL-terminated list, or -1. */
static int lookup(const char *const *list, const char *s)
{
	for (int i = 0; s && list[i]; i++)
		if (strcmp(list[i], s) == 0)
			return i;
	return -1;
}

void hub_lorawan_opts_free(void *opts)
{
	struct hub_lorawan_opts *o = opts;
	if (!o)
		return;
	for (size_t i = 0; i < o->nkeys; i++) {
		free(o->keys[i].key);
		free(o->keys[i].field);
		free(o->keys[i].unit);
	}
	free(o->keys);
	for (size_t i = 0; i < o->ndevice_tags; i++)
		free(o->device_tags[i]);
	free(o->device_tags);
	hub_lpp_map_free(o->map);
	free(o->kind);
	for (size_t i = 0; o->ports && i < 256; i++)
		hub_lorawan_opts_free(o->ports[i]);
	free(o->ports);
	free(o);
}

/* One `fields` entry: "name", {field, unit}, {unit} (keep the key's name) or null (drop). */
static int parse_key(const char *key, const json_t *spec, struct key_map *k, char *err,
                     size_t errlen)
{
	const json_t *field = spec, *unit = NULL;
	k->key = hub_xstrdup(key);
	if (json_is_null(spec))
		return HUB_OK;
	if (json_is_object(spec)) {
		field = json_object_get(spec, "field");
		unit = json_object_get(spec, "unit");
		if (json_object_size(spec) != (size_t)(!!field + !!unit) || (!field && !unit)) {
			snprintf(err, errlen, "options.fields.%.40s: keys are field and unit", key);
			return HUB_EINVAL;
		}
	}
	if ((field && (!json_is_string(field) || json_string_length(field) == 0)) ||
	    (unit && (!json_is_string(unit) || json_string_length(unit) == 0))) {
		snprintf(err, errlen, "options.fields.%.40s: field and unit are non-empty strings",
		         key);
		return HUB_EINVAL;
	}
	k->field = hub_xstrdup(field ? json_string_value(field) : key);
	k->unit = unit ? hub_xstrdup(json_string_value(unit)) : NULL;
	return HUB_OK;
}

static int parse_fields(const json_t *fields, struct hub_lorawan_opts *o, char *err, size_t errlen)
{
	const char *key;
	json_t *spec;
	if (!fields)
		return HUB_OK;
	if (!json_is_object(fields)) {
		snprintf(err, errlen, "options.fields must map payload keys to fields");
		return HUB_EINVAL;
	}
	o->keys = hub_xcalloc(json_object_size(fields), sizeof(*o->keys));
	json_object_foreach((json_t *)fields, key, spec) {
		if (strlen(key) == 0 || strlen(key) >= MAX_PATH) {
			snprintf(err, errlen, "options.fields: key of 1 to %d bytes", MAX_PATH - 1);
			return HUB_EINVAL;
		}
		if (parse_key(key, spec, &o->keys[o->nkeys++], err, errlen) != HUB_OK)
			return HUB_EINVAL;
	}
	return HUB_OK;
}

/* kind, payload, link and sensor_id, which the table has checked but for the dialect's
 * sensor_id choices. */
static int parse_scalars(const struct hub_lorawan_options *lo, const char *const *choices,
                         struct hub_lorawan_opts *o, char *err, size_t errlen)
{
	o->kind = lo->kind ? hub_xstrdup(lo->kind) : NULL;
	o->link = lo->link;
	o->source = (enum source)lo->payload;
	o->sensor_choice = lo->sensor_id ? lookup(choices, lo->sensor_id) : 0;
	if (o->sensor_choice < 0) {
		snprintf(err, errlen, "options.sensor_id must be %s or %s", choices[0], choices[1]);
		return HUB_EINVAL;
	}
	return HUB_OK;
}

/* The `device_tags` option: a list of tag keys (default district, site). */
static int parse_device_tags(const json_t *v, struct hub_lorawan_opts *o, char *err, size_t errlen)
{
	size_t n = v ? json_array_size(v) : 2;
	if (v && (!json_is_array(v) || n > 16)) {
		snprintf(err, errlen, "options.device_tags must list at most 16 tag keys");
		return HUB_EINVAL;
	}
	o->device_tags = hub_xcalloc(n ? n : 1, sizeof(char *));
	for (size_t i = 0; i < n; i++) {
		const char *k =
		    v ? json_string_value(json_array_get(v, i)) : default_device_tags[i];
		if (!k || !*k || lookup(lat_keys, k) >= 0 || lookup(lon_keys, k) >= 0) {
			snprintf(
			    err, errlen,
			    "options.device_tags[%zu] must be a tag key (positions are fields)", i);
			return HUB_EINVAL;
		}
		o->device_tags[o->ndevice_tags++] = hub_xstrdup(k);
	}
	return HUB_OK;
}

/* Everything but `ports`. */
static struct hub_lorawan_opts *build_opts(const struct hub_lorawan_options *lo,
                                           const char *const *choices, char *err, size_t errlen)
{
	struct hub_lorawan_opts *o = hub_xcalloc(1, sizeof(*o));
	int rc = parse_scalars(lo, choices, o, err, errlen);
	if (rc == HUB_OK)
		rc = parse_fields(lo->fields, o, err, errlen);
	if (rc == HUB_OK)
		rc = parse_device_tags(lo->device_tags, o, err, errlen);
	if (rc == HUB_OK &&
	    !(o->map = hub_lpp_map_build(lo->channels, lo->unmapped, err, errlen)))
		rc = HUB_EINVAL;
	if (rc != HUB_OK) {
		hub_lorawan_opts_free(o);
		return NULL;
	}
	return o;
}

/* Parses a `ports` key: an FPort number 1..MAX_FPORT in decimal digits without a leading zero
 * (so two keys cannot name the same port). */
static int parse_fport(const char *key, unsigned *out)
{
	char *end;
	if (!isdigit((unsigned char)key[0]) || key[0] == '0' || strlen(key) > 3)
		return HUB_EINVAL;
	long v = strtol(key, &end, 10);
	if (*end || v < 1 || v > MAX_FPORT)
		return HUB_EINVAL;
	*out = (unsigned)v;
	return HUB_OK;
}

/* Binds one `ports` entry (spec) with the port table; the keys it gives replace the route's
 * (lo) in *merged, whose values stay borrowed from lo and *port (free *port with the table). */
static int bind_port(const struct hub_lorawan_options *lo, const char *key, const json_t *spec,
                     struct hub_lorawan_options *port, struct hub_lorawan_options *merged,
                     char *err, size_t errlen)
{
	struct hub_yaml_ctx c = {.err = err, .errlen = errlen};
	struct hub_yaml_node *node = hub_yaml_from_json(spec, 1);
	int lines[HUB_OPT_MAX_KEYS] = {0};
	char path[64];
	snprintf(path, sizeof(path), "options.ports.%s", key);
	int rc = hub_options_bind(&c, node, &port_table, NULL, path, port, lines);
	hub_yaml_free(node);
	*merged = *lo;
	merged->ports = NULL;
	for (size_t i = 0; i < port_table.n; i++) {
		const struct hub_opt_at *at = &port_table.keys[i].at;
		if (lines[i] > 0)
			memcpy((char *)merged + at->off, (char *)port + at->off, at->width);
	}
	return rc;
}

/* One `ports` entry: the route's options (without `ports`) overridden key by key by spec. */
static int parse_port(const struct hub_lorawan_options *lo, const char *key, const json_t *spec,
                      const char *const *choices, struct hub_lorawan_opts *o, char *err,
                      size_t errlen)
{
	struct hub_lorawan_options port = {0}, merged;
	char msg[200] = "";
	unsigned fport;
	if (parse_fport(key, &fport) != HUB_OK) {
		snprintf(err, errlen, "options.ports.%.40s: not an FPort (1..%d, no leading zero)",
		         key, MAX_FPORT);
		return HUB_EINVAL;
	}
	if (!json_is_object(spec)) {
		snprintf(err, errlen, "options.ports.%s must be a mapping (kind, channels, ...)",
		         key);
		return HUB_EINVAL;
	}
	int rc = bind_port(lo, key, spec, &port, &merged, err, errlen);
	if (rc == HUB_OK) {
		o->ports[fport] = build_opts(&merged, choices, msg, sizeof(msg));
		rc = o->ports[fport] ? HUB_OK : HUB_EINVAL;
	}
	hub_options_free(&port_table, &port);
	if (rc == HUB_OK || !msg[0])
		return rc;
	/* msg names options.<key>...: say which port it belongs to. */
	const char *rest = strncmp(msg, "options.", 8) == 0 ? msg + 8 : msg;
	snprintf(err, errlen, "options.ports.%s.%.180s", key, rest);
	return HUB_EINVAL;
}

static int parse_ports(const struct hub_lorawan_options *lo, const char *const *choices,
                       struct hub_lorawan_opts *o, char *err, size_t errlen)
{
	const char *key;
	json_t *spec;
	if (!lo->ports)
		return HUB_OK;
	if (!json_is_object(lo->ports) || json_object_size(lo->ports) == 0) {
		snprintf(err, errlen, "options.ports must map FPort numbers to port options");
		return HUB_EINVAL;
	}
	o->ports = hub_xcalloc(256, sizeof(*o->ports));
	json_object_foreach(lo->ports, key, spec) {
		if (parse_port(lo, key, spec, choices, o, err, errlen) != HUB_OK)
			return HUB_EINVAL;
	}
	return HUB_OK;
}

int hub_lorawan_init(const struct hub_lorawan_dialect *d, const void *opts, void **state,
                     char *err, size_t errlen)
{
	const struct hub_lorawan_options *lo = opts;
	struct hub_lorawan_opts *o = build_opts(lo, d->choices, err, errlen);
	if (o && parse_ports(lo, d->choices, o, err, errlen) != HUB_OK) {
		hub_lorawan_opts_free(o);
		o = NULL;
	}
	if (o)
		o->dialect = d;
	*state = o;
	return o ? HUB_OK : HUB_EINVAL;
}

/* Sets *out to the options an uplink on FPort fport is read with: o itself when the route has no
 * ports map, else the map's entry (borrowed from o). HUB_EREJECT (unsupported) when the map has
 * no entry for fport. */
static int read_port(const struct hub_lorawan_opts *o, json_int_t fport,
                     const struct hub_lorawan_opts **out, struct hub_reject *rej)
{
	*out = o;
	if (!o->ports)
		return HUB_OK;
	*out = fport >= 0 && fport < 256 ? o->ports[fport] : NULL;
	if (!*out)
		return hub_reject(rej, HUB_R_UNSUPPORTED,
		                  "FPort %lld is not in the route's ports map", (long long)fport);
	return HUB_OK;
}

/* Follows the object keys of path (NULL-terminated) from v; NULL when a step is missing or v
 * is not an object at that step. */
static const json_t *dig(const json_t *v, const char *const *path)
{
	for (size_t i = 0; v && path[i]; i++)
		v = json_object_get(v, path[i]);
	return v;
}

/* ---- decoded objects ---------------------------------------------------------------------- */

static const struct key_map *find_key(const struct hub_lorawan_opts *o, const char *path)
{
	for (size_t i = 0; i < o->nkeys; i++)
		if (strcmp(o->keys[i].key, path) == 0)
			return &o->keys[i];
	return NULL;
}

static int add_json(struct hub_recset *rs, struct hub_record *rec, const char *name,
                    const char *unit, const json_t *v, struct hub_reject *rej)
{
	int rc;
	switch (json_typeof(v)) {
	case JSON_NULL:
		return HUB_OK; /* no reading for this key */
	case JSON_INTEGER:
		rc = hub_record_add_int(rs, rec, name, unit, json_integer_value(v));
		break;
	case JSON_REAL:
		rc = hub_record_add_double(rs, rec, name, unit, json_real_value(v));
		break;
	case JSON_TRUE:
	case JSON_FALSE:
		rc = hub_record_add_bool(rs, rec, name, json_is_true(v));
		break;
	case JSON_STRING:
		rc = hub_record_add_string(rs, rec, name, json_string_value(v),
		                           json_string_length(v));
		break;
	default:
		return hub_reject(rej, HUB_R_BAD_TYPE, "field %.64s: a list is not a reading",
		                  name);
	}
	if (rc != HUB_OK)
		return hub_reject(rej, HUB_R_TOO_MANY, "more than %d fields", HUB_MAX_FIELDS);
	return HUB_OK;
}

/* Adds every leaf of obj; nested objects become "outer.inner" key paths (path holds plen
 * bytes of prefix, room for MAX_PATH). */
static int map_object(const struct hub_lorawan_opts *o, const json_t *obj, char *path, size_t plen,
                      int depth, struct hub_recset *rs, struct hub_record *rec,
                      struct hub_reject *rej)
{
	const char *key;
	json_t *v;
	json_object_foreach((json_t *)obj, key, v) {
		size_t klen = strlen(key);
		int rc = HUB_OK;
		if (plen + klen + 2 > MAX_PATH)
			return hub_reject(rej, HUB_R_BAD_FORMAT, "decoded key path over %d bytes",
			                  MAX_PATH - 2);
		memcpy(path + plen, key, klen + 1);
		const struct key_map *k = find_key(o, path);
		if (k && !k->field)
			continue;
		if (json_is_object(v) && !k) {
			if (depth >= MAX_DEPTH)
				return hub_reject(rej, HUB_R_BAD_FORMAT,
				                  "decoded payload nested deeper than %d",
				                  MAX_DEPTH);
			path[plen + klen] = '.';
			rc = map_object(o, v, path, plen + klen + 1, depth + 1, rs, rec, rej);
		} else if (json_is_object(v)) {
			rc = hub_reject(rej, HUB_R_BAD_TYPE,
			                "field %.64s: an object is not a reading", path);
		} else if (k || !hub_lpp_map_skips_unmapped(o->map)) {
			rc = add_json(rs, rec, k ? k->field : path, k ? k->unit : NULL, v, rej);
		}
		if (rc != HUB_OK)
			return rc;
	}
	return HUB_OK;
}

/* ---- base64 frames ------------------------------------------------------------------------ */

static int b64_value(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	return c == '+' ? 62 : c == '/' ? 63 : -1;
}

/* Decodes standard base64 of n bytes into out (room for n / 4 * 3 + 3). Padding may be left
 * out, but when present it must complete the last group of four. */
static int base64_decode(const char *s, size_t n, uint8_t *out, size_t *outlen)
{
	uint32_t acc = 0;
	size_t bits = 0, o = 0, padded = n;
	while (n > 0 && s[n - 1] == '=')
		n--;
	if (n % 4 == 1 || padded - n > 2 || (padded != n && padded % 4 != 0))
		return HUB_EPARSE;
	for (size_t i = 0; i < n; i++) {
		int v = b64_value((unsigned char)s[i]);
		if (v < 0)
			return HUB_EPARSE;
		acc = (acc << 6) | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[o++] = (uint8_t)(acc >> bits);
		}
	}
	*outlen = o;
	return HUB_OK;
}

static int read_frame(const struct hub_lorawan_opts *o, const json_t *frame, struct hub_recset *rs,
                      struct hub_record *rec, struct hub_reject *rej)
{
	if (!frame || json_is_null(frame))
		return hub_reject(rej, HUB_R_EMPTY, "the uplink carries no application payload");
	if (!json_is_string(frame))
		return hub_reject(rej, HUB_R_BAD_FORMAT, "the frame must be a base64 string");
	size_t n = json_string_length(frame), len;
	uint8_t *buf = hub_xmalloc(n / 4 * 3 + 3);
	int rc = base64_decode(json_string_value(frame), n, buf, &len);
	if (rc != HUB_OK)
		rc = hub_reject(rej, HUB_R_BAD_FORMAT, "the frame is not valid base64");
	else
		rc = hub_lpp_decode(o->map, buf, len, rs, rec, rej);
	free(buf);
	return rc;
}

/* Fills rec's fields from the decoded object (may be NULL) or else the base64 LPP frame (may be
 * NULL), as options say. HUB_EREJECT with rej filled (bad_format, empty, bad_type, too_many and
 * every LPP reason). */
static int read_reading(const struct hub_lorawan_opts *o, const json_t *decoded,
                        const json_t *frame, struct hub_recset *rs, struct hub_record *rec,
                        struct hub_reject *rej)
{
	char path[MAX_PATH];
	int rc;
	if (json_is_null(decoded))
		decoded = NULL;
	if (decoded && !json_is_object(decoded))
		return hub_reject(rej, HUB_R_BAD_FORMAT, "the decoded payload must be an object");
	if (o->kind)
		rec->kind = hub_recset_strdup(rs, o->kind);
	if (o->source == SOURCE_DECODED || (o->source == SOURCE_AUTO && decoded)) {
		if (!decoded)
			return hub_reject(rej, HUB_R_BAD_FORMAT,
			                  "no decoded payload (the route reads payload: decoded)");
		path[0] = '\0';
		rc = map_object(o, decoded, path, 0, 1, rs, rec, rej);
	} else {
		rc = read_frame(o, frame, rs, rec, rej);
	}
	if (rc == HUB_OK && rec->nfields == 0)
		rc = hub_reject(rej, HUB_R_EMPTY, "the uplink gives no mapped reading");
	return rc;
}

/* ---- envelope helpers --------------------------------------------------------------------- */

int hub_lorawan_time(const json_t *v, struct hub_record *rec, struct hub_reject *rej)
{
	if (!v)
		return HUB_OK;
	if (!json_is_string(v) ||
	    hub_time_parse_rfc3339(json_string_value(v), json_string_length(v), &rec->ts_ns))
		return hub_reject(rej, HUB_R_BAD_TIME, "time must be an RFC 3339 string");
	rec->has_ts = 1;
	return HUB_OK;
}

/* Normalises a DevEUI (16 hex digits) to lower case into out; absent (NULL) gives "". */
static int read_dev_eui(const json_t *v, char out[17], struct hub_reject *rej)
{
	static const char hex[] = "0123456789abcdef";
	out[0] = '\0';
	if (!v)
		return HUB_OK;
	const char *s = json_string_value(v);
	if (!s || json_string_length(v) != 16)
		return hub_reject(rej, HUB_R_BAD_FORMAT, "the DevEUI must be 16 hex digits");
	for (size_t i = 0; i < 16; i++) {
		char c = s[i] >= 'A' && s[i] <= 'F' ? (char)(s[i] - 'A' + 'a') : s[i];
		if (!memchr(hex, c, 16))
			return hub_reject(rej, HUB_R_BAD_FORMAT,
			                  "the DevEUI must be 16 hex digits");
		out[i] = c;
	}
	out[16] = '\0';
	return HUB_OK;
}

/* Reads an optional integer member; absent = 0 (LoRaWAN servers omit zero values). */
static int read_int(const json_t *obj, const char *key, json_int_t *out, struct hub_reject *rej)
{
	const json_t *v = json_object_get(obj, key);
	*out = 0;
	if (!v)
		return HUB_OK;
	if (!json_is_integer(v))
		return hub_reject(rej, HUB_R_BAD_FORMAT, "%s must be an integer", key);
	*out = json_integer_value(v);
	return HUB_OK;
}

/* Reads an optional string member into *out (borrowed; NULL when absent). bad_format else. */
static int read_string(const json_t *obj, const char *key, const char **out, struct hub_reject *rej)
{
	const json_t *v = json_object_get(obj, key);
	*out = NULL;
	if (!v)
		return HUB_OK;
	if (!json_is_string(v))
		return hub_reject(rej, HUB_R_BAD_FORMAT, "%s must be a string", key);
	*out = json_string_value(v);
	return HUB_OK;
}

/* ---- the link record ---------------------------------------------------------------------- */

/* One reception: its gateway id (may be NULL), rssi and snr when given. */
struct reception {
	const char *id;
	int has_rssi, has_snr;
	double rssi, snr;
};

/* Reads one reception e: the id at radio.gateway_id, rssi (or radio.alt_rssi) and snr. */
static int read_reception(const json_t *e, const struct hub_lorawan_dialect *d, struct reception *r,
                          struct hub_reject *rej)
{
	const json_t *id, *rssi = json_object_get(e, "rssi"), *snr = json_object_get(e, "snr");
	if (!json_is_object(e))
		return hub_reject(rej, HUB_R_BAD_FORMAT, "a gateway reception must be an object");
	id = dig(e, d->radio.gateway_id);
	if (!rssi && d->radio.alt_rssi)
		rssi = json_object_get(e, d->radio.alt_rssi);
	if ((id && !json_is_string(id)) || (rssi && !json_is_number(rssi)) ||
	    (snr && !json_is_number(snr)))
		return hub_reject(rej, HUB_R_BAD_FORMAT,
		                  "gateway id must be a string, rssi and snr numbers");
	r->id = id && json_string_length(id) > 0 ? json_string_value(id) : NULL;
	r->has_rssi = rssi != NULL;
	r->rssi = json_number_value(rssi);
	r->has_snr = snr != NULL;
	r->snr = json_number_value(snr);
	return HUB_OK;
}

static int seen_before(const char **ids, size_t n, const char *id)
{
	for (size_t i = 0; id && i < n; i++)
		if (ids[i] && strcmp(ids[i], id) == 0)
			return 1;
	return 0;
}

/* Folds the receptions array (may be NULL) into l, keeping the strongest RSSI and its SNR and
 * gateway. */
static int read_gateways(const json_t *arr, const struct hub_lorawan_dialect *d,
                         struct link_meta *l, struct hub_reject *rej)
{
	const char *ids[MAX_GATEWAYS];
	struct reception best = {0};
	size_t n = json_array_size(arr);
	if (arr && !json_is_array(arr))
		return hub_reject(rej, HUB_R_BAD_FORMAT, "gateway receptions must be a list");
	if (n > MAX_GATEWAYS)
		return hub_reject(rej, HUB_R_TOO_MANY, "more than %d gateway receptions",
		                  MAX_GATEWAYS);
	for (size_t i = 0; i < n; i++) {
		struct reception r = {0};
		int rc = read_reception(json_array_get(arr, i), d, &r, rej);
		if (rc != HUB_OK)
			return rc;
		if (i == 0 || (r.has_rssi && (!best.has_rssi || r.rssi > best.rssi)))
			best = r;
		l->gateways += !seen_before(ids, i, r.id);
		ids[i] = r.id;
	}
	l->gateway = best.id;
	l->has_rssi = best.has_rssi;
	l->rssi = best.rssi;
	l->has_snr = best.has_snr;
	l->snr = best.snr;
	return HUB_OK;
}

static int link_fields(struct hub_recset *rs, struct hub_record *rec, const struct link_meta *l)
{
	int rc = HUB_OK;
	if (l->has_rssi)
		rc = hub_record_add_double(rs, rec, "rssi_dbm", "dBm", l->rssi);
	if (rc == HUB_OK && l->has_snr)
		rc = hub_record_add_double(rs, rec, "snr_db", "dB", l->snr);
	if (rc == HUB_OK)
		rc = hub_record_add_int(rs, rec, "gateways", NULL, (int64_t)l->gateways);
	if (rc == HUB_OK)
		rc = hub_record_add_int(rs, rec, "f_cnt", NULL, l->f_cnt);
	if (rc == HUB_OK)
		rc = hub_record_add_int(rs, rec, "f_port", NULL, l->f_port);
	if (rc == HUB_OK && l->has_sf)
		rc = hub_record_add_int(rs, rec, "spreading_factor", NULL, l->sf);
	if (rc == HUB_OK && l->gateway)
		rc = hub_record_set_tag(rs, rec, "gateway_id", l->gateway);
	return rc;
}

/* Appends the kind "link" record for the reading at index reading (same sensor, time and
 * dev_eui tag). HUB_EREJECT (too_many) when the set is full. */
static int add_link_record(struct hub_recset *rs, size_t reading, const struct link_meta *l,
                           struct hub_reject *rej)
{
	struct hub_record *rec = hub_recset_add(rs);
	if (!rec)
		return hub_reject(rej, HUB_R_TOO_MANY, "too many records in one message");
	const struct hub_record *rd = &rs->recs[reading]; /* after the add: recs may have moved */
	const char *eui = hub_record_tag(rd, "dev_eui");
	rec->kind = "link";
	rec->sensor_id = rd->sensor_id;
	rec->ts_ns = rd->ts_ns;
	rec->has_ts = rd->has_ts;
	int rc = eui ? hub_record_set_tag(rs, rec, "dev_eui", eui) : HUB_OK;
	for (size_t i = 0; rc == HUB_OK && default_device_tags[i]; i++) {
		const char *v = hub_record_tag(&rs->recs[reading], default_device_tags[i]);
		if (v)
			rc = hub_record_set_tag(rs, rec, default_device_tags[i], v);
	}
	if (rc == HUB_OK)
		rc = link_fields(rs, rec, l);
	/* Radio metadata stays in link, whatever the route's `kinds` says. */
	for (size_t i = 0; i < rec->nfields; i++)
		rec->fields[i].kind = "link";
	if (rc != HUB_OK)
		return hub_reject(rej, HUB_R_TOO_MANY, "the link record is full");
	return HUB_OK;
}

/* Gathers the radio metadata of the uplink object up and appends the link record. */
static int add_link(const struct hub_lorawan_dialect *d, const json_t *up, json_int_t fport,
                    struct hub_recset *rs, size_t reading, struct hub_reject *rej)
{
	struct link_meta l = {.f_port = fport};
	const char *const *path = d->radio.sf;
	const json_t *sf = dig(up, path);
	size_t leaf = 0; /* the last key of the path names the value in the message */
	while (path[leaf + 1])
		leaf++;
	int rc = read_int(up, d->up.f_cnt, &l.f_cnt, rej);
	if (rc == HUB_OK && sf && !json_is_integer(sf))
		rc = hub_reject(rej, HUB_R_BAD_FORMAT, "%s must be an integer", path[leaf]);
	l.has_sf = sf != NULL;
	l.sf = json_integer_value(sf);
	if (rc == HUB_OK)
		rc = read_gateways(json_object_get(up, d->radio.rx), d, &l, rej);
	if (rc == HUB_OK)
		rc = add_link_record(rs, reading, &l, rej);
	return rc;
}

/* ---- device tags and position ------------------------------------------------------------ */

/* A coordinate given as a JSON number or as text (device tags are strings); bad_type else. */
static int coordinate(const json_t *v, const char *key, double *out, struct hub_reject *rej)
{
	char *end;
	if (json_is_number(v)) {
		*out = json_number_value(v);
		return HUB_OK;
	}
	const char *s = json_string_value(v);
	if (s && *s) {
		*out = strtod(s, &end);
		if (*end == '\0' && end != s)
			return HUB_OK;
	}
	return hub_reject(rej, HUB_R_BAD_TYPE, "device position %.64s is not a number", key);
}

/* Adds field name from the first of keys obj has. */
static int position_from(const json_t *obj, const char *const *keys, const char *name,
                         struct hub_recset *rs, struct hub_record *rec, struct hub_reject *rej)
{
	for (size_t i = 0; keys[i]; i++) {
		const json_t *v = json_object_get(obj, keys[i]);
		double d = 0;
		if (!v || json_is_null(v))
			continue;
		if (coordinate(v, keys[i], &d, rej) != HUB_OK)
			return HUB_EREJECT;
		if (hub_record_field(rec, name))
			return HUB_OK; /* the decoded payload (a GPS) already placed it */
		if (hub_record_add_double(rs, rec, name, "deg", d) != HUB_OK)
			return hub_reject(rej, HUB_R_TOO_MANY, "more than %d fields",
			                  HUB_MAX_FIELDS);
		return HUB_OK;
	}
	return HUB_OK;
}

/* The route's device_tags from the device's tags (ChirpStack deviceInfo.tags, The Things Stack
 * attributes; an object of strings), and lat/lon keys there as position fields. Only the keys
 * named are looked up, so a huge map costs nothing. */
static int read_device_tags(const struct hub_lorawan_opts *o, const json_t *tags,
                            struct hub_recset *rs, struct hub_record *rec, struct hub_reject *rej)
{
	if (!tags || json_is_null(tags))
		return HUB_OK;
	if (!json_is_object(tags))
		return hub_reject(rej, HUB_R_BAD_FORMAT, "device tags must be an object");
	for (size_t i = 0; i < o->ndevice_tags; i++) {
		const json_t *v = json_object_get(tags, o->device_tags[i]);
		if (!v || (json_is_string(v) && json_string_length(v) == 0))
			continue;
		if (!json_is_string(v))
			return hub_reject(rej, HUB_R_BAD_TAG, "device tag %.64s must be a string",
			                  o->device_tags[i]);
		if (hub_record_set_tag(rs, rec, o->device_tags[i], json_string_value(v)) != HUB_OK)
			return hub_reject(rej, HUB_R_TOO_MANY, "more than %d tags", HUB_MAX_TAGS);
	}
	int rc = position_from(tags, lat_keys, "lat", rs, rec, rej);
	return rc == HUB_OK ? position_from(tags, lon_keys, "lon", rs, rec, rej) : rc;
}

/* The device's registered position (The Things Stack `locations`: "user" first, else the
 * first entry): {latitude, longitude} numbers. */
static int read_locations(const json_t *locs, struct hub_recset *rs, struct hub_record *rec,
                          struct hub_reject *rej)
{
	static const char *const lat[] = {"latitude", NULL}, *const lon[] = {"longitude", NULL};
	const char *key;
	json_t *v;
	if (!locs || json_is_null(locs))
		return HUB_OK;
	if (!json_is_object(locs))
		return hub_reject(rej, HUB_R_BAD_FORMAT, "locations must be an object");
	const json_t *loc = json_object_get(locs, "user");
	json_object_foreach((json_t *)locs, key, v)
	{
		if (!loc)
			loc = v;
	}
	if (!loc)
		return HUB_OK;
	if (!json_is_object(loc) ||
	    (json_object_get(loc, "latitude") &&
	     !json_is_number(json_object_get(loc, "latitude"))) ||
	    (json_object_get(loc, "longitude") &&
	     !json_is_number(json_object_get(loc, "longitude"))))
		return hub_reject(rej, HUB_R_BAD_TYPE,
		                  "a location has latitude and longitude numbers");
	int rc = position_from(loc, lat, "lat", rs, rec, rej);
	return rc == HUB_OK ? position_from(loc, lon, "lon", rs, rec, rej) : rc;
}

/* ---- the uplink --------------------------------------------------------------------------- */

/* sensor_id (device name or DevEUI, as the route says) and the dev_eui tag. */
static int identify(const struct hub_lorawan_opts *o, const json_t *root, struct hub_recset *rs,
                    struct hub_record *rec, struct hub_reject *rej)
{
	const struct hub_lorawan_dialect *d = o->dialect;
	const json_t *ids = json_object_get(root, d->ids.object);
	const char *name;
	char eui[17];
	if (ids && !json_is_object(ids))
		return hub_reject(rej, HUB_R_BAD_FORMAT, "%s must be an object", d->ids.object);
	int rc = read_string(ids, d->ids.device, &name, rej);
	if (rc == HUB_OK)
		rc = read_dev_eui(json_object_get(ids, d->ids.dev_eui), eui, rej);
	if (rc != HUB_OK)
		return rc;
	if (eui[0] && hub_record_set_tag(rs, rec, "dev_eui", eui) != HUB_OK)
		return hub_reject(rej, HUB_R_TOO_MANY, "more than %d tags", HUB_MAX_TAGS);
	const char *sensor = o->sensor_choice == 0 ? name : eui[0] ? eui : NULL;
	if (sensor && *sensor)
		rec->sensor_id = hub_recset_strdup(rs, sensor);
	return HUB_OK;
}

static int decode_uplink(const struct hub_lorawan_opts *o, const json_t *root,
                         struct hub_recset *out, struct hub_reject *rej)
{
	const struct hub_lorawan_dialect *d = o->dialect;
	const json_t *env = json_object_get(root, d->envelope[0]);
	if (!json_is_object(env))
		return hub_reject(rej, HUB_R_BAD_FORMAT, "%s", d->envelope[1]);
	const json_t *up = d->uplink_is_envelope ? env : root;
	struct hub_record *rec = hub_recset_add(out);
	if (!rec)
		return hub_reject(rej, HUB_R_TOO_MANY, "too many records in one message");
	size_t reading = out->n - 1;
	const struct hub_lorawan_opts *po = o;
	json_int_t fport;
	int rc = read_int(up, d->up.f_port, &fport, rej);
	if (rc == HUB_OK) /* the FPort picks the kind and map when the route has `ports` */
		rc = read_port(o, fport, &po, rej);
	if (rc == HUB_OK)
		rc = identify(o, root, out, rec, rej);
	if (rc == HUB_OK)
		rc = read_reading(po, json_object_get(up, d->up.decoded),
		                  json_object_get(up, d->up.frame), out, rec, rej);
	if (rc == HUB_OK)
		rc = read_device_tags(o, dig(root, d->tags), out, rec, rej);
	if (rc == HUB_OK && d->locations)
		rc = read_locations(dig(root, d->locations), out, rec, rej);
	if (rc == HUB_OK && !rec->has_ts) /* an LPP unixtime channel wins */
		rc = d->time(root, up, rec, rej);
	if (rc == HUB_OK && o->link)
		rc = add_link(d, up, fport, out, reading, rej);
	return rc;
}

int hub_lorawan_decode(const struct hub_msg *msg, const void *state, struct hub_recset *out,
                       struct hub_reject *rej)
{
	const struct hub_lorawan_opts *o = state;
	json_t *root;
	if (hub_adapter_parse_json(msg, 0, &root, rej) != HUB_OK)
		return HUB_EREJECT;
	int rc = json_is_object(root)
	             ? decode_uplink(o, root, out, rej)
	             : hub_reject(rej, HUB_R_BAD_FORMAT, "%s", o->dialect->not_object);
	json_decref(root);
	return rc;
}
