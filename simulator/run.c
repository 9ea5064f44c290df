#include "run.h"

#include "cityhub/error.h"
#include "cityhub/log.h"
#include "encode.h"
#include "episode.h"
#include "fault.h"
#include "hostile.h"
#include "model.h"
#include "prng.h"
#include "simtime.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define SEC 1000000000LL

struct sensor_run {
	int64_t next_ns;
	uint32_t f_cnt;
	struct sim_msg held; /* out-of-order: published after the next message */
	int has_held;
	int held_reject; /* enum sim_reject of the held message, -1 = none */
};

struct runner {
	const struct sim_scenario *sc;
	const struct sim_run_opts *o;
	struct sim_world *world;
	struct sim_faults *faults;
	struct sim_pub *pub;
	struct sim_stats *st;
	struct sensor_run *sr;
	struct sim_hostile hostile;
	int64_t hostile_next;
	struct sim_msg msg;
	struct timespec wall0;
	int lost; /* every connection is gone: the run ends */
};

static void log_fault(const struct runner *r, enum sim_fault f, const char *sensor,
                      const struct hub_buf *topic, int64_t t)
{
	char when[48];
	if (!hub_log_enabled(HUB_LOG_WARN))
		return;
	sim_time_format(t, 3, when, sizeof(when));
	hub_warn("fault=%s sensor=%s topic=%s sim_time=%s", sim_fault_name(f), hub_logq(sensor),
	         hub_logqn(topic->data ? topic->data : "", topic->len), when);
	(void)r;
}

static void fault(struct runner *r, enum sim_fault f, const struct sim_sensor *s,
                  const struct hub_buf *topic, int64_t t)
{
	r->st->faults[f]++;
	log_fault(r, f, s ? s->id : "hostile-gateway", topic, t);
}

static void publish(struct runner *r, const struct sim_sensor *s, const struct sim_msg *m,
                    int reject)
{
	int rc = sim_pub_send(r->pub, m->topic.data, m->payload.data, m->payload.len,
	                      r->o->send_timeout_ms);
	if (rc) {
		r->st->publish_errors++;
		hub_error("msg=\"publish failed\" topic=%s err=\"%s\"", hub_logq(m->topic.data),
		          hub_strerror(rc));
		r->lost = sim_pub_lost(r->pub);
		return;
	}
	r->st->messages++;
	r->st->bytes += m->payload.len;
	if (s) {
		r->st->by_kind[s->kind]++;
		r->st->by_format[s->format]++;
	} else {
		r->st->hostile++;
	}
	if (reject >= 0)
		r->st->rejects[reject]++;
}

static int in_outage(const struct sim_scenario *sc, const struct sim_sensor *s, int64_t t)
{
	for (int i = 0; i < sc->noutages; i++) {
		const struct sim_outage *o = &sc->outages[i];
		int64_t from = sc->start_ns + o->from_ns;
		if (t < from || t >= from + o->for_ns)
			continue;
		for (int j = 0; j < o->nsensors; j++)
			if (strcmp(o->sensors[j], s->id) == 0)
				return 1;
		int lora = s->format == SIM_FMT_TTN || s->format == SIM_FMT_CHIRPSTACK;
		if (o->gateway && lora && s->gateway && strcmp(o->gateway, s->gateway) == 0)
			return 1;
		if (o->format && strcmp(o->format, sim_format_name(s->format)) == 0)
			return 1;
	}
	return 0;
}

/* Applies the faults that change values or times; clears the bits that did not apply. */
static uint32_t value_faults(struct runner *r, const struct sim_sensor *s, uint32_t mask,
                             struct sim_reading *rd, int n)
{
	struct sim_rng *rng = sim_faults_rng(r->faults, s);
	if (!sim_fault_stuck(r->faults, s, (mask & SIM_FAULT_BIT(SIM_FAULT_STUCK)) != 0, rd, n))
		mask &= ~SIM_FAULT_BIT(SIM_FAULT_STUCK);
	else
		mask |= SIM_FAULT_BIT(SIM_FAULT_STUCK);
	if ((mask & SIM_FAULT_BIT(SIM_FAULT_SPIKE)) && !sim_fault_spike(rng, rd, n))
		mask &= ~SIM_FAULT_BIT(SIM_FAULT_SPIKE);
	if ((mask & SIM_FAULT_BIT(SIM_FAULT_OUT_OF_RANGE)) &&
	    !sim_fault_out_of_range(rng, rd, n, sim_sensor_uses_lpp(s)))
		mask &= ~SIM_FAULT_BIT(SIM_FAULT_OUT_OF_RANGE);
	if (mask & SIM_FAULT_BIT(SIM_FAULT_CLOCK_SKEW))
		sim_fault_skew(rng, rd, n, r->sc->skew_max_ns);
	return mask;
}

static int reject_of(uint32_t mask)
{
	if (mask & SIM_FAULT_BIT(SIM_FAULT_MALFORMED_JSON))
		return SIM_REJ_BAD_JSON;
	if (mask & SIM_FAULT_BIT(SIM_FAULT_TRUNCATED_LPP))
		return SIM_REJ_TRUNCATED;
	if (mask & SIM_FAULT_BIT(SIM_FAULT_OVERSIZE))
		return SIM_REJ_TOO_LARGE;
	if (mask & SIM_FAULT_BIT(SIM_FAULT_OUT_OF_RANGE))
		return SIM_REJ_OUT_OF_RANGE;
	return -1;
}

/* Samples, applies value faults and encodes; returns the fault mask, or -1 on error. */
static int64_t build(struct runner *r, const struct sim_sensor *s, int64_t t)
{
	struct sim_reading rd[SIM_MAX_LANES];
	struct sensor_run *sr = &r->sr[s->index];
	int n = sim_world_sample(r->world, s, t, rd, SIM_MAX_LANES);
	sim_episodes_apply(r->sc, s, t, rd, n);
	r->st->samples++;
	r->st->readings += (uint64_t)n;
	sr->f_cnt++;
	uint32_t mask = value_faults(r, s, sim_faults_draw(r->faults, s), rd, n);
	struct sim_encctx ctx = {r->sc, sr->f_cnt, sim_faults_rng(r->faults, s),
	                         (mask & SIM_FAULT_BIT(SIM_FAULT_TRUNCATED_LPP)) != 0};
	sim_msg_clear(&r->msg);
	if (sim_encoder_get(s->format)->encode(&ctx, rd, n, &r->msg)) {
		r->st->encode_errors++;
		hub_error("msg=\"cannot encode\" sensor=%s format=%s", hub_logq(s->id),
		          sim_format_name(s->format));
		return -1;
	}
	if (mask & SIM_FAULT_BIT(SIM_FAULT_MALFORMED_JSON))
		sim_fault_malform(ctx.rng, &r->msg.payload);
	if (mask & SIM_FAULT_BIT(SIM_FAULT_OVERSIZE))
		sim_fault_oversize(&r->msg.payload, (size_t)r->sc->oversize_bytes);
	return mask;
}

static void sensor_event(struct runner *r, const struct sim_sensor *s, int64_t t)
{
	struct sensor_run *sr = &r->sr[s->index];
	int64_t m = build(r, s, t);
	if (m < 0)
		return;
	uint32_t mask = (uint32_t)m;
	int out = in_outage(r->sc, s, t);
	if (out || (mask & SIM_FAULT_BIT(SIM_FAULT_DROPOUT))) {
		fault(r, out ? SIM_FAULT_OUTAGE : SIM_FAULT_DROPOUT, s, &r->msg.topic, t);
		return;
	}
	for (int f = SIM_FAULT_STUCK; f < SIM_FAULT_OUTAGE; f++)
		if (f != SIM_FAULT_DUPLICATE && f != SIM_FAULT_OUT_OF_ORDER &&
		    (mask & SIM_FAULT_BIT(f)))
			fault(r, (enum sim_fault)f, s, &r->msg.topic, t);
	if ((mask & SIM_FAULT_BIT(SIM_FAULT_OUT_OF_ORDER)) && !sr->has_held) {
		fault(r, SIM_FAULT_OUT_OF_ORDER, s, &r->msg.topic, t);
		sim_msg_copy(&sr->held, &r->msg);
		sr->has_held = 1;
		sr->held_reject = reject_of(mask);
		return;
	}
	publish(r, s, &r->msg, reject_of(mask));
	if (mask & SIM_FAULT_BIT(SIM_FAULT_DUPLICATE)) {
		fault(r, SIM_FAULT_DUPLICATE, s, &r->msg.topic, t);
		publish(r, s, &r->msg, reject_of(mask));
	}
	if (sr->has_held) {
		publish(r, s, &sr->held, sr->held_reject);
		sr->has_held = 0;
	}
}

static void hostile_event(struct runner *r, int64_t t)
{
	enum sim_fault type = sim_hostile_next(&r->hostile, t, &r->msg);
	fault(r, type, NULL, &r->msg.topic, t);
	publish(r, NULL, &r->msg, -1);
}

/* Sleeps until simulated time t is due on the wall clock (absolute deadline). */
static void pace(const struct runner *r, int64_t t)
{
	if (r->o->speed <= 0)
		return;
	int64_t t0 = r->o->anchor_ns ? r->o->anchor_ns : r->sc->start_ns;
	double wall_s = (double)(t - t0) / 1e9 / r->o->speed;
	struct timespec dl = r->o->anchor_ns ? r->o->anchor_wall : r->wall0;
	int64_t ns = (int64_t)(wall_s * 1e9) + dl.tv_nsec;
	dl.tv_sec += (time_t)(ns / SEC);
	dl.tv_nsec = (long)(ns % SEC);
	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &dl, NULL) == EINTR)
		if (r->o->stop && *r->o->stop)
			return;
}

/* Index of the sensor due next (ties: lowest index), or -1 when the hostile gateway is. */
static int next_event(const struct runner *r, int64_t *t)
{
	int best = -1;
	*t = r->sc->hostile_interval_ns > 0 ? r->hostile_next : INT64_MAX;
	for (int i = 0; i < r->sc->nsensors; i++) {
		if (r->sr[i].next_ns < *t || (best < 0 && r->sr[i].next_ns == *t)) {
			*t = r->sr[i].next_ns;
			best = i;
		}
	}
	return best;
}

static void runner_init(struct runner *r, const struct sim_scenario *sc,
                        const struct sim_run_opts *o, struct sim_pub *pub, struct sim_stats *st)
{
	memset(r, 0, sizeof(*r));
	r->sc = sc;
	r->o = o;
	r->pub = pub;
	r->st = st;
	r->world = sim_world_new(sc);
	r->faults = sim_faults_new(sc);
	r->sr = hub_xcalloc((size_t)sc->nsensors, sizeof(*r->sr));
	for (int i = 0; i < sc->nsensors; i++) {
		const struct sim_sensor *s = &sc->sensors[i];
		/* Spread first reports over one interval, at millisecond offsets. */
		uint64_t span_ms = (uint64_t)s->interval_s * 1000;
		uint64_t off = sim_hash_mix(sim_hash_str(s->id) ^ sc->seed) % span_ms;
		r->sr[i].next_ns = s->quiet ? INT64_MAX : sc->start_ns + (int64_t)off * 1000000;
	}
	r->hostile.oversize_bytes = (size_t)sc->oversize_bytes;
	r->hostile_next = sc->start_ns + sc->hostile_interval_ns / 2;
	clock_gettime(CLOCK_MONOTONIC, &r->wall0);
}

static void runner_fini(struct runner *r)
{
	for (int i = 0; i < r->sc->nsensors; i++)
		sim_msg_fini(&r->sr[i].held);
	free(r->sr);
	sim_msg_fini(&r->msg);
	sim_faults_free(r->faults);
	sim_world_free(r->world);
}

int sim_run_scenario(const struct sim_scenario *sc, const struct sim_run_opts *o,
                     struct sim_pub *pub, struct sim_stats *st)
{
	struct runner r;
	int64_t t, end = sc->start_ns + sc->duration_ns;
	int rc = HUB_OK;
	runner_init(&r, sc, o, pub, st);
	sim_episodes_log(sc);
	for (;;) {
		int i = next_event(&r, &t);
		if (t >= end)
			break;
		if (o->stop && *o->stop) {
			rc = HUB_ESTOP;
			break;
		}
		if (r.lost) {
			/* No reconnection here: resending would make the hub see a message twice,
			 * and its reject counters would no longer match the summary. */
			hub_error("msg=\"connection lost, scenario ends\"");
			rc = HUB_EIO;
			break;
		}
		pace(&r, t);
		if (i < 0) {
			hostile_event(&r, t);
			r.hostile_next += sc->hostile_interval_ns;
		} else {
			sensor_event(&r, &sc->sensors[i], t);
			r.sr[i].next_ns += (int64_t)sc->sensors[i].interval_s * SEC;
		}
	}
	for (int i = 0; i < sc->nsensors && !r.lost; i++) /* held-back messages go out last */
		if (r.sr[i].has_held)
			publish(&r, &sc->sensors[i], &r.sr[i].held, r.sr[i].held_reject);
	runner_fini(&r);
	return rc;
}
