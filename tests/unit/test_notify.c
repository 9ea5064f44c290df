/* Notifiers: SHA-256 and HMAC-SHA256 against FIPS 180-4 / RFC 4231 vectors; the runtime (queue
 * bound, watermark across a restart, backoff, refusals) with a recording ops table; MQTT topics
 * and publishes through a recording publish function; the Alertmanager alert layout. The HTTP
 * notifiers meet real receivers in tests/integration/test_notify.py. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <ftw.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cityhub/buf.h"
#include "cityhub/error.h"
#include "metrics.h"
#include "notify/internal.h"
#include "notify/notify.h"
#include "notify/sha256.h"

/* ---- SHA-256 and HMAC ---- */

static void hex_of(const uint8_t *d, char *hex)
{
	hub_sha256_hex(d, hex);
}

static void test_sha256_vectors(void **st)
{
	(void)st;
	static const struct {
		const char *msg, *hex;
	} v[] = {
	    /* FIPS 180-4 examples (NIST CSRC) and the empty message. */
	    {"", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
	    {"abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
	    {"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
	     "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"},
	    {"abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklm"
	     "nopqrlmnopqrsmnopqrstnopqrstu",
	     "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1"},
	};
	uint8_t d[HUB_SHA256_LEN];
	char hex[65];
	for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
		hub_sha256(v[i].msg, strlen(v[i].msg), d);
		hex_of(d, hex);
		assert_string_equal(hex, v[i].hex);
	}
	/* One million 'a', fed in uneven pieces to exercise the block buffer. */
	struct hub_sha256 ctx;
	char chunk[997];
	memset(chunk, 'a', sizeof chunk);
	hub_sha256_init(&ctx);
	size_t left = 1000000;
	while (left) {
		size_t n = left < sizeof chunk ? left : sizeof chunk;
		hub_sha256_update(&ctx, chunk, n);
		left -= n;
	}
	hub_sha256_final(&ctx, d);
	hex_of(d, hex);
	assert_string_equal(hex,
	                    "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

static void test_hmac_rfc4231(void **st)
{
	(void)st;
	uint8_t k1[20], k3[20], k4[25], k5[20], k6[131], d3[50], d4[50];
	memset(k1, 0x0b, sizeof k1);
	memset(k3, 0xaa, sizeof k3);
	for (int i = 0; i < 25; i++)
		k4[i] = (uint8_t)(i + 1);
	memset(k5, 0x0c, sizeof k5);
	memset(k6, 0xaa, sizeof k6);
	memset(d3, 0xdd, sizeof d3);
	memset(d4, 0xcd, sizeof d4);
	const char *m7 =
	    "This is a test using a larger than block-size key and a larger than "
	    "block-size data. The key needs to be hashed before being used by the HMAC "
	    "algorithm.";
	const struct {
		const void *key;
		size_t klen;
		const void *msg;
		size_t mlen;
		const char *hex;
	} v[] = {
	    {k1, 20, "Hi There", 8,
	     "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"},
	    {"Jefe", 4, "what do ya want for nothing?", 28,
	     "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"},
	    {k3, 20, d3, 50, "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe"},
	    {k4, 25, d4, 50, "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b"},
	    /* Test case 5 is truncated to 128 bits in the RFC: compare the prefix. */
	    {k5, 20, "Test With Truncation", 20, "a3b6167473100ee06e0c796c2955552b"},
	    {k6, 131, "Test Using Larger Than Block-Size Key - Hash Key First", 54,
	     "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"},
	    {k6, 131, m7, strlen(m7),
	     "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2"},
	};
	uint8_t d[HUB_SHA256_LEN];
	char hex[65];
	for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
		hub_hmac_sha256(v[i].key, v[i].klen, v[i].msg, v[i].mlen, d);
		hex_of(d, hex);
		assert_memory_equal(hex, v[i].hex, strlen(v[i].hex));
	}
}

/* ---- a recording notifier ---- */

#define MAX_REC 64

static struct {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int64_t seqs[MAX_REC]; /* seqs delivered, in order */
	int nseq;
	int calls;      /* deliver calls */
	int fail_first; /* the first fail_first calls return fail_rc */
	int fail_rc;
	int gate_closed;    /* deliver waits while set */
	int unhealthy_seen; /* deliver saw the notifier unhealthy (after a failure) */
	struct hub_notifier *self;
} fake = {.lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER};

static void fake_reset(void)
{
	pthread_mutex_lock(&fake.lock);
	fake.nseq = fake.calls = fake.fail_first = fake.gate_closed = fake.unhealthy_seen = 0;
	fake.fail_rc = HUB_EAGAIN;
	fake.self = NULL;
	pthread_mutex_unlock(&fake.lock);
}

static int fake_deliver(void *state, json_t *const *events, size_t n, char *err, size_t errlen)
{
	(void)state;
	pthread_mutex_lock(&fake.lock);
	while (fake.gate_closed)
		pthread_cond_wait(&fake.cond, &fake.lock);
	int call = fake.calls++;
	struct hub_notifier *self = fake.self;
	pthread_mutex_unlock(&fake.lock);
	if (call > 0 && self && !hub_notifier_healthy(self, NULL, 0))
		fake.unhealthy_seen = 1;
	if (call < fake.fail_first) {
		snprintf(err, errlen, "fake: down");
		return fake.fail_rc;
	}
	pthread_mutex_lock(&fake.lock);
	for (size_t i = 0; i < n && fake.nseq < MAX_REC; i++)
		fake.seqs[fake.nseq++] = json_integer_value(json_object_get(events[i], "seq"));
	pthread_cond_broadcast(&fake.cond);
	pthread_mutex_unlock(&fake.lock);
	return HUB_OK;
}

static const struct hub_notifier_ops fake_ops = {
    .type = "fake",
    .deliver = fake_deliver,
    .max_batch = 2,
};

static void open_gate(void)
{
	pthread_mutex_lock(&fake.lock);
	fake.gate_closed = 0;
	pthread_cond_broadcast(&fake.cond);
	pthread_mutex_unlock(&fake.lock);
}

static json_t *event(int64_t seq)
{
	char id[17];
	snprintf(id, sizeof id, "%016llx", (unsigned long long)seq);
	return json_pack("{sIsssssssss{ssss}}", "seq", (json_int_t)seq, "id", id, "rule", "r",
	                 "sensor_id", "s1", "state", "firing", "labels", "alertname", "r",
	                 "sensor_id", "s1");
}

static int push_seq(struct hub_notifier *n, int64_t seq)
{
	json_t *e = event(seq);
	int rc = hub_notifier_push(n, e);
	json_decref(e);
	return rc;
}

static double metric(const char *name, const char *notifier)
{
	char labels[100];
	snprintf(labels, sizeof labels, "notifier=\"%s\"", notifier);
	return hub_metric_value(hub_counter(name, "", labels));
}

static struct hub_cfg_notifier cfg_of(char *name, int queue_max)
{
	struct hub_cfg_notifier c = {0};
	c.name = name;
	c.type = "fake";
	c.queue_max = queue_max;
	c.retry_base_ms = 5;
	c.retry_cap_ms = 20;
	c.timeout_ms = 1000;
	return c;
}

static char *make_tmpdir(void)
{
	char tmpl[] = "/tmp/cityhub-notify-XXXXXX";
	char *d = mkdtemp(tmpl);
	assert_non_null(d);
	return hub_xstrdup(d);
}

static int rm_entry(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(p);
}

static void rm_tree(char *dir)
{
	nftw(dir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
	free(dir);
}

static void test_queue_full_drops_and_counts(void **st)
{
	(void)st;
	fake_reset();
	fake.gate_closed = 1;
	struct hub_cfg_notifier c = cfg_of("qfull", 3);
	struct hub_notify_env env = {0};
	char err[256];
	struct hub_notifier *n = hub_notifier_start_ops(&fake_ops, &c, &env, err, sizeof err);
	assert_non_null(n);
	assert_int_equal(push_seq(n, 1), HUB_OK);
	assert_int_equal(push_seq(n, 2), HUB_OK);
	assert_int_equal(push_seq(n, 3), HUB_OK);
	/* The deliverer holds 1 and 2 (batch of 2) but they count until delivered. */
	assert_int_equal(push_seq(n, 4), HUB_EFULL);
	assert_int_equal(push_seq(n, 5), HUB_EFULL);
	assert_true(metric("cityhub_notify_dropped_total", "qfull") == 2);
	open_gate();
	hub_notifier_stop(n, 5000);
	assert_int_equal(fake.nseq, 3);
	for (int i = 0; i < 3; i++)
		assert_int_equal(fake.seqs[i], i + 1);
	assert_true(metric("cityhub_notify_sent_total", "qfull") == 3);
	assert_int_equal(hub_notifier_watermark(n), 3);
	assert_int_equal(push_seq(n, 6), HUB_ESTOP);
	hub_notifier_free(n);
}

static void test_watermark_survives_restart(void **st)
{
	(void)st;
	fake_reset();
	char *dir = make_tmpdir();
	struct hub_cfg_notifier c = cfg_of("wm", 100);
	struct hub_notify_env env = {.state_dir = dir};
	char err[256];
	struct hub_notifier *n = hub_notifier_start_ops(&fake_ops, &c, &env, err, sizeof err);
	assert_non_null(n);
	for (int s = 1; s <= 3; s++)
		assert_int_equal(push_seq(n, s), HUB_OK);
	hub_notifier_stop(n, 5000);
	assert_int_equal(hub_notifier_watermark(n), 3);
	hub_notifier_free(n);
	assert_int_equal(fake.nseq, 3);

	/* The file holds the seq as 8 little-endian bytes. */
	char path[300];
	snprintf(path, sizeof path, "%s/notify-wm.seq", dir);
	int fd = open(path, O_RDONLY);
	assert_true(fd >= 0);
	uint8_t b[9];
	assert_int_equal(read(fd, b, sizeof b), 8);
	close(fd);
	assert_int_equal(b[0], 3);
	for (int i = 1; i < 8; i++)
		assert_int_equal(b[i], 0);

	fake_reset();
	double skipped = metric("cityhub_notify_skipped_total", "wm");
	n = hub_notifier_start_ops(&fake_ops, &c, &env, err, sizeof err);
	assert_non_null(n);
	assert_int_equal(hub_notifier_watermark(n), 3);
	for (int s = 1; s <= 5; s++)
		assert_int_equal(push_seq(n, s), HUB_OK);
	hub_notifier_stop(n, 5000);
	assert_int_equal(fake.nseq, 2);
	assert_int_equal(fake.seqs[0], 4);
	assert_int_equal(fake.seqs[1], 5);
	assert_true(metric("cityhub_notify_skipped_total", "wm") == skipped + 3);
	assert_int_equal(hub_notifier_watermark(n), 5);
	hub_notifier_free(n);
	rm_tree(dir);
}

static void test_backoff_then_success(void **st)
{
	(void)st;
	fake_reset();
	fake.fail_first = 3;
	struct hub_cfg_notifier c = cfg_of("backoff", 10);
	struct hub_notify_env env = {0};
	char err[256], why[256];
	long long t0 = hub_now_mono_ms();
	struct hub_notifier *n = hub_notifier_start_ops(&fake_ops, &c, &env, err, sizeof err);
	assert_non_null(n);
	pthread_mutex_lock(&fake.lock);
	fake.self = n;
	pthread_mutex_unlock(&fake.lock);
	assert_int_equal(push_seq(n, 7), HUB_OK);
	pthread_mutex_lock(&fake.lock);
	while (fake.nseq == 0)
		pthread_cond_wait(&fake.cond, &fake.lock);
	pthread_mutex_unlock(&fake.lock);
	long long took = hub_now_mono_ms() - t0;
	/* Three waits of at most 5, 10, 20 ms (full jitter), plus scheduling. */
	assert_true(took < 2000);
	assert_int_equal(fake.calls, 4);
	assert_true(fake.unhealthy_seen);
	assert_true(metric("cityhub_notify_retries_total", "backoff") == 3);
	hub_notifier_stop(n, 5000);
	assert_true(metric("cityhub_notify_sent_total", "backoff") == 1);
	assert_int_equal(hub_notifier_healthy(n, why, sizeof why), 1);
	assert_int_equal(hub_notifier_watermark(n), 7);
	hub_notifier_free(n);
}

static void test_refused_for_good_advances(void **st)
{
	(void)st;
	fake_reset();
	fake.fail_first = 1;
	fake.fail_rc = HUB_EREJECT;
	struct hub_cfg_notifier c = cfg_of("refused", 10);
	struct hub_notify_env env = {0};
	char err[256], why[256];
	struct hub_notifier *n = hub_notifier_start_ops(&fake_ops, &c, &env, err, sizeof err);
	assert_non_null(n);
	assert_int_equal(push_seq(n, 1), HUB_OK);
	hub_notifier_stop(n, 5000);
	assert_int_equal(fake.nseq, 0);
	assert_true(metric("cityhub_notify_failed_total", "refused") == 1);
	assert_int_equal(hub_notifier_watermark(n), 1);
	assert_int_equal(hub_notifier_healthy(n, why, sizeof why), 0);
	assert_non_null(strstr(why, "fake: down"));
	hub_notifier_free(n);
}

static void test_stop_gives_up_at_deadline(void **st)
{
	(void)st;
	fake_reset();
	fake.fail_first = 1000000;
	struct hub_cfg_notifier c = cfg_of("deadline", 10);
	struct hub_notify_env env = {0};
	char err[256];
	struct hub_notifier *n = hub_notifier_start_ops(&fake_ops, &c, &env, err, sizeof err);
	assert_non_null(n);
	assert_int_equal(push_seq(n, 1), HUB_OK);
	long long t0 = hub_now_mono_ms();
	hub_notifier_stop(n, 200);
	long long took = hub_now_mono_ms() - t0;
	assert_true(took >= 150 && took < 2000);
	assert_int_equal(hub_notifier_watermark(n), 0);
	hub_notifier_free(n);
}

static void test_stop_retries_at_once(void **st)
{
	(void)st;
	fake_reset();
	fake.fail_first = 1;
	struct hub_cfg_notifier c = cfg_of("stopretry", 10);
	c.retry_base_ms = c.retry_cap_ms = 60000; /* the backoff would outlast the stop */
	struct hub_notify_env env = {0};
	char err[256];
	struct hub_notifier *n = hub_notifier_start_ops(&fake_ops, &c, &env, err, sizeof err);
	assert_non_null(n);
	assert_int_equal(push_seq(n, 1), HUB_OK);
	for (int i = 0; i < 500 && metric("cityhub_notify_retries_total", "stopretry") < 1; i++)
		usleep(10000);
	long long t0 = hub_now_mono_ms();
	hub_notifier_stop(n, 3000);
	assert_true(hub_now_mono_ms() - t0 < 1000);
	assert_int_equal(fake.nseq, 1);
	assert_int_equal(hub_notifier_watermark(n), 1);
	hub_notifier_free(n);
}

static void test_start_checks(void **st)
{
	(void)st;
	char err[256];
	struct hub_notify_env env = {0};
	struct hub_cfg_notifier c = cfg_of("a/b", 10);
	assert_null(hub_notifier_start_ops(&fake_ops, &c, &env, err, sizeof err));
	c = cfg_of("x", 10);
	c.type = "pager";
	assert_null(hub_notifier_start(&c, &env, err, sizeof err));
	assert_non_null(strstr(err, "unknown type"));
	assert_non_null(hub_notifier_find("alertmanager"));
	assert_non_null(hub_notifier_find("mqtt"));
	assert_non_null(hub_notifier_find("webhook"));
	c.type = "mqtt"; /* no publish function */
	assert_null(hub_notifier_start(&c, &env, err, sizeof err));
	c.type = "webhook"; /* no URL */
	assert_null(hub_notifier_start(&c, &env, err, sizeof err));
	assert_non_null(strstr(err, "URL"));
	char *two[] = {"http://a", "http://b", NULL};
	c.urls = two;
	assert_null(hub_notifier_start(&c, &env, err, sizeof err));
	assert_non_null(strstr(err, "one URL"));
	c.type = "alertmanager";
	c.urls = NULL;
	assert_null(hub_notifier_start(&c, &env, err, sizeof err));
}

static void test_redact_url(void **st)
{
	(void)st;
	const char *v[][2] = {
	    {"http://am:9093", "http://am:9093"},
	    {"https://user:pw@am.example:9093/x?a=b@c", "https://am.example:9093/x?a=b@c"},
	    {"http://h/p@q", "http://h/p@q"},
	};
	for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
		struct hub_buf b = {0};
		hub_notify_redact_url(v[i][0], &b);
		assert_string_equal(b.data, v[i][1]);
		hub_buf_fini(&b);
	}
}

/* ---- MQTT ---- */

static void test_topic_sanitising(void **st)
{
	(void)st;
	struct hub_buf b = {0};
	json_t *e =
	    json_pack("{ssssss}", "rule", "salinity/+#x", "sensor_id", "a/b#", "level", "III");
	hub_notify_mqtt_topic(e, "city", &b);
	assert_string_equal(b.data, "city/alerts/salinity___x/a_b_/III");
	json_decref(e);
	hub_buf_clear(&b);
	e = json_pack("{ssss}", "rule", "", "sensor_id", "+");
	hub_notify_mqtt_topic(e, "", &b);
	assert_string_equal(b.data, "alerts/_/_");
	json_decref(e);
	hub_buf_fini(&b);
}

#define MAX_PUB 16
static struct {
	char topic[MAX_PUB][200];
	char payload[MAX_PUB][400];
	size_t len[MAX_PUB];
	int qos[MAX_PUB], retained[MAX_PUB];
	int n;
	int fail_next;
} pubs;

static int record_publish(void *ctx, const char *topic, const void *payload, size_t len, int qos,
                          int retained)
{
	(void)ctx;
	if (pubs.fail_next > 0) {
		pubs.fail_next--;
		return HUB_EAGAIN;
	}
	int i = pubs.n++;
	assert_true(i < MAX_PUB && len < sizeof pubs.payload[0]);
	snprintf(pubs.topic[i], sizeof pubs.topic[i], "%s", topic);
	memcpy(pubs.payload[i], payload, len);
	pubs.payload[i][len] = '\0';
	pubs.len[i] = len;
	pubs.qos[i] = qos;
	pubs.retained[i] = retained;
	return HUB_OK;
}

static void test_mqtt_publishes(void **st)
{
	(void)st;
	memset(&pubs, 0, sizeof pubs);
	pubs.fail_next = 1; /* the broker is gone at first: retried */
	struct hub_cfg_notifier c = cfg_of("mq", 10);
	c.type = "mqtt";
	c.topic_prefix = "city/";
	struct hub_notify_env env = {.publish = record_publish};
	char err[256];
	struct hub_notifier *n = hub_notifier_start(&c, &env, err, sizeof err);
	assert_non_null(n);
	json_t *fire =
	    json_pack("{sIsssssssssss{ss}}", "seq", (json_int_t)1, "id", "00000000000000aa", "rule",
	              "water_level", "sensor_id", "wl/1", "level", "III", "state", "firing",
	              "labels", "alertname", "water_level");
	json_t *res = json_deep_copy(fire);
	json_object_set_new(res, "seq", json_integer(2));
	json_object_set_new(res, "id", json_string("00000000000000bb"));
	json_object_set_new(res, "state", json_string("resolved"));
	assert_int_equal(hub_notifier_push(n, fire), HUB_OK);
	assert_int_equal(hub_notifier_push(n, res), HUB_OK);
	hub_notifier_stop(n, 5000);
	assert_int_equal(pubs.n, 4);
	const char *state_topic = "city/alerts/water_level/wl_1/III";
	assert_string_equal(pubs.topic[0], state_topic);
	assert_int_equal(pubs.retained[0], 1);
	assert_int_equal(pubs.qos[0], 1);
	json_t *got = json_loads(pubs.payload[0], 0, NULL);
	assert_true(json_equal(got, fire));
	json_decref(got);
	assert_string_equal(pubs.topic[1], "city/alerts/events");
	assert_int_equal(pubs.retained[1], 0);
	assert_int_equal(pubs.qos[1], 1);
	assert_non_null(strstr(pubs.payload[1], "\"id\":\"00000000000000aa\""));
	assert_string_equal(pubs.topic[2], state_topic);
	assert_int_equal(pubs.retained[2], 1);
	assert_int_equal(pubs.len[2], 0); /* cleared */
	assert_string_equal(pubs.topic[3], "city/alerts/events");
	assert_non_null(strstr(pubs.payload[3], "\"state\":\"resolved\""));
	assert_true(metric("cityhub_notify_retries_total", "mq") == 1);
	assert_int_equal(hub_notifier_watermark(n), 2);
	hub_notifier_free(n);
	json_decref(fire);
	json_decref(res);
}

/* ---- Alertmanager layout ---- */

static void test_am_alert_layout(void **st)
{
	(void)st;
	json_t *e = json_loads(
	    "{\"id\":\"0123456789abcdef\",\"seq\":5,\"rule\":\"salinity\",\"sensor_id\":\"sal-01\","
	    "\"level\":\"II\",\"state\":\"firing\",\"severity\":\"major\","
	    "\"at\":\"2026-12-04T10:00:00Z\",\"starts_at\":\"2026-12-04T09:55:00+07:00\","
	    "\"value\":4.2,\"labels\":{\"alertname\":\"salinity_high\",\"district\":\"p1\","
	    "\"bad-name\":\"x\",\"count\":3,\"empty\":\"\",\"flag\":true},"
	    "\"annotations\":{\"summary_vi\":\"Độ mặn cao\",\"summary_en\":\"High salinity\","
	    "\"value\":4.2}}",
	    0, NULL);
	assert_non_null(e);
	json_t *a = hub_notify_am_alert(e, 1796380000000000000LL);
	assert_non_null(a);
	json_t *want = json_loads(
	    "{\"labels\":{\"alertname\":\"salinity_high\",\"district\":\"p1\",\"bad_name\":\"x\","
	    "\"count\":\"3\",\"flag\":\"true\",\"sensor_id\":\"sal-01\",\"severity\":\"major\","
	    "\"level\":\"II\"},"
	    "\"annotations\":{\"summary_vi\":\"Độ mặn cao\",\"summary_en\":\"High salinity\","
	    "\"value\":\"4.2\"},"
	    "\"startsAt\":\"2026-12-04T02:55:00.000000000Z\","
	    "\"endsAt\":\"2026-12-04T10:26:40.000000000Z\"}",
	    0, NULL);
	assert_non_null(want);
	if (!json_equal(a, want)) {
		char *s = json_dumps(a, JSON_SORT_KEYS);
		fail_msg("got %s", s);
	}
	json_decref(a);
	/* endsAt before startsAt is lifted to startsAt (Alertmanager refuses the other way). */
	a = hub_notify_am_alert(e, 1796000000000000000LL);
	json_object_set_new(want, "endsAt", json_string("2026-12-04T02:55:00.000000000Z"));
	assert_true(json_equal(a, want));
	json_decref(want);
	json_decref(a);
	/* An event without any label is not sendable. */
	json_t *bare = json_pack("{ss}", "state", "firing");
	assert_null(hub_notify_am_alert(bare, 0));
	json_decref(bare);
	json_decref(e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_sha256_vectors),
	    cmocka_unit_test(test_hmac_rfc4231),
	    cmocka_unit_test(test_queue_full_drops_and_counts),
	    cmocka_unit_test(test_watermark_survives_restart),
	    cmocka_unit_test(test_backoff_then_success),
	    cmocka_unit_test(test_refused_for_good_advances),
	    cmocka_unit_test(test_stop_gives_up_at_deadline),
	    cmocka_unit_test(test_stop_retries_at_once),
	    cmocka_unit_test(test_start_checks),
	    cmocka_unit_test(test_redact_url),
	    cmocka_unit_test(test_topic_sanitising),
	    cmocka_unit_test(test_mqtt_publishes),
	    cmocka_unit_test(test_am_alert_layout),
	};
	int rc = cmocka_run_group_tests(tests, NULL, NULL);
	hub_metrics_reset();
	return rc;
}
