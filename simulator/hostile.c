#include "hostile.h"

#include "simtime.h"

#include <stdio.h>
#include <string.h>

#define N(a) ((int)(sizeof(a) / sizeof((a)[0])))

/* Templates: topic, then payload with %s for the time. Payloads are printf formats. */
struct tmpl {
	const char *topic;
	const char *payload;
};

static const struct tmpl injection[] = {
    {"city/weather/phuong-1/evil-01",
     "{\"sensor_id\":\"evil-01\\nweather,district=x temperature_c=99 1\",\"kind\":\"weather\","
     "\"time\":\"%s\",\"fields\":{\"temperature_c\":30.1}}"},
    {"city/weather/phuong-1/evil-02",
     "{\"sensor_id\":\"evil-02\",\"kind\":\"weather\",\"time\":\"%s\",\"fields\":"
     "{\"temperature_c,district=evil\":1,\"a b=c\":2,\"x\\\"y\":3}}"},
    {"city/traffic_flow/phuong-1/evil-03",
     "{\"sensor_id\":\"evil-03\",\"kind\":\"traffic_flow\",\"time\":\"%s\",\"fields\":"
     "{\"vehicle_count\":3,\"lane_id\":\"l1\\\" ,x=1\\\\\\n\\r evil=\\\"2\\\\\"}}"},
    {"city/noise/phuong-1\\/evil-04\\",
     "{\"sensor_id\":\"evil-04\\\\\",\"kind\":\"noise\",\"time\":\"%s\",\"fields\":"
     "{\"laeq_db\":60.0}}"},
    {"city/air_quality/phuong 1,district=evil x=1/evil-05",
     "{\"sensor_id\":\"evil 05,a=b\",\"kind\":\"air_quality\",\"time\":\"%s\",\"fields\":"
     "{\"pm25\":12.0}}"},
    {"city/weather x=1,y=2/phuong-1/evil-06",
     "{\"sensor_id\":\"evil-06\",\"kind\":\"weather,evil=1 temperature_c=1\",\"time\":\"%s\","
     "\"fields\":{\"temperature_c\":30.0}}"},
    {"senml/phuong-1/evil-07",
     "[{\"bn\":\"urn:dev:evil,x=1 y=2:\",\"bt\":%s,\"n\":\"temperature_c\\nweather x=1\","
     "\"u\":\"Cel\",\"v\":1}]"},
};

static const struct tmpl invalid_utf8[] = {
    {"city/traffic_flow/phuong-1/utf8-01",
     "{\"sensor_id\":\"utf8-01\",\"kind\":\"traffic_flow\",\"time\":\"%s\",\"fields\":"
     "{\"lane_id\":\"\xc3\x28\xff\"}}"},
    {"city/noise/phuong-1/utf8-02",
     "{\"sensor_id\":\"utf8-\xed\xa0\x80\",\"kind\":\"noise\",\"time\":\"%s\",\"fields\":"
     "{\"laeq_db\":55.5}}"},
    {"city/noise/phuong-1/utf8-03",
     "{\"sensor_id\":\"utf8-03\",\"kind\":\"noise\",\"time\":\"%s\",\"fields\":"
     "{\"la\xc0\xaf\":55.5}}"},
};

static const struct tmpl bad_number[] = {
    {"city/weather/phuong-1/num-01",
     "{\"sensor_id\":\"num-01\",\"kind\":\"weather\",\"time\":\"%s\",\"fields\":"
     "{\"temperature_c\":1e999}}"},
    {"city/weather/phuong-1/num-02",
     "{\"sensor_id\":\"num-02\",\"kind\":\"weather\",\"time\":\"%s\",\"fields\":"
     "{\"temperature_c\":NaN,\"humidity\":Infinity}}"},
    {"city/traffic_flow/phuong-1/num-03",
     "{\"sensor_id\":\"num-03\",\"kind\":\"traffic_flow\",\"time\":\"%s\",\"fields\":"
     "{\"vehicle_count\":9223372036854775808}}"},
    {"city/weather/phuong-1/num-04",
     "{\"sensor_id\":\"num-04\",\"kind\":\"weather\",\"time\":\"%s\",\"fields\":"
     "{\"pressure_hpa\":1e308,\"humidity\":-1e-320}}"},
    {"city/weather/phuong-1/num-05",
     "{\"sensor_id\":\"num-05\",\"kind\":\"weather\",\"time\":\"%s\",\"fields\":"
     "{\"temperature_c\":0x1F,\"humidity\":01.5}}"},
    {"city/noise/phuong-1/num-06",
     "{\"sensor_id\":\"num-06\",\"kind\":\"noise\",\"time\":\"%s\",\"fields\":"
     "{\"laeq_db\":\"55.5\",\"lamax_db\":true}}"},
};

static const struct tmpl empty_level[] = {
    {"city//phuong-1/empty-01", NULL}, {"city/noise//empty-02", NULL},
    {"city/noise/phuong-1/", NULL},    {"/city/noise/phuong-1/empty-04", NULL},
    {"senml//empty-05", NULL},         {"v3/mytho-pilot@ttn/devices//up", NULL},
};

static void from_template(const struct tmpl *t, const char *when, struct sim_msg *out)
{
	hub_buf_puts(&out->topic, t->topic);
	hub_buf_printf(&out->payload, t->payload, when);
}

static void nul_bytes(uint32_t variant, const char *when, struct sim_msg *out)
{
	static const char head[] = "{\"sensor_id\":\"nul-0";
	hub_buf_printf(&out->topic, "city/noise/phuong-1/nul-0%u", variant + 1);
	hub_buf_append(&out->payload, head, sizeof(head) - 1);
	if (variant == 0) /* a JSON escape that a C string would end at */
		hub_buf_puts(&out->payload, "1\\u0000injected");
	else if (variant == 1) /* a raw NUL byte inside a string */
		hub_buf_append(&out->payload, "2\0raw", 5);
	else
		hub_buf_puts(&out->payload, "3");
	hub_buf_printf(&out->payload,
	               "\",\"kind\":\"noise\",\"time\":\"%s\",\"fields\":{\"laeq_db\":50.5}}",
	               when);
	if (variant == 2) /* trailing garbage after a NUL */
		hub_buf_append(&out->payload, "\0{\"x\":1}", 8);
}

static void deep_nesting(uint32_t variant, const char *when, struct sim_msg *out)
{
	int depth = variant == 0 ? 100000 : 2000;
	hub_buf_printf(&out->topic, "city/noise/phuong-1/deep-0%u", variant + 1);
	hub_buf_printf(&out->payload,
	               "{\"sensor_id\":\"deep-0%u\",\"kind\":\"noise\",\"time\":\"%s\",\"fields\":"
	               "{\"laeq_db\":",
	               variant + 1, when);
	const char *open = variant == 0 ? "[" : "{\"a\":";
	for (int i = 0; i < depth; i++)
		hub_buf_puts(&out->payload, open);
	hub_buf_puts(&out->payload, "1");
	for (int i = 0; i < depth; i++)
		hub_buf_puts(&out->payload, variant == 0 ? "]" : "}");
	hub_buf_puts(&out->payload, "}}");
}

static void oversize(uint32_t variant, size_t bytes, const char *when, struct sim_msg *out)
{
	hub_buf_printf(&out->topic, "city/noise/phuong-1/big-0%u", variant + 1);
	hub_buf_printf(&out->payload,
	               "{\"sensor_id\":\"big-0%u\",\"kind\":\"noise\",\"time\":\"%s\",\"fields\":{",
	               variant + 1, when);
	if (variant == 0) { /* one huge string */
		hub_buf_puts(&out->payload, "\"note\":\"");
		hub_buf_reserve(&out->payload, bytes);
		memset(out->payload.data + out->payload.len, 'A', bytes);
		out->payload.len += bytes;
		hub_buf_puts(&out->payload, "\"");
	} else { /* very many fields */
		for (size_t i = 0; out->payload.len < bytes; i++)
			hub_buf_printf(&out->payload, "%s\"f%zu\":%zu", i ? "," : "", i, i);
	}
	hub_buf_puts(&out->payload, "}}");
}

static const enum sim_fault order[] = {
    SIM_FAULT_INJECTION,         SIM_FAULT_INVALID_UTF8, SIM_FAULT_NUL_BYTES,
    SIM_FAULT_BAD_NUMBER,        SIM_FAULT_DEEP_NESTING, SIM_FAULT_HOSTILE_OVERSIZE,
    SIM_FAULT_EMPTY_TOPIC_LEVEL,
};

int sim_hostile_variants(enum sim_fault t)
{
	switch (t) {
	case SIM_FAULT_INJECTION:
		return N(injection);
	case SIM_FAULT_INVALID_UTF8:
		return N(invalid_utf8);
	case SIM_FAULT_NUL_BYTES:
		return 3;
	case SIM_FAULT_BAD_NUMBER:
		return N(bad_number);
	case SIM_FAULT_DEEP_NESTING:
	case SIM_FAULT_HOSTILE_OVERSIZE:
		return 2;
	case SIM_FAULT_EMPTY_TOPIC_LEVEL:
		return N(empty_level);
	default:
		return 0;
	}
}

/* A well-formed native reading for the empty-topic-level messages: only the topic is bad. */
static void plain_payload(const char *when, struct sim_msg *out)
{
	hub_buf_printf(&out->payload,
	               "{\"sensor_id\":\"empty-level\",\"kind\":\"noise\",\"time\":\"%s\","
	               "\"fields\":{\"laeq_db\":50.0}}",
	               when);
}

enum sim_fault sim_hostile_next(struct sim_hostile *h, int64_t t, struct sim_msg *out)
{
	char when[48], secs[32];
	enum sim_fault type = order[h->n++ % N(order)];
	uint32_t v = h->per_type[type]++ % (uint32_t)sim_hostile_variants(type);
	sim_msg_clear(out);
	sim_time_format(t, 3, when, sizeof(when));
	snprintf(secs, sizeof(secs), "%.3f", (double)t / 1e9);
	switch (type) {
	case SIM_FAULT_INJECTION:
		from_template(&injection[v], injection[v].topic[0] == 's' ? secs : when, out);
		break;
	case SIM_FAULT_INVALID_UTF8:
		from_template(&invalid_utf8[v], when, out);
		break;
	case SIM_FAULT_NUL_BYTES:
		nul_bytes(v, when, out);
		break;
	case SIM_FAULT_BAD_NUMBER:
		from_template(&bad_number[v], when, out);
		break;
	case SIM_FAULT_DEEP_NESTING:
		deep_nesting(v, when, out);
		break;
	case SIM_FAULT_HOSTILE_OVERSIZE:
		oversize(v, h->oversize_bytes, when, out);
		break;
	default:
		hub_buf_puts(&out->topic, empty_level[v].topic);
		plain_payload(when, out);
		break;
	}
	return type;
}
