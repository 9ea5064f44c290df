/* Signal models of the My Tho pilot: deterministic for a given scenario seed. A world holds
 * the city-wide state (rain events, congestion episodes) and each sensor's own random stream,
 * so a sensor's values do not depend on how other sensors are interleaved. */
#ifndef SIM_MODEL_H
#define SIM_MODEL_H

#include "kind.h"
#include "scenario.h"

#include <stdint.h>

struct sim_reading {
	const struct sim_sensor *sensor;
	int64_t ts_ns;                   /* observation time as the sensor reports it */
	uint32_t present;                /* bit i: kind field i is set */
	double v[SIM_MAX_FIELDS];        /* numbers, integers, booleans (0/1) */
	const char *str[SIM_MAX_FIELDS]; /* string fields, borrowed from the scenario */
};

/* Traffic state of one lane (Greenshields speed-density relation). */
struct sim_flow {
	double flow_vph;  /* vehicles per hour actually passing */
	double speed_kmh; /* space-mean speed */
	double occupancy; /* detector occupancy 0..1 */
	int congested;
};

struct sim_world;

/* Creates the world for sc (which must outlive it): pre-draws rain and congestion episodes
 * over the scenario's time span. Free with sim_world_free. */
struct sim_world *sim_world_new(const struct sim_scenario *sc);

/* Frees the world; NULL is a no-op. */
void sim_world_free(struct sim_world *w);

/* Samples sensor s at time t into out[0..max): one reading per lane for traffic sensors,
 * one otherwise. Returns the number written. Advances the sensor's random stream. */
int sim_world_sample(struct sim_world *w, const struct sim_sensor *s, int64_t t_ns,
                     struct sim_reading *out, int max);

/* Returns the period in hours of tidal constituent p (M2 12.42, S2 12.00, K1 23.93, O1 25.82). */
double sim_tide_period_h(enum sim_tide_part p);

/* Returns the noise-free tidal level at t: mean + gain * sum of constituents, lagged. */
double sim_tide_level(const struct sim_tide *tide, double gain, int64_t lag_ns, int64_t t_ns);

/* Returns the relative traffic demand (1 = a weekday evening peak) at a local hour. */
double sim_traffic_profile(double local_hour, int weekend);

/* Computes a lane's state from its demand and capacity (veh/h), its free-flow speed, and
 * the severity (0..1) of any congestion episode in progress. */
void sim_traffic_state(double demand_vph, double capacity_vph, double free_speed_kmh,
                       double severity, struct sim_flow *out);

/* Returns the local hour (0..24) and sets *weekend for time t at utc_offset_h. */
double sim_local_hour(int64_t t_ns, double utc_offset_h, int *weekend);

#endif
