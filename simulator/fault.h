/* Fault injection into the regular message stream. Each sensor has its own fault random
 * stream, so fault draws never disturb the signal models. Low-level: never logs. */
#ifndef SIM_FAULT_H
#define SIM_FAULT_H

#include "cityhub/buf.h"
#include "model.h"
#include "prng.h"
#include "scenario.h"
#include "simtypes.h"

#include <stdint.h>

#define SIM_FAULT_BIT(f) (1u << (f))

/* Faults that make the hub reject a message; at most one of them hits a message. */
#define SIM_FAULT_REJECTING                                                                        \
	(SIM_FAULT_BIT(SIM_FAULT_OUT_OF_RANGE) | SIM_FAULT_BIT(SIM_FAULT_MALFORMED_JSON) |         \
	 SIM_FAULT_BIT(SIM_FAULT_TRUNCATED_LPP) | SIM_FAULT_BIT(SIM_FAULT_OVERSIZE))

struct sim_faults;

/* Creates the fault state of sc (which must outlive it). Free with sim_faults_free. */
struct sim_faults *sim_faults_new(const struct sim_scenario *sc);
/* Frees f; NULL is a no-op. */
void sim_faults_free(struct sim_faults *f);

/* Returns sensor s's own random stream for faults and encoder metadata. */
struct sim_rng *sim_faults_rng(struct sim_faults *f, const struct sim_sensor *s);

/* Draws which faults hit the next message of s: a bit mask of SIM_FAULT_BIT(type), each
 * fault independently with its scenario rate, only those that apply to s, and at most one
 * of SIM_FAULT_REJECTING (the first in enum order). */
uint32_t sim_faults_draw(struct sim_faults *f, const struct sim_sensor *s);

/* Stuck sensor: when `start` is set a stuck episode of 3..12 messages begins with the
 * values of r; while one lasts, r's values are replaced by the frozen ones. Returns 1 when
 * r was frozen. */
int sim_fault_stuck(struct sim_faults *f, const struct sim_sensor *s, int start,
                    struct sim_reading *r, int n);

/* Adds a spike (a few times the field's typical spike size, kept inside its plausible
 * bounds) to one numeric field of one reading. Returns 1 when applied. */
int sim_fault_spike(struct sim_rng *rng, struct sim_reading *r, int n);

/* Sets one field of one reading to its impossible value; for LPP sensors only fields whose
 * impossible value still fits the frame. Returns 1 when applied. */
int sim_fault_out_of_range(struct sim_rng *rng, struct sim_reading *r, int n, int lpp);

/* Shifts every reading's time by a random offset of 1 minute to max_ns, either way. */
void sim_fault_skew(struct sim_rng *rng, struct sim_reading *r, int n, int64_t max_ns);

/* Breaks the JSON syntax of payload (truncation, trailing comma, '=' for ':', ...). */
void sim_fault_malform(struct sim_rng *rng, struct hub_buf *payload);

/* Pads payload with whitespace before its last byte up to target bytes (still valid JSON). */
void sim_fault_oversize(struct hub_buf *payload, size_t target);

#endif
