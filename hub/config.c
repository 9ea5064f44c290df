/* Configuration: libyaml events -> a small node tree -> table-driven binding into struct
 * hub_config. Every key lives in exactly one table row (path, type, place, default, range, doc);
 * loading, defaults, freeing and the generated reference all walk the same rows. */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <netdb.h>
#include <yaml.h>

#include "buf.h"
#include "cityhub/error.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
#define MAX_DEPTH 32  /* nesting deeper than this is refused (stack safety) */
#define MAX_KEYS 64   /* rows per table; checked with static asserts below */
#define PATH_MAX_LEN 256
#define MAX_ERRORS 50 /* errors reported from one file; the rest are counted */

/* ---------------------------------------------------------------------------------------- */
/* The node tree */

enum node_kind { NODE_SCALAR, NODE_MAP, NODE_SEQ };

struct node {
	enum node_kind kind;
	int line;     /* 1-based line where the node starts */
	int quoted;   /* scalar: written quoted or as a block scalar, so never null/bool/number */
	char *text;   /* scalar: the value */
	struct node **items; /* sequence: items; mapping: key, value, key, value, ... */
	size_t n, cap;
};

/* Where errors go: one "<file>:<line>: <path>: <what>" line per error, at most MAX_ERRORS. */
struct ctx {
	const char *file;
	char *err;
	size_t errlen;
	size_t used;  /* bytes of err written */
	int nerr;     /* errors found, shown or not */
};

static int fail(struct ctx *c, int line, const char *path, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* Appends one error line to c->err and returns HUB_EINVAL, so that callers may either stop or
 * note it and go on to find the file's other errors. Only the first line may be cut short. */
static int fail(struct ctx *c, int line, const char *path, const char *fmt, ...)
{
	char what[512], where[32] = "", text[1024];
	va_list ap;
	size_t len;

	if (c->nerr++ >= MAX_ERRORS || !c->err || !c->errlen || c->used + 1 >= c->errlen)
		return HUB_EINVAL;
	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	if (line > 0)
		snprintf(where, sizeof(where), ":%d", line);
	snprintf(text, sizeof(text), "%s%s%s%s%s: %s", c->used ? "\n" : "", c->file, where,
		 path ? ": " : "", path ? path : "", what);
	len = strlen(text);
	if (c->used && c->used + len >= c->errlen) {
		c->used = c->errlen; /* whole lines only: write no more */
		return HUB_EINVAL;
	}
	snprintf(c->err + c->used, c->errlen - c->used, "%s", text);
	c->used += len < c->errlen - c->used ? len : c->errlen - c->used - 1;
	return HUB_EINVAL;
}

static struct node *node_new(enum node_kind kind, int line)
{
	struct node *n = hub_xcalloc(1, sizeof(*n));
	n->kind = kind;
	n->line = line;
	return n;
}

static void node_push(struct node *n, struct node *kid)
{
	if (n->n == n->cap) {
		n->cap = n->cap ? n->cap * 2 : 8;
		n->items = hub_xrealloc(n->items, n->cap * sizeof(*n->items));
	}
	n->items[n->n++] = kid;
}

static void node_free(struct node *n)
{
	if (!n)
		return;
	for (size_t i = 0; i < n->n; i++)
		node_free(n->items[i]);
	free(n->items);
	free(n->text);
	free(n);
}

/* YAML 1.2 core schema null: empty, ~, null, Null, NULL (plain only). */
static bool is_null(const struct node *n)
{
	static const char *const nulls[] = {"", "~", "null", "Null", "NULL"};

	if (n->kind != NODE_SCALAR || n->quoted)
		return false;
	for (size_t i = 0; i < ARRAY_LEN(nulls); i++)
		if (strcmp(n->text, nulls[i]) == 0)
			return true;
	return false;
}

static const char *kind_noun(const struct node *n)
{
	if (n->kind == NODE_MAP)
		return "a mapping";
	if (n->kind == NODE_SEQ)
		return "a sequence";
	return is_null(n) ? "null" : "a scalar";
}

/* ---------------------------------------------------------------------------------------- */
/* libyaml events -> tree */

struct reader {
	yaml_parser_t parser;
	struct ctx *c;
};

static int next_event(struct reader *r, yaml_event_t *ev)
{
	const yaml_parser_t *p = &r->parser;
	const char *problem;
	int line;

	if (yaml_parser_parse(&r->parser, ev))
		return HUB_OK;
	problem = p->problem ? p->problem : "unknown problem";
	/* reader errors (bad UTF-8, I/O) carry no problem mark; use the reader's position */
	line = (int)(p->error == YAML_READER_ERROR ? p->mark.line : p->problem_mark.line) + 1;
	if (p->context)
		return fail(r->c, line, NULL, "YAML syntax error: %s %s", problem, p->context);
	return fail(r->c, line, NULL, "YAML syntax error: %s", problem);
}

static int make_scalar(struct reader *r, const yaml_event_t *ev, struct node **out)
{
	int line = (int)ev->start_mark.line + 1;
	const char *value = (const char *)ev->data.scalar.value;
	size_t len = ev->data.scalar.length;

	if (ev->data.scalar.tag)
		return fail(r->c, line, NULL, "YAML tags (%s) are not supported",
			    (const char *)ev->data.scalar.tag);
	if (memchr(value, '\0', len))
		return fail(r->c, line, NULL, "NUL characters are not allowed in values");
	*out = node_new(NODE_SCALAR, line);
	(*out)->quoted = ev->data.scalar.style != YAML_PLAIN_SCALAR_STYLE;
	(*out)->text = hub_xmalloc(len + 1);
	memcpy((*out)->text, value, len);
	(*out)->text[len] = '\0';
	return HUB_OK;
}

static int parse_node(struct reader *r, yaml_event_t *ev, int depth, struct node **out);

/* ev is a mapping or sequence start; reads its items up to the matching end event. */
static int parse_collection(struct reader *r, const yaml_event_t *ev, int depth, struct node **out)
{
	int line = (int)ev->start_mark.line + 1;
	bool map = ev->type == YAML_MAPPING_START_EVENT;
	const yaml_char_t *tag = map ? ev->data.mapping_start.tag : ev->data.sequence_start.tag;
	yaml_event_type_t end = map ? YAML_MAPPING_END_EVENT : YAML_SEQUENCE_END_EVENT;
	struct node *n, *kid;
	yaml_event_t kid_ev;
	int rc;

	if (tag)
		return fail(r->c, line, NULL, "YAML tags (%s) are not supported",
			    (const char *)tag);
	if (depth >= MAX_DEPTH)
		return fail(r->c, line, NULL, "nesting deeper than %d levels", MAX_DEPTH);
	n = node_new(map ? NODE_MAP : NODE_SEQ, line);
	for (;;) {
		if ((rc = next_event(r, &kid_ev)) != HUB_OK)
			goto fail;
		if (kid_ev.type == end) {
			yaml_event_delete(&kid_ev);
			break;
		}
		if ((rc = parse_node(r, &kid_ev, depth + 1, &kid)) != HUB_OK)
			goto fail;
		node_push(n, kid);
	}
	*out = n;
	return HUB_OK;
fail:
	node_free(n);
	return rc;
}

/* Builds the node that starts with ev (consumed). */
static int parse_node(struct reader *r, yaml_event_t *ev, int depth, struct node **out)
{
	int line = (int)ev->start_mark.line + 1;
	int rc;

	*out = NULL;
	switch (ev->type) {
	case YAML_SCALAR_EVENT:
		rc = make_scalar(r, ev, out);
		break;
	case YAML_MAPPING_START_EVENT:
	case YAML_SEQUENCE_START_EVENT:
		rc = parse_collection(r, ev, depth, out);
		break;
	case YAML_ALIAS_EVENT:
		rc = fail(r->c, line, NULL, "YAML aliases (*%s) are not supported",
			  (const char *)ev->data.alias.anchor);
		break;
	default:
		rc = fail(r->c, line, NULL, "YAML syntax error: unexpected event");
		break;
	}
	yaml_event_delete(ev);
	return rc;
}

/* Reads the whole stream: nothing, or exactly one document. *root is NULL for no document. */
static int parse_stream(struct reader *r, struct node **root)
{
	yaml_event_t ev;
	int rc;

	*root = NULL;
	if ((rc = next_event(r, &ev)) != HUB_OK) /* stream start */
		return rc;
	yaml_event_delete(&ev);
	if ((rc = next_event(r, &ev)) != HUB_OK)
		return rc;
	if (ev.type == YAML_STREAM_END_EVENT)
		goto done;
	yaml_event_delete(&ev); /* document start */
	if ((rc = next_event(r, &ev)) != HUB_OK || (rc = parse_node(r, &ev, 0, root)) != HUB_OK)
		return rc;
	if ((rc = next_event(r, &ev)) != HUB_OK) /* document end */
		return rc;
	yaml_event_delete(&ev);
	if ((rc = next_event(r, &ev)) != HUB_OK)
		return rc;
	if (ev.type == YAML_DOCUMENT_START_EVENT) {
		rc = fail(r->c, (int)ev.start_mark.line + 1, NULL,
			  "only one YAML document is allowed");
		yaml_event_delete(&ev);
		return rc;
	}
done:
	yaml_event_delete(&ev);
	return HUB_OK;
}

static int read_file(struct ctx *c, const char *path, struct node **root)
{
	struct reader r = {.c = c};
	FILE *fp = fopen(path, "rb");
	struct stat st;
	int rc;

	*root = NULL;
	if (!fp)
		return fail(c, 0, NULL, "cannot open: %s", strerror(errno));
	if (fstat(fileno(fp), &st) == 0 && S_ISDIR(st.st_mode)) {
		fclose(fp);
		return fail(c, 0, NULL, "is a directory, not a config file");
	}
	if (!yaml_parser_initialize(&r.parser)) {
		fclose(fp);
		return fail(c, 0, NULL, "cannot initialize the YAML parser");
	}
	yaml_parser_set_input_file(&r.parser, fp);
	rc = parse_stream(&r, root);
	if (rc != HUB_OK) {
		node_free(*root);
		*root = NULL;
	}
	yaml_parser_delete(&r.parser);
	fclose(fp);
	return rc;
}

/* ---------------------------------------------------------------------------------------- */
/* Key tables */

enum ktype { K_STRING, K_INT, K_BOOL, K_ENUM, K_BYTES, K_DURATION, K_OPTIONS, K_DOUBLE, K_LIST,
	     K_JSON };

enum {
	F_NULLABLE = 1, /* empty or null -> NULL */
	F_REQUIRED = 2, /* no default: must be given */
};

/* An extra check on a string value: returns what is wrong, or NULL. */
struct check {
	const char *(*fn)(const char *s);
	const char *doc; /* the rule, for the reference */
};

struct key {
	const char *path;   /* section.key, or the key alone in route/sink tables */
	enum ktype type;
	size_t off, width;  /* where the value lives in its struct, and its size */
	const char *def;    /* default as text (parsed like a quoted scalar); NULL = none */
	int64_t min, max;   /* numbers: inclusive range; strings: min length (max unused) */
	const char *const *names; /* enum names; for strings and integers, the allowed values */
	const struct check *check;
	unsigned flags;
	const char *doc;
};

struct table {
	const struct key *keys;
	size_t n;
};

/* A message built at check time (checks run on the loading thread only). */
static _Thread_local char check_msg[320];

/* What is wrong with the authority of a URL (after "scheme://"): [user[:pw]@]host[:port], the
 * host possibly a bracketed IPv6 address; the port, when given, 1..65535. NULL when fine. */
static const char *check_authority(const char *s)
{
	size_t n = strcspn(s, "/?#");
	const char *at = memchr(s, '@', n), *host, *colon, *end = s + n;
	char *stop;
	long port;

	host = at ? at + 1 : s;
	if (*host == '[') {
		const char *close = memchr(host, ']', (size_t)(end - host));
		if (!close)
			return "has an unclosed [ in its host";
		colon = close + 1 < end && close[1] == ':' ? close + 1 : NULL;
		if (close + 1 < end && !colon)
			return "has text after the ] of its host";
	} else {
		colon = memchr(host, ':', (size_t)(end - host));
	}
	if (host == end || (colon && colon == host))
		return "must name a host";
	if (!colon)
		return NULL;
	errno = 0;
	port = strtol(colon + 1, &stop, 10);
	if (stop != end || colon + 1 == end || colon[1] == '-' || colon[1] == '+' || port < 1 ||
	    port > 65535) {
		snprintf(check_msg, sizeof(check_msg), "port %.*s: must be between 1 and 65535",
			 (int)(end - colon - 1), colon + 1);
		return check_msg;
	}
	return NULL;
}

static const char *check_url(const char *s, const char *const *schemes, const char *why)
{
	for (size_t i = 0; schemes[i]; i++) {
		size_t n = strlen(schemes[i]);
		if (strncmp(s, schemes[i], n) == 0 && s[n])
			return check_authority(s + n);
	}
	return why;
}

static const char *check_mqtt_url(const char *s)
{
	static const char *const schemes[] = {"tcp://", "ssl://", "mqtt://", "mqtts://", "ws://",
					      "wss://", NULL};

	return check_url(s, schemes, "must start with tcp://, ssl://, mqtt://, mqtts://, ws:// or "
				     "wss:// and name a host");
}

static const char *check_http_url(const char *s)
{
	static const char *const schemes[] = {"http://", "https://", NULL};

	return check_url(s, schemes, "must start with http:// or https:// and name a host");
}

/* A PEM file the TLS library will read at connect time: readable, a file, PEM inside. */
static const char *check_pem_file(const char *s)
{
	char head[65536];
	FILE *fp = fopen(s, "rb");
	struct stat st;
	size_t n;

	if (!fp) {
		snprintf(check_msg, sizeof(check_msg), "cannot read %.200s: %s", s, strerror(errno));
		return check_msg;
	}
	if (fstat(fileno(fp), &st) == 0 && S_ISDIR(st.st_mode)) {
		fclose(fp);
		snprintf(check_msg, sizeof(check_msg), "%.200s is a directory, not a PEM file", s);
		return check_msg;
	}
	n = fread(head, 1, sizeof(head) - 1, fp);
	fclose(fp);
	head[n] = '\0';
	if (!strstr(head, "-----BEGIN ")) {
		snprintf(check_msg, sizeof(check_msg), "%.200s is not a PEM file (no -----BEGIN line)",
			 s);
		return check_msg;
	}
	return NULL;
}

/* http.listen: an IPv4 or IPv6 address or a host name that resolves (as the daemon binds). */
static const char *check_listen(const char *s)
{
	struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
				 .ai_flags = AI_PASSIVE};
	struct addrinfo *res = NULL;
	int rc = getaddrinfo(s, NULL, &hints, &res);

	if (rc == 0) {
		freeaddrinfo(res);
		return NULL;
	}
	snprintf(check_msg, sizeof(check_msg), "cannot resolve %.200s: %s", s, gai_strerror(rc));
	return check_msg;
}

/* Topic template: levels separated by /, each literal text or one {name} placeholder, and #
 * only as the last level. */
static const char *check_template(const char *s)
{
	for (const char *lv = s; lv; lv = strchr(lv, '/') ? strchr(lv, '/') + 1 : NULL) {
		size_t n = strcspn(lv, "/");
		const char *open = memchr(lv, '{', n), *close = memchr(lv, '}', n);
		if (n == 1 && *lv == '#' && lv[1] != '\0')
			return "# may only be the last level of a template";
		if (memchr(lv, '+', n))
			return "+ matches nothing in a template: name the level, e.g. {site}";
		if (!open && !close)
			continue;
		if (open != lv || !close || close != lv + n - 1) {
			snprintf(check_msg, sizeof(check_msg),
				 "level \"%.*s\": write a placeholder as a whole level {name}",
				 (int)(n > 100 ? 100 : n), lv);
			return check_msg;
		}
		if (n == 2 || strspn(lv + 1, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
					     "0123456789_-") != n - 2)
			return "a {name} placeholder names a tag: letters, digits, _ and -";
	}
	return NULL;
}

static const char *check_topic_prefix(const char *s)
{
	return strpbrk(s, "+#") ? "must not contain the wildcards + or #" : NULL;
}

static const char *check_share_group(const char *s)
{
	return strpbrk(s, "/+#") ? "must not contain /, + or #" : NULL;
}

/* MQTT topic filter: # only as the last whole level, + only as a whole level. */
static const char *check_filter(const char *s)
{
	if (strncmp(s, "$cityhub", 8) == 0)
		return "$cityhub/ topics are the hub's own";
	for (const char *p = s; *p; p++) {
		bool starts = p == s || p[-1] == '/';
		bool ends = p[1] == '\0' || p[1] == '/';
		if (*p == '#' && (!starts || p[1] != '\0'))
			return "# may only be the last level of a topic filter";
		if (*p == '+' && (!starts || !ends))
			return "+ must be a whole level of a topic filter";
	}
	return NULL;
}

/* Sink names become journal cursor file names. */
static const char *check_name(const char *s)
{
	for (const char *p = s; *p; p++)
		if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-", *p))
			return "may only contain letters, digits, _ and -";
	return NULL;
}

/* Alert rule names become the alertname label and MQTT topic levels. */
static const char *check_rule_name(const char *s)
{
	for (const char *p = s; *p; p++)
		if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_", *p))
			return "may only contain letters, digits and _";
	return NULL;
}

/* "H1-H2" with whole hours 0..23 and H1 != H2. */
static const char *check_hours(const char *s)
{
	int a, b, n = 0;
	if (sscanf(s, "%2d-%2d%n", &a, &b, &n) != 2 || s[n] || a < 0 || a > 23 || b < 0 || b > 23 ||
	    a == b)
		return "must be two different hours 0..23 as H1-H2, e.g. 21-6";
	return NULL;
}

static const struct check chk_mqtt_url = {check_mqtt_url, "tcp://, ssl://, mqtt://, mqtts://, "
							  "ws:// or wss:// URL"};
static const struct check chk_http_url = {check_http_url, "http:// or https:// URL"};
static const struct check chk_topic_prefix = {check_topic_prefix, "no + or #"};
static const struct check chk_share_group = {check_share_group, "no /, + or #"};
static const struct check chk_filter = {check_filter, "MQTT topic filter"};
static const struct check chk_name = {check_name, "letters, digits, _ and -"};
static const struct check chk_rule_name = {check_rule_name, "letters, digits and _"};
static const struct check chk_hours = {check_hours, "H1-H2, local hours 0..23"};
static const struct check chk_pem_file = {check_pem_file, "a readable PEM file"};
static const struct check chk_listen = {check_listen,
					"IPv4 or IPv6 address, or a host name that resolves"};
static const struct check chk_template = {check_template,
					  "levels of text, `{name}` placeholders, `#` last"};

static const char *const mqtt_versions[] = {"3", "5", NULL};
static const char *const fsync_names[] = {"none", "interval", "always", NULL};
static const char *const full_names[] = {"block", "drop_oldest", NULL};
static const char *const level_names[] = {"debug", "info", "warn", "error", NULL};
static const char *const sink_types[] = {"influxdb", NULL};
static const char *const rule_types[] = {"threshold", "bands", "rate", "window", "stale", NULL};
static const char *const severities[] = {"info", "warning", "major", "critical", NULL};
static const char *const stats[] = {"mean", "max", "min", NULL};
static const char *const notifier_types[] = {"alertmanager", "mqtt", "webhook", NULL};
static const char *const unknown_names[] = {"reject", "drop", "keep", NULL};

#define KIB INT64_C(1024)
#define MIB (KIB * 1024)
#define GIB (MIB * 1024)
#define TIB (GIB * 1024)
#define SEC INT64_C(1000)
#define MIN (SEC * 60)
#define HOUR (MIN * 60)

#define AT(type, member) .off = offsetof(type, member), .width = sizeof(((type *)0)->member)
#define CFG(member) AT(struct hub_config, member)
#define ROUTE(member) AT(struct hub_cfg_route, member)
#define SINK(member) AT(struct hub_cfg_sink, member)
#define RULE(member) AT(struct hub_cfg_rule, member)
#define NOTIFIER(member) AT(struct hub_cfg_notifier, member)
#define DAY (HOUR * 24)

static const struct key main_keys[] = {
	{"mqtt.url", K_STRING, CFG(mqtt.url), "tcp://127.0.0.1:1883", 1, 0, NULL, &chk_mqtt_url, 0,
	 "Broker URL."},
	{"mqtt.client_id", K_STRING, CFG(mqtt.client_id), "cityhub", 1, 0, NULL, NULL, 0,
	 "Client identifier; fixed, so the broker keeps the persistent session across restarts."},
	{"mqtt.version", K_INT, CFG(mqtt.version), "3", 3, 5, mqtt_versions, NULL, 0,
	 "Protocol version: 3 (MQTT 3.1.1) or 5."},
	{"mqtt.username", K_STRING, CFG(mqtt.username), NULL, 0, 0, NULL, NULL, F_NULLABLE,
	 "User name, if the broker wants one."},
	{"mqtt.password", K_STRING, CFG(mqtt.password), NULL, 0, 0, NULL, NULL, F_NULLABLE,
	 "Password, if the broker wants one."},
	{"mqtt.ca_file", K_STRING, CFG(mqtt.ca_file), NULL, 0, 0, NULL, &chk_pem_file, F_NULLABLE,
	 "PEM file of the CAs trusted for the broker's certificate (TLS URLs)."},
	{"mqtt.cert_file", K_STRING, CFG(mqtt.cert_file), NULL, 0, 0, NULL, &chk_pem_file,
	 F_NULLABLE,
	 "PEM client certificate, for brokers that authenticate clients by certificate."},
	{"mqtt.key_file", K_STRING, CFG(mqtt.key_file), NULL, 0, 0, NULL, &chk_pem_file, F_NULLABLE,
	 "PEM private key of the client certificate."},
	{"mqtt.tls_insecure", K_BOOL, CFG(mqtt.tls_insecure), "false", 0, 0, NULL, NULL, 0,
	 "Skip verification of the broker's certificate (testing only)."},
	{"mqtt.keepalive_s", K_INT, CFG(mqtt.keepalive_s), "30", 0, 65535, NULL, NULL, 0,
	 "Keep-alive interval in seconds; 0 disables it."},
	{"mqtt.session_expiry_s", K_INT, CFG(mqtt.session_expiry_s), "86400", 0, INT32_MAX, NULL,
	 NULL, 0,
	 "MQTT 5: how long the broker keeps the session (and queues QoS 1) while we are away."},
	{"mqtt.share_group", K_STRING, CFG(mqtt.share_group), "", 0, 0, NULL, &chk_share_group, 0,
	 "Non-empty: subscribe as `$share/<group>/<filter>` so several hubs split the load."},
	{"mqtt.deadletter_prefix", K_STRING, CFG(mqtt.deadletter_prefix), "cityhub", 1, 0, NULL,
	 &chk_topic_prefix, 0,
	 "Rejected messages are republished to `<prefix>/deadletter/<reason>`."},
	{"mqtt.deadletter_unrouted", K_BOOL, CFG(mqtt.deadletter_unrouted), "false", 0, 0, NULL,
	 NULL, 0, "Also dead-letter messages whose topic no route matches (always counted)."},
	{"mqtt.max_inflight", K_INT, CFG(mqtt.max_inflight), "1000", 1, 65535, NULL, NULL, 0,
	 "Most unacknowledged QoS 1 messages in flight at once."},

	{"journal.dir", K_STRING, CFG(journal.dir), "./cityhub-journal", 1, 0, NULL, NULL, 0,
	 "Directory of the journal segments and sink cursors (relative to the working directory)."},
	{"journal.max_bytes", K_BYTES, CFG(journal.max_bytes), "1GiB", MIB, TIB, NULL, NULL, 0,
	 "Most disk space the journal may use; then full_policy applies."},
	{"journal.segment_bytes", K_BYTES, CFG(journal.segment_bytes), "16MiB", 64 * KIB, GIB, NULL,
	 NULL, 0, "Size of one segment file; at most max_bytes."},
	{"journal.fsync", K_ENUM, CFG(journal.fsync), "interval", 0, 0, fsync_names, NULL, 0,
	 "When appended messages are forced to disk: never, every fsync_interval_ms, or each one."},
	{"journal.fsync_interval_ms", K_DURATION, CFG(journal.fsync_interval_ms), "1s", 1, HOUR,
	 NULL, NULL, 0, "Interval between fsyncs when fsync is interval."},
	{"journal.full_policy", K_ENUM, CFG(journal.full_policy), "block", 0, 0, full_names, NULL,
	 0, "When max_bytes is reached: block ingest (the broker queues), or drop the oldest "
	    "segment."},

	{"limits.max_payload_bytes", K_BYTES, CFG(limits.max_payload_bytes), "256KiB", 1, 256 * MIB,
	 NULL, NULL, 0, "Larger messages are rejected."},
	{"limits.max_fields", K_INT, CFG(limits.max_fields), "32", 1, 10000, NULL, NULL, 0,
	 "Most fields in one record."},
	{"limits.max_records", K_INT, CFG(limits.max_records), "1000", 1, 1000000, NULL, NULL, 0,
	 "Most records decoded from one message."},
	{"limits.max_string_bytes", K_BYTES, CFG(limits.max_string_bytes), "1KiB", 1, 64 * KIB,
	 NULL, NULL, 0, "Longest string field value, tag value or sensor id."},
	{"limits.max_series", K_INT, CFG(limits.max_series), "100000", 1, INT64_C(100000000), NULL,
	 NULL, 0, "Most distinct series (kind + tag set); records of new series beyond it are "
		  "rejected."},

	{"schemas.dir", K_STRING, CFG(schemas.dir), NULL, 0, 0, NULL, NULL, F_NULLABLE,
	 "Directory of `<kind>.json` schema files; empty = the schemas built into the binary."},

	{"http.listen", K_STRING, CFG(http.listen), "127.0.0.1", 1, 0, NULL, &chk_listen, 0,
	 "Address the operations API binds to: IPv4, IPv6 (`::1`, `::` for all) or a host name "
	 "(the first of its addresses that can be bound)."},
	{"http.port", K_INT, CFG(http.port), "8080", 0, 65535, NULL, NULL, 0,
	 "TCP port of the operations API; 0 disables it."},
	{"http.token", K_STRING, CFG(http.token), NULL, 0, 0, NULL, NULL, F_NULLABLE,
	 "Bearer token required by the API; empty = none."},

	{"log.level", K_STRING, CFG(log.level), "info", 1, 0, level_names, NULL, 0,
	 "Lowest level written to the log."},

	{"alerts.rule_files", K_LIST, CFG(alerts.rule_files), NULL, 0, 0, NULL, NULL, 0,
	 "Rule files (each a mapping with `rules:`), relative to this file's directory."},
	{"alerts.state_dir", K_STRING, CFG(alerts.state_dir), NULL, 0, 0, NULL, NULL, F_NULLABLE,
	 "Directory of the alert state snapshot and delivery marks; empty = journal.dir."},
	{"alerts.snapshot_ms", K_DURATION, CFG(alerts.snapshot_ms), "2s", 100, 10 * MIN, NULL, NULL,
	 0, "Alert state is saved at least this often while it changes (and before any "
	    "transition is notified)."},
	{"alerts.aqi", K_BOOL, CFG(alerts.aqi), "true", 0, 0, NULL, NULL, 0,
	 "Compute the hourly VN_AQI of every air_quality station and write it as kind `aqi`."},
	{"alerts.max_instances", K_INT, CFG(alerts.max_instances), "200000", 1, INT64_C(10000000),
	 NULL, NULL, 0, "Most alert instances (rule x sensor) tracked; further ones are counted "
		      "and not evaluated."},
	{"alerts.utc_offset_h", K_INT, CFG(alerts.utc_offset_h), "7", -12, 14, NULL, NULL, 0,
	 "Local time of rules' `hours:` (7 = Asia/Ho_Chi_Minh)."},

	{"live.registry", K_STRING, CFG(live.registry), NULL, 0, 0, NULL, NULL, F_NULLABLE,
	 "Sensor registry file (YAML list or CSV with a header: id, kind, district, lat, lon, "
	 "name_vi, name_en, interval_s), relative to this file's directory; empty = none."},
	{"live.max_sensors", K_INT, CFG(live.max_sensors), "20000", 1, 1000000, NULL, NULL, 0,
	 "Most sensors the live state tracks; further ones are left out of /api/v1."},
	{"live.heartbeat_ms", K_DURATION, CFG(live.heartbeat_ms), "15s", 100, MIN, NULL, NULL, 0,
	 "Interval of the heartbeat comments on /api/v1/stream."},
	{"live.stream_backlog", K_INT, CFG(live.stream_backlog), "1024", 16, 4000, NULL, NULL, 0,
	 "Events an /api/v1/stream client may lag behind before it is dropped."},
	{"live.max_clients", K_INT, CFG(live.max_clients), "500", 1, 2000, NULL, NULL, 0,
	 "Most /api/v1/stream clients at once; more are answered 503."},
};

static const struct key route_keys[] = {
	{"filter", K_STRING, ROUTE(filter), NULL, 1, 0, NULL, &chk_filter, F_REQUIRED,
	 "MQTT topic filter this route subscribes to."},
	{"adapter", K_STRING, ROUTE(adapter), NULL, 1, 0, NULL, NULL, F_REQUIRED,
	 "Payload format of the messages (an adapter name, e.g. native, senml)."},
	{"kind", K_STRING, ROUTE(kind), NULL, 0, 0, NULL, NULL, F_NULLABLE,
	 "Kind of the records when neither the payload nor the template says."},
	{"template", K_STRING, ROUTE(template), NULL, 0, 0, NULL, &chk_template, F_NULLABLE,
	 "Topic template naming levels as `{kind}`, `{sensor_id}` or a tag name, e.g. "
	 "`city/{kind}/{district}/{sensor_id}`."},
	{"options", K_OPTIONS, ROUTE(options), NULL, 0, 0, NULL, NULL, 0,
	 "Adapter options: any mapping, handed to the adapter as a JSON object."},
	{"kinds", K_OPTIONS, ROUTE(kinds), NULL, 0, 0, NULL, NULL, 0,
	 "Maps a kind to the fields that go to a record of that kind, e.g. "
	 "`{device: [battery_v]}`: "
	 "one message then yields records of several kinds (docs/payloads.md)."},
	{"unknown_fields", K_ENUM, ROUTE(unknown_fields), "reject", 0, 0, unknown_names, NULL, 0,
	 "A field its kind does not define: reject the message, drop the field (counted), or keep "
	 "it raw."},
	{"keep_max_fields", K_INT, ROUTE(keep_max_fields), "8", 1, 32, NULL, NULL, 0,
	 "unknown_fields: keep: most unknown fields kept per record; the rest are dropped."},
};

static const struct key sink_keys[] = {
	{"name", K_STRING, SINK(name), NULL, 1, 0, NULL, &chk_name, F_REQUIRED,
	 "Unique name; it names the sink's cursor in the journal."},
	{"type", K_STRING, SINK(type), "influxdb", 1, 0, sink_types, NULL, 0, "Kind of store."},
	{"url", K_STRING, SINK(url), NULL, 1, 0, NULL, &chk_http_url, F_REQUIRED,
	 "Base URL of the store, e.g. http://127.0.0.1:8086."},
	{"version", K_INT, SINK(version), "1", 1, 2, NULL, NULL, 0,
	 "InfluxDB API: 1 (/write) or 2 (/api/v2/write)."},
	{"database", K_STRING, SINK(database), "city", 0, 0, NULL, NULL, F_NULLABLE,
	 "v1: database to write to (required for v1)."},
	{"retention_policy", K_STRING, SINK(retention_policy), NULL, 0, 0, NULL, NULL, F_NULLABLE,
	 "v1: retention policy; empty = the database's default."},
	{"username", K_STRING, SINK(username), NULL, 0, 0, NULL, NULL, F_NULLABLE,
	 "v1: user name, if authentication is on."},
	{"password", K_STRING, SINK(password), NULL, 0, 0, NULL, NULL, F_NULLABLE,
	 "v1: password, if authentication is on."},
	{"org", K_STRING, SINK(org), NULL, 0, 0, NULL, NULL, F_NULLABLE,
	 "v2: organization (required for v2)."},
	{"bucket", K_STRING, SINK(bucket), NULL, 0, 0, NULL, NULL, F_NULLABLE,
	 "v2: bucket (required for v2)."},
	{"token", K_STRING, SINK(token), NULL, 0, 0, NULL, NULL, F_NULLABLE,
	 "v2: API token (required for v2)."},
	{"gzip", K_BOOL, SINK(gzip), "false", 0, 0, NULL, NULL, 0, "Compress request bodies."},
	{"batch_max_lines", K_INT, SINK(batch_max_lines), "5000", 1, 1000000, NULL, NULL, 0,
	 "Most lines in one write request."},
	{"batch_max_bytes", K_BYTES, SINK(batch_max_bytes), "1MiB", KIB, 64 * MIB, NULL, NULL, 0,
	 "Most bytes (before compression) in one write request."},
	{"flush_ms", K_DURATION, SINK(flush_ms), "200ms", 1, 10 * MIN, NULL, NULL, 0,
	 "A partial batch is sent after this long."},
	{"timeout_ms", K_DURATION, SINK(timeout_ms), "10s", 100, 10 * MIN, NULL, NULL, 0,
	 "Timeout of one write request."},
	{"retry_base_ms", K_DURATION, SINK(retry_base_ms), "100ms", 1, MIN, NULL, NULL, 0,
	 "First retry delay; doubles on each failure (full jitter)."},
	{"retry_cap_ms", K_DURATION, SINK(retry_cap_ms), "30s", 1, HOUR, NULL, NULL, 0,
	 "Longest retry delay; at least retry_base_ms."},
};

static const struct key rule_keys[] = {
	{"name", K_STRING, RULE(name), NULL, 1, 0, NULL, &chk_rule_name, F_REQUIRED,
	 "Alert name (the `alertname` label); unique over every rule."},
	{"type", K_STRING, RULE(type), NULL, 1, 0, rule_types, NULL, F_REQUIRED, "Kind of rule."},
	{"kind", K_STRING, RULE(kind), NULL, 0, 0, NULL, NULL, F_NULLABLE,
	 "Records of this kind; `*` or empty = any (stale rules only)."},
	{"field", K_STRING, RULE(field), NULL, 0, 0, NULL, NULL, F_NULLABLE,
	 "The field evaluated (every type but stale)."},
	{"sensor", K_STRING, RULE(sensor), NULL, 0, 0, NULL, NULL, F_NULLABLE,
	 "Glob (`*`, `?`) over sensor_id; empty = every sensor."},
	{"match", K_OPTIONS, RULE(match), NULL, 0, 0, NULL, NULL, 0,
	 "Tags the record must carry, as `tag: value`."},
	{"hours", K_STRING, RULE(hours), NULL, 0, 0, NULL, &chk_hours, F_NULLABLE,
	 "Only readings whose local hour h has H1 <= h < H2 (wrapping past midnight)."},
	{"above", K_DOUBLE, RULE(above), NULL, 0, 0, NULL, NULL, 0,
	 "Breach at value >= above (threshold, rate, window)."},
	{"below", K_DOUBLE, RULE(below), NULL, 0, 0, NULL, NULL, 0,
	 "Breach at value <= below (threshold, rate, window)."},
	{"clear", K_DOUBLE, RULE(clear), NULL, 0, 0, NULL, NULL, 0,
	 "Hysteresis: the breach ends only past this value; default the threshold itself."},
	{"bands", K_JSON, RULE(bands), NULL, 0, 0, NULL, NULL, 0,
	 "bands: ascending `{level, above, severity}` items."},
	{"clear_margin", K_DOUBLE, RULE(clear_margin), "0", 0, 0, NULL, NULL, 0,
	 "bands: a band is left downward only below its edge minus this."},
	{"window", K_DURATION, RULE(window_ms), "0", 0, 31 * DAY, NULL, NULL, 0,
	 "rate, window: length of the sliding window."},
	{"stat", K_STRING, RULE(stat), "mean", 1, 0, stats, NULL, 0, "window: the aggregate."},
	{"min_samples", K_INT, RULE(min_samples), "2", 1, 100000, NULL, NULL, 0,
	 "rate, window: fewest readings in the window to judge it."},
	{"factor", K_DOUBLE, RULE(factor), "3", 0, 0, NULL, NULL, 0,
	 "stale: silent for factor x the usual interval."},
	{"interval", K_DURATION, RULE(interval_ms), "0", 0, 31 * DAY, NULL, NULL, 0,
	 "stale: the usual interval; 0 = learned per sensor from its receive gaps."},
	{"min_silence", K_DURATION, RULE(min_silence_ms), "1m", 0, 31 * DAY, NULL, NULL, 0,
	 "stale: never stale before this much silence."},
	{"for", K_DURATION, RULE(for_ms), "0", 0, 31 * DAY, NULL, NULL, 0,
	 "The breach must last this long (event time) before the alert fires."},
	{"keep_firing_for", K_DURATION, RULE(keep_firing_for_ms), "0", 0, 31 * DAY, NULL, NULL, 0,
	 "Keep firing this long after the breach ends."},
	{"severity", K_STRING, RULE(severity), "warning", 1, 0, severities, NULL, 0,
	 "The `severity` label (bands: per band)."},
	{"labels", K_OPTIONS, RULE(labels), NULL, 0, 0, NULL, NULL, 0,
	 "Extra labels, as `name: value`."},
	{"summary_vi", K_STRING, RULE(summary_vi), NULL, 0, 0, NULL, NULL, F_NULLABLE,
	 "Summary in Vietnamese; `{{sensor_id}} {{value}} {{level}} {{district}} {{kind}}` are "
	 "filled in."},
	{"summary_en", K_STRING, RULE(summary_en), NULL, 0, 0, NULL, NULL, F_NULLABLE,
	 "Summary in English; the same placeholders."},
};

static const struct key notifier_keys[] = {
	{"name", K_STRING, NOTIFIER(name), NULL, 1, 0, NULL, &chk_name, F_REQUIRED,
	 "Unique name; it names the notifier's delivery mark in alerts.state_dir."},
	{"type", K_STRING, NOTIFIER(type), NULL, 1, 0, notifier_types, NULL, F_REQUIRED,
	 "Where alerts go."},
	{"urls", K_LIST, NOTIFIER(urls), NULL, 0, 0, NULL, NULL, 0,
	 "alertmanager: the base URL of every instance (all are sent every alert); webhook: "
	 "the one URL posted to."},
	{"topic_prefix", K_STRING, NOTIFIER(topic_prefix), "cityhub", 1, 0, NULL, &chk_topic_prefix,
	 0, "mqtt: retained state at `<prefix>/alerts/<rule>/<sensor>`, events on "
	    "`<prefix>/alerts/events`."},
	{"secret", K_STRING, NOTIFIER(secret), NULL, 0, 0, NULL, NULL, F_NULLABLE,
	 "webhook: key of the `X-Cityhub-Signature: sha256=<HMAC>` header."},
	{"token", K_STRING, NOTIFIER(token), NULL, 0, 0, NULL, NULL, F_NULLABLE,
	 "alertmanager, webhook: bearer token sent with each request."},
	{"resend_ms", K_DURATION, NOTIFIER(resend_ms), "1m", SEC, HOUR, NULL, NULL, 0,
	 "alertmanager: firing alerts are sent again this often."},
	{"queue_max", K_INT, NOTIFIER(queue_max), "10000", 1, 10000000, NULL, NULL, 0,
	 "Most events waiting; beyond it new events are dropped and counted."},
	{"timeout_ms", K_DURATION, NOTIFIER(timeout_ms), "5s", 100, 10 * MIN, NULL, NULL, 0,
	 "Timeout of one request."},
	{"retry_base_ms", K_DURATION, NOTIFIER(retry_base_ms), "500ms", 1, MIN, NULL, NULL, 0,
	 "First retry delay; doubles on each failure (full jitter)."},
	{"retry_cap_ms", K_DURATION, NOTIFIER(retry_cap_ms), "30s", 1, HOUR, NULL, NULL, 0,
	 "Longest retry delay."},
};

_Static_assert(ARRAY_LEN(main_keys) <= MAX_KEYS, "main_keys too long");
_Static_assert(ARRAY_LEN(rule_keys) <= MAX_KEYS, "rule_keys too long");
_Static_assert(ARRAY_LEN(notifier_keys) <= MAX_KEYS, "notifier_keys too long");
_Static_assert(ARRAY_LEN(route_keys) <= MAX_KEYS, "route_keys too long");
_Static_assert(ARRAY_LEN(sink_keys) <= MAX_KEYS, "sink_keys too long");

static const struct table main_table = {main_keys, ARRAY_LEN(main_keys)};
static const struct table route_table = {route_keys, ARRAY_LEN(route_keys)};
static const struct table sink_table = {sink_keys, ARRAY_LEN(sink_keys)};
static const struct table rule_table = {rule_keys, ARRAY_LEN(rule_keys)};
static const struct table notifier_table = {notifier_keys, ARRAY_LEN(notifier_keys)};

static const struct section {
	const char *name;
	const char *doc;
} sections[] = {
	{"mqtt",
	 "The broker connection. Messages are received with QoS 1 in a persistent session."},
	{"journal", "The on-disk journal every message is appended to before it is acknowledged."},
	{"limits",
	 "Bounds on hostile or broken input; what exceeds them is rejected with a reason."},
	{"schemas", "The canonical kinds (fields, units, ranges)."},
	{"http", "The operations API: /healthz, /readyz, /metrics, /api/v1 (docs/operations.md)."},
	{"log", "Logging (logfmt on standard error)."},
	{"alerts", "The alert engine (docs/alerts.md): rule files, state, the derived VN_AQI."},
	{"live", "The live state behind /api/v1 (docs/operations.md): sensor registry, limits."},
};

/* Default route and sink used when the file has no routes: or sinks: key. */
static const char *const default_route[] = {
	"filter", "city/#", "adapter", "native", "template", "city/{kind}/{district}/{sensor_id}",
	NULL};
static const char *const default_sink[] = {"name", "influxdb", "url", "http://127.0.0.1:8086",
					   NULL};

/* ---------------------------------------------------------------------------------------- */
/* Numbers */

struct unit {
	const char *suffix;
	int64_t mult;
};

static const struct unit plain_units[] = {{"", 1}, {NULL, 0}};
static const struct unit size_units[] = {
	{"", 1}, {"B", 1}, {"kB", 1000}, {"KB", 1000}, {"MB", 1000000}, {"GB", 1000000000},
	{"TB", INT64_C(1000000000000)}, {"KiB", KIB}, {"MiB", MIB}, {"GiB", GIB}, {"TiB", TIB},
	{NULL, 0}};
static const struct unit duration_units[] = {
	{"", 1}, {"ms", 1}, {"s", SEC}, {"m", MIN}, {"h", HOUR}, {NULL, 0}};

/* Parses "<integer><suffix>": HUB_EPARSE if malformed, HUB_ERANGE if it overflows int64. */
static int parse_scaled(const char *s, const struct unit *units, int64_t *out)
{
	char *end;
	long long v;

	if (!(*s >= '0' && *s <= '9') && *s != '-' && *s != '+')
		return HUB_EPARSE;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (end == s || !(end[-1] >= '0' && end[-1] <= '9'))
		return HUB_EPARSE;
	for (const struct unit *u = units; u->suffix; u++) {
		if (strcmp(end, u->suffix) != 0)
			continue;
		if (errno == ERANGE || __builtin_mul_overflow((int64_t)v, u->mult, out))
			return HUB_ERANGE;
		return HUB_OK;
	}
	return HUB_EPARSE;
}

static const struct unit *units_of(enum ktype type)
{
	if (type == K_BYTES)
		return size_units;
	if (type == K_DURATION)
		return duration_units;
	return plain_units;
}

/* Writes v the way the reference shows it: 1GiB, 30s, 2m, 1000. */
static void format_value(enum ktype type, int64_t v, char *buf, size_t len)
{
	static const struct unit big_sizes[] = {
		{"TiB", TIB}, {"GiB", GIB}, {"MiB", MIB}, {"KiB", KIB}, {NULL, 0}};
	static const struct unit big_durations[] = {
		{"h", HOUR}, {"m", MIN}, {"s", SEC}, {NULL, 0}};
	const struct unit *u = type == K_BYTES ? big_sizes
			       : type == K_DURATION ? big_durations
						    : plain_units + 1;

	for (; u->suffix; u++) {
		if (v != 0 && v % u->mult == 0) {
			snprintf(buf, len, "%lld%s", (long long)(v / u->mult), u->suffix);
			return;
		}
	}
	snprintf(buf, len, "%lld%s", (long long)v, type == K_DURATION ? "ms" : "");
}

static void store_int(void *p, size_t width, int64_t v)
{
	if (width == sizeof(int64_t)) {
		memcpy(p, &v, sizeof(v));
	} else if (width == sizeof(int)) {
		int iv = (int)v;
		memcpy(p, &iv, sizeof(iv));
	} else {
		abort(); /* a table row with an unsupported member type */
	}
}

/* ---------------------------------------------------------------------------------------- */
/* Options: YAML -> JSON, plain scalars resolved with the YAML 1.2 core schema */

static bool all_in(const char *s, const char *set)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (!strchr(set, *s))
			return false;
	return true;
}

/* [-+]? ( \. [0-9]+ | [0-9]+ ( \. [0-9]* )? ) ( [eE] [-+]? [0-9]+ )? */
static bool is_core_float(const char *s)
{
	size_t n;

	if (*s == '-' || *s == '+')
		s++;
	n = strspn(s, "0123456789");
	s += n;
	if (*s == '.') {
		size_t frac = strspn(s + 1, "0123456789");
		if (n == 0 && frac == 0)
			return false;
		s += 1 + frac;
	} else if (n == 0) {
		return false;
	}
	if (*s == 'e' || *s == 'E') {
		s++;
		if (*s == '-' || *s == '+')
			s++;
		return all_in(s, "0123456789");
	}
	return *s == '\0';
}

static bool is_one_of(const char *s, const char *const *list)
{
	for (; *list; list++)
		if (strcmp(s, *list) == 0)
			return true;
	return false;
}

/* Resolves a plain scalar; NULL with *why set when it cannot be a JSON value. */
static json_t *resolve_plain(const char *s, const char **why)
{
	static const char *const trues[] = {"true", "True", "TRUE", NULL};
	static const char *const falses[] = {"false", "False", "FALSE", NULL};
	static const char *const nonfinite[] = {".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF",
						"-.inf", "-.Inf", "-.INF", ".nan", ".NaN", ".NAN",
						NULL};
	const char *digits = (*s == '-' || *s == '+') ? s + 1 : s;
	int base = 0;
	char *end;

	if (is_one_of(s, trues) || is_one_of(s, falses))
		return json_boolean(is_one_of(s, trues));
	if (all_in(digits, "0123456789"))
		base = 10;
	else if (strncmp(s, "0o", 2) == 0 && all_in(s + 2, "01234567"))
		base = 8;
	else if (strncmp(s, "0x", 2) == 0 && all_in(s + 2, "0123456789abcdefABCDEF"))
		base = 16;
	errno = 0;
	if (base) {
		long long v = strtoll(base == 10 ? s : s + 2, &end, base);
		*why = "integer out of range";
		return errno == ERANGE ? NULL : json_integer(v);
	}
	if (is_core_float(s)) {
		double d = strtod(s, &end);
		*why = "number out of range";
		return isinf(d) ? NULL : json_real(d);
	}
	*why = "infinity and NaN cannot be represented in JSON";
	if (is_one_of(s, nonfinite))
		return NULL;
	*why = "not valid UTF-8";
	return json_string(s);
}

static int node_to_json(struct ctx *c, const struct node *n, const char *path, json_t **out);

static void child_path(char *buf, const char *path, const char *key)
{
	if (snprintf(buf, PATH_MAX_LEN, "%s.%s", path, key) >= PATH_MAX_LEN)
		strcpy(buf + PATH_MAX_LEN - 4, "...");
}

/* Index of the first key of map equal to key i (a scalar), or i when there is none before. */
static size_t first_of_key(const struct node *map, size_t i)
{
	for (size_t j = 0; j < i; j += 2)
		if (map->items[j]->kind == NODE_SCALAR &&
		    strcmp(map->items[j]->text, map->items[i]->text) == 0)
			return j;
	return i;
}

/* Checks that every key of map is a scalar and appears once; reports every offender. */
static int check_keys(struct ctx *c, const struct node *map, const char *path)
{
	char kp[PATH_MAX_LEN];
	int rc = HUB_OK;

	for (size_t i = 0; i < map->n; i += 2) {
		const struct node *key = map->items[i];
		size_t j;
		if (key->kind != NODE_SCALAR) {
			rc = fail(c, key->line, path[0] ? path : NULL,
				  "mapping keys must be scalars, not %s", kind_noun(key));
			continue;
		}
		if ((j = first_of_key(map, i)) == i)
			continue;
		if (path[0])
			child_path(kp, path, key->text);
		else
			snprintf(kp, sizeof(kp), "%s", key->text);
		rc = fail(c, key->line, kp, "duplicate key (first set on line %d)",
			  map->items[j]->line);
	}
	return rc;
}

static int map_to_json(struct ctx *c, const struct node *n, const char *path, json_t **out)
{
	char kp[PATH_MAX_LEN];
	json_t *obj = json_object(), *v;
	int rc;

	if ((rc = check_keys(c, n, path)) != HUB_OK)
		goto fail;
	for (size_t i = 0; i < n->n; i += 2) {
		child_path(kp, path, n->items[i]->text);
		if ((rc = node_to_json(c, n->items[i + 1], kp, &v)) != HUB_OK)
			goto fail;
		json_object_set_new(obj, n->items[i]->text, v);
	}
	*out = obj;
	return HUB_OK;
fail:
	json_decref(obj);
	return rc;
}

static int node_to_json(struct ctx *c, const struct node *n, const char *path, json_t **out)
{
	char ip[PATH_MAX_LEN];
	const char *why = NULL;
	json_t *arr, *v;
	int rc;

	*out = NULL;
	if (n->kind == NODE_MAP)
		return map_to_json(c, n, path, out);
	if (n->kind == NODE_SCALAR) {
		*out = n->quoted ? json_string(n->text)
		       : is_null(n) ? json_null()
				    : resolve_plain(n->text, &why);
		if (!*out)
			return fail(c, n->line, path, "%s", why ? why : "not valid UTF-8");
		return HUB_OK;
	}
	arr = json_array();
	for (size_t i = 0; i < n->n; i++) {
		snprintf(ip, sizeof(ip), "%s[%zu]", path, i);
		if ((rc = node_to_json(c, n->items[i], ip, &v)) != HUB_OK) {
			json_decref(arr);
			return rc;
		}
		json_array_append_new(arr, v);
	}
	*out = arr;
	return HUB_OK;
}

/* ---------------------------------------------------------------------------------------- */
/* Setting one value */

static const char *type_noun(enum ktype type)
{
	static const char *const nouns[] = {
		[K_STRING] = "a string",
		[K_INT] = "an integer",
		[K_BOOL] = "true or false",
		[K_ENUM] = "a name",
		[K_BYTES] = "a size such as 65536, 64KiB or 100MB",
		[K_DURATION] = "a duration such as 250, 250ms, 5s or 2m",
		[K_OPTIONS] = "a mapping",
		[K_DOUBLE] = "a number",
		[K_LIST] = "a sequence of strings",
		[K_JSON] = "a value",
	};
	return nouns[type];
}

static void join_names(const char *const *names, char *buf, size_t len)
{
	size_t used = 0;

	buf[0] = '\0';
	for (size_t i = 0; names[i] && used < len; i++)
		used += (size_t)snprintf(buf + used, len - used, "%s%s", i ? ", " : "", names[i]);
}

static int set_string(struct ctx *c, const struct key *k, const struct node *v, const char *path,
		      char **p)
{
	const char *s = is_null(v) ? "" : v->text;
	const char *why;
	char list[256];

	if (!*s && (k->flags & F_NULLABLE)) {
		free(*p);
		*p = NULL;
		return HUB_OK;
	}
	if ((int64_t)strlen(s) < k->min)
		return fail(c, v->line, path, "must not be empty");
	if (k->names && !is_one_of(s, k->names)) {
		join_names(k->names, list, sizeof(list));
		return fail(c, v->line, path, "must be one of %s", list);
	}
	if (k->check && (why = k->check->fn(s)))
		return fail(c, v->line, path, "%s", why);
	free(*p);
	*p = hub_xstrdup(s);
	return HUB_OK;
}

static int set_number(struct ctx *c, const struct key *k, const struct node *v, const char *path,
		      void *p)
{
	char lo[32], hi[32], list[256];
	int64_t n = 0;
	int rc = parse_scaled(v->text, units_of(k->type), &n);

	if (rc == HUB_EPARSE)
		return fail(c, v->line, path, "expected %s, got \"%.40s\"", type_noun(k->type),
			    v->text);
	if (k->names) {
		format_value(K_INT, n, lo, sizeof(lo));
		if (rc != HUB_OK || !is_one_of(lo, k->names)) {
			join_names(k->names, list, sizeof(list));
			return fail(c, v->line, path, "must be one of %s", list);
		}
	}
	if (rc != HUB_OK || n < k->min || n > k->max) {
		format_value(k->type, k->min, lo, sizeof(lo));
		format_value(k->type, k->max, hi, sizeof(hi));
		return fail(c, v->line, path, "must be between %s and %s", lo, hi);
	}
	store_int(p, k->width, n);
	return HUB_OK;
}

static int set_named(struct ctx *c, const struct key *k, const struct node *v, const char *path,
		     void *p)
{
	static const char *const bools[] = {"false", "true", NULL};
	const char *const *names = k->type == K_BOOL ? bools : k->names;
	char list[256];

	for (size_t i = 0; names[i]; i++) {
		if (strcmp(v->text, names[i]) == 0) {
			store_int(p, k->width, (int64_t)i);
			return HUB_OK;
		}
	}
	if (k->type == K_BOOL)
		return fail(c, v->line, path, "expected true or false, got \"%.40s\"", v->text);
	join_names(names, list, sizeof(list));
	return fail(c, v->line, path, "must be one of %s", list);
}

static int set_options(struct ctx *c, const struct node *v, const char *path, json_t **p)
{
	json_t *obj = NULL;
	int rc;

	if (is_null(v))
		obj = json_object();
	else if (v->kind != NODE_MAP)
		return fail(c, v->line, path, "expected a mapping, got %s", kind_noun(v));
	else if ((rc = map_to_json(c, v, path, &obj)) != HUB_OK)
		return rc;
	json_decref(*p);
	*p = obj;
	return HUB_OK;
}

static int set_double(struct ctx *c, const struct node *v, const char *path, double *p)
{
	char *end;
	errno = 0;
	double d = strtod(v->text, &end);
	if (end == v->text || *end || !is_core_float(v->text) || errno == ERANGE || !isfinite(d))
		return fail(c, v->line, path, "expected a number, got \"%.40s\"", v->text);
	*p = d;
	return HUB_OK;
}

static void free_list(char **list)
{
	for (size_t i = 0; list && list[i]; i++)
		free(list[i]);
	free(list);
}

/* A sequence of non-empty strings, or one string alone: a NULL-terminated array. */
static int set_list(struct ctx *c, const struct node *v, const char *path, char ***p)
{
	const struct node *const *items = v->kind == NODE_SEQ ? (const struct node *const *)v->items
							       : &v;
	size_t n = v->kind == NODE_SEQ ? v->n : 1;
	if (v->kind == NODE_MAP)
		return fail(c, v->line, path, "expected a sequence of strings, got a mapping");
	char **list = hub_xcalloc(n + 1, sizeof(*list));
	for (size_t i = 0; i < n; i++) {
		if (items[i]->kind != NODE_SCALAR || is_null(items[i]) || !items[i]->text[0]) {
			free_list(list);
			return fail(c, items[i]->line, path, "item %zu: expected a non-empty string", i);
		}
		list[i] = hub_xstrdup(items[i]->text);
	}
	free_list(*p);
	*p = list;
	return HUB_OK;
}

/* Binds value node v to key k of the struct at base; path names it in messages. */
static int set_value(struct ctx *c, const struct key *k, const struct node *v, const char *path,
		     void *base)
{
	void *p = (char *)base + k->off;

	if (k->type == K_OPTIONS)
		return set_options(c, v, path, p);
	if (k->type == K_LIST)
		return set_list(c, v, path, p);
	if (k->type == K_JSON) {
		json_t *j;
		int rc = node_to_json(c, v, path, &j);
		if (rc == HUB_OK) {
			json_decref(*(json_t **)p);
			*(json_t **)p = j;
		}
		return rc;
	}
	if (k->type == K_DOUBLE && v->kind == NODE_SCALAR && !is_null(v))
		return set_double(c, v, path, p);
	if (v->kind != NODE_SCALAR || (is_null(v) && k->type != K_STRING)) {
		char list[256];
		if (!k->names)
			return fail(c, v->line, path, "expected %s, got %s", type_noun(k->type),
				    kind_noun(v));
		join_names(k->names, list, sizeof(list));
		return fail(c, v->line, path, "expected one of %s, got %s", list, kind_noun(v));
	}
	switch (k->type) {
	case K_STRING:
		return set_string(c, k, v, path, p);
	case K_BOOL:
	case K_ENUM:
		return set_named(c, k, v, path, p);
	default:
		return set_number(c, k, v, path, p);
	}
}

/* Sets key name of table t to text, as if it were written quoted in a file. */
static int set_text(struct ctx *c, const struct table *t, const char *name, const char *text,
		    void *base)
{
	struct node n = {.kind = NODE_SCALAR, .quoted = 1, .text = (char *)text};

	for (size_t i = 0; i < t->n; i++)
		if (strcmp(t->keys[i].path, name) == 0)
			return set_value(c, &t->keys[i], &n, name, base);
	abort(); /* a default names a key that is not in the table */
}

static int apply_defaults(struct ctx *c, const struct table *t, void *base)
{
	for (size_t i = 0; i < t->n; i++) {
		const struct key *k = &t->keys[i];
		int rc;
		if (k->type == K_OPTIONS) {
			*(json_t **)((char *)base + k->off) = json_object();
			continue;
		}
		if (k->type == K_DOUBLE && !k->def) {
			*(double *)((char *)base + k->off) = NAN;
			continue;
		}
		if (k->def && (rc = set_text(c, t, k->path, k->def, base)) != HUB_OK)
			return rc;
	}
	return HUB_OK;
}

static void free_fields(const struct table *t, void *base)
{
	for (size_t i = 0; i < t->n; i++) {
		void *p = (char *)base + t->keys[i].off;
		if (t->keys[i].type == K_STRING) {
			free(*(char **)p);
			*(char **)p = NULL;
		} else if (t->keys[i].type == K_OPTIONS || t->keys[i].type == K_JSON) {
			json_decref(*(json_t **)p);
			*(json_t **)p = NULL;
		} else if (t->keys[i].type == K_LIST) {
			free_list(*(char ***)p);
			*(char ***)p = NULL;
		}
	}
}

/* ---------------------------------------------------------------------------------------- */
/* Binding mappings */

/* Finds key name in t: rows are "<section>.<name>" when section is non-NULL, else "<name>". */
static const struct key *find_key(const struct table *t, const char *section, const char *name,
				  size_t *idx)
{
	size_t slen = section ? strlen(section) : 0;

	for (size_t i = 0; i < t->n; i++) {
		const char *p = t->keys[i].path;
		if (section && (strncmp(p, section, slen) != 0 || p[slen] != '.'))
			continue;
		if (strcmp(section ? p + slen + 1 : p, name) == 0) {
			*idx = i;
			return &t->keys[i];
		}
	}
	return NULL;
}

/* Key i of map is bound: a scalar, and the first of its name (check_keys reports the rest). */
static bool bindable(const struct node *map, size_t i)
{
	return map->items[i]->kind == NODE_SCALAR && first_of_key(map, i) == i;
}

/* Binds mapping map into base using rows of t, reporting every bad key; lines[i] gets the line
 * of row i when set, negated when its value was refused (cross-key checks then skip it). */
static int bind_mapping(struct ctx *c, const struct node *map, const struct table *t,
			const char *section, const char *path, void *base, int *lines)
{
	char kp[PATH_MAX_LEN];
	const struct key *k;
	size_t idx;
	int rc;

	if (is_null(map))
		return HUB_OK;
	if (map->kind != NODE_MAP)
		return fail(c, map->line, path, "expected a mapping, got %s", kind_noun(map));
	rc = check_keys(c, map, path);
	for (size_t i = 0; i < map->n; i += 2) {
		const struct node *key = map->items[i];
		if (!bindable(map, i))
			continue;
		child_path(kp, path, key->text);
		if (!(k = find_key(t, section, key->text, &idx))) {
			rc = fail(c, key->line, kp, "unknown key");
			continue;
		}
		lines[idx] = key->line;
		if (set_value(c, k, map->items[i + 1], kp, base) != HUB_OK) {
			lines[idx] = -key->line;
			rc = HUB_EINVAL;
		}
	}
	return rc;
}

/* Reports every required key that is not given (a key given with a bad value is reported
 * as such, not as missing). */
static int check_required(struct ctx *c, const struct table *t, const char *path, void *base,
			  int line, const int *lines)
{
	char kp[PATH_MAX_LEN];
	int rc = HUB_OK;

	for (size_t i = 0; i < t->n; i++) {
		if (!(t->keys[i].flags & F_REQUIRED) || lines[i] ||
		    *(char **)((char *)base + t->keys[i].off))
			continue;
		child_path(kp, path, t->keys[i].path);
		rc = fail(c, line, kp, "required key is missing");
	}
	return rc;
}

/* The line of row name, negative when its value was refused, 0 when not given. */
static int row_line(const int *lines, const struct table *t, const char *name)
{
	for (size_t i = 0; i < t->n; i++)
		if (strcmp(t->keys[i].path, name) == 0)
			return lines[i];
	return 0;
}

/* Checks that need more than one key of a sink; sinks[0..i-1] are already bound. */
static int check_sink(struct ctx *c, const void *arr, size_t i, const char *path,
		      const int *lines)
{
	const struct hub_cfg_sink *sinks = arr, *s = &sinks[i];
	char kp[PATH_MAX_LEN];
	const char *missing = NULL;

	for (size_t j = 0; j < i; j++) {
		if (!sinks[j].name || strcmp(sinks[j].name, s->name) != 0) /* NULL: a bad name */
			continue;
		child_path(kp, path, "name");
		return fail(c, row_line(lines, &sink_table, "name"), kp,
			    "duplicate sink name \"%s\" (also sinks[%zu])", s->name, j);
	}
	if (s->version == 1 && !s->database)
		missing = "database";
	else if (s->version == 2)
		missing = !s->org ? "org" : !s->bucket ? "bucket" : !s->token ? "token" : NULL;
	if (missing) {
		child_path(kp, path, missing);
		return fail(c, s->line, kp, "required when version is %d", s->version);
	}
	if (s->retry_base_ms > s->retry_cap_ms) {
		int a = row_line(lines, &sink_table, "retry_base_ms");
		int b = row_line(lines, &sink_table, "retry_cap_ms");
		child_path(kp, path, "retry_base_ms");
		return fail(c, a > b ? a : b, kp, "must not exceed retry_cap_ms");
	}
	return HUB_OK;
}

/* A sequence of mappings bound with one table: routes or sinks. */
struct list_spec {
	const char *name;
	const struct table *t;
	size_t size, line_off;
	int (*check)(struct ctx *c, const void *arr, size_t i, const char *path, const int *lines);
	size_t min_items;    /* fewer items is an error ... */
	const char *too_few; /* ... with this message */
};

static int bind_item(struct ctx *c, const struct list_spec *ls, const struct node *item,
		     char *arr, size_t i)
{
	char path[PATH_MAX_LEN];
	int lines[MAX_KEYS] = {0};
	void *base = arr + i * ls->size;
	int rc;

	snprintf(path, sizeof(path), "%s[%zu]", ls->name, i);
	memcpy((char *)base + ls->line_off, &item->line, sizeof(int));
	if ((rc = apply_defaults(c, ls->t, base)) != HUB_OK)
		return rc;
	if (item->kind != NODE_MAP)
		return fail(c, item->line, path, "expected a mapping, got %s", kind_noun(item));
	rc = bind_mapping(c, item, ls->t, NULL, path, base, lines);
	if (check_required(c, ls->t, path, base, item->line, lines) != HUB_OK)
		rc = HUB_EINVAL;
	/* checks across keys only make sense once every key of the item is good */
	if (rc == HUB_OK && ls->check)
		return ls->check(c, arr, i, path, lines);
	return rc;
}

/* Binds seq into a new array (*out, *n), every item even after a bad one (hub_config_free
 * frees them all). */
static int bind_list(struct ctx *c, const struct list_spec *ls, const struct node *seq,
		     void **out, size_t *n)
{
	char *arr;
	int rc = HUB_OK;

	*out = NULL;
	*n = 0;
	if (seq->kind != NODE_SEQ)
		return fail(c, seq->line, ls->name,
			    "expected a sequence of mappings%s, got %s",
			    ls->min_items ? "" : " ([] for none)", kind_noun(seq));
	if (seq->n < ls->min_items)
		return fail(c, seq->line, ls->name, "%s", ls->too_few);
	if (seq->n == 0)
		return HUB_OK;
	arr = hub_xcalloc(seq->n, ls->size);
	for (size_t i = 0; i < seq->n; i++)
		if (bind_item(c, ls, seq->items[i], arr, i) != HUB_OK)
			rc = HUB_EINVAL;
	*out = arr;
	*n = seq->n;
	return rc;
}

/* An empty routes: would subscribe to nothing (Paho sends an empty SUBSCRIBE, which the
 * broker answers by closing the connection): refused, see docs/config.md. */
static const struct list_spec route_list = {
	"routes", &route_table, sizeof(struct hub_cfg_route), offsetof(struct hub_cfg_route, line),
	NULL, 1,
	"must list at least one route (leave routes: out for the default route city/#)"};
static const struct list_spec sink_list = {
	"sinks", &sink_table, sizeof(struct hub_cfg_sink), offsetof(struct hub_cfg_sink, line),
	check_sink, 0, NULL};
static int check_rule(struct ctx *c, const void *arr, size_t i, const char *path,
		      const int *lines);
static int check_notifier(struct ctx *c, const void *arr, size_t i, const char *path,
			  const int *lines);
static const struct list_spec rule_list = {
	"rules", &rule_table, sizeof(struct hub_cfg_rule), offsetof(struct hub_cfg_rule, line),
	check_rule, 0, NULL};
static const struct list_spec notifier_list = {
	"notifiers", &notifier_table, sizeof(struct hub_cfg_notifier),
	offsetof(struct hub_cfg_notifier, line), check_notifier, 0, NULL};

/* Appends the rules bound from seq (read from file) to cfg->rules. */
static int add_rules(struct ctx *c, const struct node *seq, struct hub_config *cfg)
{
	void *arr;
	size_t n;
	int rc = bind_list(c, &rule_list, seq, &arr, &n);

	if (rc != HUB_OK)
		return rc;
	cfg->rules = hub_xrealloc(cfg->rules, (cfg->nrules + n + 1) * sizeof(*cfg->rules));
	for (size_t i = 0; i < n; i++) {
		struct hub_cfg_rule *r = (struct hub_cfg_rule *)arr + i;
		r->file = hub_xstrdup(c->file);
		cfg->rules[cfg->nrules++] = *r;
	}
	free(arr);
	return HUB_OK;
}

static bool label_name_ok(const char *s)
{
	if (!*s || !(isalpha((unsigned char)*s) || *s == '_'))
		return false;
	for (; *s; s++)
		if (!(isalnum((unsigned char)*s) || *s == '_'))
			return false;
	return true;
}

/* labels: and match: are objects of strings; labels may not set the engine's own labels. */
static int check_string_map(struct ctx *c, const json_t *obj, const char *path, int line,
			    bool labels)
{
	static const char *const reserved[] = {"alertname", "sensor_id", "severity", "level",
					       "kind", NULL};
	const char *key;
	json_t *v;

	json_object_foreach((json_t *)obj, key, v) {
		if (!json_is_string(v))
			return fail(c, line, path, "%s: the value must be a string", key);
		if (labels && (!label_name_ok(key) || is_one_of(key, reserved)))
			return fail(c, line, path, "%s: not a label name of your own (letters, "
				    "digits, _; not alertname, sensor_id, severity, level, kind)", key);
	}
	return HUB_OK;
}

/* bands: ascending {level, above, severity?} items; levels become label values. */
static int check_bands(struct ctx *c, const json_t *bands, const char *path, int line)
{
	double prev = -INFINITY;
	size_t i;
	json_t *b;

	if (!json_is_array(bands) || json_array_size(bands) == 0 || json_array_size(bands) > 16)
		return fail(c, line, path, "expected 1 to 16 items {level, above, severity}");
	json_array_foreach(bands, i, b) {
		json_t *lv = json_object_get(b, "level"), *ab = json_object_get(b, "above");
		json_t *sv = json_object_get(b, "severity");
		if (!json_is_object(b) || json_object_size(b) != 2u + (sv != NULL) ||
		    !json_is_string(lv) || !json_string_length(lv) || !json_is_number(ab))
			return fail(c, line, path, "item %zu: expected {level: NAME, above: NUMBER, "
				    "severity: ...} and nothing else", i);
		if (sv && (!json_is_string(sv) || !is_one_of(json_string_value(sv), severities)))
			return fail(c, line, path, "item %zu: severity must be one of info, warning, "
				    "major, critical", i);
		if (json_number_value(ab) <= prev)
			return fail(c, line, path, "item %zu: bands must be in ascending order", i);
		prev = json_number_value(ab);
	}
	return HUB_OK;
}

static int rule_fail(struct ctx *c, const struct hub_cfg_rule *r, const char *path,
		     const char *key, const char *what, const int *lines)
{
	char kp[PATH_MAX_LEN];
	int line = row_line(lines, &rule_table, key);
	child_path(kp, path, key);
	return fail(c, line ? line : r->line, kp, "%s", what);
}

/* What a rule's type needs (file:line of the key at fault, else of the rule). */
static int check_rule_type(struct ctx *c, const struct hub_cfg_rule *r, const char *path,
			   const int *lines)
{
	bool stale = strcmp(r->type, "stale") == 0, bands = strcmp(r->type, "bands") == 0;
	bool windowed = strcmp(r->type, "rate") == 0 || strcmp(r->type, "window") == 0;

	if (!stale && (!r->kind || strcmp(r->kind, "*") == 0))
		return rule_fail(c, r, path, "kind", "required (a kind name) for this type", lines);
	if (!stale && !r->field)
		return rule_fail(c, r, path, "field", "required for this type", lines);
	if (bands)
		return r->bands ? check_bands(c, r->bands, path, r->line)
				: rule_fail(c, r, path, "bands", "required for type bands", lines);
	if (r->bands)
		return rule_fail(c, r, path, "bands", "only for type bands", lines);
	if (windowed && r->window_ms <= 0)
		return rule_fail(c, r, path, "window", "required for this type", lines);
	if (stale)
		return r->factor > 0 ? HUB_OK
				     : rule_fail(c, r, path, "factor", "must be above 0", lines);
	if (isnan(r->above) == isnan(r->below))
		return rule_fail(c, r, path, "above", "give exactly one of above and below", lines);
	if (!isnan(r->clear) && (isnan(r->above) ? r->clear < r->below : r->clear > r->above))
		return rule_fail(c, r, path, "clear",
				 "must be on the safe side of the threshold (at most above, at "
				 "least below)", lines);
	return HUB_OK;
}

static int check_rule(struct ctx *c, const void *arr, size_t i, const char *path,
		      const int *lines)
{
	const struct hub_cfg_rule *r = (const struct hub_cfg_rule *)arr + i;
	char kp[PATH_MAX_LEN];
	int rc;

	child_path(kp, path, "labels");
	if ((rc = check_string_map(c, r->labels, kp, r->line, true)) != HUB_OK)
		return rc;
	child_path(kp, path, "match");
	if ((rc = check_string_map(c, r->match, kp, r->line, false)) != HUB_OK)
		return rc;
	return check_rule_type(c, r, path, lines);
}

static int check_notifier(struct ctx *c, const void *arr, size_t i, const char *path,
			  const int *lines)
{
	const struct hub_cfg_notifier *all = arr, *n = &all[i];
	char kp[PATH_MAX_LEN];
	bool http = strcmp(n->type, "mqtt") != 0;
	const char *why;

	for (size_t j = 0; j < i; j++)
		if (strcmp(all[j].name, n->name) == 0)
			return fail(c, n->line, path, "duplicate notifier name \"%s\" (also "
				    "notifiers[%zu])", n->name, j);
	child_path(kp, path, "urls");
	if (http && (!n->urls || !n->urls[0]))
		return fail(c, n->line, kp, "required for type %s", n->type);
	if (!http && n->urls && n->urls[0])
		return fail(c, row_line(lines, &notifier_table, "urls"), kp, "not used by type mqtt");
	for (size_t j = 0; n->urls && n->urls[j]; j++)
		if ((why = check_http_url(n->urls[j])))
			return fail(c, row_line(lines, &notifier_table, "urls"), kp, "%s: %s",
				    n->urls[j], why);
	if (strcmp(n->type, "webhook") == 0 && n->urls[1])
		return fail(c, row_line(lines, &notifier_table, "urls"), kp,
			    "a webhook posts to one URL");
	return HUB_OK;
}

static bool is_section(const char *name)
{
	for (size_t i = 0; i < ARRAY_LEN(sections); i++)
		if (strcmp(sections[i].name, name) == 0)
			return true;
	return false;
}

static int bind_top_key(struct ctx *c, const struct node *key, const struct node *val,
			struct hub_config *cfg, int *lines)
{
	void *arr;
	int rc;

	if (strcmp(key->text, "routes") == 0) {
		rc = bind_list(c, &route_list, val, &arr, &cfg->nroutes);
		cfg->routes = arr;
		return rc;
	}
	if (strcmp(key->text, "sinks") == 0) {
		rc = bind_list(c, &sink_list, val, &arr, &cfg->nsinks);
		cfg->sinks = arr;
		return rc;
	}
	if (strcmp(key->text, "rules") == 0)
		return add_rules(c, val, cfg);
	if (strcmp(key->text, "notifiers") == 0) {
		rc = bind_list(c, &notifier_list, val, &arr, &cfg->nnotifiers);
		cfg->notifiers = arr;
		return rc;
	}
	if (!is_section(key->text))
		return fail(c, key->line, key->text, "unknown key");
	return bind_mapping(c, val, &main_table, key->text, key->text, cfg, lines);
}

static int check_journal(struct ctx *c, const struct hub_config *cfg, const int *lines)
{
	int a = row_line(lines, &main_table, "journal.segment_bytes");
	int b = row_line(lines, &main_table, "journal.max_bytes");
	char max[32];

	if (a < 0 || b < 0 || cfg->journal.segment_bytes <= cfg->journal.max_bytes)
		return HUB_OK;
	format_value(K_BYTES, cfg->journal.max_bytes, max, sizeof(max));
	return fail(c, a > b ? a : b, "journal.segment_bytes",
		    "must not exceed journal.max_bytes (%s)", max);
}

static bool is_tls_url(const char *url)
{
	return strncmp(url, "ssl://", 6) == 0 || strncmp(url, "mqtts://", 8) == 0 ||
	       strncmp(url, "wss://", 6) == 0;
}

/* TLS options with a plain URL would be ignored without a word: refuse them. */
static int check_mqtt(struct ctx *c, const struct hub_config *cfg, const int *lines)
{
	static const char *const tls_keys[] = {"mqtt.ca_file", "mqtt.cert_file", "mqtt.key_file",
					       "mqtt.tls_insecure"};
	const bool set[] = {cfg->mqtt.ca_file != NULL, cfg->mqtt.cert_file != NULL,
			    cfg->mqtt.key_file != NULL, cfg->mqtt.tls_insecure != 0};
	int url_line = row_line(lines, &main_table, "mqtt.url");
	int rc = HUB_OK;

	if (url_line < 0)
		return HUB_OK;
	for (size_t i = 0; i < ARRAY_LEN(tls_keys) && !is_tls_url(cfg->mqtt.url); i++) {
		int line = row_line(lines, &main_table, tls_keys[i]);
		if (line > 0 && set[i])
			rc = fail(c, line, tls_keys[i],
				  "TLS option given with the non-TLS URL %s (use ssl:// or mqtts://)",
				  cfg->mqtt.url);
	}
	if (cfg->mqtt.key_file && !cfg->mqtt.cert_file && row_line(lines, &main_table,
								     "mqtt.key_file") > 0)
		rc = fail(c, row_line(lines, &main_table, "mqtt.key_file"), "mqtt.key_file",
			  "given without mqtt.cert_file");
	return rc;
}

static int bind_root(struct ctx *c, const struct node *root, struct hub_config *cfg,
		     bool *have_routes, bool *have_sinks)
{
	int lines[MAX_KEYS] = {0};
	int rc;

	if (!root || is_null(root))
		return HUB_OK;
	if (root->kind != NODE_MAP)
		return fail(c, root->line, NULL, "the file must be a mapping of sections "
			    "(mqtt, journal, ...), not %s", kind_noun(root));
	rc = check_keys(c, root, "");
	for (size_t i = 0; i < root->n; i += 2) {
		const struct node *key = root->items[i];
		if (!bindable(root, i))
			continue;
		if (bind_top_key(c, key, root->items[i + 1], cfg, lines) != HUB_OK)
			rc = HUB_EINVAL;
		*have_routes |= strcmp(key->text, "routes") == 0;
		*have_sinks |= strcmp(key->text, "sinks") == 0;
	}
	if (check_journal(c, cfg, lines) != HUB_OK)
		rc = HUB_EINVAL;
	if (check_mqtt(c, cfg, lines) != HUB_OK)
		rc = HUB_EINVAL;
	return rc;
}

static int set_pairs(struct ctx *c, const struct table *t, const char *const *pairs, void *base)
{
	int rc;

	for (size_t i = 0; pairs[i]; i += 2)
		if ((rc = set_text(c, t, pairs[i], pairs[i + 1], base)) != HUB_OK)
			return rc;
	return HUB_OK;
}

static int add_defaults(struct ctx *c, struct hub_config *cfg, bool have_routes, bool have_sinks)
{
	int rc;

	if (!have_routes) {
		cfg->routes = hub_xcalloc(1, sizeof(*cfg->routes));
		cfg->nroutes = 1;
		if ((rc = apply_defaults(c, &route_table, cfg->routes)) != HUB_OK ||
		    (rc = set_pairs(c, &route_table, default_route, cfg->routes)) != HUB_OK)
			return rc;
	}
	if (!have_sinks) {
		cfg->sinks = hub_xcalloc(1, sizeof(*cfg->sinks));
		cfg->nsinks = 1;
		if ((rc = apply_defaults(c, &sink_table, cfg->sinks)) != HUB_OK ||
		    (rc = set_pairs(c, &sink_table, default_sink, cfg->sinks)) != HUB_OK)
			return rc;
	}
	return HUB_OK;
}

/* Reads a rule file (a mapping with one key, rules:) and appends its rules to cfg. */
static int load_rule_file(struct ctx *parent, const char *path, struct hub_config *cfg)
{
	struct ctx c = {.file = path, .err = parent->err, .errlen = parent->errlen};
	struct node *root = NULL;
	int rc = read_file(&c, path, &root);

	if (rc != HUB_OK)
		return rc;
	if (!root || root->kind != NODE_MAP || root->n != 2 ||
	    strcmp(root->items[0]->text, "rules") != 0)
		rc = fail(&c, root ? root->line : 0, NULL,
			  "a rule file is a mapping with one key, rules:");
	else
		rc = add_rules(&c, root->items[1], cfg);
	node_free(root);
	return rc;
}

/* Resolves name against the directory of base (unless name is absolute). */
static char *relative_to(const char *base, const char *name)
{
	const char *slash = base ? strrchr(base, '/') : NULL;
	struct hub_buf b = {0};

	if (name[0] == '/' || !slash)
		return hub_xstrdup(name);
	hub_buf_printf(&b, "%.*s/%s", (int)(slash - base), base, name);
	return b.data;
}

/* Every rule name appears once, over the config and all rule files. */
static int check_rule_names(struct ctx *c, const struct hub_config *cfg)
{
	for (size_t i = 0; i < cfg->nrules; i++)
		for (size_t j = 0; j < i; j++)
			if (strcmp(cfg->rules[i].name, cfg->rules[j].name) == 0) {
				struct ctx at = *c;
				at.file = cfg->rules[i].file;
				return fail(&at, cfg->rules[i].line, "rules",
					    "duplicate rule name \"%s\" (also %s:%d)",
					    cfg->rules[i].name, cfg->rules[j].file,
					    cfg->rules[j].line);
			}
	return HUB_OK;
}

static int load_rule_files(struct ctx *c, const char *config_path, struct hub_config *cfg)
{
	for (size_t i = 0; cfg->alerts.rule_files && cfg->alerts.rule_files[i]; i++) {
		char *p = relative_to(config_path, cfg->alerts.rule_files[i]);
		int rc = load_rule_file(c, p, cfg);
		free(p);
		if (rc != HUB_OK)
			return rc;
	}
	return check_rule_names(c, cfg);
}

int hub_config_read_json(const char *path, json_t **out, char *err, size_t errlen)
{
	struct ctx c = {.file = path, .err = err, .errlen = errlen};
	struct node *root = NULL;
	int rc = read_file(&c, path, &root);

	*out = NULL;
	if (rc == HUB_OK && !root)
		rc = fail(&c, 0, NULL, "the file is empty");
	if (rc == HUB_OK)
		rc = node_to_json(&c, root, "", out);
	node_free(root);
	return rc;
}

int hub_config_load_rules(const char *path, struct hub_config *cfg, char *err, size_t errlen)
{
	struct ctx c = {.file = path, .err = err, .errlen = errlen};
	int rc = load_rule_file(&c, path, cfg);
	return rc == HUB_OK ? check_rule_names(&c, cfg) : rc;
}

int hub_config_load(const char *path, struct hub_config *cfg, char *err, size_t errlen)
{
	struct ctx c = {.file = path ? path : "(defaults)", .err = err, .errlen = errlen};
	struct node *root = NULL;
	bool have_routes = false, have_sinks = false;
	int rc;

	if (!cfg)
		return HUB_EINVAL;
	memset(cfg, 0, sizeof(*cfg));
	if (err && errlen)
		err[0] = '\0';
	if ((rc = apply_defaults(&c, &main_table, cfg)) != HUB_OK)
		goto fail;
	if (path) {
		cfg->path = hub_xstrdup(path);
		if ((rc = read_file(&c, path, &root)) != HUB_OK)
			goto fail;
		if ((rc = bind_root(&c, root, cfg, &have_routes, &have_sinks)) != HUB_OK)
			goto fail;
		if ((rc = load_rule_files(&c, path, cfg)) != HUB_OK)
			goto fail;
		if (cfg->live.registry) {
			char *p = relative_to(path, cfg->live.registry);
			free(cfg->live.registry);
			cfg->live.registry = p;
		}
	}
	if ((rc = add_defaults(&c, cfg, have_routes, have_sinks)) != HUB_OK)
		goto fail;
	node_free(root);
	return HUB_OK;
fail:
	if (c.nerr > MAX_ERRORS && err && c.used + 1 < errlen)
		snprintf(err + c.used, errlen - c.used, "\n%s: %d more errors not shown", c.file,
			 c.nerr - MAX_ERRORS);
	node_free(root);
	hub_config_free(cfg);
	return HUB_EINVAL;
}

void hub_config_free(struct hub_config *cfg)
{
	if (!cfg)
		return;
	for (size_t i = 0; i < cfg->nroutes; i++)
		free_fields(&route_table, &cfg->routes[i]);
	for (size_t i = 0; i < cfg->nsinks; i++)
		free_fields(&sink_table, &cfg->sinks[i]);
	for (size_t i = 0; i < cfg->nrules; i++) {
		free_fields(&rule_table, &cfg->rules[i]);
		free(cfg->rules[i].file);
	}
	for (size_t i = 0; i < cfg->nnotifiers; i++)
		free_fields(&notifier_table, &cfg->notifiers[i]);
	free(cfg->routes);
	free(cfg->sinks);
	free(cfg->rules);
	free(cfg->notifiers);
	free_fields(&main_table, cfg);
	free(cfg->path);
	memset(cfg, 0, sizeof(*cfg));
}

/* ---------------------------------------------------------------------------------------- */
/* The reference */

static const char *type_name(enum ktype type)
{
	static const char *const names[] = {
		[K_STRING] = "string", [K_INT] = "integer", [K_BOOL] = "bool", [K_ENUM] = "enum",
		[K_BYTES] = "size",    [K_DURATION] = "duration", [K_OPTIONS] = "mapping",
		[K_DOUBLE] = "number", [K_LIST] = "list",         [K_JSON] = "YAML",
	};
	return names[type];
}

static void doc_names(struct hub_buf *b, const char *const *names)
{
	for (size_t i = 0; names[i]; i++)
		hub_buf_printf(b, "%s`%s`", i ? ", " : "", names[i]);
}

static void doc_range(struct hub_buf *b, const struct key *k)
{
	char lo[32], hi[32];

	if (k->type == K_BOOL) {
		doc_names(b, (const char *const[]){"true", "false", NULL});
	} else if (k->names) {
		doc_names(b, k->names);
	} else if (k->type == K_STRING || k->type == K_OPTIONS || k->type == K_DOUBLE ||
		   k->type == K_LIST || k->type == K_JSON) {
		if (k->check)
			hub_buf_puts(b, k->check->doc);
		else if (k->min > 0)
			hub_buf_puts(b, "non-empty");
	} else {
		format_value(k->type, k->min, lo, sizeof(lo));
		format_value(k->type, k->max, hi, sizeof(hi));
		hub_buf_printf(b, "%s .. %s", lo, hi);
	}
}

static void doc_default(struct hub_buf *b, const struct key *k)
{
	if (k->type == K_OPTIONS)
		hub_buf_puts(b, "`{}`");
	else if (k->type == K_LIST)
		hub_buf_puts(b, "`[]`");
	else if (k->flags & F_REQUIRED)
		hub_buf_puts(b, "required");
	else if (!k->def)
		hub_buf_puts(b, "none");
	else if (!k->def[0])
		hub_buf_puts(b, "`\"\"`");
	else
		hub_buf_printf(b, "`%s`", k->def);
}

/* Writes one table row; prefix is prepended to the key name (e.g. "routes[]."). */
static void doc_row(FILE *out, const struct key *k, const char *prefix)
{
	struct hub_buf b = {0};

	hub_buf_printf(&b, "| `%s%s` | %s | ", prefix, k->path, type_name(k->type));
	doc_default(&b, k);
	hub_buf_puts(&b, " | ");
	doc_range(&b, k);
	hub_buf_printf(&b, " | %s |\n", k->doc);
	fputs(b.data, out);
	hub_buf_fini(&b);
}

static void doc_header(FILE *out, const char *title, const char *text)
{
	fprintf(out, "### `%s`\n\n%s\n\n", title, text);
	fputs("| Key | Type | Default | Range | Description |\n", out);
	fputs("|---|---|---|---|---|\n", out);
}

void hub_config_write_doc(FILE *out)
{
	for (size_t s = 0; s < ARRAY_LEN(sections); s++) {
		size_t len = strlen(sections[s].name);
		doc_header(out, sections[s].name, sections[s].doc);
		for (size_t i = 0; i < main_table.n; i++)
			if (strncmp(main_keys[i].path, sections[s].name, len) == 0 &&
			    main_keys[i].path[len] == '.')
				doc_row(out, &main_keys[i], "");
		fputs("\n", out);
	}
	doc_header(out, "routes",
		   "A sequence of routes, each mapping a topic filter to an adapter. Without a "
		   "`routes:` key there is one route: filter `city/#`, adapter `native`, template "
		   "`city/{kind}/{district}/{sensor_id}`.");
	for (size_t i = 0; i < route_table.n; i++)
		doc_row(out, &route_keys[i], "routes[].");
	fputs("\n", out);
	doc_header(out, "sinks",
		   "A sequence of stores the records are written to, each with its own cursor in "
		   "the journal. Without a `sinks:` key there is one sink named `influxdb` at "
		   "`http://127.0.0.1:8086` (version 1, database `city`).");
	for (size_t i = 0; i < sink_table.n; i++)
		doc_row(out, &sink_keys[i], "sinks[].");
	fputs("\n", out);
	doc_header(out, "rules",
		   "Alert rules (docs/alerts.md), here or in `alerts.rule_files` (each a mapping "
		   "with one key, `rules:`). Keys a rule's type does not use are refused where "
		   "they would mislead.");
	for (size_t i = 0; i < rule_table.n; i++)
		doc_row(out, &rule_keys[i], "rules[].");
	fputs("\n", out);
	doc_header(out, "notifiers",
		   "Where alert transitions are sent, each from its own thread and bounded queue.");
	for (size_t i = 0; i < notifier_table.n; i++)
		doc_row(out, &notifier_keys[i], "notifiers[].");
	fputs("\n", out);
}
