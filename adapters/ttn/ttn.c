/* The Things Stack v3 uplink (topic v3/{app}@{tenant}/devices/{dev}/up; docs/payloads/ttn.md):
 * one reading from uplink_message.decoded_payload, or from frm_payload through Cayenne LPP, plus
 * a separate `link` record with the radio metadata. */
#include "cityhub/adapter.h"
#include "cityhub/error.h"

#include "../lpp/lorawan.h"

static const char *const id_choices[] = {"device_id", "dev_eui", NULL};
static const char *const gateway_id_path[] = {"gateway_ids", "gateway_id", NULL};

static int init(const json_t *options, void **state, char *err, size_t errlen)
{
	struct hub_lorawan_opts *o = hub_lorawan_opts_new(options, id_choices, err, errlen);
	*state = o;
	return o ? HUB_OK : HUB_EINVAL;
}

/* sensor_id (device_id or DevEUI, as the route says) and the dev_eui tag. */
static int identify(const struct hub_lorawan_opts *o, const json_t *root, struct hub_recset *rs,
                    struct hub_record *rec, struct hub_reject *rej)
{
	const json_t *ids = json_object_get(root, "end_device_ids");
	const char *dev_id;
	char eui[17];
	if (ids && !json_is_object(ids))
		return hub_reject(rej, HUB_R_BAD_FORMAT, "end_device_ids must be an object");
	int rc = hub_lorawan_string(ids, "device_id", &dev_id, rej);
	if (rc == HUB_OK)
		rc = hub_lorawan_dev_eui(json_object_get(ids, "dev_eui"), eui, rej);
	if (rc != HUB_OK)
		return rc;
	if (eui[0] && hub_record_set_tag(rs, rec, "dev_eui", eui) != HUB_OK)
		return hub_reject(rej, HUB_R_TOO_MANY, "more than %d tags", HUB_MAX_TAGS);
	const char *sensor = o->sensor_choice == 0 ? dev_id : eui[0] ? eui : NULL;
	if (sensor && *sensor)
		rec->sensor_id = hub_recset_strdup(rs, sensor);
	return HUB_OK;
}

/* The earliest gateway reception time, for uplinks without any server time. */
static int gateway_time(const json_t *rx, struct hub_record *rec, struct hub_reject *rej)
{
	for (size_t i = 0; i < json_array_size(rx); i++) {
		struct hub_record t = {0};
		int rc = hub_lorawan_time(json_object_get(json_array_get(rx, i), "time"), &t, rej);
		if (rc != HUB_OK)
			return rc;
		if (t.has_ts && (!rec->has_ts || t.ts_ns < rec->ts_ns)) {
			rec->ts_ns = t.ts_ns;
			rec->has_ts = 1;
		}
	}
	return HUB_OK;
}

/* Network Server reception time first (the same for every copy of the uplink), then the
 * Application Server's, then the gateways'; none of them = the journal receive time. */
static int read_time(const json_t *root, const json_t *up, struct hub_record *rec,
                     struct hub_reject *rej)
{
	const json_t *t = json_object_get(up, "received_at");
	if (!t)
		t = json_object_get(root, "received_at");
	if (t)
		return hub_lorawan_time(t, rec, rej);
	return gateway_time(json_object_get(up, "rx_metadata"), rec, rej);
}

static int add_link(const json_t *up, json_int_t fport, struct hub_recset *rs, size_t reading,
                    struct hub_reject *rej)
{
	struct hub_lorawan_link l = {.f_port = fport};
	const json_t *sf =
	    hub_lorawan_dig(up, "settings", "data_rate", "lora", "spreading_factor", NULL);
	int rc = hub_lorawan_int(up, "f_cnt", &l.f_cnt, rej);
	if (rc == HUB_OK && sf && !json_is_integer(sf))
		rc = hub_reject(rej, HUB_R_BAD_FORMAT, "spreading_factor must be an integer");
	l.has_sf = sf != NULL;
	l.sf = json_integer_value(sf);
	if (rc == HUB_OK)
		rc = hub_lorawan_gateways(json_object_get(up, "rx_metadata"), gateway_id_path,
		                          "rssi", "channel_rssi", &l, rej);
	if (rc == HUB_OK)
		rc = hub_lorawan_add_link(rs, reading, &l, rej);
	return rc;
}

static int decode_uplink(const struct hub_lorawan_opts *o, const json_t *root,
                         struct hub_recset *out, struct hub_reject *rej)
{
	const json_t *up = json_object_get(root, "uplink_message");
	if (!json_is_object(up))
		return hub_reject(rej, HUB_R_BAD_FORMAT, "not an uplink: no uplink_message object");
	struct hub_record *rec = hub_recset_add(out);
	if (!rec)
		return hub_reject(rej, HUB_R_TOO_MANY, "too many records in one message");
	size_t reading = out->n - 1;
	const struct hub_lorawan_opts *po = o;
	json_int_t fport;
	int rc = hub_lorawan_int(up, "f_port", &fport, rej);
	if (rc == HUB_OK) /* the FPort picks the kind and map when the route has `ports` */
		rc = hub_lorawan_port(o, fport, &po, rej);
	if (rc == HUB_OK)
		rc = identify(o, root, out, rec, rej);
	if (rc == HUB_OK)
		rc = hub_lorawan_reading(po, json_object_get(up, "decoded_payload"),
		                         json_object_get(up, "frm_payload"), out, rec, rej);
	if (rc == HUB_OK && !rec->has_ts) /* an LPP unixtime channel wins */
		rc = read_time(root, up, rec, rej);
	if (rc == HUB_OK && o->link)
		rc = add_link(up, fport, out, reading, rej);
	return rc;
}

static int decode(const struct hub_msg *msg, const void *state, struct hub_recset *out,
                  struct hub_reject *rej)
{
	json_t *root;
	if (hub_adapter_parse_json(msg, 0, &root, rej) != HUB_OK)
		return HUB_EREJECT;
	int rc = json_is_object(root)
	             ? decode_uplink(state, root, out, rej)
	             : hub_reject(rej, HUB_R_BAD_FORMAT, "an uplink must be a JSON object");
	json_decref(root);
	return rc;
}

const struct hub_adapter hub_adapter_ttn = {
    .name = "ttn",
    .doc = "The Things Stack v3 uplink: decoded_payload or frm_payload (Cayenne LPP), plus link",
    .init = init,
    .free_state = hub_lorawan_opts_free,
    .decode = decode,
};
