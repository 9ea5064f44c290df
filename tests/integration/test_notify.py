#!/usr/bin/env python3
"""The HTTP notifiers against real receivers, driven by the notify_drive helper.

Alertmanager: two real prometheus-alertmanager processes (each its own single-node cluster);
a firing event must show up on both with exactly the labels and annotations sent, a resolve
must make it inactive on both; with one instance dead the notifier still delivers to the other;
with none reachable nothing is delivered and the notifier reports unhealthy; firing alerts are
re-sent (an Alertmanager restarted with an empty memory learns them again). The delivery
watermark keeps a second run from sending an event again.

Webhook: a small HTTP server in this process answers 503, 200, 400, 200 in turn; the notifier
must retry the 503, drop the 400 for good, and sign every body with HMAC-SHA256.

Usage: NOTIFY_DRIVE=/path/to/notify_drive python3 test_notify.py
Exit code 77 (skip) without prometheus-alertmanager.
"""

import datetime
import hashlib
import hmac
import http.server
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from lib import services  # noqa: E402

DRIVE = os.environ.get("NOTIFY_DRIVE") or (sys.argv[1] if len(sys.argv) > 1 else None)


def rfc3339(t):
    return datetime.datetime.fromtimestamp(t, datetime.timezone.utc).strftime(
        "%Y-%m-%dT%H:%M:%S.%fZ")


def parse_time(s):
    # Alertmanager writes RFC 3339 with up to nanoseconds; keep microseconds for Python.
    s = s.replace("Z", "+00:00")
    if "." in s:
        head, rest = s.split(".", 1)
        frac = "".join(ch for ch in rest if ch.isdigit())
        tz = rest[len(frac):]
        s = "%s.%s%s" % (head, frac[:6].ljust(6, "0"), tz)
    return datetime.datetime.fromisoformat(s).timestamp()


def make_event(seq, state, sensor, level=None, starts=None, ends=None):
    starts = starts if starts is not None else time.time() - 60
    e = {
        "id": "%016x" % (0xa1e7 * 1000 + seq),
        "seq": seq,
        "rule": "salinity_high",
        "sensor_id": sensor,
        "state": state,
        "severity": "major",
        "at": rfc3339(ends if state == "resolved" else starts),
        "at_ns": int((ends if state == "resolved" else starts) * 1e9),
        "starts_at": rfc3339(starts),
        "value": 4.2,
        "labels": {"alertname": "salinity_high", "sensor_id": sensor, "severity": "major",
                   "district": "phuong_1"},
        "annotations": {"summary_vi": "Độ mặn %s vượt 4 g/L" % sensor,
                        "summary_en": "Salinity at %s above 4 g/L" % sensor,
                        "value": "4.2"},
    }
    if level:
        e["level"] = level
    if state == "resolved":
        e["ends_at"] = rfc3339(ends)
    return e


def expected_labels(e):
    labels = dict(e["labels"])
    if "level" in e:
        labels["level"] = e["level"]
    return labels


def drive(kind, name, state_dir, urls, lines, timeout=60, **opts):
    """Runs notify_drive with lines on stdin; returns its JSON summary."""
    args = [DRIVE, kind, name, state_dir, ",".join(urls)]
    args += ["%s=%s" % kv for kv in sorted(opts.items())]
    text = "".join((json.dumps(x) if isinstance(x, dict) else x) + "\n" for x in lines)
    proc = services.run_helper(args[0], args[1:], input=text, timeout=timeout)
    sys.stderr.write(proc.stderr.decode("utf-8", "replace"))
    return json.loads(proc.stdout.decode().strip().splitlines()[-1])


def find_alert(am, labels):
    """Returns the alert of am with exactly these labels (GET /api/v2/alerts), or None."""
    for a in am.alerts():
        if a["labels"] == labels:
            return a
    return None


class AlertmanagerTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.am = [services.Alertmanager(), services.Alertmanager()]
        for am in cls.am:
            am.start()

    @classmethod
    def tearDownClass(cls):
        for am in cls.am:
            am.close()

    def setUp(self):
        self.state = tempfile.mkdtemp(prefix="cityhub-notify-state-")
        for am in self.am:
            am.start()  # a no-op when running

    def tearDown(self):
        shutil.rmtree(self.state, ignore_errors=True)

    def urls(self):
        return [am.url for am in self.am]

    def test_fire_and_resolve_on_every_instance(self):
        fire = make_event(1, "firing", "sal-01", level="II")
        out = drive("alertmanager", "am", self.state, self.urls(), [fire, "wait"])
        self.assertEqual(out["watermark"], 1, out)
        self.assertEqual(out["sent"], 1, out)
        self.assertTrue(out["healthy"], out)
        labels = expected_labels(fire)
        for am in self.am:
            a = services.wait_until(lambda: find_alert(am, labels), 10, what="alert on " + am.url)
            self.assertEqual(a["annotations"], fire["annotations"])
            self.assertEqual(a["status"]["state"], "active")
            self.assertAlmostEqual(parse_time(a["startsAt"]), parse_time(fire["starts_at"]),
                                   delta=0.001)
            # endsAt is max(3 x resend, 5 min) ahead.
            self.assertGreater(parse_time(a["endsAt"]), time.time() + 240)

        # A second run with the same state dir: seq 1 is below the watermark, only 2 goes out.
        resolve = make_event(2, "resolved", "sal-01", level="II",
                             starts=parse_time(fire["starts_at"]), ends=time.time() - 1)
        out = drive("alertmanager", "am", self.state, self.urls(), [fire, resolve, "wait"])
        self.assertEqual(out["skipped"], 1, out)
        self.assertEqual(out["sent"], 1, out)
        self.assertEqual(out["watermark"], 2, out)
        for am in self.am:
            services.wait_until(lambda: find_alert(am, labels) is None, 10,
                                what="resolved on " + am.url)

    def test_one_instance_down_still_delivers(self):
        fire = make_event(1, "firing", "sal-02")
        labels = expected_labels(fire)
        out = drive("alertmanager", "am2", self.state, self.urls(), [fire, "wait"])
        self.assertEqual(out["watermark"], 1, out)
        for am in self.am:
            services.wait_until(lambda: find_alert(am, labels), 10, what="alert on " + am.url)
        self.am[1].stop()
        resolve = make_event(2, "resolved", "sal-02", starts=parse_time(fire["starts_at"]),
                             ends=time.time())
        out = drive("alertmanager", "am2", self.state, self.urls(), [resolve, "wait"])
        self.assertEqual(out["watermark"], 2, out)
        self.assertEqual(out["sent"], 1, out)
        self.assertEqual(out["retries"], 0, out)
        services.wait_until(lambda: find_alert(self.am[0], labels) is None, 10,
                            what="resolved on the live instance")

    def test_no_instance_reachable(self):
        dead = "http://127.0.0.1:%d" % services.free_port()
        fire = make_event(1, "firing", "sal-03")
        out = drive("alertmanager", "am3", self.state, [dead], [fire, "sleep 500"],
                    stop_ms=300, retry_base_ms=20, retry_cap_ms=100)
        self.assertEqual(out["watermark"], 0, out)
        self.assertEqual(out["sent"], 0, out)
        self.assertGreaterEqual(out["retries"], 1, out)
        self.assertFalse(out["healthy"], out)
        self.assertIn("no Alertmanager took the alerts", out["why"])

    def test_firing_alerts_are_resent(self):
        fire = make_event(1, "firing", "sal-04", level="III")
        labels = expected_labels(fire)
        am = self.am[0]
        args = [DRIVE, "alertmanager", "am4", self.state, am.url, "resend_ms=4000"]
        proc = subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                preexec_fn=services._child_setup)
        try:
            proc.stdin.write((json.dumps(fire) + "\nsleep 15000\n").encode())
            proc.stdin.flush()
            services.wait_until(lambda: find_alert(am, labels), 10, what="first post")
            # Alertmanager keeps alerts in memory only: a restart forgets them, the re-send
            # (every 4 s here) brings this one back.
            t0 = time.monotonic()
            am.stop()
            am.start()
            gone = find_alert(am, labels) is None
            if time.monotonic() - t0 < 3.0:  # else a re-send may already have come
                self.assertTrue(gone, "a restarted Alertmanager still had the alert")
            a = services.wait_until(lambda: find_alert(am, labels), 15, what="re-sent alert")
            self.assertEqual(a["annotations"], fire["annotations"])
        finally:
            proc.kill()
            proc.wait()
            proc.stdin.close()
            proc.stdout.close()


class AlertmanagerClusterTest(unittest.TestCase):
    """Two Alertmanagers in one gossip cluster (issue 14): one is killed, alerts stay visible
    and resolve on the other."""

    def setUp(self):
        self.am = services.Alertmanager.cluster(2)
        for am in self.am:
            am.start()
        self.state = tempfile.mkdtemp(prefix="cityhub-notify-state-")

    def tearDown(self):
        for am in self.am:
            am.close()
        shutil.rmtree(self.state, ignore_errors=True)

    def test_killed_member(self):
        urls = [am.url for am in self.am]
        for am in self.am:
            services.wait_until(lambda: len(json.loads(services._http(
                "GET", am.url + "/api/v2/status")[1])["cluster"]["peers"]) == 2, 30,
                what="cluster of two")
        first = make_event(1, "firing", "wl-01", level="III")
        out = drive("alertmanager", "amc", self.state, urls, [first, "wait"])
        self.assertEqual(out["sent"], 1, out)
        for am in self.am:
            services.wait_until(lambda: find_alert(am, expected_labels(first)), 10,
                                what="alert on " + am.url)
        self.am[1].kill()
        second = make_event(2, "firing", "wl-02", level="II")
        resolve = make_event(3, "resolved", "wl-01", level="III",
                             starts=parse_time(first["starts_at"]), ends=time.time())
        out = drive("alertmanager", "amc", self.state, urls, [second, resolve, "wait"])
        self.assertEqual(out["watermark"], 3, out)
        self.assertEqual(out["retries"], 0, out)
        live = self.am[0]
        services.wait_until(lambda: find_alert(live, expected_labels(second)), 10,
                            what="new alert on the survivor")
        services.wait_until(lambda: find_alert(live, expected_labels(first)) is None, 10,
                            what="resolve on the survivor")


class MqttTest(unittest.TestCase):
    """The mqtt notifier through the hub's own client against a real mosquitto: retained state
    per alert (cleared on resolve) and the QoS 1 event stream."""

    def setUp(self):
        self.broker = services.Mosquitto()
        self.broker.start()
        self.state = tempfile.mkdtemp(prefix="cityhub-notify-state-")

    def tearDown(self):
        self.broker.close()
        shutil.rmtree(self.state, ignore_errors=True)

    def sub(self, *args, check=False):
        proc = services.run_helper("mosquitto_sub", ["-h", "127.0.0.1", "-p",
                                                     str(self.broker.port)] + list(args),
                                   timeout=30, check=check)
        return proc.stdout.decode("utf-8")

    def retained(self):
        """Returns {topic: payload} of every retained message under city/alerts/."""
        out = self.sub("-t", "city/alerts/#", "--retained-only", "-W", "2", "-v",
                       "-F", "%t\t%p")
        return dict(line.split("\t", 1) for line in out.splitlines() if line)

    def test_retained_state_and_event_stream(self):
        # A persistent QoS 1 session that the broker fills while nobody listens.
        self.sub("-c", "-i", "stream-reader", "-q", "1", "-t", "city/alerts/events", "-E",
                 check=True)
        fire = make_event(1, "firing", "sal/+#1", level="III")
        out = drive("mqtt", "mq", self.state, [self.broker.url], [fire, "wait"],
                    topic_prefix="city")
        self.assertEqual(out["watermark"], 1, out)
        self.assertEqual(out["sent"], 1, out)
        state_topic = "city/alerts/salinity_high/sal___1/III"
        kept = self.retained()
        self.assertEqual(list(kept), [state_topic])
        self.assertEqual(json.loads(kept[state_topic]), fire)

        resolve = make_event(2, "resolved", "sal/+#1", level="III",
                             starts=parse_time(fire["starts_at"]), ends=time.time())
        out = drive("mqtt", "mq", self.state, [self.broker.url], [fire, resolve, "wait"],
                    topic_prefix="city")
        self.assertEqual(out["skipped"], 1, out)
        self.assertEqual(out["watermark"], 2, out)
        self.assertEqual(self.retained(), {})

        stream = self.sub("-c", "-i", "stream-reader", "-q", "1", "-t", "city/alerts/events",
                          "-C", "2", "-W", "10")
        got = [json.loads(line) for line in stream.splitlines() if line]
        self.assertEqual([e["id"] for e in got], [fire["id"], resolve["id"]])
        self.assertEqual(got, [fire, resolve])


class WebhookTest(unittest.TestCase):
    SECRET = "s3cr3t-key"
    TOKEN = "tok-123"

    def setUp(self):
        self.requests = []
        self.replies = [503, 200, 400, 200]
        test = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                test.requests.append((self.path, dict(self.headers), body))
                code = test.replies.pop(0) if test.replies else 200
                self.send_response(code)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = "http://127.0.0.1:%d/hook" % self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.state = tempfile.mkdtemp(prefix="cityhub-notify-state-")

    def tearDown(self):
        self.server.shutdown()
        self.server.server_close()
        shutil.rmtree(self.state, ignore_errors=True)

    def test_signed_posts_retry_and_refusal(self):
        events = [make_event(1, "firing", "wh-1"), make_event(2, "firing", "wh-2"),
                  make_event(3, "resolved", "wh-1", ends=time.time())]
        out = drive("webhook", "hook", self.state, [self.url], events + ["wait"],
                    secret=self.SECRET, token=self.TOKEN, retry_base_ms=20, retry_cap_ms=100)
        self.assertEqual(out["watermark"], 3, out)
        self.assertEqual(out["sent"], 2, out)     # 1 after one retry, and 3
        self.assertEqual(out["failed"], 1, out)   # 2 refused with 400
        self.assertEqual(out["retries"], 1, out)  # the 503
        self.assertEqual(len(self.requests), 4)
        seqs = []
        for path, headers, body in self.requests:
            self.assertEqual(path, "/hook")
            self.assertEqual(headers["Content-Type"], "application/json")
            self.assertEqual(headers["Authorization"], "Bearer " + self.TOKEN)
            want = "sha256=" + hmac.new(self.SECRET.encode(), body, hashlib.sha256).hexdigest()
            self.assertEqual(headers["X-Cityhub-Signature"], want)
            event = json.loads(body)
            self.assertEqual(headers["X-Cityhub-Event"], event["id"])
            seqs.append(event["seq"])
        self.assertEqual(seqs, [1, 1, 2, 3])
        self.assertEqual(json.loads(self.requests[0][2]), events[0])

    def test_unsigned_without_secret(self):
        self.replies = []
        out = drive("webhook", "hook2", self.state, [self.url],
                    [make_event(1, "firing", "wh-3"), "wait"])
        self.assertEqual(out["sent"], 1, out)
        self.assertEqual(len(self.requests), 1)
        self.assertNotIn("X-Cityhub-Signature", self.requests[0][1])
        self.assertNotIn("Authorization", self.requests[0][1])


if __name__ == "__main__":
    if not DRIVE:
        print("NOTIFY_DRIVE is not set")
        sys.exit(1)
    if shutil.which(services.Alertmanager.binary) is None:
        print("SKIP: prometheus-alertmanager not installed")
        sys.exit(77)
    unittest.main(argv=sys.argv[:1], verbosity=2)
