/* Counters of one simulator run and the JSON summary printed at exit. */
#ifndef SIM_STATS_H
#define SIM_STATS_H

#include "simtypes.h"

#include <jansson.h>
#include <stdint.h>

/* Hub reject reasons a regular fault leads to (see cityhub/reject.h). */
enum sim_reject {
	SIM_REJ_BAD_JSON,
	SIM_REJ_TRUNCATED,
	SIM_REJ_TOO_LARGE,
	SIM_REJ_OUT_OF_RANGE,
	SIM_REJ_COUNT
};

struct sim_stats {
	uint64_t samples;  /* sensor samples taken */
	uint64_t readings; /* readings in them */
	uint64_t messages; /* messages published, hostile and duplicates included */
	uint64_t bytes;    /* payload bytes published */
	uint64_t by_kind[SIM_KIND_COUNT];
	uint64_t by_format[SIM_FMT_COUNT];
	uint64_t hostile;
	uint64_t faults[SIM_FAULT_COUNT];
	uint64_t rejects[SIM_REJ_COUNT]; /* published messages the hub should reject, by reason */
	uint64_t encode_errors;
	uint64_t publish_errors;
};

/* Returns the hub reason token for r ("bad_json", "truncated", "too_large", "out_of_range"). */
const char *sim_reject_name(enum sim_reject r);

/* Returns the summary object (new reference): messages by kind and format, faults by type,
 * expected rejects by reason. */
json_t *sim_stats_json(const struct sim_stats *st);

#endif
