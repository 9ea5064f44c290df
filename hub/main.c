/* cityhub: MQTT -> journal -> canonical records -> time-series stores. */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cityhub/buf.h"
#include "cityhub/adapter.h"
#include "cityhub/error.h"
#include "cityhub/log.h"
#include "alert/alerts.h"
#include "api.h"
#include "cityhub/schema.h"
#include "config.h"
#include "consumer.h"
#include "http.h"
#include "ingest.h"
#include "journal.h"
#include "live.h"
#include "metrics.h"
#include "notify/notify.h"
#include "pipeline.h"
#include "testrules.h"

#define EXIT_CONFIG 2
#define SHUTDOWN_DISCONNECT_MS 1000
#define SHUTDOWN_DRAIN_MS 3000
#define SHUTDOWN_NOTIFY_MS 1000

struct args {
	const char *config;
	const char *log_level;
	const char *test_rules;
	int check_only;
};

struct hub {
	struct args args;
	struct hub_config cfg;
	struct hub_schemas *schemas;
	struct hub_pipeline *pipeline;
	struct hub_journal *journal;
	struct hub_ingest *ingest;
	struct hub_consumer **consumers;
	size_t nconsumers;
	struct hub_notifier **notifiers;
	size_t nnotifiers;
	struct hub_live *live;
	struct hub_api *api;
	struct hub_http *http;
	enum hub_log_level log_level;
};

/* Set while a SIGHUP reload reads the new config: problems go to the log, not to stderr. */
static int reloading;

static void usage(FILE *out)
{
	fputs("usage: cityhub [-c|--config FILE] [--log-level debug|info|warn|error]\n"
	      "       cityhub --check-config FILE   validate a config file and exit (2 if bad)\n"
	      "       cityhub --test-rules FILE     run rule tests (docs/alerts.md); 1 on a difference\n"
	      "       cityhub --config-doc          print the reference of every config key\n"
	      "       cityhub --list-adapters       print the payload adapters compiled in\n"
	      "       cityhub --version\n",
	      out);
}

static void list_adapters(void)
{
	for (const struct hub_adapter *const *a = hub_adapter_all(); *a; a++)
		printf("%-12s %s\n", (*a)->name, (*a)->doc);
}

static int usage_error(const char *what, const char *arg)
{
	fprintf(stderr, "cityhub: %s %s\n", arg, what);
	usage(stderr);
	return EXIT_CONFIG;
}

/* Parses argv; returns -1 to go on, or an exit code for flags that finish at once. Those flags
 * (--version, --help, ...) must come alone: anything beside them is a usage error, never
 * silently ignored. */
static int parse_args(int argc, char **argv, struct args *a)
{
	static const char *const alone[] = {"--config-doc", "--list-adapters", "--version", "-h",
					    "--help"};
	for (int i = 1; i < argc; i++)
		for (size_t k = 0; argc > 2 && k < sizeof(alone) / sizeof(alone[0]); k++)
			if (strcmp(argv[i], alone[k]) == 0)
				return usage_error("takes no other arguments", argv[i]);
	for (int i = 1; i < argc; i++) {
		const char *s = argv[i];
		int has_value = i + 1 < argc;
		if ((strcmp(s, "-c") == 0 || strcmp(s, "--config") == 0) && has_value) {
			a->config = argv[++i];
		} else if (strcmp(s, "--check-config") == 0 && has_value) {
			a->config = argv[++i];
			a->check_only = 1;
		} else if (strcmp(s, "--test-rules") == 0 && has_value) {
			a->test_rules = argv[++i];
		} else if (strcmp(s, "--log-level") == 0 && has_value) {
			a->log_level = argv[++i];
		} else if (strcmp(s, "--config-doc") == 0) {
			hub_config_write_doc(stdout, hub_adapter_all());
			return 0;
		} else if (strcmp(s, "--list-adapters") == 0) {
			list_adapters();
			return 0;
		} else if (strcmp(s, "--version") == 0) {
			puts("cityhub " CITYHUB_VERSION);
			return 0;
		} else if (strcmp(s, "-h") == 0 || strcmp(s, "--help") == 0) {
			usage(stdout);
			return 0;
		} else {
			return usage_error("is an unknown or incomplete argument", s);
		}
	}
	return -1;
}

/* Reports one problem of a config being loaded: "cityhub: ..." on stderr at start, a log
 * line during a reload (the running config stays). */
static void complain(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void complain(const char *fmt, ...)
{
	char line[2048];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (reloading)
		hub_error("msg=\"reload refused; the running config stays\" problem=%s",
			  hub_logq(line));
	else
		fprintf(stderr, "cityhub: %s\n", line);
}

/* Reports each line of the config's error report. */
static void print_errors(const char *err)
{
	for (const char *p = err; *p;) {
		size_t n = strcspn(p, "\n");
		complain("%.*s", (int)n, p);
		p += n + (p[n] == '\n');
	}
}

/* Rules against the schemas, notifier options: what the monitor and notifiers would refuse. */
static int check_alerts(struct hub *h)
{
	char err[1024] = "";
	struct hub_alerts *a = hub_alerts_new(&h->cfg, h->schemas, err, sizeof(err));
	hub_alerts_free(a);
	if (!a) {
		complain("%s", err);
		return EXIT_CONFIG;
	}
	for (size_t i = 0; i < h->cfg.nnotifiers; i++) {
		const struct hub_cfg_notifier *n = &h->cfg.notifiers[i];
		if (!hub_notifier_find(n->type)) {
			complain("%s:%d: notifiers[%zu].type: no notifier %s",
				 h->cfg.path ? h->cfg.path : "(defaults)", n->line, i, n->type);
			return EXIT_CONFIG;
		}
	}
	return 0;
}

/* Loads config, log level, schemas and routes: everything --check-config validates. */
static int load(struct hub *h, const struct args *a)
{
	static char cfg_err[16384]; /* every error of the file, one per line */
	char err[1024] = "";
	if (hub_config_load(a->config, hub_adapter_all(), &h->cfg, cfg_err, sizeof(cfg_err)) !=
	    HUB_OK) {
		print_errors(cfg_err);
		return EXIT_CONFIG;
	}
	const char *name = a->log_level ? a->log_level : h->cfg.log.level;
	if (hub_log_parse_level(name, &h->log_level) != HUB_OK) {
		complain("log level %s: use debug|info|warn|error", name);
		return EXIT_CONFIG;
	}
	const char *dir = h->cfg.schemas.dir;
	h->schemas = dir && *dir ? hub_schemas_load_dir(dir, err, sizeof(err))
				 : hub_schemas_load_builtin(err, sizeof(err));
	if (!h->schemas) {
		complain("schemas: %s", err);
		return EXIT_CONFIG;
	}
	h->pipeline = hub_pipeline_new(&h->cfg, h->schemas, hub_adapter_all(), err, sizeof(err));
	if (!h->pipeline) {
		complain("%s", err);
		return EXIT_CONFIG;
	}
	h->live = hub_live_new(h->schemas, (size_t)h->cfg.live.max_sensors);
	if (h->cfg.live.registry &&
	    hub_live_load_registry(h->live, h->cfg.live.registry, err, sizeof(err)) != HUB_OK) {
		fprintf(stderr, "cityhub: live.registry: %s\n", err);
		return EXIT_CONFIG;
	}
	return check_alerts(h);
}

static int open_journal(struct hub *h)
{
	char err[512] = "";
	if (mkdir(h->cfg.journal.dir, 0750) != 0 && errno != EEXIST) {
		hub_error("msg=\"cannot create journal dir\" dir=%s err=\"%s\"",
			  hub_logq(h->cfg.journal.dir), strerror(errno));
		return 1;
	}
	struct hub_journal_opts o = {
		.dir = h->cfg.journal.dir,
		.max_bytes = (uint64_t)h->cfg.journal.max_bytes,
		.segment_bytes = (uint64_t)h->cfg.journal.segment_bytes,
		.fsync = h->cfg.journal.fsync,
		.fsync_interval_ms = h->cfg.journal.fsync_interval_ms,
		.full_policy = h->cfg.journal.full_policy,
	};
	h->journal = hub_journal_open(&o, err, sizeof(err));
	if (!h->journal) {
		hub_error("msg=\"cannot open journal\" dir=%s err=%s", hub_logq(o.dir),
			  hub_logq(err));
		return 1;
	}
	return 0;
}

static const char *state_dir(const struct hub_config *cfg)
{
	return cfg->alerts.state_dir ? cfg->alerts.state_dir : cfg->journal.dir;
}

/* Notifiers first: the monitor hands them the events its snapshot still holds at start. */
static int start_notifiers(struct hub *h)
{
	char err[512] = "";
	struct hub_notify_env env = {state_dir(&h->cfg), hub_ingest_publish_acked, h->ingest};
	if (mkdir(state_dir(&h->cfg), 0750) != 0 && errno != EEXIST) {
		hub_error("msg=\"cannot create alerts.state_dir\" dir=%s err=\"%s\"",
			  hub_logq(state_dir(&h->cfg)), strerror(errno));
		return 1;
	}
	h->notifiers = hub_xcalloc(h->cfg.nnotifiers + 1, sizeof(*h->notifiers));
	for (size_t i = 0; i < h->cfg.nnotifiers; i++) {
		h->notifiers[i] = hub_notifier_start(&h->cfg.notifiers[i], &env, err, sizeof(err));
		if (!h->notifiers[i]) {
			hub_error("msg=\"cannot start notifier\" notifier=%s err=%s",
				  hub_logq(h->cfg.notifiers[i].name), hub_logq(err));
			return 1;
		}
		h->nnotifiers++;
	}
	return 0;
}

static int start_one(struct hub *h, const struct hub_consumer_env *env,
		     const struct hub_consumer_ops *ops, const char *name, const void *conf)
{
	char err[512] = "";
	struct hub_consumer *c = ops ? hub_consumer_start(env, ops, name, conf, err, sizeof(err))
				     : NULL;
	if (!c) {
		hub_error("msg=\"cannot start consumer\" consumer=%s err=%s", hub_logq(name),
			  hub_logq(ops ? err : "no such sink type"));
		return 1;
	}
	h->consumers[h->nconsumers++] = c;
	return 0;
}

static int start_consumers(struct hub *h)
{
	struct hub_consumer_env env = {&h->cfg,      h->journal,   h->pipeline,   h->schemas,
				       h->ingest,    h->notifiers, h->nnotifiers, h->live};
	h->consumers = hub_xcalloc(h->cfg.nsinks + 1, sizeof(*h->consumers));
	if (start_one(h, &env, &hub_monitor_ops, "monitor", NULL) != 0)
		return 1;
	for (size_t i = 0; i < h->cfg.nsinks; i++) {
		const struct hub_cfg_sink *s = &h->cfg.sinks[i];
		if (start_one(h, &env, hub_consumer_sink_ops(s->type), s->name, s) != 0)
			return 1;
	}
	return 0;
}

/* /readyz: the broker subscription is up and every sink's store takes writes. Each problem
 * is one string of the problems array (jansson escapes it; no length limit on the list). */
static int ready(void *ctx, json_t *problems)
{
	struct hub *h = ctx;
	int ok = 1;
	if (!hub_ingest_ready(h->ingest)) {
		char why[320];
		struct hub_buf b = {0};
		hub_ingest_why(h->ingest, why, sizeof(why));
		hub_buf_printf(&b, "mqtt: not connected%s%s", why[0] ? ": " : "", why);
		json_array_append_new(problems, json_string(b.data));
		hub_buf_fini(&b);
		ok = 0;
	}
	for (size_t i = 0; i < h->nconsumers; i++) {
		char reason[256];
		if (hub_consumer_healthy(h->consumers[i], reason, sizeof(reason)))
			continue;
		struct hub_buf b = {0};
		hub_buf_printf(&b, "%s: %s", hub_consumer_name(h->consumers[i]), reason);
		/* json_string refuses invalid UTF-8 (a store's reply may hold any bytes) */
		json_t *item = json_string(b.data);
		if (!item)
			item = json_pack("s+", hub_consumer_name(h->consumers[i]),
					 ": unhealthy (reason not valid UTF-8)");
		json_array_append_new(problems, item);
		hub_buf_fini(&b);
		ok = 0;
	}
	return ok;
}

static void update_journal_gauges(struct hub *h)
{
	struct hub_journal_stats st;
	hub_journal_get_stats(h->journal, &st);
	hub_metric_set(hub_gauge("cityhub_journal_bytes", "Bytes of journal segments on disk", ""),
		       (double)st.bytes);
	hub_metric_set(hub_gauge("cityhub_journal_segments", "Journal segment files", ""),
		       (double)st.segments);
	hub_metric_set(hub_gauge("cityhub_journal_dropped", "Entries dropped by drop_oldest since start",
				 ""), (double)st.dropped);
	hub_metric_set(hub_gauge("cityhub_journal_corrupt", "Damaged entries found at start", ""),
		       (double)st.corrupt);
	hub_metric_set(hub_gauge("cityhub_journal_full_waits",
				 "Appends that waited for space (policy block) since start", ""),
		       (double)st.full_waits);
	size_t sensors;
	uint64_t over;
	hub_live_count(h->live, &sensors, &over);
	hub_metric_set(hub_gauge("cityhub_live_sensors", "Sensors in the live state", ""),
		       (double)sensors);
	hub_metric_set(hub_gauge("cityhub_live_over_limit",
				 "Records of sensors left out at live.max_sensors since start", ""),
		       (double)over);
}

/* One info line with the figures an operator watches, read from the metrics registry. */
static void log_progress(void)
{
	hub_info("msg=progress messages=%.0f records=%.0f rejects=%.0f lag_bytes=%.0f "
		 "alerts_firing=%.0f",
		 hub_metrics_sum("cityhub_mqtt_messages_total"),
		 hub_metrics_sum("cityhub_records_total"), hub_metrics_sum("cityhub_rejected_total"),
		 hub_metrics_max("cityhub_consumer_lag_bytes"),
		 hub_metrics_sum("cityhub_alerts_firing"));
}

/* Starts what runs on a loaded config: the MQTT client, notifiers, consumers, the HTTP API,
 * then the subscription. The journal is open. */
static int start_services(struct hub *h)
{
	char err[512] = "";
	hub_log_set_level(h->log_level);
	h->ingest = hub_ingest_new(&h->cfg, h->journal, err, sizeof(err));
	if (!h->ingest) {
		hub_error("msg=\"cannot create MQTT client\" err=%s", hub_logq(err));
		return 1;
	}
	if (start_notifiers(h) != 0 || start_consumers(h) != 0)
		return 1;
	if (h->cfg.http.port > 0) {
		h->api = hub_api_new(&h->cfg, h->schemas, h->live);
		h->http = hub_http_start(&h->cfg, ready, h, h->api, err, sizeof(err));
		if (!h->http) {
			hub_error("msg=\"cannot start HTTP API\" err=%s", hub_logq(err));
			return 1;
		}
	}
	hub_ingest_start(h->ingest);
	return 0;
}

/* Stops in order: no new messages, consumers flush what they can (their cursors keep the
 * rest), notifiers deliver what they can (the monitor's snapshot keeps the rest). */
static void stop_services(struct hub *h)
{
	hub_http_stop(h->http);
	h->http = NULL;
	hub_api_free(h->api);
	h->api = NULL;
	if (h->ingest)
		hub_ingest_stop(h->ingest, SHUTDOWN_DISCONNECT_MS);
	for (size_t i = 0; i < h->nconsumers; i++)
		hub_consumer_drain(h->consumers[i]);
	long long deadline = hub_now_mono_ms() + SHUTDOWN_DRAIN_MS;
	for (size_t i = 0; i < h->nconsumers; i++) {
		long long left = deadline - hub_now_mono_ms();
		if (hub_consumer_join(h->consumers[i], left > 0 ? (int)left : 0) != HUB_OK) {
			hub_warn("msg=\"consumer did not drain in time; its backlog stays in the journal\" "
				 "consumer=%s", hub_logq(hub_consumer_name(h->consumers[i])));
			hub_consumer_stop(h->consumers[i]);
		}
	}
	for (size_t i = 0; i < h->nconsumers; i++)
		hub_consumer_free(h->consumers[i]);
	free(h->consumers);
	h->consumers = NULL;
	h->nconsumers = 0;
	for (size_t i = 0; i < h->nnotifiers; i++)
		hub_notifier_stop(h->notifiers[i], SHUTDOWN_NOTIFY_MS);
	for (size_t i = 0; i < h->nnotifiers; i++)
		hub_notifier_free(h->notifiers[i]);
	free(h->notifiers);
	h->notifiers = NULL;
	h->nnotifiers = 0;
	hub_ingest_free(h->ingest);
	h->ingest = NULL;
}

static void free_loaded(struct hub *h)
{
	hub_pipeline_free(h->pipeline);
	hub_live_free(h->live);
	hub_schemas_free(h->schemas);
	hub_config_free(&h->cfg);
	h->pipeline = NULL;
	h->live = NULL;
	h->schemas = NULL;
}

/* Trades the loaded config (config, schemas, routes, live state: refilled from the monitor's
 * snapshot when the new monitor starts) of a and b. */
static void swap_loaded(struct hub *a, struct hub *b)
{
	struct hub t = *a;
	a->cfg = b->cfg;
	a->schemas = b->schemas;
	a->pipeline = b->pipeline;
	a->live = b->live;
	a->log_level = b->log_level;
	b->cfg = t.cfg;
	b->schemas = t.schemas;
	b->pipeline = t.pipeline;
	b->live = t.live;
	b->log_level = t.log_level;
}

/* What a reload cannot change: the journal is open with the old settings. */
static int journal_unchanged(const struct hub_config *old, const struct hub_config *new)
{
	if (strcmp(old->journal.dir, new->journal.dir) == 0)
		return 1;
	complain("%s: journal.dir: cannot change while the hub runs (restart it to move the journal)",
		 new->path ? new->path : "(defaults)");
	return 0;
}

/* SIGHUP: reads the config again; a bad one is reported and the running one stays. A good one
 * replaces routes, rules, notifiers, sinks, limits and log level: services stop in order (every
 * cursor and the alert state are on disk), then start on the new config. Nothing is lost or
 * doubled: the broker keeps the session, consumers resume at their cursors. Returns 0, or 1
 * when neither config could be started (the hub then exits). */
static int reload(struct hub *h)
{
	struct hub next = {.args = h->args};
	hub_info("msg=\"reloading the config\" file=%s", hub_logq(h->args.config ? h->args.config : "(defaults)"));
	reloading = 1;
	int ok = load(&next, &h->args) == 0 && journal_unchanged(&h->cfg, &next.cfg);
	reloading = 0;
	if (!ok) {
		free_loaded(&next);
		return 0;
	}
	stop_services(h);
	swap_loaded(h, &next);
	if (start_services(h) != 0) {
		hub_error("msg=\"the new config did not start; going back to the old one\"");
		stop_services(h);
		swap_loaded(h, &next);
		if (start_services(h) != 0) {
			free_loaded(&next);
			return 1;
		}
	}
	free_loaded(&next);
	hub_info("msg=\"config reloaded\" routes=%zu sinks=%zu rules=%zu notifiers=%zu",
		 h->cfg.nroutes, h->cfg.nsinks, h->cfg.nrules, h->cfg.nnotifiers);
	return 0;
}

/* Waits for SIGTERM/SIGINT, reloading on SIGHUP, ticking once a second; logs progress every
 * log.progress_s. */
static int wait_for_signal(struct hub *h, const sigset_t *set)
{
	struct timespec tick = {1, 0};
	long long next_progress = hub_now_mono_ms() + (long long)h->cfg.log.progress_s * 1000;
	for (;;) {
		int sig = sigtimedwait(set, NULL, &tick);
		if (sig == SIGTERM || sig == SIGINT) {
			hub_info("msg=\"shutting down\" signal=%d", sig);
			return 0;
		}
		if (sig == SIGHUP && reload(h) != 0)
			return 1;
		hub_ingest_tick(h->ingest);
		update_journal_gauges(h);
		for (size_t i = 0; i < h->nconsumers; i++)
			hub_consumer_tick(h->consumers[i]);
		if (h->cfg.log.progress_s > 0 && hub_now_mono_ms() >= next_progress) {
			log_progress();
			next_progress = hub_now_mono_ms() + (long long)h->cfg.log.progress_s * 1000;
		}
	}
}

static void shutdown_hub(struct hub *h)
{
	stop_services(h);
	hub_journal_close(h->journal);
	free_loaded(h);
	hub_metrics_reset();
}

static int run(struct hub *h)
{
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	/* Block before any thread starts so only the main thread takes these signals. */
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
	if (open_journal(h) != 0 || start_services(h) != 0)
		return 1;
	hub_info("msg=\"cityhub started\" version=%s broker=%s sinks=%zu routes=%zu rules=%zu",
		 CITYHUB_VERSION, hub_logq(h->cfg.mqtt.url), h->cfg.nsinks, h->cfg.nroutes,
		 h->cfg.nrules);
	return wait_for_signal(h, &set);
}

int main(int argc, char **argv)
{
	struct args a = {0};
	int rc = parse_args(argc, argv, &a);
	if (rc >= 0)
		return rc;
	if (a.test_rules)
		return hub_test_rules(a.test_rules, stdout);
	struct hub h = {.args = a};
	rc = load(&h, &a);
	if (rc == 0 && a.check_only) {
		printf("%s: ok\n", a.config);
		if (!h.cfg.limits.require_timestamp && !*h.cfg.mqtt.share_group)
			printf("note: limits.require_timestamp is false: a record whose payload gives "
			       "no time gets its receive time, so the two hubs of an HA pair (same "
			       "routes, docs/scaling.md) would store it as two points; set it to true "
			       "there\n");
	} else if (rc == 0) {
		rc = run(&h);
	}
	shutdown_hub(&h);
	return rc;
}
