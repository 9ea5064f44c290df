/* The alert engine's state across a save and load (a restart), its bounds, and stale sensors
 * with learned intervals. The rule semantics themselves are tested through --test-rules
 * (tests/rules/engine.test.yaml, rules/mytho.test.yaml). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "alert/alerts.h"
#include "cityhub/error.h"
#include "config.h"

#define MIN_NS (INT64_C(60) * 1000000000)
#define T0 INT64_C(1773100800000000000) /* 2026-03-10T00:00:00Z */

static struct hub_config cfg;

static int setup(void **state)
{
	(void)state;
	char err[512], path[512];
	snprintf(path, sizeof(path), "%s/tests/rules/engine.yaml", getenv("CITYHUB_SOURCE_ROOT"));
	assert_int_equal(hub_config_load(NULL, NULL, &cfg, err, sizeof(err)), HUB_OK);
	if (hub_config_load_rules(path, &cfg, err, sizeof(err)) != HUB_OK)
		fail_msg("%s", err);
	/* and a stale rule with a learned interval */
	cfg.rules = realloc(cfg.rules, (cfg.nrules + 1) * sizeof(*cfg.rules));
	struct hub_cfg_rule *r = &cfg.rules[cfg.nrules++];
	memset(r, 0, sizeof(*r));
	r->name = strdup("silent");
	r->type = strdup("stale");
	r->kind = strdup("noise");
	r->match = json_object();
	r->labels = json_object();
	r->severity = strdup("warning");
	r->stat = strdup("mean");
	r->factor = 3;
	r->min_samples = 1;
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	struct hub_cfg_rule *r = &cfg.rules[--cfg.nrules];
	free(r->name);
	free(r->type);
	free(r->kind);
	free(r->severity);
	free(r->stat);
	json_decref(r->match);
	json_decref(r->labels);
	hub_config_free(&cfg);
	return 0;
}

/* One reading of field f = v from sensor at minute m (receive time = event time). */
static void feed(struct hub_alerts *a, const char *kind, const char *sensor, const char *f,
		 double v, int m)
{
	struct hub_recset rs;
	hub_recset_init(&rs, 0);
	struct hub_record *r = hub_recset_add(&rs);
	r->kind = kind;
	r->sensor_id = sensor;
	r->ts_ns = T0 + m * MIN_NS;
	r->has_ts = 1;
	hub_record_add_double(&rs, r, f, NULL, v);
	hub_alerts_tick(a, r->ts_ns - 1);
	hub_alerts_record(a, r, r->ts_ns);
	hub_recset_fini(&rs);
}

/* "rule sensor state minute" of every event taken, space-separated. */
static void take(struct hub_alerts *a, char *out, size_t len)
{
	json_t *evs, *e;
	size_t i, used = strlen(out);
	hub_alerts_take(a, &evs);
	json_array_foreach(evs, i, e) {
		long long at = json_integer_value(json_object_get(e, "at_ns"));
		used += (size_t)snprintf(out + used, len - used, "%s %s %s %lld;",
					 json_string_value(json_object_get(e, "rule")),
					 json_string_value(json_object_get(e, "sensor_id")),
					 json_string_value(json_object_get(e, "state")),
					 (at - T0) / MIN_NS);
	}
	json_decref(evs);
}

/* Half of an episode, a save, a load into a new engine (a restart), the other half: the same
 * transitions as without the restart, and the event sequence goes on. */
static void restart_changes_nothing(void **state)
{
	(void)state;
	static const double temps[] = {15, 9, 11, 13, 11, 13, 13, 13};
	static const double levels[] = {2.0, 2.0, 1.8, 1.6, 1.5, 1.5, 1.5};
	char whole[1024] = "", split[1024] = "", err[256];
	for (int cut = 0; cut <= 8; cut += 4) {
		struct hub_alerts *a = hub_alerts_new(&cfg, NULL, err, sizeof(err));
		char *out = cut == 0 ? whole : split;
		out[0] = '\0';
		for (int i = 0; i < 8; i++) {
			if (i == cut && cut > 0) {
				json_t *saved = hub_alerts_save(a);
				char *text = json_dumps(saved, 0);
				json_decref(saved);
				hub_alerts_free(a);
				a = hub_alerts_new(&cfg, NULL, err, sizeof(err));
				saved = json_loads(text, 0, NULL);
				assert_int_equal(hub_alerts_load(a, saved, err, sizeof(err)), HUB_OK);
				json_decref(saved);
				free(text);
			}
			feed(a, "weather", "wx-1", "temperature_c", temps[i], 5 * i);
			if (i < 7)
				feed(a, "water_level", "wl-1", "level_m", levels[i], 10 * i);
			take(a, out, 1024);
		}
		if (cut == 4)
			assert_string_equal(split, whole);
		hub_alerts_free(a);
	}
	/* in the order fed: the level's last reading (minute 60) comes with the 7th temperature */
	assert_string_equal(whole, "cold wx-1 firing 5;level_fall wl-1 firing 20;"
				   "level_fall wl-1 resolved 60;cold wx-1 resolved 35;");
}

/* A learned interval survives a restart; silence counts from the restart at the earliest. */
static void stale_learned_and_restarted(void **state)
{
	(void)state;
	char out[512] = "", err[256];
	struct hub_alerts *a = hub_alerts_new(&cfg, NULL, err, sizeof(err));
	for (int m = 0; m <= 20; m += 5)
		feed(a, "noise", "ns-9", "laeq_db", 50, m);
	json_t *saved = hub_alerts_save(a);
	hub_alerts_free(a);
	a = hub_alerts_new(&cfg, NULL, err, sizeof(err));
	assert_int_equal(hub_alerts_load(a, saved, err, sizeof(err)), HUB_OK);
	json_decref(saved);
	/* the hub comes back at minute 40: 3 x 5 min of silence counts from there */
	hub_alerts_set_start(a, T0 + 40 * MIN_NS);
	hub_alerts_tick(a, T0 + 54 * MIN_NS);
	take(a, out, sizeof(out));
	assert_string_equal(out, "");
	hub_alerts_tick(a, T0 + 56 * MIN_NS);
	take(a, out, sizeof(out));
	assert_string_equal(out, "silent ns-9 firing 55;");
	hub_alerts_free(a);
}

/* Beyond alerts.max_instances readings are counted, not evaluated; late ones likewise. */
static void bounds(void **state)
{
	(void)state;
	char err[256];
	int64_t saved_max = cfg.alerts.max_instances;
	cfg.alerts.max_instances = 2;
	struct hub_alerts *a = hub_alerts_new(&cfg, NULL, err, sizeof(err));
	feed(a, "noise", "ns-1", "laeq_db", 50, 0);          /* silent: 1 instance */
	feed(a, "weather", "wx-1", "temperature_c", 9, 0); /* cold: 2 instances */
	feed(a, "weather", "wx-2", "temperature_c", 9, 0);
	feed(a, "weather", "wx-1", "temperature_c", 9, 0); /* same time again: late */
	struct hub_alerts_stats st;
	hub_alerts_get_stats(a, &st);
	assert_int_equal(st.instances, 2);
	assert_int_equal(st.over_limit, 1); /* wx-2 */
	assert_int_equal(st.late, 1);
	assert_int_equal(st.firing, 1);
	hub_alerts_free(a);
	cfg.alerts.max_instances = saved_max;
}

/* A damaged or foreign state is refused, not half-loaded into a running engine. */
static void bad_state_refused(void **state)
{
	(void)state;
	char err[256];
	struct hub_alerts *a = hub_alerts_new(&cfg, NULL, err, sizeof(err));
	json_t *bad = json_loads("{\"version\": 9, \"seq\": 1, \"rules\": {}}", 0, NULL);
	assert_int_equal(hub_alerts_load(a, bad, err, sizeof(err)), HUB_EINVAL);
	json_decref(bad);
	bad = json_loads("{\"version\": 1, \"seq\": 1, \"rules\": {\"cold\": {\"wx\": {\"st\": 7}}}}",
			 0, NULL);
	assert_int_equal(hub_alerts_load(a, bad, err, sizeof(err)), HUB_EINVAL);
	json_decref(bad);
	hub_alerts_free(a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(restart_changes_nothing),
		cmocka_unit_test(stale_learned_and_restarted),
		cmocka_unit_test(bounds),
		cmocka_unit_test(bad_state_refused),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
