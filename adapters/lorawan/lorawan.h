/* What The Things Stack (ttn) and ChirpStack (chirpstack) uplinks have in common: the route
 * options, the decoded-object mapping, base64 frames through Cayenne LPP, the device ids and the
 * separate `link` record of radio metadata. Each adapter describes its server's spelling in a
 * const struct hub_lorawan_dialect; the rest is here. Pure functions; options are read-only once
 * built, so any thread may use them. JSON values passed in are borrowed. */
#ifndef HUB_LORAWAN_H
#define HUB_LORAWAN_H

#include <jansson.h>
#include <stddef.h>

#include "cityhub/adapter.h"
#include "cityhub/record.h"
#include "cityhub/reject.h"

/* How one network server spells an uplink; every string is static. */
struct hub_lorawan_dialect {
	const char *const *choices; /* sensor_id: device name, then "dev_eui"; NULL-terminated */
	const char *not_object;     /* rejection detail for a payload that is not a JSON object */
	/* The member of the root that must be an object, and the rejection detail if it is not. */
	const char *envelope[2];
	int uplink_is_envelope; /* 1: the uplink object is the envelope; 0: it is the root */
	struct {
		const char *object;  /* member of the root (may be absent) */
		const char *device;  /* device name */
		const char *dev_eui; /* DevEUI */
	} ids;
	struct { /* members of the uplink object */
		const char *f_port, *f_cnt;
		const char *decoded, *frame; /* decoded object, base64 LPP frame */
	} up;
	struct {
		const char *const *sf;         /* spreading factor: path in uplink, NULL-ended */
		const char *rx;                /* uplink member: the gateway receptions array */
		const char *const *gateway_id; /* its id: path in one reception, NULL-ended */
		const char *alt_rssi;          /* a reception's rssi if it has no "rssi", or NULL */
	} radio;
	const char *const *tags;      /* the device's tags: path from the root, NULL-ended */
	const char *const *locations; /* its registered locations: path from the root, or NULL */
	/* Sets rec's time from the root and the uplink object (the frame gave none); leaving it
	 * unset means the journal receive time. HUB_EREJECT with rej filled. */
	int (*time)(const json_t *root, const json_t *up, struct hub_record *rec,
	            struct hub_reject *rej);
};

/* A route's options as the option engine fills them from hub_lorawan_options (the ttn and
 * chirpstack adapters' table): kind, channels, unmapped, fields, payload (auto | decoded | lpp),
 * link, sensor_id (one of the dialect's choices; the first is the default), device_tags (tag keys
 * taken from the device's tags; default district, site) and ports (FPort 1..223 -> {kind,
 * channels, unmapped, fields, payload}; a key a port leaves out is the route's). */
struct hub_lorawan_options {
	char *kind;                /* NULL = the route's default kind */
	json_t *channels, *fields; /* NULL = none */
	int unmapped;              /* 0 reject, 1 skip */
	int payload;               /* 0 auto, 1 decoded, 2 lpp */
	int link;
	char *sensor_id;     /* NULL = the dialect's first choice */
	json_t *device_tags; /* NULL = district, site */
	json_t *ports;       /* NULL = none */
};

extern const struct hub_opt_table hub_lorawan_options;

/* The adapter init of dialect d: builds the route's options (struct hub_lorawan_options,
 * borrowed) into *state (NULL on error, with a message in err). Free with
 * hub_lorawan_opts_free. */
int hub_lorawan_init(const struct hub_lorawan_dialect *d, const void *opts, void **state,
                     char *err, size_t errlen);

/* Frees options built by hub_lorawan_init; NULL is a no-op. */
void hub_lorawan_opts_free(void *opts);

/* The adapter decode: one reading from the decoded object or the LPP frame, plus the link record
 * unless the route says link: false. HUB_EREJECT with rej filled. */
int hub_lorawan_decode(const struct hub_msg *msg, const void *state, struct hub_recset *out,
                       struct hub_reject *rej);

/* Sets rec's time from an RFC 3339 string value; absent (NULL) leaves it unset. bad_time else. */
int hub_lorawan_time(const json_t *v, struct hub_record *rec, struct hub_reject *rej);

#endif
