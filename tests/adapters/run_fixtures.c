/* Fixture-driven adapter tests. For a format directory DIR:
 *   DIR/route.json   {"adapter": "...", "kind": null|"...", "template": null|"...",
 *                     "options": {...}, "topic": "default topic", "recv_ns": 1764150000000000000,
 *                     "limits": {"max_payload_bytes": N, ...}}   (all but adapter optional)
 *   DIR/<case>.in    the payload, byte for byte
 *   DIR/<case>.topic optional: the topic for this case (one line)
 *   DIR/<case>.lp    expected line protocol, every line, in order, then one
 *                    "# dropped kind=K field=F" line per field unknown_fields: drop left out
 *   (route.json may also give the route's "kinds", "unknown_fields", "keep_max_fields")
 *   DIR/<case>.err   or: the expected reject reason (first line)
 * Each case runs through the whole pipeline (route, adapter, template, limits, schema, line
 * protocol), so a fixture pins exactly what reaches InfluxDB. `--print` shows what a case
 * produces instead of comparing. Exit status 1 when any case fails. */
#include <dirent.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cityhub/buf.h"
#include "cityhub/error.h"
#include "cityhub/schema.h"
#include "config.h"
#include "lineproto.h"
#include "pipeline.h"

struct suite {
	const char *dir;
	struct hub_config cfg;
	struct hub_cfg_route route;
	char *topic;
	int64_t recv_ns;
	struct hub_schemas *schemas;
	struct hub_pipeline *pipe;
	int print;
};

static int read_file(const char *path, struct hub_buf *out)
{
	FILE *fp = fopen(path, "rb");
	if (!fp)
		return -1;
	char chunk[65536];
	size_t n;
	hub_buf_clear(out);
	hub_buf_reserve(out, 0);
	while ((n = fread(chunk, 1, sizeof(chunk), fp)) > 0)
		hub_buf_append(out, chunk, n);
	fclose(fp);
	return 0;
}

static char *opt_string(json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));
	return s ? hub_xstrdup(s) : NULL;
}

static int64_t opt_int(json_t *o, const char *key, int64_t dflt)
{
	json_t *v = json_object_get(o, key);
	return json_is_integer(v) ? json_integer_value(v) : dflt;
}

static int load_route(struct suite *s)
{
	char path[4096];
	snprintf(path, sizeof(path), "%s/route.json", s->dir);
	json_error_t jerr;
	json_t *root = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);
	if (!root) {
		fprintf(stderr, "%s:%d: %s\n", path, jerr.line, jerr.text);
		return -1;
	}
	s->route.filter = hub_xstrdup("#");
	s->route.adapter = opt_string(root, "adapter");
	s->route.kind = opt_string(root, "kind");
	s->route.template = opt_string(root, "template");
	json_t *opts = json_object_get(root, "options"), *kinds = json_object_get(root, "kinds");
	s->route.options = opts ? json_incref(opts) : json_object();
	s->route.kinds = kinds ? json_incref(kinds) : json_object();
	const char *unknown = json_string_value(json_object_get(root, "unknown_fields"));
	s->route.unknown_fields = !unknown || !strcmp(unknown, "reject") ? HUB_UNKNOWN_REJECT
	                          : !strcmp(unknown, "drop")             ? HUB_UNKNOWN_DROP
	                                                                 : HUB_UNKNOWN_KEEP;
	s->route.keep_max_fields = (int)opt_int(root, "keep_max_fields", 8);
	s->topic = opt_string(root, "topic");
	s->recv_ns = opt_int(root, "recv_ns", 1764150000000000000LL);
	json_t *lim = json_object_get(root, "limits");
	s->cfg.limits.max_payload_bytes = opt_int(lim, "max_payload_bytes", 2 * 1024 * 1024);
	s->cfg.limits.max_fields = (int)opt_int(lim, "max_fields", 32);
	s->cfg.limits.max_records = (int)opt_int(lim, "max_records", 1000);
	s->cfg.limits.max_string_bytes = (int)opt_int(lim, "max_string_bytes", 1024);
	s->cfg.limits.max_series = opt_int(lim, "max_series", 100000);
	s->cfg.routes = &s->route;
	s->cfg.nroutes = 1;
	s->cfg.path = path;
	json_decref(root);
	if (!s->route.adapter) {
		fprintf(stderr, "%s: needs \"adapter\"\n", path);
		return -1;
	}
	char err[512];
	s->pipe = hub_pipeline_new(&s->cfg, s->schemas, hub_adapter_all(), err, sizeof(err));
	s->cfg.path = NULL;
	if (!s->pipe)
		fprintf(stderr, "%s\n", err);
	return s->pipe ? 0 : -1;
}

static void trim(struct hub_buf *b)
{
	while (b->len && (b->data[b->len - 1] == '\n' || b->data[b->len - 1] == '\r'))
		b->data[--b->len] = '\0';
}

/* Produces "lines" or "!reason: detail" for one case into got. */
static void run_case(struct suite *s, const char *name, struct hub_buf *got)
{
	struct hub_buf payload = {0}, topic = {0};
	char path[4096];
	snprintf(path, sizeof(path), "%s/%s.in", s->dir, name);
	read_file(path, &payload);
	snprintf(path, sizeof(path), "%s/%s.topic", s->dir, name);
	if (read_file(path, &topic) == 0)
		trim(&topic);
	else
		hub_buf_puts(&topic, s->topic ? s->topic : "test/topic");
	struct hub_msg msg = {.topic = topic.data, .topic_len = topic.len,
			      .payload = (const uint8_t *)payload.data, .len = payload.len,
			      .recv_ns = s->recv_ns};
	struct hub_recset rs;
	struct hub_reject rej = {0};
	const char *adapter;
	hub_recset_init(&rs, 0);
	hub_buf_clear(got);
	if (hub_pipeline_decode(s->pipe, &msg, &rs, &rej, &adapter) != HUB_OK) {
		hub_buf_printf(got, "!%s: %s", rej.reason, rej.detail);
	} else {
		for (size_t i = 0; i < rs.n; i++)
			if (hub_lp_encode(got, &rs.recs[i]) != HUB_OK)
				hub_buf_printf(got, "!encode-failed record %zu\n", i);
		/* What unknown_fields: drop left out, as the monitor would count it. */
		for (size_t i = 0; i < rs.ndropped; i++)
			hub_buf_printf(got, "# dropped kind=%s field=%s\n", rs.dropped[i].kind,
			               rs.dropped[i].field);
		if (rs.dropped_more)
			hub_buf_printf(got, "# dropped more=%llu\n",
			               (unsigned long long)rs.dropped_more);
		trim(got);
	}
	hub_recset_fini(&rs);
	hub_buf_fini(&payload);
	hub_buf_fini(&topic);
}

/* Compares got with the case's .lp or .err file; prints a line per case. Returns 0 on pass. */
static int check_case(struct suite *s, const char *name, struct hub_buf *got)
{
	struct hub_buf want = {0};
	char path[4096];
	int rc = 1;
	snprintf(path, sizeof(path), "%s/%s.lp", s->dir, name);
	if (read_file(path, &want) == 0) {
		trim(&want);
		rc = got->len != want.len || memcmp(got->data, want.data, want.len) != 0;
	} else {
		snprintf(path, sizeof(path), "%s/%s.err", s->dir, name);
		if (read_file(path, &want) == 0) {
			char *nl = strchr(want.data, '\n');
			if (nl)
				*nl = '\0';
			size_t n = strlen(want.data);
			rc = !(got->len > n + 1 && got->data[0] == '!' &&
			       memcmp(got->data + 1, want.data, n) == 0 && got->data[n + 1] == ':');
		} else {
			hub_buf_puts(&want, "(no .lp or .err file)");
		}
	}
	printf("%s %s/%s\n", rc ? "not ok" : "ok", s->dir, name);
	if (rc)
		printf("#   want: %s\n#   got:  %s\n", want.data ? want.data : "", got->data ? got->data : "");
	hub_buf_fini(&want);
	return rc;
}

static int is_case(const struct dirent *d)
{
	size_t n = strlen(d->d_name);
	return n > 3 && strcmp(d->d_name + n - 3, ".in") == 0;
}

int main(int argc, char **argv)
{
	struct suite s = {0};
	int argi = 1;
	if (argi < argc && strcmp(argv[argi], "--print") == 0) {
		s.print = 1;
		argi++;
	}
	if (argi >= argc) {
		fprintf(stderr, "usage: run_fixtures [--print] DIR [CASE...]\n");
		return 2;
	}
	s.dir = argv[argi++];
	char err[512];
	s.schemas = hub_schemas_load_builtin(err, sizeof(err));
	if (!s.schemas || load_route(&s) != 0) {
		fprintf(stderr, "%s\n", s.schemas ? "bad route.json" : err);
		return 2;
	}
	struct dirent **names;
	int n = scandir(s.dir, &names, is_case, alphasort), failed = 0, total = 0;
	struct hub_buf got = {0};
	for (int i = 0; i < n; i++) {
		char *name = names[i]->d_name;
		name[strlen(name) - 3] = '\0';
		int wanted = argi >= argc;
		for (int a = argi; a < argc; a++)
			wanted |= strcmp(argv[a], name) == 0;
		if (wanted) {
			run_case(&s, name, &got);
			total++;
			if (s.print)
				printf("== %s\n%s\n", name, got.data);
			else
				failed += check_case(&s, name, &got);
		}
		free(names[i]);
	}
	free(names);
	printf("# %d cases, %d failed\n", total, failed);
	hub_buf_fini(&got);
	hub_pipeline_free(s.pipe);
	hub_schemas_free(s.schemas);
	free(s.route.filter);
	free(s.route.adapter);
	free(s.route.kind);
	free(s.route.template);
	free(s.topic);
	json_decref(s.route.options);
	json_decref(s.route.kinds);
	return failed || total == 0 ? 1 : 0;
}
