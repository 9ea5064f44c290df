#include "simtime.h"

#include "cityhub/error.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int64_t sim_days_from_civil(int64_t y, int m, int d)
{
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	int64_t yoe = y - era * 400;
	int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

static void civil_from_days(int64_t z, int *y, int *m, int *d)
{
	z += 719468;
	int64_t era = (z >= 0 ? z : z - 146096) / 146097;
	int64_t doe = z - era * 146097;
	int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	int64_t mp = (5 * doy + 2) / 153;
	*d = (int)(doy - (153 * mp + 2) / 5 + 1);
	*m = (int)(mp < 10 ? mp + 3 : mp - 9);
	*y = (int)(yoe + era * 400 + (*m <= 2));
}

/* Reads exactly n digits at *p into *out and advances *p. */
static int digits(const char **p, int n, int *out)
{
	int v = 0;
	for (int i = 0; i < n; i++) {
		if (!isdigit((unsigned char)(*p)[i]))
			return HUB_EPARSE;
		v = v * 10 + ((*p)[i] - '0');
	}
	*p += n;
	*out = v;
	return HUB_OK;
}

static int parse_zone(const char *p, int local_offset_s, int *offset_s)
{
	int hh, mm;
	if (*p == '\0') {
		*offset_s = local_offset_s;
		return HUB_OK;
	}
	if ((*p == 'Z' || *p == 'z') && p[1] == '\0') {
		*offset_s = 0;
		return HUB_OK;
	}
	if (*p != '+' && *p != '-')
		return HUB_EPARSE;
	int sign = *p++ == '-' ? -1 : 1;
	if (digits(&p, 2, &hh) || *p++ != ':' || digits(&p, 2, &mm) || *p != '\0')
		return HUB_EPARSE;
	if (hh > 23 || mm > 59)
		return HUB_ERANGE;
	*offset_s = sign * (hh * 3600 + mm * 60);
	return HUB_OK;
}

/* Parses ":ss[.frac]" when present; p points after "hh:mm". */
static int parse_seconds(const char **p, int *sec, int64_t *frac_ns)
{
	*sec = 0;
	*frac_ns = 0;
	if (**p != ':')
		return HUB_OK;
	(*p)++;
	if (digits(p, 2, sec))
		return HUB_EPARSE;
	if (**p != '.')
		return HUB_OK;
	(*p)++;
	int n = 0;
	int64_t scale = 100000000;
	for (; isdigit((unsigned char)**p); (*p)++, n++) {
		*frac_ns += (**p - '0') * scale;
		scale /= 10;
	}
	return n == 0 ? HUB_EPARSE : HUB_OK;
}

int sim_time_parse(const char *s, int local_offset_s, int64_t *ns)
{
	int y, mo, d, h = 0, mi = 0, sec = 0, off;
	int64_t frac = 0;
	const char *p = s;
	if (!s || digits(&p, 4, &y) || *p++ != '-' || digits(&p, 2, &mo) || *p++ != '-' ||
	    digits(&p, 2, &d))
		return HUB_EPARSE;
	if (*p == 'T' || *p == 't' || *p == ' ') {
		p++;
		if (digits(&p, 2, &h) || *p++ != ':' || digits(&p, 2, &mi) ||
		    parse_seconds(&p, &sec, &frac))
			return HUB_EPARSE;
	}
	int rc = parse_zone(p, local_offset_s, &off);
	if (rc)
		return rc;
	if (y < 1970 || y > 2200 || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 ||
	    sec > 60)
		return HUB_ERANGE;
	int64_t secs = sim_days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec - off;
	*ns = secs * SIM_NS_PER_S + frac;
	return HUB_OK;
}

struct unit {
	const char *name;
	int64_t ns;
};

static const struct unit units[] = {
    {"ms", 1000000LL},          {"s", SIM_NS_PER_S},         {"m", 60 * SIM_NS_PER_S},
    {"h", 3600 * SIM_NS_PER_S}, {"d", 86400 * SIM_NS_PER_S}, {"w", 7 * 86400 * SIM_NS_PER_S},
};

/* Matches the unit at *p (longest first: "ms" before "m"); 0 when none. */
static int64_t match_unit(const char **p)
{
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		size_t n = strlen(units[i].name);
		if (strncmp(*p, units[i].name, n) == 0) {
			*p += n;
			return units[i].ns;
		}
	}
	return 0;
}

int sim_duration_parse(const char *s, int64_t *ns)
{
	if (!s || !*s)
		return HUB_EPARSE;
	double total = 0;
	const char *p = s;
	while (*p) {
		char *end;
		if (!isdigit((unsigned char)*p) && *p != '.')
			return HUB_EPARSE;
		errno = 0;
		double v = strtod(p, &end);
		if (end == p || errno || !(v >= 0))
			return HUB_EPARSE;
		p = end;
		int64_t unit = *p ? match_unit(&p) : SIM_NS_PER_S;
		if (unit == 0)
			return HUB_EPARSE;
		total += v * (double)unit;
	}
	if (total > 9.0e18)
		return HUB_ERANGE;
	*ns = (int64_t)(total + 0.5);
	return HUB_OK;
}

void sim_time_format(int64_t ns, int digits_n, char *buf, size_t len)
{
	int64_t secs = ns / SIM_NS_PER_S, frac = ns % SIM_NS_PER_S;
	if (frac < 0) {
		frac += SIM_NS_PER_S;
		secs--;
	}
	int64_t days = secs / 86400, rem = secs % 86400;
	if (rem < 0) {
		rem += 86400;
		days--;
	}
	int y, m, d;
	civil_from_days(days, &y, &m, &d);
	int n = snprintf(buf, len, "%04d-%02d-%02dT%02d:%02d:%02d", y, m, d, (int)(rem / 3600),
	                 (int)(rem / 60 % 60), (int)(rem % 60));
	if (n < 0 || (size_t)n >= len)
		return;
	if (digits_n == 3 || digits_n == 6 || digits_n == 9) {
		int64_t div = digits_n == 3 ? 1000000 : digits_n == 6 ? 1000 : 1;
		n += snprintf(buf + n, len - (size_t)n, ".%0*lld", digits_n,
		              (long long)(frac / div));
	}
	if ((size_t)n < len)
		snprintf(buf + n, len - (size_t)n, "Z");
}
