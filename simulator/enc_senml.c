/* RFC 8428 SenML JSON: one pack per reading, base name "urn:dev:<id>:", base time in
 * seconds, one record per field with SenML units. */
#include "enc_int.h"

#include "cityhub/error.h"

#include <math.h>

/* Adds the n/u/v (or vs, vb) members of field idx to rec. */
static void senml_fill(json_t *rec, const struct sim_reading *r, int idx)
{
	const struct sim_fielddef *f = &sim_kind_def(r->sensor->kind)->fields[idx];
	json_object_set_new(rec, "n", json_string(f->name));
	if (f->senml_unit)
		json_object_set_new(rec, "u", json_string(f->senml_unit));
	const char *key = f->type == SIM_VT_STR ? "vs" : f->type == SIM_VT_BOOL ? "vb" : "v";
	json_object_set_new(rec, key, sim_json_field(r, idx, f->senml_scale));
}

int sim_enc_senml(const struct sim_encctx *ctx, const struct sim_reading *r, int n,
                  struct sim_msg *out)
{
	const struct sim_sensor *s = r->sensor;
	const struct sim_kinddef *kd = sim_kind_def(s->kind);
	char bn[300];
	json_t *pack = json_array();
	(void)ctx;
	if (n != 1)
		return HUB_EINVAL;
	hub_buf_printf(&out->topic, "senml/%s/%s", s->district, s->id);
	snprintf(bn, sizeof(bn), "urn:dev:%s:", s->id);
	for (int i = 0; i < kd->nfields; i++) {
		if (!(r->present & (1u << i)))
			continue;
		json_t *rec = json_object();
		if (json_array_size(pack) == 0) {
			json_object_set_new(rec, "bn", json_string(bn));
			json_object_set_new(rec, "bt",
			                    json_real(sim_round((double)r->ts_ns / 1e9, 3)));
		}
		senml_fill(rec, r, i);
		json_array_append_new(pack, rec);
	}
	sim_json_dump_to(pack, &out->payload);
	return HUB_OK;
}
