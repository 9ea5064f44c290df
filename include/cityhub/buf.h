/* A growable byte buffer. Owned by whoever embeds it; free with hub_buf_fini(). */
#ifndef HUB_BUF_H
#define HUB_BUF_H

#include <stddef.h>
#include <time.h>

struct hub_buf {
	char *data; /* always NUL-terminated when len > 0 or after any append */
	size_t len;
	size_t cap;
};

/* Makes room for n more bytes (aborts on allocation failure). */
void hub_buf_reserve(struct hub_buf *b, size_t n);
/* Appends n bytes. */
void hub_buf_append(struct hub_buf *b, const void *p, size_t n);
/* Appends a NUL-terminated string. */
void hub_buf_puts(struct hub_buf *b, const char *s);
/* Appends printf-formatted text. */
void hub_buf_printf(struct hub_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Empties the buffer, keeping its memory. */
void hub_buf_clear(struct hub_buf *b);
/* Cuts the buffer back to its first len bytes (len <= b->len), keeping its memory. */
void hub_buf_truncate(struct hub_buf *b, size_t len);
/* Frees the memory; the buffer is then empty and reusable. */
void hub_buf_fini(struct hub_buf *b);

/* malloc/calloc/realloc/strdup that abort on failure. */
void *hub_xmalloc(size_t n);
void *hub_xcalloc(size_t n, size_t size);
void *hub_xrealloc(void *p, size_t n);
char *hub_xstrdup(const char *s);

/* Fills *ts with the time ms milliseconds from now on clock (for timed waits). */
void hub_deadline(struct timespec *ts, clockid_t clock, long long ms);

/* Returns the monotonic clock in ms / the real-time clock in ns. */
long long hub_now_mono_ms(void);
long long hub_now_real_ns(void);

#endif
