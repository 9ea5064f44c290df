/* What The Things Stack (ttn) and ChirpStack (chirpstack) uplinks have in common: the route
 * options, the decoded-object mapping, base64 frames through Cayenne LPP, and the separate
 * `link` record of radio metadata. Pure functions; options are read-only once built, so any
 * thread may use them. JSON values passed in are borrowed. */
#ifndef HUB_LORAWAN_H
#define HUB_LORAWAN_H

#include <jansson.h>
#include <stddef.h>

#include "cityhub/record.h"
#include "cityhub/reject.h"
#include "lpp_decode.h"

#define HUB_LORAWAN_MAX_GATEWAYS 100 /* receptions one uplink may list */

enum hub_lorawan_source { HUB_LORAWAN_AUTO, HUB_LORAWAN_DECODED, HUB_LORAWAN_LPP };

struct hub_lorawan_key {
	char *key;   /* key path in the decoded object ("a.b" for nested objects) */
	char *field; /* canonical field name; NULL = drop the key */
	char *unit;  /* unit as sent, or NULL */
};

struct hub_lorawan_opts {
	char *kind;                   /* NULL = the route's default kind */
	struct hub_lpp_map *map;      /* channels and unmapped */
	struct hub_lorawan_key *keys; /* the `fields` option */
	size_t nkeys;
	enum hub_lorawan_source source; /* the `payload` option */
	int link;                       /* emit the link record (default 1) */
	int sensor_choice; /* index into the adapter's sensor_id choices (0 = default) */
	/* The `ports` option: 256 entries indexed by FPort, each owned (NULL = port not mapped);
	 * NULL when the route has no ports map. */
	struct hub_lorawan_opts **ports;
};

/* Radio metadata of one uplink, gathered by the adapter. Strings are borrowed. */
struct hub_lorawan_link {
	const char *gateway; /* id of the gateway with the strongest RSSI, or NULL */
	size_t gateways;     /* distinct gateways that heard the uplink */
	int has_rssi, has_snr, has_sf;
	double rssi, snr;
	json_int_t f_cnt, f_port, sf;
};

/* Builds the options of a route: kind, channels, unmapped, fields, payload (auto | decoded |
 * lpp), link (bool), sensor_id (one of choices, NULL-terminated; the first is the default), and
 * ports (FPort 1..223 -> {kind, channels, unmapped, fields, payload}; a key a port leaves out is
 * the route's). NULL with a message in err on a bad option. Free with hub_lorawan_opts_free. */
struct hub_lorawan_opts *hub_lorawan_opts_new(const json_t *options, const char *const *choices,
                                              char *err, size_t errlen);

/* Frees options; NULL is a no-op. */
void hub_lorawan_opts_free(void *opts);

/* Sets *out to the options an uplink on FPort fport is read with: o itself when the route has no
 * ports map, else the map's entry (borrowed from o). HUB_EREJECT (unsupported) when the map has
 * no entry for fport. */
int hub_lorawan_port(const struct hub_lorawan_opts *o, json_int_t fport,
                     const struct hub_lorawan_opts **out, struct hub_reject *rej);

/* Follows object keys from v (NULL-terminated list); NULL when a step is missing or v is not an
 * object at that step. */
const json_t *hub_lorawan_dig(const json_t *v, ...) __attribute__((sentinel));

/* Fills rec's fields from the decoded object (may be NULL) or else the base64 LPP frame (may be
 * NULL), as options say. HUB_EREJECT with rej filled (bad_format, empty, bad_type, too_many and
 * every LPP reason). */
int hub_lorawan_reading(const struct hub_lorawan_opts *o, const json_t *decoded,
                        const json_t *frame, struct hub_recset *rs, struct hub_record *rec,
                        struct hub_reject *rej);

/* Sets rec's time from an RFC 3339 string value; absent (NULL) leaves it unset. bad_time else. */
int hub_lorawan_time(const json_t *v, struct hub_record *rec, struct hub_reject *rej);

/* Normalises a DevEUI (16 hex digits) to lower case into out; absent (NULL) gives "". */
int hub_lorawan_dev_eui(const json_t *v, char out[17], struct hub_reject *rej);

/* Reads an optional integer member; absent = 0 (LoRaWAN servers omit zero values). */
int hub_lorawan_int(const json_t *obj, const char *key, json_int_t *out, struct hub_reject *rej);

/* Reads an optional string member into *out (borrowed; NULL when absent). bad_format else. */
int hub_lorawan_string(const json_t *obj, const char *key, const char **out,
                       struct hub_reject *rej);

/* Folds the receptions array (may be NULL) into l: id at id_path under each entry, rssi at
 * rssi_key (or alt_rssi_key), snr at "snr". Keeps the strongest RSSI and its SNR and gateway. */
int hub_lorawan_gateways(const json_t *arr, const char *const *id_path, const char *rssi_key,
                         const char *alt_rssi_key, struct hub_lorawan_link *l,
                         struct hub_reject *rej);

/* Appends the kind "link" record for the reading at index reading (same sensor, time and
 * dev_eui tag). HUB_EREJECT (too_many) when the set is full. */
int hub_lorawan_add_link(struct hub_recset *rs, size_t reading, const struct hub_lorawan_link *l,
                         struct hub_reject *rej);

#endif
