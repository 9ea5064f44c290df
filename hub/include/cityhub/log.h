/* Logging in logfmt: `ts=... level=info msg="..." key=value`. Thread-safe. */
#ifndef CITYHUB_LOG_H
#define CITYHUB_LOG_H

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

/* Writes one logfmt line; fmt is the rest of the line after ts and level, e.g. msg="x" k=v. */
void hub_log_write(enum hub_log_level level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

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
