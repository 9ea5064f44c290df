#include "lpp.h"

#include "cityhub/error.h"

#include <math.h>
#include <stdint.h>

struct lpp_info {
	enum sim_lpp_type type;
	int size;
	double mult; /* raw = round(value * mult) */
	int is_signed;
};

static const struct lpp_info infos[] = {
    {SIM_LPP_DIGITAL_IN, 1, 1, 0},   {SIM_LPP_ANALOG_IN, 2, 100, 1}, {SIM_LPP_GENERIC, 4, 1, 0},
    {SIM_LPP_TEMPERATURE, 2, 10, 1}, {SIM_LPP_HUMIDITY, 1, 200, 0},  {SIM_LPP_BAROMETER, 2, 10, 0},
    {SIM_LPP_DIRECTION, 2, 1, 0},
};

static const struct lpp_info *info_of(enum sim_lpp_type t)
{
	for (size_t i = 0; i < sizeof(infos) / sizeof(infos[0]); i++)
		if (infos[i].type == t)
			return &infos[i];
	return NULL;
}

int sim_lpp_size(enum sim_lpp_type t)
{
	const struct lpp_info *in = info_of(t);
	return in ? in->size : 0;
}

/* Scales v and checks it against the type's integer range. */
static int to_raw(const struct lpp_info *in, double v, int64_t *raw)
{
	double x = round(v * in->mult);
	double bits = in->size * 8.0;
	double lo = in->is_signed ? -ldexp(1, (int)bits - 1) : 0;
	double hi = in->is_signed ? ldexp(1, (int)bits - 1) - 1 : ldexp(1, (int)bits) - 1;
	if (!(x >= lo && x <= hi))
		return HUB_ERANGE;
	*raw = (int64_t)x;
	return HUB_OK;
}

int sim_lpp_fits(enum sim_lpp_type t, double v)
{
	const struct lpp_info *in = info_of(t);
	int64_t raw;
	return in && to_raw(in, v, &raw) == HUB_OK;
}

int sim_lpp_add(struct hub_buf *out, unsigned channel, enum sim_lpp_type t, double v)
{
	const struct lpp_info *in = info_of(t);
	unsigned char frame[2 + 4];
	int64_t raw;
	if (!in || channel > 255)
		return HUB_EINVAL;
	if (to_raw(in, v, &raw))
		return HUB_ERANGE;
	uint64_t u = (uint64_t)raw;
	frame[0] = (unsigned char)channel;
	frame[1] = (unsigned char)t;
	for (int i = 0; i < in->size; i++)
		frame[2 + i] = (unsigned char)(u >> (8 * (in->size - 1 - i)));
	hub_buf_append(out, frame, (size_t)(2 + in->size));
	return HUB_OK;
}

int sim_lpp_encode(const struct sim_reading *r, struct hub_buf *out)
{
	const struct sim_kinddef *kd = sim_kind_def(r->sensor->kind);
	for (int i = 0; i < kd->nfields; i++) {
		if (!(r->present & (1u << i)) || kd->fields[i].lpp == SIM_LPP_NONE)
			continue;
		int rc = sim_lpp_add(out, (unsigned)i + 1, kd->fields[i].lpp, r->v[i]);
		if (rc)
			return rc;
	}
	return HUB_OK;
}
