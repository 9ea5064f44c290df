/* Cayenne LPP (Low Power Payload): the frame decoder and the per-route channel map, shared by
 * the lpp, ttn and chirpstack adapters. Pure functions, no I/O. A map is read-only once built,
 * so any thread may decode with it. */
#ifndef HUB_LPP_DECODE_H
#define HUB_LPP_DECODE_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "cityhub/record.h"
#include "cityhub/reject.h"

#define HUB_LPP_MAX_VALUES 3

/* One data item of a frame (channel, type, values), already scaled to the unit of its type. */
struct hub_lpp_item {
	uint8_t channel;
	uint8_t type;
	const char *type_name;                  /* e.g. "temperature" (static) */
	enum hub_ftype ftype;                   /* HUB_FT_DOUBLE, HUB_FT_INT or HUB_FT_BOOL */
	size_t nvals;                           /* 1, or 3 (x/y/z, lat/lon/alt, r/g/b) */
	double vals[HUB_LPP_MAX_VALUES];        /* integers are exact (at most 32 bits) */
	const char *units[HUB_LPP_MAX_VALUES];  /* unit of each value (static); NULL = none */
	const char *suffix[HUB_LPP_MAX_VALUES]; /* "_x", "_lat"...; NULL when nvals is 1 */
};

struct hub_lpp_map;

/* Decodes the item starting at *pos of buf (len bytes, never read past) into out and advances
 * *pos. HUB_OK; HUB_ENOENT when *pos is at the end; HUB_EREJECT with rej filled for a frame that
 * ends inside an item (truncated) or an unknown type (unsupported). */
int hub_lpp_next(const uint8_t *buf, size_t len, size_t *pos, struct hub_lpp_item *out,
                 struct hub_reject *rej);

/* Builds a channel map from a route's `channels` option (borrowed; NULL = none): an object of
 * channel number -> field name | {field, unit} | {fields: [...], unit} | null = drop;
 * skip_unmapped is the `unmapped` option (0 reject, 1 skip). NULL with a message in err on a
 * bad entry. Free with hub_lpp_map_free. */
struct hub_lpp_map *hub_lpp_map_build(const json_t *channels, int skip_unmapped, char *err,
                                      size_t errlen);

/* The values of the `unmapped` option, in the order hub_lpp_map_build counts them. */
extern const char *const hub_lpp_unmapped_names[];

/* Frees a map; NULL is a no-op. */
void hub_lpp_map_free(struct hub_lpp_map *m);

/* Returns 1 when the route said `unmapped: skip`. */
int hub_lpp_map_skips_unmapped(const struct hub_lpp_map *m);

/* Decodes the whole frame buf (len bytes) into rec through m: one field per mapped value, with
 * the unit its LPP type fixes (or the map's unit for unit-less types). A channel mapped to
 * "time" sets rec's timestamp. Fields are allocated from rs. HUB_EREJECT with rej filled:
 * truncated, unsupported, unknown_field (channel not in the map), bad_unit, bad_format,
 * bad_time, out_of_range, too_many. An empty frame adds nothing and succeeds. */
int hub_lpp_decode(const struct hub_lpp_map *m, const uint8_t *buf, size_t len,
                   struct hub_recset *rs, struct hub_record *rec, struct hub_reject *rej);

#endif
