#include "scenario.h"

#include "cityhub/buf.h"
#include "cityhub/error.h"
#include "cityhub/yaml.h"
#include "decode.h"
#include "prng.h"

#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PATHLEN 256
#define OFF(type, member) offsetof(type, member)
#define SC(member) OFF(struct sim_scenario, member)
#define SN(member) OFF(struct sim_sensor, member)

/* ---- sensors ---- */

static int dec_kind(struct sim_decoder *d, json_t *v, void *field, const char *path)
{
	if (!json_is_string(v) || sim_kind_parse(json_string_value(v), field))
		return sim_decode_fail(d, path, "unknown kind");
	return HUB_OK;
}

static int dec_format(struct sim_decoder *d, json_t *v, void *field, const char *path)
{
	if (!json_is_string(v) || sim_format_parse(json_string_value(v), field))
		return sim_decode_fail(d, path,
		                       "unknown format (native|senml|ttn|chirpstack|ngsild)");
	return HUB_OK;
}

/* `fields: [name, ...]`: the subset of the kind's fields this sensor measures. */
static int dec_fields(struct sim_decoder *d, json_t *v, void *field, const char *path)
{
	struct sim_sensor *s = (struct sim_sensor *)((char *)field - SN(fields));
	size_t i;
	json_t *e;
	if (s->kind == SIM_KIND_COUNT)
		return sim_decode_fail(d, path, "needs a kind");
	if (!json_is_array(v) || json_array_size(v) == 0)
		return sim_decode_fail(d, path, "expected a non-empty list of field names");
	s->fields = 0;
	json_array_foreach(v, i, e)
	{
		int idx = json_is_string(e) ? sim_kind_field(s->kind, json_string_value(e)) : -1;
		if (idx < 0)
			return sim_decode_fail(d, path, "item %zu is not a field of %s", i,
			                       sim_kind_name(s->kind));
		s->fields |= 1u << idx;
	}
	return HUB_OK;
}

/* `units: {field: unit}`: fields a native sensor reports in a non-canonical unit. */
static int dec_units(struct sim_decoder *d, json_t *v, void *field, const char *path)
{
	struct sim_sensor *s = (struct sim_sensor *)((char *)field - SN(units));
	const char *name;
	json_t *u;
	if (s->kind == SIM_KIND_COUNT)
		return sim_decode_fail(d, path, "needs a kind");
	if (!json_is_object(v))
		return sim_decode_fail(d, path, "expected a mapping field: unit");
	json_object_foreach(v, name, u)
	{
		int idx = sim_kind_field(s->kind, name);
		const struct sim_altunit *au =
		    json_is_string(u) ? sim_altunit_find(name, json_string_value(u)) : NULL;
		if (idx < 0 || !au)
			return sim_decode_fail(d, path, "no alternative unit for %s", name);
		s->units[idx] = au;
	}
	return HUB_OK;
}

static int dec_lanes(struct sim_decoder *d, json_t *v, void *field, const char *path)
{
	struct sim_sensor *s = (struct sim_sensor *)((char *)field - SN(lanes));
	size_t i;
	json_t *e;
	if (!json_is_array(v) || json_array_size(v) == 0 || json_array_size(v) > SIM_MAX_LANES)
		return sim_decode_fail(d, path, "expected 1..%d lane ids", SIM_MAX_LANES);
	json_array_foreach(v, i, e)
	{
		if (!json_is_string(e))
			return sim_decode_fail(d, path, "lane ids are strings");
		s->lanes[s->nlanes++] = hub_xstrdup(json_string_value(e));
	}
	return HUB_OK;
}

/* kind and format come first: later keys depend on them. */
static const struct sim_key sensor_keys[] = {
    {"kind", SIM_K_CUSTOM, SN(kind), 0, 0, NULL, dec_kind},
    {"format", SIM_K_CUSTOM, SN(format), 0, 0, NULL, dec_format},
    {"id", SIM_K_STR, SN(id), 0, 0, NULL, NULL},
    {"district", SIM_K_STR, SN(district), 0, 0, NULL, NULL},
    {"lat", SIM_K_DOUBLE, SN(lat), -90, 90, NULL, NULL},
    {"lon", SIM_K_DOUBLE, SN(lon), -180, 180, NULL, NULL},
    {"interval_s", SIM_K_INT, SN(interval_s), 1, 86400, NULL, NULL},
    {"fields", SIM_K_CUSTOM, SN(fields), 0, 0, NULL, dec_fields},
    {"units", SIM_K_CUSTOM, SN(units), 0, 0, NULL, dec_units},
    {"decoded", SIM_K_BOOL, SN(decoded), 0, 0, NULL, NULL},
    {"gateway", SIM_K_STR, SN(gateway), 0, 0, NULL, NULL},
    {"dev_eui", SIM_K_STR, SN(dev_eui), 0, 0, NULL, NULL},
    {"lanes", SIM_K_CUSTOM, SN(lanes), 0, 0, NULL, dec_lanes},
    {"capacity_vph", SIM_K_DOUBLE, SN(capacity_vph), 1, 20000, NULL, NULL},
    {"free_speed_kmh", SIM_K_DOUBLE, SN(free_speed_kmh), 5, 150, NULL, NULL},
    {"near", SIM_K_STR, SN(near), 0, 0, NULL, NULL},
    {"tide_gain", SIM_K_DOUBLE, SN(tide_gain), 0, 5, NULL, NULL},
    {"tide_lag", SIM_K_DURATION, SN(tide_lag_ns), 0, 0, NULL, NULL},
    {"level_offset_m", SIM_K_DOUBLE, SN(level_offset_m), -10, 10, NULL, NULL},
    {"flow_net_m3s", SIM_K_DOUBLE, SN(flow_net_m3s), -50000, 50000, NULL, NULL},
    {"flow_gain", SIM_K_DOUBLE, SN(flow_gain), 0, 100000, NULL, NULL},
    {"salinity_ppt", SIM_K_DOUBLE, SN(salinity_ppt), 0, 40, NULL, NULL},
    {"salinity_gain", SIM_K_DOUBLE, SN(salinity_gain), 0, 10, NULL, NULL},
    {"name_vi", SIM_K_STR, SN(name_vi), 0, 0, NULL, NULL},
    {"name_en", SIM_K_STR, SN(name_en), 0, 0, NULL, NULL},
    {"description", SIM_K_IGNORE, 0, 0, 0, NULL, NULL},
    {NULL, 0, 0, 0, 0, NULL, NULL},
};

static void sensor_defaults(struct sim_sensor *s, int index)
{
	memset(s, 0, sizeof(*s));
	s->index = index;
	s->kind = SIM_KIND_COUNT;
	s->interval_s = 60;
	s->fields = UINT32_MAX;
	s->capacity_vph = 1800;
	s->free_speed_kmh = 40;
	s->near_index = -1;
	s->tide_gain = 1;
	s->salinity_ppt = 0.2;
	s->salinity_gain = 1.2;
}

static void derive_dev_eui(struct sim_sensor *s)
{
	char buf[17];
	uint64_t h = sim_hash_str(s->id) & 0xffffffULL;
	snprintf(buf, sizeof(buf), "70B3D57ED0%06llX", (unsigned long long)h);
	s->dev_eui = hub_xstrdup(buf);
}

/* Checks what one sensor needs after decoding, and fills derived defaults. */
static int sensor_finish(struct sim_decoder *d, struct sim_sensor *s, const char *path)
{
	const struct sim_kinddef *kd;
	if (!s->id || !*s->id || !s->district || s->kind == SIM_KIND_COUNT)
		return sim_decode_fail(d, path, "id, kind and district are required");
	kd = sim_kind_def(s->kind);
	s->fields &= (1u << kd->nfields) - 1;
	if (s->kind == SIM_KIND_TRAFFIC && s->nlanes == 0)
		s->lanes[s->nlanes++] = hub_xstrdup("1");
	if (s->nlanes && s->kind != SIM_KIND_TRAFFIC)
		return sim_decode_fail(d, path, "lanes are for traffic_flow sensors only");
	if (s->nlanes > 1 && s->format != SIM_FMT_NATIVE)
		return sim_decode_fail(d, path, "several lanes need the native format (batches)");
	for (int i = 0; i < SIM_MAX_FIELDS; i++)
		if (s->units[i] && s->format != SIM_FMT_NATIVE)
			return sim_decode_fail(d, path, "units are for native sensors only");
	if (!s->dev_eui)
		derive_dev_eui(s);
	else if (strlen(s->dev_eui) != 16 || strspn(s->dev_eui, "0123456789ABCDEF") != 16)
		return sim_decode_fail(d, path, "dev_eui must be 16 upper-case hex digits");
	return HUB_OK;
}

static int dec_sensors(struct sim_decoder *d, json_t *v, void *field, const char *path)
{
	struct sim_scenario *sc = (struct sim_scenario *)((char *)field - SC(sensors));
	char sub[PATHLEN];
	size_t i;
	json_t *e;
	if (!json_is_array(v) || json_array_size(v) == 0 || json_array_size(v) > 100000)
		return sim_decode_fail(d, path, "expected a non-empty list of sensors");
	sc->sensors = hub_xcalloc(json_array_size(v), sizeof(*sc->sensors));
	json_array_foreach(v, i, e)
	{
		struct sim_sensor *s = &sc->sensors[i];
		sensor_defaults(s, (int)i);
		sc->nsensors = (int)i + 1;
		sim_path_index(sub, sizeof(sub), path, i);
		int rc = sim_decode_object(d, e, sensor_keys, s, sub);
		if (!rc)
			rc = sensor_finish(d, s, sub);
		if (rc)
			return rc;
	}
	return HUB_OK;
}

/* ---- faults, outages, tide, lorawan ---- */

static int dec_fault_extra(struct sim_decoder *d, struct sim_scenario *sc, const char *name,
                           json_t *e, const char *path)
{
	double x;
	if (strcmp(name, "oversize_bytes") == 0) {
		if (sim_json_number(e, &x) || !(x >= 1024 && x <= 256e6))
			return sim_decode_fail(d, path, "expected 1024..256e6 bytes");
		sc->oversize_bytes = (int64_t)x;
		return HUB_OK;
	}
	return sim_decode_duration(d, e, &sc->skew_max_ns, path);
}

static int dec_faults(struct sim_decoder *d, json_t *v, void *field, const char *path)
{
	struct sim_scenario *sc = (struct sim_scenario *)((char *)field - SC(fault_rate));
	char sub[PATHLEN];
	const char *name;
	json_t *e;
	double x;
	enum sim_fault f;
	if (!json_is_object(v))
		return sim_decode_fail(d, path, "expected a mapping fault: rate");
	json_object_foreach(v, name, e)
	{
		sim_path_key(sub, sizeof(sub), path, name);
		if (strcmp(name, "oversize_bytes") == 0 || strcmp(name, "clock_skew_max") == 0) {
			int rc = dec_fault_extra(d, sc, name, e, sub);
			if (rc)
				return rc;
		} else if (sim_fault_parse(name, &f) || f >= SIM_FAULT_OUTAGE) {
			return sim_decode_fail(d, path, "unknown fault \"%s\"", name);
		} else if (sim_json_number(e, &x) || !(x >= 0 && x <= 1)) {
			return sim_decode_fail(d, sub, "a rate is a number in [0, 1]");
		} else {
			sc->fault_rate[f] = x;
		}
	}
	return HUB_OK;
}

static int dec_outage_sensors(struct sim_decoder *d, json_t *v, void *field, const char *path)
{
	struct sim_outage *o =
	    (struct sim_outage *)((char *)field - OFF(struct sim_outage, sensors));
	size_t i;
	json_t *e;
	if (!json_is_array(v))
		return sim_decode_fail(d, path, "expected a list of sensor ids");
	o->sensors = hub_xcalloc(json_array_size(v) + 1, sizeof(char *));
	json_array_foreach(v, i, e)
	{
		if (!json_is_string(e))
			return sim_decode_fail(d, path, "sensor ids are strings");
		o->sensors[o->nsensors++] = hub_xstrdup(json_string_value(e));
	}
	return HUB_OK;
}

static const struct sim_key outage_keys[] = {
    {"sensors", SIM_K_CUSTOM, OFF(struct sim_outage, sensors), 0, 0, NULL, dec_outage_sensors},
    {"gateway", SIM_K_STR, OFF(struct sim_outage, gateway), 0, 0, NULL, NULL},
    {"format", SIM_K_STR, OFF(struct sim_outage, format), 0, 0, NULL, NULL},
    {"from", SIM_K_DURATION, OFF(struct sim_outage, from_ns), 0, 0, NULL, NULL},
    {"for", SIM_K_DURATION, OFF(struct sim_outage, for_ns), 0, 0, NULL, NULL},
    {"alert", SIM_K_STR, OFF(struct sim_outage, alert), 0, 0, NULL, NULL},
    {NULL, 0, 0, 0, 0, NULL, NULL},
};

static int dec_outages(struct sim_decoder *d, json_t *v, void *field, const char *path)
{
	struct sim_scenario *sc = (struct sim_scenario *)((char *)field - SC(outages));
	char sub[PATHLEN];
	size_t i;
	json_t *e;
	if (!json_is_array(v))
		return sim_decode_fail(d, path, "expected a list of outages");
	sc->outages = hub_xcalloc(json_array_size(v) + 1, sizeof(*sc->outages));
	json_array_foreach(v, i, e)
	{
		struct sim_outage *o = &sc->outages[i];
		sc->noutages = (int)i + 1;
		sim_path_index(sub, sizeof(sub), path, i);
		int rc = sim_decode_object(d, e, outage_keys, o, sub);
		if (rc)
			return rc;
		if (!o->sensors && !o->gateway && !o->format)
			return sim_decode_fail(d, sub, "name sensors, a gateway or a format");
		if (o->for_ns <= 0)
			return sim_decode_fail(d, sub, "`for` must be a positive duration");
	}
	return HUB_OK;
}

/* ---- field episodes and `only:` (after sensors: they name sensors and fields) ---- */

#define EP(member) OFF(struct sim_field_episode, member)

/* One profile point `[offset, number]` into *p. */
static int dec_point(struct sim_decoder *d, json_t *v, struct sim_ep_point *p, const char *path)
{
	if (!json_is_array(v) || json_array_size(v) != 2)
		return sim_decode_fail(d, path, "a point is [offset, value]");
	int rc = sim_decode_duration(d, json_array_get(v, 0), &p->at_ns, path);
	if (!rc && sim_json_number(json_array_get(v, 1), &p->v))
		rc = sim_decode_fail(d, path, "a point's value is a number");
	return rc;
}

/* `value|add|scale: N` or `[[offset, N], ...]` (offsets from `from`, non-decreasing). */
static int dec_profile(struct sim_decoder *d, json_t *v, struct sim_field_episode *e,
                       enum sim_episode_op op, const char *path)
{
	size_t i, n = json_is_array(v) ? json_array_size(v) : 1;
	if (e->points)
		return sim_decode_fail(d, path, "give one of value, add, scale");
	if (n == 0 || n > 10000 || (!json_is_array(v) && !json_is_number(v)))
		return sim_decode_fail(d, path, "expected a number or a list of [offset, value]");
	e->op = op;
	e->points = hub_xcalloc(n, sizeof(*e->points));
	e->npoints = (int)n;
	if (!json_is_array(v))
		return sim_json_number(v, &e->points[0].v);
	for (i = 0; i < n; i++) {
		char sub[PATHLEN];
		sim_path_index(sub, sizeof(sub), path, i);
		int rc = dec_point(d, json_array_get(v, i), &e->points[i], sub);
		if (rc)
			return rc;
		if (i > 0 && e->points[i].at_ns < e->points[i - 1].at_ns)
			return sim_decode_fail(d, sub, "offsets must not decrease");
	}
	return HUB_OK;
}

static int dec_ep_value(struct sim_decoder *d, json_t *v, void *field, const char *path)
{
	return dec_profile(d, v, field, SIM_EP_VALUE, path);
}

static int dec_ep_add(struct sim_decoder *d, json_t *v, void *field, const char *path)
{
	return dec_profile(d, v, field, SIM_EP_ADD, path);
}

static int dec_ep_scale(struct sim_decoder *d, json_t *v, void *field, const char *path)
{
	return dec_profile(d, v, field, SIM_EP_SCALE, path);
}

/* The custom decoders get the whole episode (offset 0), as they set op and points. */
static const struct sim_key episode_keys[] = {
    {"sensor", SIM_K_STR, EP(sensor), 0, 0, NULL, NULL},
    {"field", SIM_K_STR, EP(field), 0, 0, NULL, NULL},
    {"from", SIM_K_DURATION, EP(from_ns), 0, 0, NULL, NULL},
    {"for", SIM_K_DURATION, EP(for_ns), 0, 0, NULL, NULL},
    {"value", SIM_K_CUSTOM, 0, 0, 0, NULL, dec_ep_value},
    {"add", SIM_K_CUSTOM, 0, 0, 0, NULL, dec_ep_add},
    {"scale", SIM_K_CUSTOM, 0, 0, 0, NULL, dec_ep_scale},
    {"alert", SIM_K_STR, EP(alert), 0, 0, NULL, NULL},
    {"description", SIM_K_IGNORE, 0, 0, 0, NULL, NULL},
    {NULL, 0, 0, 0, 0, NULL, NULL},
};

/* Resolves an episode's sensor and field and checks its window and values. */
static int episode_finish(struct sim_decoder *d, const struct sim_scenario *sc,
                          struct sim_field_episode *e, const char *path)
{
	const struct sim_sensor *s = e->sensor ? sim_scenario_sensor(sc, e->sensor) : NULL;
	if (!s)
		return sim_decode_fail(d, path, "sensor: no sensor \"%s\"",
		                       e->sensor ? e->sensor : "");
	e->sensor_index = s->index;
	e->field_index = e->field ? sim_kind_field(s->kind, e->field) : -1;
	if (e->field_index < 0)
		return sim_decode_fail(d, path, "field: not a field of %s", sim_kind_name(s->kind));
	const struct sim_fielddef *f = &sim_kind_def(s->kind)->fields[e->field_index];
	if (f->type == SIM_VT_STR)
		return sim_decode_fail(d, path, "field: %s is a string", e->field);
	if (!e->points)
		return sim_decode_fail(d, path, "give one of value, add, scale");
	if (e->for_ns == 0 && e->npoints > 1)
		e->for_ns = e->points[e->npoints - 1].at_ns;
	if (e->for_ns <= 0)
		return sim_decode_fail(d, path, "`for` must be a positive duration");
	for (int i = 0; e->op == SIM_EP_VALUE && i < e->npoints; i++)
		if (e->points[i].v < f->lo || e->points[i].v > f->hi)
			return sim_decode_fail(d, path, "value %g is outside %s's [%g, %g]",
			                       e->points[i].v, e->field, f->lo, f->hi);
	return HUB_OK;
}

static int dec_episodes(struct sim_decoder *d, json_t *v, void *field, const char *path)
{
	struct sim_scenario *sc = (struct sim_scenario *)((char *)field - SC(episodes));
	char sub[PATHLEN];
	size_t i;
	json_t *e;
	if (!json_is_array(v) || json_array_size(v) > 10000)
		return sim_decode_fail(d, path, "expected a list of episodes");
	sc->episodes = hub_xcalloc(json_array_size(v) + 1, sizeof(*sc->episodes));
	json_array_foreach(v, i, e)
	{
		struct sim_field_episode *ep = &sc->episodes[i];
		sc->nepisodes = (int)i + 1;
		sim_path_index(sub, sizeof(sub), path, i);
		int rc = sim_decode_object(d, e, episode_keys, ep, sub);
		if (!rc)
			rc = episode_finish(d, sc, ep, sub);
		if (rc)
			return rc;
	}
	return HUB_OK;
}

/* `only: [ids]`: the listed sensors publish, every other one stays quiet. */
static int dec_only(struct sim_decoder *d, json_t *v, void *field, const char *path)
{
	struct sim_scenario *sc = (struct sim_scenario *)((char *)field - SC(sensors));
	size_t i;
	json_t *e;
	if (!json_is_array(v) || json_array_size(v) == 0)
		return sim_decode_fail(d, path, "expected a non-empty list of sensor ids");
	for (int j = 0; j < sc->nsensors; j++)
		sc->sensors[j].quiet = 1;
	json_array_foreach(v, i, e)
	{
		const struct sim_sensor *s =
		    json_is_string(e) ? sim_scenario_sensor(sc, json_string_value(e)) : NULL;
		if (!s)
			return sim_decode_fail(d, path, "item %zu is not a sensor id", i);
		sc->sensors[s->index].quiet = 0;
	}
	return HUB_OK;
}

/* `amplitudes_m: {M2: .., S2: .., K1: .., O1: ..}` and `phases_deg:` alike. */
static int dec_constituents(struct sim_decoder *d, json_t *v, void *field, const char *path)
{
	static const char *const names[SIM_TIDE_N] = {"M2", "S2", "K1", "O1"};
	double *arr = field;
	const char *name;
	json_t *e;
	if (!json_is_object(v))
		return sim_decode_fail(d, path, "expected a mapping M2/S2/K1/O1: number");
	json_object_foreach(v, name, e)
	{
		int i = 0;
		while (i < SIM_TIDE_N && strcmp(names[i], name) != 0)
			i++;
		if (i == SIM_TIDE_N || sim_json_number(e, &arr[i]) || fabs(arr[i]) > 360)
			return sim_decode_fail(d, path, "bad constituent \"%s\"", name);
	}
	return HUB_OK;
}

static int dec_gateways(struct sim_decoder *d, json_t *v, void *field, const char *path)
{
	struct sim_scenario *sc = (struct sim_scenario *)((char *)field - SC(lorawan.gateways));
	size_t i;
	json_t *e;
	if (!json_is_array(v) || json_array_size(v) == 0 || json_array_size(v) > SIM_MAX_GATEWAYS)
		return sim_decode_fail(d, path, "expected 1..%d gateway ids", SIM_MAX_GATEWAYS);
	for (i = 0; i < (size_t)sc->lorawan.ngateways; i++)
		free(sc->lorawan.gateways[i]);
	sc->lorawan.ngateways = 0;
	json_array_foreach(v, i, e)
	{
		if (!json_is_string(e))
			return sim_decode_fail(d, path, "gateway ids are strings");
		sc->lorawan.gateways[sc->lorawan.ngateways++] = hub_xstrdup(json_string_value(e));
	}
	return HUB_OK;
}

#define TD(member) OFF(struct sim_tide, member)
static const struct sim_key tide_keys[] = {
    {"mean_m", SIM_K_DOUBLE, TD(mean_m), -5, 5, NULL, NULL},
    {"reference", SIM_K_TIME, TD(reference_ns), 0, 0, NULL, NULL},
    {"amplitudes_m", SIM_K_CUSTOM, TD(amp_m), 0, 0, NULL, dec_constituents},
    {"phases_deg", SIM_K_CUSTOM, TD(phase_deg), 0, 0, NULL, dec_constituents},
    {NULL, 0, 0, 0, 0, NULL, NULL},
};

#define SUBOFF(outer, member) (OFF(struct sim_scenario, outer.member) - SC(outer))
static const struct sim_key traffic_keys[] = {
    {"scale", SIM_K_DOUBLE, SUBOFF(traffic, scale), 0, 10, NULL, NULL},
    {"congestion_per_hour", SIM_K_DOUBLE, SUBOFF(traffic, congestion_per_h), 0, 60, NULL, NULL},
    {"congestion_mean", SIM_K_DURATION, SUBOFF(traffic, congestion_mean_ns), 0, 0, NULL, NULL},
    {NULL, 0, 0, 0, 0, NULL, NULL},
};

static const struct sim_key weather_keys[] = {
    {"temp_offset_c", SIM_K_DOUBLE, SUBOFF(weather, temp_offset_c), -20, 20, NULL, NULL},
    {"rain_events_per_day", SIM_K_DOUBLE, SUBOFF(weather, rain_per_day), 0, 48, NULL, NULL},
    {"rain_mm_h", SIM_K_DOUBLE, SUBOFF(weather, rain_mm_h), 0, 300, NULL, NULL},
    {NULL, 0, 0, 0, 0, NULL, NULL},
};

static const struct sim_key air_keys[] = {
    {"pm_scale", SIM_K_DOUBLE, SUBOFF(air, pm_scale), 0, 50, NULL, NULL},
    {NULL, 0, 0, 0, 0, NULL, NULL},
};

static const struct sim_key salinity_keys[] = {
    {"scale", SIM_K_DOUBLE, SUBOFF(salinity, scale), 0, 100, NULL, NULL},
    {NULL, 0, 0, 0, 0, NULL, NULL},
};

static const struct sim_key hostile_keys[] = {
    {"interval", SIM_K_DURATION, 0, 0, 0, NULL, NULL},
    {NULL, 0, 0, 0, 0, NULL, NULL},
};

static const struct sim_key lorawan_keys[] = {
    {"chirpstack_application_id", SIM_K_STR, SUBOFF(lorawan, chirpstack_app_id), 0, 0, NULL, NULL},
    {"chirpstack_tenant_id", SIM_K_STR, SUBOFF(lorawan, chirpstack_tenant_id), 0, 0, NULL, NULL},
    {"gateways", SIM_K_CUSTOM, SUBOFF(lorawan, gateways), 0, 0, NULL, dec_gateways},
    {NULL, 0, 0, 0, 0, NULL, NULL},
};

static int dec_utc_offset(struct sim_decoder *d, json_t *v, void *field, const char *path)
{
	double h;
	if (sim_json_number(v, &h) || !(h >= -12 && h <= 14))
		return sim_decode_fail(d, path, "expected hours in [-12, 14]");
	*(double *)field = h;
	d->tz_offset_s = (int)lround(h * 3600);
	return HUB_OK;
}

/* utc_offset_h first: start and tide.reference are read in local time. */
static const struct sim_key scenario_keys[] = {
    {"utc_offset_h", SIM_K_CUSTOM, SC(utc_offset_h), 0, 0, NULL, dec_utc_offset},
    {"name", SIM_K_STR, SC(name), 0, 0, NULL, NULL},
    {"description", SIM_K_STR, SC(description), 0, 0, NULL, NULL},
    {"network", SIM_K_STR, SC(network), 0, 0, NULL, NULL},
    {"start", SIM_K_TIME, SC(start_ns), 0, 0, NULL, NULL},
    {"duration", SIM_K_DURATION, SC(duration_ns), 0, 0, NULL, NULL},
    {"seed", SIM_K_U64, SC(seed), 0, 9.2e18, NULL, NULL},
    {"season", SIM_K_STR, SC(season), 0, 0, NULL, NULL},
    {"traffic", SIM_K_SUB, SC(traffic), 0, 0, traffic_keys, NULL},
    {"weather", SIM_K_SUB, SC(weather), 0, 0, weather_keys, NULL},
    {"air", SIM_K_SUB, SC(air), 0, 0, air_keys, NULL},
    {"tide", SIM_K_SUB, SC(tide), 0, 0, tide_keys, NULL},
    {"salinity", SIM_K_SUB, SC(salinity), 0, 0, salinity_keys, NULL},
    {"faults", SIM_K_CUSTOM, SC(fault_rate), 0, 0, NULL, dec_faults},
    {"outages", SIM_K_CUSTOM, SC(outages), 0, 0, NULL, dec_outages},
    {"hostile", SIM_K_SUB, SC(hostile_interval_ns), 0, 0, hostile_keys, NULL},
    {"lorawan", SIM_K_SUB, SC(lorawan), 0, 0, lorawan_keys, NULL},
    {"sensors", SIM_K_CUSTOM, SC(sensors), 0, 0, NULL, dec_sensors},
    {"only", SIM_K_CUSTOM, SC(sensors), 0, 0, NULL, dec_only},
    {"episodes", SIM_K_CUSTOM, SC(episodes), 0, 0, NULL, dec_episodes},
    {NULL, 0, 0, 0, 0, NULL, NULL},
};

/* ---- whole scenario ---- */

static void scenario_defaults(struct sim_scenario *sc)
{
	sc->utc_offset_h = 7;
	sc->duration_ns = 3600 * 1000000000LL;
	sc->seed = 1;
	sc->traffic.scale = 1;
	sc->traffic.congestion_per_h = 0.05;
	sc->traffic.congestion_mean_ns = 20 * 60 * 1000000000LL;
	sc->weather.rain_per_day = 0.5;
	sc->weather.rain_mm_h = 6;
	sc->air.pm_scale = 1;
	sc->tide.mean_m = 0.1;
	sc->tide.amp_m[SIM_TIDE_M2] = 0.70;
	sc->tide.amp_m[SIM_TIDE_S2] = 0.25;
	sc->tide.amp_m[SIM_TIDE_K1] = 0.35;
	sc->tide.amp_m[SIM_TIDE_O1] = 0.25;
	sc->salinity.scale = 1;
	sc->oversize_bytes = 2 * 1024 * 1024;
	sc->skew_max_ns = 6 * 3600 * 1000000000LL;
}

static int check_sensor_refs(struct sim_decoder *d, struct sim_scenario *sc)
{
	char path[PATHLEN];
	for (int i = 0; i < sc->nsensors; i++) {
		struct sim_sensor *s = &sc->sensors[i];
		sim_path_index(path, sizeof(path), "sensors", (size_t)i);
		for (int j = 0; j < i; j++)
			if (strcmp(sc->sensors[j].id, s->id) == 0)
				return sim_decode_fail(d, path, "duplicate id \"%s\"", s->id);
		if (s->near) {
			const struct sim_sensor *n = sim_scenario_sensor(sc, s->near);
			if (!n || n->kind != SIM_KIND_TRAFFIC)
				return sim_decode_fail(d, path, "near: no traffic sensor \"%s\"",
				                       s->near);
			s->near_index = n->index;
		}
		if (!s->gateway && sc->lorawan.ngateways > 0)
			s->gateway = hub_xstrdup(sc->lorawan.gateways[0]);
		if ((s->format == SIM_FMT_TTN || s->format == SIM_FMT_CHIRPSTACK) && !s->gateway)
			return sim_decode_fail(d, path, "LoRaWAN sensors need lorawan.gateways");
	}
	return HUB_OK;
}

static int check_outages(struct sim_decoder *d, struct sim_scenario *sc)
{
	char path[PATHLEN];
	enum sim_format f;
	for (int i = 0; i < sc->noutages; i++) {
		struct sim_outage *o = &sc->outages[i];
		sim_path_index(path, sizeof(path), "outages", (size_t)i);
		for (int j = 0; j < o->nsensors; j++)
			if (!sim_scenario_sensor(sc, o->sensors[j]))
				return sim_decode_fail(d, path, "no sensor \"%s\"", o->sensors[j]);
		if (o->format && sim_format_parse(o->format, &f))
			return sim_decode_fail(d, path, "unknown format \"%s\"", o->format);
	}
	return HUB_OK;
}

static int scenario_check(struct sim_decoder *d, struct sim_scenario *sc)
{
	if (!sc->sensors)
		return sim_decode_fail(d, "sensors", "at least one sensor is required");
	if (!sc->network)
		sc->network = hub_xstrdup("mytho-pilot");
	if (!sc->season)
		sc->season = hub_xstrdup("dry");
	if (strcmp(sc->season, "dry") != 0 && strcmp(sc->season, "wet") != 0)
		return sim_decode_fail(d, "season", "expected dry or wet");
	if (!sc->lorawan.chirpstack_app_id)
		sc->lorawan.chirpstack_app_id = hub_xstrdup("00000000-0000-0000-0000-000000000000");
	if (!sc->lorawan.chirpstack_tenant_id)
		sc->lorawan.chirpstack_tenant_id =
		    hub_xstrdup("00000000-0000-0000-0000-000000000000");
	if (sc->start_ns == 0)
		return sim_decode_fail(d, "start", "a start date/time is required");
	if (sc->tide.reference_ns == 0)
		sc->tide.reference_ns = sc->start_ns;
	int rc = check_sensor_refs(d, sc);
	return rc ? rc : check_outages(d, sc);
}

/* Merges overlay into base: objects merge key by key, recursively; anything else replaces. */
static void json_merge(json_t *base, json_t *overlay)
{
	const char *key;
	json_t *v;
	json_object_foreach(overlay, key, v)
	{
		json_t *cur = json_object_get(base, key);
		if (json_is_object(cur) && json_is_object(v))
			json_merge(cur, v);
		else
			json_object_set(base, key, v);
	}
}

/* Reads the scenario file at path with the hub's YAML reader (cityhub/yaml.h) into *out (an
 * empty file is an empty mapping). HUB_EIO when it cannot be opened, HUB_EPARSE with
 * "file:line: ..." in err when it is not YAML the reader accepts. */
static int read_scenario(const char *path, json_t **out, char *err, size_t errlen)
{
	struct hub_yaml_ctx c = {.file = path, .err = err, .errlen = errlen};
	struct hub_yaml_node *root = NULL;
	FILE *fp = fopen(path, "rb");
	int rc;

	if (!fp) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return HUB_EIO;
	}
	fclose(fp);
	rc = hub_yaml_read_file(&c, path, &root);
	if (rc == HUB_OK)
		rc = root ? hub_yaml_to_json(&c, root, "", out) : HUB_OK;
	if (rc == HUB_OK && !root)
		*out = json_object();
	hub_yaml_free(root);
	return rc == HUB_OK ? HUB_OK : HUB_EPARSE;
}

/* Detaches the `scenarios:` mapping from root and merges the chosen overlay into root. */
static int apply_overlay(json_t *root, const char *overlay, char *err, size_t errlen)
{
	json_t *all = json_incref(json_object_get(root, "scenarios"));
	json_object_del(root, "scenarios");
	int rc = HUB_OK;
	if (overlay) {
		json_t *ov = json_object_get(all, overlay);
		if (!json_is_object(ov)) {
			snprintf(err, errlen, "no scenario \"%s\" (see --list-scenarios)", overlay);
			rc = HUB_ENOENT;
		} else {
			json_merge(root, ov);
			if (!json_object_get(ov, "name"))
				json_object_set_new(root, "name", json_string(overlay));
		}
	}
	json_decref(all);
	return rc;
}

int sim_scenario_load(const char *path, const char *overlay, struct sim_scenario **out, char *err,
                      size_t errlen)
{
	json_t *root = NULL;
	int rc = read_scenario(path, &root, err, errlen);
	if (rc)
		return rc;
	struct sim_scenario *sc = hub_xcalloc(1, sizeof(*sc));
	scenario_defaults(sc);
	struct sim_decoder d = {.err = err, .errlen = errlen, .tz_offset_s = 7 * 3600};
	rc = apply_overlay(root, overlay, err, errlen);
	if (!rc)
		rc = sim_decode_object(&d, root, scenario_keys, sc, "");
	if (!rc)
		rc = scenario_check(&d, sc);
	json_decref(root);
	if (rc) {
		sim_scenario_free(sc);
		return rc;
	}
	*out = sc;
	return HUB_OK;
}

int sim_scenario_list(const char *path, FILE *out, char *err, size_t errlen)
{
	json_t *root = NULL;
	const char *name;
	json_t *ov;
	int rc = read_scenario(path, &root, err, errlen);
	if (rc)
		return rc;
	json_object_foreach(json_object_get(root, "scenarios"), name, ov)
	{
		const char *desc = json_string_value(json_object_get(ov, "description"));
		fprintf(out, "%s\t%s\n", name, desc ? desc : "");
	}
	json_decref(root);
	return HUB_OK;
}

int sim_scenario_playing(const struct sim_scenario *sc)
{
	int n = 0;
	for (int i = 0; i < sc->nsensors; i++)
		n += !sc->sensors[i].quiet;
	return n;
}

const struct sim_sensor *sim_scenario_sensor(const struct sim_scenario *sc, const char *id)
{
	for (int i = 0; i < sc->nsensors; i++)
		if (sc->sensors[i].id && strcmp(sc->sensors[i].id, id) == 0)
			return &sc->sensors[i];
	return NULL;
}

static void sensor_free(struct sim_sensor *s)
{
	free(s->id);
	free(s->district);
	free(s->gateway);
	free(s->dev_eui);
	free(s->near);
	free(s->name_vi);
	free(s->name_en);
	for (int i = 0; i < s->nlanes; i++)
		free(s->lanes[i]);
}

void sim_scenario_free(struct sim_scenario *sc)
{
	if (!sc)
		return;
	for (int i = 0; i < sc->nsensors; i++)
		sensor_free(&sc->sensors[i]);
	free(sc->sensors);
	for (int i = 0; i < sc->noutages; i++) {
		for (int j = 0; j < sc->outages[i].nsensors; j++)
			free(sc->outages[i].sensors[j]);
		free(sc->outages[i].sensors);
		free(sc->outages[i].alert);
		free(sc->outages[i].gateway);
		free(sc->outages[i].format);
	}
	free(sc->outages);
	for (int i = 0; i < sc->nepisodes; i++)
		sim_episode_fini(&sc->episodes[i]);
	free(sc->episodes);
	for (int i = 0; i < sc->lorawan.ngateways; i++)
		free(sc->lorawan.gateways[i]);
	free(sc->lorawan.chirpstack_app_id);
	free(sc->lorawan.chirpstack_tenant_id);
	free(sc->name);
	free(sc->description);
	free(sc->network);
	free(sc->season);
	free(sc);
}
