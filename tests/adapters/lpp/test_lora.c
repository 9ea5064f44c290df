/* Unit tests for the LoRaWAN adapters' shared code: the Cayenne LPP item decoder type by type
 * (values worked out by hand from the type table), truncation at every byte, the channel-map
 * option checks, and the lpp/ttn/chirpstack options the fixtures (one route per format) cannot
 * reach. The fixtures next to this file cover the rest through the whole pipeline. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "adapters/lpp/lpp_decode.h"
#include "cityhub/adapter.h"
#include "cityhub/error.h"

struct want {
	const char *hex;
	uint8_t channel, type;
	enum hub_ftype ftype;
	size_t nvals;
	double vals[3];
	const char *units[3];
	const char *suffix[3];
};

static const struct want wants[] = {
    {"0500FF", 5, 0, HUB_FT_INT, 1, {255}, {NULL}, {NULL}},
    {"050101", 5, 1, HUB_FT_INT, 1, {1}, {NULL}, {NULL}},
    {"0202FF38", 2, 2, HUB_FT_DOUBLE, 1, {-2.0}, {NULL}, {NULL}},
    {"02037FFF", 2, 3, HUB_FT_DOUBLE, 1, {327.67}, {NULL}, {NULL}},
    {"0764FFFFFFFF", 7, 100, HUB_FT_INT, 1, {4294967295.0}, {NULL}, {NULL}},
    {"0365FFFE", 3, 101, HUB_FT_INT, 1, {65534}, {"lx"}, {NULL}},
    {"046601", 4, 102, HUB_FT_INT, 1, {1}, {NULL}, {NULL}},
    {"01678000", 1, 103, HUB_FT_DOUBLE, 1, {-3276.8}, {"Cel"}, {NULL}},
    {"0168FF", 1, 104, HUB_FT_DOUBLE, 1, {127.5}, {"%RH"}, {NULL}},
    {"067104D2FB2E0000",
     6,
     113,
     HUB_FT_DOUBLE,
     3,
     {1.234, -1.234, 0},
     {"[g]", "[g]", "[g]"},
     {"_x", "_y", "_z"}},
    {"0873FFFF", 8, 115, HUB_FT_DOUBLE, 1, {6553.5}, {"hPa"}, {NULL}},
    {"0974FFFF", 9, 116, HUB_FT_DOUBLE, 1, {655.35}, {"V"}, {NULL}},
    {"0975007B", 9, 117, HUB_FT_DOUBLE, 1, {0.123}, {"A"}, {NULL}},
    {"09760000C350", 9, 118, HUB_FT_INT, 1, {50000}, {"Hz"}, {NULL}},
    {"097864", 9, 120, HUB_FT_INT, 1, {100}, {"%"}, {NULL}},
    {"0979FF9C", 9, 121, HUB_FT_INT, 1, {-100}, {"m"}, {NULL}},
    {"097D0190", 9, 125, HUB_FT_INT, 1, {400}, {"ppm"}, {NULL}},
    {"098005DC", 9, 128, HUB_FT_INT, 1, {1500}, {"W"}, {NULL}},
    {"09820001E240", 9, 130, HUB_FT_DOUBLE, 1, {123.456}, {"m"}, {NULL}},
    {"098300003039", 9, 131, HUB_FT_DOUBLE, 1, {12.345}, {"kWh"}, {NULL}},
    {"09840168", 9, 132, HUB_FT_INT, 1, {360}, {"deg"}, {NULL}},
    {"09856B07E700", 9, 133, HUB_FT_INT, 1, {1795680000.0}, {"s"}, {NULL}},
    {"0A86FF9C00642710",
     10,
     134,
     HUB_FT_DOUBLE,
     3,
     {-1, 1, 100},
     {"deg/s", "deg/s", "deg/s"},
     {"_x", "_y", "_z"}},
    {"0B87FF8000", 11, 135, HUB_FT_INT, 3, {255, 128, 0}, {NULL, NULL, NULL}, {"_r", "_g", "_b"}},
    {"0C88FE6B50103AB0002710",
     12,
     136,
     HUB_FT_DOUBLE,
     3,
     {-10.36, 106.36, 100},
     {"deg", "deg", "m"},
     {"_lat", "_lon", "_alt"}},
    {"0D8E01", 13, 142, HUB_FT_BOOL, 1, {1}, {NULL}, {NULL}},
};

#define NWANTS (sizeof(wants) / sizeof(wants[0]))

/* Converts hex to a heap buffer of exactly the decoded length (so ASan sees any over-read). */
static uint8_t *from_hex(const char *hex, size_t *len)
{
	*len = strlen(hex) / 2;
	uint8_t *b = malloc(*len ? *len : 1);
	for (size_t i = 0; i < *len; i++) {
		unsigned v;
		assert_int_equal(sscanf(hex + 2 * i, "%2x", &v), 1);
		b[i] = (uint8_t)v;
	}
	return b;
}

static void assert_str_or_null(const char *got, const char *want)
{
	if (!want)
		assert_null(got);
	else
		assert_string_equal(got, want);
}

static void test_every_type(void **state)
{
	(void)state;
	for (size_t w = 0; w < NWANTS; w++) {
		size_t len, pos = 0;
		uint8_t *buf = from_hex(wants[w].hex, &len);
		struct hub_lpp_item it;
		struct hub_reject rej = {0};
		assert_int_equal(hub_lpp_next(buf, len, &pos, &it, &rej), HUB_OK);
		assert_int_equal(pos, len);
		assert_int_equal(it.channel, wants[w].channel);
		assert_int_equal(it.type, wants[w].type);
		assert_int_equal(it.ftype, wants[w].ftype);
		assert_int_equal(it.nvals, wants[w].nvals);
		for (size_t i = 0; i < it.nvals; i++) {
			assert_true(it.vals[i] == wants[w].vals[i]);
			assert_str_or_null(it.units[i], wants[w].units[i]);
			assert_str_or_null(it.suffix[i], wants[w].suffix[i]);
		}
		assert_int_equal(hub_lpp_next(buf, len, &pos, &it, &rej), HUB_ENOENT);
		free(buf);
	}
}

/* Every prefix of a frame holding every type either ends on an item boundary or is truncated. */
static void test_truncation_at_every_byte(void **state)
{
	(void)state;
	char hex[1024] = "";
	size_t bounds[NWANTS + 1], total = 0;
	bounds[0] = 0;
	for (size_t w = 0; w < NWANTS; w++) {
		strcat(hex, wants[w].hex);
		total += strlen(wants[w].hex) / 2;
		bounds[w + 1] = total;
	}
	size_t full;
	uint8_t *all = from_hex(hex, &full);
	assert_int_equal(full, total);
	for (size_t k = 0; k <= full; k++) {
		uint8_t *buf = malloc(k ? k : 1);
		memcpy(buf, all, k);
		size_t pos = 0, items = 0, on_bound = 0;
		struct hub_lpp_item it;
		struct hub_reject rej = {0};
		int rc;
		while ((rc = hub_lpp_next(buf, k, &pos, &it, &rej)) == HUB_OK)
			items++;
		for (size_t b = 0; b <= NWANTS; b++)
			on_bound |= bounds[b] == k;
		if (on_bound) {
			assert_int_equal(rc, HUB_ENOENT);
		} else {
			assert_int_equal(rc, HUB_EREJECT);
			assert_string_equal(rej.reason, HUB_R_TRUNCATED);
			assert_true(bounds[items] < k && k < bounds[items + 1]);
		}
		free(buf);
	}
	free(all);
}

static void test_unknown_types(void **state)
{
	(void)state;
	static const uint8_t known[] = {0,   1,   2,   3,   100, 101, 102, 103, 104,
	                                113, 115, 116, 117, 118, 120, 121, 125, 128,
	                                130, 131, 132, 133, 134, 135, 136, 142};
	for (unsigned t = 0; t < 256; t++) {
		int is_known = memchr(known, (int)t, sizeof(known)) != NULL;
		uint8_t buf[2] = {1, (uint8_t)t};
		size_t pos = 0;
		struct hub_lpp_item it;
		struct hub_reject rej = {0};
		int rc = hub_lpp_next(buf, sizeof(buf), &pos, &it, &rej);
		assert_int_equal(rc, HUB_EREJECT);
		assert_string_equal(rej.reason, is_known ? HUB_R_TRUNCATED : HUB_R_UNSUPPORTED);
	}
}

static void test_bad_options(void **state)
{
	(void)state;
	static const char *const bad[] = {
	    "{\"channels\": {\"256\": \"ph\"}}",
	    "{\"channels\": {\"x1\": \"ph\"}}",
	    "{\"channels\": {\"-1\": \"ph\"}}",
	    "{\"channels\": {\" 1\": \"ph\"}}",
	    "{\"channels\": {\"1\": \"ph\", \"01\": \"ph\"}}",
	    "{\"channels\": {\"1\": \"\"}}",
	    "{\"channels\": {\"1\": 7}}",
	    "{\"channels\": {\"1\": {\"field\": \"ph\", \"fields\": [\"a\"]}}}",
	    "{\"channels\": {\"1\": {\"fields\": [\"a\", \"b\", \"c\", \"d\"]}}}",
	    "{\"channels\": {\"1\": {\"fields\": []}}}",
	    "{\"channels\": {\"1\": {\"field\": \"ph\", \"scale\": 2}}}",
	    "{\"channels\": {\"1\": {\"unit\": \"pH\"}}}",
	    "{\"channels\": {\"1\": {\"field\": \"ph\", \"unit\": 3}}}",
	    "{\"channels\": [\"ph\"]}",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char err[200] = "";
		json_t *o = json_loads(bad[i], 0, NULL);
		assert_non_null(o);
		assert_null(hub_lpp_map_build(json_object_get(o, "channels"), 0, err, sizeof(err)));
		assert_true(strncmp(err, "options.", 8) == 0);
		json_decref(o);
	}
	/* unmapped is the lpp adapter's table's to check */
	char err[200] = "";
	void *opts = NULL;
	json_t *o = json_loads("{\"channels\": {}, \"unmapped\": \"maybe\"}", 0, NULL);
	assert_int_equal(hub_adapter_options_bind(hub_adapter_find("lpp"), o, &opts, err,
	                                          sizeof(err)),
	                 HUB_EINVAL);
	assert_string_equal(err, "options.unmapped: must be one of reject, skip");
	json_decref(o);
}

/* unmapped: skip drops unknown channels; a `fields` list may drop single values. */
static void test_map_skip_and_lists(void **state)
{
	(void)state;
	char err[200] = "";
	json_t *o =
	    json_loads("{\"unmapped\": \"skip\", \"channels\": {\"255\": {\"fields\": "
	               "[\"lat\", null, \"alt\"]}, \"0\": {\"field\": \"v\", \"unit\": \"V\"}}}",
	               0, NULL);
	struct hub_lpp_map *m = hub_lpp_map_build(json_object_get(o, "channels"), 1, err, sizeof(err));
	assert_non_null(m);
	assert_int_equal(hub_lpp_map_skips_unmapped(m), 1);
	size_t len;
	uint8_t *buf = from_hex("FF88FE6B50103AB0002710"
	                        "0767FFFF"
	                        "000200C8",
	                        &len);
	struct hub_recset rs;
	hub_recset_init(&rs, 0);
	struct hub_record *rec = hub_recset_add(&rs);
	struct hub_reject rej = {0};
	assert_int_equal(hub_lpp_decode(m, buf, len, &rs, rec, &rej), HUB_OK);
	assert_int_equal(rec->nfields, 3);
	assert_string_equal(rec->fields[0].name, "lat");
	assert_true(rec->fields[0].v.u.d == -10.36);
	assert_string_equal(rec->fields[0].unit, "deg");
	assert_string_equal(rec->fields[1].name, "alt");
	assert_true(rec->fields[1].v.u.d == 100);
	assert_string_equal(rec->fields[1].unit, "m");
	assert_string_equal(rec->fields[2].name, "v");
	assert_true(rec->fields[2].v.u.d == 2);
	assert_string_equal(rec->fields[2].unit, "V");
	hub_recset_fini(&rs);
	free(buf);
	hub_lpp_map_free(m);
	json_decref(o);
}

/* Runs init on adapter name with options (JSON text); returns its result, state in *state. */
/* As the pipeline builds a route: options bound with the adapter's table into *opts (free it
 * with hub_adapter_options_free after the state), then init on the filled struct. */
static int init_with(const char *name, const char *options, void **state, void **opts, char *err,
                     size_t n)
{
	const struct hub_adapter *a = hub_adapter_find(name);
	assert_non_null(a);
	json_t *o = json_loads(options, 0, NULL);
	assert_non_null(o);
	*state = NULL;
	*opts = NULL;
	err[0] = '\0';
	int rc = hub_adapter_options_bind(a, o, opts, err, n);
	if (rc == HUB_OK)
		rc = a->init(*opts, NULL, state, err, n);
	json_decref(o);
	return rc;
}

static void test_adapter_bad_options(void **state)
{
	(void)state;
	static const char *const bad[][2] = {
	    {"lpp", "{}"},
	    {"lpp", "{\"channels\": {}, \"fields\": {}}"},
	    {"lpp", "{\"channels\": {}, \"kind\": \"\"}"},
	    {"ttn", "{\"kind\": \"\"}"},
	    {"ttn", "{\"payload\": \"raw\"}"},
	    {"ttn", "{\"link\": \"yes\"}"},
	    {"ttn", "{\"sensor_id\": \"device_name\"}"},
	    {"ttn", "{\"fields\": {\"a\": 3}}"},
	    {"ttn", "{\"fields\": {\"a\": {\"field\": \"x\", \"scale\": 2}}}"},
	    {"ttn", "{\"fields\": {\"a\": {}}}"},
	    {"ttn", "{\"fields\": [\"a\"]}"},
	    {"ttn", "{\"colour\": true}"},
	    {"ttn", "{\"channels\": {\"300\": \"ph\"}}"},
	    {"chirpstack", "{\"sensor_id\": \"device_id\"}"},
	    {"chirpstack", "{\"unmapped\": \"keep\"}"},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char err[200];
		void *st, *opts;
		assert_int_equal(init_with(bad[i][0], bad[i][1], &st, &opts, err, sizeof(err)),
		                 HUB_EINVAL);
		assert_null(st);
		assert_true(strncmp(err, "options", 7) == 0);
		hub_adapter_options_free(hub_adapter_find(bad[i][0]), opts);
	}
}

/* Decodes payload with adapter name and options; returns the decode result. */
static int decode_with(const char *name, const char *options, const char *payload,
                       struct hub_recset *rs, struct hub_reject *rej)
{
	char err[200];
	void *st, *opts;
	const struct hub_adapter *a = hub_adapter_find(name);
	assert_int_equal(init_with(name, options, &st, &opts, err, sizeof(err)), HUB_OK);
	struct hub_msg msg = {.topic = "t",
	                      .topic_len = 1,
	                      .payload = (const uint8_t *)payload,
	                      .len = strlen(payload),
	                      .recv_ns = 1};
	hub_recset_init(rs, 0);
	int rc = a->decode(&msg, st, rs, rej);
	a->free_state(st);
	hub_adapter_options_free(a, opts);
	return rc;
}

static void test_sensor_id_from_dev_eui(void **state)
{
	(void)state;
	struct hub_recset rs;
	struct hub_reject rej = {0};
	assert_int_equal(decode_with("chirpstack", "{\"sensor_id\": \"dev_eui\", \"link\": false}",
	                             "{\"deviceInfo\": {\"deviceName\": \"ws 1\", \"devEui\": "
	                             "\"0016C001F0000A0B\"}, \"object\": {\"humidity\": 0.5}}",
	                             &rs, &rej),
	                 HUB_OK);
	assert_int_equal(rs.n, 1);
	assert_string_equal(rs.recs[0].sensor_id, "0016c001f0000a0b");
	assert_string_equal(hub_record_tag(&rs.recs[0], "dev_eui"), "0016c001f0000a0b");
	assert_null(rs.recs[0].kind);
	assert_int_equal(rs.recs[0].has_ts, 0);
	hub_recset_fini(&rs);

	assert_int_equal(decode_with("ttn", "{\"sensor_id\": \"dev_eui\", \"kind\": \"weather\"}",
	                             "{\"end_device_ids\": {\"device_id\": \"d1\", \"dev_eui\": "
	                             "\"70B3D57ED005A1C2\"}, \"uplink_message\": {\"f_cnt\": 9, "
	                             "\"decoded_payload\": {\"humidity\": 0.5}}}",
	                             &rs, &rej),
	                 HUB_OK);
	assert_int_equal(rs.n, 2);
	assert_string_equal(rs.recs[0].sensor_id, "70b3d57ed005a1c2");
	assert_string_equal(rs.recs[0].kind, "weather");
	assert_string_equal(rs.recs[1].sensor_id, "70b3d57ed005a1c2");
	assert_string_equal(rs.recs[1].kind, "link");
	struct hub_field *f = hub_record_field(&rs.recs[1], "f_cnt");
	assert_non_null(f);
	assert_int_equal(f->v.u.i, 9);
	hub_recset_fini(&rs);
}

/* payload: decoded refuses a frame-only uplink; payload: lpp ignores decoded_payload. */
static void test_payload_source(void **state)
{
	(void)state;
	static const char up[] = "{\"uplink_message\": {\"frm_payload\": \"AWcBLA==\", "
	                         "\"decoded_payload\": {\"temp\": 1}}}";
	static const char frame_only[] = "{\"uplink_message\": {\"frm_payload\": \"AWcBLA==\"}}";
	struct hub_recset rs;
	struct hub_reject rej = {0};
	assert_int_equal(decode_with("ttn", "{\"payload\": \"decoded\"}", frame_only, &rs, &rej),
	                 HUB_EREJECT);
	assert_string_equal(rej.reason, HUB_R_BAD_FORMAT);
	hub_recset_fini(&rs);
	assert_int_equal(decode_with("ttn",
	                             "{\"payload\": \"lpp\", \"link\": false, \"channels\": "
	                             "{\"1\": \"temperature_c\"}}",
	                             up, &rs, &rej),
	                 HUB_OK);
	assert_int_equal(rs.n, 1);
	assert_int_equal(rs.recs[0].nfields, 1);
	assert_string_equal(rs.recs[0].fields[0].name, "temperature_c");
	assert_true(rs.recs[0].fields[0].v.u.d == 30);
	assert_string_equal(rs.recs[0].fields[0].unit, "Cel");
	hub_recset_fini(&rs);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_every_type),
	    cmocka_unit_test(test_truncation_at_every_byte),
	    cmocka_unit_test(test_unknown_types),
	    cmocka_unit_test(test_bad_options),
	    cmocka_unit_test(test_map_skip_and_lists),
	    cmocka_unit_test(test_adapter_bad_options),
	    cmocka_unit_test(test_sensor_id_from_dev_eui),
	    cmocka_unit_test(test_payload_source),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
