/* Enumerations shared by the simulator's modules: sensor kinds, payload formats, fault types. */
#ifndef SIM_TYPES_H
#define SIM_TYPES_H

enum sim_kind {
	SIM_KIND_TRAFFIC,
	SIM_KIND_AIR,
	SIM_KIND_NOISE,
	SIM_KIND_WEATHER,
	SIM_KIND_LEVEL,
	SIM_KIND_QUALITY,
	SIM_KIND_COUNT
};

enum sim_format {
	SIM_FMT_NATIVE,
	SIM_FMT_SENML,
	SIM_FMT_TTN,
	SIM_FMT_CHIRPSTACK,
	SIM_FMT_NGSILD,
	SIM_FMT_COUNT
};

/* Faults injected into the regular stream, then the hostile gateway's message types. */
enum sim_fault {
	SIM_FAULT_DROPOUT,
	SIM_FAULT_STUCK,
	SIM_FAULT_SPIKE,
	SIM_FAULT_OUT_OF_RANGE,
	SIM_FAULT_MALFORMED_JSON,
	SIM_FAULT_TRUNCATED_LPP,
	SIM_FAULT_OVERSIZE,
	SIM_FAULT_DUPLICATE,
	SIM_FAULT_OUT_OF_ORDER,
	SIM_FAULT_CLOCK_SKEW,
	SIM_FAULT_OUTAGE,
	SIM_FAULT_INJECTION,
	SIM_FAULT_INVALID_UTF8,
	SIM_FAULT_NUL_BYTES,
	SIM_FAULT_BAD_NUMBER,
	SIM_FAULT_DEEP_NESTING,
	SIM_FAULT_HOSTILE_OVERSIZE,
	SIM_FAULT_EMPTY_TOPIC_LEVEL,
	SIM_FAULT_COUNT
};

/* The first fault that only the hostile gateway produces. */
#define SIM_FAULT_FIRST_HOSTILE SIM_FAULT_INJECTION

/* Returns the kind's canonical name ("traffic_flow", ...). */
const char *sim_kind_name(enum sim_kind k);
/* Parses a canonical kind name into *out; HUB_EINVAL when unknown. */
int sim_kind_parse(const char *name, enum sim_kind *out);
/* Returns the format's name ("native", "senml", "ttn", "chirpstack", "ngsild"). */
const char *sim_format_name(enum sim_format f);
/* Parses a format name into *out; HUB_EINVAL when unknown. */
int sim_format_parse(const char *name, enum sim_format *out);
/* Returns the fault's name as used in logs, the summary and scenario files. */
const char *sim_fault_name(enum sim_fault f);
/* Parses a fault name into *out; HUB_EINVAL when unknown. */
int sim_fault_parse(const char *name, enum sim_fault *out);

#endif
