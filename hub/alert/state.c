/* The engine's state as JSON, saved with the monitor's journal position so that a restart
 * (even after SIGKILL) continues every timer, window and learned interval where it was. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alert_int.h"
#include "buf.h"
#include "cityhub/error.h"

#define STATE_VERSION 1

static json_t *save_inst(const struct inst *in)
{
	json_t *o = json_pack("{s:i, s:i, s:i, s:I, s:I, s:I, s:I, s:f, s:I, s:f, s:i, s:s, s:s}",
			      "st", in->state, "lv", in->level, "pl", in->pend_level, "ps",
			      (json_int_t)in->pend_since, "sa", (json_int_t)in->starts, "cs",
			      (json_int_t)in->clear_since, "lt", (json_int_t)in->last_ts, "v",
			      in->value, "lr", (json_int_t)in->last_recv, "iv", in->interval_ns,
			      "g", in->gaps, "d", in->district, "k", in->kind);
	if (in->n) {
		json_t *s = json_array();
		for (uint32_t i = 0; i < in->n; i++) {
			const struct sample *x = &in->s[(in->head + i) % MAX_SAMPLES];
			json_array_append_new(s, json_pack("[I, f]", (json_int_t)x->ts, x->v));
		}
		json_object_set_new(o, "s", s);
	}
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

static int load_samples(struct inst *in, const json_t *arr)
{
	size_t i;
	json_t *x;
	if (!arr)
		return HUB_OK;
	if (!json_is_array(arr) || json_array_size(arr) > MAX_SAMPLES)
		return HUB_EINVAL;
	in->s = hub_xcalloc(MAX_SAMPLES, sizeof(*in->s));
	json_array_foreach(arr, i, x) {
		json_int_t ts;
		double v;
		if (json_unpack((json_t *)x, "[I, F]", &ts, &v) != 0)
			return HUB_EINVAL;
		in->s[i] = (struct sample){(int64_t)ts, v};
		in->n++;
	}
	return HUB_OK;
}

static int load_inst(struct inst *in, const struct rule *r, const json_t *o)
{
	json_int_t ps, sa, cs, lt, lr;
	int st, lv, pl;
	const char *d, *k;
	json_t *s = NULL;
	if (json_unpack((json_t *)o, "{s:i, s:i, s:i, s:I, s:I, s:I, s:I, s:F, s:I, s:F, s:i, s:s, "
				     "s:s, s?o}", "st", &st, "lv", &lv, "pl", &pl, "ps", &ps, "sa",
			&sa, "cs", &cs, "lt", &lt, "v", &in->value, "lr", &lr, "iv",
			&in->interval_ns, "g", &in->gaps, "d", &d, "k", &k, "s", &s) != 0)
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
	return load_samples(in, s);
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
