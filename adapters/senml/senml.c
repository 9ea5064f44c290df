/* SenML JSON packs (RFC 8428): base fields carried from record to record, relative times
 * resolved against the journal receive time, one canonical record per distinct (sensor, time).
 * Times are converted from the number's text to integer nanoseconds, never through a double.
 * docs/payloads/senml.md describes the mapping and every rejection. */
#include "cityhub/adapter.h"
#include "cityhub/error.h"

#include <stdlib.h>
#include <string.h>

#include "../options.h"
#include "cityhub/buf.h"

#define SENML_VERSION 10
#define NS_PER_S 1000000000LL
/* Resolved times below 2^28 s in absolute value are relative to "now" (RFC 8428 4.5.3). */
#define RELATIVE_LIMIT_NS (268435456LL * NS_PER_S)

/* The route's options, filled by the option engine from the table below; also the state. */
struct senml_state {
	int sensor_from_topic; /* sensor_id_from: 0 base_name, 1 topic */
	json_t *fields;        /* senml name -> canonical field name (owned by the options) */
};

/* ---- route options ---- */

static const char *const sensor_id_from[] = {"base_name", "topic", NULL};

#define OPT(member) HUB_OPT_AT(struct senml_state, member)
static const struct hub_opt option_rows[] = {
	{.path = "sensor_id_from", .type = HUB_OPT_ENUM, .at = OPT(sensor_from_topic),
	 .def = "base_name", .names = sensor_id_from,
	 .doc = "Where the sensor id comes from: the base name (else the topic template's "
	        "`{sensor_id}`), or always the topic."},
	{.path = "fields", .type = HUB_OPT_MAP, .at = OPT(fields),
	 .doc = "Maps a SenML name `n` to a canonical field name, e.g. `{temp: temperature_c}`; "
	        "a name not listed passes as it is."},
};
static const struct hub_opt_table options = HUB_OPT_TABLE(option_rows);

/* The options are the state: only the fields map needs a check the table cannot make. */
static int init(const void *opts, const struct hub_schemas *schemas, void **state, char *err,
                size_t errlen)
{
	const struct senml_state *st = opts;
	(void)schemas;
	if (hub_options_field_map(st->fields, "fields", "a SenML name to a field name", err,
	                          errlen) != HUB_OK)
		return HUB_EINVAL;
	*state = (void *)opts;
	return HUB_OK;
}

/* ---- exact decimal time ---- */

static int is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* Multiplies *acc by 10^w; HUB_ERANGE on int64 overflow. */
static int scale_up(int64_t *acc, long long w)
{
	for (; w > 0 && *acc != 0; w--) {
		if (*acc > INT64_MAX / 10)
			return HUB_ERANGE;
		*acc *= 10;
	}
	return HUB_OK;
}

/* Converts a JSON number text (len bytes, in seconds) to integer ns: every digit is used
 * exactly; beyond the ninth decimal the value is rounded half away from zero.
 * HUB_EPARSE on bad syntax, HUB_ERANGE when it does not fit in int64 ns. */
static int decimal_to_ns(const char *s, size_t len, int64_t *ns)
{
	const char *p = s, *end = s + len, *ip, *ie, *fp, *fe;
	int neg = p < end && *p == '-';
	long long exp = 0;
	p += neg;
	for (ip = p; p < end && is_digit(*p); p++)
		;
	ie = p;
	fp = fe = p;
	if (p < end && *p == '.') {
		for (fp = ++p; p < end && is_digit(*p); p++)
			;
		fe = p;
	}
	if (p < end && (*p == 'e' || *p == 'E')) {
		int eneg = ++p < end && *p == '-';
		p += p < end && (*p == '-' || *p == '+');
		if (p >= end || !is_digit(*p))
			return HUB_EPARSE;
		for (; p < end && is_digit(*p); p++)
			exp = exp < 1000000 ? exp * 10 + (*p - '0')
			                    : exp; /* clamped: far out of range */
		exp = eneg ? -exp : exp;
	}
	if (p != end || ie == ip)
		return HUB_EPARSE;
	long long nint = ie - ip, total = nint + (fe - fp);
	int64_t acc = 0;
	for (long long k = 0; k < total; k++) {
		int d = (k < nint ? ip[k] : fp[k - nint]) - '0';
		long long w = nint - 1 - k + exp + 9; /* this digit's weight is 10^w ns */
		if (w < 0) {
			acc += w == -1 && d >= 5;
			break;
		}
		if (acc > (INT64_MAX - d) / 10)
			return HUB_ERANGE;
		acc = acc * 10 + d;
		if (k == total - 1 && scale_up(&acc, w) != HUB_OK)
			return HUB_ERANGE;
	}
	*ns = neg ? -acc : acc;
	return HUB_OK;
}

/* ---- raw-text scanner: finds the text of each record's "t" and "bt" numbers ----
 * jansson has already validated the payload, so this walks well-formed JSON; it still checks
 * every bound so that a disagreement can only make it return "not found". */

struct scan {
	const char *p, *end;
};

struct time_text {
	const char *t, *bt;
	size_t tlen, btlen;
};

static const char *skip_ws(const char *p, const char *end)
{
	while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
		p++;
	return p;
}

/* Ends a number or literal; NUL included, which strchr() cannot test for. */
static int is_delim(char c)
{
	return c == '\0' || strchr(",:[]{}\" \t\r\n", c) != NULL;
}

/* p at an opening quote; returns the position just past the closing quote. */
static const char *skip_string(const char *p, const char *end)
{
	for (p++; p < end && *p != '"'; p++)
		if (*p == '\\')
			p++;
	return p < end ? p + 1 : end;
}

static int hexval(char c)
{
	if (is_digit(c))
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Returns 1 when the JSON string body [s, e) decodes to the ASCII text want. */
static int key_equals(const char *s, const char *e, const char *want)
{
	static const char esc_in[] = "\"\\/bfnrt", esc_out[] = "\"\\/\b\f\n\r\t";
	size_t i = 0, n = strlen(want);
	while (s < e) {
		unsigned c = (unsigned char)*s++;
		if (c == '\\' && s < e && *s == 'u') {
			if (e - s < 5)
				return 0;
			c = 0;
			for (int k = 1; k <= 4; k++) {
				int h = hexval(s[k]);
				if (h < 0)
					return 0;
				c = c * 16 + (unsigned)h;
			}
			s += 5;
		} else if (c == '\\' && s < e) {
			const char *x = strchr(esc_in, *s++);
			if (!x || !*x)
				return 0;
			c = (unsigned char)esc_out[x - esc_in];
		}
		if (i >= n || (unsigned char)want[i] != c)
			return 0;
		i++;
	}
	return i == n;
}

/* Skips one JSON value starting at p (after whitespace). */
static const char *skip_value(const char *p, const char *end)
{
	int depth = 0;
	do {
		p = skip_ws(p, end);
		if (p >= end)
			return end;
		if (*p == '"') {
			p = skip_string(p, end);
		} else if (*p == '{' || *p == '[') {
			depth++;
			p++;
		} else if (*p == '}' || *p == ']') {
			depth--;
			p++;
		} else if (*p == ',' || *p == ':') {
			p++;
		} else {
			const char *start = p;
			while (p < end && !is_delim(*p))
				p++;
			p += p == start; /* always make progress */
		}
	} while (depth > 0);
	return p;
}

static void scan_start(struct scan *sc, const char *payload, size_t len)
{
	sc->end = payload + len;
	sc->p = skip_ws(payload, sc->end);
	if (sc->p < sc->end && *sc->p == '[')
		sc->p++;
}

/* Reads the next record object of the pack, noting where its t and bt numbers are. */
static void scan_record(struct scan *sc, struct time_text *tt)
{
	const char *p = skip_ws(sc->p, sc->end), *end = sc->end;
	memset(tt, 0, sizeof(*tt));
	if (p < end && *p == ',')
		p = skip_ws(p + 1, end);
	if (p >= end || *p != '{') {
		sc->p = skip_value(p, end);
		return;
	}
	for (p++;;) {
		p = skip_ws(p, end);
		if (p >= end || *p == '}')
			break;
		if (*p == ',')
			p = skip_ws(p + 1, end);
		if (p >= end || *p != '"')
			break;
		const char *ks = p + 1, *ke = skip_string(p, end) - 1;
		p = skip_ws(ke + 1, end);
		p = skip_ws(p + (p < end && *p == ':'), end);
		const char *v = p;
		p = skip_value(p, end);
		if (v < end && (*v == '-' || is_digit(*v))) {
			if (key_equals(ks, ke, "t"))
				tt->t = v, tt->tlen = (size_t)(p - v);
			else if (key_equals(ks, ke, "bt"))
				tt->bt = v, tt->btlen = (size_t)(p - v);
		}
	}
	sc->p = p < end ? p + 1 : end;
}

/* ---- labels ---- */

enum ltype { L_STR, L_NUM, L_BOOL };

static const struct label {
	const char *name;
	enum ltype type;
	const char *reason; /* when the value has the wrong type */
} labels[] = {
    {"bn", L_STR, HUB_R_BAD_FORMAT}, {"bt", L_NUM, HUB_R_BAD_TIME},
    {"bu", L_STR, HUB_R_BAD_FORMAT}, {"bv", L_NUM, HUB_R_BAD_TYPE},
    {"bs", L_NUM, HUB_R_BAD_TYPE},   {"bver", L_NUM, HUB_R_BAD_FORMAT},
    {"n", L_STR, HUB_R_BAD_FORMAT},  {"u", L_STR, HUB_R_BAD_FORMAT},
    {"v", L_NUM, HUB_R_BAD_TYPE},    {"vs", L_STR, HUB_R_BAD_TYPE},
    {"vb", L_BOOL, HUB_R_BAD_TYPE},  {"vd", L_STR, HUB_R_BAD_TYPE},
    {"s", L_NUM, HUB_R_BAD_TYPE},    {"t", L_NUM, HUB_R_BAD_TIME},
    {"ut", L_NUM, HUB_R_BAD_FORMAT},
};

static int type_ok(enum ltype t, json_t *v)
{
	return t == L_STR ? json_is_string(v) : t == L_NUM ? json_is_number(v) : json_is_boolean(v);
}

/* Checks every label of record idx: known labels have their type; an unknown label ending in
 * '_' must be understood (RFC 8428 4.4), so the pack is refused; other unknown ones are
 * ignored as the RFC asks. */
static int check_labels(json_t *obj, size_t idx, struct hub_reject *rej)
{
	const char *key;
	json_t *v;
	json_object_foreach(obj, key, v)
	{
		const struct label *l = NULL;
		for (size_t i = 0; i < sizeof(labels) / sizeof(labels[0]) && !l; i++)
			if (strcmp(labels[i].name, key) == 0)
				l = &labels[i];
		size_t klen = strlen(key);
		if (!l && klen > 0 && key[klen - 1] == '_')
			return hub_reject(rej, HUB_R_UNSUPPORTED,
			                  "record %zu: label %.64s must be understood", idx, key);
		if (l && !type_ok(l->type, v))
			return hub_reject(rej, l->reason, "record %zu: %s has the wrong type", idx,
			                  key);
	}
	return HUB_OK;
}

/* ---- decoding ---- */

struct pack {
	const struct senml_state *st;
	const struct hub_msg *msg;
	struct hub_recset *out;
	size_t first; /* first record of this message in out */
	struct scan sc;
	const char *bn;     /* base name in force (borrowed from the JSON tree) */
	const char *sensor; /* sensor id derived from bn (arena), NULL = from the topic */
	const char *bu;
	double bv, bs;
	int64_t bt_ns;
};

static int name_char(char c, int first)
{
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || is_digit(c))
		return 1;
	return !first && (c == '-' || c == ':' || c == '.' || c == '/' || c == '_');
}

/* RFC 8428 4.5.1: the resolved name uses [A-Za-z0-9-:./_] and starts with [A-Za-z0-9]. */
static int valid_name(const char *bn, const char *n)
{
	size_t i = 0;
	for (const char *s = bn; *s; s++, i++)
		if (!name_char(*s, i == 0))
			return 0;
	for (const char *s = n; *s; s++, i++)
		if (!name_char(*s, i == 0))
			return 0;
	return i > 0;
}

static int set_base_name(struct pack *pk, json_t *bn)
{
	pk->bn = json_string_value(bn);
	pk->sensor = NULL;
	size_t len = json_string_length(bn);
	if (len > 0 && (pk->bn[len - 1] == ':' || pk->bn[len - 1] == '/'))
		len--;
	if (!pk->st->sensor_from_topic && len > 0)
		pk->sensor = hub_recset_strndup(pk->out, pk->bn, len);
	return HUB_OK;
}

static int apply_base(struct pack *pk, json_t *obj, const struct time_text *tt, size_t idx,
                      struct hub_reject *rej)
{
	json_t *v;
	if ((v = json_object_get(obj, "bver"))) {
		double ver = json_number_value(v);
		if (ver > SENML_VERSION)
			return hub_reject(rej, HUB_R_UNSUPPORTED, "record %zu: SenML version %g",
			                  idx, ver);
		if (ver < 1 || ver != (double)(int)ver)
			return hub_reject(rej, HUB_R_BAD_FORMAT, "record %zu: bad bver", idx);
	}
	if ((v = json_object_get(obj, "bn")))
		set_base_name(pk, v);
	if ((v = json_object_get(obj, "bu")))
		pk->bu = json_string_value(v);
	if ((v = json_object_get(obj, "bv")))
		pk->bv = json_number_value(v);
	if ((v = json_object_get(obj, "bs")))
		pk->bs = json_number_value(v);
	if (json_object_get(obj, "bt")) {
		if (!tt->bt || decimal_to_ns(tt->bt, tt->btlen, &pk->bt_ns) != HUB_OK)
			return hub_reject(rej, HUB_R_BAD_TIME, "record %zu: bt out of range", idx);
	}
	return HUB_OK;
}

/* Resolves bt + t; relative times (|x| < 2^28 s) count from the receive time. */
static int resolve_time(struct pack *pk, json_t *obj, const struct time_text *tt, size_t idx,
                        int64_t *ts, struct hub_reject *rej)
{
	int64_t t = 0;
	if (json_object_get(obj, "t") && (!tt->t || decimal_to_ns(tt->t, tt->tlen, &t) != HUB_OK))
		return hub_reject(rej, HUB_R_BAD_TIME, "record %zu: t out of range", idx);
	if (__builtin_add_overflow(pk->bt_ns, t, ts))
		return hub_reject(rej, HUB_R_BAD_TIME, "record %zu: bt + t overflows", idx);
	if (*ts > -RELATIVE_LIMIT_NS && *ts < RELATIVE_LIMIT_NS &&
	    __builtin_add_overflow(*ts, pk->msg->recv_ns, ts))
		return hub_reject(rej, HUB_R_BAD_TIME, "record %zu: relative time overflows", idx);
	if (*ts < 0)
		return hub_reject(rej, HUB_R_BAD_TIME, "record %zu: time before 1970", idx);
	return HUB_OK;
}

static int same(const char *a, const char *b)
{
	return a == b || (a && b && strcmp(a, b) == 0);
}

/* Returns the record for (current sensor, ts), adding it when new; NULL when the set is full. */
static struct hub_record *group(struct pack *pk, int64_t ts)
{
	for (size_t i = pk->out->n; i-- > pk->first;) {
		struct hub_record *r = &pk->out->recs[i];
		if (r->ts_ns == ts && same(r->sensor_id, pk->sensor))
			return r;
	}
	struct hub_record *r = hub_recset_add(pk->out);
	if (r) {
		r->sensor_id = pk->sensor;
		r->ts_ns = ts;
		r->has_ts = 1;
	}
	return r;
}

/* The sum is in the value's unit times seconds (RFC 8428 4.2): "x/s" becomes "x", a unit
 * without "/s" gets ".s" appended (UCUM product), no unit becomes "s". */
static const char *sum_unit(struct hub_recset *rs, const char *u)
{
	size_t len = u ? strlen(u) : 0;
	if (len == 0)
		return "s";
	if (len > 2 && strcmp(u + len - 2, "/s") == 0)
		return hub_recset_strndup(rs, u, len - 2);
	struct hub_buf b = {0};
	hub_buf_printf(&b, "%s.s", u);
	const char *r = hub_recset_strdup(rs, b.data);
	hub_buf_fini(&b);
	return r;
}

static const char *field_name(const struct pack *pk, const char *n)
{
	const char *mapped = json_string_value(json_object_get(pk->st->fields, n));
	return mapped ? mapped : n;
}

/* Appends the record's value (and sum) to rec under its canonical name. */
static int add_values(struct pack *pk, json_t *obj, struct hub_record *rec, const char *n)
{
	json_t *u = json_object_get(obj, "u"), *v;
	const char *unit = u ? json_string_value(u) : pk->bu, *name = field_name(pk, n);
	int rc = HUB_OK;
	if (unit && !*unit)
		unit = NULL; /* "u": "" = no unit: the canonical one */
	if ((v = json_object_get(obj, "v")))
		rc = hub_record_add_double(pk->out, rec, name, unit, json_number_value(v) + pk->bv);
	else if ((v = json_object_get(obj, "vs")))
		rc = hub_record_add_string(pk->out, rec, name, json_string_value(v),
		                           json_string_length(v));
	else if ((v = json_object_get(obj, "vb")))
		rc = hub_record_add_bool(pk->out, rec, name, json_is_true(v));
	if (rc == HUB_OK && (v = json_object_get(obj, "s"))) {
		struct hub_buf sname = {0};
		hub_buf_printf(&sname, "%s_sum", n);
		rc = hub_record_add_double(pk->out, rec, field_name(pk, sname.data),
		                           sum_unit(pk->out, unit), json_number_value(v) + pk->bs);
		hub_buf_fini(&sname);
	}
	return rc;
}

/* Counts the value labels; vd (opaque data) is refused, see docs/payloads/senml.md. */
static int check_values(json_t *obj, size_t idx, int *has_value, struct hub_reject *rej)
{
	static const char *const keys[] = {"v", "vs", "vb", "vd"};
	int n = 0;
	for (size_t i = 0; i < 4; i++)
		n += json_object_get(obj, keys[i]) != NULL;
	if (json_object_get(obj, "vd"))
		return hub_reject(rej, HUB_R_UNSUPPORTED,
		                  "record %zu: data values (vd) are not "
		                  "supported",
		                  idx);
	if (n > 1)
		return hub_reject(rej, HUB_R_BAD_FORMAT, "record %zu: more than one value", idx);
	if (json_object_get(obj, "s") && n == 1 && !json_object_get(obj, "v"))
		return hub_reject(rej, HUB_R_BAD_FORMAT, "record %zu: a sum goes with v only", idx);
	*has_value = n > 0 || json_object_get(obj, "s") != NULL;
	return HUB_OK;
}

static int read_record(struct pack *pk, json_t *obj, size_t idx, struct hub_reject *rej)
{
	struct time_text tt;
	int has_value = 0, rc;
	int64_t ts = 0;
	scan_record(&pk->sc, &tt);
	if (!json_is_object(obj))
		return hub_reject(rej, HUB_R_BAD_FORMAT, "record %zu is not an object", idx);
	if ((rc = check_labels(obj, idx, rej)) || (rc = apply_base(pk, obj, &tt, idx, rej)) ||
	    (rc = check_values(obj, idx, &has_value, rej)))
		return rc;
	json_t *jn = json_object_get(obj, "n");
	const char *n = jn ? json_string_value(jn) : "";
	if (!has_value && !jn)
		return HUB_OK; /* a record of base fields only */
	if (!has_value)
		return hub_reject(rej, HUB_R_BAD_FORMAT, "record %zu: %.64s has no value", idx, n);
	if (!*n)
		return hub_reject(rej, HUB_R_BAD_FORMAT, "record %zu: no name (n) for the quantity",
		                  idx);
	if (!valid_name(pk->bn ? pk->bn : "", n))
		return hub_reject(rej, HUB_R_BAD_FORMAT,
		                  "record %zu: %.64s%.64s is not a valid "
		                  "SenML name",
		                  idx, pk->bn ? pk->bn : "", n);
	if ((rc = resolve_time(pk, obj, &tt, idx, &ts, rej)))
		return rc;
	struct hub_record *rec = group(pk, ts);
	if (!rec)
		return hub_reject(rej, HUB_R_TOO_MANY, "more than %zu distinct (sensor, time)",
		                  pk->out->max);
	if (add_values(pk, obj, rec, n) != HUB_OK)
		return hub_reject(rej, HUB_R_TOO_MANY, "more than %d fields at one time",
		                  HUB_MAX_FIELDS);
	return HUB_OK;
}

static int decode(const struct hub_msg *msg, const void *state, struct hub_recset *out,
                  struct hub_reject *rej)
{
	json_t *root;
	if (hub_adapter_parse_json(msg, JSON_DECODE_INT_AS_REAL, &root, rej) != HUB_OK)
		return HUB_EREJECT;
	struct pack pk = {.st = state, .msg = msg, .out = out, .first = out->n};
	int rc = HUB_OK;
	if (!json_is_array(root))
		rc = hub_reject(rej, HUB_R_BAD_FORMAT, "a SenML pack is a JSON array of records");
	scan_start(&pk.sc, (const char *)msg->payload, msg->len);
	for (size_t i = 0; rc == HUB_OK && i < json_array_size(root); i++)
		rc = read_record(&pk, json_array_get(root, i), i, rej);
	if (rc == HUB_OK && out->n == pk.first)
		rc = hub_reject(rej, HUB_R_EMPTY, "the pack has no readings");
	json_decref(root);
	return rc;
}

const struct hub_adapter hub_adapter_senml = {
    .name = "senml",
    .doc = "SenML JSON (RFC 8428) packs",
    .options = &options,
    .options_size = sizeof(struct senml_state),
    .init = init,
    .decode = decode,
};
