/* The engine's state as JSON, saved with the monitor's journal position so that a restart
 * (even after SIGKILL) continues every timer, window and learned interval where it was. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alert_int.h"
#include "buf.h"
#include "cityhub/error.h"

#define STATE_VERSION 1

static json_t *save_rings(const struct inst *in)
{
	json_t *arr = json_array();
	for (uint32_t i = 0; i < in->n; i++) {
		if (in->s) {
			const struct sample *x = &in->s[(in->head + i) % RATE_SAMPLES];
			json_array_append_new(arr, json_pack("[I, f]", (json_int_t)x->ts, x->v));
		} else {
			const struct bucket *b = &in->b[(in->head + i) % (WINDOW_BUCKETS + 1)];
			json_array_append_new(arr, json_pack("[I, f, f, f, I]", (json_int_t)b->idx, b->sum,
							     (double)b->min, (double)b->max,
							     (json_int_t)b->n));
		}
	}
	return arr;
}

static json_t *save_inst(const struct inst *in)
{
	json_t *o = json_pack("{s:i, s:i, s:i, s:I, s:I, s:I, s:I, s:f, s:I, s:f, s:i, s:s, s:s}",
			      "st", in->state, "lv", in->level, "pl", in->pend_level, "ps",
			      (json_int_t)in->pend_since, "sa", (json_int_t)in->starts, "cs",
			      (json_int_t)in->clear_since, "lt", (json_int_t)in->last_ts, "v",
			      in->value, "lr", (json_int_t)in->last_recv, "iv", in->interval_ns,
			      "g", in->gaps, "d", in->district, "k", in->kind);
	if (in->n)
		json_object_set_new(o, in->s ? "s" : "b", save_rings(in));
	return o;
}

json_t *hub_alerts_save(const struct hub_alerts *a)
{
	json_t *rules = json_object();
	for (size_t i = 0; i < a->nrules; i++) {
		const struct rule *r = &a->rules[i];
		json_t *insts = json_object();
		for (size_t j = 0; j < r->cap; j++)
			if (r->slots[j])
				json_object_set_new(insts, r->slots[j]->sensor, save_inst(r->slots[j]));
		json_object_set_new(rules, r->cfg->name, insts);
	}
	return json_pack("{s:i, s:I, s:o}", "version", STATE_VERSION, "seq", (json_int_t)a->seq,
			 "rules", rules);
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
