/* Internals shared by the enc_*.c files. */
#ifndef SIM_ENC_INT_H
#define SIM_ENC_INT_H

#include "encode.h"

int sim_enc_native(const struct sim_encctx *ctx, const struct sim_reading *r, int n,
                   struct sim_msg *out);
int sim_enc_senml(const struct sim_encctx *ctx, const struct sim_reading *r, int n,
                  struct sim_msg *out);
int sim_enc_ttn(const struct sim_encctx *ctx, const struct sim_reading *r, int n,
                struct sim_msg *out);
int sim_enc_chirpstack(const struct sim_encctx *ctx, const struct sim_reading *r, int n,
                       struct sim_msg *out);
int sim_enc_ngsild(const struct sim_encctx *ctx, const struct sim_reading *r, int n,
                   struct sim_msg *out);

/* Radio metadata of one LoRaWAN uplink. */
struct sim_radio {
	int rssi;
	double snr;
	int sf;
	unsigned frequency_hz;
};

/* Draws plausible radio metadata for sensor s from ctx->rng. */
void sim_lora_radio(const struct sim_encctx *ctx, const struct sim_sensor *s,
                    struct sim_radio *out);
/* Builds the uplink's application payload: the LPP frame in base64 into *b64 (new JSON
 * string) unless the sensor is `decoded`, then the object into *obj. HUB_ERANGE when a
 * value does not fit LPP. */
int sim_lora_payload(const struct sim_encctx *ctx, const struct sim_reading *r, json_t **b64,
                     json_t **obj);
/* Writes a 32-bit device address derived from the sensor id ("260B" + 4 hex). */
void sim_lora_devaddr(const struct sim_sensor *s, char *buf, size_t len);

#endif
