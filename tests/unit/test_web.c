/* The dashboard files embedded in the binary (hub/web.c, web/embed.py): found by URL path with
 * their content type and ETag, and self-contained (no CDN: the control room may be offline). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "web.h"

static void find(const char *path, const char *want_type, const char **text, size_t *len)
{
	const unsigned char *data = NULL;
	const char *type = NULL, *etag = NULL;
	assert_int_equal(hub_web_find(path, &data, len, &type, &etag), HUB_OK);
	assert_non_null(data);
	assert_true(*len > 100);
	assert_string_equal(type, want_type);
	assert_true(etag && etag[0] == '"' && etag[strlen(etag) - 1] == '"');
	assert_int_equal(data[*len], 0); /* embed.py ends each file with a NUL, for strstr */
	*text = (const char *)data;
}

static void test_index_and_assets(void **st)
{
	(void)st;
	const char *html, *js, *css, *svg, *again;
	size_t len, len2;
	find("/", "text/html; charset=utf-8", &html, &len);
	find("/index.html", "text/html; charset=utf-8", &again, &len2);
	assert_ptr_equal(html, again);
	assert_non_null(strstr(html, "<html lang=\"vi\">"));
	find("/app.js", "text/javascript; charset=utf-8", &js, &len);
	find("/app.css", "text/css; charset=utf-8", &css, &len);
	find("/mytho-map.svg", "image/svg+xml", &svg, &len);
	assert_non_null(strstr(js, "/api/v1/stream"));
	assert_non_null(strstr(svg, "id=\"markers\""));
	/* everything the page loads comes from the hub itself */
	const char *texts[] = {html, js, css};
	for (size_t i = 0; i < 3; i++) {
		assert_null(strstr(texts[i], "https://"));
		assert_null(strstr(texts[i], "//cdn"));
	}
}

static void test_missing(void **st)
{
	(void)st;
	const unsigned char *data;
	size_t len;
	const char *type;
	const char *paths[] = {"/nope.js", "", "/app.js/", "app.js", "/../web/app.js",
			       "/api/v1/sensors", "/index.htm"};
	for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++)
		assert_int_equal(hub_web_find(paths[i], &data, &len, &type, NULL), HUB_ENOENT);
	assert_int_equal(hub_web_find(NULL, &data, &len, &type, NULL), HUB_EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_index_and_assets),
		cmocka_unit_test(test_missing),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
