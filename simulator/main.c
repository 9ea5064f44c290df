/* cityhub-sim: plays the My Tho pilot sensor network (or a load test) against a broker. */
#include "cityhub/error.h"
#include "cityhub/log.h"
#include "cli.h"
#include "load.h"
#include "publish.h"
#include "registry.h"
#include "run.h"
#include "scenario.h"
#include "simtime.h"
#include "stats.h"

#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#ifndef SIM_VERSION
#define SIM_VERSION "0"
#endif

static volatile sig_atomic_t stop_flag;

static void on_signal(int sig)
{
	(void)sig;
	stop_flag = 1;
}

/* Logs msg with err quoted as a logfmt value. */
static void log_err(const char *msg, const char *err)
{
	hub_error("msg=\"%s\" err=%s", msg, hub_logq(err));
}

static void install_signals(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
}

/* The scenario file: --scenario-file, $CITYHUB_SIM_SCENARIO_DIR, installed, source tree. */
static void default_file(const struct sim_cli *c, char *buf, size_t len)
{
	const char *dirs[] = {getenv("CITYHUB_SIM_SCENARIO_DIR"), SIM_SCENARIO_DIR_INSTALL,
	                      SIM_SCENARIO_DIR_SOURCE};
	if (c->scenario_file) {
		snprintf(buf, len, "%s", c->scenario_file);
		return;
	}
	for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		if (!dirs[i] || !*dirs[i])
			continue;
		snprintf(buf, len, "%s/mytho.yaml", dirs[i]);
		if (access(buf, R_OK) == 0)
			return;
	}
}

static int is_file_arg(const char *s)
{
	size_t n = strlen(s);
	return strchr(s, '/') || (n > 5 && strcmp(s + n - 5, ".yaml") == 0) ||
	       (n > 4 && strcmp(s + n - 4, ".yml") == 0);
}

/* Applies --seed, --start and --duration over the scenario's own values. */
static int apply_overrides(const struct sim_cli *c, struct sim_scenario *sc, char *err,
                           size_t errlen)
{
	int tz = (int)(sc->utc_offset_h * 3600);
	if (c->have_seed)
		sc->seed = c->seed;
	if (c->start && strcmp(c->start, "now") == 0) {
		struct timespec now;
		clock_gettime(CLOCK_REALTIME, &now);
		sc->start_ns = (int64_t)now.tv_sec * SIM_NS_PER_S; /* whole seconds: readable logs */
	} else if (c->start && sim_time_parse(c->start, tz, &sc->start_ns)) {
		snprintf(err, errlen, "bad --start: %s", c->start);
		return HUB_EINVAL;
	}
	if (c->duration && sim_duration_parse(c->duration, &sc->duration_ns)) {
		snprintf(err, errlen, "bad --duration: %s", c->duration);
		return HUB_EINVAL;
	}
	return HUB_OK;
}

static int load_scenario(const struct sim_cli *c, struct sim_scenario **sc, char *err,
                         size_t errlen)
{
	char file[1024] = "";
	const char *name = c->scenario ? c->scenario : "normal-day";
	int rc;
	if (is_file_arg(name)) {
		rc = sim_scenario_load(name, NULL, sc, err, errlen);
	} else {
		default_file(c, file, sizeof(file));
		if (!*file) {
			snprintf(err, errlen, "no scenario file found (set --scenario-file)");
			return HUB_ENOENT;
		}
		rc = sim_scenario_load(file, name, sc, err, errlen);
	}
	if (rc == HUB_OK && (rc = apply_overrides(c, *sc, err, errlen)))
		sim_scenario_free(*sc);
	return rc;
}

static void pub_opts(const struct sim_cli *c, struct sim_pub_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->broker = c->broker;
	o->client_id = c->client_id;
	o->username = c->username;
	o->password = c->password;
	o->cafile = c->cafile;
	o->cert = c->cert;
	o->key = c->key;
	o->qos = c->qos;
	o->connections = c->connections;
	o->max_inflight = c->max_inflight;
	o->dry_run = c->dry_run;
	o->out = stdout;
}

static int write_summary(const struct sim_cli *c, json_t *summary)
{
	FILE *fp = strcmp(c->summary, "-") == 0 ? stdout : fopen(c->summary, "w");
	int rc = HUB_OK;
	if (!fp) {
		hub_error("msg=\"cannot write summary\" file=%s", hub_logq(c->summary));
		rc = HUB_EIO;
	} else {
		json_dumpf(summary, fp, JSON_COMPACT | JSON_REAL_PRECISION(10));
		fputc('\n', fp);
		if (fp != stdout)
			fclose(fp);
		else
			fflush(fp);
	}
	json_decref(summary);
	return rc;
}

static json_t *scenario_summary(const struct sim_scenario *sc, double speed, int stopped,
                                const struct sim_stats *st, struct sim_pub *pub)
{
	char from[48], to[48];
	struct sim_pub_counts pc;
	sim_pub_counts(pub, &pc);
	sim_time_format(sc->start_ns, 3, from, sizeof(from));
	sim_time_format(sc->start_ns + sc->duration_ns, 3, to, sizeof(to));
	json_t *sum =
	    json_pack("{s:s,s:s,s:I,s:s,s:s,s:f,s:i}", "mode", "scenario", "scenario",
	              sc->name ? sc->name : "", "seed", (json_int_t)sc->seed, "start", from, "end",
	              to, "speed", speed, "sensors", sim_scenario_playing(sc));
	json_t *counts = sim_stats_json(st);
	json_object_update(sum, counts);
	json_decref(counts);
	json_object_set_new(sum, "stopped", json_boolean(stopped));
	json_object_set_new(sum, "publish",
	                    json_pack("{s:I,s:I,s:I}", "sent", (json_int_t)pc.sent, "acked",
	                              (json_int_t)pc.acked, "failed", (json_int_t)pc.failed));
	return sum;
}

/* Plays sc once, or with --forever again and again on one clock until stopped or failed. */
static int play(const struct sim_cli *c, struct sim_scenario *sc, double speed,
                struct sim_pub *pub, struct sim_stats *st)
{
	struct sim_run_opts ro = {speed, 30000, &stop_flag, 0, {0, 0}};
	int rc;
	if (c->forever) {
		ro.anchor_ns = sc->start_ns;
		clock_gettime(CLOCK_MONOTONIC, &ro.anchor_wall);
	}
	for (long cycle = 1;; cycle++) {
		rc = sim_run_scenario(sc, &ro, pub, st);
		if (rc == HUB_OK && stop_flag)
			rc = HUB_ESTOP; /* stopped while the last event went out */
		if (!c->forever || rc != HUB_OK || sc->duration_ns <= 0)
			return rc;
		sc->start_ns += sc->duration_ns;
		char from[48];
		sim_time_format(sc->start_ns, 0, from, sizeof(from));
		hub_info("msg=\"scenario again\" cycle=%ld from=%s", cycle + 1, from);
	}
}

/* --registry: the scenario's sensors as the hub's registry CSV, written atomically. */
static int write_registry(const struct sim_cli *c)
{
	char err[512], tmp[4096];
	struct sim_scenario *sc = NULL;
	if (load_scenario(c, &sc, err, sizeof(err))) {
		log_err("cannot load scenario", err);
		return 2;
	}
	snprintf(tmp, sizeof(tmp), "%s.tmp", c->registry);
	FILE *fp = fopen(tmp, "w");
	int rc = fp ? sim_registry_write(sc, fp) : HUB_EIO;
	if (fp && fclose(fp) != 0)
		rc = HUB_EIO;
	if (rc == HUB_OK && rename(tmp, c->registry) != 0)
		rc = HUB_EIO;
	if (rc != HUB_OK) {
		hub_error("msg=\"cannot write registry\" file=%s", hub_logq(c->registry));
		unlink(tmp);
	}
	sim_scenario_free(sc);
	return rc == HUB_OK ? 0 : 1;
}

static int run_scenario_mode(const struct sim_cli *c)
{
	char err[512];
	struct sim_scenario *sc = NULL;
	struct sim_pub_opts po;
	struct sim_stats st = {0};
	double speed = c->speed >= 0 ? c->speed : c->dry_run ? 0 : 1;
	if (load_scenario(c, &sc, err, sizeof(err))) {
		log_err("cannot load scenario", err);
		return 2;
	}
	pub_opts(c, &po);
	struct sim_pub *pub = sim_pub_open(&po, err, sizeof(err));
	if (!pub) {
		log_err("cannot connect", err);
		sim_scenario_free(sc);
		return 1;
	}
	hub_info("msg=\"scenario start\" scenario=%s sensors=%d speed=%g forever=%d",
	         hub_logq(sc->name ? sc->name : "-"), sim_scenario_playing(sc), speed, c->forever);
	int rc = play(c, sc, speed, pub, &st);
	int frc = sim_pub_flush(pub, (c->ack_timeout ? c->ack_timeout : 30) * 1000);
	int wrc = write_summary(c, scenario_summary(sc, speed, rc == HUB_ESTOP, &st, pub));
	sim_pub_close(pub);
	sim_scenario_free(sc);
	return rc == HUB_OK && frc == HUB_OK && wrc == HUB_OK && st.publish_errors == 0 ? 0 : 1;
}

static int bad_value(char *err, size_t errlen, const char *opt, const char *val)
{
	snprintf(err, errlen, "bad value for --%s: %s", opt, val);
	return HUB_EINVAL;
}

/* Fills lo from the command line; HUB_EINVAL with a message in err on a bad value. */
static int load_opts(const struct sim_cli *c, struct sim_load_opts *lo, char *err, size_t errlen)
{
	memset(lo, 0, sizeof(*lo));
	lo->rate = c->rate > 0 ? c->rate : 1000;
	lo->count = c->count ? c->count : 10000;
	lo->first = c->first;
	lo->sensors = c->sensors;
	lo->prefix = c->prefix;
	lo->district = c->district;
	lo->kind = SIM_KIND_NOISE;
	lo->have_seq_time = c->seq_time != NULL;
	lo->ack_timeout_ms = (c->ack_timeout ? c->ack_timeout : 60) * 1000;
	lo->connections = c->connections;
	lo->qos = c->qos;
	lo->stop = &stop_flag;
	if (c->prefix && sim_load_check_name(c->prefix))
		return bad_value(err, errlen, "prefix", c->prefix);
	if (c->district && sim_load_check_name(c->district))
		return bad_value(err, errlen, "district", c->district);
	if (c->load_kind && sim_load_kind_parse(c->load_kind, &lo->kind))
		return bad_value(err, errlen, "load-kind", c->load_kind);
	if (c->seq_time && sim_load_parse_time(c->seq_time, &lo->seq_time_ns))
		return bad_value(err, errlen, "seq-time", c->seq_time);
	return HUB_OK;
}

static int run_load_mode(const struct sim_cli *c)
{
	char err[512];
	struct sim_pub_opts po;
	struct sim_load_opts lo;
	json_t *summary = NULL;
	if (load_opts(c, &lo, err, sizeof(err))) {
		fprintf(stderr, "cityhub-sim: %s (see --help)\n", err);
		return 2;
	}
	pub_opts(c, &po);
	/* Load mode survives broker restarts: its messages carry no faults, so publishing again
	 * what a lost connection failed only makes the hub see some of them twice. */
	po.reconnect = 1;
	struct sim_pub *pub = sim_pub_open(&po, err, sizeof(err));
	if (!pub) {
		log_err("cannot connect", err);
		return 1;
	}
	int rc = sim_run_load(&lo, pub, &summary);
	int wrc = write_summary(c, summary);
	sim_pub_close(pub);
	return rc == HUB_OK && wrc == HUB_OK ? 0 : 1;
}

static int list_scenarios(const struct sim_cli *c)
{
	char file[1024] = "", err[512];
	default_file(c, file, sizeof(file));
	if (!*file || sim_scenario_list(file, stdout, err, sizeof(err))) {
		fprintf(stderr, "cityhub-sim: %s\n", *file ? err : "no scenario file found");
		return 2;
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct sim_cli c;
	char err[512];
	enum hub_log_level level;
	if (sim_cli_parse(argc, argv, &c, err, sizeof(err))) {
		fprintf(stderr, "cityhub-sim: %s (see --help)\n", err);
		return 2;
	}
	if (c.help) {
		sim_cli_usage(stdout);
		return 0;
	}
	if (c.version) {
		printf("cityhub-sim %s\n", SIM_VERSION);
		return 0;
	}
	if (hub_log_parse_level(c.log_level, &level)) {
		fprintf(stderr, "cityhub-sim: bad --log-level %s\n", c.log_level);
		return 2;
	}
	hub_log_set_level(level);
	if (c.list)
		return list_scenarios(&c);
	if (c.registry)
		return write_registry(&c);
	install_signals();
	if (c.rate > 0 || c.count > 0)
		return run_load_mode(&c); /* sim_cli_parse refused options of the other mode */
	return run_scenario_mode(&c);
}
