/* What The Things Stack and ChirpStack uplinks share: radio metadata and the application
 * payload (Cayenne LPP frame or decoded object). */
#include "enc_int.h"

#include "cityhub/error.h"
#include "lpp.h"

#include <math.h>
#include <stdio.h>

void sim_lora_radio(const struct sim_encctx *ctx, const struct sim_sensor *s, struct sim_radio *out)
{
	static const unsigned channels[] = {923200000, 923400000, 922200000, 922400000,
	                                    922600000, 922800000, 923000000, 922000000};
	/* Each device has a fixed link budget from its id; fading varies per uplink. */
	double base = -78.0 - (double)(sim_hash_str(s->id) % 36);
	double rssi = base + 2.5 * sim_rng_normal(ctx->rng);
	double snr = 9.5 + (base + 78.0) * -0.45 + sim_rng_normal(ctx->rng);
	out->rssi = (int)lround(rssi);
	out->snr = round(fmax(-20.0, fmin(12.0, snr)) * 4.0) / 4.0;
	out->sf = base > -95 ? 7 : base > -105 ? 9 : 10;
	out->frequency_hz = channels[sim_rng_below(ctx->rng, 8)];
}

int sim_lora_payload(const struct sim_encctx *ctx, const struct sim_reading *r, json_t **b64,
                     json_t **obj)
{
	struct hub_buf frame = {0}, text = {0};
	*b64 = NULL;
	*obj = NULL;
	if (r->sensor->decoded) {
		*obj = sim_json_object_of(r);
		return HUB_OK;
	}
	int rc = sim_lpp_encode(r, &frame);
	if (rc == HUB_OK && ctx->truncate_lpp && frame.len > 2) {
		/* Drop 1..3 bytes: the frame then ends inside a value or a header. */
		size_t cut = 1 + sim_rng_below(ctx->rng, 3);
		frame.len -= cut < frame.len - 1 ? cut : frame.len - 1;
	}
	if (rc == HUB_OK) {
		sim_base64((const unsigned char *)frame.data, frame.len, &text);
		*b64 = json_string(text.data);
	}
	hub_buf_fini(&frame);
	hub_buf_fini(&text);
	return rc;
}

void sim_lora_devaddr(const struct sim_sensor *s, char *buf, size_t len)
{
	snprintf(buf, len, "260B%04X", (unsigned)((sim_hash_str(s->id) >> 24) & 0xffff));
}
