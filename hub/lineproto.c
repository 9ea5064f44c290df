/* InfluxDB line protocol encoder.
 *
 * The InfluxDB 1.x parser treats a byte as escaped when the byte before it is a backslash
 * (measurement and tag section) or skips backslash pairs (field section), and unescapes names
 * by replacing \, \" \space and \=. A name is therefore refused when a backslash in it is
 * followed by one of , " space = or ends it: no escaping can make such a name round-trip.
 * Also refused: control characters in names (newline and CR in strings), invalid UTF-8 (read
 * back as U+FFFD), a leading '#' in the measurement (the line would be a comment) and the tag
 * or field key "time" (InfluxDB drops the point). Encoding writes straight into the output
 * and rolls back on any error. */
#include "lineproto.h"

#include <inttypes.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cityhub/error.h"

/* InfluxDB refuses a series key (measurement, tags, 4 bytes, field key) longer than this. */
#define MAX_KEY_LEN 65535
/* InfluxDB's valid time range: int64 minus its two extremes at each end. */
#define MIN_TS_NS (INT64_MIN + 2)
#define MAX_TS_NS (INT64_MAX - 1)

/* Byte classes; a byte with no bit set is copied as it is. */
enum {
	K_ESC_MEAS = 1, /* escaped in the measurement */
	K_ESC_KEY = 2,  /* escaped in tag keys, tag values and field keys */
	K_ESC_STR = 4,  /* escaped in string field values */
	K_CTRL = 8,     /* below 0x20 */
	K_HIGH = 16,    /* start or middle of a UTF-8 sequence */
	K_BSLASH = 32,
};

#define CTRL4(a) [a] = K_CTRL, [(a) + 1] = K_CTRL, [(a) + 2] = K_CTRL, [(a) + 3] = K_CTRL
#define CTRL16(a) CTRL4(a), CTRL4((a) + 4), CTRL4((a) + 8), CTRL4((a) + 12)
#define HIGH4(a) [a] = K_HIGH, [(a) + 1] = K_HIGH, [(a) + 2] = K_HIGH, [(a) + 3] = K_HIGH
#define HIGH16(a) HIGH4(a), HIGH4((a) + 4), HIGH4((a) + 8), HIGH4((a) + 12)

static const unsigned char byte_class[256] = {
	CTRL16(0x00), CTRL16(0x10),
	[' '] = K_ESC_MEAS | K_ESC_KEY,
	[','] = K_ESC_MEAS | K_ESC_KEY,
	['='] = K_ESC_KEY,
	['"'] = K_ESC_STR,
	['\\'] = K_ESC_STR | K_BSLASH,
	HIGH16(0x80), HIGH16(0x90), HIGH16(0xa0), HIGH16(0xb0),
	HIGH16(0xc0), HIGH16(0xd0), HIGH16(0xe0), HIGH16(0xf0),
};

static int is_cont(unsigned char c)
{
	return (c & 0xc0) == 0x80;
}

/* Returns the length of the well-formed UTF-8 sequence starting at s (NUL-terminated), or 0. */
static size_t utf8_len(const unsigned char *s)
{
	unsigned char c = s[0];
	unsigned char lo = 0x80, hi = 0xbf;
	if (c >= 0xc2 && c <= 0xdf)
		return is_cont(s[1]) ? 2 : 0;
	if (c >= 0xe0 && c <= 0xef) {
		if (c == 0xe0)
			lo = 0xa0; /* overlong */
		if (c == 0xed)
			hi = 0x9f; /* surrogates */
		return s[1] >= lo && s[1] <= hi && is_cont(s[2]) ? 3 : 0;
	}
	if (c >= 0xf0 && c <= 0xf4) {
		if (c == 0xf0)
			lo = 0x90; /* overlong */
		if (c == 0xf4)
			hi = 0x8f; /* above U+10FFFF */
		return s[1] >= lo && s[1] <= hi && is_cont(s[2]) && is_cont(s[3]) ? 4 : 0;
	}
	return 0;
}

/* A backslash inside a name must be followed by a byte the parser will not take as escaped. */
static int bad_after_backslash(unsigned char next)
{
	return next == '\0' || next == ',' || next == ' ' || next == '=' || next == '"';
}

/* Appends name s with the bytes of class esc backslash-escaped; refuses what cannot
 * round-trip. Sets *written to the number of bytes appended. */
static int put_name(struct hub_buf *out, const char *s, unsigned esc, size_t *written)
{
	if (!s || !*s)
		return HUB_EINVAL;
	size_t n = strlen(s);
	hub_buf_reserve(out, 2 * n);
	const unsigned char *p = (const unsigned char *)s;
	char *start = out->data + out->len;
	char *w = start;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = p[i];
		unsigned k = byte_class[c];
		if (k == 0) {
			*w++ = (char)c;
			continue;
		}
		if (k & K_CTRL)
			return HUB_EINVAL;
		if ((k & K_BSLASH) && bad_after_backslash(p[i + 1]))
			return HUB_EINVAL;
		if (k & K_HIGH) {
			size_t m = utf8_len(p + i);
			if (m == 0)
				return HUB_EINVAL;
			memcpy(w, p + i, m);
			w += m;
			i += m - 1;
			continue;
		}
		if (k & esc)
			*w++ = '\\';
		*w++ = (char)c;
	}
	*written = (size_t)(w - start);
	out->len += *written;
	return HUB_OK;
}

/* Appends s as a double-quoted string field value. */
static int put_string(struct hub_buf *out, const char *s)
{
	if (!s)
		return HUB_EINVAL;
	size_t n = strlen(s);
	hub_buf_reserve(out, 2 * n + 2);
	const unsigned char *p = (const unsigned char *)s;
	char *w = out->data + out->len;
	*w++ = '"';
	for (size_t i = 0; i < n; i++) {
		unsigned char c = p[i];
		unsigned k = byte_class[c];
		if (k & K_CTRL) {
			if (c == '\n' || c == '\r')
				return HUB_EINVAL;
		} else if (k & K_HIGH) {
			size_t m = utf8_len(p + i);
			if (m == 0)
				return HUB_EINVAL;
			memcpy(w, p + i, m);
			w += m;
			i += m - 1;
			continue;
		} else if (k & K_ESC_STR) {
			*w++ = '\\';
		}
		*w++ = (char)c;
	}
	*w++ = '"';
	out->len = (size_t)(w - out->data);
	return HUB_OK;
}

/* Appends v in decimal (no float detour, INT64_MIN included). */
static void put_i64(struct hub_buf *out, int64_t v)
{
	char tmp[24];
	char *w = tmp + sizeof(tmp);
	uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
	do {
		*--w = (char)('0' + u % 10);
		u /= 10;
	} while (u);
	if (v < 0)
		*--w = '-';
	hub_buf_append(out, w, (size_t)(tmp + sizeof(tmp) - w));
}

/* Appends d with the fewest significant digits (15 to 17) that read back to the same double. */
static int put_double(struct hub_buf *out, double d)
{
	if (!isfinite(d))
		return HUB_EINVAL;
	char tmp[40];
	int n = 0;
	for (int prec = 15; prec <= 17; prec++) {
		n = snprintf(tmp, sizeof(tmp), "%.*g", prec, d);
		if (strtod(tmp, NULL) == d)
			break;
	}
	if (n <= 0 || (size_t)n >= sizeof(tmp))
		return HUB_EINVAL;
	/* A locale with a decimal comma would start a new field: force the dot. */
	for (int i = 0; i < n; i++)
		if (tmp[i] == ',')
			tmp[i] = '.';
	hub_buf_append(out, tmp, (size_t)n);
	return HUB_OK;
}

static int put_value(struct hub_buf *out, const struct hub_value *v)
{
	switch (v->type) {
	case HUB_FT_DOUBLE:
		return put_double(out, v->u.d);
	case HUB_FT_INT:
		put_i64(out, v->u.i);
		hub_buf_append(out, "i", 1);
		return HUB_OK;
	case HUB_FT_BOOL:
		hub_buf_puts(out, v->u.b ? "true" : "false");
		return HUB_OK;
	case HUB_FT_STRING:
		return put_string(out, v->u.s);
	}
	return HUB_EINVAL;
}

static int is_time(const char *key)
{
	return strcmp(key, "time") == 0;
}

/* Collects sensor_id and the non-empty tags into idx sorted by key; refuses duplicates. */
static int sort_tags(const struct hub_record *rec, const struct hub_tag *sensor,
		     const struct hub_tag **idx, size_t *n)
{
	size_t cnt = 0;
	idx[cnt++] = sensor;
	for (size_t i = 0; i < rec->ntags; i++) {
		const struct hub_tag *t = &rec->tags[i];
		if (!t->key)
			return HUB_EINVAL;
		if (!t->value || !*t->value)
			continue;
		size_t j = cnt++;
		while (j > 0 && strcmp(idx[j - 1]->key, t->key) > 0) {
			idx[j] = idx[j - 1];
			j--;
		}
		idx[j] = t;
	}
	for (size_t i = 0; i < cnt; i++)
		if (is_time(idx[i]->key) || (i > 0 && strcmp(idx[i - 1]->key, idx[i]->key) == 0))
			return HUB_EINVAL;
	*n = cnt;
	return HUB_OK;
}

static int put_tags(struct hub_buf *out, const struct hub_record *rec)
{
	struct hub_tag sensor = { .key = "sensor_id", .value = rec->sensor_id };
	const struct hub_tag *idx[HUB_MAX_TAGS + 1];
	size_t n = 0, len;
	int rc = sort_tags(rec, &sensor, idx, &n);
	for (size_t i = 0; i < n && rc == HUB_OK; i++) {
		hub_buf_append(out, ",", 1);
		rc = put_name(out, idx[i]->key, K_ESC_KEY, &len);
		if (rc == HUB_OK) {
			hub_buf_append(out, "=", 1);
			rc = put_name(out, idx[i]->value, K_ESC_KEY, &len);
		}
	}
	return rc;
}

static int field_name_seen(const struct hub_record *rec, size_t i)
{
	for (size_t j = 0; j < i; j++)
		if (strcmp(rec->fields[j].name, rec->fields[i].name) == 0)
			return 1;
	return 0;
}

static int put_fields(struct hub_buf *out, const struct hub_record *rec, size_t key_len)
{
	for (size_t i = 0; i < rec->nfields; i++) {
		const struct hub_field *f = &rec->fields[i];
		size_t len = 0;
		if (i > 0)
			hub_buf_append(out, ",", 1);
		int rc = put_name(out, f->name, K_ESC_KEY, &len);
		if (rc != HUB_OK)
			return rc;
		if (key_len + 4 + len > MAX_KEY_LEN || is_time(f->name) || field_name_seen(rec, i))
			return HUB_EINVAL;
		hub_buf_append(out, "=", 1);
		rc = put_value(out, &f->v);
		if (rc != HUB_OK)
			return rc;
	}
	return HUB_OK;
}

static int encode(struct hub_buf *out, const struct hub_record *rec)
{
	if (!rec->kind || rec->kind[0] == '#' || !rec->sensor_id || !*rec->sensor_id)
		return HUB_EINVAL;
	if (rec->nfields == 0 || rec->nfields > HUB_MAX_FIELDS || rec->ntags > HUB_MAX_TAGS)
		return HUB_EINVAL;
	if (rec->ts_ns < MIN_TS_NS || rec->ts_ns > MAX_TS_NS)
		return HUB_EINVAL;
	size_t start = out->len, len;
	int rc = put_name(out, rec->kind, K_ESC_MEAS, &len);
	if (rc == HUB_OK)
		rc = put_tags(out, rec);
	if (rc != HUB_OK)
		return rc;
	size_t key_len = out->len - start;
	if (key_len > MAX_KEY_LEN)
		return HUB_EINVAL;
	hub_buf_append(out, " ", 1);
	rc = put_fields(out, rec, key_len);
	if (rc != HUB_OK)
		return rc;
	hub_buf_append(out, " ", 1);
	put_i64(out, rec->ts_ns);
	hub_buf_append(out, "\n", 1);
	return HUB_OK;
}

int hub_lp_encode(struct hub_buf *out, const struct hub_record *rec)
{
	if (!out || !rec)
		return HUB_EINVAL;
	size_t mark = out->len;
	int rc = encode(out, rec);
	if (rc != HUB_OK) {
		out->len = mark;
		if (out->data)
			out->data[mark] = '\0';
	}
	return rc;
}

static void push_end(struct hub_lpbatch *b)
{
	if (b->nlines == b->cap) {
		b->cap = b->cap ? b->cap * 2 : 64;
		b->ends = hub_xrealloc(b->ends, b->cap * sizeof(*b->ends));
	}
	b->ends[b->nlines++] = b->buf.len;
}

int hub_lpbatch_add(struct hub_lpbatch *b, const struct hub_record *rec)
{
	int rc = hub_lp_encode(&b->buf, rec);
	if (rc == HUB_OK)
		push_end(b);
	return rc;
}

int hub_lpbatch_add_all(struct hub_lpbatch *b, const struct hub_record *recs, size_t n)
{
	size_t len = b->buf.len, nlines = b->nlines;
	for (size_t i = 0; i < n; i++) {
		if (hub_lpbatch_add(b, &recs[i]) != HUB_OK) {
			hub_buf_truncate(&b->buf, len);
			b->nlines = nlines;
			return HUB_EINVAL;
		}
	}
	return HUB_OK;
}

void hub_lpbatch_add_raw(struct hub_lpbatch *b, const char *line, size_t len)
{
	if (len == 0)
		return;
	hub_buf_append(&b->buf, line, len);
	/* Keep the batch well-formed even if a caller forgot the newline. */
	if (line[len - 1] != '\n')
		hub_buf_append(&b->buf, "\n", 1);
	push_end(b);
}

void hub_lpbatch_clear(struct hub_lpbatch *b)
{
	hub_buf_clear(&b->buf);
	b->nlines = 0;
}

void hub_lpbatch_fini(struct hub_lpbatch *b)
{
	hub_buf_fini(&b->buf);
	free(b->ends);
	b->ends = NULL;
	b->nlines = b->cap = 0;
}
