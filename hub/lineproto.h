/* InfluxDB line protocol: exact escaping, sorted tags, integer ns timestamps. Pure, no I/O. */
#ifndef HUB_LINEPROTO_H
#define HUB_LINEPROTO_H

#include <stddef.h>

#include "cityhub/buf.h"
#include "cityhub/record.h"

/* A batch of lines kept as one buffer plus the end offset of every line (for splitting). */
struct hub_lpbatch {
	struct hub_buf buf;
	size_t *ends; /* ends[i] = offset just past line i's '\n' */
	size_t nlines;
	size_t cap;
};

/* Appends rec as one line ending in '\n' to out: measurement = kind, tags = sensor_id plus
 * rec's tags sorted by key (empty values left out), fields in rec order, timestamp ts_ns.
 * HUB_EINVAL (out unchanged) when a name or value cannot be written safely: newline or CR
 * anywhere, empty measurement/key, tag value ending in '\', no fields, NaN or infinity. */
int hub_lp_encode(struct hub_buf *out, const struct hub_record *rec);

/* Encodes rec into the batch as one more line. Same errors as hub_lp_encode. */
int hub_lpbatch_add(struct hub_lpbatch *b, const struct hub_record *rec);

/* Encodes n records into the batch, all or none: on an error the batch is left as it was.
 * Same errors as hub_lp_encode. */
int hub_lpbatch_add_all(struct hub_lpbatch *b, const struct hub_record *recs, size_t n);

/* Appends an already encoded line (len bytes, ending in '\n') to the batch. */
void hub_lpbatch_add_raw(struct hub_lpbatch *b, const char *line, size_t len);

/* Empties the batch, keeping memory. */
void hub_lpbatch_clear(struct hub_lpbatch *b);

/* Frees the batch's memory. */
void hub_lpbatch_fini(struct hub_lpbatch *b);

#endif
