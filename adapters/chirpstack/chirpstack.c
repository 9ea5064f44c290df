/* ChirpStack v4 uplink event (topic application/{id}/device/{devEui}/event/up;
 * docs/payloads/chirpstack.md): one reading from `object` (the device-profile codec) or from
 * `data` through Cayenne LPP, plus a separate `link` record with the radio metadata. */
#include "cityhub/adapter.h"
#include "cityhub/error.h"

#include "../lorawan/lorawan.h"

static const char *const id_choices[] = {"device_name", "dev_eui", NULL};
static const char *const sf_path[] = {"txInfo", "modulation", "lora", "spreadingFactor", NULL};
static const char *const gateway_id_path[] = {"gatewayId", NULL};
static const char *const tags_path[] = {"deviceInfo", "tags", NULL};

/* The event's time; none = the journal receive time. */
static int read_time(const json_t *root, const json_t *ev, struct hub_record *rec,
                     struct hub_reject *rej)
{
	(void)root; /* the event is the root */
	return hub_lorawan_time(json_object_get(ev, "time"), rec, rej);
}

static const struct hub_lorawan_dialect chirpstack = {
    .choices = id_choices,
    .not_object = "an event must be a JSON object",
    .envelope = {"deviceInfo", "not a ChirpStack event: no deviceInfo object"},
    .ids = {"deviceInfo", "deviceName", "devEui"},
    .up = {"fPort", "fCnt", "object", "data"},
    .radio = {sf_path, "rxInfo", gateway_id_path, NULL},
    .tags = tags_path,
    .time = read_time,
};

static int init(const void *opts, const struct hub_schemas *schemas, void **state, char *err,
                size_t errlen)
{
	(void)schemas;
	return hub_lorawan_init(&chirpstack, opts, state, err, errlen);
}

const struct hub_adapter hub_adapter_chirpstack = {
    .name = "chirpstack",
    .doc = "ChirpStack v4 event/up: object or data (Cayenne LPP), plus a link record",
    .options = &hub_lorawan_options,
    .options_size = sizeof(struct hub_lorawan_options),
    .init = init,
    .free_state = hub_lorawan_opts_free,
    .decode = hub_lorawan_decode,
};
