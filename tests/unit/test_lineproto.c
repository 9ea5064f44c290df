/* Line protocol encoder: a table of hostile names and values with the exact line expected for
 * each accepted record and HUB_EINVAL for each refused one, plus limits, rollback and batches. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <float.h>
#include <math.h>

#include "cityhub/error.h"
#include "lineproto.h"

#define NT 6 /* tags per case (a NULL key ends the list early) */
#define NF 6 /* fields per case (a NULL name ends the list early) */

struct lp_case {
	const char *what;
	const char *kind;
	const char *sensor_id;
	struct hub_tag tags[NT];
	struct hub_field fields[NF];
	int ntags; /* -1: count up to the first NULL key; otherwise used as is */
	int64_t ts;
	const char *want; /* NULL: HUB_EINVAL expected */
};

#define D(n, x) { .name = (n), .v = { .type = HUB_FT_DOUBLE, .u = { .d = (x) } } }
#define I(n, x) { .name = (n), .v = { .type = HUB_FT_INT, .u = { .i = (x) } } }
#define B(n, x) { .name = (n), .v = { .type = HUB_FT_BOOL, .u = { .b = (x) } } }
#define S(n, x) { .name = (n), .v = { .type = HUB_FT_STRING, .u = { .s = (x) } } }
#define T(k, v) { .key = (k), .value = (v) }
#define V1 { D("v", 1.0) }
#define NONE -1

static const struct lp_case cases[] = {
	/* ---- accepted ---- */
	{ "plain record", "air_quality", "aq-01", { T("site", "s1"), T("district", "my_tho") },
	  { D("pm25", 12.5) }, NONE, 1795662000000000000LL,
	  "air_quality,district=my_tho,sensor_id=aq-01,site=s1 pm25=12.5 1795662000000000000\n" },
	{ "every type, record order kept", "m", "s", { { 0 } },
	  { D("z_d", 1.0), I("y_i", 42), B("x_t", 1), B("w_f", 0), S("v_s", "hi") }, NONE, 1,
	  "m,sensor_id=s z_d=1,y_i=42i,x_t=true,w_f=false,v_s=\"hi\" 1\n" },
	{ "bool other than 1 is true", "m", "s", { { 0 } }, { B("b", 7) }, NONE, 0,
	  "m,sensor_id=s b=true 0\n" },
	{ "measurement comma and space escaped", "my meas,x", "s", { { 0 } }, V1, NONE, 0,
	  "my\\ meas\\,x,sensor_id=s v=1 0\n" },
	{ "measurement equals and quote left alone", "a=b\"c", "s", { { 0 } }, V1, NONE, 0,
	  "a=b\"c,sensor_id=s v=1 0\n" },
	{ "measurement '#' not first", "m#1", "s", { { 0 } }, V1, NONE, 0,
	  "m#1,sensor_id=s v=1 0\n" },
	{ "tag key and value comma equals space", "m", "s", { T("k ,=", "v ,=") }, V1, NONE, 0,
	  "m,k\\ \\,\\==v\\ \\,\\=,sensor_id=s v=1 0\n" },
	{ "tag injection stays one tag", "m", "s", { T("site", "x,evil=1 v=666 0") }, V1, NONE,
	  5, "m,sensor_id=s,site=x\\,evil\\=1\\ v\\=666\\ 0 v=1 5\n" },
	{ "sensor id escaped", "m", "a b,c=d", { { 0 } }, V1, NONE, 0,
	  "m,sensor_id=a\\ b\\,c\\=d v=1 0\n" },
	{ "quote in tag value kept raw", "m", "s", { T("q", "\"x\"") }, V1, NONE, 0,
	  "m,q=\"x\",sensor_id=s v=1 0\n" },
	{ "field key comma equals space", "m", "s", { { 0 } }, { D("f ,=", 2.5) }, NONE, 0,
	  "m,sensor_id=s f\\ \\,\\==2.5 0\n" },
	{ "field key quote kept raw", "m", "s", { { 0 } }, { D("f\"", 2.5) }, NONE, 0,
	  "m,sensor_id=s f\"=2.5 0\n" },
	{ "string quotes and backslashes", "m", "s", { { 0 } },
	  { S("s", "say \"hi\" \\ bye\\") }, NONE, 0,
	  "m,sensor_id=s s=\"say \\\"hi\\\" \\\\ bye\\\\\" 0\n" },
	{ "string injection stays one field", "m", "s", { { 0 } },
	  { S("s", "x\",evil=1 0"), I("n", 1) }, NONE, 0,
	  "m,sensor_id=s s=\"x\\\",evil=1 0\",n=1i 0\n" },
	{ "string separators unescaped", "m", "s", { { 0 } }, { S("s", "a,b=c d") }, NONE, 0,
	  "m,sensor_id=s s=\"a,b=c d\" 0\n" },
	{ "empty string", "m", "s", { { 0 } }, { S("s", "") }, NONE, 0,
	  "m,sensor_id=s s=\"\" 0\n" },
	{ "tab and other controls in a string", "m", "s", { { 0 } }, { S("s", "a\tb\x01\x1f") },
	  NONE, 0, "m,sensor_id=s s=\"a\tb\x01\x1f\" 0\n" },
	{ "UTF-8 everywhere", "chất_lượng", "cảm biến", { T("quận", "Mỹ Tho") },
	  { S("ghi_chú", "Tiền Giang \xf0\x9f\x8c\x8a"), D("nhiệt_độ", 31.5) }, NONE, 0,
	  "chất_lượng,quận=Mỹ\\ Tho,sensor_id=cảm\\ biến "
	  "ghi_chú=\"Tiền Giang \xf0\x9f\x8c\x8a\",nhiệt_độ=31.5 0\n" },
	{ "backslash before an ordinary byte", "a\\b", "C:\\temp", { T("p\\q", "x\\\\y") },
	  { D("f\\g", 1.0) }, NONE, 0, "a\\b,p\\q=x\\\\y,sensor_id=C:\\temp f\\g=1 0\n" },
	{ "empty and NULL tag values omitted", "m", "s",
	  { T("empty", ""), T("site", "x"), T("null", NULL), T("\n", "") }, V1, NONE, 0,
	  "m,sensor_id=s,site=x v=1 0\n" },
	{ "tags sorted bytewise", "m", "s",
	  { T("b", "1"), T("a", "2"), T("é", "3"), T("B", "4"), T("_", "5"), T("sensor", "6") },
	  V1, NONE, 0, "m,B=4,_=5,a=2,b=1,sensor=6,sensor_id=s,é=3 v=1 0\n" },
	{ "int64 extremes", "m", "s", { { 0 } },
	  { I("min", INT64_MIN), I("max", INT64_MAX), I("zero", 0), I("neg", -1) }, NONE, 0,
	  "m,sensor_id=s min=-9223372036854775808i,max=9223372036854775807i,zero=0i,"
	  "neg=-1i 0\n" },
	{ "doubles, shortest round trip", "m", "s", { { 0 } },
	  { D("a", 0.1), D("b", 1.0 / 3.0), D("c", 0.1 + 0.2), D("d", -0.0), D("e", 100.0),
	    D("f", -273.15) },
	  NONE, 0,
	  "m,sensor_id=s a=0.1,b=0.3333333333333333,c=0.30000000000000004,d=-0,e=100,"
	  "f=-273.15 0\n" },
	{ "doubles, extremes", "m", "s", { { 0 } },
	  { D("a", 1e308), D("b", DBL_MAX), D("c", 4.9406564584124654e-324), D("d", DBL_MIN),
	    D("e", 1.2345678901234568e+17), D("f", 1e15) },
	  NONE, 0,
	  "m,sensor_id=s a=1e+308,b=1.7976931348623157e+308,c=4.94065645841247e-324,"
	  "d=2.2250738585072014e-308,e=1.2345678901234568e+17,f=1e+15 0\n" },
	{ "largest denormal", "m", "s", { { 0 } }, { D("x", 2.2250738585072009e-308) }, NONE, 0,
	  "m,sensor_id=s x=2.225073858507201e-308 0\n" },
	{ "negative timestamp", "m", "s", { { 0 } }, V1, NONE, -1, "m,sensor_id=s v=1 -1\n" },
	{ "earliest timestamp", "m", "s", { { 0 } }, V1, NONE, INT64_MIN + 2,
	  "m,sensor_id=s v=1 -9223372036854775806\n" },
	{ "latest timestamp", "m", "s", { { 0 } }, V1, NONE, INT64_MAX - 1,
	  "m,sensor_id=s v=1 9223372036854775806\n" },
	{ "time is fine as measurement, tag value, string and key prefix", "time", "time",
	  { T("timer", "time") }, { S("times", "time") }, NONE, 0,
	  "time,sensor_id=time,timer=time times=\"time\" 0\n" },
	{ "DEL byte is printable enough", "m\x7f", "s", { { 0 } }, V1, NONE, 0,
	  "m\x7f,sensor_id=s v=1 0\n" },

	/* ---- refused ---- */
	{ "no kind", NULL, "s", { { 0 } }, V1, NONE, 0, NULL },
	{ "empty kind", "", "s", { { 0 } }, V1, NONE, 0, NULL },
	{ "kind starting with # is a comment", "#m", "s", { { 0 } }, V1, NONE, 0, NULL },
	{ "newline in kind", "m\nx", "s", { { 0 } }, V1, NONE, 0, NULL },
	{ "CR in kind", "m\r", "s", { { 0 } }, V1, NONE, 0, NULL },
	{ "tab in kind", "\tm", "s", { { 0 } }, V1, NONE, 0, NULL },
	{ "control byte in kind", "m\x01", "s", { { 0 } }, V1, NONE, 0, NULL },
	{ "kind ending in backslash", "m\\", "s", { { 0 } }, V1, NONE, 0, NULL },
	{ "backslash before space in kind", "a\\ b", "s", { { 0 } }, V1, NONE, 0, NULL },
	{ "backslash before comma in kind", "a\\,b", "s", { { 0 } }, V1, NONE, 0, NULL },
	{ "backslash before equals in kind", "a\\=b", "s", { { 0 } }, V1, NONE, 0, NULL },
	{ "backslash before quote in kind", "a\\\"b", "s", { { 0 } }, V1, NONE, 0, NULL },
	{ "no sensor id", "m", NULL, { { 0 } }, V1, NONE, 0, NULL },
	{ "empty sensor id", "m", "", { { 0 } }, V1, NONE, 0, NULL },
	{ "newline in sensor id", "m", "s\n", { { 0 } }, V1, NONE, 0, NULL },
	{ "sensor id ending in backslash", "m", "s\\", { { 0 } }, V1, NONE, 0, NULL },
	{ "two backslashes still end in one", "m", "s\\\\", { { 0 } }, V1, NONE, 0, NULL },
	{ "empty tag key", "m", "s", { T("", "x") }, V1, NONE, 0, NULL },
	{ "NULL tag key", "m", "s", { T(NULL, "x") }, V1, 1, 0, NULL },
	{ "tag value ending in backslash", "m", "s", { T("k", "x\\") }, V1, NONE, 0, NULL },
	{ "backslash before equals in tag value", "m", "s", { T("k", "a\\=b") }, V1, NONE, 0,
	  NULL },
	{ "backslash before quote in tag value", "m", "s", { T("k", "a\\\"b") }, V1, NONE, 0,
	  NULL },
	{ "backslash before space in tag key", "m", "s", { T("k\\ ", "v") }, V1, NONE, 0, NULL },
	{ "newline in tag value", "m", "s", { T("k", "a\nb") }, V1, NONE, 0, NULL },
	{ "CR in tag value", "m", "s", { T("k", "a\rb") }, V1, NONE, 0, NULL },
	{ "tab in tag value", "m", "s", { T("k", "a\tb") }, V1, NONE, 0, NULL },
	{ "CR in tag key", "m", "s", { T("k\r", "v") }, V1, NONE, 0, NULL },
	{ "duplicate tag key", "m", "s", { T("k", "1"), T("k", "2") }, V1, NONE, 0, NULL },
	{ "tag named sensor_id", "m", "s", { T("sensor_id", "other") }, V1, NONE, 0, NULL },
	{ "tag key time (InfluxDB drops the point)", "m", "s", { T("time", "x") }, V1, NONE, 0,
	  NULL },
	{ "field key time (InfluxDB drops the point)", "m", "s", { { 0 } }, { I("time", 1) },
	  NONE, 0, NULL },
	{ "no fields", "m", "s", { { 0 } }, { { 0 } }, NONE, 0, NULL },
	{ "empty field name", "m", "s", { { 0 } }, { D("", 1.0) }, NONE, 0, NULL },
	{ "newline in field name", "m", "s", { { 0 } }, { D("f\n", 1.0) }, NONE, 0, NULL },
	{ "tab in field name", "m", "s", { { 0 } }, { D("f\tg", 1.0) }, NONE, 0, NULL },
	{ "field name ending in backslash", "m", "s", { { 0 } }, { D("f\\", 1.0) }, NONE, 0,
	  NULL },
	{ "backslash before quote in field name", "m", "s", { { 0 } }, { D("f\\\"", 1.0) }, NONE,
	  0, NULL },
	{ "duplicate field name", "m", "s", { { 0 } }, { D("f", 1.0), I("f", 2) }, NONE, 0,
	  NULL },
	{ "newline in string", "m", "s", { { 0 } }, { S("s", "a\nb") }, NONE, 0, NULL },
	{ "CR in string", "m", "s", { { 0 } }, { S("s", "a\r") }, NONE, 0, NULL },
	{ "NULL string", "m", "s", { { 0 } }, { S("s", NULL) }, NONE, 0, NULL },
	{ "NaN", "m", "s", { { 0 } }, { D("ok", 1.0), D("x", NAN) }, NONE, 0, NULL },
	{ "+Inf", "m", "s", { { 0 } }, { D("x", INFINITY) }, NONE, 0, NULL },
	{ "-Inf", "m", "s", { { 0 } }, { D("x", -INFINITY) }, NONE, 0, NULL },
	{ "lone continuation byte in kind", "m\x80", "s", { { 0 } }, V1, NONE, 0, NULL },
	{ "truncated sequence in tag value", "m", "s", { T("k", "M\xe1\xbb") }, V1, NONE, 0,
	  NULL },
	{ "overlong slash in field name", "m", "s", { { 0 } }, { D("f\xc0\xaf", 1) }, NONE, 0,
	  NULL },
	{ "overlong 3-byte in string", "m", "s", { { 0 } }, { S("s", "\xe0\x80\xaf") }, NONE, 0,
	  NULL },
	{ "surrogate in string", "m", "s", { { 0 } }, { S("s", "\xed\xa0\x80") }, NONE, 0, NULL },
	{ "above U+10FFFF in string", "m", "s", { { 0 } }, { S("s", "\xf4\x90\x80\x80") }, NONE,
	  0, NULL },
	{ "0xff in sensor id", "m", "\xff", { { 0 } }, V1, NONE, 0, NULL },
	{ "timestamp INT64_MIN", "m", "s", { { 0 } }, V1, NONE, INT64_MIN, NULL },
	{ "timestamp INT64_MIN + 1", "m", "s", { { 0 } }, V1, NONE, INT64_MIN + 1, NULL },
	{ "timestamp INT64_MAX", "m", "s", { { 0 } }, V1, NONE, INT64_MAX, NULL },
};

static void fill(struct hub_record *rec, const struct lp_case *c)
{
	memset(rec, 0, sizeof(*rec));
	rec->kind = c->kind;
	rec->sensor_id = c->sensor_id;
	rec->ts_ns = c->ts;
	rec->has_ts = 1;
	size_t nt = 0, nf = 0;
	if (c->ntags >= 0)
		nt = (size_t)c->ntags;
	else
		while (nt < NT && c->tags[nt].key)
			nt++;
	while (nf < NF && c->fields[nf].name)
		nf++;
	memcpy(rec->tags, c->tags, nt * sizeof(c->tags[0]));
	memcpy(rec->fields, c->fields, nf * sizeof(c->fields[0]));
	rec->ntags = nt;
	rec->nfields = nf;
}

static void test_table(void **state)
{
	(void)state;
	struct hub_buf out = { 0 };
	struct hub_record rec;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct lp_case *c = &cases[i];
		fill(&rec, c);
		hub_buf_clear(&out);
		hub_buf_puts(&out, "old\n");
		int rc = hub_lp_encode(&out, &rec);
		if (c->want) {
			if (rc != HUB_OK)
				fail_msg("%s: rc=%d, want a line", c->what, rc);
			const char *got = out.data + 4;
			if (strncmp(out.data, "old\n", 4) != 0 || strcmp(got, c->want) != 0)
				fail_msg("%s:\n got [%s]\nwant [%s]", c->what, got, c->want);
			assert_int_equal(out.len, 4 + strlen(c->want));
		} else {
			if (rc != HUB_EINVAL)
				fail_msg("%s: rc=%d, want HUB_EINVAL", c->what, rc);
			if (out.len != 4 || strcmp(out.data, "old\n") != 0)
				fail_msg("%s: output changed on error: [%s]", c->what, out.data);
		}
	}
	hub_buf_fini(&out);
}

static void test_bad_arguments(void **state)
{
	(void)state;
	struct hub_buf out = { 0 };
	struct hub_record rec;
	fill(&rec, &cases[0]);
	assert_int_equal(hub_lp_encode(NULL, &rec), HUB_EINVAL);
	assert_int_equal(hub_lp_encode(&out, NULL), HUB_EINVAL);
	rec.ntags = HUB_MAX_TAGS + 1;
	assert_int_equal(hub_lp_encode(&out, &rec), HUB_EINVAL);
	fill(&rec, &cases[0]);
	rec.nfields = HUB_MAX_FIELDS + 1;
	assert_int_equal(hub_lp_encode(&out, &rec), HUB_EINVAL);
	fill(&rec, &cases[0]);
	rec.fields[0].v.type = (enum hub_ftype)99;
	assert_int_equal(hub_lp_encode(&out, &rec), HUB_EINVAL);
	assert_int_equal(out.len, 0);
	/* Full tag and field tables are fine. */
	fill(&rec, &cases[0]);
	static char keys[HUB_MAX_FIELDS][8];
	rec.ntags = HUB_MAX_TAGS;
	rec.nfields = HUB_MAX_FIELDS;
	for (int i = 0; i < HUB_MAX_FIELDS; i++) {
		snprintf(keys[i], sizeof(keys[i]), "k%02d", i);
		if (i < HUB_MAX_TAGS)
			rec.tags[i] = (struct hub_tag){ .key = keys[i], .value = "v" };
		rec.fields[i] = (struct hub_field){ .name = keys[i], .v = { .type = HUB_FT_INT } };
	}
	assert_int_equal(hub_lp_encode(&out, &rec), HUB_OK);
	assert_true(strncmp(out.data, "air_quality,k00=v,k01=v,", 24) == 0);
	assert_non_null(strstr(out.data, ",k15=v,sensor_id=aq-01 k00=0i,k01=0i,"));
	assert_non_null(strstr(out.data, ",k31=0i 1795662000000000000\n"));
	hub_buf_fini(&out);
}

static char *repeat(const char *unit, size_t times)
{
	size_t n = strlen(unit);
	char *s = malloc(n * times + 1);
	assert_non_null(s);
	for (size_t i = 0; i < times; i++)
		memcpy(s + i * n, unit, n);
	s[n * times] = '\0';
	return s;
}

static void test_long_values(void **state)
{
	(void)state;
	char *str = repeat("\"\\", 50000);   /* 100000 bytes that all need escaping */
	char *tagv = repeat("a,= ", 5000);   /* 20000 bytes, half of them escaped */
	char *want_str = repeat("\\\"\\\\", 50000);
	char *want_tag = repeat("a\\,\\=\\ ", 5000);
	struct hub_record rec = { .kind = "m", .sensor_id = "s", .ntags = 1, .nfields = 1 };
	rec.tags[0] = (struct hub_tag){ .key = "t", .value = tagv };
	rec.fields[0] = (struct hub_field){ .name = "s", .v = { .type = HUB_FT_STRING,
								 .u = { .s = str } } };
	struct hub_buf out = { 0 };
	assert_int_equal(hub_lp_encode(&out, &rec), HUB_OK);
	struct hub_buf want = { 0 };
	hub_buf_printf(&want, "m,sensor_id=s,t=%s s=\"%s\" 0\n", want_tag, want_str);
	assert_int_equal(out.len, want.len);
	assert_memory_equal(out.data, want.data, want.len);

	/* Refusal at the very end of a long line leaves earlier content intact. */
	hub_buf_clear(&out);
	hub_buf_puts(&out, "keep");
	size_t cap = out.cap;
	rec.nfields = 2;
	rec.fields[1] = (struct hub_field){ .name = "bad\\", .v = { .type = HUB_FT_INT } };
	assert_int_equal(hub_lp_encode(&out, &rec), HUB_EINVAL);
	assert_int_equal(out.len, 4);
	assert_string_equal(out.data, "keep");
	assert_true(out.cap >= cap);

	hub_buf_fini(&want);
	hub_buf_fini(&out);
	free(str);
	free(tagv);
	free(want_str);
	free(want_tag);
}

/* InfluxDB refuses a series key (measurement + tags + 4 + field key) over 65535 bytes. */
static void test_key_length_limit(void **state)
{
	(void)state;
	/* key = kind + ",sensor_id=s" (12 bytes); with field "f": key + 4 + 1 <= 65535 */
	size_t kind_len = 65535 - 12 - 4 - 1;
	char *kind = repeat("k", kind_len + 1);
	struct hub_record rec = { .kind = kind, .sensor_id = "s", .nfields = 1 };
	rec.fields[0] = (struct hub_field){ .name = "f", .v = { .type = HUB_FT_BOOL } };
	struct hub_buf out = { 0 };
	assert_int_equal(hub_lp_encode(&out, &rec), HUB_EINVAL);
	assert_int_equal(out.len, 0);
	kind[kind_len] = '\0';
	assert_int_equal(hub_lp_encode(&out, &rec), HUB_OK);
	assert_int_equal(out.len, kind_len + 12 + strlen(" f=false 0\n"));
	/* Escaped bytes count as written: one comma more costs two bytes. */
	hub_buf_clear(&out);
	kind[0] = ',';
	kind[kind_len - 1] = '\0';
	assert_int_equal(hub_lp_encode(&out, &rec), HUB_OK);
	hub_buf_clear(&out);
	kind[1] = ',';
	assert_int_equal(hub_lp_encode(&out, &rec), HUB_EINVAL);
	assert_int_equal(out.len, 0);
	/* A key alone over the limit. */
	char *big = repeat("x", 70000);
	rec.kind = big;
	assert_int_equal(hub_lp_encode(&out, &rec), HUB_EINVAL);
	hub_buf_fini(&out);
	free(kind);
	free(big);
}

/* Any finite double, written and read back with strtod, is the same bits; the text is a
 * plain float literal (no 'i', no comma, no spaces). NaN and infinities are refused. */
static void test_double_roundtrip(void **state)
{
	(void)state;
	struct hub_record rec = { .kind = "m", .sensor_id = "s", .nfields = 1 };
	rec.fields[0] = (struct hub_field){ .name = "d", .v = { .type = HUB_FT_DOUBLE } };
	struct hub_buf out = { 0 };
	uint64_t x = 88172645463325252ULL;
	int finite = 0;
	for (int i = 0; i < 300000; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		double d;
		uint64_t bits = x;
		if (i % 3 == 0)
			bits &= 0x800fffffffffffffULL; /* denormals and zeros */
		memcpy(&d, &bits, sizeof(d));
		hub_buf_clear(&out);
		rec.fields[0].v.u.d = d;
		int rc = hub_lp_encode(&out, &rec);
		if (!isfinite(d)) {
			assert_int_equal(rc, HUB_EINVAL);
			assert_int_equal(out.len, 0);
			continue;
		}
		finite++;
		assert_int_equal(rc, HUB_OK);
		const char *num = out.data + strlen("m,sensor_id=s d=");
		size_t n = strspn(num, "0123456789.e+-");
		assert_true(n > 0 && n <= 24);
		assert_string_equal(num + n, " 0\n");
		char *end;
		double back = strtod(num, &end);
		assert_ptr_equal(end, num + n);
		if (memcmp(&back, &d, sizeof(d)) != 0)
			fail_msg("%.17g written as %.*s", d, (int)n, num);
	}
	assert_true(finite > 250000);
	hub_buf_fini(&out);
}

static void test_batch(void **state)
{
	(void)state;
	struct hub_lpbatch b = { 0 };
	struct hub_record rec;
	fill(&rec, &cases[0]);
	assert_int_equal(hub_lpbatch_add(&b, &rec), HUB_OK);
	fill(&rec, &cases[0]);
	rec.kind = "#bad";
	assert_int_equal(hub_lpbatch_add(&b, &rec), HUB_EINVAL);
	hub_lpbatch_add_raw(&b, "raw v=1i 7\n", 11);
	hub_lpbatch_add_raw(&b, "nonl v=2i 8", 11);
	hub_lpbatch_add_raw(&b, "ignored", 0);
	const char *l0 = "air_quality,district=my_tho,sensor_id=aq-01,site=s1 "
			 "pm25=12.5 1795662000000000000\n";
	size_t n0 = strlen(l0);
	assert_int_equal(b.nlines, 3);
	assert_int_equal(b.ends[0], n0);
	assert_int_equal(b.ends[1], n0 + 11);
	assert_int_equal(b.ends[2], n0 + 23);
	assert_int_equal(b.buf.len, n0 + 23);
	assert_memory_equal(b.buf.data + n0, "raw v=1i 7\nnonl v=2i 8\n", 23);

	/* Growth past the initial capacity of the end table keeps every offset. */
	hub_lpbatch_clear(&b);
	assert_int_equal(b.nlines, 0);
	assert_int_equal(b.buf.len, 0);
	for (int i = 0; i < 100; i++)
		assert_int_equal(hub_lpbatch_add(&b, &rec), HUB_EINVAL); /* still "#bad" */
	assert_int_equal(b.nlines, 0);
	fill(&rec, &cases[0]);
	for (int i = 0; i < 1000; i++)
		assert_int_equal(hub_lpbatch_add(&b, &rec), HUB_OK);
	assert_int_equal(b.nlines, 1000);
	for (size_t i = 0; i < b.nlines; i++)
		assert_int_equal(b.ends[i], (i + 1) * n0);
	assert_int_equal(b.buf.len, 1000 * n0);
	hub_lpbatch_fini(&b);
	assert_null(b.ends);
	assert_int_equal(b.nlines, 0);
	hub_lpbatch_fini(&b); /* twice is harmless */
}

/* A message's records go into a batch all or none: a refused record leaves the batch as it was. */
static void test_batch_add_all(void **state)
{
	(void)state;
	struct hub_lpbatch b = { 0 };
	struct hub_record recs[3];
	for (int i = 0; i < 3; i++)
		fill(&recs[i], &cases[0]);
	assert_int_equal(hub_lpbatch_add_all(&b, recs, 1), HUB_OK);
	size_t n0 = b.buf.len;
	recs[2].kind = "#bad";
	assert_int_equal(hub_lpbatch_add_all(&b, recs, 3), HUB_EINVAL);
	assert_int_equal(b.nlines, 1);
	assert_int_equal(b.buf.len, n0);
	assert_int_equal(b.buf.data[n0], '\0');
	assert_int_equal(hub_lpbatch_add_all(&b, recs, 2), HUB_OK);
	assert_int_equal(b.nlines, 3);
	assert_int_equal(b.ends[2], 3 * n0);
	assert_memory_equal(b.buf.data + n0, b.buf.data, n0);
	hub_lpbatch_fini(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_table),
		cmocka_unit_test(test_bad_arguments),
		cmocka_unit_test(test_long_values),
		cmocka_unit_test(test_key_length_limit),
		cmocka_unit_test(test_double_roundtrip),
		cmocka_unit_test(test_batch),
		cmocka_unit_test(test_batch_add_all),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
