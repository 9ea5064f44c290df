/* The hostile gateway: messages built to break a naive hub (line-protocol injection,
 * invalid UTF-8, NUL bytes, bad numbers, deep nesting, oversize payloads, empty topic
 * levels). Each call yields the next one, cycling through types and their variants. */
#ifndef SIM_HOSTILE_H
#define SIM_HOSTILE_H

#include "encode.h"
#include "simtypes.h"

#include <stdint.h>

struct sim_hostile {
	uint64_t n;                         /* messages made so far */
	uint32_t per_type[SIM_FAULT_COUNT]; /* variant counters */
	size_t oversize_bytes;              /* size of oversize payloads */
};

/* Builds the next hostile message at simulated time t into out (cleared first) and returns
 * its type (one of SIM_FAULT_INJECTION .. SIM_FAULT_EMPTY_TOPIC_LEVEL). */
enum sim_fault sim_hostile_next(struct sim_hostile *h, int64_t t_ns, struct sim_msg *out);

/* Returns the number of variants of hostile type t. */
int sim_hostile_variants(enum sim_fault t);

#endif
