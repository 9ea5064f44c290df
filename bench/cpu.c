/* bench-cpu: what cityhub's own code costs per message, on one thread with no MQTT, no HTTP
 * and no thread hand-offs: the bench's load corpus (cityhub-sim --rate's messages) is
 * journaled, then read back, decoded and encoded as a sink consumer does. Each stage is timed
 * separately, so the figures of bench/run can be split into "the hub's logic" and "getting
 * messages in and out" (see docs/benchmarks.md). Also a convenient target for callgrind.
 *
 *   bench-cpu [MESSAGES [SENSORS [RULE_FILE [KIND]]]]     (default 200000 1000 - noise)
 *
 * With a RULE_FILE (e.g. rules/mytho.yaml) it also times the monitor's alert work: read +
 * decode + every record through the rules (and the hourly VN_AQI for air_quality) as
 * hub/monitor.c does, and the state snapshot (hub_alerts_save_text + hub_aqi_save + json_dumps)
 * that the monitor writes every alerts.snapshot_ms while the state changes: taken here every
 * SNAPSHOT_EVERY messages (10 s at 10,000 msg/s, the default snapshot_ms) and timed apart.
 * KIND is the corpus's kind: noise (default) or air_quality (the simulator's load kinds).
 *
 * Prints one JSON object: nanoseconds per message for each stage. */
#include <dirent.h>
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "alert/alerts.h"
#include "alert/aqi.h"
#include "cityhub/buf.h"
#include "cityhub/adapter.h"
#include "cityhub/error.h"
#include "cityhub/record.h"
#include "cityhub/schema.h"
#include "config.h"
#include "journal.h"
#include "lineproto.h"
#include "load.h"
#include "pipeline.h"

struct corpus {
	char (*topic)[96];
	char (*payload)[256];
	size_t *len;
	size_t n;
};

#define SNAPSHOT_EVERY 100000

struct env {
	struct hub_config cfg;
	struct hub_alerts *alerts;
	struct hub_aqi *aqi;
	struct hub_schemas *schemas;
	struct hub_pipeline *pipeline;
	struct hub_journal *journal;
	char dir[64];
};

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void make_corpus(struct corpus *c, size_t n, int sensors, enum sim_kind kind)
{
	struct sim_load_opts o = {.sensors = sensors, .kind = kind};
	c->n = n;
	c->topic = hub_xmalloc(n * sizeof(*c->topic));
	c->payload = hub_xmalloc(n * sizeof(*c->payload));
	c->len = hub_xmalloc(n * sizeof(*c->len));
	long long t = hub_now_real_ns();
	for (size_t i = 0; i < n; i++)
		sim_load_format(&o, i, t + (long long)i * 100000, c->topic[i], sizeof(c->topic[i]),
		                c->payload[i], sizeof(c->payload[i]), &c->len[i]);
}

static int open_env(struct env *e, const char *rule_file)
{
	char err[512] = "";
	snprintf(e->dir, sizeof(e->dir), "/tmp/bench-cpu-XXXXXX");
	if (!mkdtemp(e->dir) || hub_config_load(NULL, NULL, &e->cfg, err, sizeof(err)) != HUB_OK)
		goto fail;
	if (rule_file && hub_config_load_rules(rule_file, &e->cfg, err, sizeof(err)) != HUB_OK)
		goto fail;
	e->schemas = hub_schemas_load_builtin(err, sizeof(err));
	if (rule_file && e->schemas) {
		e->alerts = hub_alerts_new(&e->cfg, e->schemas, err, sizeof(err));
		e->aqi = hub_aqi_new((size_t)e->cfg.alerts.max_instances);
		if (!e->alerts)
			goto fail;
	}
	e->pipeline = e->schemas ? hub_pipeline_new(&e->cfg, e->schemas, hub_adapter_all(), err,
						    sizeof(err))
				 : NULL;
	struct hub_journal_opts o = {.dir = e->dir,
	                             .max_bytes = 1ull << 30,
	                             .segment_bytes = 16u << 20,
	                             .fsync = HUB_FSYNC_NONE,
	                             .fsync_interval_ms = 1000,
	                             .full_policy = HUB_FULL_BLOCK};
	e->journal = e->pipeline ? hub_journal_open(&o, err, sizeof(err)) : NULL;
	if (e->journal)
		return HUB_OK;
fail:
	fprintf(stderr, "bench-cpu: %s %s\n", err, errno ? strerror(errno) : "");
	return HUB_EINVAL;
}

static void close_env(struct env *e)
{
	hub_journal_close(e->journal);
	hub_alerts_free(e->alerts);
	hub_aqi_free(e->aqi);
	hub_pipeline_free(e->pipeline);
	hub_schemas_free(e->schemas);
	hub_config_free(&e->cfg);
	/* The journal directory holds files only: segments, cursors, a lock. */
	DIR *d = opendir(e->dir);
	struct dirent *de;
	char path[sizeof(e->dir) + 256];
	while (d && (de = readdir(d)))
		if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0) {
			snprintf(path, sizeof(path), "%s/%s", e->dir, de->d_name);
			unlink(path);
		}
	if (d)
		closedir(d);
	if (rmdir(e->dir) != 0)
		fprintf(stderr, "bench-cpu: could not remove %s\n", e->dir);
}

/* Seconds to append the corpus to the journal, as the MQTT callback does. */
static double stage_append(struct env *e, const struct corpus *c)
{
	double t = now_s();
	for (size_t i = 0; i < c->n; i++)
		if (hub_journal_append(e->journal, hub_now_real_ns(), c->topic[i],
		                       strlen(c->topic[i]), c->payload[i], c->len[i]) != HUB_OK)
			return -1;
	return now_s() - t;
}

/* Seconds to read the journal back and decode (and with encode, batch as line protocol). */
static double stage_consume(struct env *e, size_t n, int encode)
{
	struct hub_journal_reader *r = hub_journal_reader_new(e->journal, 0);
	struct hub_recset rs;
	struct hub_lpbatch batch = {0};
	struct hub_reject rej;
	struct hub_jentry je;
	const char *adapter;
	size_t done = 0, bad = 0;
	hub_recset_init(&rs, 0);
	double t = now_s();
	while (done < n && hub_journal_reader_next(r, &je) == HUB_OK) {
		struct hub_msg m = {je.topic, je.topic_len, je.payload, je.len, je.recv_ns};
		if (hub_pipeline_decode(e->pipeline, &m, &rs, &rej, &adapter) != HUB_OK)
			bad++;
		for (size_t i = 0; encode && i < rs.n; i++)
			hub_lpbatch_add(&batch, &rs.recs[i]);
		if (batch.nlines >= 5000)
			hub_lpbatch_clear(&batch);
		done++;
	}
	t = now_s() - t;
	hub_lpbatch_fini(&batch);
	hub_recset_fini(&rs);
	hub_journal_reader_free(r);
	return done == n && bad == 0 ? t : -1;
}

/* The monitor's feed_aqi: every pollutant field of an air_quality record into the calculator. */
static void feed_aqi(struct hub_aqi *aqi, const struct hub_record *rec, int64_t recv_ns)
{
	struct hub_aqi_result r;
	hub_aqi_add_record(aqi, rec, recv_ns, &r);
}

/* Seconds of one snapshot of the alert state as the monitor writes it (without the file): the
 * alert state as text, the VN_AQI hours through jansson. */
static double snapshot_s(struct env *e, size_t *bytes)
{
	double t = now_s();
	struct hub_buf b = {0};
	hub_alerts_save_text(e->alerts, &b);
	json_t *aqi = hub_aqi_save(e->aqi);
	char *text = json_dumps(aqi, JSON_COMPACT);
	*bytes = b.len + (text ? strlen(text) : 0);
	free(text);
	json_decref(aqi);
	hub_buf_fini(&b);
	return now_s() - t;
}

/* Seconds to read + decode + run the rules (monitor work); *snap gets the seconds of the
 * snapshots taken every SNAPSHOT_EVERY messages, *last_bytes the size of the last one. */
static double stage_rules(struct env *e, size_t n, double *snap, size_t *nsnap, size_t *last_bytes)
{
	struct hub_journal_reader *r = hub_journal_reader_new(e->journal, 0);
	struct hub_recset rs;
	struct hub_reject rej;
	struct hub_jentry je;
	const char *adapter;
	size_t done = 0, bad = 0;
	json_t *evs;
	*snap = 0;
	*nsnap = 0;
	hub_recset_init(&rs, 0);
	double t = now_s();
	while (done < n && hub_journal_reader_next(r, &je) == HUB_OK) {
		struct hub_msg m = {je.topic, je.topic_len, je.payload, je.len, je.recv_ns};
		if (hub_pipeline_decode(e->pipeline, &m, &rs, &rej, &adapter) != HUB_OK)
			bad++;
		for (size_t i = 0; i < rs.n; i++) {
			hub_alerts_record(e->alerts, &rs.recs[i], je.recv_ns);
			feed_aqi(e->aqi, &rs.recs[i], je.recv_ns);
		}
		hub_alerts_take(e->alerts, &evs);
		json_decref(evs);
		if (++done % SNAPSHOT_EVERY == 0) {
			*snap += snapshot_s(e, last_bytes);
			(*nsnap)++;
		}
	}
	t = now_s() - t - *snap;
	hub_recset_fini(&rs);
	hub_journal_reader_free(r);
	return done == n && bad == 0 ? t : -1;
}

/* Seconds for jansson alone to parse the payloads (the adapter's flags). */
static double stage_json(const struct corpus *c)
{
	double t = now_s();
	for (size_t i = 0; i < c->n; i++) {
		json_t *root = json_loadb(c->payload[i], c->len[i], JSON_REJECT_DUPLICATES, NULL);
		if (!root)
			return -1;
		json_decref(root);
	}
	return now_s() - t;
}

static int parse_arg(const char *s, long lo, long hi, long *out)
{
	char *end;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (end == s || *end || errno || v < lo || v > hi)
		return HUB_ERANGE;
	*out = v;
	return HUB_OK;
}

int main(int argc, char **argv)
{
	long n = 200000, sensors = 1000;
	enum sim_kind kind = SIM_KIND_NOISE;
	const char *rule_file = argc > 3 ? argv[3] : NULL;
	if (argc > 5 || (argc > 1 && parse_arg(argv[1], 1, 10000000, &n)) ||
	    (argc > 2 && parse_arg(argv[2], 1, 1000000, &sensors)) ||
	    (argc > 4 && sim_load_kind_parse(argv[4], &kind) != HUB_OK)) {
		fputs("usage: bench-cpu [MESSAGES [SENSORS [RULE_FILE [noise|air_quality]]]]\n",
		      stderr);
		return 2;
	}
	struct corpus c;
	struct env e = {0};
	make_corpus(&c, (size_t)n, (int)sensors, kind);
	if (open_env(&e, rule_file) != HUB_OK)
		return 1;
	double append = stage_append(&e, &c);
	double json = stage_json(&c);
	double decode = stage_consume(&e, c.n, 0);
	double both = stage_consume(&e, c.n, 1);
	double snap = 0, rules = 0;
	size_t nsnap = 0, snap_bytes = 0;
	double last_snap = 0;
	if (e.alerts) {
		rules = stage_rules(&e, c.n, &snap, &nsnap, &snap_bytes);
		last_snap = snapshot_s(&e, &snap_bytes); /* the state after every message */
	}
	close_env(&e);
	free(c.topic);
	free(c.payload);
	free(c.len);
	if (append < 0 || json < 0 || decode < 0 || both < 0 || rules < 0) {
		fputs("bench-cpu: a stage failed\n", stderr);
		return 1;
	}
	double k = 1e9 / (double)n;
	printf("{\"messages\":%ld,\"sensors\":%ld,\"append_ns\":%.0f,\"json_parse_ns\":%.0f,"
	       "\"read_decode_ns\":%.0f,\"read_decode_encode_ns\":%.0f",
	       n, sensors, append * k, json * k, decode * k, both * k);
	if (rule_file)
		printf(",\"kind\":\"%s\",\"read_decode_rules_ns\":%.0f,\"rules_ns\":%.0f,"
		       "\"snapshots\":%zu,\"snapshot_every\":%d,\"final_snapshot_ms\":%.2f,"
		       "\"final_snapshot_bytes\":%zu,\"snapshot_ns_per_msg\":%.0f",
		       argc > 4 ? argv[4] : "noise", rules * k, (rules - decode) * k, nsnap,
		       SNAPSHOT_EVERY, last_snap * 1e3, snap_bytes, snap * k);
	puts("}");
	return 0;
}
