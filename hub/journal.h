/* The on-disk journal: every MQTT message is appended here before the broker gets its PUBACK.
 * Segment files of fixed size (preallocated, mmap'd), one CRC per entry, torn tails truncated
 * on open. Offsets are global byte positions that only grow. Each consumer (sink, pipeline)
 * owns a named cursor; segments below every cursor are deleted. Memory: each mapping (the
 * writer's, each reader's) keeps only the pages near its position resident, a few hundred KiB
 * whatever segment_bytes is.
 * Thread-safety: append, wait, cursor and stats calls are safe from any thread. A reader
 * belongs to one thread. */
#ifndef HUB_JOURNAL_H
#define HUB_JOURNAL_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"

/* Each segment file starts with a header of HUB_JOURNAL_SEG_HEADER bytes: magic "CHJS" and
 * the format version. A journal holding another version is refused at open, untouched. */
#define HUB_JOURNAL_FORMAT 1
#define HUB_JOURNAL_SEG_HEADER 16

struct hub_journal;
struct hub_journal_reader;

struct hub_journal_opts {
	const char *dir;
	uint64_t max_bytes;     /* total size of all segment files, headers included */
	uint64_t segment_bytes; /* size of one segment file */
	enum hub_fsync fsync;
	int fsync_interval_ms;
	enum hub_full_policy full_policy;
};

struct hub_jentry {
	uint64_t offset;  /* where this entry starts */
	uint64_t next;    /* where the next one starts: commit this to mark the entry done */
	int64_t recv_ns;
	const char *topic; /* NUL-terminated; valid until the next reader call */
	size_t topic_len;
	const uint8_t *payload; /* NUL-terminated (not counted in len) */
	size_t len;
};

struct hub_journal_stats {
	uint64_t first_offset; /* oldest retained entry */
	uint64_t end_offset;   /* after the newest entry */
	uint64_t bytes;        /* bytes of segment files on disk */
	uint64_t segments;
	uint64_t appended;     /* entries appended since open */
	uint64_t dropped;      /* entries deleted unread by drop_oldest since open */
	uint64_t corrupt;      /* damaged entries found on open */
	uint64_t full_waits;   /* appends that had to wait for space (policy block) */
	uint64_t waiting;      /* appends waiting for space right now */
};

/* Opens or creates the journal in o->dir, recovering after a crash: every segment is scanned,
 * damaged entries are logged and the torn tail is cut off. NULL with a message in err, also
 * when a segment has another format version than HUB_JOURNAL_FORMAT (the message names the
 * file and both versions; nothing is changed). */
struct hub_journal *hub_journal_open(const struct hub_journal_opts *o, char *err, size_t errlen);

/* Syncs and closes; wakes every waiter with HUB_ESTOP first. NULL is a no-op. */
void hub_journal_close(struct hub_journal *j);

/* Makes every blocked append and wait return HUB_ESTOP (for shutdown). */
void hub_journal_stop(struct hub_journal *j);

/* Appends one message. Under policy block, waits while the journal is full. HUB_EINVAL when
 * the entry cannot fit in a segment, HUB_ESTOP after hub_journal_stop, HUB_EIO on disk errors. */
int hub_journal_append(struct hub_journal *j, int64_t recv_ns, const char *topic,
		       size_t topic_len, const void *payload, size_t len);

/* As hub_journal_append, but never waits: HUB_EFULL when the journal is full under policy
 * block (for a consumer appending derived entries, which must not wait on its own cursor). */
int hub_journal_append_nowait(struct hub_journal *j, int64_t recv_ns, const char *topic,
			      size_t topic_len, const void *payload, size_t len);

/* Waits up to timeout_ms until the journal ends beyond offset. HUB_OK, HUB_EAGAIN on timeout,
 * HUB_ESTOP after hub_journal_stop. */
int hub_journal_wait(struct hub_journal *j, uint64_t offset, int timeout_ms);

/* Registers cursor name (creating it at the oldest entry if new) and returns its committed
 * offset. Segments are kept until every registered cursor has passed them. */
int hub_journal_cursor_open(struct hub_journal *j, const char *name, uint64_t *offset);

/* Returns 1 when cursor name is registered (a consumer that ran before), else 0. */
int hub_journal_cursor_exists(struct hub_journal *j, const char *name);

/* Durably records that cursor name has consumed everything before offset, then deletes the
 * segments every cursor has passed. */
int hub_journal_cursor_commit(struct hub_journal *j, const char *name, uint64_t offset);

/* Fills st with the current figures. */
void hub_journal_get_stats(struct hub_journal *j, struct hub_journal_stats *st);

/* Forces everything appended so far to disk (fsync). */
int hub_journal_sync(struct hub_journal *j);

/* Creates a reader positioned at offset (clamped to the oldest retained entry). */
struct hub_journal_reader *hub_journal_reader_new(struct hub_journal *j, uint64_t offset);

/* Reads the next entry into e. HUB_OK, or HUB_EAGAIN at the end of the journal. Entries that
 * were dropped under the reader (drop_oldest) are skipped and counted in the stats. */
int hub_journal_reader_next(struct hub_journal_reader *r, struct hub_jentry *e);

/* Returns the offset the reader will read next. */
uint64_t hub_journal_reader_offset(const struct hub_journal_reader *r);

/* Frees the reader; NULL is a no-op. */
void hub_journal_reader_free(struct hub_journal_reader *r);

#endif
