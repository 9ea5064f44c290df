#include "kind.h"

#include "cityhub/error.h"
#include "cityhub/schema.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define N(a) ((int)(sizeof(a) / sizeof((a)[0])))

/* name type dec lo hi spike oor senml-unit scale lpp; the NGSI-LD names, units and scales
 * come from the schemas (load_fiware). */
static const struct sim_fielddef traffic[] = {
    {"vehicle_count", SIM_VT_INT, 0, 0, 5000, 200, -5, NULL, 1, SIM_LPP_GENERIC},
    {"interval_s", SIM_VT_INT, 0, 1, 86400, 0, 0, "s", 1, SIM_LPP_GENERIC},
    {"avg_speed_kmh", SIM_VT_NUM, 1, 0, 120, 40, -12, "km/h", 1, SIM_LPP_ANALOG_IN},
    {"occupancy", SIM_VT_NUM, 3, 0, 1, 0.4, 2.5, "/", 1, SIM_LPP_ANALOG_IN},
    {"lane_id", SIM_VT_STR, 0, 0, 0, 0, NAN, NULL, 1, SIM_LPP_NONE},
    {"congested", SIM_VT_BOOL, 0, 0, 1, 0, NAN, NULL, 1, SIM_LPP_DIGITAL_IN},
};

static const struct sim_fielddef air[] = {
    {"pm1", SIM_VT_NUM, 1, 0, 600, 120, -20, "ug/m3", 1, SIM_LPP_ANALOG_IN},
    {"pm25", SIM_VT_NUM, 1, 0, 800, 150, -20, "ug/m3", 1, SIM_LPP_ANALOG_IN},
    {"pm10", SIM_VT_NUM, 1, 0, 1000, 200, -20, "ug/m3", 1, SIM_LPP_ANALOG_IN},
    {"no2", SIM_VT_NUM, 1, 0, 300, 80, -20, "ug/m3", 1, SIM_LPP_ANALOG_IN},
    {"o3", SIM_VT_NUM, 1, 0, 300, 80, -20, "ug/m3", 1, SIM_LPP_ANALOG_IN},
    {"co", SIM_VT_NUM, 0, 0, 30000, 4000, -20, "ug/m3", 1, SIM_LPP_GENERIC},
    {"so2", SIM_VT_NUM, 1, 0, 300, 60, -20, "ug/m3", 1, SIM_LPP_ANALOG_IN},
    {"temperature_c", SIM_VT_NUM, 1, 10, 45, 8, 95, "Cel", 1, SIM_LPP_TEMPERATURE},
    {"humidity", SIM_VT_NUM, 3, 0, 1, 0.3, 1.25, "%RH", 100, SIM_LPP_HUMIDITY},
};

static const struct sim_fielddef noise[] = {
    {"laeq_db", SIM_VT_NUM, 1, 20, 130, 25, 250, "dB", 1, SIM_LPP_ANALOG_IN},
    {"lamax_db", SIM_VT_NUM, 1, 20, 140, 30, 250, "dB", 1, SIM_LPP_ANALOG_IN},
};

static const struct sim_fielddef weather[] = {
    {"temperature_c", SIM_VT_NUM, 1, 10, 45, 8, 95, "Cel", 1, SIM_LPP_TEMPERATURE},
    {"humidity", SIM_VT_NUM, 3, 0, 1, 0.3, 1.25, "%RH", 100, SIM_LPP_HUMIDITY},
    {"pressure_hpa", SIM_VT_NUM, 1, 960, 1040, 15, 1900, "hPa", 1, SIM_LPP_BAROMETER},
    {"rain_mm", SIM_VT_NUM, 1, 0, 200, 30, -4, "mm", 1, SIM_LPP_ANALOG_IN},
    {"wind_speed_ms", SIM_VT_NUM, 1, 0, 40, 12, -5, "m/s", 1, SIM_LPP_ANALOG_IN},
    {"wind_dir_deg", SIM_VT_NUM, 0, 0, 359, 90, 400, "deg", 1, SIM_LPP_DIRECTION},
};

static const struct sim_fielddef level[] = {
    {"level_m", SIM_VT_NUM, 3, -3, 4, 0.8, 25, "m", 1, SIM_LPP_ANALOG_IN},
    {"flow_m3s", SIM_VT_NUM, 1, -30000, 30000, 3000, 250000, "m3/s", 1, SIM_LPP_ANALOG_IN},
};

static const struct sim_fielddef quality[] = {
    {"salinity_ppt", SIM_VT_NUM, 2, 0, 35, 3, 75, "g/l", 1, SIM_LPP_ANALOG_IN},
    {"conductivity_us_cm", SIM_VT_NUM, 0, 0, 60000, 5000, 2000000, "S/m", 1e-4, SIM_LPP_GENERIC},
    {"ph", SIM_VT_NUM, 2, 4, 10, 1.5, 15.5, "pH", 1, SIM_LPP_ANALOG_IN},
    {"do_mg_l", SIM_VT_NUM, 2, 0, 15, 3, 60, "mg/l", 1, SIM_LPP_ANALOG_IN},
    {"turbidity_ntu", SIM_VT_NUM, 1, 0, 2000, 150, -10, "NTU", 1, SIM_LPP_ANALOG_IN},
    {"temperature_c", SIM_VT_NUM, 1, 15, 40, 4, 95, "Cel", 1, SIM_LPP_TEMPERATURE},
};

/* name, LoRaWAN FPort, fields */
#define KIND(n, port, f)                                                                           \
	{                                                                                          \
		.name = n, .f_port = port, .nfields = N(f), .fields = f                            \
	}
static struct sim_kinddef kinds[SIM_KIND_COUNT] = {
    [SIM_KIND_TRAFFIC] = KIND("traffic_flow", 10, traffic),
    [SIM_KIND_AIR] = KIND("air_quality", 11, air),
    [SIM_KIND_NOISE] = KIND("noise", 12, noise),
    [SIM_KIND_WEATHER] = KIND("weather", 13, weather),
    [SIM_KIND_LEVEL] = KIND("water_level", 14, level),
    [SIM_KIND_QUALITY] = KIND("water_quality", 15, quality),
};

static const struct sim_altunit altunits[] = {
    {"humidity", "%", 100, 0, 1},
    {"occupancy", "%", 100, 0, 1},
    {"level_m", "cm", 100, 0, 1},
    {"flow_m3s", "l/s", 1000, 0, 0},
    {"salinity_ppt", "mg/l", 1000, 0, 0},
    {"conductivity_us_cm", "mS/cm", 0.001, 0, 3},
    {"pressure_hpa", "kPa", 0.1, 0, 2},
    {"wind_speed_ms", "km/h", 3.6, 0, 2}, /* 0.01 km/h: carries the 0.1 m/s reading exactly */
    {"avg_speed_kmh", "m/s", 1 / 3.6, 0, 2},
    {"temperature_c", "K", 1, 273.15, 2},
};

static const char *const format_names[SIM_FMT_COUNT] = {"native", "senml", "ttn", "chirpstack",
                                                        "ngsild"};

static const char *const fault_names[SIM_FAULT_COUNT] = {
    "dropout",
    "stuck",
    "spike",
    "out_of_range",
    "malformed_json",
    "truncated_lpp",
    "oversize",
    "duplicate",
    "out_of_order",
    "clock_skew",
    "outage",
    "injection",
    "invalid_utf8",
    "nul_bytes",
    "bad_number",
    "deep_nesting",
    "hostile_oversize",
    "empty_topic_level",
};

static pthread_once_t fiware_once = PTHREAD_ONCE_INIT;

/* Fills out with how NGSI-LD carries field (its first FIWARE name: the model's own). */
static void fill_ngsi(const struct hub_schemas *s, const char *kind, const char *field,
                      struct sim_ngsi_attr *out)
{
	const struct hub_fiware_attr *a;
	size_t n = hub_schemas_fiware_attrs(s, kind, &a);
	double scale = 1, offset = 0;
	out->scale = 1;
	for (size_t i = 0; i < n; i++) {
		if (!a[i].field || strcmp(a[i].field, field) != 0)
			continue;
		out->attr = a[i].attr;
		out->unit = a[i].unit;
		if (a[i].unit &&
		    hub_schemas_unit_conv(s, kind, field, a[i].unit, &scale, &offset) == HUB_OK &&
		    offset == 0)
			out->scale = 1 / scale;
		return;
	}
}

/* The FIWARE names and units of every kind come from the hub's built-in schemas, read once;
 * they stay loaded for the life of the process (the tables point into them). */
static void load_fiware(void)
{
	static struct hub_schemas *schemas;
	char err[256];
	schemas = hub_schemas_load_builtin(err, sizeof(err));
	if (!schemas) {
		fprintf(stderr, "cityhub-sim: built-in schemas: %s\n", err);
		abort();
	}
	for (int k = 0; k < SIM_KIND_COUNT; k++) {
		kinds[k].ngsi_type = hub_schemas_fiware_type(schemas, kinds[k].name);
		for (int i = 0; i < kinds[k].nfields; i++)
			fill_ngsi(schemas, kinds[k].name, kinds[k].fields[i].name,
			          &kinds[k].ngsi[i]);
	}
}

const struct sim_kinddef *sim_kind_def(enum sim_kind k)
{
	pthread_once(&fiware_once, load_fiware);
	return &kinds[k];
}

const char *sim_kind_name(enum sim_kind k)
{
	return kinds[k].name;
}

int sim_kind_parse(const char *name, enum sim_kind *out)
{
	for (int i = 0; i < SIM_KIND_COUNT; i++) {
		if (strcmp(name, kinds[i].name) == 0) {
			*out = (enum sim_kind)i;
			return HUB_OK;
		}
	}
	return HUB_EINVAL;
}

int sim_kind_field(enum sim_kind k, const char *name)
{
	for (int i = 0; i < kinds[k].nfields; i++)
		if (strcmp(kinds[k].fields[i].name, name) == 0)
			return i;
	return -1;
}

const char *sim_format_name(enum sim_format f)
{
	return format_names[f];
}

int sim_format_parse(const char *name, enum sim_format *out)
{
	for (int i = 0; i < SIM_FMT_COUNT; i++) {
		if (strcmp(name, format_names[i]) == 0) {
			*out = (enum sim_format)i;
			return HUB_OK;
		}
	}
	return HUB_EINVAL;
}

const char *sim_fault_name(enum sim_fault f)
{
	return fault_names[f];
}

int sim_fault_parse(const char *name, enum sim_fault *out)
{
	for (int i = 0; i < SIM_FAULT_COUNT; i++) {
		if (strcmp(name, fault_names[i]) == 0) {
			*out = (enum sim_fault)i;
			return HUB_OK;
		}
	}
	return HUB_EINVAL;
}

const struct sim_altunit *sim_altunit_find(const char *field, const char *unit)
{
	for (int i = 0; i < N(altunits); i++)
		if (strcmp(altunits[i].field, field) == 0 && strcmp(altunits[i].unit, unit) == 0)
			return &altunits[i];
	return NULL;
}

double sim_round(double v, int decimals)
{
	double f = pow(10.0, decimals);
	double r = round(v * f) / f;
	return r == 0 ? 0.0 : r; /* no "-0.0" in payloads */
}
