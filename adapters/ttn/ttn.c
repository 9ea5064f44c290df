/* The Things Stack v3 uplink (topic v3/{app}@{tenant}/devices/{dev}/up; docs/payloads/ttn.md):
 * one reading from uplink_message.decoded_payload, or from frm_payload through Cayenne LPP, plus
 * a separate `link` record with the radio metadata. */
#include "cityhub/adapter.h"
#include "cityhub/error.h"

#include "../lorawan/lorawan.h"

static const char *const id_choices[] = {"device_id", "dev_eui", NULL};
static const char *const sf_path[] = {"settings", "data_rate", "lora", "spreading_factor", NULL};
static const char *const gateway_id_path[] = {"gateway_ids", "gateway_id", NULL};
/* End-device attributes (forwarded in uplinks since The Things Stack 3.34) and locations. */
static const char *const tags_path[] = {"uplink_message", "attributes", NULL};
static const char *const locations_path[] = {"uplink_message", "locations", NULL};

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

static const struct hub_lorawan_dialect ttn = {
    .choices = id_choices,
    .not_object = "an uplink must be a JSON object",
    .envelope = {"uplink_message", "not an uplink: no uplink_message object"},
    .uplink_is_envelope = 1,
    .ids = {"end_device_ids", "device_id", "dev_eui"},
    .up = {"f_port", "f_cnt", "decoded_payload", "frm_payload"},
    .radio = {sf_path, "rx_metadata", gateway_id_path, "channel_rssi"},
    .tags = tags_path,
    .locations = locations_path,
    .time = read_time,
};

static int init(const void *opts, const struct hub_schemas *schemas, void **state, char *err,
                size_t errlen)
{
	(void)schemas;
	return hub_lorawan_init(&ttn, opts, state, err, errlen);
}

const struct hub_adapter hub_adapter_ttn = {
    .name = "ttn",
    .doc = "The Things Stack v3 uplink: decoded_payload or frm_payload (Cayenne LPP), plus link",
    .options = &hub_lorawan_options,
    .options_size = sizeof(struct hub_lorawan_options),
    .init = init,
    .free_state = hub_lorawan_opts_free,
    .decode = hub_lorawan_decode,
};
