/* What each sensor kind measures: canonical field names, types, and how each payload format
 * names and encodes them. Static tables, except the FIWARE (NGSI-LD) names and units: those
 * come from the hub's built-in schemas, loaded once on the first sim_kind_def(). */
#ifndef SIM_KIND_H
#define SIM_KIND_H

#include "simtypes.h"

#define SIM_MAX_FIELDS 10

enum sim_vtype { SIM_VT_NUM, SIM_VT_INT, SIM_VT_BOOL, SIM_VT_STR };

/* Cayenne LPP data types the encoders use (type byte, resolution). */
enum sim_lpp_type {
	SIM_LPP_DIGITAL_IN = 0,    /* 1 byte, unsigned */
	SIM_LPP_ANALOG_IN = 2,     /* 2 bytes, signed, 0.01 */
	SIM_LPP_GENERIC = 100,     /* 4 bytes, unsigned, 1 */
	SIM_LPP_TEMPERATURE = 103, /* 2 bytes, signed, 0.1 degC */
	SIM_LPP_HUMIDITY = 104,    /* 1 byte, unsigned, 0.5 %RH */
	SIM_LPP_BAROMETER = 115,   /* 2 bytes, unsigned, 0.1 hPa */
	SIM_LPP_DIRECTION = 132,   /* 2 bytes, unsigned, 1 deg */
	SIM_LPP_NONE = 255         /* not sent in LPP frames */
};

struct sim_fielddef {
	const char *name; /* canonical field name */
	enum sim_vtype type;
	int decimals;           /* rounding of emitted values */
	double lo, hi;          /* plausible physical bounds; spikes stay inside */
	double spike;           /* typical spike size */
	double oor;             /* an impossible value for out_of_range faults; NAN = none */
	const char *senml_unit; /* NULL = no "u" */
	double senml_scale;     /* SenML value = canonical * scale */
	enum sim_lpp_type lpp;  /* LPP type; the channel is the field index + 1 */
};

/* How NGSI-LD carries a field, from its schema ("fiware", "fiware_unit" and its conversion). */
struct sim_ngsi_attr {
	const char *attr; /* attribute name; NULL = FIWARE has none: not sent in NGSI-LD */
	const char *unit; /* UN/CEFACT unitCode or NULL */
	double scale;     /* NGSI-LD value = canonical * scale */
};

struct sim_kinddef {
	const char *name; /* canonical kind name */
	int f_port;       /* LoRaWAN FPort of this kind's uplinks */
	int nfields;
	const struct sim_fielddef *fields;
	/* From the kind's schema, filled by the first sim_kind_def(): */
	const char *ngsi_type;                     /* NGSI-LD entity type ("fiware_type") */
	struct sim_ngsi_attr ngsi[SIM_MAX_FIELDS]; /* per field, in fields' order */
};

/* A non-canonical unit a native payload may carry: value = canonical * scale + offset. */
struct sim_altunit {
	const char *field;
	const char *unit;
	double scale, offset;
	int decimals;
};

/* Returns the definition of kind k (loading the FIWARE names on the first call; aborts if
 * the built-in schemas do not load, a build error). */
const struct sim_kinddef *sim_kind_def(enum sim_kind k);
/* Returns the index of field name in kind k, or -1. */
int sim_kind_field(enum sim_kind k, const char *name);
/* Returns the alternative unit `unit` for field, or NULL when not supported. */
const struct sim_altunit *sim_altunit_find(const char *field, const char *unit);
/* Rounds v to the given number of decimals. */
double sim_round(double v, int decimals);

#endif
