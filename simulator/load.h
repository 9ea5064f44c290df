/* Load mode: ~100-byte native readings from many synthetic sensors at a precise rate, over
 * one or more connections, with the send time as each reading's "time" so the hub's stored
 * timestamps give end-to-end latency. */
#ifndef SIM_LOAD_H
#define SIM_LOAD_H

#include "publish.h"

#include <jansson.h>
#include <signal.h>
#include <stdint.h>

struct sim_load_opts {
	double rate;     /* messages per second */
	uint64_t count;  /* messages in total */
	int sensors;     /* distinct sensor ids, load-00000 .. */
	int connections; /* for the summary only: pub already has them */
	int qos;         /* for the summary only */
	volatile sig_atomic_t *stop;
};

/* Publishes o->count messages at o->rate through pub, waits for their acknowledgements
 * (up to 60 s) and returns a new summary object in *summary. HUB_OK, HUB_ESTOP when stopped
 * early, HUB_EAGAIN when acknowledgements did not all arrive. */
int sim_run_load(const struct sim_load_opts *o, struct sim_pub *pub, json_t **summary);

/* Writes message seq of the load stream into topic/payload buffers, stamped with now_ns. */
void sim_load_message(uint64_t seq, int sensors, int64_t now_ns, char *topic, size_t tlen,
                      char *payload, size_t plen, size_t *len);

#endif
