/* The dashboard's static files (web/), embedded in the binary at build time by web/embed.py.
 * Read-only data: any thread may call these. */
#ifndef HUB_WEB_H
#define HUB_WEB_H

#include <stddef.h>

#include "cityhub/error.h"

struct hub_web_file {
	const char *path;         /* URL path, e.g. "/app.js" */
	const char *type;         /* Content-Type */
	const unsigned char *data;
	size_t len;
	const char *etag;         /* quoted strong validator: a hash of the content */
};

/* Finds the file served at URL path ("/" is "/index.html"). HUB_OK with borrowed pointers to
 * static data in the out-parameters (etag may be NULL), HUB_ENOENT when there is none. */
int hub_web_find(const char *path, const unsigned char **data, size_t *len,
		 const char **content_type, const char **etag);

#endif
