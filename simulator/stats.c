#include "stats.h"

static const char *const reject_names[SIM_REJ_COUNT] = {"bad_json", "truncated", "too_large",
                                                        "out_of_range"};

const char *sim_reject_name(enum sim_reject r)
{
	return reject_names[r];
}

static json_t *by_kind(const struct sim_stats *st)
{
	json_t *o = json_object();
	for (int i = 0; i < SIM_KIND_COUNT; i++)
		json_object_set_new(o, sim_kind_name((enum sim_kind)i),
		                    json_integer((json_int_t)st->by_kind[i]));
	return o;
}

static json_t *by_format(const struct sim_stats *st)
{
	json_t *o = json_object();
	for (int i = 0; i < SIM_FMT_COUNT; i++)
		json_object_set_new(o, sim_format_name((enum sim_format)i),
		                    json_integer((json_int_t)st->by_format[i]));
	return o;
}

static json_t *faults(const struct sim_stats *st)
{
	json_t *o = json_object();
	uint64_t total = 0;
	json_t *types = json_object();
	for (int i = 0; i < SIM_FAULT_COUNT; i++) {
		total += st->faults[i];
		json_object_set_new(types, sim_fault_name((enum sim_fault)i),
		                    json_integer((json_int_t)st->faults[i]));
	}
	json_object_set_new(o, "total", json_integer((json_int_t)total));
	json_object_set_new(o, "by_type", types);
	return o;
}

static json_t *rejects(const struct sim_stats *st)
{
	json_t *o = json_object();
	uint64_t total = 0;
	for (int i = 0; i < SIM_REJ_COUNT; i++) {
		total += st->rejects[i];
		json_object_set_new(o, reject_names[i], json_integer((json_int_t)st->rejects[i]));
	}
	json_object_set_new(o, "total", json_integer((json_int_t)total));
	json_object_set_new(o, "hostile", json_integer((json_int_t)st->hostile));
	return o;
}

json_t *sim_stats_json(const struct sim_stats *st)
{
	json_t *msgs = json_pack("{s:I,s:I,s:o,s:o,s:I}", "total", (json_int_t)st->messages,
	                         "bytes", (json_int_t)st->bytes, "by_kind", by_kind(st),
	                         "by_format", by_format(st), "hostile", (json_int_t)st->hostile);
	return json_pack("{s:I,s:I,s:o,s:o,s:o,s:I,s:I}", "samples", (json_int_t)st->samples,
	                 "readings", (json_int_t)st->readings, "messages", msgs, "faults",
	                 faults(st), "expected_rejects", rejects(st), "encode_errors",
	                 (json_int_t)st->encode_errors, "publish_errors",
	                 (json_int_t)st->publish_errors);
}
