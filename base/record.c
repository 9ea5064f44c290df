#include "cityhub/record.h"
#include "cityhub/error.h"
#include "cityhub/buf.h"

#include <stdlib.h>
#include <string.h>

/* Strings live in blocks that are never moved, so pointers into them stay valid. */
struct hub_arena_block {
	struct hub_arena_block *next;
	size_t used;
	size_t size;
	char data[];
};

#define BLOCK_MIN 4096

void hub_recset_init(struct hub_recset *rs, size_t max)
{
	memset(rs, 0, sizeof(*rs));
	rs->max = max;
}

void hub_recset_clear(struct hub_recset *rs)
{
	rs->n = 0;
	rs->ndropped = 0;
	rs->dropped_more = 0;
	/* Keep one block so the next message reuses it; free the rest (bounds memory). */
	struct hub_arena_block *b = rs->blocks;
	if (!b)
		return;
	struct hub_arena_block *rest = b->next;
	b->next = NULL;
	b->used = 0;
	while (rest) {
		struct hub_arena_block *next = rest->next;
		free(rest);
		rest = next;
	}
}

void hub_recset_fini(struct hub_recset *rs)
{
	hub_recset_clear(rs);
	free(rs->blocks);
	free(rs->recs);
	memset(rs, 0, sizeof(*rs));
}

struct hub_record *hub_recset_add(struct hub_recset *rs)
{
	if (rs->max && rs->n >= rs->max)
		return NULL;
	if (rs->n == rs->cap) {
		rs->cap = rs->cap ? rs->cap * 2 : 8;
		rs->recs = hub_xrealloc(rs->recs, rs->cap * sizeof(*rs->recs));
	}
	struct hub_record *rec = &rs->recs[rs->n++];
	rec->kind = rec->sensor_id = NULL;
	rec->ts_ns = 0;
	rec->has_ts = 0;
	rec->ntags = rec->nfields = 0;
	return rec;
}

static char *arena_alloc(struct hub_recset *rs, size_t n)
{
	struct hub_arena_block *b = rs->blocks;
	if (!b || b->size - b->used < n) {
		size_t size = n > BLOCK_MIN ? n : BLOCK_MIN;
		b = hub_xmalloc(sizeof(*b) + size);
		b->used = 0;
		b->size = size;
		b->next = rs->blocks;
		rs->blocks = b;
	}
	char *p = b->data + b->used;
	b->used += n;
	return p;
}

const char *hub_recset_strndup(struct hub_recset *rs, const char *s, size_t len)
{
	char *p = arena_alloc(rs, len + 1);
	memcpy(p, s, len);
	p[len] = '\0';
	return p;
}

const char *hub_recset_strdup(struct hub_recset *rs, const char *s)
{
	return hub_recset_strndup(rs, s, strlen(s));
}

int hub_record_set_tag(struct hub_recset *rs, struct hub_record *rec, const char *key,
		       const char *value)
{
	for (size_t i = 0; i < rec->ntags; i++) {
		if (strcmp(rec->tags[i].key, key) == 0) {
			rec->tags[i].value = hub_recset_strdup(rs, value);
			return HUB_OK;
		}
	}
	if (rec->ntags >= HUB_MAX_TAGS)
		return HUB_ENOMEM;
	rec->tags[rec->ntags].key = hub_recset_strdup(rs, key);
	rec->tags[rec->ntags].value = hub_recset_strdup(rs, value);
	rec->ntags++;
	return HUB_OK;
}

const char *hub_record_tag(const struct hub_record *rec, const char *key)
{
	for (size_t i = 0; i < rec->ntags; i++)
		if (strcmp(rec->tags[i].key, key) == 0)
			return rec->tags[i].value;
	return NULL;
}

static struct hub_field *new_field(struct hub_recset *rs, struct hub_record *rec,
				   const char *name, const char *unit)
{
	if (rec->nfields >= HUB_MAX_FIELDS)
		return NULL;
	struct hub_field *f = &rec->fields[rec->nfields++];
	f->name = hub_recset_strdup(rs, name);
	f->unit = unit ? hub_recset_strdup(rs, unit) : NULL;
	f->kind = NULL;
	return f;
}

void hub_recset_note_dropped(struct hub_recset *rs, const char *kind, const char *name)
{
	if (rs->ndropped == HUB_MAX_DROPPED) {
		rs->dropped_more++;
		return;
	}
	rs->dropped[rs->ndropped].kind = hub_recset_strdup(rs, kind);
	rs->dropped[rs->ndropped++].field = hub_recset_strdup(rs, name);
}

int hub_record_add_double(struct hub_recset *rs, struct hub_record *rec, const char *name,
			  const char *unit, double v)
{
	struct hub_field *f = new_field(rs, rec, name, unit);
	if (!f)
		return HUB_ENOMEM;
	f->v.type = HUB_FT_DOUBLE;
	f->v.u.d = v;
	return HUB_OK;
}

int hub_record_add_int(struct hub_recset *rs, struct hub_record *rec, const char *name,
		       const char *unit, int64_t v)
{
	struct hub_field *f = new_field(rs, rec, name, unit);
	if (!f)
		return HUB_ENOMEM;
	f->v.type = HUB_FT_INT;
	f->v.u.i = v;
	return HUB_OK;
}

int hub_record_add_bool(struct hub_recset *rs, struct hub_record *rec, const char *name, int v)
{
	struct hub_field *f = new_field(rs, rec, name, NULL);
	if (!f)
		return HUB_ENOMEM;
	f->v.type = HUB_FT_BOOL;
	f->v.u.b = v ? 1 : 0;
	return HUB_OK;
}

int hub_record_add_string(struct hub_recset *rs, struct hub_record *rec, const char *name,
			  const char *s, size_t len)
{
	struct hub_field *f = new_field(rs, rec, name, NULL);
	if (!f)
		return HUB_ENOMEM;
	f->v.type = HUB_FT_STRING;
	f->v.u.s = hub_recset_strndup(rs, s, len);
	return HUB_OK;
}

struct hub_field *hub_record_field(struct hub_record *rec, const char *name)
{
	for (size_t i = 0; i < rec->nfields; i++)
		if (strcmp(rec->fields[i].name, name) == 0)
			return &rec->fields[i];
	return NULL;
}
