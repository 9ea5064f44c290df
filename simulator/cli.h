/* Command-line options of cityhub-sim, declared once in a table (name, type, range, help). */
#ifndef SIM_CLI_H
#define SIM_CLI_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

struct sim_cli {
	const char *broker;
	const char *client_id;
	const char *username, *password;
	const char *cafile, *cert, *key;
	int qos;
	const char *scenario;      /* a name from scenario_file, or a YAML file */
	const char *scenario_file; /* NULL = the installed mytho.yaml */
	uint64_t seed;
	int have_seed;
	double speed; /* < 0 = default (1, or 0 with --dry-run) */
	const char *start;
	const char *duration;
	int forever;          /* play the scenario again and again, each cycle after the last */
	const char *registry; /* write the sensor registry CSV here and exit */
	int dry_run;
	double rate;    /* > 0: load mode */
	uint64_t count; /* > 0: load mode */
	int sensors;
	uint64_t first;        /* load mode: first message index */
	const char *prefix;    /* load mode: sensor id prefix; NULL = load */
	const char *district;  /* load mode: topic district; NULL = the wards in turn */
	const char *load_kind; /* load mode: noise or air_quality; NULL = noise */
	const char *seq_time;  /* load mode: T0 of sequence times; NULL = send times */
	int ack_timeout;       /* seconds; 0 = the mode's default */
	int connections;
	int max_inflight;
	const char *summary; /* "-" = stdout */
	const char *log_level;
	int list;
	int help;
	int version;
};

/* Parses argv into *out (defaults first). HUB_OK, or HUB_EINVAL with a message in err. */
int sim_cli_parse(int argc, char **argv, struct sim_cli *out, char *err, size_t errlen);

/* Writes the option summary. */
void sim_cli_usage(FILE *out);

#endif
