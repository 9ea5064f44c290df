#include "web.h"

#include <string.h>


extern const struct hub_web_file hub_web_files[]; /* web_builtin.c, ends with a NULL path */

int hub_web_find(const char *path, const unsigned char **data, size_t *len,
		 const char **content_type, const char **etag)
{
	if (!path || !data || !len || !content_type)
		return HUB_EINVAL;
	if (strcmp(path, "/") == 0)
		path = "/index.html";
	for (const struct hub_web_file *f = hub_web_files; f->path; f++) {
		if (strcmp(f->path, path) != 0)
			continue;
		*data = f->data;
		*len = f->len;
		*content_type = f->type;
		if (etag)
			*etag = f->etag;
		return HUB_OK;
	}
	return HUB_ENOENT;
}
