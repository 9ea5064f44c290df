/* The Things Stack v3 uplink message, as published on v3/<app>@ttn/devices/<id>/up. */
#include "enc_int.h"

#include "cityhub/error.h"

#include <stdio.h>

static json_t *ttn_rx_metadata(const struct sim_sensor *s, const struct sim_radio *rad,
                               json_t *time, struct sim_rng *rng)
{
	json_t *gw =
	    json_pack("{s:{s:s},s:o,s:I,s:i,s:i,s:f}", "gateway_ids", "gateway_id", s->gateway,
	              "time", time, "timestamp", (json_int_t)(sim_rng_next(rng) & 0xffffffffULL),
	              "rssi", rad->rssi, "channel_rssi", rad->rssi, "snr", rad->snr);
	return json_pack("[o]", gw);
}

static json_t *ttn_settings(const struct sim_radio *rad)
{
	char freq[16];
	snprintf(freq, sizeof(freq), "%u", rad->frequency_hz);
	return json_pack("{s:{s:{s:i,s:i,s:s}},s:s}", "data_rate", "lora", "bandwidth", 125000,
	                 "spreading_factor", rad->sf, "coding_rate", "4/5", "frequency", freq);
}

int sim_enc_ttn(const struct sim_encctx *ctx, const struct sim_reading *r, int n,
                struct sim_msg *out)
{
	const struct sim_sensor *s = r->sensor;
	struct sim_radio rad;
	json_t *b64, *obj;
	char addr[16];
	if (n != 1)
		return HUB_EINVAL;
	int rc = sim_lora_payload(ctx, r, &b64, &obj);
	if (rc)
		return rc;
	sim_lora_radio(ctx, s, &rad);
	sim_lora_devaddr(s, addr, sizeof(addr));
	hub_buf_printf(&out->topic, "v3/%s@ttn/devices/%s/up", ctx->sc->network, s->id);
	json_t *up = json_pack("{s:i,s:I}", "f_port", sim_kind_def(s->kind)->f_port, "f_cnt",
	                       (json_int_t)ctx->f_cnt);
	if (b64)
		json_object_set_new(up, "frm_payload", b64);
	else
		json_object_set_new(up, "decoded_payload", obj);
	json_object_set_new(up, "rx_metadata",
	                    ttn_rx_metadata(s, &rad, sim_json_time(r->ts_ns), ctx->rng));
	json_object_set_new(up, "settings", ttn_settings(&rad));
	json_object_set_new(up, "received_at", sim_json_time(r->ts_ns));
	json_object_set_new(up, "locations",
	                    json_pack("{s:{s:f,s:f,s:s}}", "user", "latitude", s->lat, "longitude",
	                              s->lon, "source", "SOURCE_REGISTRY"));
	json_t *root = json_pack("{s:{s:s,s:{s:s},s:s,s:s},s:o,s:o}", "end_device_ids", "device_id",
	                         s->id, "application_ids", "application_id", ctx->sc->network,
	                         "dev_eui", s->dev_eui, "dev_addr", addr, "received_at",
	                         sim_json_time(r->ts_ns), "uplink_message", up);
	sim_json_dump_to(root, &out->payload);
	return HUB_OK;
}
