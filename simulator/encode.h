/* Payload encoders, one per gateway format, behind one table. An encoder turns readings of
 * one sensor into one MQTT message (topic + payload bytes); it never logs. */
#ifndef SIM_ENCODE_H
#define SIM_ENCODE_H

#include "cityhub/buf.h"
#include "model.h"
#include "prng.h"
#include "scenario.h"

#include <jansson.h>
#include <stdint.h>

/* One MQTT message; the payload may hold any bytes (hostile messages carry NULs). */
struct sim_msg {
	struct hub_buf topic;
	struct hub_buf payload;
};

struct sim_encctx {
	const struct sim_scenario *sc;
	uint32_t f_cnt;      /* LoRaWAN frame counter of this uplink */
	struct sim_rng *rng; /* radio metadata and ids */
	int truncate_lpp;    /* fault: cut the LPP frame inside its last value */
};

typedef int (*sim_encode_fn)(const struct sim_encctx *ctx, const struct sim_reading *r, int n,
                             struct sim_msg *out);

struct sim_encoder {
	enum sim_format format;
	sim_encode_fn encode; /* HUB_OK, or HUB_ERANGE when a value cannot be encoded */
	int batches;          /* 1: takes n >= 1 readings in one message; 0: exactly one */
};

/* Returns the encoder of format f. */
const struct sim_encoder *sim_encoder_get(enum sim_format f);

/* Returns 1 when messages of sensor s carry a Cayenne LPP frame. */
int sim_sensor_uses_lpp(const struct sim_sensor *s);

/* Empties a message (keeps memory); frees one. */
void sim_msg_clear(struct sim_msg *m);
void sim_msg_fini(struct sim_msg *m);
/* Copies src into dst. */
void sim_msg_copy(struct sim_msg *dst, const struct sim_msg *src);

/* Encoder helpers shared by the enc_*.c files. */

/* Returns field idx of r as a new JSON value in the canonical unit (scaled by scale). */
json_t *sim_json_field(const struct sim_reading *r, int idx, double scale);
/* Dumps root compactly into out (appending) and decrefs it. */
void sim_json_dump_to(json_t *root, struct hub_buf *out);
/* Returns r's time as a new JSON string, RFC 3339 UTC with milliseconds. */
json_t *sim_json_time(int64_t ns);
/* Appends the standard base64 encoding of n bytes to out. */
void sim_base64(const unsigned char *p, size_t n, struct hub_buf *out);
/* Returns the decoded object of r (canonical names and units) as a new JSON object. */
json_t *sim_json_object_of(const struct sim_reading *r);
/* Returns a deterministic UUID string (version-4 layout) drawn from rng, as new JSON. */
json_t *sim_json_uuid(struct sim_rng *rng);

#endif
