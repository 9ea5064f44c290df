/* NGSI-LD entities in normalized form, with FIWARE Smart Data Models attribute names. */
#include "enc_int.h"

#include "cityhub/error.h"

#include <stdio.h>

#define NGSI_CONTEXT "https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context.jsonld"

static json_t *property(const struct sim_reading *r, int idx)
{
	const struct sim_ngsi_attr *f = &sim_kind_def(r->sensor->kind)->ngsi[idx];
	json_t *p =
	    json_pack("{s:s,s:o}", "type", "Property", "value", sim_json_field(r, idx, f->scale));
	if (f->unit)
		json_object_set_new(p, "unitCode", json_string(f->unit));
	return p;
}

int sim_enc_ngsild(const struct sim_encctx *ctx, const struct sim_reading *r, int n,
                   struct sim_msg *out)
{
	const struct sim_sensor *s = r->sensor;
	const struct sim_kinddef *kd = sim_kind_def(s->kind);
	char id[300];
	(void)ctx;
	if (n != 1)
		return HUB_EINVAL;
	hub_buf_printf(&out->topic, "ngsi/%s/%s", s->district, s->id);
	snprintf(id, sizeof(id), "urn:ngsi-ld:%s:%s", kd->ngsi_type, s->id);
	json_t *e =
	    json_pack("{s:s,s:s,s:{s:s,s:{s:s,s:o}},s:{s:s,s:{s:s,s:[f,f]}}}", "id", id, "type",
	              kd->ngsi_type, "dateObserved", "type", "Property", "value", "@type",
	              "DateTime", "@value", sim_json_time(r->ts_ns), "location", "type",
	              "GeoProperty", "value", "type", "Point", "coordinates", s->lon, s->lat);
	for (int i = 0; i < kd->nfields; i++) /* a field FIWARE does not name is not sent */
		if ((r->present & (1u << i)) && kd->ngsi[i].attr)
			json_object_set_new(e, kd->ngsi[i].attr, property(r, i));
	json_object_set_new(e, "@context", json_string(NGSI_CONTEXT));
	sim_json_dump_to(e, &out->payload);
	return HUB_OK;
}
