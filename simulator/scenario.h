/* A scenario: the sensor network, its signal-model parameters, fault rates, outages and the
 * hostile gateway, loaded from a YAML file with an optional named overlay applied. */
#ifndef SIM_SCENARIO_H
#define SIM_SCENARIO_H

#include "episode.h"
#include "kind.h"
#include "simtypes.h"

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define SIM_MAX_LANES 8
#define SIM_MAX_GATEWAYS 8

enum sim_tide_part { SIM_TIDE_M2, SIM_TIDE_S2, SIM_TIDE_K1, SIM_TIDE_O1, SIM_TIDE_N };

struct sim_sensor {
	int index; /* position in sim_scenario.sensors */
	char *id;
	enum sim_kind kind;
	char *district;
	double lat, lon;
	int interval_s;
	enum sim_format format;
	uint32_t fields;                                 /* bit i: kind field i is measured */
	const struct sim_altunit *units[SIM_MAX_FIELDS]; /* native: non-canonical units */
	int decoded;   /* ttn/chirpstack: decoded object instead of an LPP frame */
	char *gateway; /* LoRaWAN gateway id (default: the first gateway) */
	char *dev_eui; /* 16 upper-case hex digits (default: derived from the id) */
	char *lanes[SIM_MAX_LANES];
	int nlanes;
	double capacity_vph;   /* traffic: vehicles per hour per lane at capacity */
	double free_speed_kmh; /* traffic: Greenshields free-flow speed */
	char *near;            /* air/noise: id of the traffic sensor nearby */
	int near_index;        /* resolved index of `near`, -1 = city average */
	double tide_gain;      /* water: tidal amplitude relative to the scenario's tide */
	int64_t tide_lag_ns;   /* water: tide arrives this much later than at the reference */
	double level_offset_m; /* water_level: added to the level */
	double flow_net_m3s;   /* water_level: net (river) discharge */
	double flow_gain;      /* water_level: m3/s of tidal flow per m/h of level change */
	double salinity_ppt;   /* water_quality: salinity at mean level */
	double salinity_gain;  /* water_quality: e-folding per metre of (lagged) level */
	int quiet;             /* never publishes: the scenario's `only:` list leaves it out */
	char *name_vi, *name_en; /* readable names for the sensor registry; NULL = none */
};

struct sim_tide {
	double mean_m;                /* seasonal mean level above the national datum */
	int64_t reference_ns;         /* when every constituent peaks (phase 0) */
	double amp_m[SIM_TIDE_N];     /* amplitudes */
	double phase_deg[SIM_TIDE_N]; /* phase lags at reference_ns */
};

enum sim_outage_by { SIM_OUTAGE_SENSORS, SIM_OUTAGE_GATEWAY, SIM_OUTAGE_FORMAT };

struct sim_outage {
	char **sensors; /* ids; NULL unless given */
	int nsensors;
	char *gateway;           /* every sensor behind this gateway */
	char *format;            /* every sensor of this format */
	int64_t from_ns, for_ns; /* relative to the scenario start */
	char *alert;             /* what it should fire, for people; NULL */
};

struct sim_scenario {
	char *name;
	char *description;
	char *network;       /* TTN application id and ChirpStack application name */
	double utc_offset_h; /* local time for the diurnal models (+7 for Vietnam) */
	int64_t start_ns, duration_ns;
	uint64_t seed;
	char *season; /* "dry" or "wet" */
	struct {
		double scale;            /* demand multiplier */
		double congestion_per_h; /* congestion episodes per intersection-hour at peak */
		int64_t congestion_mean_ns;
	} traffic;
	struct {
		double temp_offset_c;
		double rain_per_day; /* rain events per day */
		double rain_mm_h;    /* mean rain intensity */
	} weather;
	struct {
		double pm_scale;
	} air;
	struct sim_tide tide;
	struct {
		double scale;
	} salinity;
	double fault_rate[SIM_FAULT_COUNT]; /* per message, 0..1 */
	int64_t oversize_bytes;
	int64_t skew_max_ns;
	int64_t hostile_interval_ns; /* 0 = no hostile gateway */
	struct sim_outage *outages;
	int noutages;
	struct {
		char *chirpstack_app_id; /* UUID in the ChirpStack topic */
		char *chirpstack_tenant_id;
		char *gateways[SIM_MAX_GATEWAYS];
		int ngateways;
	} lorawan;
	struct sim_sensor *sensors;
	int nsensors;
	struct sim_field_episode *episodes; /* scripted field changes (episode.h) */
	int nepisodes;
};

/* Loads the scenario file at path and applies the overlay `overlay` from its `scenarios:`
 * mapping (NULL = none). On success *out is a new scenario (free with sim_scenario_free).
 * On failure returns HUB_EIO/HUB_EPARSE/HUB_EINVAL/HUB_ENOENT with a message in err. */
int sim_scenario_load(const char *path, const char *overlay, struct sim_scenario **out, char *err,
                      size_t errlen);

/* Writes one line per overlay in the file at path ("name<TAB>description"). */
int sim_scenario_list(const char *path, FILE *out, char *err, size_t errlen);

/* Returns how many sensors publish (those not left out by `only:`). */
int sim_scenario_playing(const struct sim_scenario *sc);

/* Returns the sensor with this id, or NULL. */
const struct sim_sensor *sim_scenario_sensor(const struct sim_scenario *sc, const char *id);

/* Frees the scenario and everything it owns; NULL is a no-op. */
void sim_scenario_free(struct sim_scenario *sc);

#endif
