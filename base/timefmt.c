/* RFC 3339 and epoch conversions in pure integer arithmetic: no timegm(), no TZ, no floats. */
#include "cityhub/timefmt.h"

#include <stdio.h>

#include "cityhub/error.h"

#define NS_PER_SEC 1000000000LL
#define SECS_PER_DAY 86400LL

static int is_leap(int64_t y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int days_in_month(int64_t y, int m)
{
	static const unsigned char days[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	return m == 2 && is_leap(y) ? 29 : days[m - 1];
}

/* Floor division for a possibly negative numerator and a positive divisor. */
static int64_t floor_div(int64_t a, int64_t b)
{
	int64_t q = a / b;
	return (a % b != 0 && a < 0) ? q - 1 : q;
}

/* Days since 1970-01-01 of the proleptic Gregorian date y-m-d. The year is counted from
 * March so that the leap day falls at the end; 400-year eras repeat exactly (146097 days). */
static int64_t days_from_civil(int64_t y, int m, int d)
{
	if (m <= 2)
		y--;
	int64_t era = floor_div(y, 400);
	int64_t yoe = y - era * 400;                     /* 0..399 */
	int64_t mp = m > 2 ? m - 3 : m + 9;               /* March = 0 .. February = 11 */
	int64_t doy = (153 * mp + 2) / 5 + d - 1;         /* 0..365 */
	int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy; /* 0..146096 */
	return era * 146097 + doe - 719468;               /* 719468 = days 0000-03-01..1970-01-01 */
}

/* Inverse of days_from_civil. */
static void civil_from_days(int64_t z, int64_t *y, int *m, int *d)
{
	z += 719468;
	int64_t era = floor_div(z, 146097);
	int64_t doe = z - era * 146097;
	int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	int64_t mp = (5 * doy + 2) / 153;
	*d = (int)(doy - (153 * mp + 2) / 5 + 1);
	*m = (int)(mp < 10 ? mp + 3 : mp - 9);
	*y = yoe + era * 400 + (*m <= 2);
}

/* Reads exactly n decimal digits at s into *v. */
static int digits(const char *s, int n, int *v)
{
	int acc = 0;
	for (int i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return HUB_EPARSE;
		acc = acc * 10 + (s[i] - '0');
	}
	*v = acc;
	return HUB_OK;
}

struct civil {
	int year, mon, day, hour, min, sec;
	int64_t frac_ns;
	int off_s; /* local time minus UTC */
};

/* "YYYY-MM-DDTHH:MM:SS" (19 bytes, 'T', 't' or a space between date and time). */
static int parse_date_time(const char *s, struct civil *c)
{
	if (s[4] != '-' || s[7] != '-' || s[13] != ':' || s[16] != ':')
		return HUB_EPARSE;
	if (s[10] != 'T' && s[10] != 't' && s[10] != ' ')
		return HUB_EPARSE;
	if (digits(s, 4, &c->year) || digits(s + 5, 2, &c->mon) || digits(s + 8, 2, &c->day) ||
	    digits(s + 11, 2, &c->hour) || digits(s + 14, 2, &c->min) ||
	    digits(s + 17, 2, &c->sec))
		return HUB_EPARSE;
	if (c->mon < 1 || c->mon > 12 || c->day < 1 || c->day > days_in_month(c->year, c->mon))
		return HUB_EPARSE;
	/* Second 60 is a leap second; POSIX time counts it as the next minute's first. */
	if (c->hour > 23 || c->min > 59 || c->sec > 60)
		return HUB_EPARSE;
	return HUB_OK;
}

/* ".d{1,9}" fraction at s (if any) followed by "Z" or "+hh:mm"/"-hh:mm", ending at end. */
static int parse_frac_zone(const char *s, const char *end, struct civil *c)
{
	c->frac_ns = 0;
	if (s < end && *s == '.') {
		int n = 0;
		for (s++; s < end && *s >= '0' && *s <= '9'; s++, n++) {
			if (n == 9)
				return HUB_EPARSE;
			c->frac_ns = c->frac_ns * 10 + (*s - '0');
		}
		if (n == 0)
			return HUB_EPARSE;
		for (; n < 9; n++)
			c->frac_ns *= 10;
	}
	if (end - s == 1 && (*s == 'Z' || *s == 'z')) {
		c->off_s = 0;
		return HUB_OK;
	}
	int oh, om;
	if (end - s != 6 || (*s != '+' && *s != '-') || s[3] != ':')
		return HUB_EPARSE;
	if (digits(s + 1, 2, &oh) || digits(s + 4, 2, &om) || oh > 23 || om > 59)
		return HUB_EPARSE;
	c->off_s = (oh * 3600 + om * 60) * (*s == '-' ? -1 : 1);
	return HUB_OK;
}

int hub_time_parse_rfc3339(const char *s, size_t len, int64_t *ns)
{
	struct civil c;
	if (!s || !ns || len < 20)
		return HUB_EPARSE;
	int rc = parse_date_time(s, &c);
	if (rc == HUB_OK)
		rc = parse_frac_zone(s + 19, s + len, &c);
	if (rc != HUB_OK)
		return rc;
	int64_t secs = days_from_civil(c.year, c.mon, c.day) * SECS_PER_DAY + c.hour * 3600LL +
		       c.min * 60LL + c.sec - c.off_s;
	if (secs < 0 || secs > (INT64_MAX - c.frac_ns) / NS_PER_SEC)
		return HUB_ERANGE;
	*ns = secs * NS_PER_SEC + c.frac_ns;
	return HUB_OK;
}

int hub_time_from_int(int64_t v, int64_t unit_ns, int64_t *ns)
{
	if (!ns || unit_ns <= 0)
		return HUB_EINVAL;
	if (v < 0 || v > INT64_MAX / unit_ns)
		return HUB_ERANGE;
	*ns = v * unit_ns;
	return HUB_OK;
}

void hub_time_format(int64_t ns, char *buf, size_t len)
{
	if (!buf || len == 0)
		return;
	int64_t secs = ns / NS_PER_SEC;
	int64_t frac = ns % NS_PER_SEC;
	if (frac < 0) { /* no secs * NS_PER_SEC: it overflows near INT64_MIN */
		frac += NS_PER_SEC;
		secs--;
	}
	int64_t days = floor_div(secs, SECS_PER_DAY);
	int64_t sod = secs - days * SECS_PER_DAY;
	int64_t y;
	int m, d;
	civil_from_days(days, &y, &m, &d);
	snprintf(buf, len, "%04lld-%02d-%02dT%02d:%02d:%02d.%09lldZ", (long long)y, m, d,
		 (int)(sod / 3600), (int)(sod / 60 % 60), (int)(sod % 60), (long long)frac);
}
