/* Process-wide counters and gauges, rendered as Prometheus text. Thread-safe; metrics are
 * created on first use and live until hub_metrics_reset(). */
#ifndef HUB_METRICS_H
#define HUB_METRICS_H

#include <stdint.h>

#include "cityhub/buf.h"

struct hub_metric;

/* Returns the counter name{labels} (labels like `reason="bad_json"` or ""), creating it. */
struct hub_metric *hub_counter(const char *name, const char *help, const char *labels);
/* Returns the gauge name{labels}, creating it. */
struct hub_metric *hub_gauge(const char *name, const char *help, const char *labels);
/* Adds n to a counter. */
void hub_metric_add(struct hub_metric *m, uint64_t n);
/* Sets a gauge. */
void hub_metric_set(struct hub_metric *m, double v);
/* Returns the current value. */
double hub_metric_value(const struct hub_metric *m);
/* Returns the sum of every series of the family `name` (0 when there is none). */
double hub_metrics_sum(const char *name);
/* Returns the largest value among the series of the family `name` (0 when there is none). */
double hub_metrics_max(const char *name);
/* Appends every metric in Prometheus text exposition format. */
void hub_metrics_render(struct hub_buf *out);
/* Frees every metric (tests, shutdown). Pointers handed out before are then invalid. */
void hub_metrics_reset(void);

#endif
