/* Unit tests for the logfmt writer: hub_log_quote's exact output (bare, quoted, escaped, cut)
 * and hub_log_write's one line per call, even when text from outside tries to forge another. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cityhub/log.h"

/* The example of issue 10: a kind that would end the line and start a forged error line. */
static const char forged[] = "x\nts=2026-12-04T10:00:00.000Z level=error msg=\"sink influx "
                             "unhealthy\"";

static const char *q(const char *s)
{
	static char out[HUB_LOGQ_CAP];
	return hub_log_quote(out, sizeof(out), s, HUB_LOG_CSTR);
}

static void test_bare_and_quoted(void **state)
{
	(void)state;
	assert_string_equal(q("city/air_quality/d1/s-01"), "city/air_quality/d1/s-01");
	assert_string_equal(q("nhiệt-độ"), "nhiệt-độ"); /* UTF-8 stays readable */
	assert_string_equal(q(""), "\"\"");
	assert_string_equal(q(NULL), "\"\"");
	assert_string_equal(q("two words"), "\"two words\"");
	assert_string_equal(q("a=b"), "\"a=b\"");
	assert_string_equal(q("say \"hi\""), "\"say \\\"hi\\\"\"");
	assert_string_equal(q("c:\\dir"), "\"c:\\\\dir\"");
	assert_string_equal(q("a\nb\rc\td"), "\"a\\nb\\rc\\td\"");
	assert_string_equal(q("bell\x07"
	                      "del\x7f"),
	                    "\"bell\\x07del\\x7f\"");
}

static void test_explicit_length(void **state)
{
	(void)state;
	char out[64];
	/* a NUL inside the value is shown, not taken as its end */
	assert_string_equal(hub_log_quote(out, sizeof(out), "ab\0cd", 5), "\"ab\\x00cd\"");
	assert_string_equal(hub_log_quote(out, sizeof(out), "topic/rest", 5), "topic");
	assert_string_equal(hub_logqn("abc\"def", 4), "\"abc\\\"\"");
	assert_string_equal(hub_logq("x y"), "\"x y\"");
}

/* Cut values end in ..." , never inside an escape, and fill at most cap - 1 bytes. */
static void test_cut(void **state)
{
	(void)state;
	char out[16], big[100];
	memset(big, 'a', sizeof(big));
	big[sizeof(big) - 1] = '\0';
	hub_log_quote(out, sizeof(out), big, HUB_LOG_CSTR);
	assert_string_equal(out, "\"aaaaaaaaaa...\"");
	hub_log_quote(out, sizeof(out), "\"\"\"\"\"\"\"\"\"\"", HUB_LOG_CSTR);
	assert_string_equal(out, "\"\\\"\\\"\\\"\\\"\\\"...\"");
	hub_log_quote(out, sizeof(out), "\x01\x02\x03\x04", HUB_LOG_CSTR);
	assert_string_equal(out, "\"\\x01\\x02...\"");
	/* exactly fitting: no cut */
	hub_log_quote(out, sizeof(out), "12345678901 ", HUB_LOG_CSTR);
	assert_string_equal(out, "\"12345678901 \"");
	assert_int_equal(strlen(out), sizeof(out) - 2);
	/* too small a buffer gives an empty string, never an overflow */
	char tiny[8] = "zzzzzzz";
	hub_log_quote(tiny, sizeof(tiny), "abc", HUB_LOG_CSTR);
	assert_string_equal(tiny, "");
}

/* Splits one logfmt line into keys and values; fails on anything a parser would misread. */
static int parse_logfmt(const char *line, char keys[][32], char vals[][256], int max)
{
	int n = 0;
	const char *p = line;
	while (*p) {
		while (*p == ' ')
			p++;
		if (!*p)
			break;
		assert_true(n < max);
		size_t k = strcspn(p, "= \"");
		assert_true(k > 0 && k < 32 && p[k] == '=');
		memcpy(keys[n], p, k);
		keys[n][k] = '\0';
		p += k + 1;
		size_t o = 0;
		if (*p == '"') {
			for (p++; *p != '"'; p++) {
				assert_true(*p != '\0');
				if (*p == '\\')
					p++;
				assert_true(o < 255);
				vals[n][o++] = *p;
			}
			p++;
			assert_true(*p == ' ' || *p == '\0');
		} else {
			while (*p && *p != ' ') {
				assert_true(*p != '"' && o < 255);
				vals[n][o++] = *p++;
			}
		}
		vals[n][o] = '\0';
		n++;
	}
	return n;
}

static void test_one_line_per_call(void **state)
{
	(void)state;
	FILE *fp = tmpfile();
	assert_non_null(fp);
	hub_log_set_stream(fp);
	hub_log_set_level(HUB_LOG_DEBUG);
	hub_debug("msg=\"rejected\" reason=unknown_kind detail=%s", hub_logq(forged));
	/* a caller that forgot hub_logq still writes one line */
	hub_debug("msg=\"rejected\" detail=\"%s\"", forged);
	hub_log_set_stream(NULL);
	hub_log_set_level(HUB_LOG_INFO);

	char line[1024], keys[16][32], vals[16][256];
	int lines = 0;
	rewind(fp);
	while (fgets(line, sizeof(line), fp)) {
		lines++;
		assert_non_null(strchr(line, '\n'));
		*strchr(line, '\n') = '\0';
		assert_null(strchr(line, '\r'));
		if (lines > 1)
			continue;
		/* the quoted line parses back to exactly its four keys and the forged text */
		int n = parse_logfmt(line, keys, vals, 16);
		assert_int_equal(n, 5);
		assert_string_equal(keys[0], "ts");
		assert_string_equal(keys[1], "level");
		assert_string_equal(vals[1], "debug");
		assert_string_equal(keys[4], "detail");
		assert_string_equal(vals[4], "xnts=2026-12-04T10:00:00.000Z level=error msg=\"sink "
		                             "influx unhealthy\"");
	}
	fclose(fp);
	assert_int_equal(lines, 2);
}

/* Lines longer than the writer's stack buffer are written whole. */
static void test_long_line(void **state)
{
	(void)state;
	FILE *fp = tmpfile();
	assert_non_null(fp);
	char *big = malloc(5001);
	assert_non_null(big);
	memset(big, 'v', 5000);
	big[5000] = '\0';
	big[2500] = '\n';
	hub_log_set_stream(fp);
	hub_info("msg=\"long\" v=%s", big);
	hub_log_set_stream(NULL);
	free(big);
	long size = ftell(fp);
	rewind(fp);
	char *text = calloc(1, (size_t)size + 1);
	assert_non_null(text);
	assert_int_equal(fread(text, 1, (size_t)size, fp), (size_t)size);
	fclose(fp);
	assert_non_null(strstr(text, "msg=\"long\" v=vvv"));
	assert_non_null(strstr(text, "v\\nv"));
	assert_ptr_equal(strchr(text, '\n'), text + size - 1);
	assert_int_equal(text[size - 2], 'v');
	free(text);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_bare_and_quoted),
	    cmocka_unit_test(test_explicit_length),
	    cmocka_unit_test(test_cut),
	    cmocka_unit_test(test_one_line_per_call),
	    cmocka_unit_test(test_long_line),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
