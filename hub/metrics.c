#include "metrics.h"

#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

struct hub_metric {
	struct hub_metric *next;
	char *name;
	char *help;
	char *labels;
	int is_gauge;
	_Atomic uint64_t count;
	_Atomic double gauge;
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct hub_metric *head;
static struct hub_metric **tail = &head;

static struct hub_metric *get(const char *name, const char *help, const char *labels, int gauge)
{
	pthread_mutex_lock(&lock);
	struct hub_metric *m;
	for (m = head; m; m = m->next)
		if (strcmp(m->name, name) == 0 && strcmp(m->labels, labels) == 0)
			goto out;
	m = hub_xcalloc(1, sizeof(*m));
	m->name = hub_xstrdup(name);
	m->help = hub_xstrdup(help ? help : "");
	m->labels = hub_xstrdup(labels ? labels : "");
	m->is_gauge = gauge;
	/* Keep same-named metrics adjacent so HELP/TYPE are written once per family. */
	struct hub_metric **pos = tail;
	for (struct hub_metric **p = &head; *p; p = &(*p)->next)
		if (strcmp((*p)->name, name) == 0)
			pos = &(*p)->next;
	m->next = *pos;
	*pos = m;
	if (!m->next)
		tail = &m->next;
out:
	pthread_mutex_unlock(&lock);
	return m;
}

struct hub_metric *hub_counter(const char *name, const char *help, const char *labels)
{
	return get(name, help, labels ? labels : "", 0);
}

struct hub_metric *hub_gauge(const char *name, const char *help, const char *labels)
{
	return get(name, help, labels ? labels : "", 1);
}

void hub_metric_add(struct hub_metric *m, uint64_t n)
{
	atomic_fetch_add_explicit(&m->count, n, memory_order_relaxed);
}

void hub_metric_set(struct hub_metric *m, double v)
{
	atomic_store_explicit(&m->gauge, v, memory_order_relaxed);
}

double hub_metric_value(const struct hub_metric *m)
{
	if (m->is_gauge)
		return atomic_load_explicit(&((struct hub_metric *)m)->gauge, memory_order_relaxed);
	return (double)atomic_load_explicit(&((struct hub_metric *)m)->count, memory_order_relaxed);
}

/* Sum (or max) over the series named `name`. */
static double fold(const char *name, int want_max)
{
	double acc = 0;
	pthread_mutex_lock(&lock);
	for (struct hub_metric *m = head; m; m = m->next) {
		if (strcmp(m->name, name) != 0)
			continue;
		double v = hub_metric_value(m);
		acc = want_max ? fmax(acc, v) : acc + v;
	}
	pthread_mutex_unlock(&lock);
	return acc;
}

double hub_metrics_sum(const char *name)
{
	return fold(name, 0);
}

double hub_metrics_max(const char *name)
{
	return fold(name, 1);
}

void hub_metrics_render(struct hub_buf *out)
{
	pthread_mutex_lock(&lock);
	const char *family = NULL;
	for (struct hub_metric *m = head; m; m = m->next) {
		if (!family || strcmp(family, m->name) != 0) {
			hub_buf_printf(out, "# HELP %s %s\n# TYPE %s %s\n", m->name, m->help, m->name,
				       m->is_gauge ? "gauge" : "counter");
			family = m->name;
		}
		const char *open = m->labels[0] ? "{" : "", *close = m->labels[0] ? "}" : "";
		if (m->is_gauge)
			hub_buf_printf(out, "%s%s%s%s %.17g\n", m->name, open, m->labels, close,
				       hub_metric_value(m));
		else
			hub_buf_printf(out, "%s%s%s%s %llu\n", m->name, open, m->labels, close,
				       (unsigned long long)atomic_load(&m->count));
	}
	pthread_mutex_unlock(&lock);
}

void hub_metrics_reset(void)
{
	pthread_mutex_lock(&lock);
	while (head) {
		struct hub_metric *next = head->next;
		free(head->name);
		free(head->help);
		free(head->labels);
		free(head);
		head = next;
	}
	tail = &head;
	pthread_mutex_unlock(&lock);
}
