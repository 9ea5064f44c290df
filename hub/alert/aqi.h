/* VN_AQI: the hourly air quality index of Decision 1459/QD-TCMT (Viet Nam, 2019), computed per
 * air-quality station from its readings. Pure: no I/O, no clock, no logging; event time only.
 * One struct hub_aqi holds every station's hourly means (owned by the monitor thread).
 *
 * Method (the decision's technical guidance, hourly index):
 *  - hourly means of each pollutant per station (hour = [h:00, h+1:00) UTC-aligned; My Tho is
 *    UTC+7, a whole number of hours, so local and UTC hours coincide);
 *  - PM2.5 and PM10 use the NowCast over the last 12 hours: w* = cmin/cmax over those hours,
 *    w = w* if w* > 1/2 else 1/2; Nowcast = sum(w^(i-1) c_i) / sum(w^(i-1)) over hours with
 *    data (i = 1 the latest hour); at least 2 of the last 3 hours must have data, else no value;
 *    (as recalled, not checked against the text: the decision writes the w = 1/2 case as
 *    sum((1/2)^i c_i); with all 12 hours present that is the formula above times 1 - 2^-12, a
 *    0.02 % difference; with gaps the normalised form above is used, as in the US EPA NowCast
 *    the decision follows);
 *  - O3, NO2, CO, SO2 use the hourly mean itself;
 *  - the sub-index is the linear interpolation on the breakpoint table, rounded to an integer
 *    (values above the last breakpoint give 500);
 *  - the station index is the max over pollutant sub-indices that have a value; the decision
 *    requires PM2.5 or PM10 among them, so without a PM value there is no index (-1);
 *  - category 1..6: Tot 0-50, Trung binh 51-100, Kem 101-150, Xau 151-200, Rat xau 201-300,
 *    Nguy hai 301-500. */
#ifndef HUB_AQI_H
#define HUB_AQI_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "cityhub/record.h"

enum hub_aqi_pollutant { HUB_AQI_PM25, HUB_AQI_PM10, HUB_AQI_O3, HUB_AQI_NO2, HUB_AQI_CO,
			 HUB_AQI_SO2, HUB_AQI_NPOLL };

/* One finished hour of one station. */
struct hub_aqi_result {
	char station[128];   /* sensor_id */
	char district[64];   /* the station's district tag ("" when none) */
	int64_t hour_end_ns; /* end of the hour (the record's timestamp) */
	int aqi;             /* station index, 0..500; -1 = not enough data */
	int category;        /* 1..6; 0 when aqi is -1 */
	/* ASCII, static: "Tot", "Trung binh", "Kem", "Xau", "Rat xau", "Nguy hai"; "" if aqi -1 */
	const char *category_name;
	/* field name of the pollutant with the highest sub-index, e.g. "pm25" (the first in enum
	 * order on a tie); "" when aqi is -1 */
	const char *dominant;
	int sub[HUB_AQI_NPOLL];    /* sub-index per pollutant, -1 when no value */
	double conc[HUB_AQI_NPOLL]; /* concentration used (NowCast for PM), ug/m3; NAN when none */
};

struct hub_aqi;

/* Creates an empty calculator; max_stations bounds memory (readings of further stations, and of
 * station ids longer than 127 bytes, are ignored and counted: hub_aqi_dropped). Free with
 * hub_aqi_free. */
struct hub_aqi *hub_aqi_new(size_t max_stations);

/* Frees it; NULL is a no-op. */
void hub_aqi_free(struct hub_aqi *a);

/* Returns how many readings were ignored because the station table was full (or the id long). */
uint64_t hub_aqi_dropped(const struct hub_aqi *a);

/* Returns the pollutant for an air_quality field name (pm25, pm10, o3, no2, co, so2), or -1. */
int hub_aqi_pollutant(const char *field);

/* Adds one reading (ug/m3, event time ts_ns) of station. When ts_ns falls in a later hour than
 * the station's open hour, that hour is closed first: its result is written to *out and 1 is
 * returned (0 otherwise); hours skipped in between enter the history as hours without data and
 * give no result. Readings older than the open hour, and concentrations that are negative,
 * not finite or above 1e9 ug/m3, are ignored (returns 0).
 * district (NULL or "" = keep the last one seen) is the station's tag. */
int hub_aqi_add(struct hub_aqi *a, const char *station, const char *district,
		enum hub_aqi_pollutant p, double ug_m3, int64_t ts_ns, struct hub_aqi_result *out);

/* Adds every pollutant field (double, ug/m3) of an air_quality record (others are ignored) at
 * its event time (recv_ns when it has none). Returns 1 with *out filled when that closed the
 * station's open hour (at most once per record: its fields share the hour), else 0. */
int hub_aqi_add_record(struct hub_aqi *a, const struct hub_record *rec, int64_t recv_ns,
		       struct hub_aqi_result *out);

/* Sub-index of one pollutant concentration (ug/m3, the hourly table): 0..500, rounded half up;
 * -1 when ug_m3 is NAN or negative. */
int hub_aqi_subindex(enum hub_aqi_pollutant p, double ug_m3);

/* NowCast of hourly means c[0] (latest hour) .. c[n-1] (n <= 12); NAN entries are hours with
 * no data. Returns NAN when fewer than 2 of the first 3 hours have data. */
double hub_aqi_nowcast(const double *c, size_t n);

/* Category 1..6 of an index (0..500), 0 for a negative index; *name (when name is not NULL)
 * gets its ASCII name, "" for category 0. */
int hub_aqi_category(int aqi, const char **name);

/* Serialises every station's state (open hour sums, the last 12 hourly means) as a new JSON
 * object (the caller decrefs). */
json_t *hub_aqi_save(const struct hub_aqi *a);

/* Restores state saved by hub_aqi_save into an empty calculator. HUB_OK, or HUB_EINVAL when
 * a is not empty or saved is malformed (a is then left as it was).
 * When max_stations is now smaller, the first stations (in id order) are kept. */
int hub_aqi_load(struct hub_aqi *a, const json_t *saved);

#endif
