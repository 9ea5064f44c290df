/* Cayenne LPP: exact bytes for known values, ranges, and the base64 the LoRaWAN formats carry. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "cityhub/error.h"
#include "encode.h"
#include "lpp.h"

#include <string.h>

static void expect_bytes(const struct hub_buf *b, const unsigned char *want, size_t n)
{
	assert_int_equal(b->len, n);
	assert_memory_equal(b->data, want, n);
}

static void test_single_values(void **state)
{
	(void)state;
	struct hub_buf b = {0};
	assert_int_equal(sim_lpp_add(&b, 1, SIM_LPP_TEMPERATURE, 27.5), HUB_OK);
	expect_bytes(&b, (const unsigned char *)"\x01\x67\x01\x13", 4);
	hub_buf_clear(&b);
	assert_int_equal(sim_lpp_add(&b, 3, SIM_LPP_TEMPERATURE, -4.1), HUB_OK);
	expect_bytes(&b, (const unsigned char *)"\x03\x67\xff\xd7", 4);
	hub_buf_clear(&b);
	assert_int_equal(sim_lpp_add(&b, 2, SIM_LPP_HUMIDITY, 0.645), HUB_OK);
	expect_bytes(&b, (const unsigned char *)"\x02\x68\x81", 3);
	hub_buf_clear(&b);
	assert_int_equal(sim_lpp_add(&b, 3, SIM_LPP_BAROMETER, 1011.7), HUB_OK);
	expect_bytes(&b, (const unsigned char *)"\x03\x73\x27\x85", 4);
	hub_buf_clear(&b);
	assert_int_equal(sim_lpp_add(&b, 4, SIM_LPP_ANALOG_IN, -1.25), HUB_OK);
	expect_bytes(&b, (const unsigned char *)"\x04\x02\xff\x83", 4);
	hub_buf_clear(&b);
	assert_int_equal(sim_lpp_add(&b, 5, SIM_LPP_GENERIC, 70000), HUB_OK);
	expect_bytes(&b, (const unsigned char *)"\x05\x64\x00\x01\x11\x70", 6);
	hub_buf_clear(&b);
	assert_int_equal(sim_lpp_add(&b, 6, SIM_LPP_DIRECTION, 359), HUB_OK);
	expect_bytes(&b, (const unsigned char *)"\x06\x84\x01\x67", 4);
	hub_buf_clear(&b);
	assert_int_equal(sim_lpp_add(&b, 7, SIM_LPP_DIGITAL_IN, 1), HUB_OK);
	expect_bytes(&b, (const unsigned char *)"\x07\x00\x01", 3);
	hub_buf_fini(&b);
}

static void test_ranges(void **state)
{
	(void)state;
	struct hub_buf b = {0};
	assert_true(sim_lpp_fits(SIM_LPP_ANALOG_IN, 327.67));
	assert_false(sim_lpp_fits(SIM_LPP_ANALOG_IN, 327.68));
	assert_true(sim_lpp_fits(SIM_LPP_ANALOG_IN, -327.68));
	assert_true(sim_lpp_fits(SIM_LPP_HUMIDITY, 1.25));
	assert_false(sim_lpp_fits(SIM_LPP_HUMIDITY, 1.3));
	assert_false(sim_lpp_fits(SIM_LPP_HUMIDITY, -0.01));
	assert_false(sim_lpp_fits(SIM_LPP_GENERIC, -1));
	assert_false(sim_lpp_fits(SIM_LPP_NONE, 1));
	assert_int_equal(sim_lpp_add(&b, 1, SIM_LPP_ANALOG_IN, 400), HUB_ERANGE);
	assert_int_equal(b.len, 0);
	assert_int_equal(sim_lpp_add(&b, 1, SIM_LPP_NONE, 1), HUB_EINVAL);
	assert_int_equal(sim_lpp_size(SIM_LPP_GENERIC), 4);
	assert_int_equal(sim_lpp_size(SIM_LPP_HUMIDITY), 1);
	hub_buf_fini(&b);
}

/* A whole reading: channel = field index + 1, absent fields skipped. */
static void test_reading_frame(void **state)
{
	(void)state;
	struct sim_sensor s;
	struct sim_reading r;
	struct hub_buf b = {0}, text = {0};
	memset(&s, 0, sizeof(s));
	memset(&r, 0, sizeof(r));
	s.id = "wq-test";
	s.kind = SIM_KIND_QUALITY;
	s.fields = UINT32_MAX;
	r.sensor = &s;
	/* salinity 4.25 g/L (ch1 analog), conductivity 6638 (ch2 generic), temperature 28.9. */
	r.present = (1u << 0) | (1u << 1) | (1u << 5);
	r.v[0] = 4.25;
	r.v[1] = 6638;
	r.v[5] = 28.9;
	assert_int_equal(sim_lpp_encode(&r, &b), HUB_OK);
	expect_bytes(&b,
	             (const unsigned char *)"\x01\x02\x01\xa9"
	                                    "\x02\x64\x00\x00\x19\xee"
	                                    "\x06\x67\x01\x21",
	             14);
	sim_base64((const unsigned char *)b.data, b.len, &text);
	assert_string_equal(text.data, "AQIBqQJkAAAZ7gZnASE=");
	hub_buf_fini(&b);
	hub_buf_fini(&text);
}

static void test_base64(void **state)
{
	(void)state;
	struct hub_buf t = {0};
	sim_base64((const unsigned char *)"\x01\x67\x01\x13", 4, &t);
	assert_string_equal(t.data, "AWcBEw==");
	hub_buf_clear(&t);
	sim_base64((const unsigned char *)"abc", 3, &t);
	assert_string_equal(t.data, "YWJj");
	hub_buf_clear(&t);
	sim_base64((const unsigned char *)"ab", 2, &t);
	assert_string_equal(t.data, "YWI=");
	hub_buf_fini(&t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_single_values),
	    cmocka_unit_test(test_ranges),
	    cmocka_unit_test(test_reading_frame),
	    cmocka_unit_test(test_base64),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
