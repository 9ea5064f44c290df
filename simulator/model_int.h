/* Internals shared by the model_*.c files; not for other modules. */
#ifndef SIM_MODEL_INT_H
#define SIM_MODEL_INT_H

#include "model.h"
#include "prng.h"

#define SIM_AR_N 8

struct sim_episode {
	int64_t start_ns, end_ns;
	double value; /* rain: mm/h; congestion: severity 0..1 */
};

struct sim_sensor_state {
	struct sim_rng rng;
	double ar[SIM_AR_N]; /* slowly varying noise terms (AR(1)) */
	int64_t last_ns;     /* time of the previous sample, 0 = none */
	double lane_share[SIM_MAX_LANES];
	struct sim_episode *cong; /* congestion episodes (traffic sensors) */
	int ncong;
};

struct sim_world {
	const struct sim_scenario *sc;
	int dry;
	struct sim_episode *rain;
	int nrain;
	struct sim_sensor_state *st; /* one per sensor, by index */
};

/* City-wide conditions at t, shared by every sensor. */
struct sim_city {
	double hour; /* local hour 0..24 */
	int weekend;
	double sun;       /* 0 at night, 1 at solar noon */
	double rain_mm_h; /* current rain rate */
	double wet;       /* washout index: recent rain, decaying over ~2 h */
	double temp_c;
	double humidity; /* 0..1 */
	double traffic;  /* city traffic index (demand / capacity) */
};

void sim_city_at(const struct sim_world *w, int64_t t_ns, struct sim_city *c);
/* Rain in mm that fell during [t0, t1]. */
double sim_rain_between(const struct sim_world *w, int64_t t0, int64_t t1);
/* Advances AR(1) term i of a sensor to `dt_s` later with correlation time tau_s. */
double sim_ar_step(struct sim_sensor_state *st, int i, double dt_s, double tau_s, double sigma);
/* Total flow (veh/h) over every lane of traffic sensor idx at t, without randomness. */
double sim_near_flow(const struct sim_world *w, int idx, int64_t t_ns, const struct sim_city *c);
/* Lane state of traffic sensor idx, lane l at t, without randomness. */
void sim_lane_state(const struct sim_world *w, int idx, int lane, int64_t t_ns,
                    const struct sim_city *c, struct sim_flow *out);
void sim_congestion_init(struct sim_world *w, struct sim_sensor_state *st,
                         const struct sim_sensor *s);

/* Per-kind samplers: fill r (present bits and values) for one reading. */
void sim_sample_traffic(struct sim_world *w, const struct sim_sensor *s, int lane, int64_t t,
                        const struct sim_city *c, struct sim_reading *r);
void sim_sample_air(struct sim_world *w, const struct sim_sensor *s, int64_t t,
                    const struct sim_city *c, struct sim_reading *r);
void sim_sample_noise(struct sim_world *w, const struct sim_sensor *s, int64_t t,
                      const struct sim_city *c, struct sim_reading *r);
void sim_sample_weather(struct sim_world *w, const struct sim_sensor *s, int64_t t,
                        const struct sim_city *c, struct sim_reading *r);
void sim_sample_level(struct sim_world *w, const struct sim_sensor *s, int64_t t,
                      const struct sim_city *c, struct sim_reading *r);
void sim_sample_quality(struct sim_world *w, const struct sim_sensor *s, int64_t t,
                        const struct sim_city *c, struct sim_reading *r);

/* Sets field idx of r to v (rounded per the field's decimals) if the sensor measures it. */
void sim_reading_set(struct sim_reading *r, int idx, double v);

#endif
