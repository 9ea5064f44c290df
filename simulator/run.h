/* Plays a scenario: every sensor publishes on its own schedule in simulated time, paced
 * against the wall clock by a speed factor, with faults and the hostile gateway mixed in.
 * Every injected fault is logged (fault=<type> sensor=<id> topic=<t>) and counted. */
#ifndef SIM_RUN_H
#define SIM_RUN_H

#include "publish.h"
#include "scenario.h"
#include "stats.h"

#include <signal.h>
#include <stdint.h>
#include <time.h>

struct sim_run_opts {
	double speed;        /* simulated seconds per wall second; 0 = as fast as possible */
	int send_timeout_ms; /* how long one publish may wait for window room */
	volatile sig_atomic_t *stop; /* set asynchronously to end the run early; may be NULL */
	/* Pacing: simulated time anchor_ns is due at anchor_wall (CLOCK_MONOTONIC), so that runs
	 * played one after another keep one clock. anchor_ns 0 = the run's start, due now. */
	int64_t anchor_ns;
	struct timespec anchor_wall;
};

/* Runs sc from sc->start_ns for sc->duration_ns, publishing through pub and counting into
 * st (zeroed by the caller). Returns HUB_OK, HUB_ESTOP when stopped early, or HUB_EIO when
 * every connection was lost (pub does not reconnect: the run ends at once). */
int sim_run_scenario(const struct sim_scenario *sc, const struct sim_run_opts *o,
                     struct sim_pub *pub, struct sim_stats *st);

#endif
