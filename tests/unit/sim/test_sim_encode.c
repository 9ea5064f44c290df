/* Encoders: every format's output parses as JSON and has the agreed shape; exact payloads
 * for a known reading; payload faults break or pad as promised. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "cityhub/error.h"
#include "encode.h"
#include "fault.h"
#include "model.h"
#include "scenario.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct sim_scenario *sc;

static int setup(void **state)
{
	char path[1024], err[512];
	(void)state;
	snprintf(path, sizeof(path), "%s/mytho.yaml", getenv("CITYHUB_SIM_SCENARIO_DIR"));
	if (sim_scenario_load(path, "normal-day", &sc, err, sizeof(err))) {
		fprintf(stderr, "%s\n", err);
		return -1;
	}
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	sim_scenario_free(sc);
	return 0;
}

static json_t *parse(const struct sim_msg *m)
{
	json_error_t e;
	json_t *v = json_loadb(m->payload.data, m->payload.len, 0, &e);
	if (!v)
		fprintf(stderr, "%s: %s\n", m->topic.data, e.text);
	return v;
}

static int encode(const struct sim_sensor *s, struct sim_reading *r, int n, struct sim_msg *m,
                  struct sim_rng *rng)
{
	struct sim_encctx ctx = {sc, 7, rng, 0};
	sim_msg_clear(m);
	return sim_encoder_get(s->format)->encode(&ctx, r, n, m);
}

/* Every sensor of the pilot, sampled over a day, encodes to parseable JSON. */
static void test_all_sensors_parse(void **state)
{
	(void)state;
	struct sim_world *w = sim_world_new(sc);
	struct sim_reading r[SIM_MAX_LANES];
	struct sim_msg m = {0};
	struct sim_rng rng;
	int seen[SIM_FMT_COUNT] = {0};
	sim_rng_seed(&rng, 1, 2);
	for (int64_t t = sc->start_ns; t < sc->start_ns + 86400LL * 1000000000LL;
	     t += 3600LL * 1000000000LL) {
		for (int i = 0; i < sc->nsensors; i++) {
			const struct sim_sensor *s = &sc->sensors[i];
			int n = sim_world_sample(w, s, t, r, SIM_MAX_LANES);
			assert_int_equal(encode(s, r, n, &m, &rng), HUB_OK);
			json_t *v = parse(&m);
			assert_non_null(v);
			assert_true(json_is_object(v) || json_is_array(v));
			json_decref(v);
			seen[s->format]++;
		}
	}
	for (int f = 0; f < SIM_FMT_COUNT; f++)
		assert_true(seen[f] > 0);
	sim_msg_fini(&m);
	sim_world_free(w);
}

/* A fixed air-quality reading, the station measuring pm25 and humidity only. */
static void fixed_reading(struct sim_sensor *s, struct sim_reading *r, enum sim_format f)
{
	memset(s, 0, sizeof(*s));
	memset(r, 0, sizeof(*r));
	s->id = "aq-test";
	s->kind = SIM_KIND_AIR;
	s->district = "phuong-1";
	s->format = f;
	s->fields = UINT32_MAX;
	s->gateway = "mytho-gw-01";
	s->dev_eui = "70B3D57ED0000001";
	s->lat = 10.3547;
	s->lon = 106.366;
	r->sensor = s;
	r->ts_ns = 1773075600123000000LL; /* 2026-03-09T17:00:00.123Z */
	r->present = (1u << 1) | (1u << 8);
	r->v[1] = 23.4;
	r->v[8] = 0.785;
}

static void test_native_exact(void **state)
{
	(void)state;
	struct sim_sensor s;
	struct sim_reading r[2];
	struct sim_msg m = {0};
	fixed_reading(&s, &r[0], SIM_FMT_NATIVE);
	assert_int_equal(encode(&s, r, 1, &m, NULL), HUB_OK);
	assert_string_equal(m.topic.data, "city/air_quality/phuong-1/aq-test");
	assert_string_equal(
	    m.payload.data,
	    "{\"sensor_id\":\"aq-test\",\"kind\":\"air_quality\",\"time\":"
	    "\"2026-03-09T17:00:00.123Z\",\"fields\":{\"pm25\":23.4,\"humidity\":0.785}}");
	/* Non-canonical unit, then the batch form. */
	s.units[8] = sim_altunit_find("humidity", "%");
	r[1] = r[0];
	r[1].v[1] = 25.0;
	assert_int_equal(encode(&s, r, 2, &m, NULL), HUB_OK);
	assert_string_equal(
	    m.payload.data,
	    "{\"readings\":[{\"sensor_id\":\"aq-test\",\"kind\":\"air_quality\",\"time\":"
	    "\"2026-03-09T17:00:00.123Z\",\"fields\":{\"pm25\":23.4,\"humidity\":{\"value\":78.5,"
	    "\"unit\":\"%\"}}},{\"sensor_id\":\"aq-test\",\"kind\":\"air_quality\",\"time\":"
	    "\"2026-03-09T17:00:00.123Z\",\"fields\":{\"pm25\":25.0,\"humidity\":{\"value\":78.5,"
	    "\"unit\":\"%\"}}}]}");
	sim_msg_fini(&m);
}

static void test_senml_exact(void **state)
{
	(void)state;
	struct sim_sensor s;
	struct sim_reading r;
	struct sim_msg m = {0};
	fixed_reading(&s, &r, SIM_FMT_SENML);
	assert_int_equal(encode(&s, &r, 1, &m, NULL), HUB_OK);
	assert_string_equal(m.topic.data, "senml/phuong-1/aq-test");
	assert_string_equal(
	    m.payload.data,
	    "[{\"bn\":\"urn:dev:aq-test:\",\"bt\":1773075600.123,\"n\":\"pm25\","
	    "\"u\":\"ug/m3\",\"v\":23.4},{\"n\":\"humidity\",\"u\":\"%RH\",\"v\":78.5}]");
	sim_msg_fini(&m);
}

static void test_ttn_shape(void **state)
{
	(void)state;
	struct sim_sensor s;
	struct sim_reading r;
	struct sim_msg m = {0};
	struct sim_rng rng;
	sim_rng_seed(&rng, 3, 4);
	fixed_reading(&s, &r, SIM_FMT_TTN);
	assert_int_equal(encode(&s, &r, 1, &m, &rng), HUB_OK);
	assert_string_equal(m.topic.data, "v3/mytho-pilot@ttn/devices/aq-test/up");
	json_t *v = parse(&m);
	assert_non_null(v);
	assert_string_equal(
	    json_string_value(json_object_get(json_object_get(v, "end_device_ids"), "device_id")),
	    "aq-test");
	json_t *up = json_object_get(v, "uplink_message");
	assert_int_equal(json_integer_value(json_object_get(up, "f_port")), 11);
	assert_int_equal(json_integer_value(json_object_get(up, "f_cnt")), 7);
	/* ch2 analog 23.40 -> 02 02 09 24; ch9 humidity 78.5 % -> 09 68 9d */
	assert_string_equal(json_string_value(json_object_get(up, "frm_payload")), "AgIJJAlonQ==");
	json_t *gw = json_array_get(json_object_get(up, "rx_metadata"), 0);
	assert_string_equal(
	    json_string_value(json_object_get(json_object_get(gw, "gateway_ids"), "gateway_id")),
	    "mytho-gw-01");
	assert_true(json_is_integer(json_object_get(gw, "rssi")));
	assert_true(json_is_number(json_object_get(gw, "snr")));
	json_decref(v);
	s.decoded = 1;
	assert_int_equal(encode(&s, &r, 1, &m, &rng), HUB_OK);
	v = parse(&m);
	up = json_object_get(v, "uplink_message");
	assert_null(json_object_get(up, "frm_payload"));
	assert_true(json_real_value(json_object_get(json_object_get(up, "decoded_payload"),
	                                            "humidity")) == 0.785);
	json_decref(v);
	sim_msg_fini(&m);
}

static void test_chirpstack_shape(void **state)
{
	(void)state;
	struct sim_sensor s;
	struct sim_reading r;
	struct sim_msg m = {0};
	struct sim_rng rng;
	sim_rng_seed(&rng, 3, 4);
	fixed_reading(&s, &r, SIM_FMT_CHIRPSTACK);
	assert_int_equal(encode(&s, &r, 1, &m, &rng), HUB_OK);
	assert_string_equal(m.topic.data, "application/6f1d2c3b-5a49-4e0f-9b7a-3c2d1e0f4a5b/device/"
	                                  "70b3d57ed0000001/event/up");
	json_t *v = parse(&m);
	assert_non_null(v);
	json_t *di = json_object_get(v, "deviceInfo");
	assert_string_equal(json_string_value(json_object_get(di, "deviceName")), "aq-test");
	assert_string_equal(json_string_value(json_object_get(di, "devEui")), "70b3d57ed0000001");
	assert_string_equal(
	    json_string_value(json_object_get(json_object_get(di, "tags"), "district")),
	    "phuong-1");
	assert_string_equal(json_string_value(json_object_get(v, "data")), "AgIJJAlonQ==");
	assert_int_equal(json_integer_value(json_object_get(v, "fPort")), 11);
	assert_int_equal(json_array_size(json_object_get(v, "rxInfo")), 1);
	json_decref(v);
	sim_msg_fini(&m);
}

static void test_ngsild_shape(void **state)
{
	(void)state;
	struct sim_sensor s;
	struct sim_reading r;
	struct sim_msg m = {0};
	fixed_reading(&s, &r, SIM_FMT_NGSILD);
	s.kind = SIM_KIND_QUALITY;
	r.present = 1u << 0;
	r.v[0] = 4.25;
	assert_int_equal(encode(&s, &r, 1, &m, NULL), HUB_OK);
	assert_string_equal(m.topic.data, "ngsi/phuong-1/aq-test");
	json_t *v = parse(&m);
	assert_non_null(v);
	assert_string_equal(json_string_value(json_object_get(v, "id")),
	                    "urn:ngsi-ld:WaterQualityObserved:aq-test");
	assert_string_equal(json_string_value(json_object_get(v, "type")), "WaterQualityObserved");
	json_t *when = json_object_get(json_object_get(v, "dateObserved"), "value");
	assert_string_equal(json_string_value(json_object_get(when, "@type")), "DateTime");
	assert_string_equal(json_string_value(json_object_get(when, "@value")),
	                    "2026-03-09T17:00:00.123Z");
	json_t *sal = json_object_get(v, "salinity");
	assert_string_equal(json_string_value(json_object_get(sal, "type")), "Property");
	assert_true(json_real_value(json_object_get(sal, "value")) == 4.25);
	assert_string_equal(json_string_value(json_object_get(sal, "unitCode")), "GL");
	json_decref(v);
	sim_msg_fini(&m);
}

/* Malformed payloads never parse; oversize ones parse and have exactly the target size. */
static void test_payload_faults(void **state)
{
	(void)state;
	struct sim_sensor s;
	struct sim_reading r;
	struct sim_msg m = {0};
	struct sim_rng rng;
	sim_rng_seed(&rng, 9, 9);
	fixed_reading(&s, &r, SIM_FMT_NATIVE);
	for (int i = 0; i < 200; i++) {
		assert_int_equal(encode(&s, &r, 1, &m, NULL), HUB_OK);
		sim_fault_malform(&rng, &m.payload);
		assert_null(json_loadb(m.payload.data, m.payload.len, 0, NULL));
	}
	assert_int_equal(encode(&s, &r, 1, &m, NULL), HUB_OK);
	sim_fault_oversize(&m.payload, 300000);
	assert_int_equal(m.payload.len, 300000);
	json_t *v = parse(&m);
	assert_non_null(v);
	assert_string_equal(json_string_value(json_object_get(v, "sensor_id")), "aq-test");
	json_decref(v);
	sim_msg_fini(&m);
}

/* Issue 13 #16: a reading sent in another unit carries the sensor's reading at its resolution
 * exactly: converted back (and rounded to 15 significant digits, as the hub does), it is the
 * canonical reading, never 2.305555555555556 for 2.3 m/s. Speeds in m/s are the exception: a
 * 0.01 m/s sensor cannot report every 0.1 km/h step. */
static void test_altunits_keep_resolution(void **state)
{
	(void)state;
	static const struct {
		enum sim_kind kind;
		const char *field, *unit;
	} pairs[] = {
	    {SIM_KIND_AIR, "humidity", "%"},         {SIM_KIND_TRAFFIC, "occupancy", "%"},
	    {SIM_KIND_LEVEL, "level_m", "cm"},       {SIM_KIND_LEVEL, "flow_m3s", "l/s"},
	    {SIM_KIND_QUALITY, "salinity_ppt", "mg/l"},
	    {SIM_KIND_QUALITY, "conductivity_us_cm", "mS/cm"},
	    {SIM_KIND_WEATHER, "pressure_hpa", "kPa"}, {SIM_KIND_WEATHER, "wind_speed_ms", "km/h"},
	    {SIM_KIND_WEATHER, "temperature_c", "K"},
	};
	for (size_t i = 0; i < sizeof(pairs) / sizeof(pairs[0]); i++) {
		const struct sim_altunit *au = sim_altunit_find(pairs[i].field, pairs[i].unit);
		int idx = sim_kind_field(pairs[i].kind, pairs[i].field);
		assert_non_null(au);
		assert_true(idx >= 0);
		const struct sim_fielddef *f = &sim_kind_def(pairs[i].kind)->fields[idx];
		double step = pow(10.0, -f->decimals);
		for (int k = 0; k < 2000; k++) {
			double v = sim_round(f->lo + k * step * 7, f->decimals);
			double sent = sim_round(v * au->scale + au->offset, au->decimals);
			char buf[32];
			snprintf(buf, sizeof(buf), "%.15g", (sent - au->offset) / au->scale);
			if (strtod(buf, NULL) != v)
				fail_msg("%s %.17g sent as %.17g %s reads back as %s", f->name, v, sent,
				         au->unit, buf);
		}
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_all_sensors_parse), cmocka_unit_test(test_native_exact),
	    cmocka_unit_test(test_altunits_keep_resolution),
	    cmocka_unit_test(test_senml_exact),       cmocka_unit_test(test_ttn_shape),
	    cmocka_unit_test(test_chirpstack_shape),  cmocka_unit_test(test_ngsild_shape),
	    cmocka_unit_test(test_payload_faults),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
