/* cityhub-sim against a real broker: a private mosquitto on a free loopback port, a
 * mosquitto_sub counting what arrives. Skipped when mosquitto is not installed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "sim_test_util.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <time.h>

struct env {
	char dir[64];
	int port;
	pid_t broker;
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

static pid_t spawn(char *const argv[], const char *out_path)
{
	pid_t pid = fork();
	if (pid == 0) {
		if (out_path && !freopen(out_path, "w", stdout))
			_exit(127);
		if (!freopen("/dev/null", "w", stderr))
			_exit(127);
		execv(argv[0], argv);
		_exit(127);
	}
	return pid;
}

static void stop(pid_t pid)
{
	if (pid <= 0)
		return;
	kill(pid, SIGTERM);
	waitpid(pid, NULL, 0);
}

static void sleep_ms(int ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

static int setup(void **state)
{
	static struct env e;
	char conf[128];
	if (access("/usr/sbin/mosquitto", X_OK) || access("/usr/bin/mosquitto_sub", X_OK)) {
		*state = NULL;
		return 0;
	}
	snprintf(e.dir, sizeof(e.dir), "/tmp/test_sim_mqtt_XXXXXX");
	if (!mkdtemp(e.dir) || (e.port = free_port()) < 0)
		return -1;
	snprintf(conf, sizeof(conf), "%s/mosquitto.conf", e.dir);
	FILE *fp = fopen(conf, "w");
	if (!fp)
		return -1;
	fprintf(fp,
	        "listener %d 127.0.0.1\nallow_anonymous true\nmax_queued_messages 200000\n"
	        "persistence false\n",
	        e.port);
	fclose(fp);
	char *argv[] = {"/usr/sbin/mosquitto", "-c", conf, NULL};
	e.broker = spawn(argv, NULL);
	for (int i = 0; i < 100 && !can_connect(e.port); i++)
		sleep_ms(50);
	*state = &e;
	return can_connect(e.port) ? 0 : -1;
}

static int teardown(void **state)
{
	struct env *e = *state;
	char cmd[128];
	if (!e)
		return 0;
	stop(e->broker);
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
	pid_t pid = spawn(argv, path);
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
	    cmocka_unit_test(test_connect_refused),
	};
	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, setup, teardown);
}
