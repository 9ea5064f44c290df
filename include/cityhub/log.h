/* Logging in logfmt: `ts=... level=info msg="..." key=value`. Thread-safe. */
#ifndef CITYHUB_LOG_H
#define CITYHUB_LOG_H

#include <stddef.h>
#include <stdio.h>

enum hub_log_level { HUB_LOG_DEBUG, HUB_LOG_INFO, HUB_LOG_WARN, HUB_LOG_ERROR };

/* Sets the lowest level that is written (default info). */
void hub_log_set_level(enum hub_log_level level);

/* Parses "debug|info|warn|error" into *out; HUB_EINVAL for anything else. */
int hub_log_parse_level(const char *name, enum hub_log_level *out);

/* Sets where lines go (default stderr); the caller keeps ownership of fp. */
void hub_log_set_stream(FILE *fp);

/* Returns 1 when a line at level would be written. */
int hub_log_enabled(enum hub_log_level level);

/* Writes one logfmt line; fmt is the rest of the line after ts and level, e.g. msg="x" k=v.
 * Values that come from outside (topics, payload text, replies, config strings) go through
 * hub_logq(). As a last guard, a control character that still reaches the line is written
 * escaped (\n, \xHH): one call is always one line. */
void hub_log_write(enum hub_log_level level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* hub_log_quote's n for a NUL-terminated s. */
#define HUB_LOG_CSTR ((size_t)-1)

/* Writes n bytes of s (HUB_LOG_CSTR: up to its NUL; NULL: "") into dst as one logfmt value:
 * bare when it is non-empty and has no space, '=', '"', '\' or control byte, else in double
 * quotes with \" \\ \n \r \t and \xHH escapes, so that no value can end its key or line or
 * start another. A value longer than dst (cap bytes, at least 16) is cut between two escapes
 * and ends in "..." inside its quotes. Returns dst, which the caller owns. */
const char *hub_log_quote(char *dst, size_t cap, const char *s, size_t n);

/* A quoted value of s in a buffer that lives until the end of the enclosing block (the
 * statement of a hub_log call): hub_warn("msg=\"x\" topic=%s", hub_logq(topic)). */
#define HUB_LOGQ_CAP 512
#define hub_logq(s) hub_log_quote((char[HUB_LOGQ_CAP]){0}, HUB_LOGQ_CAP, (s), HUB_LOG_CSTR)
#define hub_logqn(s, n) hub_log_quote((char[HUB_LOGQ_CAP]){0}, HUB_LOGQ_CAP, (s), (n))

#define hub_log(level, ...)                                                   \
	do {                                                                  \
		if (hub_log_enabled(level))                                   \
			hub_log_write(level, __VA_ARGS__);                    \
	} while (0)
#define hub_debug(...) hub_log(HUB_LOG_DEBUG, __VA_ARGS__)
#define hub_info(...) hub_log(HUB_LOG_INFO, __VA_ARGS__)
#define hub_warn(...) hub_log(HUB_LOG_WARN, __VA_ARGS__)
#define hub_error(...) hub_log(HUB_LOG_ERROR, __VA_ARGS__)

#endif
