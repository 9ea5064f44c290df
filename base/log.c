#include "cityhub/log.h"
#include "cityhub/buf.h"
#include "cityhub/error.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdlib.h>
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

/* Writes the escape of byte c into e (at most 4 characters, no NUL); returns its length. */
static size_t escape(unsigned char c, char e[4])
{
	static const char hex[] = "0123456789abcdef";
	const char *named = c == '"'    ? "\\\""
	                    : c == '\\' ? "\\\\"
	                    : c == '\n' ? "\\n"
	                    : c == '\r' ? "\\r"
	                    : c == '\t' ? "\\t"
	                                : NULL;
	if (named) {
		memcpy(e, named, 2);
		return 2;
	}
	if (c >= 0x20 && c != 0x7f) {
		e[0] = (char)c;
		return 1;
	}
	e[0] = '\\';
	e[1] = 'x';
	e[2] = hex[c >> 4];
	e[3] = hex[c & 15];
	return 4;
}

static int bare(const char *s, size_t n)
{
	if (n == 0)
		return 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c <= ' ' || c == '=' || c == '"' || c == '\\' || c == 0x7f)
			return 0;
	}
	return 1;
}

const char *hub_log_quote(char *dst, size_t cap, const char *s, size_t n)
{
	if (!dst || cap < 16) {
		if (dst && cap)
			dst[0] = '\0';
		return dst;
	}
	if (!s) {
		s = "";
		n = 0;
	} else if (n == HUB_LOG_CSTR)
		n = strlen(s);
	if (n < cap && bare(s, n)) {
		memcpy(dst, s, n);
		dst[n] = '\0';
		return dst;
	}
	size_t need = 3; /* quotes and NUL */
	char e[4];
	for (size_t i = 0; i < n && need <= cap; i++)
		need += escape((unsigned char)s[i], e);
	/* Cut: keep room for `..."` and the NUL after the last whole escape. */
	size_t room = need <= cap ? cap - 2 : cap - 5, o = 0;
	dst[o++] = '"';
	for (size_t i = 0; i < n; i++) {
		size_t k = escape((unsigned char)s[i], e);
		if (o + k > room)
			break;
		memcpy(dst + o, e, k);
		o += k;
	}
	if (need > cap) {
		memcpy(dst + o, "...", 3);
		o += 3;
	}
	dst[o++] = '"';
	dst[o] = '\0';
	return dst;
}

/* Writes line to fp, escaping the control characters a caller let through. */
static void put_line(FILE *fp, const char *line, size_t n)
{
	size_t from = 0;
	char e[4];
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)line[i];
		if (c >= 0x20 && c != 0x7f)
			continue;
		fwrite(line + from, 1, i - from, fp);
		fwrite(e, 1, escape(c, e), fp);
		from = i + 1;
	}
	fwrite(line + from, 1, n - from, fp);
}

void hub_log_write(enum hub_log_level level, const char *fmt, ...)
{
	struct timespec ts;
	struct tm tm;
	char when[40], small[1024];
	if (!fmt) /* also tells GCC's format checks (confused by UBSan's null checks) it is set */
		return;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);

	va_list ap, again;
	va_start(ap, fmt);
	va_copy(again, ap);
	int len = vsnprintf(small, sizeof(small), fmt, ap);
	va_end(ap);
	char *line = small;
	if (len >= (int)sizeof(small)) {
		line = hub_xmalloc((size_t)len + 1);
		vsnprintf(line, (size_t)len + 1, fmt, again);
	}
	va_end(again);

	FILE *fp = stream ? stream : stderr;
	pthread_mutex_lock(&lock);
	fprintf(fp, "ts=%s.%03ldZ level=%s ", when, ts.tv_nsec / 1000000, names[level]);
	put_line(fp, line, len > 0 ? (size_t)len : 0);
	fputc('\n', fp);
	fflush(fp);
	pthread_mutex_unlock(&lock);
	if (line != small)
		free(line);
}
