/* From a journal entry to validated canonical records: route by topic filter, decode with the
 * route's adapter, fill kind/sensor/tags from the topic template, check limits, apply the
 * schema. One pipeline is shared by every consumer thread: routes and schemas are read-only
 * after creation and the series guard is locked inside. */
#ifndef HUB_PIPELINE_H
#define HUB_PIPELINE_H

#include <stddef.h>

#include "cityhub/adapter.h"
#include "cityhub/schema.h"
#include "config.h"

struct hub_pipeline;

/* Topic prefix of records the hub derives itself (journal only, never MQTT): the native format
 * at $cityhub/derived/<kind>, the sensor in the payload. */
#define HUB_DERIVED_PREFIX "$cityhub/derived/"


/* Builds the routes of cfg (adapters looked up in adapters, a NULL-terminated table such as
 * hub_adapter_all(); options checked) over schemas. schemas and adapters are borrowed and must
 * outlive the pipeline. NULL with "file:line: routes[i]...: message" in err. */
struct hub_pipeline *hub_pipeline_new(const struct hub_config *cfg, const struct hub_schemas *schemas,
				      const struct hub_adapter *const *adapters, char *err,
				      size_t errlen);

/* Frees the pipeline; NULL is a no-op. */
void hub_pipeline_free(struct hub_pipeline *p);

/* Decodes msg into out (cleared first). HUB_OK, or HUB_EREJECT with rej filled and out empty.
 * *adapter is set to the name of the adapter used ("none" when no route matched). On HUB_OK,
 * out->dropped names the unknown fields the route's `unknown_fields: drop` (or its keep budget)
 * left out, for the monitor to count (cityhub_dropped_fields_total{kind,field}). */
int hub_pipeline_decode(struct hub_pipeline *p, const struct hub_msg *msg, struct hub_recset *out,
			struct hub_reject *rej, const char **adapter);

/* Copies into out (len bytes) the sensor a topic names through its route's template
 * ({sensor_id} level), so a rejected message can be counted against its sensor. HUB_OK, or
 * HUB_ENOENT when the topic does not say. */
int hub_pipeline_topic_sensor(const struct hub_pipeline *p, const char *topic, char *out,
			      size_t len);

/* Returns 1 when rej (from hub_pipeline_decode) is a message whose topic no route matches
 * (reason no_route, adapter "none"): the monitor counts it as cityhub_unrouted_total. */
int hub_pipeline_unrouted(const struct hub_reject *rej);

/* Returns 1 when the monitor should dead-letter rej: every rejection, and an unrouted message
 * only when mqtt.deadletter_unrouted is set. */
int hub_pipeline_deadletter(const struct hub_pipeline *p, const struct hub_reject *rej);

/* Returns 1 when topic matches the MQTT filter (with + and # wildcards). */
int hub_topic_matches(const char *filter, const char *topic);

/* Returns 1 when s (len bytes) is valid UTF-8 with no control characters. */
int hub_text_valid(const char *s, size_t len);

/* Returns 1 when s (len bytes) is valid UTF-8 text: no NUL, other control characters (newline,
 * tab) allowed. The test for a dead letter's "payload" (else "payload_base64"). */
int hub_utf8_valid(const char *s, size_t len);

#endif
