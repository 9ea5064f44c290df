/* Helpers for the tests that run the cityhub-sim binary. */
#ifndef SIM_TEST_UTIL_H
#define SIM_TEST_UTIL_H

#include "cityhub/buf.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/* Runs `$CITYHUB_SIM args`, collecting stdout into out and stderr into err; returns the
 * exit status (or -1). */
static inline int run_sim(const char *args, struct hub_buf *out, struct hub_buf *err)
{
	char errpath[] = "/tmp/test_sim_err_XXXXXX", cmd[2048], chunk[65536];
	int fd = mkstemp(errpath);
	size_t n;
	if (fd < 0)
		return -1;
	close(fd);
	snprintf(cmd, sizeof(cmd), "'%s' %s 2>%s", getenv("CITYHUB_SIM"), args, errpath);
	FILE *p = popen(cmd, "r");
	if (!p)
		return -1;
	while ((n = fread(chunk, 1, sizeof(chunk), p)) > 0)
		hub_buf_append(out, chunk, n);
	int st = pclose(p);
	FILE *e = fopen(errpath, "r");
	while (e && (n = fread(chunk, 1, sizeof(chunk), e)) > 0)
		hub_buf_append(err, chunk, n);
	if (e)
		fclose(e);
	unlink(errpath);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* Returns the last line of buf (the JSON summary) parsed, or NULL. */
static inline json_t *summary_of(const struct hub_buf *buf)
{
	if (buf->len < 2)
		return NULL;
	size_t end = buf->len - 1, start = end;
	while (start > 0 && buf->data[start - 1] != '\n')
		start--;
	return json_loadb(buf->data + start, end - start, 0, NULL);
}

/* Counts occurrences of needle in buf. */
static inline size_t count_of(const struct hub_buf *buf, const char *needle)
{
	size_t n = 0;
	for (const char *p = buf->data; p && (p = strstr(p, needle)); p++)
		n++;
	return n;
}

/* Reads an integer at a path of object keys ("a", "b", NULL). */
static inline long long jint(json_t *v, ...)
{
	va_list ap;
	const char *k;
	va_start(ap, v);
	while ((k = va_arg(ap, const char *)))
		v = json_object_get(v, k);
	va_end(ap);
	return json_integer_value(v);
}

#endif
