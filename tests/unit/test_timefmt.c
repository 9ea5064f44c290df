/* RFC 3339 parsing, epoch conversion and formatting: exact values and every malformed form. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cityhub/error.h"
#include "cityhub/timefmt.h"

#define NS 1000000000LL

/* Parses exactly the bytes of s from a heap copy without a terminator, so that ASan
 * catches any read past len. */
static int parse(const char *s, int64_t *ns)
{
	size_t len = strlen(s);
	char *copy = malloc(len ? len : 1);
	assert_non_null(copy);
	memcpy(copy, s, len);
	int rc = hub_time_parse_rfc3339(copy, len, ns);
	free(copy);
	return rc;
}

struct ok_case {
	const char *text;
	int64_t ns;
};

static const struct ok_case ok_cases[] = {
	{ "1970-01-01T00:00:00Z", 0 },
	{ "1970-01-01T00:00:00.000000001Z", 1 },
	{ "1970-01-01T00:00:01Z", NS },
	{ "2026-11-26T10:00:00.123456789+07:00", 1795662000LL * NS + 123456789 },
	{ "2026-11-26T03:00:00.123456789Z", 1795662000LL * NS + 123456789 },
	{ "2026-11-25T20:30:00.123456789-06:30", 1795662000LL * NS + 123456789 },
	{ "2026-11-26t03:00:00z", 1795662000LL * NS },
	{ "2026-11-26 03:00:00Z", 1795662000LL * NS },
	{ "2026-11-26T03:00:00-00:00", 1795662000LL * NS },
	{ "2026-11-26T03:00:00+00:00", 1795662000LL * NS },
	{ "2026-11-27T02:59:00+23:59", 1795662000LL * NS },
	{ "2000-02-29T12:00:00Z", 951825600LL * NS },
	{ "2024-02-29T23:59:59Z", 1709251199LL * NS },
	{ "2024-03-01T00:00:00Z", 1709251200LL * NS },
	{ "2016-12-31T23:59:60Z", 1483228800LL * NS }, /* leap second = next minute's first */
	{ "2017-01-01T00:00:00Z", 1483228800LL * NS },
	{ "1970-01-01T00:00:00.1Z", 100000000 },
	{ "1970-01-01T00:00:00.12Z", 120000000 },
	{ "1970-01-01T00:00:00.000001Z", 1000 },
	{ "1970-01-01T00:00:00.999999999Z", 999999999 },
	{ "1970-01-01T00:00:00.100000000Z", 100000000 },
	{ "1970-01-01T07:00:00+07:00", 0 },
	{ "1969-12-31T17:00:00-07:00", 0 },
	{ "1969-12-31T23:59:59.5-00:01", 59 * NS + 500000000 },
	{ "2262-04-11T23:47:16.854775807Z", INT64_MAX },
	{ "2262-04-12T06:47:16.854775807+07:00", INT64_MAX },
};

static void test_parse_valid(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(ok_cases) / sizeof(ok_cases[0]); i++) {
		int64_t ns = -12345;
		int rc = parse(ok_cases[i].text, &ns);
		if (rc != HUB_OK || ns != ok_cases[i].ns)
			fail_msg("%s: rc=%d ns=%lld want %lld", ok_cases[i].text, rc, (long long)ns,
				 (long long)ok_cases[i].ns);
	}
}

static const char *const bad_syntax[] = {
	"",
	"2026",
	"2026-01-01",
	"2026-01-01T00:00:00",
	"2026-01-01T00:00",
	"2026-01-01T00:00Z",
	"2026-1-01T00:00:00Z",
	"2026-01-1T00:00:00Z",
	"26-01-01T00:00:00Z",
	"+2026-01-01T00:00:00Z",
	"-2026-01-01T00:00:00Z",
	"02026-01-01T00:00:00Z",
	"2026/01/01T00:00:00Z",
	"2026-01-01X00:00:00Z",
	"2026-01-01_00:00:00Z",
	"2026-01-01T00.00.00Z",
	"2026-01-01T00:00:00ZZ",
	"2026-01-01T00:00:00Zjunk",
	"2026-01-01T00:00:00Z ",
	" 2026-01-01T00:00:00Z",
	"2026-01-01T00:00:00 Z",
	"2026-01-01T00:00:00 +07:00",
	"2026-01-01T00:00:00.Z",
	"2026-01-01T00:00:00.",
	"2026-01-01T00:00:00,5Z",
	"2026-01-01T00:00:00.1234567890Z",
	"2026-01-01T00:00:00.12a4Z",
	"2026-01-01T00:00:00.-1Z",
	"2026-01-01T00:00:00.123456789",
	"2026-01-01T00:00:00+07",
	"2026-01-01T00:00:00+0700",
	"2026-01-01T00:00:00+07:0",
	"2026-01-01T00:00:00+7:00",
	"2026-01-01T00:00:00+07:00:00",
	"2026-01-01T00:00:00+07:00Z",
	"2026-01-01T00:00:00+24:00",
	"2026-01-01T00:00:00+05:60",
	"2026-01-01T00:00:00*07:00",
	"2026-01-01T00:00:00+0a:00",
	"2026-01-01T00:00:00UTC",
	"2026-01-01T00:00:00GMT+7",
	"2026-00-01T00:00:00Z",
	"2026-13-01T00:00:00Z",
	"2026-01-00T00:00:00Z",
	"2026-01-32T00:00:00Z",
	"2026-04-31T00:00:00Z",
	"2026-02-29T00:00:00Z",
	"2100-02-29T00:00:00Z",
	"1900-02-29T00:00:00Z",
	"2026-01-01T24:00:00Z",
	"2026-01-01T23:60:00Z",
	"2026-01-01T23:59:61Z",
	"2026-01-01T99:99:99Z",
	"2026-01-01T0a:00:00Z",
	"2026-01-01T00:0 :00Z",
	"2026-01-01T-1:00:00Z",
	"2026-0x-01T00:00:00Z",
	"1e10-01-01T00:00:00Z",
	"2026-01-01T00:00:00.\xc2\xb5Z",
	"\xef\xbc\x92\xef\xbc\x90\xef\xbc\x92\xef\xbc\x96-01-01T00:00:00Z", /* full-width digits */
	"1795662000",
	"2026-11-26T10:00:00.123456789+07:00\n",
};

static void test_parse_malformed(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(bad_syntax) / sizeof(bad_syntax[0]); i++) {
		int64_t ns = 777;
		int rc = parse(bad_syntax[i], &ns);
		if (rc != HUB_EPARSE || ns != 777)
			fail_msg("'%s': rc=%d ns=%lld, want HUB_EPARSE and ns untouched",
				 bad_syntax[i], rc, (long long)ns);
	}
}

static void test_parse_embedded_nul_and_len(void **state)
{
	(void)state;
	int64_t ns = 0;
	static const char with_nul[] = "2026-01-01T00:00:00\0Z";
	assert_int_equal(hub_time_parse_rfc3339(with_nul, sizeof(with_nul) - 1, &ns), HUB_EPARSE);
	/* Only len bytes count: a valid prefix is accepted, a cut one refused. */
	static const char longer[] = "2017-01-01T00:00:00Zjunk";
	assert_int_equal(hub_time_parse_rfc3339(longer, 20, &ns), HUB_OK);
	assert_int_equal(ns, 1483228800LL * NS);
	assert_int_equal(hub_time_parse_rfc3339(longer, 19, &ns), HUB_EPARSE);
	assert_int_equal(hub_time_parse_rfc3339(longer, 0, &ns), HUB_EPARSE);
	assert_int_equal(hub_time_parse_rfc3339(NULL, 20, &ns), HUB_EPARSE);
	assert_int_equal(hub_time_parse_rfc3339(longer, 20, NULL), HUB_EPARSE);
}

static const char *const out_of_range[] = {
	"1969-12-31T23:59:59.999999999Z",
	"1969-12-31T23:59:59Z",
	"1970-01-01T06:59:59+07:00",
	"1970-01-01T00:00:00+00:01",
	"1900-01-01T00:00:00Z",
	"0000-01-01T00:00:00Z",
	"2262-04-11T23:47:16.854775808Z",
	"2262-04-11T23:47:17Z",
	"2262-04-11T23:47:16.854775807-00:01",
	"2263-01-01T00:00:00Z",
	"9999-12-31T23:59:60-23:59",
};

static void test_parse_range(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(out_of_range) / sizeof(out_of_range[0]); i++) {
		int64_t ns = 777;
		int rc = parse(out_of_range[i], &ns);
		if (rc != HUB_ERANGE || ns != 777)
			fail_msg("'%s': rc=%d, want HUB_ERANGE", out_of_range[i], rc);
	}
}

/* Every midnight from 1970 to 2262, counted one day at a time, parses to day * 86400 s. */
static void test_parse_every_day(void **state)
{
	(void)state;
	static const int mdays[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	int64_t day = 0;
	char text[48];
	for (int y = 1970; y <= 2261; y++) {
		int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
		for (int m = 1; m <= 12; m++) {
			int n = mdays[m - 1] + (m == 2 && leap);
			for (int d = 1; d <= n; d++, day++) {
				snprintf(text, sizeof(text), "%04d-%02d-%02dT00:00:00Z", y, m, d);
				int64_t ns = -1;
				assert_int_equal(parse(text, &ns), HUB_OK);
				if (ns != day * 86400 * NS)
					fail_msg("%s: %lld, want day %lld", text, (long long)ns,
						 (long long)day);
				char back[40];
				hub_time_format(ns, back, sizeof(back));
				assert_memory_equal(back, text, 19); /* the date and the time */
				assert_string_equal(back + 19, ".000000000Z");
			}
			/* The day after the month's last is refused (02-29 in common years). */
			snprintf(text, sizeof(text), "%04d-%02d-%02dT00:00:00Z", y, m, n + 1);
			int64_t ns = 0;
			assert_int_equal(parse(text, &ns), HUB_EPARSE);
		}
	}
	assert_int_equal(day, 106651); /* 2262-01-01 is day 106651 */
}

static void test_from_int(void **state)
{
	(void)state;
	int64_t ns = 5;
	assert_int_equal(hub_time_from_int(1795662000, NS, &ns), HUB_OK);
	assert_int_equal(ns, 1795662000LL * NS);
	assert_int_equal(hub_time_from_int(1795662000123LL, 1000000, &ns), HUB_OK);
	assert_int_equal(ns, 1795662000123000000LL);
	assert_int_equal(hub_time_from_int(1795662000123456LL, 1000, &ns), HUB_OK);
	assert_int_equal(ns, 1795662000123456000LL);
	assert_int_equal(hub_time_from_int(42, 1, &ns), HUB_OK);
	assert_int_equal(ns, 42);
	assert_int_equal(hub_time_from_int(0, NS, &ns), HUB_OK);
	assert_int_equal(ns, 0);
	assert_int_equal(hub_time_from_int(INT64_MAX, 1, &ns), HUB_OK);
	assert_int_equal(ns, INT64_MAX);
	assert_int_equal(hub_time_from_int(9223372036LL, NS, &ns), HUB_OK);
	assert_int_equal(ns, 9223372036000000000LL);

	ns = 5;
	assert_int_equal(hub_time_from_int(9223372037LL, NS, &ns), HUB_ERANGE);
	assert_int_equal(hub_time_from_int(INT64_MAX / 1000 + 1, 1000, &ns), HUB_ERANGE);
	assert_int_equal(hub_time_from_int(INT64_MAX, NS, &ns), HUB_ERANGE);
	assert_int_equal(hub_time_from_int(-1, 1, &ns), HUB_ERANGE);
	assert_int_equal(hub_time_from_int(INT64_MIN, 1, &ns), HUB_ERANGE);
	assert_int_equal(hub_time_from_int(1, 0, &ns), HUB_EINVAL);
	assert_int_equal(hub_time_from_int(1, -1000, &ns), HUB_EINVAL);
	assert_int_equal(hub_time_from_int(1, 1, NULL), HUB_EINVAL);
	assert_int_equal(ns, 5);
}

static void test_format(void **state)
{
	(void)state;
	char buf[36];
	hub_time_format(0, buf, sizeof(buf));
	assert_string_equal(buf, "1970-01-01T00:00:00.000000000Z");
	hub_time_format(1795662000LL * NS + 123456789, buf, sizeof(buf));
	assert_string_equal(buf, "2026-11-26T03:00:00.123456789Z");
	hub_time_format(951825600LL * NS, buf, sizeof(buf));
	assert_string_equal(buf, "2000-02-29T12:00:00.000000000Z");
	hub_time_format(1709251199LL * NS + 1, buf, sizeof(buf));
	assert_string_equal(buf, "2024-02-29T23:59:59.000000001Z");
	hub_time_format(INT64_MAX, buf, sizeof(buf));
	assert_string_equal(buf, "2262-04-11T23:47:16.854775807Z");
	hub_time_format(-1, buf, sizeof(buf));
	assert_string_equal(buf, "1969-12-31T23:59:59.999999999Z");
	hub_time_format(-86400 * NS, buf, sizeof(buf));
	assert_string_equal(buf, "1969-12-31T00:00:00.000000000Z");
	hub_time_format(INT64_MIN, buf, sizeof(buf));
	assert_string_equal(buf, "1677-09-21T00:12:43.145224192Z");

	/* A short buffer gets a truncated, terminated prefix; zero length is left alone. */
	char small[11];
	hub_time_format(0, small, sizeof(small));
	assert_string_equal(small, "1970-01-01");
	small[0] = 'x';
	hub_time_format(0, small, 0);
	assert_int_equal(small[0], 'x');
}

/* format then parse returns the same ns, for a deterministic spread of values. */
static void test_format_parse_roundtrip(void **state)
{
	(void)state;
	uint64_t x = 0x9e3779b97f4a7c15ULL;
	for (int i = 0; i < 200000; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		int64_t v = (int64_t)(x >> 1); /* 0 .. INT64_MAX */
		if (i % 4 == 0)
			v %= 4000000000LL * NS; /* plenty within this century too */
		char buf[36];
		hub_time_format(v, buf, sizeof(buf));
		int64_t back = -1;
		assert_int_equal(parse(buf, &back), HUB_OK);
		if (back != v)
			fail_msg("%lld -> %s -> %lld", (long long)v, buf, (long long)back);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_valid),
		cmocka_unit_test(test_parse_malformed),
		cmocka_unit_test(test_parse_embedded_nul_and_len),
		cmocka_unit_test(test_parse_range),
		cmocka_unit_test(test_parse_every_day),
		cmocka_unit_test(test_from_int),
		cmocka_unit_test(test_format),
		cmocka_unit_test(test_format_parse_roundtrip),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
