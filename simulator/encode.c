#include "encode.h"

#include "enc_int.h"
#include "simtime.h"

#include <math.h>
#include <stdio.h>

static const struct sim_encoder encoders[SIM_FMT_COUNT] = {
    [SIM_FMT_NATIVE] = {SIM_FMT_NATIVE, sim_enc_native, 1},
    [SIM_FMT_SENML] = {SIM_FMT_SENML, sim_enc_senml, 0},
    [SIM_FMT_TTN] = {SIM_FMT_TTN, sim_enc_ttn, 0},
    [SIM_FMT_CHIRPSTACK] = {SIM_FMT_CHIRPSTACK, sim_enc_chirpstack, 0},
    [SIM_FMT_NGSILD] = {SIM_FMT_NGSILD, sim_enc_ngsild, 0},
};

const struct sim_encoder *sim_encoder_get(enum sim_format f)
{
	return &encoders[f];
}

int sim_sensor_uses_lpp(const struct sim_sensor *s)
{
	return (s->format == SIM_FMT_TTN || s->format == SIM_FMT_CHIRPSTACK) && !s->decoded;
}

void sim_msg_clear(struct sim_msg *m)
{
	hub_buf_clear(&m->topic);
	hub_buf_clear(&m->payload);
}

void sim_msg_fini(struct sim_msg *m)
{
	hub_buf_fini(&m->topic);
	hub_buf_fini(&m->payload);
}

void sim_msg_copy(struct sim_msg *dst, const struct sim_msg *src)
{
	sim_msg_clear(dst);
	hub_buf_append(&dst->topic, src->topic.data, src->topic.len);
	hub_buf_append(&dst->payload, src->payload.data, src->payload.len);
}

json_t *sim_json_field(const struct sim_reading *r, int idx, double scale)
{
	const struct sim_fielddef *f = &sim_kind_def(r->sensor->kind)->fields[idx];
	switch (f->type) {
	case SIM_VT_INT:
		return json_integer((json_int_t)llround(r->v[idx]));
	case SIM_VT_BOOL:
		return json_boolean(r->v[idx] != 0);
	case SIM_VT_STR:
		return json_string(r->str[idx] ? r->str[idx] : "");
	case SIM_VT_NUM:
		break;
	}
	int extra = scale != 1 ? (int)ceil(-log10(scale)) : 0;
	int dec = f->decimals + (extra > 0 ? extra : 0);
	return json_real(sim_round(r->v[idx] * scale, dec));
}

void sim_json_dump_to(json_t *root, struct hub_buf *out)
{
	char *s = json_dumps(root, JSON_COMPACT | JSON_REAL_PRECISION(15));
	if (s)
		hub_buf_puts(out, s);
	free(s);
	json_decref(root);
}

json_t *sim_json_time(int64_t ns)
{
	char buf[48];
	sim_time_format(ns, 3, buf, sizeof(buf));
	return json_string(buf);
}

void sim_base64(const unsigned char *p, size_t n, struct hub_buf *out)
{
	static const char tab[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	for (size_t i = 0; i < n; i += 3) {
		unsigned v = (unsigned)p[i] << 16;
		if (i + 1 < n)
			v |= (unsigned)p[i + 1] << 8;
		if (i + 2 < n)
			v |= p[i + 2];
		char q[4] = {tab[(v >> 18) & 63], tab[(v >> 12) & 63],
		             i + 1 < n ? tab[(v >> 6) & 63] : '=', i + 2 < n ? tab[v & 63] : '='};
		hub_buf_append(out, q, 4);
	}
	if (n == 0)
		hub_buf_puts(out, "");
}

json_t *sim_json_object_of(const struct sim_reading *r)
{
	const struct sim_kinddef *kd = sim_kind_def(r->sensor->kind);
	json_t *obj = json_object();
	for (int i = 0; i < kd->nfields; i++)
		if (r->present & (1u << i))
			json_object_set_new(obj, kd->fields[i].name, sim_json_field(r, i, 1));
	return obj;
}

json_t *sim_json_uuid(struct sim_rng *rng)
{
	uint64_t a = sim_rng_next(rng), b = sim_rng_next(rng);
	char buf[40];
	snprintf(buf, sizeof(buf), "%08llx-%04llx-4%03llx-%04llx-%012llx",
	         (unsigned long long)(a >> 32), (unsigned long long)((a >> 16) & 0xffff),
	         (unsigned long long)(a & 0xfff),
	         (unsigned long long)(0x8000 | ((b >> 48) & 0x3fff)),
	         (unsigned long long)(b & 0xffffffffffffULL));
	return json_string(buf);
}
