/* The cityhub native format:
 * {"sensor_id":..,"kind":..,"time":..,"fields":{name: value | {"value":v,"unit":u}}},
 * or {"readings":[...]} for several readings in one message. */
#include "enc_int.h"

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
	json_t *fields = json_object();
	for (int i = 0; i < kd->nfields; i++)
		if (r->present & (1u << i))
			json_object_set_new(fields, kd->fields[i].name, native_value(r, i));
	return json_pack("{s:s,s:s,s:o,s:o}", "sensor_id", r->sensor->id, "kind", kd->name, "time",
	                 sim_json_time(r->ts_ns), "fields", fields);
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
