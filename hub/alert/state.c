/* The engine's state as JSON, saved with the monitor's journal position so that a restart
 * (even after SIGKILL) continues every timer, window and learned interval where it was. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alert_int.h"
#include "cityhub/buf.h"
#include "cityhub/error.h"

#define STATE_VERSION 1

/* The state is written as JSON text straight into a buffer: the snapshot runs every few
 * seconds over every instance, and building a jansson tree for it costs ten times more. */
static void put_str(struct hub_buf *b, const char *s)
{
	hub_buf_puts(b, "\"");
	for (const char *p = s; *p; p++) {
		unsigned char c = (unsigned char)*p;
		if (c == '"' || c == '\\')
			hub_buf_printf(b, "\\%c", c);
		else if (c < 0x20)
			hub_buf_printf(b, "\\u%04x", c);
		else
			hub_buf_append(b, p, 1);
	}
	hub_buf_puts(b, "\"");
}

static double finite_or_0(double v)
{
	return isfinite(v) ? v : 0;
}

static void put_rings(struct hub_buf *b, const struct inst *in)
{
	hub_buf_puts(b, in->s ? ",\"s\":[" : ",\"b\":[");
	for (uint32_t i = 0; i < in->n; i++) {
		const char *sep = i ? "," : "";
		if (in->s) {
			const struct sample *x = &in->s[(in->head + i) % RATE_SAMPLES];
			hub_buf_printf(b, "%s[%lld,%.17g]", sep, (long long)x->ts, finite_or_0(x->v));
		} else {
			const struct bucket *k = &in->b[(in->head + i) % (WINDOW_BUCKETS + 1)];
			hub_buf_printf(b, "%s[%lld,%.17g,%.9g,%.9g,%u]", sep, (long long)k->idx,
				       finite_or_0(k->sum), (double)k->min, (double)k->max, k->n);
		}
	}
	hub_buf_puts(b, "]");
}

static void put_inst(struct hub_buf *b, const struct inst *in)
{
	put_str(b, in->sensor);
	hub_buf_printf(b, ":{\"st\":%d,\"lv\":%d,\"pl\":%d,\"ps\":%lld,\"sa\":%lld,\"cs\":%lld,"
			  "\"lt\":%lld,\"v\":%.17g,\"lr\":%lld,\"iv\":%.17g,\"g\":%d,\"d\":",
		       in->state, in->level, in->pend_level, (long long)in->pend_since,
		       (long long)in->starts, (long long)in->clear_since, (long long)in->last_ts,
		       finite_or_0(in->value), (long long)in->last_recv, finite_or_0(in->interval_ns), in->gaps);
	put_str(b, in->district);
	hub_buf_puts(b, ",\"k\":");
	put_str(b, in->kind);
	if (in->n)
		put_rings(b, in);
	hub_buf_puts(b, "}");
}

void hub_alerts_save_text(const struct hub_alerts *a, struct hub_buf *b)
{
	hub_buf_printf(b, "{\"version\":%d,\"seq\":%llu,\"rules\":{", STATE_VERSION,
		       (unsigned long long)a->seq);
	for (size_t i = 0; i < a->nrules; i++) {
		const struct rule *r = &a->rules[i];
		int first = 1;
		hub_buf_puts(b, i ? "," : "");
		put_str(b, r->cfg->name);
		hub_buf_puts(b, ":{");
		for (size_t j = 0; j < r->cap; j++) {
			if (!r->slots[j])
				continue;
			hub_buf_puts(b, first ? "" : ",");
			put_inst(b, r->slots[j]);
			first = 0;
		}
		hub_buf_puts(b, "}");
	}
	hub_buf_puts(b, "}}");
}

json_t *hub_alerts_save(const struct hub_alerts *a)
{
	struct hub_buf b = {0};
	hub_alerts_save_text(a, &b);
	json_t *o = json_loadb(b.data, b.len, 0, NULL);
	hub_buf_fini(&b);
	return o;
}

/* Readings of a rate rule ("s") or steps of a window rule ("b"), oldest first. */
static int load_rings(struct inst *in, const struct rule *r, const json_t *s, const json_t *b)
{
	size_t i;
	json_t *x;
	const json_t *arr = r->type == R_RATE ? s : r->type == R_WINDOW ? b : NULL;
	size_t cap = r->type == R_RATE ? RATE_SAMPLES : WINDOW_BUCKETS + 1;
	if (!arr)
		return HUB_OK;
	if (!json_is_array(arr) || json_array_size(arr) > cap)
		return HUB_EINVAL;
	if (r->type == R_RATE)
		in->s = hub_xcalloc(cap, sizeof(*in->s));
	else
		in->b = hub_xcalloc(cap, sizeof(*in->b));
	json_array_foreach(arr, i, x) {
		json_int_t t, n;
		double v, lo, hi;
		if (r->type == R_RATE && json_unpack((json_t *)x, "[I, F]", &t, &v) == 0)
			in->s[i] = (struct sample){(int64_t)t, v};
		else if (r->type == R_WINDOW &&
			 json_unpack((json_t *)x, "[I, F, F, F, I]", &t, &v, &lo, &hi, &n) == 0 && n > 0)
			in->b[i] = (struct bucket){(int64_t)t, v, (float)lo, (float)hi, (uint32_t)n};
		else
			return HUB_EINVAL;
		in->n++;
	}
	return HUB_OK;
}

static int load_inst(struct inst *in, const struct rule *r, const json_t *o)
{
	json_int_t ps, sa, cs, lt, lr;
	int st, lv, pl;
	const char *d, *k;
	json_t *s = NULL, *b = NULL;
	if (json_unpack((json_t *)o, "{s:i, s:i, s:i, s:I, s:I, s:I, s:I, s:F, s:I, s:F, s:i, s:s, "
				     "s:s, s?o, s?o}", "st", &st, "lv", &lv, "pl", &pl, "ps", &ps, "sa",
			&sa, "cs", &cs, "lt", &lt, "v", &in->value, "lr", &lr, "iv",
			&in->interval_ns, "g", &in->gaps, "d", &d, "k", &k, "s", &s, "b", &b) != 0)
		return HUB_EINVAL;
	int maxlv = r->type == R_BANDS ? (int)r->nbands : 1;
	if (st < ST_INACTIVE || st > ST_FIRING || lv < 0 || lv > maxlv || pl < 0 || pl > maxlv)
		return HUB_EINVAL; /* e.g. a band removed from the rule since */
	in->state = (enum inst_state)st;
	in->level = lv;
	in->pend_level = pl;
	in->pend_since = ps;
	in->starts = sa;
	in->clear_since = cs;
	in->last_ts = lt;
	in->last_recv = lr;
	snprintf(in->district, sizeof(in->district), "%s", d);
	snprintf(in->kind, sizeof(in->kind), "%s", k);
	return load_rings(in, r, s, b);
}

static struct rule *rule_named(struct hub_alerts *a, const char *name)
{
	for (size_t i = 0; i < a->nrules; i++)
		if (strcmp(a->rules[i].cfg->name, name) == 0)
			return &a->rules[i];
	return NULL;
}

int hub_alerts_load(struct hub_alerts *a, const json_t *saved, char *err, size_t errlen)
{
	json_t *rules, *insts, *o;
	json_int_t seq;
	int version;
	const char *name, *sensor;
	if (json_unpack((json_t *)saved, "{s:i, s:I, s:o}", "version", &version, "seq", &seq,
			"rules", &rules) != 0 || version != STATE_VERSION) {
		snprintf(err, errlen, "not an alert state of version %d", STATE_VERSION);
		return HUB_EINVAL;
	}
	a->seq = (uint64_t)seq;
	json_object_foreach(rules, name, insts) {
		struct rule *r = rule_named(a, name);
		if (!r)
			continue; /* the rule was removed from the config */
		json_object_foreach(insts, sensor, o) {
			struct inst *in = hub_alerts_inst(a, r, sensor, 1);
			if (in && load_inst(in, r, o) != HUB_OK) {
				snprintf(err, errlen, "rule %s, sensor %s: damaged or from another "
					 "version of the rule", name, sensor);
				return HUB_EINVAL;
			}
		}
	}
	return HUB_OK;
}
