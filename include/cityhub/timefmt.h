/* Time parsing shared by adapters: no float detour, results in ns since the Unix epoch. */
#ifndef CITYHUB_TIMEFMT_H
#define CITYHUB_TIMEFMT_H

#include <stddef.h>
#include <stdint.h>

/* Parses RFC 3339 (e.g. 2026-11-26T10:00:00.123456789+07:00, 'Z' or offset required)
 * of exactly len bytes into *ns. HUB_EPARSE on bad syntax, HUB_ERANGE out of 1970..2262. */
int hub_time_parse_rfc3339(const char *s, size_t len, int64_t *ns);

/* Converts an integer count of units since the epoch (unit_ns = 1e9 for s, 1e6 for ms,
 * 1e3 for us, 1 for ns) to ns; HUB_ERANGE on overflow or before 1970. */
int hub_time_from_int(int64_t v, int64_t unit_ns, int64_t *ns);

/* Writes ns as RFC 3339 UTC with nanoseconds into buf (at least 36 bytes). */
void hub_time_format(int64_t ns, char *buf, size_t len);

#endif
