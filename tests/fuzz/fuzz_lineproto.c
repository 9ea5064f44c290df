/* libFuzzer harness for the line protocol encoder.
 *
 * Input: [ntags][nfields] kind sensor_id (tag_key tag_value)* (name type value)* [ts: 8 bytes]
 * where a string is a length byte and that many bytes (length 255 = NULL pointer), type is a
 * byte (0 double, 1 int, 2 bool, 3 string, other = invalid), a double or int is 8 raw bytes.
 *
 * Invariants: the encoder returns HUB_OK or HUB_EINVAL; on HUB_EINVAL the output is exactly as
 * before; on HUB_OK it appended exactly one line, ending in '\n', with no other '\n' or '\r',
 * which a tokenizer following InfluxDB 1.x's parser reads back as the same measurement, the
 * same tags (sensor_id plus the non-empty ones, sorted), the same fields in order with the same
 * values, and the same timestamp. A record made only of plain names must be accepted. The
 * batch API produces the same bytes. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cityhub/error.h"
#include "fuzz_check.h"
#include "lineproto.h"

struct reader {
	const uint8_t *p;
	size_t n;
	char *pool; /* strings, each NUL-terminated */
	size_t used;
};

static uint8_t get_byte(struct reader *r)
{
	if (r->n == 0)
		return 0;
	r->n--;
	return *r->p++;
}

static uint64_t get_u64(struct reader *r)
{
	uint64_t v = 0;
	for (int i = 0; i < 8; i++)
		v = v << 8 | get_byte(r);
	return v;
}

static const char *get_str(struct reader *r)
{
	uint8_t len = get_byte(r);
	if (len == 255)
		return NULL;
	size_t n = len < r->n ? len : r->n;
	char *s = r->pool + r->used;
	memcpy(s, r->p, n);
	s[n] = '\0'; /* an embedded NUL simply ends the string early */
	r->used += n + 1;
	r->p += n;
	r->n -= n;
	return s;
}

static void read_record(struct reader *r, struct hub_record *rec)
{
	memset(rec, 0, sizeof(*rec));
	rec->ntags = get_byte(r) % (HUB_MAX_TAGS + 2);
	rec->nfields = get_byte(r) % (HUB_MAX_FIELDS + 2);
	rec->kind = get_str(r);
	rec->sensor_id = get_str(r);
	for (size_t i = 0; i < rec->ntags && i < HUB_MAX_TAGS; i++) {
		rec->tags[i].key = get_str(r);
		rec->tags[i].value = get_str(r);
	}
	for (size_t i = 0; i < rec->nfields && i < HUB_MAX_FIELDS; i++) {
		struct hub_field *f = &rec->fields[i];
		f->name = get_str(r);
		uint8_t type = get_byte(r);
		f->v.type = type < 4 ? (enum hub_ftype)type : (enum hub_ftype)99;
		uint64_t bits;
		switch (type) {
		case HUB_FT_DOUBLE:
			bits = get_u64(r);
			memcpy(&f->v.u.d, &bits, sizeof(bits));
			break;
		case HUB_FT_INT:
			f->v.u.i = (int64_t)get_u64(r);
			break;
		case HUB_FT_BOOL:
			f->v.u.b = get_byte(r) & 3;
			break;
		case HUB_FT_STRING:
			f->v.u.s = get_str(r);
			break;
		}
	}
	rec->ts_ns = (int64_t)get_u64(r);
	rec->has_ts = 1;
}

/* ---- a tokenizer that follows InfluxDB 1.x's parser ---- */

/* Index of the first byte in s[from..n) equal to one of stops and not preceded by a
 * backslash (the key scanner's rule), or n. */
static size_t scan_key(const char *s, size_t from, size_t n, const char *stops)
{
	for (size_t i = from; i < n; i++)
		if (strchr(stops, s[i]) && (i == 0 || s[i - 1] != '\\'))
			return i;
	return n;
}

/* Removes the backslash of every \x with x in set; writes into out (NUL-terminated). */
static void unescape(const char *s, size_t n, const char *set, char *out)
{
	size_t w = 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '\\' && i + 1 < n && strchr(set, s[i + 1]))
			i++;
		out[w++] = s[i];
	}
	out[w] = '\0';
}

static int cmp_tag(const void *a, const void *b)
{
	return strcmp(((const struct hub_tag *)a)->key, ((const struct hub_tag *)b)->key);
}

/* Checks the measurement and tag section line[0..end) against rec. */
static void check_key(const char *line, size_t end, const struct hub_record *rec, char *tmp)
{
	size_t m = scan_key(line, 0, end, ",");
	unescape(line, m, ",\"= ", tmp); /* measurement names are read with the full set */
	CHECK(strcmp(tmp, rec->kind) == 0);
	struct hub_tag want[HUB_MAX_TAGS + 1];
	size_t nwant = 0;
	want[nwant++] = (struct hub_tag){ .key = "sensor_id", .value = rec->sensor_id };
	for (size_t i = 0; i < rec->ntags; i++)
		if (rec->tags[i].value && rec->tags[i].value[0])
			want[nwant++] = rec->tags[i];
	qsort(want, nwant, sizeof(want[0]), cmp_tag);
	size_t ntags = 0, pos = m;
	while (pos < end) {
		CHECK(line[pos] == ',' && ntags < nwant);
		size_t eq = scan_key(line, pos + 1, end, "=");
		size_t next = scan_key(line, eq + 1, end, ",");
		CHECK(eq < end && eq > pos + 1 && next > eq + 1);
		unescape(line + pos + 1, eq - pos - 1, ", =", tmp);
		CHECK(strcmp(tmp, want[ntags].key) == 0);
		unescape(line + eq + 1, next - eq - 1, ", =", tmp);
		CHECK(strcmp(tmp, want[ntags].value) == 0);
		ntags++;
		pos = next;
	}
	CHECK(ntags == nwant);
}

/* Checks one field value token v[0..n) against the record's value. */
static void check_value(const char *v, size_t n, const struct hub_value *want, char *tmp)
{
	char num[64];
	char *end;
	switch (want->type) {
	case HUB_FT_STRING:
		CHECK(n >= 2 && v[0] == '"' && v[n - 1] == '"');
		unescape(v + 1, n - 2, "\\\"", tmp);
		CHECK(strcmp(tmp, want->u.s) == 0);
		return;
	case HUB_FT_BOOL:
		CHECK(n == (want->u.b ? 4u : 5u));
		CHECK(memcmp(v, want->u.b ? "true" : "false", n) == 0);
		return;
	case HUB_FT_INT:
		CHECK(n >= 2 && n < sizeof(num) && v[n - 1] == 'i');
		memcpy(num, v, n - 1);
		num[n - 1] = '\0';
		CHECK(strtoll(num, &end, 10) == want->u.i && *end == '\0');
		return;
	case HUB_FT_DOUBLE:
		CHECK(n >= 1 && n < sizeof(num) && strspn(v, "0123456789.e+-") >= n);
		memcpy(num, v, n);
		num[n] = '\0';
		double d = strtod(num, &end);
		CHECK(*end == '\0' && memcmp(&d, &want->u.d, sizeof(d)) == 0);
		return;
	}
	CHECK(0);
}

/* Scans a field value from line[i..n): a quoted string (backslash pairs skipped) or a bare
 * token up to ',' or ' '. Returns the index just past it. */
static size_t scan_value(const char *line, size_t i, size_t n)
{
	if (i < n && line[i] == '"') {
		for (i++; i < n && line[i] != '"'; i++)
			if (line[i] == '\\')
				i++;
		CHECK(i < n);
		return i + 1;
	}
	while (i < n && line[i] != ',' && line[i] != ' ')
		i++;
	return i;
}

static void check_line(const char *line, size_t n, const struct hub_record *rec, char *tmp)
{
	CHECK(n > 0 && line[n - 1] == '\n');
	CHECK(memchr(line, '\n', n - 1) == NULL && memchr(line, '\r', n) == NULL);
	n--;
	size_t key_end = scan_key(line, 0, n, " ");
	CHECK(key_end < n);
	check_key(line, key_end, rec, tmp);
	size_t pos = key_end + 1, nfields = 0;
	for (;;) {
		CHECK(nfields < rec->nfields);
		size_t eq = scan_key(line, pos, n, "=");
		CHECK(eq < n && eq > pos);
		unescape(line + pos, eq - pos, ",\"= ", tmp);
		CHECK(strcmp(tmp, rec->fields[nfields].name) == 0);
		size_t end = scan_value(line, eq + 1, n);
		check_value(line + eq + 1, end - eq - 1, &rec->fields[nfields].v, tmp);
		nfields++;
		CHECK(end < n);
		pos = end + 1;
		if (line[end] == ' ')
			break;
	}
	CHECK(nfields == rec->nfields);
	char ts[32];
	CHECK(n - pos < sizeof(ts));
	memcpy(ts, line + pos, n - pos);
	ts[n - pos] = '\0';
	char *end;
	CHECK(strtoll(ts, &end, 10) == rec->ts_ns && *end == '\0' && end != ts);
}

/* Non-empty, [A-Za-z0-9_] only and not "time": nothing for the encoder to refuse. */
static int plain(const char *s)
{
	if (!s || !*s || strcmp(s, "time") == 0)
		return 0;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9') || *s == '_'))
			return 0;
	return 1;
}

/* ASCII without '\n' and '\r' (beyond ASCII, UTF-8 validity decides). */
static int ascii_no_newline(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s >= 0x80 || *s == '\n' || *s == '\r')
			return 0;
	return 1;
}

static int must_accept(const struct hub_record *rec)
{
	if (!plain(rec->kind) || !plain(rec->sensor_id) || rec->nfields == 0 ||
	    rec->nfields > HUB_MAX_FIELDS || rec->ntags > HUB_MAX_TAGS ||
	    rec->ts_ns < INT64_MIN + 2 || rec->ts_ns == INT64_MAX)
		return 0;
	for (size_t i = 0; i < rec->ntags; i++) {
		if (!plain(rec->tags[i].key) || !plain(rec->tags[i].value) ||
		    strcmp(rec->tags[i].key, "sensor_id") == 0)
			return 0;
		for (size_t j = 0; j < i; j++)
			if (strcmp(rec->tags[i].key, rec->tags[j].key) == 0)
				return 0;
	}
	for (size_t i = 0; i < rec->nfields; i++) {
		const struct hub_field *f = &rec->fields[i];
		if (!plain(f->name) || (unsigned)f->v.type > HUB_FT_STRING)
			return 0;
		double d = f->v.u.d;
		if (f->v.type == HUB_FT_DOUBLE && (d != d || d - d != 0))
			return 0; /* NaN or infinite */
		if (f->v.type == HUB_FT_STRING && (!f->v.u.s || !ascii_no_newline(f->v.u.s)))
			return 0;
		for (size_t j = 0; j < i; j++)
			if (strcmp(f->name, rec->fields[j].name) == 0)
				return 0;
	}
	return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct reader r = { .p = data, .n = size, .pool = malloc(2 * size + 256) };
	struct hub_record rec;
	read_record(&r, &rec);
	if (rec.ntags > HUB_MAX_TAGS || rec.nfields > HUB_MAX_FIELDS) {
		/* Counts beyond the arrays: refused without looking at the entries. */
		struct hub_buf out = { 0 };
		CHECK(hub_lp_encode(&out, &rec) == HUB_EINVAL && out.len == 0);
		hub_buf_fini(&out);
		free(r.pool);
		return 0;
	}
	struct hub_buf out = { 0 };
	hub_buf_puts(&out, "P\n");
	int rc = hub_lp_encode(&out, &rec);
	CHECK(rc == HUB_OK || rc == HUB_EINVAL);
	if (must_accept(&rec))
		CHECK(rc == HUB_OK);
	CHECK(out.len >= 2 && memcmp(out.data, "P\n", 2) == 0);
	if (rc != HUB_OK) {
		CHECK(out.len == 2 && out.data[2] == '\0');
	} else {
		char *tmp = malloc(out.len + 1);
		check_line(out.data + 2, out.len - 2, &rec, tmp);
		free(tmp);
	}
	struct hub_lpbatch b = { 0 };
	CHECK(hub_lpbatch_add(&b, &rec) == rc);
	CHECK(b.nlines == (rc == HUB_OK ? 1u : 0u));
	CHECK(b.buf.len == out.len - 2 && (b.buf.len == 0 || memcmp(b.buf.data, out.data + 2,
								     b.buf.len) == 0));
	CHECK(rc != HUB_OK || b.ends[0] == b.buf.len);
	hub_lpbatch_fini(&b);
	hub_buf_fini(&out);
	free(r.pool);
	return 0;
}
