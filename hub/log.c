#include "cityhub/log.h"
#include "cityhub/error.h"

#include <pthread.h>
#include <stdarg.h>
#include <string.h>
#include <time.h>

static enum hub_log_level min_level = HUB_LOG_INFO;
static FILE *stream;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static const char *const names[] = {"debug", "info", "warn", "error"};

void hub_log_set_level(enum hub_log_level level)
{
	min_level = level;
}

int hub_log_parse_level(const char *name, enum hub_log_level *out)
{
	for (int i = 0; i < 4; i++) {
		if (name && strcmp(name, names[i]) == 0) {
			*out = (enum hub_log_level)i;
			return HUB_OK;
		}
	}
	return HUB_EINVAL;
}

void hub_log_set_stream(FILE *fp)
{
	stream = fp;
}

int hub_log_enabled(enum hub_log_level level)
{
	return level >= min_level;
}

void hub_log_write(enum hub_log_level level, const char *fmt, ...)
{
	struct timespec ts;
	struct tm tm;
	char when[40];
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);

	FILE *fp = stream ? stream : stderr;
	va_list ap;
	va_start(ap, fmt);
	pthread_mutex_lock(&lock);
	fprintf(fp, "ts=%s.%03ldZ level=%s ", when, ts.tv_nsec / 1000000, names[level]);
	vfprintf(fp, fmt, ap);
	fputc('\n', fp);
	fflush(fp);
	pthread_mutex_unlock(&lock);
	va_end(ap);
}
