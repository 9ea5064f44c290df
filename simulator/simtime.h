/* Simulated-time helpers: date/time and duration parsing, RFC 3339 formatting. Times are ns
 * since the Unix epoch (UTC). */
#ifndef SIM_TIME_H
#define SIM_TIME_H

#include <stddef.h>
#include <stdint.h>

#define SIM_NS_PER_S 1000000000LL

/* Parses "YYYY-MM-DD[(T| )hh:mm[:ss[.frac]]][Z|(+|-)hh:mm]" into *ns; without a zone the
 * time is local at local_offset_s east of UTC. HUB_EPARSE on bad syntax, HUB_ERANGE on
 * fields out of range. */
int sim_time_parse(const char *s, int local_offset_s, int64_t *ns);

/* Parses a duration such as "90s", "10m", "1h30m", "2d", "250ms" or a plain number of
 * seconds into *ns (>= 0). HUB_EPARSE on bad syntax, HUB_ERANGE when too large. */
int sim_duration_parse(const char *s, int64_t *ns);

/* Writes ns as RFC 3339 UTC with `digits` fraction digits (0, 3, 6 or 9), e.g.
 * 2026-03-15T00:00:00.000Z, into buf (at least 40 bytes). */
void sim_time_format(int64_t ns, int digits, char *buf, size_t len);

/* Returns days since 1970-01-01 for a proleptic Gregorian date. */
int64_t sim_days_from_civil(int64_t y, int m, int d);

#endif
