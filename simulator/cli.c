#include "cli.h"

#include "cityhub/error.h"

#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

enum otype { O_STR, O_INT, O_U64, O_DOUBLE, O_FLAG, O_SPEED, O_SEED };

/* Which mode an option belongs to: given in the other mode it is a usage error, never ignored. */
enum omode { M_ANY, M_SCENARIO, M_LOAD };

struct opt {
	const char *name;
	enum otype type;
	size_t off;
	double lo, hi;
	const char *arg;
	const char *help;
	enum omode mode;
};

#define C(m) offsetof(struct sim_cli, m)

static const struct opt opts[] = {
    {"broker", O_STR, C(broker), 0, 0, "URL", "MQTT broker (default tcp://127.0.0.1:1883)", M_ANY},
    {"client-id", O_STR, C(client_id), 0, 0, "ID",
     "MQTT client id (default cityhub-sim-<pid>)", M_ANY},
    {"username", O_STR, C(username), 0, 0, "USER", "MQTT user name", M_ANY},
    {"password", O_STR, C(password), 0, 0, "PASS", "MQTT password", M_ANY},
    {"cafile", O_STR, C(cafile), 0, 0, "FILE",
     "CA certificates for TLS (ssl:// or mqtts://)", M_ANY},
    {"cert", O_STR, C(cert), 0, 0, "FILE", "client certificate (PEM)", M_ANY},
    {"key", O_STR, C(key), 0, 0, "FILE", "client private key (PEM)", M_ANY},
    {"qos", O_INT, C(qos), 0, 2, "N", "publish QoS (default 1)", M_ANY},
    {"scenario", O_STR, C(scenario), 0, 0, "NAME|FILE",
     "named scenario (default normal-day) or a scenario YAML file", M_SCENARIO},
    {"scenario-file", O_STR, C(scenario_file), 0, 0, "FILE",
     "file holding the named scenarios (default the installed mytho.yaml)", M_SCENARIO},
    {"list-scenarios", O_FLAG, C(list), 0, 0, NULL, "list the named scenarios and exit", M_ANY},
    {"seed", O_SEED, C(seed), 0, 0, "N", "random seed (default: the scenario's)", M_SCENARIO},
    {"speed", O_SPEED, C(speed), 0, 1e9, "N|max",
     "simulated seconds per wall second; 0 or max = no pacing (default 1; max with --dry-run)",
     M_SCENARIO},
    {"start", O_STR, C(start), 0, 0, "TIME",
     "simulated start, e.g. 2026-03-10T06:00:00+07:00, or now (the wall clock)", M_SCENARIO},
    {"duration", O_STR, C(duration), 0, 0, "DUR",
     "simulated duration, e.g. 90s, 10m, 1h30m, 2d", M_SCENARIO},
    {"forever", O_FLAG, C(forever), 0, 0, NULL,
     "play the scenario again at its end, shifted by its duration, until stopped", M_SCENARIO},
    {"registry", O_STR, C(registry), 0, 0, "FILE",
     "write the scenario's sensors as a hub sensor registry (CSV) and exit", M_SCENARIO},
    {"dry-run", O_FLAG, C(dry_run), 0, 0, NULL, "print topic<TAB>payload lines, no broker", M_ANY},
    {"rate", O_DOUBLE, C(rate), 0.001, 1e7, "MSGS_PER_S", "load mode: publish rate", M_LOAD},
    {"count", O_U64, C(count), 1, 1e12, "N",
     "load mode: messages in total (default 10000)", M_LOAD},
    {"sensors", O_INT, C(sensors), 1, 1000000, "N",
     "load mode: distinct sensors (default 1000)", M_LOAD},
    {"first", O_U64, C(first), 0, 1e12, "I",
     "load mode: index of the first message (default 0)", M_LOAD},
    {"prefix", O_STR, C(prefix), 0, 0, "P", "load mode: sensor ids P-NNNNN (default load)", M_LOAD},
    {"district", O_STR, C(district), 0, 0, "D", "load mode: district level of every topic", M_LOAD},
    {"load-kind", O_STR, C(load_kind), 0, 0, "KIND",
     "load mode: noise (default) or air_quality", M_LOAD},
    {"seq-time", O_STR, C(seq_time), 0, 0, "T0",
     "load mode: message i's time = T0 + i ms (epoch ms or RFC 3339)", M_LOAD},
    {"connections", O_INT, C(connections), 1, 256, "K", "MQTT connections (default 1)", M_ANY},
    {"max-inflight", O_INT, C(max_inflight), 1, 65535, "N",
     "unacknowledged messages per connection (default 100)", M_ANY},
    {"ack-timeout", O_INT, C(ack_timeout), 1, 86400, "S",
     "wait S s for acknowledgements at the end (default 30, load mode 60)", M_ANY},
    {"summary", O_STR, C(summary), 0, 0, "FILE", "where the JSON summary goes (default -)", M_ANY},
    {"log-level", O_STR, C(log_level), 0, 0, "LEVEL",
     "debug|info|warn|error (default info)", M_ANY},
    {"help", O_FLAG, C(help), 0, 0, NULL, "show this help", M_ANY},
    {"version", O_FLAG, C(version), 0, 0, NULL, "show the version", M_ANY},
};

#define NOPTS ((int)(sizeof(opts) / sizeof(opts[0])))

void sim_cli_usage(FILE *out)
{
	fputs("usage: cityhub-sim [options]\n"
	      "Plays the My Tho pilot sensor network against an MQTT broker.\n\n",
	      out);
	for (int i = 0; i < NOPTS; i++) {
		char left[64];
		snprintf(left, sizeof(left), "--%s%s%s", opts[i].name, opts[i].arg ? " " : "",
		         opts[i].arg ? opts[i].arg : "");
		fprintf(out, "  %-28s %s\n", left, opts[i].help);
	}
}

static int parse_number(const struct opt *o, const char *s, double *out)
{
	char *end;
	errno = 0;
	double v = strtod(s, &end);
	if (end == s || *end || errno || !(v >= o->lo && v <= o->hi))
		return HUB_ERANGE;
	if ((o->type == O_INT || o->type == O_U64) && v != floor(v))
		return HUB_EINVAL;
	*out = v;
	return HUB_OK;
}

static int set_value(const struct opt *o, const char *arg, struct sim_cli *c)
{
	void *field = (char *)c + o->off;
	double v;
	char *end;
	switch (o->type) {
	case O_STR:
		*(const char **)field = arg;
		return HUB_OK;
	case O_FLAG:
		*(int *)field = 1;
		return HUB_OK;
	case O_SEED:
		errno = 0;
		c->seed = strtoull(arg, &end, 0);
		c->have_seed = 1;
		return end == arg || *end || errno || *arg == '-' ? HUB_EINVAL : HUB_OK;
	case O_SPEED:
		if (strcmp(arg, "max") == 0) {
			c->speed = 0;
			return HUB_OK;
		}
		break;
	default:
		break;
	}
	if (parse_number(o, arg, &v))
		return HUB_EINVAL;
	if (o->type == O_INT)
		*(int *)field = (int)v;
	else if (o->type == O_U64)
		*(uint64_t *)field = (uint64_t)v;
	else
		*(double *)field = v;
	return HUB_OK;
}

static void defaults(struct sim_cli *c)
{
	memset(c, 0, sizeof(*c));
	c->broker = "tcp://127.0.0.1:1883";
	c->qos = 1;
	c->speed = -1;
	c->sensors = 1000;
	c->connections = 1;
	c->max_inflight = 100;
	c->summary = "-";
	c->log_level = "info";
}

/* Options of one mode given in the other: "--duration is a scenario option ...". */
static int check_modes(const struct sim_cli *c, const unsigned char *given, char *err,
                       size_t errlen)
{
	int load = c->rate > 0 || c->count > 0;
	for (int i = 0; i < NOPTS; i++) {
		if (!given[i] || opts[i].mode == M_ANY || (opts[i].mode == M_LOAD) == load)
			continue;
		if (load)
			snprintf(err, errlen, "--%s is a scenario option: it has no effect in load mode "
			         "(--rate or --count); run a scenario without them, or leave it out",
			         opts[i].name);
		else
			snprintf(err, errlen, "--%s is a load-mode option: it needs --rate or --count",
			         opts[i].name);
		return HUB_EINVAL;
	}
	return HUB_OK;
}

int sim_cli_parse(int argc, char **argv, struct sim_cli *out, char *err, size_t errlen)
{
	struct option longopts[NOPTS + 1];
	unsigned char given[NOPTS] = {0};
	int idx;
	defaults(out);
	for (int i = 0; i < NOPTS; i++)
		longopts[i] = (struct option){
		    opts[i].name, opts[i].type == O_FLAG ? no_argument : required_argument, NULL,
		    0};
	longopts[NOPTS] = (struct option){NULL, 0, NULL, 0};
	optind = 1;
	opterr = 0;
	for (;;) {
		idx = -1;
		int ch = getopt_long(argc, argv, "h", longopts, &idx);
		if (ch == -1)
			break;
		if (ch == 'h') {
			out->help = 1;
			continue;
		}
		if (ch != 0 || idx < 0) {
			snprintf(err, errlen, "unknown option or missing value: %s",
			         argv[optind - 1]);
			return HUB_EINVAL;
		}
		if (set_value(&opts[idx], optarg, out)) {
			snprintf(err, errlen, "bad value for --%s: %s", opts[idx].name, optarg);
			return HUB_EINVAL;
		}
		given[idx] = 1;
	}
	if (optind < argc) {
		snprintf(err, errlen, "unexpected argument: %s", argv[optind]);
		return HUB_EINVAL;
	}
	return check_modes(out, given, err, errlen);
}
