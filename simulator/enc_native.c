/* The cityhub native format:
 * {"sensor_id":..,"kind":..,"time":..,"fields":{name: value | {"value":v,"unit":u}}},
 * or {"readings":[...]} for several readings in one message. */
#include "enc_int.h"

#include <string.h>

#include "cityhub/error.h"

static json_t *native_value(const struct sim_reading *r, int idx)
{
	const struct sim_altunit *au = r->sensor->units[idx];
	if (!au)
		return sim_json_field(r, idx, 1);
	double v = sim_round(r->v[idx] * au->scale + au->offset, au->decimals);
	return json_pack("{s:f,s:s}", "value", v, "unit", au->unit);
}

static json_t *native_reading(const struct sim_reading *r)
{
	const struct sim_kinddef *kd = sim_kind_def(r->sensor->kind);
	json_t *fields = json_object(), *tags = NULL;
	for (int i = 0; i < kd->nfields; i++) {
		if (!(r->present & (1u << i)))
			continue;
		json_object_set_new(fields, kd->fields[i].name, native_value(r, i));
		/* Each lane is its own series: as a field alone, lanes reported at the same time
		 * would overwrite one another in the store. */
		if (strcmp(kd->fields[i].name, "lane_id") == 0 && r->str[i])
			tags = json_pack("{s:s}", "lane", r->str[i]);
	}
	json_t *o = json_pack("{s:s,s:s,s:o,s:o}", "sensor_id", r->sensor->id, "kind", kd->name,
	                      "time", sim_json_time(r->ts_ns), "fields", fields);
	if (tags)
		json_object_set_new(o, "tags", tags);
	return o;
}

int sim_enc_native(const struct sim_encctx *ctx, const struct sim_reading *r, int n,
                   struct sim_msg *out)
{
	const struct sim_sensor *s = r->sensor;
	(void)ctx;
	hub_buf_printf(&out->topic, "city/%s/%s/%s", sim_kind_name(s->kind), s->district, s->id);
	if (n == 1) {
		sim_json_dump_to(native_reading(r), &out->payload);
		return HUB_OK;
	}
	json_t *arr = json_array();
	for (int i = 0; i < n; i++)
		json_array_append_new(arr, native_reading(&r[i]));
	sim_json_dump_to(json_pack("{s:o}", "readings", arr), &out->payload);
	return HUB_OK;
}
