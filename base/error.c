#include "cityhub/error.h"
#include "cityhub/reject.h"

#include <stdarg.h>
#include <stdio.h>

static const char *const messages[] = {
	[0] = "ok",
	[1] = "invalid argument or input",
	[2] = "limit exhausted",
	[3] = "I/O error",
	[4] = "value out of range",
	[5] = "parse error",
	[6] = "not found",
	[7] = "try again",
	[8] = "storage full",
	[9] = "data corrupt",
	[10] = "stopped",
	[11] = "authentication refused",
	[12] = "message rejected",
};

const char *hub_strerror(int err)
{
	int i = -err;
	if (i < 0 || i >= (int)(sizeof(messages) / sizeof(messages[0])))
		return "unknown error";
	return messages[i];
}

int hub_reject(struct hub_reject *rej, const char *reason, const char *fmt, ...)
{
	if (!rej)
		return HUB_EREJECT;
	rej->reason = reason;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(rej->detail, sizeof(rej->detail), fmt, ap);
	va_end(ap);
	return HUB_EREJECT;
}
