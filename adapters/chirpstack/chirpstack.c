/* ChirpStack v4 uplink event (topic application/{id}/device/{devEui}/event/up;
 * docs/payloads/chirpstack.md): one reading from `object` (the device-profile codec) or from
 * `data` through Cayenne LPP, plus a separate `link` record with the radio metadata. */
#include "cityhub/adapter.h"
#include "cityhub/error.h"

#include "../lpp/lorawan.h"

static const char *const id_choices[] = {"device_name", "dev_eui", NULL};
static const char *const gateway_id_path[] = {"gatewayId", NULL};

static int init(const json_t *options, void **state, char *err, size_t errlen)
{
	struct hub_lorawan_opts *o = hub_lorawan_opts_new(options, id_choices, err, errlen);
	*state = o;
	return o ? HUB_OK : HUB_EINVAL;
}

/* sensor_id (deviceName or devEui, as the route says) and the dev_eui tag. */
static int identify(const struct hub_lorawan_opts *o, const json_t *info, struct hub_recset *rs,
                    struct hub_record *rec, struct hub_reject *rej)
{
	const char *name;
	char eui[17];
	int rc = hub_lorawan_string(info, "deviceName", &name, rej);
	if (rc == HUB_OK)
		rc = hub_lorawan_dev_eui(json_object_get(info, "devEui"), eui, rej);
	if (rc != HUB_OK)
		return rc;
	if (eui[0] && hub_record_set_tag(rs, rec, "dev_eui", eui) != HUB_OK)
		return hub_reject(rej, HUB_R_TOO_MANY, "more than %d tags", HUB_MAX_TAGS);
	const char *sensor = o->sensor_choice == 0 ? name : eui[0] ? eui : NULL;
	if (sensor && *sensor)
		rec->sensor_id = hub_recset_strdup(rs, sensor);
	return HUB_OK;
}

static int add_link(const json_t *ev, json_int_t fport, struct hub_recset *rs, size_t reading,
                    struct hub_reject *rej)
{
	struct hub_lorawan_link l = {.f_port = fport};
	const json_t *sf =
	    hub_lorawan_dig(ev, "txInfo", "modulation", "lora", "spreadingFactor", NULL);
	int rc = hub_lorawan_int(ev, "fCnt", &l.f_cnt, rej);
	if (rc == HUB_OK && sf && !json_is_integer(sf))
		rc = hub_reject(rej, HUB_R_BAD_FORMAT, "spreadingFactor must be an integer");
	l.has_sf = sf != NULL;
	l.sf = json_integer_value(sf);
	if (rc == HUB_OK)
		rc = hub_lorawan_gateways(json_object_get(ev, "rxInfo"), gateway_id_path, "rssi",
		                          NULL, &l, rej);
	if (rc == HUB_OK)
		rc = hub_lorawan_add_link(rs, reading, &l, rej);
	return rc;
}

static int decode_event(const struct hub_lorawan_opts *o, const json_t *ev, struct hub_recset *out,
                        struct hub_reject *rej)
{
	const json_t *info = json_object_get(ev, "deviceInfo");
	if (!json_is_object(info))
		return hub_reject(rej, HUB_R_BAD_FORMAT,
		                  "not a ChirpStack event: no deviceInfo object");
	struct hub_record *rec = hub_recset_add(out);
	if (!rec)
		return hub_reject(rej, HUB_R_TOO_MANY, "too many records in one message");
	size_t reading = out->n - 1;
	const struct hub_lorawan_opts *po = o;
	json_int_t fport;
	int rc = hub_lorawan_int(ev, "fPort", &fport, rej);
	if (rc == HUB_OK) /* the FPort picks the kind and map when the route has `ports` */
		rc = hub_lorawan_port(o, fport, &po, rej);
	if (rc == HUB_OK)
		rc = identify(o, info, out, rec, rej);
	if (rc == HUB_OK)
		rc = hub_lorawan_reading(po, json_object_get(ev, "object"),
		                         json_object_get(ev, "data"), out, rec, rej);
	if (rc == HUB_OK && !rec->has_ts) /* an LPP unixtime channel wins; no time = receive time */
		rc = hub_lorawan_time(json_object_get(ev, "time"), rec, rej);
	if (rc == HUB_OK && o->link)
		rc = add_link(ev, fport, out, reading, rej);
	return rc;
}

static int decode(const struct hub_msg *msg, const void *state, struct hub_recset *out,
                  struct hub_reject *rej)
{
	json_t *root;
	if (hub_adapter_parse_json(msg, 0, &root, rej) != HUB_OK)
		return HUB_EREJECT;
	int rc = json_is_object(root)
	             ? decode_event(state, root, out, rej)
	             : hub_reject(rej, HUB_R_BAD_FORMAT, "an event must be a JSON object");
	json_decref(root);
	return rc;
}

const struct hub_adapter hub_adapter_chirpstack = {
    .name = "chirpstack",
    .doc = "ChirpStack v4 event/up: object or data (Cayenne LPP), plus a link record",
    .init = init,
    .free_state = hub_lorawan_opts_free,
    .decode = decode,
};
