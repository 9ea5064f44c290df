/* Internals shared by the alert engine's files (engine.c, rules.c, state.c). */
#ifndef HUB_ALERT_INT_H
#define HUB_ALERT_INT_H

#include <stdint.h>

#include "alerts.h"

#define MAX_BANDS 16
#define RATE_SAMPLES 72  /* rate: readings kept, at least window/64 apart (the newest exact) */
#define WINDOW_BUCKETS 48 /* window: the window in this many steps of sum, count, min, max */

enum inst_state { ST_INACTIVE, ST_PENDING, ST_FIRING };
enum rule_type { R_THRESHOLD, R_BANDS, R_RATE, R_WINDOW, R_STALE };
enum window_stat { STAT_MEAN, STAT_MAX, STAT_MIN };

struct sample {
	int64_t ts;
	double v;
};

/* One step of a window rule: every reading whose ts / step == idx. */
struct bucket {
	int64_t idx;
	double sum;
	float min, max;
	uint32_t n;
};

/* One (rule, sensor): owned by its rule's table. */
struct inst {
	char *sensor;
	char district[64];
	char kind[48];
	enum inst_state state;
	int level;        /* firing level: 1 = the alert (bands: band index + 1) */
	int pend_level;   /* level pending since pend_since */
	int64_t pend_since;
	int64_t starts;   /* firing since */
	int64_t clear_since; /* the breach ended at (keep_firing_for); 0 = breaching */
	int64_t last_ts;  /* latest reading evaluated (event time) */
	double value;     /* latest value judged */
	int64_t last_recv; /* stale: receive clock */
	double interval_ns; /* stale: learned usual interval */
	int gaps;
	struct sample *s; /* rate: ring of readings */
	struct bucket *b; /* window: ring of steps */
	uint32_t head, n; /* of whichever ring the rule uses */
};

struct band {
	char level[32];
	double above;
	const char *severity;
};

struct rule {
	const struct hub_cfg_rule *cfg;
	enum rule_type type;
	enum window_stat stat;
	struct band bands[MAX_BANDS];
	size_t nbands;
	int h1, h2; /* local hours; h1 < 0 = always */
	struct inst **slots; /* open addressing by sensor id */
	size_t cap, n;
};

struct hub_alerts {
	struct rule *rules;
	size_t nrules;
	int utc_offset_h;
	uint64_t max_instances;
	uint64_t seq; /* last event sequence given */
	int64_t start_ns;
	json_t *events; /* produced since the last take */
	struct hub_alerts_stats st;
};

/* rules.c: selection and the measure each type judges */

/* Returns 1 when rec is for rule r (kind, sensor glob, tags). */
int hub_rule_selects(const struct rule *r, const struct hub_record *rec);

/* Returns the level rec's value v asks for at ts (0 = no breach), or -1 when the rule cannot
 * judge yet (too few samples); *shown gets the value to report. Updates inst's samples. */
int hub_rule_target(const struct hub_alerts *a, const struct rule *r, struct inst *in,
		    int64_t ts, double v, double *shown);

/* Builds r from its config; HUB_EINVAL with err. */
int hub_rule_init(struct rule *r, const struct hub_cfg_rule *cfg, char *err, size_t errlen);

/* engine.c */

/* Finds or creates the instance of sensor in r (NULL over alerts.max_instances). */
struct inst *hub_alerts_inst(struct hub_alerts *a, struct rule *r, const char *sensor,
			     int create);

#endif
