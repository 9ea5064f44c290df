/* Unit tests for the on-disk journal: round trips, segments, recovery, cursors, limits, a
 * concurrent reader and the resident memory of the segment mappings. Every test works in its
 * own directory under /tmp and removes it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "cityhub/error.h"
#include "cityhub/log.h"
#include "journal.h"

#define SEG 4096u
#define FIXED 64u /* size on disk of an entry written by append_fixed */
#define SHDR HUB_JOURNAL_SEG_HEADER /* a segment's entry space starts this far into its file */

static char *make_dir(void)
{
	char *d = strdup("/tmp/cityhub-journal-XXXXXX");
	assert_non_null(d);
	assert_non_null(mkdtemp(d));
	return d;
}

static void remove_dir(char *d)
{
	DIR *dp = opendir(d);
	struct dirent *de;
	char path[512];
	assert_non_null(dp);
	while ((de = readdir(dp)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s", d, de->d_name);
		assert_int_equal(unlink(path), 0);
	}
	closedir(dp);
	assert_int_equal(rmdir(d), 0);
	free(d);
}

static void copy_dir(const char *from, const char *to)
{
	DIR *dp = opendir(from);
	struct dirent *de;
	char src[512], dst[512], buf[4096];
	assert_non_null(dp);
	while ((de = readdir(dp)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(src, sizeof(src), "%s/%s", from, de->d_name);
		snprintf(dst, sizeof(dst), "%s/%s", to, de->d_name);
		int in = open(src, O_RDONLY), out = open(dst, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		assert_true(in >= 0 && out >= 0);
		ssize_t n;
		while ((n = read(in, buf, sizeof(buf))) > 0)
			assert_int_equal(write(out, buf, (size_t)n), n);
		close(in);
		close(out);
	}
	closedir(dp);
}

static int file_exists(const char *dir, uint64_t base)
{
	char path[512];
	struct stat st;
	snprintf(path, sizeof(path), "%s/%020" PRIu64 ".seg", dir, base);
	return stat(path, &st) == 0;
}

/* Flips the byte at position at of segment base's entry space. */
static void flip_byte(const char *dir, uint64_t base, off_t at)
{
	char path[512];
	unsigned char c;
	snprintf(path, sizeof(path), "%s/%020" PRIu64 ".seg", dir, base);
	int fd = open(path, O_RDWR);
	assert_true(fd >= 0);
	assert_int_equal(pread(fd, &c, 1, SHDR + at), 1);
	c ^= 0x5a;
	assert_int_equal(pwrite(fd, &c, 1, SHDR + at), 1);
	close(fd);
}

static struct hub_journal_opts opts(const char *dir, uint64_t seg, uint64_t max,
				    enum hub_full_policy policy)
{
	struct hub_journal_opts o = {dir, max, seg, HUB_FSYNC_NONE, 0, policy};
	return o;
}

static struct hub_journal *open_ok(const struct hub_journal_opts *o)
{
	char err[256] = "";
	struct hub_journal *j = hub_journal_open(o, err, sizeof(err));
	if (!j)
		fail_msg("open failed: %s", err);
	return j;
}

/* Appends entry id as exactly FIXED bytes on disk: 11-byte topic, 27-byte payload. */
static int append_fixed(struct hub_journal *j, int id)
{
	char topic[16], payload[32];
	snprintf(topic, sizeof(topic), "city/t/%04d", id % 10000);
	snprintf(payload, sizeof(payload), "p%010d-abcdefghijklmno", id);
	return hub_journal_append(j, (int64_t)id * 1000, topic, strlen(topic), payload,
				  strlen(payload));
}

static void append_fixed_range(struct hub_journal *j, int from, int to)
{
	for (int i = from; i < to; i++)
		assert_int_equal(append_fixed(j, i), HUB_OK);
}

/* Checks that e is the entry append_fixed wrote for some id, and returns the id. */
static int fixed_id(const struct hub_jentry *e)
{
	char topic[16], payload[32], *end;
	assert_true(e->len > 12);
	long id = strtol((const char *)e->payload + 1, &end, 10);
	assert_ptr_equal(end, (const char *)e->payload + 11);
	assert_in_range(id, 0, 99999);
	snprintf(topic, sizeof(topic), "city/t/%04ld", id % 10000);
	snprintf(payload, sizeof(payload), "p%010ld-abcdefghijklmno", id);
	assert_int_equal(e->topic_len, strlen(topic));
	assert_memory_equal(e->topic, topic, e->topic_len + 1);
	assert_int_equal(e->len, strlen(payload));
	assert_memory_equal(e->payload, payload, e->len + 1);
	assert_int_equal(e->recv_ns, (int64_t)id * 1000);
	assert_int_equal(e->next - e->offset, FIXED);
	return (int)id;
}

/* Reads everything from offset; stores the ids in ids[] and returns how many. */
static int read_ids(struct hub_journal *j, uint64_t offset, int *ids, int cap)
{
	struct hub_journal_reader *r = hub_journal_reader_new(j, offset);
	struct hub_jentry e;
	int n = 0, rc;
	assert_non_null(r);
	while ((rc = hub_journal_reader_next(r, &e)) == HUB_OK) {
		assert_true(n < cap);
		ids[n++] = fixed_id(&e);
	}
	assert_int_equal(rc, HUB_EAGAIN);
	hub_journal_reader_free(r);
	return n;
}

static void assert_ids(const int *ids, int n, int from, int to)
{
	assert_int_equal(n, to - from);
	for (int i = 0; i < n; i++)
		assert_int_equal(ids[i], from + i);
}

static void make_payload(int i, uint8_t *p, size_t len)
{
	for (size_t k = 0; k < len; k++)
		p[k] = (uint8_t)((i * 31 + (int)k * 7) & 0xff); /* includes NUL bytes */
}

static void test_round_trip(void **state)
{
	(void)state;
	char *dir = make_dir();
	struct hub_journal_opts o = opts(dir, 1 << 20, 16 << 20, HUB_FULL_BLOCK);
	struct hub_journal *j = open_ok(&o);
	uint8_t buf[512];
	char topic[64];
	for (int i = 0; i < 5000; i++) {
		int tl = snprintf(topic, sizeof(topic), "city/air/d%d/s%d", i % 7, i);
		make_payload(i, buf, (size_t)(i % 301));
		assert_int_equal(hub_journal_append(j, (int64_t)i * 1000 - 5, topic, (size_t)tl,
						    buf, (size_t)(i % 301)),
				 HUB_OK);
	}
	struct hub_journal_reader *r = hub_journal_reader_new(j, 0);
	struct hub_jentry e;
	uint64_t expect_off = 0;
	for (int i = 0; i < 5000; i++) {
		int tl = snprintf(topic, sizeof(topic), "city/air/d%d/s%d", i % 7, i);
		size_t len = (size_t)(i % 301);
		make_payload(i, buf, len);
		assert_int_equal(hub_journal_reader_next(r, &e), HUB_OK);
		assert_int_equal(e.offset, expect_off);
		assert_int_equal(e.next, expect_off + ((24 + (size_t)tl + len + 2 + 7) & ~7u));
		assert_int_equal(e.recv_ns, (int64_t)i * 1000 - 5);
		assert_int_equal(e.topic_len, (size_t)tl);
		assert_memory_equal(e.topic, topic, (size_t)tl + 1);
		assert_int_equal(e.len, len);
		if (len)
			assert_memory_equal(e.payload, buf, len);
		assert_int_equal(e.payload[len], 0);
		expect_off = e.next;
	}
	assert_int_equal(hub_journal_reader_next(r, &e), HUB_EAGAIN);
	assert_int_equal(hub_journal_reader_offset(r), expect_off);
	struct hub_journal_stats st;
	hub_journal_get_stats(j, &st);
	assert_int_equal(st.end_offset, expect_off);
	assert_int_equal(st.first_offset, 0);
	assert_int_equal(st.appended, 5000);
	assert_int_equal(st.segments, 1);
	assert_int_equal(st.bytes, SHDR + (1 << 20));
	hub_journal_reader_free(r);
	hub_journal_close(j);
	remove_dir(dir);
}

/* 64-byte entries fill 4096-byte segments exactly; 72-byte ones leave a 64-byte unused tail
 * and the next segment starts at the next entry's offset. */
static void test_segments(void **state)
{
	(void)state;
	char *dir = make_dir();
	struct hub_journal_opts o = opts(dir, SEG, 1 << 20, HUB_FULL_BLOCK);
	struct hub_journal *j = open_ok(&o);
	static int ids[400];
	append_fixed_range(j, 0, 300);
	struct hub_journal_stats st;
	hub_journal_get_stats(j, &st);
	assert_int_equal(st.segments, 5);
	assert_int_equal(st.end_offset, 300 * FIXED);
	assert_int_equal(st.bytes, 5 * (SHDR + SEG));
	for (uint64_t b = 0; b < 5 * SEG; b += SEG)
		assert_true(file_exists(dir, b));
	assert_ids(ids, read_ids(j, 0, ids, 400), 0, 300);
	/* a reader started in the middle of the third segment */
	assert_ids(ids, read_ids(j, 150 * FIXED, ids, 400), 150, 300);
	hub_journal_close(j);
	remove_dir(dir);

	dir = make_dir();
	o.dir = dir;
	j = open_ok(&o);
	char payload[35];
	memset(payload, 'x', sizeof(payload));
	for (int i = 0; i < 120; i++) /* 24 + 9 + 35 + 2 = 70 -> 72 bytes */
		assert_int_equal(hub_journal_append(j, i, "topic/abc", 9, payload, 35), HUB_OK);
	assert_true(file_exists(dir, 56 * 72));
	assert_true(file_exists(dir, 112 * 72));
	struct hub_journal_reader *r = hub_journal_reader_new(j, 0);
	struct hub_jentry e;
	for (int i = 0; i < 120; i++) {
		assert_int_equal(hub_journal_reader_next(r, &e), HUB_OK);
		assert_int_equal(e.offset, (uint64_t)i * 72);
		assert_int_equal(e.recv_ns, i);
	}
	assert_int_equal(hub_journal_reader_next(r, &e), HUB_EAGAIN);
	hub_journal_reader_free(r);
	hub_journal_close(j);
	remove_dir(dir);
}

static void test_reopen(void **state)
{
	(void)state;
	char *dir = make_dir();
	struct hub_journal_opts o = opts(dir, SEG, 1 << 20, HUB_FULL_BLOCK);
	struct hub_journal *j = open_ok(&o);
	static int ids[400];
	struct hub_journal_stats st;
	append_fixed_range(j, 0, 100);
	hub_journal_close(j);

	j = open_ok(&o);
	hub_journal_get_stats(j, &st);
	assert_int_equal(st.end_offset, 100 * FIXED);
	assert_int_equal(st.appended, 0);
	assert_int_equal(st.corrupt, 0);
	assert_int_equal(st.segments, 2);
	assert_ids(ids, read_ids(j, 0, ids, 400), 0, 100);
	append_fixed_range(j, 100, 150);
	assert_ids(ids, read_ids(j, 0, ids, 400), 0, 150);
	hub_journal_close(j);

	j = open_ok(&o);
	assert_ids(ids, read_ids(j, 0, ids, 400), 0, 150);
	hub_journal_get_stats(j, &st);
	assert_int_equal(st.end_offset, 150 * FIXED);
	hub_journal_close(j);
	remove_dir(dir);
}

static void read_file(const char *dir, const char *name, char *buf, size_t cap)
{
	char path[512];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	int fd = open(path, O_RDONLY);
	assert_true(fd >= 0);
	ssize_t n = read(fd, buf, cap - 1);
	assert_true(n >= 0);
	buf[n] = 0;
	close(fd);
}

static void test_cursors(void **state)
{
	(void)state;
	char *dir = make_dir();
	struct hub_journal_opts o = opts(dir, SEG, 1 << 20, HUB_FULL_BLOCK);
	struct hub_journal *j = open_ok(&o);
	struct hub_journal_stats st;
	uint64_t a, b, c;
	char text[64];
	static int ids[400];
	append_fixed_range(j, 0, 320);
	assert_int_equal(hub_journal_cursor_open(j, "influx-a", &a), HUB_OK);
	assert_int_equal(hub_journal_cursor_open(j, "influx_b", &b), HUB_OK);
	assert_int_equal(a, 0);
	assert_int_equal(b, 0);
	assert_int_equal(hub_journal_cursor_commit(j, "influx-a", 320 * FIXED), HUB_OK);
	hub_journal_get_stats(j, &st);
	assert_int_equal(st.segments, 5); /* the slower cursor still needs them */
	assert_true(file_exists(dir, 0));
	assert_int_equal(hub_journal_cursor_commit(j, "influx_b", 130 * FIXED), HUB_OK);
	hub_journal_get_stats(j, &st);
	assert_int_equal(st.segments, 3);
	assert_int_equal(st.first_offset, 2 * SEG);
	assert_int_equal(st.bytes, 3 * (SHDR + SEG));
	assert_false(file_exists(dir, 0));
	assert_false(file_exists(dir, SEG));
	assert_true(file_exists(dir, 2 * SEG));
	read_file(dir, "cursor.influx_b", text, sizeof(text));
	assert_string_equal(text, "8320\n");
	assert_int_equal(hub_journal_cursor_commit(j, "nobody", 0), HUB_ENOENT);
	assert_int_equal(hub_journal_cursor_commit(j, "influx-a", 321 * FIXED), HUB_EINVAL);
	assert_int_equal(hub_journal_cursor_open(j, "../evil", &c), HUB_EINVAL);
	assert_int_equal(hub_journal_cursor_open(j, "", &c), HUB_EINVAL);
	hub_journal_close(j);

	j = open_ok(&o);
	assert_int_equal(hub_journal_cursor_open(j, "influx-a", &a), HUB_OK);
	assert_int_equal(hub_journal_cursor_open(j, "influx_b", &b), HUB_OK);
	assert_int_equal(hub_journal_cursor_open(j, "late", &c), HUB_OK);
	assert_int_equal(a, 320 * FIXED);
	assert_int_equal(b, 130 * FIXED);
	assert_int_equal(c, 2 * SEG);
	assert_ids(ids, read_ids(j, b, ids, 400), 130, 320);
	/* "late" now holds everything from 8192 back; the others moving on deletes nothing */
	assert_int_equal(hub_journal_cursor_commit(j, "influx_b", 320 * FIXED), HUB_OK);
	hub_journal_get_stats(j, &st);
	assert_int_equal(st.segments, 3);
	assert_int_equal(hub_journal_cursor_commit(j, "late", 320 * FIXED), HUB_OK);
	hub_journal_get_stats(j, &st);
	assert_int_equal(st.segments, 1);
	assert_int_equal(st.first_offset, 4 * SEG);
	hub_journal_close(j);
	remove_dir(dir);
}

static int log_contains(FILE *fp, const char *needle)
{
	char line[1024];
	int found = 0;
	rewind(fp);
	while (fgets(line, sizeof(line), fp))
		if (strstr(line, needle))
			found = 1;
	return found;
}

/* Checks that segment base has SEG bytes of entry space, zero from pos on (the cut tail). */
static void assert_cut(const char *dir, uint64_t base, uint64_t pos)
{
	char path[512];
	static uint8_t buf[SEG];
	struct stat st;
	snprintf(path, sizeof(path), "%s/%020" PRIu64 ".seg", dir, base);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_size, SHDR + SEG);
	int fd = open(path, O_RDONLY);
	assert_true(fd >= 0);
	assert_int_equal(pread(fd, buf, SEG, SHDR), SEG);
	close(fd);
	for (uint64_t i = pos; i < SEG; i++)
		assert_int_equal(buf[i], 0);
	assert_int_not_equal(buf[pos - 1] | buf[0], 0);
}

/* Reopens a damaged copy; expects one corrupt entry, ids [0, keep) plus [from2, to2) readable,
 * the log naming bad_off, and new appends readable after the cut. */
static void check_damaged(const char *dir, uint64_t bad_off, int keep, int from2, int to2)
{
	struct hub_journal_opts o = opts(dir, SEG, 1 << 20, HUB_FULL_BLOCK);
	static int ids[400];
	char needle[64];
	FILE *log = tmpfile();
	assert_non_null(log);
	hub_log_set_stream(log);
	struct hub_journal *j = open_ok(&o);
	hub_log_set_stream(NULL);
	snprintf(needle, sizeof(needle), "offset=%" PRIu64 " ", bad_off);
	assert_true(log_contains(log, needle));
	fclose(log);
	assert_cut(dir, bad_off - bad_off % SEG, bad_off % SEG);
	struct hub_journal_stats st;
	hub_journal_get_stats(j, &st);
	assert_int_equal(st.corrupt, 1);
	int n = read_ids(j, 0, ids, 400);
	assert_int_equal(n, keep + to2 - from2);
	assert_ids(ids, keep, 0, keep);
	assert_ids(ids + keep, n - keep, from2, to2);
	append_fixed_range(j, 1000, 1005);
	n = read_ids(j, 0, ids, 400);
	assert_int_equal(n, keep + to2 - from2 + 5);
	assert_ids(ids + n - 5, 5, 1000, 1005);
	hub_journal_close(j);
	/* the cut is permanent: a second open finds nothing damaged */
	j = open_ok(&o);
	hub_journal_get_stats(j, &st);
	assert_int_equal(st.corrupt, 0);
	assert_int_equal(read_ids(j, 0, ids, 400), keep + to2 - from2 + 5);
	hub_journal_close(j);
}

static void test_torn_tail(void **state)
{
	(void)state;
	char *a = make_dir(), *b = make_dir(), *c = make_dir();
	struct hub_journal_opts o = opts(a, SEG, 1 << 20, HUB_FULL_BLOCK);
	struct hub_journal *j = open_ok(&o);
	append_fixed_range(j, 0, 100); /* ids 0..63 in segment 0, 64..99 in segment 4096 */
	hub_journal_close(j);
	copy_dir(a, b);
	copy_dir(a, c);

	/* a: the newest file cut in the middle of entry 90 */
	char path[512];
	snprintf(path, sizeof(path), "%s/%020u.seg", a, SEG);
	assert_int_equal(truncate(path, SHDR + (90 - 64) * FIXED + 30), 0);
	check_damaged(a, SEG + (90 - 64) * FIXED, 90, 0, 0);

	/* b: a payload byte of entry 95 flipped */
	flip_byte(b, SEG, (95 - 64) * FIXED + 40);
	check_damaged(b, SEG + (95 - 64) * FIXED, 95, 0, 0);

	/* c: entry 10 of the older segment damaged: the rest of that segment is cut, the
	 * newer segment stays readable */
	flip_byte(c, 0, 10 * FIXED + 30);
	check_damaged(c, 10 * FIXED, 10, 64, 100);
	remove_dir(a);
	remove_dir(b);
	remove_dir(c);
}

static void test_drop_oldest(void **state)
{
	(void)state;
	char *dir = make_dir();
	struct hub_journal_opts o = opts(dir, SEG, 3 * (SHDR + SEG), HUB_FULL_DROP_OLDEST);
	struct hub_journal *j = open_ok(&o);
	struct hub_journal_stats st;
	struct hub_jentry e;
	static int ids[400];
	append_fixed_range(j, 0, 100);
	struct hub_journal_reader *r = hub_journal_reader_new(j, 0);
	for (int i = 0; i < 10; i++) {
		assert_int_equal(hub_journal_reader_next(r, &e), HUB_OK);
		assert_int_equal(fixed_id(&e), i);
	}
	append_fixed_range(j, 100, 320); /* segments 3 and 4 push out 0 and 1 */
	hub_journal_get_stats(j, &st);
	assert_int_equal(st.dropped, 128);
	assert_int_equal(st.segments, 3);
	assert_int_equal(st.bytes, 3 * (SHDR + SEG));
	assert_int_equal(st.first_offset, 2 * SEG);
	assert_false(file_exists(dir, 0));
	assert_false(file_exists(dir, SEG));
	/* the reader inside the dropped segment skips to the oldest retained entry */
	assert_int_equal(hub_journal_reader_next(r, &e), HUB_OK);
	assert_int_equal(fixed_id(&e), 128);
	hub_journal_reader_free(r);
	int n = read_ids(j, 0, ids, 400);
	assert_int_equal(n, 320 - (int)st.dropped);
	assert_ids(ids, n, 128, 320);
	hub_journal_close(j);
	remove_dir(dir);

	/* a cursor that consumed 10 entries: only the 118 it never saw count as dropped */
	dir = make_dir();
	o.dir = dir;
	j = open_ok(&o);
	uint64_t off;
	assert_int_equal(hub_journal_cursor_open(j, "sink", &off), HUB_OK);
	append_fixed_range(j, 0, 20);
	assert_int_equal(hub_journal_cursor_commit(j, "sink", 10 * FIXED), HUB_OK);
	append_fixed_range(j, 20, 320);
	hub_journal_get_stats(j, &st);
	assert_int_equal(st.dropped, 118);
	n = read_ids(j, 10 * FIXED, ids, 400);
	assert_int_equal(n, 310 - 118);
	assert_ids(ids, n, 128, 320);
	hub_journal_close(j);
	remove_dir(dir);
}

struct appender {
	struct hub_journal *j;
	int id;
	int rc;
	atomic_int done;
};

static void *append_thread(void *arg)
{
	struct appender *a = arg;
	a->rc = append_fixed(a->j, a->id);
	atomic_store(&a->done, 1);
	return NULL;
}

/* Waits (without timing assertions) until an append has started waiting for space. */
static void wait_full_waits(struct hub_journal *j, uint64_t n)
{
	struct hub_journal_stats st;
	for (int i = 0; i < 30000; i++) {
		hub_journal_get_stats(j, &st);
		if (st.full_waits == n)
			return;
		usleep(1000);
	}
	fail_msg("append never blocked");
}

static void test_block(void **state)
{
	(void)state;
	char *dir = make_dir();
	struct hub_journal_opts o = opts(dir, SEG, 2 * (SHDR + SEG), HUB_FULL_BLOCK);
	struct hub_journal *j = open_ok(&o);
	struct hub_journal_stats st;
	uint64_t off;
	static int ids[400];
	assert_int_equal(hub_journal_cursor_open(j, "sink", &off), HUB_OK);
	append_fixed_range(j, 0, 128); /* both segments full */
	/* a consumer's own derived entry is refused at once rather than waiting on its cursor */
	assert_int_equal(hub_journal_append_nowait(j, 0, "d", 1, "x", 1), HUB_EFULL);
	struct appender a = {j, 128, 1, 0};
	pthread_t t;
	assert_int_equal(pthread_create(&t, NULL, append_thread, &a), 0);
	wait_full_waits(j, 1);
	assert_int_equal(atomic_load(&a.done), 0);
	assert_int_equal(hub_journal_cursor_commit(j, "sink", 64 * FIXED), HUB_OK);
	pthread_join(t, NULL);
	assert_int_equal(a.rc, HUB_OK);
	hub_journal_get_stats(j, &st);
	assert_int_equal(st.segments, 2);
	assert_int_equal(st.first_offset, SEG);
	assert_int_equal(st.dropped, 0);
	assert_ids(ids, read_ids(j, 0, ids, 400), 64, 129);

	append_fixed_range(j, 129, 192);
	struct appender b = {j, 192, 1, 0};
	assert_int_equal(pthread_create(&t, NULL, append_thread, &b), 0);
	wait_full_waits(j, 2);
	hub_journal_stop(j);
	pthread_join(t, NULL);
	assert_int_equal(b.rc, HUB_ESTOP);
	hub_journal_get_stats(j, &st);
	assert_int_equal(st.appended, 192);
	assert_int_equal(hub_journal_wait(j, st.end_offset, 1000), HUB_ESTOP);
	assert_int_equal(hub_journal_wait(j, 0, 1000), HUB_OK);
	hub_journal_close(j);
	remove_dir(dir);
}

#define NCONC 100000

static void *writer_thread(void *arg)
{
	struct appender *a = arg;
	uint8_t buf[256];
	char topic[32];
	a->rc = HUB_OK;
	for (int i = 0; i < NCONC && a->rc == HUB_OK; i++) {
		int tl = snprintf(topic, sizeof(topic), "c/%d", i);
		size_t len = sizeof(int) + (size_t)(i % 200);
		memcpy(buf, &i, sizeof(int));
		make_payload(i, buf + sizeof(int), len - sizeof(int));
		a->rc = hub_journal_append(a->j, i, topic, (size_t)tl, buf, len);
	}
	atomic_store(&a->done, 1);
	return NULL;
}

/* Reads next entry and checks it is number i; returns 0 on mismatch. */
static int check_conc(const struct hub_jentry *e, int i)
{
	uint8_t buf[256];
	char topic[32];
	int tl = snprintf(topic, sizeof(topic), "c/%d", i), id;
	size_t len = sizeof(int) + (size_t)(i % 200);
	if (e->len != len || e->topic_len != (size_t)tl || memcmp(e->topic, topic, (size_t)tl))
		return 0;
	memcpy(&id, e->payload, sizeof(int));
	make_payload(i, buf, len - sizeof(int));
	return id == i && e->recv_ns == i && memcmp(e->payload + sizeof(int), buf, len - 4) == 0;
}

static void test_concurrent_reader(void **state)
{
	(void)state;
	char *dir = make_dir();
	struct hub_journal_opts o = opts(dir, 64 << 10, 64 << 20, HUB_FULL_BLOCK);
	struct hub_journal *j = open_ok(&o);
	struct hub_journal_reader *r = hub_journal_reader_new(j, 0);
	struct appender w = {j, 0, 1, 0};
	pthread_t t;
	struct hub_jentry e;
	int seen = 0, bad = 0, rc;
	assert_int_equal(pthread_create(&t, NULL, writer_thread, &w), 0);
	while (seen < NCONC && !bad) {
		rc = hub_journal_reader_next(r, &e);
		if (rc == HUB_EAGAIN) {
			rc = hub_journal_wait(j, hub_journal_reader_offset(r), 10000);
			bad = rc != HUB_OK;
			continue;
		}
		bad = rc != HUB_OK || !check_conc(&e, seen);
		seen++;
	}
	pthread_join(t, NULL);
	assert_int_equal(w.rc, HUB_OK);
	assert_int_equal(bad, 0);
	assert_int_equal(seen, NCONC);
	assert_int_equal(hub_journal_reader_next(r, &e), HUB_EAGAIN);
	struct hub_journal_stats st;
	hub_journal_get_stats(j, &st);
	assert_int_equal(hub_journal_reader_offset(r), st.end_offset);
	assert_true(st.segments > 100);
	hub_journal_reader_free(r);
	hub_journal_close(j);
	remove_dir(dir);
}

static void test_too_large(void **state)
{
	(void)state;
	char *dir = make_dir();
	struct hub_journal_opts o = opts(dir, SEG, 4 * SEG, HUB_FULL_BLOCK);
	struct hub_journal *j = open_ok(&o);
	static uint8_t big[SEG];
	memset(big, 'b', sizeof(big));
	assert_int_equal(hub_journal_append(j, 1, "t", 1, big, SEG), HUB_EINVAL);
	assert_int_equal(hub_journal_append(j, 1, "t", 1, big, SEG - 26), HUB_EINVAL);
	assert_int_equal(hub_journal_append(j, 1, NULL, 3, big, 1), HUB_EINVAL);
	assert_int_equal(hub_journal_append(j, 1, "t", 1, NULL, 1), HUB_EINVAL);
	assert_int_equal(hub_journal_append(j, 1, "a", 1, "x", 1), HUB_OK);
	/* exactly one segment: 24 + 1 + 1 + 4069 + 1 = 4096; it goes to a new segment */
	assert_int_equal(hub_journal_append(j, 2, "t", 1, big, SEG - 27), HUB_OK);
	struct hub_journal_reader *r = hub_journal_reader_new(j, 0);
	struct hub_jentry e;
	assert_int_equal(hub_journal_reader_next(r, &e), HUB_OK);
	assert_int_equal(e.len, 1);
	assert_int_equal(hub_journal_reader_next(r, &e), HUB_OK);
	assert_int_equal(e.offset, 32);
	assert_int_equal(e.next, 32 + SEG);
	assert_int_equal(e.len, SEG - 27);
	assert_memory_equal(e.payload, big, e.len);
	assert_int_equal(hub_journal_reader_next(r, &e), HUB_EAGAIN);
	hub_journal_reader_free(r);
	assert_true(file_exists(dir, 32));
	hub_journal_close(j);
	remove_dir(dir);
}

static void test_open_errors(void **state)
{
	(void)state;
	char *dir = make_dir();
	char err[256];
	struct hub_journal_opts o = opts(dir, 100, 1 << 20, HUB_FULL_BLOCK);
	err[0] = 0;
	assert_null(hub_journal_open(&o, err, sizeof(err)));
	assert_non_null(strstr(err, "segment_bytes"));
	o = opts(dir, SEG, SEG, HUB_FULL_BLOCK);
	assert_null(hub_journal_open(&o, err, sizeof(err)));
	assert_non_null(strstr(err, "max_bytes"));
	o = opts(dir, SEG, 4 * SEG, HUB_FULL_BLOCK);
	o.fsync = HUB_FSYNC_INTERVAL;
	assert_null(hub_journal_open(&o, err, sizeof(err)));
	assert_non_null(strstr(err, "fsync_interval_ms"));
	o.fsync = HUB_FSYNC_NONE;
	struct hub_journal *j = open_ok(&o);
	err[0] = 0;
	assert_null(hub_journal_open(&o, err, sizeof(err)));
	assert_non_null(strstr(err, "in use"));
	hub_journal_close(j);
	hub_journal_close(NULL);
	remove_dir(dir);
}

static void fsync_mode(enum hub_fsync mode)
{
	char *dir = make_dir();
	struct hub_journal_opts o = opts(dir, SEG, 1 << 20, HUB_FULL_BLOCK);
	static int ids[400];
	o.fsync = mode;
	o.fsync_interval_ms = 2;
	struct hub_journal *j = open_ok(&o);
	for (int i = 0; i < 200; i++) {
		assert_int_equal(append_fixed(j, i), HUB_OK);
		if (i % 50 == 0)
			usleep(5000); /* lets the interval thread run between appends */
	}
	assert_int_equal(hub_journal_sync(j), HUB_OK);
	uint64_t off;
	assert_int_equal(hub_journal_cursor_open(j, "s", &off), HUB_OK);
	assert_int_equal(hub_journal_cursor_commit(j, "s", 70 * FIXED), HUB_OK);
	hub_journal_close(j);
	j = open_ok(&o);
	assert_ids(ids, read_ids(j, 0, ids, 400), 64, 200);
	hub_journal_close(j);
	remove_dir(dir);
}

static void test_fsync_modes(void **state)
{
	(void)state;
	fsync_mode(HUB_FSYNC_ALWAYS);
	fsync_mode(HUB_FSYNC_INTERVAL);
	fsync_mode(HUB_FSYNC_NONE);
}

static void *late_append(void *arg)
{
	struct appender *a = arg;
	usleep(20000);
	a->rc = append_fixed(a->j, a->id);
	return NULL;
}

static void test_wait(void **state)
{
	(void)state;
	char *dir = make_dir();
	struct hub_journal_opts o = opts(dir, SEG, 4 * SEG, HUB_FULL_BLOCK);
	struct hub_journal *j = open_ok(&o);
	assert_int_equal(hub_journal_wait(j, 0, 0), HUB_EAGAIN);
	assert_int_equal(hub_journal_wait(j, 0, 10), HUB_EAGAIN);
	struct appender a = {j, 7, 1, 0};
	pthread_t t;
	assert_int_equal(pthread_create(&t, NULL, late_append, &a), 0);
	assert_int_equal(hub_journal_wait(j, 0, -1), HUB_OK);
	pthread_join(t, NULL);
	assert_int_equal(a.rc, HUB_OK);
	assert_int_equal(hub_journal_wait(j, FIXED - 1, 0), HUB_OK);
	assert_int_equal(hub_journal_wait(j, FIXED, 0), HUB_EAGAIN);
	hub_journal_stop(j);
	assert_int_equal(hub_journal_wait(j, FIXED, -1), HUB_ESTOP);
	hub_journal_close(j);
	remove_dir(dir);
}

/* All segments deleted by hand: a fresh segment starts where the cursors were. */
static void test_emptied_dir(void **state)
{
	(void)state;
	char *dir = make_dir();
	struct hub_journal_opts o = opts(dir, SEG, 1 << 20, HUB_FULL_BLOCK);
	struct hub_journal *j = open_ok(&o);
	uint64_t off;
	append_fixed_range(j, 0, 100);
	assert_int_equal(hub_journal_cursor_open(j, "s", &off), HUB_OK);
	assert_int_equal(hub_journal_cursor_commit(j, "s", 100 * FIXED), HUB_OK);
	hub_journal_close(j);
	char path[512];
	snprintf(path, sizeof(path), "%s/%020u.seg", dir, SEG);
	assert_int_equal(unlink(path), 0);
	j = open_ok(&o);
	struct hub_journal_stats st;
	hub_journal_get_stats(j, &st);
	assert_int_equal(st.first_offset, 100 * FIXED);
	assert_int_equal(st.end_offset, 100 * FIXED);
	append_fixed_range(j, 100, 101);
	static int ids[4];
	assert_ids(ids, read_ids(j, 0, ids, 4), 100, 101);
	hub_journal_close(j);
	remove_dir(dir);
}

/* Writes 4 bytes at position at of the segment file at base (at counts from the file start). */
static void put_u32(const char *dir, uint64_t base, off_t at, uint32_t v)
{
	char path[512];
	snprintf(path, sizeof(path), "%s/%020" PRIu64 ".seg", dir, base);
	int fd = open(path, O_RDWR);
	assert_true(fd >= 0);
	assert_int_equal(pwrite(fd, &v, 4, at), 4);
	close(fd);
}

/* Returns the whole segment file at base (malloc'd, *len bytes). */
static uint8_t *slurp_seg(const char *dir, uint64_t base, size_t *len)
{
	char path[512];
	struct stat st;
	snprintf(path, sizeof(path), "%s/%020" PRIu64 ".seg", dir, base);
	assert_int_equal(stat(path, &st), 0);
	uint8_t *buf = malloc((size_t)st.st_size);
	assert_non_null(buf);
	int fd = open(path, O_RDONLY);
	assert_true(fd >= 0);
	assert_int_equal(read(fd, buf, (size_t)st.st_size), st.st_size);
	close(fd);
	*len = (size_t)st.st_size;
	return buf;
}

/* Opening must fail with a message holding every one of needles; the file stays as it was. */
static void assert_refused(const char *dir, const char *const *needles)
{
	struct hub_journal_opts o = opts(dir, SEG, 1 << 20, HUB_FULL_BLOCK);
	char err[512] = "";
	size_t before_len, after_len;
	uint8_t *before = slurp_seg(dir, 0, &before_len);
	assert_null(hub_journal_open(&o, err, sizeof(err)));
	print_message("refused: %s\n", err);
	for (; *needles; needles++)
		if (!strstr(err, *needles))
			fail_msg("'%s' not in: %s", *needles, err);
	uint8_t *after = slurp_seg(dir, 0, &after_len);
	assert_int_equal(after_len, before_len);
	assert_memory_equal(after, before, before_len);
	assert_false(file_exists(dir, 10 * FIXED));
	free(before);
	free(after);
}

/* Segment files carry magic "CHJS" and the format version; another version is refused with
 * the file and both versions named, and nothing is changed (a newer hub's journal must not be
 * cut as damage by an older one). */
static void test_format_version(void **state)
{
	(void)state;
	char *dir = make_dir();
	struct hub_journal_opts o = opts(dir, SEG, 1 << 20, HUB_FULL_BLOCK);
	struct hub_journal *j = open_ok(&o);
	static int ids[16];
	append_fixed_range(j, 0, 10);
	hub_journal_close(j);
	size_t len;
	uint8_t *file = slurp_seg(dir, 0, &len);
	assert_int_equal(len, SHDR + SEG);
	assert_memory_equal(file, "CHJS", 4);
	uint32_t version;
	memcpy(&version, file + 4, 4);
	assert_int_equal(version, HUB_JOURNAL_FORMAT);
	assert_int_equal(HUB_JOURNAL_FORMAT, 1);
	free(file);

	char path[512];
	snprintf(path, sizeof(path), "%s/00000000000000000000.seg", dir);
	put_u32(dir, 0, 4, 99);
	assert_refused(dir, (const char *const[]){path, "format version 99",
						  "this cityhub reads version 1", NULL});
	/* the format before versions: an entry where the header goes */
	put_u32(dir, 0, 0, 0x4c4e524aU);
	assert_refused(dir, (const char *const[]){path, "format version 0",
						  "this cityhub reads version 1", NULL});
	put_u32(dir, 0, 0, 0xdeadbeefU);
	assert_refused(dir, (const char *const[]){path, "not a cityhub journal segment", NULL});

	/* put back, the journal is whole again */
	memcpy(&version, "CHJS", 4);
	put_u32(dir, 0, 0, version);
	put_u32(dir, 0, 4, HUB_JOURNAL_FORMAT);
	j = open_ok(&o);
	assert_ids(ids, read_ids(j, 0, ids, 16), 0, 10);
	hub_journal_close(j);
	remove_dir(dir);
}

/* A segment file left empty by a crash while it was being created gets its header on open. */
static void test_header_of_interrupted_create(void **state)
{
	(void)state;
	char *dir = make_dir();
	char path[512];
	snprintf(path, sizeof(path), "%s/00000000000000000000.seg", dir);
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0644);
	assert_true(fd >= 0);
	close(fd);
	struct hub_journal_opts o = opts(dir, SEG, 1 << 20, HUB_FULL_BLOCK);
	struct hub_journal *j = open_ok(&o);
	static int ids[16];
	append_fixed_range(j, 0, 3);
	hub_journal_close(j);
	size_t len;
	uint8_t *file = slurp_seg(dir, 0, &len);
	assert_int_equal(len, SHDR + SEG);
	assert_memory_equal(file, "CHJS", 4);
	free(file);
	j = open_ok(&o);
	assert_ids(ids, read_ids(j, 0, ids, 16), 0, 3);
	hub_journal_close(j);
	remove_dir(dir);
}

/* ---- resident memory of the mappings ---- */

#define BIG_SEG (16u << 20)
#define RSS_BOUND_KB 4096L
#define HUGE_EVERY 997
#define HUGE_LEN (300u << 10)

/* Rss in kB summed over this process's mappings of path whose permissions start with perms
 * ("rw" is the writer's, "r-" a reader's); -1 when there is no such mapping. */
static long mapping_rss_kb(const char *path, const char *perms)
{
	FILE *f = fopen("/proc/self/smaps", "r");
	char line[1024];
	long sum = -1, kb;
	int in = 0;
	assert_non_null(f);
	while (fgets(line, sizeof(line), f)) {
		unsigned long lo, hi;
		char p[8];
		int n = 0;
		if (sscanf(line, "%lx-%lx %7s %*s %*s %*s %n", &lo, &hi, p, &n) == 3 && n > 0) {
			line[strcspn(line, "\n")] = 0;
			in = strcmp(line + n, path) == 0 && strncmp(p, perms, 2) == 0;
			if (in && sum < 0)
				sum = 0;
		} else if (in && sscanf(line, "Rss: %ld kB", &kb) == 1) {
			sum += kb;
		}
	}
	fclose(f);
	return sum;
}

/* Tracks the largest Rss seen for one mapping of a segment file. */
struct rss_watch {
	char path[512];
	const char *perms;
	long max_kb;
};

static void rss_watch_init(struct rss_watch *w, const char *dir, uint64_t base, const char *perms)
{
	snprintf(w->path, sizeof(w->path), "%s/%020" PRIu64 ".seg", dir, base);
	w->perms = perms;
	w->max_kb = -1;
}

static void rss_sample(struct rss_watch *w)
{
	long kb = mapping_rss_kb(w->path, w->perms);
	assert_true(kb >= 0); /* the mapping exists */
	if (kb > w->max_kb)
		w->max_kb = kb;
}

static size_t big_len(int i)
{
	return i % HUGE_EVERY == HUGE_EVERY - 1 ? HUGE_LEN : 500 + (size_t)(i * 37 % 2500);
}

/* Appends entries of big_len() bytes until the journal holds at least bytes; returns how
 * many. Entries span pages and 1 MiB steps; the writer's Rss is sampled along the way. */
static int append_big(struct hub_journal *j, uint64_t bytes, uint8_t *buf, struct rss_watch *w)
{
	struct hub_journal_stats st;
	char topic[32];
	int n = 0;
	do {
		int tl = snprintf(topic, sizeof(topic), "rss/%d", n);
		make_payload(n, buf, big_len(n));
		assert_int_equal(hub_journal_append(j, n, topic, (size_t)tl, buf, big_len(n)),
				 HUB_OK);
		if (++n % 128 == 0)
			rss_sample(w);
		hub_journal_get_stats(j, &st);
	} while (st.end_offset < bytes);
	rss_sample(w);
	return n;
}

/* Reads entries from..to-1 with a reader at offset, checking each one's content; samples
 * the reader's Rss. */
static void read_big(struct hub_journal *j, uint64_t offset, int from, int to, uint8_t *buf,
		     struct rss_watch *w)
{
	struct hub_journal_reader *r = hub_journal_reader_new(j, offset);
	struct hub_jentry e;
	char topic[32];
	for (int i = from; i < to; i++) {
		int tl = snprintf(topic, sizeof(topic), "rss/%d", i);
		assert_int_equal(hub_journal_reader_next(r, &e), HUB_OK);
		assert_int_equal(e.recv_ns, i);
		assert_int_equal(e.topic_len, (size_t)tl);
		assert_memory_equal(e.topic, topic, (size_t)tl + 1);
		assert_int_equal(e.len, big_len(i));
		make_payload(i, buf, e.len);
		assert_memory_equal(e.payload, buf, e.len);
		assert_int_equal(e.payload[e.len], 0);
		if (i % 128 == 0)
			rss_sample(w);
	}
	rss_sample(w);
	assert_int_equal(hub_journal_reader_next(r, &e), HUB_EAGAIN);
	hub_journal_reader_free(r);
}

/* 10 MiB in one 16 MiB segment: the writer's and a reader's mapping stay resident below
 * RSS_BOUND_KB while appending, reading, and after a reopen's recovery scan. */
static void test_bounded_rss(void **state)
{
	(void)state;
	char *dir = make_dir();
	struct hub_journal_opts o = opts(dir, BIG_SEG, 4 * BIG_SEG, HUB_FULL_BLOCK);
	o.fsync = HUB_FSYNC_INTERVAL; /* syncs run while the writer gives pages back */
	o.fsync_interval_ms = 5;
	struct hub_journal *j = open_ok(&o);
	uint8_t *buf = malloc(HUGE_LEN);
	struct rss_watch wr, rd;
	struct hub_journal_stats st;
	assert_non_null(buf);
	rss_watch_init(&wr, dir, 0, "rw");
	rss_watch_init(&rd, dir, 0, "r-");
	int n = append_big(j, 10u << 20, buf, &wr);
	read_big(j, 0, 0, n, buf, &rd);
	rss_sample(&wr);
	hub_journal_get_stats(j, &st);
	assert_int_equal(st.segments, 1);
	print_message("segment 16 MiB, %" PRIu64 " bytes, %d entries: max Rss writer %ld kB, "
		      "reader %ld kB\n",
		      st.end_offset, n, wr.max_kb, rd.max_kb);
	assert_true(wr.max_kb < RSS_BOUND_KB);
	assert_true(rd.max_kb < RSS_BOUND_KB);
	hub_journal_close(j);

	j = open_ok(&o); /* recovery walks the whole segment through the writer's mapping */
	wr.max_kb = rd.max_kb = -1;
	rss_sample(&wr);
	read_big(j, 0, 0, n, buf, &rd);
	print_message("after reopen: Rss writer %ld kB, reader %ld kB\n", wr.max_kb, rd.max_kb);
	assert_true(wr.max_kb < RSS_BOUND_KB);
	assert_true(rd.max_kb < RSS_BOUND_KB);
	hub_journal_close(j);
	free(buf);
	remove_dir(dir);
}

/* Pages of the segment file in the page cache among the first len bytes. */
static size_t cached_pages(const char *path, size_t len)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE), n = 0;
	unsigned char *vec = malloc(len / page);
	int fd = open(path, O_RDONLY);
	assert_true(fd >= 0 && vec);
	void *m = mmap(NULL, len, PROT_READ, MAP_SHARED, fd, 0);
	assert_true(m != MAP_FAILED);
	assert_int_equal(mincore(m, len, vec), 0);
	for (size_t i = 0; i < len / page; i++)
		n += vec[i] & 1;
	munmap(m, len);
	close(fd);
	free(vec);
	return n;
}

/* The pages the writer gave back were dirty: the sync still writes them. After the sync the
 * clean pages are evicted (possible only because no mapping holds them any more), so the
 * reader below reads them back from the disk. */
static void test_released_pages_reach_disk(void **state)
{
	(void)state;
	char *dir = make_dir();
	struct hub_journal_opts o = opts(dir, BIG_SEG, 4 * BIG_SEG, HUB_FULL_BLOCK);
	struct hub_journal *j = open_ok(&o);
	uint8_t *buf = malloc(HUGE_LEN);
	struct rss_watch wr, rd;
	struct statfs fs;
	assert_non_null(buf);
	rss_watch_init(&wr, dir, 0, "rw");
	rss_watch_init(&rd, dir, 0, "r-");
	int n = append_big(j, 4u << 20, buf, &wr);
	assert_int_equal(hub_journal_sync(j), HUB_OK);
	int fd = open(wr.path, O_RDONLY);
	assert_true(fd >= 0);
	assert_int_equal(posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED), 0);
	close(fd);
	size_t left = cached_pages(wr.path, 2u << 20), all = (2u << 20) / 4096;
	assert_int_equal(statfs(dir, &fs), 0);
	print_message("first 2 MiB after sync and eviction: %zu pages still cached\n", left);
	if (fs.f_type != 0x01021994) /* tmpfs keeps its pages: there is no disk to read from */
		assert_true(left < all / 2);
	read_big(j, 0, 0, n, buf, &rd);
	hub_journal_close(j);
	free(buf);
	remove_dir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_segments),
		cmocka_unit_test(test_reopen),
		cmocka_unit_test(test_cursors),
		cmocka_unit_test(test_torn_tail),
		cmocka_unit_test(test_drop_oldest),
		cmocka_unit_test(test_block),
		cmocka_unit_test(test_concurrent_reader),
		cmocka_unit_test(test_too_large),
		cmocka_unit_test(test_open_errors),
		cmocka_unit_test(test_fsync_modes),
		cmocka_unit_test(test_wait),
		cmocka_unit_test(test_emptied_dir),
		cmocka_unit_test(test_format_version),
		cmocka_unit_test(test_header_of_interrupted_create),
		cmocka_unit_test(test_bounded_rss),
		cmocka_unit_test(test_released_pages_reach_disk),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
