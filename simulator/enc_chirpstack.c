/* ChirpStack v4 uplink event, as published on application/<app>/device/<devEui>/event/up. */
#include "enc_int.h"

#include "cityhub/error.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

static void lower(const char *in, char *out, size_t len)
{
	size_t i = 0;
	for (; in[i] && i + 1 < len; i++)
		out[i] = (char)tolower((unsigned char)in[i]);
	out[i] = '\0';
}

static json_t *cs_device_info(const struct sim_encctx *ctx, const struct sim_sensor *s,
                              const char *eui)
{
	char profile[64];
	snprintf(profile, sizeof(profile), "%s-%s", sim_kind_name(s->kind),
	         s->decoded ? "codec" : "cayenne-lpp");
	return json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:{s:s,s:s}}", "tenantId",
	                 ctx->sc->lorawan.chirpstack_tenant_id, "tenantName", "My Tho",
	                 "applicationId", ctx->sc->lorawan.chirpstack_app_id, "applicationName",
	                 ctx->sc->network, "deviceProfileName", profile, "deviceName", s->id,
	                 "devEui", eui, "deviceClassEnabled", "CLASS_A", "tags", "district",
	                 s->district, "kind", sim_kind_name(s->kind));
}

static json_t *cs_rx_info(const struct sim_encctx *ctx, const struct sim_sensor *s,
                          const struct sim_radio *rad)
{
	char gw[24];
	snprintf(gw, sizeof(gw), "%016llx", (unsigned long long)sim_hash_str(s->gateway));
	json_t *rx = json_pack(
	    "{s:s,s:s,s:I,s:i,s:f,s:i,s:s}", "gatewayId", gw, "gatewayName", s->gateway, "uplinkId",
	    (json_int_t)(sim_rng_next(ctx->rng) & 0xffffffULL), "rssi", rad->rssi, "snr", rad->snr,
	    "channel", (int)((rad->frequency_hz / 200000) % 8), "crcStatus", "CRC_OK");
	return json_pack("[o]", rx);
}

static json_t *cs_tx_info(const struct sim_radio *rad)
{
	return json_pack("{s:I,s:{s:{s:i,s:i,s:s}}}", "frequency", (json_int_t)rad->frequency_hz,
	                 "modulation", "lora", "bandwidth", 125000, "spreadingFactor", rad->sf,
	                 "codeRate", "CR_4_5");
}

int sim_enc_chirpstack(const struct sim_encctx *ctx, const struct sim_reading *r, int n,
                       struct sim_msg *out)
{
	const struct sim_sensor *s = r->sensor;
	struct sim_radio rad;
	json_t *b64, *obj;
	char eui[24], addr[16], addr_l[16];
	if (n != 1)
		return HUB_EINVAL;
	int rc = sim_lora_payload(ctx, r, &b64, &obj);
	if (rc)
		return rc;
	sim_lora_radio(ctx, s, &rad);
	lower(s->dev_eui, eui, sizeof(eui));
	sim_lora_devaddr(s, addr, sizeof(addr));
	lower(addr, addr_l, sizeof(addr_l));
	hub_buf_printf(&out->topic, "application/%s/device/%s/event/up",
	               ctx->sc->lorawan.chirpstack_app_id, eui);
	json_t *root = json_pack("{s:o,s:o,s:o,s:s,s:b,s:i,s:I,s:i,s:b}", "deduplicationId",
	                         sim_json_uuid(ctx->rng), "time", sim_json_time(r->ts_ns),
	                         "deviceInfo", cs_device_info(ctx, s, eui), "devAddr", addr_l,
	                         "adr", 1, "dr", 12 - rad.sf, "fCnt", (json_int_t)ctx->f_cnt,
	                         "fPort", sim_kind_def(s->kind)->f_port, "confirmed", 0);
	if (b64)
		json_object_set_new(root, "data", b64);
	else
		json_object_set_new(root, "object", obj);
	json_object_set_new(root, "rxInfo", cs_rx_info(ctx, s, &rad));
	json_object_set_new(root, "txInfo", cs_tx_info(&rad));
	sim_json_dump_to(root, &out->payload);
	return HUB_OK;
}
