/* Field episodes: scripted changes of one field of one sensor over a time window (a salinity
 * intrusion, a flood tide over alert level III, a smog, a congested intersection), so that a
 * scenario fires known alerts at known simulated times. Read from the scenario's `episodes:`
 * list (docs/simulator.md); applied to each reading after the signal model, before faults. */
#ifndef SIM_EPISODE_H
#define SIM_EPISODE_H

#include <stdint.h>

enum sim_episode_op {
	SIM_EP_VALUE, /* the field takes the profile's value */
	SIM_EP_ADD,   /* the profile's value is added to the model's */
	SIM_EP_SCALE  /* the model's value is multiplied by the profile's */
};

/* One point of a piecewise-linear profile: offset from the episode's start, value. */
struct sim_ep_point {
	int64_t at_ns;
	double v;
};

struct sim_field_episode {
	char *sensor;     /* sensor id (owned) */
	int sensor_index; /* resolved position in sim_scenario.sensors */
	char *field;      /* canonical field name (owned) */
	int field_index;  /* resolved index in the sensor kind's fields */
	int64_t from_ns;  /* window start, relative to the scenario start */
	int64_t for_ns;   /* window length: the episode covers [from, from + for) */
	enum sim_episode_op op;
	struct sim_ep_point *points; /* ascending offsets; one point = a constant (owned) */
	int npoints;
	char *alert; /* what it should fire, for people (e.g. "salinity_domestic"); NULL (owned) */
};

struct sim_scenario;
struct sim_sensor;
struct sim_reading;

/* Returns the profile's value at offset off_ns from the episode's start: linear between
 * points, the first value before the first point, the last value after the last. */
double sim_episode_profile(const struct sim_field_episode *e, int64_t off_ns);

/* Applies every episode of sc that covers time t and names sensor s to rd[0..n) (every lane
 * of a traffic sensor); results are clamped to the field's plausible range and rounded like
 * model values. A field the sensor does not measure is left out. Returns how many readings
 * were changed. */
int sim_episodes_apply(const struct sim_scenario *sc, const struct sim_sensor *s, int64_t t_ns,
                       struct sim_reading *rd, int n);

/* Logs one info line per episode with its absolute window (msg="episode" sensor= field= op=
 * from= to=, and alert= when the episode names one), and one per outage (msg=outage
 * sensors=|gateway=|format= from= to= [alert=]), so that a test can compute the alerts they
 * should fire and scripts/pilot can print when they come. */
void sim_episodes_log(const struct sim_scenario *sc);

/* Frees what e owns (not e itself). */
void sim_episode_fini(struct sim_field_episode *e);

#endif
