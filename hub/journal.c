/* The journal: preallocated, mmap'd segment files of length-prefixed, CRC-checked entries.
 *
 * Offsets are contiguous: a segment file is named by the global offset of its first byte, and
 * an entry that does not fit at the end of a segment starts the next segment at that same
 * offset. The unused end of a segment stays zero and readers skip it (also the hole left when
 * recovery cut a damaged older segment). Files are host-endian.
 *
 * A segment file starts with a header (magic "CHJS", format version); its entry space of
 * segment_bytes follows. Offsets count entry space only: the entry at offset o of the segment
 * whose base is b sits at file position SHDR + o - b. A file of another format version is
 * refused at open and never touched: a later format must not be cut as damage by an older hub.
 *
 * The writer copies an entry into the shared mapping in this order: header with magic 0, body,
 * magic, then publishes the new end with a release store. A reader never looks past the
 * published end, and a process crash leaves either a complete entry, a header without magic
 * (torn, cut on open) or nothing.
 *
 * Every mapping (the writer's, each reader's, the scans at open and drop) walks its segment
 * forward and gives back its pages of each TRIM_STEP block it has passed (trim_map), so a
 * mapping keeps about one block resident whatever the segment size. This changes what is
 * resident, never what is read or what reaches the disk: see trim_map. */
#include "journal.h"

#include "cityhub/buf.h"
#include "cityhub/error.h"
#include "cityhub/log.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#define MAGIC 0x4c4e524aU /* "JRNL" */
#define HDR 24u
#define SEG_MAGIC 0x534a4843U /* "CHJS" */
#define SHDR ((uint64_t)HUB_JOURNAL_SEG_HEADER)
#define SEG_MIN 4096u
#define SEG_MAX (1u << 30)
#define CURSOR_NAME_MAX 64
#define SEG_NAME_LEN 24 /* 20 digits + ".seg" */
/* Mappings give back their pages in blocks of this size (a multiple of every page size): small
 * beside the hub's memory budget, large enough that the one madvise per block costs nothing
 * per message (a block holds thousands of typical messages). */
#define TRIM_STEP ((uint64_t)256 << 10)

struct ehdr {
	uint32_t magic;
	uint32_t len;       /* body: topic, NUL, payload, NUL */
	uint32_t crc;       /* crc32 of topic_len, recv_ns and the body */
	uint32_t topic_len;
	int64_t recv_ns;
};
_Static_assert(sizeof(struct ehdr) == HDR, "entry header is 24 bytes");

struct shdr {
	uint32_t magic;
	uint32_t version;  /* HUB_JOURNAL_FORMAT */
	uint64_t reserved; /* zero */
};
_Static_assert(sizeof(struct shdr) == HUB_JOURNAL_SEG_HEADER, "segment header is 16 bytes");

struct seg {
	uint64_t base;    /* global offset of the first byte of its entry space */
	uint64_t size;    /* bytes of entry space: the file is SHDR bytes longer */
	uint64_t entries; /* valid entries in it */
	int dirty;        /* written since the last sync (policies none and interval) */
};

struct cursor {
	char name[CURSOR_NAME_MAX + 1];
	uint64_t off;
};

struct hub_journal {
	pthread_mutex_t lock;      /* guards every non-atomic field below */
	pthread_cond_t data_cond;  /* appends -> hub_journal_wait, only when data_waiters > 0 */
	pthread_cond_t space_cond; /* deleted segments -> appends blocked for space */
	pthread_cond_t tick_cond;  /* close -> sync thread */
	int dfd;                   /* the journal directory */
	int lockfd;                /* flock'd so that one process owns the directory */
	uint64_t seg_bytes, max_bytes;
	enum hub_fsync fsync;
	int interval_ms;
	enum hub_full_policy policy;
	long page;
	struct seg *segs; /* oldest first; the last one is active */
	size_t nseg, segcap;
	uint8_t *wmap;  /* writable mapping of the active segment */
	uint64_t wpos;  /* write position inside the active segment */
	uint64_t wtrim; /* wmap's pages below it were given back (trim_map) */
	struct cursor *curs;
	size_t ncur;
	struct hub_journal_reader **readers; /* for counting what drop_oldest takes unread */
	size_t nreaders, readercap;
	_Atomic uint64_t end;   /* published: every entry below it is complete */
	_Atomic uint64_t first; /* base of the oldest segment */
	uint64_t bytes; /* on disk: every segment file, headers included */
	uint64_t appended, dropped, corrupt, full_waits;
	int data_waiters, space_waiters, stopped, closing, dir_dirty;
	pthread_t syncer;
	int has_syncer;
};

struct hub_journal_reader {
	struct hub_journal *j;
	uint64_t off;
	uint64_t done;      /* every entry before it was returned; guarded by j->lock */
	const uint8_t *map; /* read-only mapping of the segment holding off, or NULL */
	uint64_t base;      /* that segment's base */
	uint64_t limit;     /* bytes of it that may hold entries */
	uint64_t maplen;
	uint64_t trimmed;   /* map's pages below it were given back (trim_map) */
};

static void seterr(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void seterr(char *err, size_t errlen, const char *fmt, ...)
{
	if (!err || errlen == 0)
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

static void seg_name(char *buf, size_t n, uint64_t base)
{
	snprintf(buf, n, "%020" PRIu64 ".seg", base);
}

static uint64_t round8(uint64_t n)
{
	return (n + 7) & ~(uint64_t)7;
}

/* Size of an entry on disk, or 0 when it could never fit in a segment. */
static uint64_t entry_size(size_t topic_len, size_t len)
{
	if (topic_len > SEG_MAX || len > SEG_MAX)
		return 0;
	return round8((uint64_t)HDR + topic_len + len + 2);
}

static uint32_t body_crc(const struct ehdr *h, const char *topic, const void *payload, size_t len)
{
	static const uint8_t nul;
	uLong c = crc32(0L, Z_NULL, 0);
	c = crc32(c, (const Bytef *)&h->topic_len, HDR - 12);
	if (h->topic_len)
		c = crc32(c, (const Bytef *)topic, h->topic_len);
	c = crc32(c, &nul, 1);
	if (len)
		c = crc32(c, payload, (uInt)len);
	c = crc32(c, &nul, 1);
	return (uint32_t)c;
}

static int all_zero(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i])
			return 0;
	return 1;
}

enum { ENTRY_OK, ENTRY_END, ENTRY_BAD };

/* Looks at the entry starting at pos in a segment whose first limit bytes may hold entries.
 * ENTRY_OK with its header and size, ENTRY_END at the zeroed end, or ENTRY_BAD and why. */
static int check_entry(const uint8_t *m, uint64_t pos, uint64_t limit, int verify_crc,
		       struct ehdr *h, uint64_t *esize, const char **why)
{
	if (pos >= limit || limit - pos < HDR)
		return ENTRY_END;
	memcpy(h, m + pos, HDR);
	if (h->magic != MAGIC) {
		*why = h->magic ? "bad magic" : "header without magic (torn write)";
		return h->magic || !all_zero(m + pos, HDR) ? ENTRY_BAD : ENTRY_END;
	}
	*esize = round8((uint64_t)HDR + h->len);
	*why = "bad length";
	if (h->len < 2 || *esize > limit - pos || h->topic_len > h->len - 2)
		return ENTRY_BAD;
	const uint8_t *body = m + pos + HDR;
	*why = "missing terminator";
	if (body[h->topic_len] != 0 || body[h->len - 1] != 0)
		return ENTRY_BAD;
	*why = "checksum mismatch";
	if (verify_crc && crc32(0L, m + pos + 12, HDR - 12 + h->len) != h->crc)
		return ENTRY_BAD;
	return ENTRY_OK;
}

/* Gives back the pages of m below pos's TRIM_STEP block once pos has entered a new block;
 * *trimmed is where the previous call stopped. m must be a MAP_SHARED mapping of a file (never
 * MAP_PRIVATE: there MADV_DONTNEED would discard the private copies). On a shared file mapping
 * MADV_DONTNEED drops only this mapping's page-table entries: the pages stay in the page cache,
 * a dirty bit held in a dropped entry is moved to its page (zap_pte_range), so fdatasync, msync
 * and writeback see every write as before, and a later access faults the same bytes back in.
 * Each call starts one block below *trimmed, because fault-around may have mapped a few
 * cached pages back just below it. Failure only leaves pages resident, so it is ignored. */
static void trim_map(const uint8_t *m, uint64_t *trimmed, uint64_t pos)
{
	uint64_t to = pos & ~(TRIM_STEP - 1);
	if (to <= *trimmed)
		return;
	uint64_t from = *trimmed >= TRIM_STEP ? *trimmed - TRIM_STEP : 0;
	(void)madvise((void *)(uintptr_t)(m + from), to - from, MADV_DONTNEED);
	*trimmed = to;
}

static void deadline(struct timespec *ts, int ms)
{
	hub_deadline(ts, CLOCK_MONOTONIC, ms);
}

/* ---- segments ---- */

static struct seg *active(struct hub_journal *j)
{
	return &j->segs[j->nseg - 1];
}

static void push_seg(struct hub_journal *j, const struct seg *s)
{
	if (j->nseg == j->segcap) {
		j->segcap = j->segcap ? j->segcap * 2 : 16;
		j->segs = hub_xrealloc(j->segs, j->segcap * sizeof(*j->segs));
	}
	j->segs[j->nseg++] = *s;
}

/* Bytes of segment i that may hold entries: up to the next segment's base. */
static uint64_t seg_limit(const struct hub_journal *j, size_t i)
{
	const struct seg *s = &j->segs[i];
	if (i + 1 < j->nseg && j->segs[i + 1].base - s->base < s->size)
		return j->segs[i + 1].base - s->base;
	return s->size;
}

static int min_cursor(const struct hub_journal *j, uint64_t *min)
{
	if (j->ncur == 0)
		return 0;
	*min = j->curs[0].off;
	for (size_t i = 1; i < j->ncur; i++)
		if (j->curs[i].off < *min)
			*min = j->curs[i].off;
	return 1;
}

/* Where the slowest reader is, or with no reader, the slowest cursor (with no cursor at all,
 * 0: nobody consumes). A reader is ahead of its cursor by what its consumer holds in memory (a
 * sink's unacknowledged batch): those entries are still delivered after their segment is gone,
 * so they do not count as dropped. */
static int min_unread(const struct hub_journal *j, uint64_t *min)
{
	if (j->ncur == 0 || j->nreaders == 0)
		return min_cursor(j, min);
	*min = j->readers[0]->done;
	for (size_t i = 1; i < j->nreaders; i++)
		if (j->readers[i]->done < *min)
			*min = j->readers[i]->done;
	return 1;
}

/* Counts the entries of the oldest segment that the slowest reader has not read. */
static uint64_t count_unread(struct hub_journal *j)
{
	const struct seg *s = &j->segs[0];
	uint64_t min, limit = seg_limit(j, 0), pos = 0, read = 0;
	if (!min_unread(j, &min) || min <= s->base)
		return s->entries;
	if (min - s->base >= limit)
		return 0;
	char name[32];
	seg_name(name, sizeof(name), s->base);
	int fd = openat(j->dfd, name, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return s->entries;
	void *m = mmap(NULL, SHDR + s->size, PROT_READ, MAP_SHARED, fd, 0);
	close(fd);
	if (m == MAP_FAILED)
		return s->entries;
	const uint8_t *file = m;
	struct ehdr h;
	uint64_t esize, trimmed = 0;
	const char *why;
	while (s->base + pos < min &&
	       check_entry(file + SHDR, pos, limit, 0, &h, &esize, &why) == ENTRY_OK) {
		read++;
		pos += esize;
		trim_map(file, &trimmed, SHDR + pos);
	}
	munmap(m, SHDR + s->size);
	return read < s->entries ? s->entries - read : 0;
}

/* Deletes the oldest segment; lost says whether its unread entries count as dropped. */
static void drop_front(struct hub_journal *j, int lost)
{
	char name[32];
	struct seg *s = &j->segs[0];
	if (lost)
		j->dropped += count_unread(j);
	seg_name(name, sizeof(name), s->base);
	if (unlinkat(j->dfd, name, 0) != 0 && errno != ENOENT)
		hub_warn("msg=\"journal segment delete failed\" file=%s err=\"%s\"", name,
			 strerror(errno));
	j->bytes -= SHDR + s->size;
	j->nseg--;
	memmove(j->segs, j->segs + 1, j->nseg * sizeof(*j->segs));
	atomic_store(&j->first, j->segs[0].base);
	j->dir_dirty = 1;
}

static int write_header(int fd)
{
	const struct shdr h = {SEG_MAGIC, HUB_JOURNAL_FORMAT, 0};
	return pwrite(fd, &h, SHDR, 0) == (ssize_t)SHDR ? HUB_OK : HUB_EIO;
}

/* Creates a preallocated file for the segment starting at base, with its header, and maps
 * it writable (the whole file: entries start SHDR bytes in). */
static int create_seg_file(struct hub_journal *j, uint64_t base, uint8_t **map)
{
	char name[32];
	seg_name(name, sizeof(name), base);
	int fd = openat(j->dfd, name, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (fd < 0)
		goto fail;
	int rc = posix_fallocate(fd, 0, (off_t)(SHDR + j->seg_bytes));
	if (rc != 0) {
		errno = rc;
		goto fail_unlink;
	}
	if (write_header(fd) != HUB_OK)
		goto fail_unlink;
	void *m = mmap(NULL, SHDR + j->seg_bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (m == MAP_FAILED)
		goto fail_unlink;
	if (j->fsync == HUB_FSYNC_ALWAYS && (fsync(fd) != 0 || fsync(j->dfd) != 0)) {
		munmap(m, SHDR + j->seg_bytes);
		goto fail_unlink;
	}
	close(fd);
	*map = m;
	return HUB_OK;
fail_unlink:
	rc = errno;
	unlinkat(j->dfd, name, 0);
	close(fd);
	errno = rc;
fail:
	hub_warn("msg=\"journal segment create failed\" file=%s err=\"%s\"", name, strerror(errno));
	return HUB_EIO;
}

/* Starts a new active segment at the current end. */
static int add_segment(struct hub_journal *j)
{
	uint8_t *m;
	uint64_t base = atomic_load_explicit(&j->end, memory_order_relaxed);
	int rc = create_seg_file(j, base, &m);
	if (rc != HUB_OK)
		return rc;
	if (j->wmap)
		munmap(j->wmap, SHDR + active(j)->size);
	struct seg s = {base, j->seg_bytes, 0, j->fsync != HUB_FSYNC_ALWAYS};
	push_seg(j, &s);
	if (j->nseg == 1)
		atomic_store(&j->first, base);
	j->wmap = m;
	j->wpos = 0;
	j->wtrim = 0;
	j->bytes += SHDR + j->seg_bytes;
	j->dir_dirty = 1;
	return HUB_OK;
}

static int over_limit(const struct hub_journal *j)
{
	return j->bytes + SHDR + j->seg_bytes > j->max_bytes;
}

/* Makes room for esize bytes in the active segment: rolls over, dropping or waiting for space
 * per policy. Called with the lock held. */
static int reserve(struct hub_journal *j, uint64_t esize, int may_wait)
{
	int waited = 0;
	while (j->wpos + esize > active(j)->size) {
		if (over_limit(j) && j->nseg > 1) {
			if (j->policy == HUB_FULL_DROP_OLDEST) {
				while (over_limit(j) && j->nseg > 1)
					drop_front(j, 1);
				continue;
			}
			if (j->stopped)
				return HUB_ESTOP;
			if (!may_wait)
				return HUB_EFULL;
			if (!waited++)
				j->full_waits++;
			j->space_waiters++;
			pthread_cond_wait(&j->space_cond, &j->lock);
			j->space_waiters--;
			continue;
		}
		int rc = add_segment(j);
		if (rc != HUB_OK)
			return rc;
	}
	return HUB_OK;
}

/* ---- append ---- */

/* Copies the entry in at the write position and publishes it. Called with the lock held. */
static int put_entry(struct hub_journal *j, const struct ehdr *h, const char *topic,
		     const void *payload, size_t len, uint64_t esize)
{
	uint64_t start = j->wpos;
	uint8_t *p = j->wmap + SHDR + start;
	memcpy(p, h, HDR);
	atomic_signal_fence(memory_order_seq_cst);
	uint8_t *b = p + HDR;
	if (h->topic_len)
		memcpy(b, topic, h->topic_len);
	b[h->topic_len] = 0;
	if (len)
		memcpy(b + h->topic_len + 1, payload, len);
	memset(b + h->topic_len + 1 + len, 0, esize - HDR - h->topic_len - 1 - len);
	__atomic_store_n((uint32_t *)(void *)p, MAGIC, __ATOMIC_RELEASE);
	j->wpos += esize;
	struct seg *s = active(j);
	s->entries++;
	s->dirty = j->fsync != HUB_FSYNC_ALWAYS;
	j->appended++;
	atomic_store_explicit(&j->end, s->base + j->wpos, memory_order_release);
	if (j->data_waiters)
		pthread_cond_broadcast(&j->data_cond);
	if (j->fsync == HUB_FSYNC_ALWAYS) {
		uint64_t from = (SHDR + start) - (SHDR + start) % (uint64_t)j->page;
		if (msync(j->wmap + from, SHDR + j->wpos - from, MS_SYNC) != 0)
			return HUB_EIO;
	}
	trim_map(j->wmap, &j->wtrim, SHDR + j->wpos);
	return HUB_OK;
}

static int append(struct hub_journal *j, int64_t recv_ns, const char *topic, size_t topic_len,
		  const void *payload, size_t len, int may_wait)
{
	if (!j || (!topic && topic_len) || (!payload && len))
		return HUB_EINVAL;
	uint64_t esize = entry_size(topic_len, len);
	if (esize == 0 || esize > j->seg_bytes)
		return HUB_EINVAL;
	struct ehdr h = {0, (uint32_t)(topic_len + len + 2), 0, (uint32_t)topic_len, recv_ns};
	h.crc = body_crc(&h, topic, payload, len);
	pthread_mutex_lock(&j->lock);
	int rc = reserve(j, esize, may_wait);
	if (rc == HUB_OK)
		rc = put_entry(j, &h, topic, payload, len, esize);
	pthread_mutex_unlock(&j->lock);
	return rc;
}

int hub_journal_append(struct hub_journal *j, int64_t recv_ns, const char *topic,
		       size_t topic_len, const void *payload, size_t len)
{
	return append(j, recv_ns, topic, topic_len, payload, len, 1);
}

int hub_journal_append_nowait(struct hub_journal *j, int64_t recv_ns, const char *topic,
			      size_t topic_len, const void *payload, size_t len)
{
	return append(j, recv_ns, topic, topic_len, payload, len, 0);
}

int hub_journal_wait(struct hub_journal *j, uint64_t offset, int timeout_ms)
{
	if (!j)
		return HUB_EINVAL;
	if (atomic_load_explicit(&j->end, memory_order_acquire) > offset)
		return HUB_OK;
	struct timespec dl;
	if (timeout_ms > 0)
		deadline(&dl, timeout_ms);
	int rc = HUB_OK;
	pthread_mutex_lock(&j->lock);
	while (atomic_load_explicit(&j->end, memory_order_acquire) <= offset) {
		if (j->stopped) {
			rc = HUB_ESTOP;
			break;
		}
		if (timeout_ms == 0) {
			rc = HUB_EAGAIN;
			break;
		}
		j->data_waiters++;
		int w = timeout_ms < 0 ? pthread_cond_wait(&j->data_cond, &j->lock)
				       : pthread_cond_timedwait(&j->data_cond, &j->lock, &dl);
		j->data_waiters--;
		if (w == ETIMEDOUT)
			timeout_ms = 0;
	}
	pthread_mutex_unlock(&j->lock);
	return rc;
}

void hub_journal_stop(struct hub_journal *j)
{
	if (!j)
		return;
	pthread_mutex_lock(&j->lock);
	j->stopped = 1;
	pthread_cond_broadcast(&j->data_cond);
	pthread_cond_broadcast(&j->space_cond);
	pthread_mutex_unlock(&j->lock);
}

/* ---- sync ---- */

/* Finds the first dirty segment at or after from and marks it clean. Lock held. */
static int take_dirty(struct hub_journal *j, uint64_t from, uint64_t *base)
{
	for (size_t i = 0; i < j->nseg; i++) {
		if (j->segs[i].base >= from && j->segs[i].dirty) {
			j->segs[i].dirty = 0;
			*base = j->segs[i].base;
			return 1;
		}
	}
	return 0;
}

static void mark_dirty(struct hub_journal *j, uint64_t base)
{
	for (size_t i = 0; i < j->nseg; i++)
		if (j->segs[i].base == base)
			j->segs[i].dirty = 1;
}

static int sync_file(struct hub_journal *j, uint64_t base)
{
	char name[32];
	seg_name(name, sizeof(name), base);
	int fd = openat(j->dfd, name, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? HUB_OK : HUB_EIO; /* deleted meanwhile */
	int rc = fdatasync(fd) == 0 ? HUB_OK : HUB_EIO;
	close(fd);
	return rc;
}

/* The file syncs run without the lock, so appends are not held up by the disk. */
int hub_journal_sync(struct hub_journal *j)
{
	if (!j)
		return HUB_EINVAL;
	uint64_t from = 0, base;
	int rc = HUB_OK;
	pthread_mutex_lock(&j->lock);
	while (take_dirty(j, from, &base)) {
		pthread_mutex_unlock(&j->lock);
		int r = sync_file(j, base);
		pthread_mutex_lock(&j->lock);
		if (r != HUB_OK) {
			mark_dirty(j, base);
			rc = r;
		}
		from = base + 1;
	}
	int dir = j->dir_dirty;
	j->dir_dirty = 0;
	pthread_mutex_unlock(&j->lock);
	if (dir && fsync(j->dfd) != 0) {
		rc = HUB_EIO;
		pthread_mutex_lock(&j->lock);
		j->dir_dirty = 1;
		pthread_mutex_unlock(&j->lock);
	}
	return rc;
}

static void *sync_main(void *arg)
{
	struct hub_journal *j = arg;
	struct timespec dl;
	pthread_mutex_lock(&j->lock);
	while (!j->closing) {
		deadline(&dl, j->interval_ms);
		while (!j->closing && pthread_cond_timedwait(&j->tick_cond, &j->lock, &dl) == 0)
			;
		if (j->closing)
			break;
		pthread_mutex_unlock(&j->lock);
		if (hub_journal_sync(j) != HUB_OK)
			hub_warn("msg=\"journal sync failed\" err=\"%s\"", strerror(errno));
		pthread_mutex_lock(&j->lock);
	}
	pthread_mutex_unlock(&j->lock);
	return NULL;
}

/* ---- cursors ---- */

/* Cursor names become file names: [A-Za-z0-9_.-], 1..64 characters, no leading dot. */
static int valid_name(const char *name)
{
	size_t n = name ? strlen(name) : 0;
	if (n == 0 || n > CURSOR_NAME_MAX || name[0] == '.')
		return 0;
	for (size_t i = 0; i < n; i++) {
		char c = name[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '_' || c == '-' || c == '.'))
			return 0;
	}
	return 1;
}

static struct cursor *find_cursor(struct hub_journal *j, const char *name)
{
	for (size_t i = 0; i < j->ncur; i++)
		if (strcmp(j->curs[i].name, name) == 0)
			return &j->curs[i];
	return NULL;
}

static struct cursor *add_cursor(struct hub_journal *j, const char *name, uint64_t off)
{
	j->curs = hub_xrealloc(j->curs, (j->ncur + 1) * sizeof(*j->curs));
	struct cursor *c = &j->curs[j->ncur++];
	snprintf(c->name, sizeof(c->name), "%s", name);
	c->off = off;
	return c;
}

/* Writes cursor.<name> atomically: temporary file, fsync, rename, fsync of the directory. */
static int write_cursor(struct hub_journal *j, const char *name, uint64_t off)
{
	char tmp[CURSOR_NAME_MAX + 16], fin[CURSOR_NAME_MAX + 16], text[32];
	snprintf(tmp, sizeof(tmp), "tmp.cursor.%s", name);
	snprintf(fin, sizeof(fin), "cursor.%s", name);
	int n = snprintf(text, sizeof(text), "%" PRIu64 "\n", off);
	int dosync = j->fsync != HUB_FSYNC_NONE;
	int fd = openat(j->dfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return HUB_EIO;
	int ok = write(fd, text, (size_t)n) == n && (!dosync || fsync(fd) == 0);
	ok = close(fd) == 0 && ok;
	ok = ok && renameat(j->dfd, tmp, j->dfd, fin) == 0;
	ok = ok && (!dosync || fsync(j->dfd) == 0);
	if (!ok) {
		int e = errno;
		unlinkat(j->dfd, tmp, 0);
		errno = e;
		return HUB_EIO;
	}
	return HUB_OK;
}

static int read_cursor(int dfd, const char *file, uint64_t *off)
{
	char text[32];
	int fd = openat(dfd, file, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return HUB_EIO;
	ssize_t n = read(fd, text, sizeof(text) - 1);
	close(fd);
	if (n <= 0)
		return HUB_EPARSE;
	text[n] = 0;
	char *endp;
	errno = 0;
	unsigned long long v = strtoull(text, &endp, 10);
	if (endp == text || text[0] == '-' || errno == ERANGE || (*endp && strcmp(endp, "\n")))
		return HUB_EPARSE;
	*off = v;
	return HUB_OK;
}

/* Deletes the segments that every cursor has passed (never the active one). Lock held. */
static void retain(struct hub_journal *j)
{
	uint64_t min;
	int n = 0;
	if (!min_cursor(j, &min))
		return;
	while (j->nseg > 1 && j->segs[1].base <= min) {
		drop_front(j, 0);
		n++;
	}
	if (n && j->space_waiters)
		pthread_cond_broadcast(&j->space_cond);
}

int hub_journal_cursor_exists(struct hub_journal *j, const char *name)
{
	pthread_mutex_lock(&j->lock);
	int found = find_cursor(j, name) != NULL;
	pthread_mutex_unlock(&j->lock);
	return found;
}

int hub_journal_cursor_open(struct hub_journal *j, const char *name, uint64_t *offset)
{
	if (!j || !valid_name(name) || !offset)
		return HUB_EINVAL;
	pthread_mutex_lock(&j->lock);
	struct cursor *c = find_cursor(j, name);
	uint64_t off = c ? c->off : atomic_load(&j->first);
	pthread_mutex_unlock(&j->lock);
	if (!c) {
		int rc = write_cursor(j, name, off);
		if (rc != HUB_OK)
			return rc;
		pthread_mutex_lock(&j->lock);
		c = find_cursor(j, name);
		if (!c)
			c = add_cursor(j, name, off);
		off = c->off;
		pthread_mutex_unlock(&j->lock);
	}
	*offset = off;
	return HUB_OK;
}

int hub_journal_cursor_commit(struct hub_journal *j, const char *name, uint64_t offset)
{
	if (!j || !valid_name(name))
		return HUB_EINVAL;
	int rc = HUB_OK;
	pthread_mutex_lock(&j->lock);
	if (!find_cursor(j, name))
		rc = HUB_ENOENT;
	else if (offset > atomic_load(&j->end))
		rc = HUB_EINVAL;
	pthread_mutex_unlock(&j->lock);
	if (rc == HUB_OK)
		rc = write_cursor(j, name, offset);
	if (rc != HUB_OK)
		return rc;
	pthread_mutex_lock(&j->lock);
	find_cursor(j, name)->off = offset;
	retain(j);
	pthread_mutex_unlock(&j->lock);
	return HUB_OK;
}

void hub_journal_get_stats(struct hub_journal *j, struct hub_journal_stats *st)
{
	memset(st, 0, sizeof(*st));
	if (!j)
		return;
	pthread_mutex_lock(&j->lock);
	st->first_offset = atomic_load(&j->first);
	st->end_offset = atomic_load(&j->end);
	st->bytes = j->bytes;
	st->segments = j->nseg;
	st->appended = j->appended;
	st->dropped = j->dropped;
	st->corrupt = j->corrupt;
	st->full_waits = j->full_waits;
	st->waiting = (uint64_t)j->space_waiters;
	pthread_mutex_unlock(&j->lock);
}

/* ---- open and recovery ---- */

/* Zeroes [from, size) of a segment: cheaply through the file system where it can, else
 * block by block through the mapping, giving each block back once written. */
static void zero_tail(int fd, uint8_t *m, uint64_t from, uint64_t size)
{
	if (from >= size ||
	    fallocate(fd, FALLOC_FL_ZERO_RANGE, (off_t)from, (off_t)(size - from)) == 0)
		return;
	uint64_t trimmed = from & ~(TRIM_STEP - 1);
	while (from < size) {
		uint64_t n = TRIM_STEP - (from & (TRIM_STEP - 1));
		if (n > size - from)
			n = size - from;
		memset(m + from, 0, n);
		from += n;
		trim_map(m, &trimmed, from);
	}
}

/* Walks a mapped segment file; at the first damaged entry logs it, counts it and zeroes the
 * rest. Returns where the valid data ends in its entry space; *trimmed as trim_map left it. */
static uint64_t scan_seg(struct hub_journal *j, struct seg *s, int fd, uint8_t *m, uint64_t limit,
			 uint64_t *trimmed)
{
	uint64_t pos = 0, esize = 0;
	struct ehdr h;
	const char *why = NULL;
	int st;
	while ((st = check_entry(m + SHDR, pos, limit, 1, &h, &esize, &why)) == ENTRY_OK) {
		s->entries++;
		pos += esize;
		trim_map(m, trimmed, SHDR + pos);
	}
	if (st == ENTRY_BAD) {
		hub_warn("msg=\"journal entry damaged, cutting segment\" segment=%020" PRIu64
			 " offset=%" PRIu64 " reason=\"%s\"",
			 s->base, s->base + pos, why);
		j->corrupt++;
		zero_tail(fd, m, SHDR + pos, SHDR + s->size);
	}
	return pos;
}

/* Re-extends, maps and scans segment i; the newest stays mapped as the active segment. */
static int recover_seg(struct hub_journal *j, size_t i)
{
	char name[32];
	struct seg *s = &j->segs[i];
	struct stat st;
	seg_name(name, sizeof(name), s->base);
	int fd = openat(j->dfd, name, O_RDWR | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) != 0)
		goto fail;
	uint64_t flen = (uint64_t)st.st_size;
	s->size = flen > SHDR ? round8(flen - SHDR) : 0;
	if (s->size < j->seg_bytes)
		s->size = j->seg_bytes;
	if (SHDR + s->size != flen) {
		hub_warn("msg=\"journal segment short, re-extending\" file=%s size=%lld", name,
			 (long long)st.st_size);
		int rc = posix_fallocate(fd, 0, (off_t)(SHDR + s->size));
		if (rc != 0) {
			errno = rc;
			goto fail;
		}
	}
	void *m = mmap(NULL, SHDR + s->size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (m == MAP_FAILED)
		goto fail;
	uint64_t trimmed = 0;
	uint64_t pos = scan_seg(j, s, fd, m, seg_limit(j, i), &trimmed);
	close(fd);
	if (i + 1 == j->nseg) {
		j->wmap = m;
		j->wpos = pos;
		j->wtrim = trimmed;
	} else {
		munmap(m, SHDR + s->size);
	}
	s->dirty = 1;
	j->bytes += SHDR + s->size;
	return HUB_OK;
fail:
	hub_error("msg=\"journal segment unreadable\" file=%s err=\"%s\"", name, strerror(errno));
	if (fd >= 0)
		close(fd);
	return HUB_EIO;
}

static int seg_cmp(const void *a, const void *b)
{
	uint64_t x = ((const struct seg *)a)->base, y = ((const struct seg *)b)->base;
	return x < y ? -1 : x > y;
}

/* Parses a segment file name (20 digits + ".seg") into its base offset. */
static int parse_seg_name(const char *name, uint64_t *base)
{
	if (strlen(name) != SEG_NAME_LEN || strcmp(name + 20, ".seg") != 0)
		return 0;
	for (int i = 0; i < 20; i++)
		if (name[i] < '0' || name[i] > '9')
			return 0;
	char *endp;
	errno = 0;
	unsigned long long v = strtoull(name, &endp, 10);
	if (errno == ERANGE || endp != name + 20)
		return 0;
	*base = v;
	return 1;
}

/* Collects segment files and cursors from the directory; removes stale temporary files. */
static int scan_dir(struct hub_journal *j, char *err, size_t errlen)
{
	int fd = dup(j->dfd);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	if (!d) {
		seterr(err, errlen, "journal: cannot list directory: %s", strerror(errno));
		if (fd >= 0)
			close(fd);
		return HUB_EIO;
	}
	int rc = HUB_OK;
	struct dirent *de;
	while (rc == HUB_OK && (de = readdir(d)) != NULL) {
		struct seg s = {0, 0, 0, 0};
		uint64_t off;
		if (parse_seg_name(de->d_name, &s.base)) {
			push_seg(j, &s);
		} else if (strncmp(de->d_name, "tmp.cursor.", 11) == 0) {
			unlinkat(j->dfd, de->d_name, 0);
		} else if (strncmp(de->d_name, "cursor.", 7) == 0 && valid_name(de->d_name + 7)) {
			/* An unreadable cursor replays from the oldest entry: duplicates are
			 * harmless (idempotent writes), skipping would lose data. */
			if (read_cursor(j->dfd, de->d_name, &off) != HUB_OK) {
				hub_warn("msg=\"journal cursor unreadable, replaying\" file=%s",
					 de->d_name);
				off = 0;
			}
			add_cursor(j, de->d_name + 7, off);
		}
	}
	closedir(d);
	if (j->nseg > 1)
		qsort(j->segs, j->nseg, sizeof(*j->segs), seg_cmp);
	return rc;
}

/* Reads the header of segment file name in dir. A file too short for one, or zero where it
 * goes, was being created when the hub stopped: its header is written now. Any other magic or
 * format version refuses the journal (HUB_ECORRUPT) with a message naming the file. */
static int check_header(struct hub_journal *j, const char *dir, const char *name, char *err,
			size_t errlen)
{
	struct shdr h = {0, 0, 0};
	struct stat st;
	int rc = HUB_EIO;
	int fd = openat(j->dfd, name, O_RDWR | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) != 0 ||
	    (st.st_size >= (off_t)SHDR && pread(fd, &h, SHDR, 0) != (ssize_t)SHDR)) {
		seterr(err, errlen, "journal: %s/%s unreadable: %s", dir, name, strerror(errno));
		goto out;
	}
	rc = HUB_ECORRUPT;
	if (h.magic == 0 && h.version == 0 && h.reserved == 0) {
		rc = write_header(fd);
		if (rc != HUB_OK)
			seterr(err, errlen, "journal: %s/%s: cannot write its header: %s", dir, name,
			       strerror(errno));
	} else if (h.magic != SEG_MAGIC && h.magic != MAGIC) {
		seterr(err, errlen, "journal: %s/%s is not a cityhub journal segment (magic 0x%08x)",
		       dir, name, h.magic);
	} else if (h.magic == MAGIC || h.version != HUB_JOURNAL_FORMAT) {
		/* MAGIC: an entry where the header goes, the format before versions (0) */
		seterr(err, errlen,
		       "journal: %s/%s has format version %u but this cityhub reads version %u; "
		       "refusing to open the journal (run the cityhub that wrote it, or move the "
		       "directory aside)",
		       dir, name, h.magic == MAGIC ? 0u : h.version, (unsigned)HUB_JOURNAL_FORMAT);
	} else {
		rc = HUB_OK;
	}
out:
	if (fd >= 0)
		close(fd);
	return rc;
}

/* Recovers every segment (or creates the first one) and sets end and first. Every header is
 * checked before recovery changes any file. */
static int recover_all(struct hub_journal *j, const char *dir, char *err, size_t errlen)
{
	for (size_t i = 0; i < j->nseg; i++) {
		char name[32];
		seg_name(name, sizeof(name), j->segs[i].base);
		int rc = check_header(j, dir, name, err, errlen);
		if (rc != HUB_OK)
			return rc;
	}
	for (size_t i = 0; i < j->nseg; i++) {
		if (recover_seg(j, i) != HUB_OK) {
			seterr(err, errlen, "journal: segment %020" PRIu64 " unreadable: %s",
			       j->segs[i].base, strerror(errno));
			return HUB_EIO;
		}
	}
	if (j->nseg > 0) {
		atomic_store(&j->end, active(j)->base + j->wpos);
		atomic_store(&j->first, j->segs[0].base);
	} else {
		/* An emptied directory: keep offsets growing past what the cursors saw. */
		uint64_t base = 0;
		for (size_t i = 0; i < j->ncur; i++)
			if (j->curs[i].off > base)
				base = j->curs[i].off;
		atomic_store(&j->end, base);
		if (add_segment(j) != HUB_OK) {
			seterr(err, errlen, "journal: cannot create a segment: %s",
			       strerror(errno));
			return HUB_EIO;
		}
	}
	uint64_t end = atomic_load(&j->end);
	for (size_t i = 0; i < j->ncur; i++) {
		if (j->curs[i].off > end) {
			hub_warn("msg=\"journal cursor beyond the end, clamped\" cursor=%s "
				 "offset=%" PRIu64 " end=%" PRIu64,
				 j->curs[i].name, j->curs[i].off, end);
			j->curs[i].off = end;
		}
	}
	return HUB_OK;
}

/* mkdir -p */
static int make_dirs(const char *dir)
{
	char *p = hub_xstrdup(dir);
	int rc = 0;
	for (char *s = p + 1; rc == 0; s++) {
		int last = *s == 0;
		if (*s != '/' && !last)
			continue;
		*s = 0;
		if (mkdir(p, 0755) != 0 && errno != EEXIST)
			rc = -1;
		if (last)
			break;
		*s = '/';
	}
	free(p);
	return rc;
}

static int open_dir(struct hub_journal *j, const char *dir, char *err, size_t errlen)
{
	if (make_dirs(dir) != 0) {
		seterr(err, errlen, "journal: cannot create %s: %s", dir, strerror(errno));
		return HUB_EIO;
	}
	j->dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (j->dfd < 0) {
		seterr(err, errlen, "journal: cannot open %s: %s", dir, strerror(errno));
		return HUB_EIO;
	}
	j->lockfd = openat(j->dfd, "lock", O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (j->lockfd < 0 || flock(j->lockfd, LOCK_EX | LOCK_NB) != 0) {
		seterr(err, errlen, "journal: %s is in use or not writable: %s", dir,
		       strerror(errno));
		return HUB_EIO;
	}
	return HUB_OK;
}

static int check_opts(const struct hub_journal_opts *o, char *err, size_t errlen)
{
	if (!o || !o->dir || !o->dir[0]) {
		seterr(err, errlen, "journal: no directory given");
		return HUB_EINVAL;
	}
	if (o->segment_bytes < SEG_MIN || o->segment_bytes > SEG_MAX) {
		seterr(err, errlen, "journal: segment_bytes %" PRIu64 " outside [%u, %u]",
		       o->segment_bytes, SEG_MIN, SEG_MAX);
		return HUB_EINVAL;
	}
	if (o->max_bytes / 2 < SHDR + round8(o->segment_bytes)) {
		seterr(err, errlen, "journal: max_bytes %" PRIu64 " below two segments",
		       o->max_bytes);
		return HUB_EINVAL;
	}
	if (o->fsync == HUB_FSYNC_INTERVAL && o->fsync_interval_ms <= 0) {
		seterr(err, errlen, "journal: fsync_interval_ms must be positive");
		return HUB_EINVAL;
	}
	return HUB_OK;
}

static struct hub_journal *journal_alloc(const struct hub_journal_opts *o)
{
	struct hub_journal *j = hub_xcalloc(1, sizeof(*j));
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_mutex_init(&j->lock, NULL);
	pthread_cond_init(&j->data_cond, &ca);
	pthread_cond_init(&j->space_cond, &ca);
	pthread_cond_init(&j->tick_cond, &ca);
	pthread_condattr_destroy(&ca);
	j->dfd = -1;
	j->lockfd = -1;
	j->seg_bytes = round8(o->segment_bytes);
	j->max_bytes = o->max_bytes;
	j->fsync = o->fsync;
	j->interval_ms = o->fsync_interval_ms;
	j->policy = o->full_policy;
	j->page = sysconf(_SC_PAGESIZE);
	return j;
}

static void journal_free(struct hub_journal *j)
{
	if (j->wmap)
		munmap(j->wmap, SHDR + active(j)->size);
	if (j->lockfd >= 0)
		close(j->lockfd);
	if (j->dfd >= 0)
		close(j->dfd);
	pthread_cond_destroy(&j->tick_cond);
	pthread_cond_destroy(&j->space_cond);
	pthread_cond_destroy(&j->data_cond);
	pthread_mutex_destroy(&j->lock);
	free(j->segs);
	free(j->curs);
	free(j->readers);
	free(j);
}

struct hub_journal *hub_journal_open(const struct hub_journal_opts *o, char *err, size_t errlen)
{
	if (check_opts(o, err, errlen) != HUB_OK)
		return NULL;
	struct hub_journal *j = journal_alloc(o);
	if (open_dir(j, o->dir, err, errlen) != HUB_OK || scan_dir(j, err, errlen) != HUB_OK ||
	    recover_all(j, o->dir, err, errlen) != HUB_OK)
		goto fail;
	if (j->fsync == HUB_FSYNC_INTERVAL) {
		int rc = pthread_create(&j->syncer, NULL, sync_main, j);
		if (rc != 0) {
			seterr(err, errlen, "journal: cannot start sync thread: %s", strerror(rc));
			goto fail;
		}
		j->has_syncer = 1;
	}
	return j;
fail:
	journal_free(j);
	return NULL;
}

/* Policy none skipped the cursor fsyncs; close makes them durable. No other thread runs. */
static int sync_cursors(struct hub_journal *j)
{
	char name[CURSOR_NAME_MAX + 16];
	int rc = 0;
	for (size_t i = 0; i < j->ncur; i++) {
		snprintf(name, sizeof(name), "cursor.%s", j->curs[i].name);
		int fd = openat(j->dfd, name, O_RDONLY | O_CLOEXEC);
		if (fd < 0 || fsync(fd) != 0)
			rc = -1;
		if (fd >= 0)
			close(fd);
	}
	return fsync(j->dfd) != 0 ? -1 : rc;
}

void hub_journal_close(struct hub_journal *j)
{
	if (!j)
		return;
	hub_journal_stop(j);
	if (j->has_syncer) {
		pthread_mutex_lock(&j->lock);
		j->closing = 1;
		pthread_cond_broadcast(&j->tick_cond);
		pthread_mutex_unlock(&j->lock);
		pthread_join(j->syncer, NULL);
	}
	if (hub_journal_sync(j) != HUB_OK || (j->fsync == HUB_FSYNC_NONE && sync_cursors(j)))
		hub_error("msg=\"journal sync at close failed\" err=\"%s\"", strerror(errno));
	journal_free(j);
}

/* ---- readers ---- */

struct hub_journal_reader *hub_journal_reader_new(struct hub_journal *j, uint64_t offset)
{
	if (!j)
		return NULL;
	struct hub_journal_reader *r = hub_xcalloc(1, sizeof(*r));
	pthread_mutex_lock(&j->lock);
	uint64_t first = atomic_load(&j->first);
	uint64_t end = atomic_load_explicit(&j->end, memory_order_acquire);
	r->j = j;
	r->off = offset < first ? first : offset > end ? end : offset;
	r->done = r->off;
	if (j->nreaders == j->readercap) {
		j->readercap = j->readercap ? j->readercap * 2 : 4;
		j->readers = hub_xrealloc(j->readers, j->readercap * sizeof(*j->readers));
	}
	j->readers[j->nreaders++] = r;
	pthread_mutex_unlock(&j->lock);
	return r;
}

static void reader_unmap(struct hub_journal_reader *r)
{
	if (r->map)
		munmap((void *)r->map, r->maplen);
	r->map = NULL;
}

/* Index of the segment holding off (moving off past holes and dropped segments). Lock held. */
static int locate(struct hub_journal *j, uint64_t *off, size_t *idx)
{
	size_t i = 0;
	if (*off < j->segs[0].base)
		*off = j->segs[0].base;
	while (i + 1 < j->nseg && j->segs[i + 1].base <= *off)
		i++;
	while (*off - j->segs[i].base >= seg_limit(j, i)) {
		if (i + 1 == j->nseg)
			return HUB_EAGAIN;
		*off = j->segs[++i].base;
	}
	*idx = i;
	return HUB_OK;
}

/* Maps the segment holding the reader's offset, read-only. */
static int reader_map(struct hub_journal_reader *r)
{
	struct hub_journal *j = r->j;
	char name[32];
	size_t i;
	reader_unmap(r);
	pthread_mutex_lock(&j->lock);
	int rc = locate(j, &r->off, &i);
	if (rc == HUB_OK) {
		const struct seg *s = &j->segs[i];
		seg_name(name, sizeof(name), s->base);
		int fd = openat(j->dfd, name, O_RDONLY | O_CLOEXEC);
		void *m = fd >= 0 ? mmap(NULL, SHDR + s->size, PROT_READ, MAP_SHARED, fd, 0)
				  : MAP_FAILED;
		if (fd >= 0)
			close(fd);
		if (m == MAP_FAILED) {
			rc = HUB_EIO;
		} else {
			r->map = m;
			r->maplen = SHDR + s->size;
			r->base = s->base;
			r->limit = seg_limit(j, i);
			r->trimmed = (SHDR + r->off - s->base) & ~(TRIM_STEP - 1);
		}
	}
	pthread_mutex_unlock(&j->lock);
	return rc;
}

/* Nothing more in the mapped segment: move to the start of the next one. */
static int reader_skip(struct hub_journal_reader *r)
{
	struct hub_journal *j = r->j;
	int rc = HUB_ECORRUPT;
	pthread_mutex_lock(&j->lock);
	for (size_t i = 0; i < j->nseg; i++) {
		if (j->segs[i].base > r->base) {
			if (j->segs[i].base > r->off)
				r->off = j->segs[i].base;
			rc = HUB_OK;
			break;
		}
	}
	pthread_mutex_unlock(&j->lock);
	reader_unmap(r);
	return rc;
}

int hub_journal_reader_next(struct hub_journal_reader *r, struct hub_jentry *e)
{
	if (!r || !e)
		return HUB_EINVAL;
	struct hub_journal *j = r->j;
	for (;;) {
		uint64_t first = atomic_load_explicit(&j->first, memory_order_relaxed);
		if (r->off < first)
			r->off = first;
		if (r->off >= atomic_load_explicit(&j->end, memory_order_acquire))
			return HUB_EAGAIN;
		int rc = HUB_OK;
		if (!r->map || r->off < r->base || r->off - r->base >= r->limit)
			rc = reader_map(r);
		if (rc != HUB_OK)
			return rc;
		struct ehdr h;
		uint64_t esize;
		const char *why;
		uint64_t pos = r->off - r->base;
		/* The entry returned last is no longer needed: its pointers die with this call. */
		trim_map(r->map, &r->trimmed, SHDR + pos);
		if (check_entry(r->map + SHDR, pos, r->limit, 0, &h, &esize, &why) != ENTRY_OK) {
			rc = reader_skip(r);
			if (rc != HUB_OK)
				return rc;
			continue;
		}
		e->offset = r->off;
		e->next = r->off + esize;
		e->recv_ns = h.recv_ns;
		e->topic = (const char *)r->map + SHDR + pos + HDR;
		e->topic_len = h.topic_len;
		e->payload = r->map + SHDR + pos + HDR + h.topic_len + 1;
		e->len = h.len - h.topic_len - 2;
		r->off = e->next;
		/* Under the lock, so that drop_oldest either counted this entry as dropped (then
		 * it is skipped here) or sees that it was read: never both, never neither. */
		pthread_mutex_lock(&j->lock);
		int dropped = e->offset < atomic_load(&j->first);
		if (!dropped)
			r->done = e->next;
		pthread_mutex_unlock(&j->lock);
		if (!dropped)
			return HUB_OK;
	}
}

uint64_t hub_journal_reader_offset(const struct hub_journal_reader *r)
{
	return r ? r->off : 0;
}

void hub_journal_reader_free(struct hub_journal_reader *r)
{
	if (!r)
		return;
	struct hub_journal *j = r->j;
	pthread_mutex_lock(&j->lock);
	for (size_t i = 0; i < j->nreaders; i++) {
		if (j->readers[i] == r) {
			j->readers[i] = j->readers[--j->nreaders];
			break;
		}
	}
	pthread_mutex_unlock(&j->lock);
	reader_unmap(r);
	free(r);
}
