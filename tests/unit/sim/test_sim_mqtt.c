/* cityhub-sim against a real broker: a private mosquitto on a free loopback port, a
 * mosquitto_sub counting what arrives; a load run across a restart of a broker with
 * persistence; a scenario run that loses its broker. Skipped when mosquitto is not
 * installed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "cityhub/error.h"
#include "sim_test_util.h"
#include "simtime.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>

#define RESTART_N 10000
#define T0_MS 1795687200000LL

struct env {
	char dir[64];
	int port;
	pid_t broker;
	pid_t procs[4]; /* a test's own brokers and subscribers: teardown stops what is left */
};

static int free_port(void)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) ||
	    getsockname(fd, (struct sockaddr *)&a, &len))
		return -1;
	close(fd);
	return ntohs(a.sin_port);
}

static int can_connect(int port)
{
	struct sockaddr_in a = {.sin_family = AF_INET,
	                        .sin_port = htons((uint16_t)port),
	                        .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	int ok = fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0;
	if (fd >= 0)
		close(fd);
	return ok;
}

/* Starts argv with stdout into out_path and stderr into err_path (NULL: /dev/null). */
static pid_t spawn(char *const argv[], const char *out_path, const char *err_path)
{
	pid_t pid = fork();
	if (pid == 0) {
		if (out_path && !freopen(out_path, "w", stdout))
			_exit(127);
		if (!freopen(err_path ? err_path : "/dev/null", "w", stderr))
			_exit(127);
		execv(argv[0], argv);
		_exit(127);
	}
	return pid;
}

/* spawn() of a command line split at spaces (no quoting: paths here have no spaces). */
static pid_t spawn_words(char *cmd, const char *out_path, const char *err_path)
{
	char *argv[40], *save = NULL;
	int n = 0;
	for (char *w = strtok_r(cmd, " ", &save); w && n < 39; w = strtok_r(NULL, " ", &save))
		argv[n++] = w;
	argv[n] = NULL;
	return spawn(argv, out_path, err_path);
}

static void stop(pid_t pid)
{
	if (pid <= 0)
		return;
	kill(pid, SIGTERM);
	waitpid(pid, NULL, 0);
}

/* Remembers pid (> 0) for teardown; returns it. */
static pid_t keep(struct env *e, pid_t pid)
{
	for (int i = 0; i < 4 && pid > 0; i++) {
		if (!e->procs[i]) {
			e->procs[i] = pid;
			break;
		}
	}
	return pid;
}

/* Stops a pid given to keep() and forgets it. */
static void stop_kept(struct env *e, pid_t pid)
{
	for (int i = 0; i < 4; i++)
		if (e->procs[i] == pid)
			e->procs[i] = 0;
	stop(pid);
}

static void sleep_ms(int ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

/* Starts mosquitto on port with its configuration (and, with persistence, its database) in
 * dir; returns its pid once it accepts connections, or -1. */
static pid_t start_broker(const char *dir, int port, int persistence)
{
	char conf[128];
	snprintf(conf, sizeof(conf), "%s/mosquitto.conf", dir);
	FILE *fp = fopen(conf, "w");
	if (!fp)
		return -1;
	fprintf(fp, "listener %d 127.0.0.1\nallow_anonymous true\nmax_queued_messages 0\n", port);
	if (persistence)
		fprintf(fp, "persistence true\npersistence_location %s/\nautosave_interval 0\n",
		        dir);
	else
		fprintf(fp, "persistence false\n");
	fclose(fp);
	char *argv[] = {"/usr/sbin/mosquitto", "-c", conf, NULL};
	pid_t pid = spawn(argv, NULL, NULL);
	for (int i = 0; i < 100 && !can_connect(port); i++)
		sleep_ms(50);
	if (!can_connect(port)) {
		stop(pid);
		return -1;
	}
	return pid;
}

static int setup(void **state)
{
	static struct env e;
	if (access("/usr/sbin/mosquitto", X_OK) || access("/usr/bin/mosquitto_sub", X_OK)) {
		*state = NULL;
		return 0;
	}
	snprintf(e.dir, sizeof(e.dir), "/tmp/test_sim_mqtt_XXXXXX");
	if (!mkdtemp(e.dir) || (e.port = free_port()) < 0)
		return -1;
	e.broker = start_broker(e.dir, e.port, 0);
	*state = &e;
	return e.broker > 0 ? 0 : -1;
}

static int teardown(void **state)
{
	struct env *e = *state;
	char cmd[128];
	if (!e)
		return 0;
	stop(e->broker);
	for (int i = 0; i < 4; i++)
		stop(e->procs[i]);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", e->dir);
	return system(cmd) == 0 ? 0 : -1;
}

/* Starts mosquitto_sub on '#' writing one line per message into path. */
static pid_t subscribe(const struct env *e, const char *path)
{
	char port[16];
	snprintf(port, sizeof(port), "%d", e->port);
	char *argv[] = {"/usr/bin/mosquitto_sub",
	                "-h",
	                "127.0.0.1",
	                "-p",
	                port,
	                "-q",
	                "1",
	                "-t",
	                "#",
	                "-F",
	                "%t",
	                NULL};
	pid_t pid = spawn(argv, path, NULL);
	sleep_ms(300); /* let the subscription settle before publishing */
	return pid;
}

/* Waits up to 10 s for path to hold `want` lines; returns the final count. */
static long wait_lines(const char *path, long want)
{
	long n = 0;
	for (int i = 0; i < 200; i++) {
		FILE *fp = fopen(path, "r");
		int c;
		n = 0;
		while (fp && (c = fgetc(fp)) != EOF)
			n += c == '\n';
		if (fp)
			fclose(fp);
		if (n >= want)
			break;
		sleep_ms(50);
	}
	return n;
}

static void test_scenario_over_mqtt(void **state)
{
	struct env *e = *state;
	char args[256], path[128];
	struct hub_buf out = {0}, err = {0};
	if (!e)
		skip();
	snprintf(path, sizeof(path), "%s/scenario.txt", e->dir);
	pid_t sub = subscribe(e, path);
	snprintf(args, sizeof(args),
	         "--broker tcp://127.0.0.1:%d --duration 10m --speed 0 --seed 5", e->port);
	int rc = run_sim(args, &out, &err);
	if (rc)
		fprintf(stderr, "%s%s\n", err.data ? err.data : "", out.data ? out.data : "");
	assert_int_equal(rc, 0);
	json_t *sum = summary_of(&out);
	assert_non_null(sum);
	long long total = jint(sum, "messages", "total", NULL);
	assert_true(total > 150);
	assert_int_equal(jint(sum, "publish", "acked", NULL), total);
	assert_int_equal(jint(sum, "publish", "failed", NULL), 0);
	assert_int_equal(wait_lines(path, total), total);
	stop(sub);
	json_decref(sum);
	hub_buf_fini(&out);
	hub_buf_fini(&err);
}

static void test_load_over_mqtt(void **state)
{
	struct env *e = *state;
	char args[256], path[128];
	struct hub_buf out = {0}, err = {0};
	if (!e)
		skip();
	snprintf(path, sizeof(path), "%s/load.txt", e->dir);
	pid_t sub = subscribe(e, path);
	snprintf(args, sizeof(args),
	         "--broker tcp://127.0.0.1:%d --rate 5000 --count 3000 --sensors 100 "
	         "--connections 3 --max-inflight 50",
	         e->port);
	assert_int_equal(run_sim(args, &out, &err), 0);
	json_t *sum = summary_of(&out);
	assert_non_null(sum);
	assert_int_equal(jint(sum, "sent", NULL), 3000);
	assert_int_equal(jint(sum, "acked", NULL), 3000);
	assert_int_equal(jint(sum, "failed", NULL), 0);
	assert_int_equal(jint(sum, "connections", NULL), 3);
	assert_int_equal(wait_lines(path, 3000), 3000);
	stop(sub);
	json_decref(sum);
	hub_buf_fini(&out);
	hub_buf_fini(&err);
}

/* Waits up to ms for pid's exit; returns its exit status, or -1 (then it is killed). */
static int wait_exit(pid_t pid, int ms)
{
	int st;
	for (int i = 0; i < ms / 50; i++) {
		if (waitpid(pid, &st, WNOHANG) == pid)
			return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
		sleep_ms(50);
	}
	kill(pid, SIGKILL);
	waitpid(pid, &st, 0);
	return -1;
}

static void read_all(const char *path, struct hub_buf *buf)
{
	char chunk[4096];
	size_t n;
	FILE *fp = fopen(path, "r");
	while (fp && (n = fread(chunk, 1, sizeof(chunk), fp)) > 0)
		hub_buf_append(buf, chunk, n);
	if (fp)
		fclose(fp);
	hub_buf_append(buf, "", 0);
}

/* The index i of a payload of the restart run (sensor rs-<i mod 50>, time T0 + i ms,
 * pm25 = i mod 1000 + 0.25), or -1 when it is not exactly one of them. */
static long message_index(const char *payload)
{
	json_t *v = json_loads(payload, 0, NULL);
	const char *t = json_string_value(json_object_get(v, "time"));
	const char *id = json_string_value(json_object_get(v, "sensor_id"));
	double pm = json_real_value(json_object_get(json_object_get(v, "fields"), "pm25"));
	char want[32];
	int64_t ns;
	long i = -1;
	if (t && id && sim_time_parse(t, 0, &ns) == HUB_OK) {
		i = (long)(ns / 1000000 - T0_MS);
		snprintf(want, sizeof(want), "rs-%05ld", i % 50);
		if (i < 0 || i >= RESTART_N || strcmp(id, want) || pm != (double)(i % 1000) + 0.25)
			i = -1;
	}
	json_decref(v);
	return i;
}

/* Marks in seen the messages of the restart run among the complete lines of path (one
 * payload each); returns how many distinct ones, or -1 after a line that is none of them. */
static long distinct_messages(const char *path, unsigned char *seen)
{
	char line[512];
	long distinct = 0;
	FILE *fp = fopen(path, "r");
	memset(seen, 0, RESTART_N);
	while (fp && fgets(line, sizeof(line), fp) && strchr(line, '\n')) {
		long i = message_index(line);
		if (i < 0) {
			fprintf(stderr, "unexpected message: %s", line);
			distinct = -1;
			break;
		}
		distinct += !seen[i];
		seen[i] = 1;
	}
	if (fp)
		fclose(fp);
	return distinct;
}

/* Waits up to 20 s until path holds every message of the restart run; returns the count. */
static long wait_distinct(const char *path)
{
	unsigned char *seen = malloc(RESTART_N);
	long n = 0;
	for (int i = 0; i < 400 && n >= 0 && n < RESTART_N; i++) {
		n = distinct_messages(path, seen);
		if (n >= 0 && n < RESTART_N)
			sleep_ms(50);
	}
	free(seen);
	return n;
}

/* A test's own broker, in a folder of the test's environment. */
struct own {
	char dir[96], sum_path[128], err_path[128], url[64];
	int port;
	pid_t broker;
};

/* Makes e->dir/name and starts a broker there on a free port; 0, or -1 on failure. */
static int own_broker(struct env *e, const char *name, int persistence, struct own *o)
{
	snprintf(o->dir, sizeof(o->dir), "%s/%s", e->dir, name);
	snprintf(o->sum_path, sizeof(o->sum_path), "%s/summary.json", o->dir);
	snprintf(o->err_path, sizeof(o->err_path), "%s/sim.err", o->dir);
	o->port = free_port();
	snprintf(o->url, sizeof(o->url), "tcp://127.0.0.1:%d", o->port);
	if (mkdir(o->dir, 0700))
		return -1;
	o->broker = keep(e, start_broker(o->dir, o->port, persistence));
	return o->broker > 0 ? 0 : -1;
}

/* A QoS 1 load run while its broker (persistence on) is stopped for a second: the simulator
 * reconnects, publishes again what was in flight, and every message gets acknowledged and
 * reaches a subscriber with a persistent session. */
static void test_load_survives_broker_restart(void **state)
{
	struct env *e = *state;
	struct own o;
	char sub_path[160], cmd[512];
	struct hub_buf err = {0};
	if (!e)
		skip();
	assert_int_equal(own_broker(e, "restart", 1, &o), 0);
	snprintf(sub_path, sizeof(sub_path), "%s/sub.txt", o.dir);
	snprintf(cmd, sizeof(cmd),
	         "/usr/bin/mosquitto_sub -h 127.0.0.1 -p %d -q 1 -c -i sim-restart-sub -t city/# "
	         "-F %%p",
	         o.port);
	pid_t sub = keep(e, spawn_words(cmd, sub_path, NULL));
	sleep_ms(300);
	snprintf(
	    cmd, sizeof(cmd),
	    "%s --broker %s --rate 2000 --count %d --sensors 50 --prefix rs --district restart "
	    "--load-kind air_quality --seq-time %lld --max-inflight 500 --summary %s",
	    getenv("CITYHUB_SIM"), o.url, RESTART_N, T0_MS, o.sum_path);
	pid_t sim = spawn_words(cmd, NULL, o.err_path);
	sleep_ms(1500);
	stop_kept(e, o.broker); /* SIGTERM: mosquitto saves its database, the session included */
	sleep_ms(1000);
	o.broker = keep(e, start_broker(o.dir, o.port, 1));
	assert_true(o.broker > 0);
	int rc = wait_exit(sim, 60000);
	read_all(o.err_path, &err);
	if (rc)
		fprintf(stderr, "%s\n", err.data);
	assert_int_equal(rc, 0);
	assert_non_null(strstr(err.data, "connection_losses=1"));
	json_t *sum = json_load_file(o.sum_path, 0, NULL);
	assert_non_null(sum);
	assert_int_equal(jint(sum, "sent", NULL), RESTART_N);
	assert_int_equal(jint(sum, "acked", NULL), RESTART_N);
	assert_int_equal(jint(sum, "failed", NULL), 0);
	assert_int_equal(wait_distinct(sub_path), RESTART_N);
	stop_kept(e, sub);
	stop_kept(e, o.broker);
	json_decref(sum);
	hub_buf_fini(&err);
}

/* Scenario mode does not reconnect (its counts must match what the hub saw): when the broker
 * goes away the run ends at once, with exit status 1 and the summary written. */
static void test_scenario_ends_when_broker_goes(void **state)
{
	struct env *e = *state;
	struct own o;
	char cmd[512];
	struct hub_buf err = {0};
	if (!e)
		skip();
	assert_int_equal(own_broker(e, "lost", 0, &o), 0);
	/* one simulated hour at 60x: a minute, unless the run ends early */
	snprintf(cmd, sizeof(cmd), "%s --broker %s --duration 1h --speed 60 --summary %s",
	         getenv("CITYHUB_SIM"), o.url, o.sum_path);
	pid_t sim = spawn_words(cmd, NULL, o.err_path);
	sleep_ms(1500);
	stop_kept(e, o.broker);
	int rc = wait_exit(sim, 20000);
	read_all(o.err_path, &err);
	assert_int_equal(rc, 1);
	assert_non_null(strstr(err.data, "connection lost, scenario ends"));
	json_t *sum = json_load_file(o.sum_path, 0, NULL);
	assert_non_null(sum);
	assert_true(jint(sum, "publish", "sent", NULL) > 0);
	assert_false(json_is_true(json_object_get(sum, "stopped")));
	json_decref(sum);
	hub_buf_fini(&err);
}

static void test_connect_refused(void **state)
{
	struct hub_buf out = {0}, err = {0};
	char args[128];
	(void)state;
	int port = free_port();
	snprintf(args, sizeof(args), "--broker tcp://127.0.0.1:%d --duration 1m", port);
	assert_int_equal(run_sim(args, &out, &err), 1);
	assert_non_null(strstr(err.data, "cannot connect"));
	hub_buf_fini(&out);
	hub_buf_fini(&err);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_scenario_over_mqtt),
	    cmocka_unit_test(test_load_over_mqtt),
	    cmocka_unit_test(test_load_survives_broker_restart),
	    cmocka_unit_test(test_scenario_ends_when_broker_goes),
	    cmocka_unit_test(test_connect_refused),
	};
	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, setup, teardown);
}
