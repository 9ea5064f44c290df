"""The operations API (/api/v1) against a running hub with real mosquitto and influxd: every
endpoint and its errors, history read back from the store (and 503 once the store is gone),
the screen full again after a restart, and the server-sent event stream: order and ids,
resume with Last-Event-ID, a stalled client dropped while another keeps receiving everything,
and 200 concurrent clients all receiving one event."""
import json
import os
import selectors
import shutil
import socket
import subprocess
import tempfile
import time
import unittest
import urllib.parse
import urllib.request

from common import HUB_BIN, new_hub, publish_lines, publish_one, services

S_NS = 10**9
REGISTRY = """\
sensors:
  - id: wl-1
    kind: water_level
    district: phuong-1
    lat: 10.3541
    lon: 106.3652
    name_vi: "Cầu Quay"
    name_en: Quay bridge
    interval_s: 60
  - id: wq-1
    kind: water_quality
    district: phuong-6
    name_vi: "Cống Bảo Định"
  - id: aq-never
    kind: air_quality
    district: phuong-2
"""
RULES = [{"name": "salinity_high", "type": "threshold", "kind": "water_quality",
          "field": "salinity_ppt", "above": 4.0, "clear": 3.8, "severity": "major",
          "summary_en": "Salinity {{value}} g/L at {{sensor_id}}"}]


def now_ms():
    return int(time.time() * 1000)


def reading(sensor, field, value, ts_ms):
    return json.dumps({"sensor_id": sensor, "ts": ts_ms, "fields": {field: value}})


class Stream:
    """A raw SSE client: HTTP/1.0 over a socket, events parsed as they arrive."""

    def __init__(self, port, query="", last_id=None, rcvbuf=None, read=True):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if rcvbuf:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.sock.connect(("127.0.0.1", port))
        hdr = f"GET /api/v1/stream{query} HTTP/1.0\r\nHost: hub\r\n"
        if last_id is not None:
            hdr += f"Last-Event-ID: {last_id}\r\n"
        self.sock.sendall((hdr + "\r\n").encode())
        self.buf = b""
        self.events = []
        self.status = None
        self.closed = False
        self.heartbeats = 0
        if read:
            self.read_until(lambda: self.status is not None, 10)

    def feed(self, data):
        if not data:
            self.closed = True
            return
        self.buf += data
        if self.status is None and b"\r\n\r\n" in self.buf:
            head, self.buf = self.buf.split(b"\r\n\r\n", 1)
            self.status = int(head.split(b" ")[1])
            self.headers = head.decode()
        while self.status is not None and b"\n\n" in self.buf:
            block, self.buf = self.buf.split(b"\n\n", 1)
            ev = {}
            for line in block.decode().split("\n"):
                self.heartbeats += line == ": heartbeat"
                if line.startswith(":") or ":" not in line:
                    continue
                k, v = line.split(":", 1)
                ev[k] = v[1:] if v.startswith(" ") else v
            if "event" in ev:
                ev["data"] = json.loads(ev["data"])
                ev["id"] = int(ev["id"])
                self.events.append(ev)

    def pump(self, timeout):
        self.sock.settimeout(timeout)
        try:
            self.feed(self.sock.recv(65536))
        except socket.timeout:
            pass
        except ConnectionResetError:
            self.closed = True

    def read_until(self, pred, timeout):
        deadline = time.monotonic() + timeout
        while not pred():
            left = deadline - time.monotonic()
            if left <= 0 or self.closed:
                raise AssertionError(f"stream: condition not met; {len(self.events)} events, "
                                     f"closed={self.closed}")
            self.pump(min(left, 0.5))

    def close(self):
        self.sock.close()


class Api(unittest.TestCase):
    maxDiff = None

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="cityhub-api-")
        cls.broker = services.Mosquitto().start()
        cls.influx = services.Influxd().start()
        cls.influx.create_db("city")
        reg = os.path.join(cls.tmp, "registry.yaml")
        with open(reg, "w", encoding="utf-8") as f:
            f.write(REGISTRY)
        cls.hub = new_hub(cls.tmp, cls.broker, cls.influx, config={
            "alerts": {"snapshot_ms": 200},
            "live": {"registry": reg, "heartbeat_ms": "1s", "stream_backlog": 64},
            "rules": RULES})
        cls.hub.start()
        cls.t0 = now_ms() - 50 * 60 * 1000  # 50 minutes ago, on the minute grid below
        lines = [reading("wl-1", "level_m", 1.0 + i / 10, cls.t0 + i * 600_000)
                 for i in range(6)]
        publish_lines(cls.broker.port, "city/water_level/phuong-1/wl-1", lines)
        publish_one(cls.broker.port, "city/water_quality/phuong-6/wq-1",
                    reading("wq-1", "salinity_ppt", 3.0, now_ms()))
        services.wait_until(lambda: cls.get("/api/v1/sensors?state=ok")[1].get("count") == 2,
                            20, what="two sensors ok")

    @classmethod
    def tearDownClass(cls):
        cls.hub.kill()
        cls.influx.close()
        cls.broker.close()
        if os.environ.get("KEEP_TMP"):
            print("kept", cls.tmp)
        else:
            shutil.rmtree(cls.tmp, ignore_errors=True)

    @classmethod
    def get(cls, path, method="GET"):
        req = urllib.request.Request(f"http://127.0.0.1:{cls.hub.http_port}{path}",
                                     method=method)
        try:
            with urllib.request.urlopen(req, timeout=15) as r:
                return r.status, json.loads(r.read())
        except urllib.error.HTTPError as e:
            body = e.read()
            return e.code, json.loads(body) if body else None

    def test_00_check_config_validates_the_registry(self):
        d = tempfile.mkdtemp(dir=self.tmp)
        with open(os.path.join(d, "reg.csv"), "w", encoding="utf-8") as f:
            f.write("id,kind,lat\nok-1,noise,10.3\nbad-1,noise,100\n")
        with open(os.path.join(d, "cityhub.yaml"), "w", encoding="utf-8") as f:
            f.write("live:\n  registry: reg.csv\n")  # relative to the config file
        p = subprocess.run([HUB_BIN, "--check-config", os.path.join(d, "cityhub.yaml")],
                           capture_output=True, text=True, timeout=30)
        self.assertEqual(p.returncode, 2, p.stderr)
        self.assertIn(os.path.join(d, "reg.csv") + ":3: lat: 100 is not a number", p.stderr)

    # ---- JSON endpoints ----

    def test_01_sensors(self):
        status, body = self.get("/api/v1/sensors")
        self.assertEqual(status, 200)
        self.assertEqual(body["count"], 3)
        by = {s["id"]: s for s in body["sensors"]}
        wl = by["wl-1"]
        self.assertEqual(set(wl), {"id", "kind", "district", "tags", "name_vi", "name_en", "lat",
                                   "lon", "state", "severity", "last_seen", "last_ts",
                                   "interval_s", "values", "msgs_1h", "rejects_1h"})
        self.assertEqual((wl["kind"], wl["district"], wl["name_vi"], wl["name_en"]),
                         ("water_level", "phuong-1", "Cầu Quay", "Quay bridge"))
        self.assertAlmostEqual(wl["lat"], 10.3541, places=4)
        self.assertAlmostEqual(wl["lon"], 106.3652, places=4)
        self.assertEqual((wl["state"], wl["severity"], wl["interval_s"]), ("ok", None, 60))
        self.assertEqual(wl["tags"], {"district": "phuong-1"})
        self.assertEqual(wl["msgs_1h"], 6)
        self.assertEqual(wl["rejects_1h"], 0)
        lv = wl["values"]["level_m"]
        self.assertAlmostEqual(lv["value"], 1.5)
        self.assertEqual(lv["unit"], "m")
        self.assertEqual(lv["ts"], wl["last_ts"])
        self.assertTrue(wl["last_seen"].endswith("Z"))
        self.assertEqual(by["aq-never"]["state"], "missing")
        self.assertIsNone(by["aq-never"]["last_seen"])
        self.assertEqual(by["wq-1"]["values"]["salinity_ppt"]["unit"], "g/l")
        # filters
        self.assertEqual([s["id"] for s in self.get("/api/v1/sensors?kind=water_level")[1]
                          ["sensors"]], ["wl-1"])
        self.assertEqual([s["id"] for s in self.get("/api/v1/sensors?state=missing")[1]
                          ["sensors"]], ["aq-never"])
        self.assertEqual(self.get("/api/v1/sensors?district=phuong-6")[1]["count"], 1)
        # errors are JSON with proper codes
        for path, code in (("/api/v1/sensors?state=sleepy", 400), ("/api/v1/sensors?x=1", 400),
                           ("/api/v1/nothing", 404), ("/api/v2/sensors", 404),
                           ("/api/v1/sensors/nobody", 404),
                           ("/api/v1/sensors/wl-1/elsewhere", 404)):
            status, body = self.get(path)
            self.assertEqual(status, code, path)
            self.assertIsInstance(body["error"], str)
        status, body = self.get("/api/v1/sensors", method="POST")
        self.assertEqual((status, set(body)), (405, {"error"}))

    def test_02_rejects_counted_against_the_topic_sensor(self):
        publish_one(self.broker.port, "city/water_level/phuong-1/wl-1", "{not json")
        services.wait_until(lambda: self.get("/api/v1/sensors/wl-1")[1]["rejects_1h"] == 1, 10,
                            what="a reject counted")

    def test_03_sensor_districts_openapi(self):
        status, wl = self.get("/api/v1/sensors/wl-1")
        self.assertEqual(status, 200)
        self.assertEqual(wl["alerts"], [])
        status, body = self.get("/api/v1/districts")
        self.assertEqual(status, 200)
        d = {x["district"]: x for x in body["districts"]}
        self.assertEqual(set(d), {"phuong-1", "phuong-2", "phuong-6"})
        self.assertEqual(d["phuong-1"]["max_level_m"], {"value": 1.5, "sensor_id": "wl-1"})
        self.assertEqual((d["phuong-2"]["sensors"], d["phuong-2"]["missing"]), (1, 1))
        self.assertIsNone(d["phuong-2"]["worst_aqi"])
        self.assertEqual(set(d["phuong-6"]), {"district", "sensors", "ok", "stale", "alerting",
                                              "missing", "worst_aqi", "max_salinity_ppt",
                                              "max_level_m"})
        status, doc = self.get("/api/v1/openapi.json")
        self.assertEqual(status, 200)
        self.assertTrue(doc["openapi"].startswith("3."))
        for p in ("/api/v1/sensors", "/api/v1/sensors/{id}", "/api/v1/sensors/{id}/history",
                  "/api/v1/districts", "/api/v1/alerts", "/api/v1/stream",
                  "/api/v1/openapi.json"):
            self.assertIn(p, doc["paths"])
        with open(os.path.join(os.path.dirname(__file__), "..", "..", "docs", "openapi.json"),
                  encoding="utf-8") as f:
            self.assertEqual(json.load(f), doc)

    # ---- the stream ----

    def test_04_stream_order_alert_and_resume(self):
        s = Stream(self.hub.http_port)
        self.assertEqual(s.status, 200)
        self.assertIn("text/event-stream", s.headers)
        publish_one(self.broker.port, "city/water_quality/phuong-6/wq-1",
                    reading("wq-1", "salinity_ppt", 4.5, now_ms()))
        s.read_until(lambda: any(e["event"] == "alert" for e in s.events), 10)
        kinds = [e["event"] for e in s.events]
        self.assertEqual(kinds[:3], ["reading", "alert", "sensor"], kinds)
        ids = [e["id"] for e in s.events]
        self.assertEqual(ids, list(range(ids[0], ids[0] + len(ids))))
        r, a, st = s.events[:3]
        self.assertEqual(r["data"]["sensor_id"], "wq-1")
        self.assertEqual(r["data"]["kind"], "water_quality")
        self.assertEqual(r["data"]["district"], "phuong-6")
        self.assertEqual(r["data"]["values"], {"salinity_ppt": 4.5})
        self.assertEqual((a["data"]["rule"], a["data"]["state"]), ("salinity_high", "firing"))
        self.assertEqual(st["data"], {"sensor_id": "wq-1", "state": "alerting",
                                      "severity": "major"})
        s.close()
        # the API agrees
        wq = self.get("/api/v1/sensors/wq-1")[1]
        self.assertEqual((wq["state"], wq["severity"]), ("alerting", "major"))
        self.assertEqual([x["rule"] for x in wq["alerts"]], ["salinity_high"])
        alerts = self.get("/api/v1/alerts")[1]
        self.assertEqual(len(alerts["active"]), 1)
        act = alerts["active"][0]
        self.assertEqual((act["rule"], act["sensor_id"], act["severity"], act["value"]),
                         ("salinity_high", "wq-1", "major", 4.5))
        for k in ("level", "since", "labels", "annotations"):
            self.assertIn(k, act)
        self.assertEqual(alerts["recent"][-1]["state"], "firing")
        d = {x["district"]: x for x in self.get("/api/v1/districts")[1]["districts"]}
        self.assertEqual(d["phuong-6"]["alerting"], 1)
        self.assertEqual(d["phuong-6"]["max_salinity_ppt"], {"value": 4.5, "sensor_id": "wq-1"})
        # resume after the first event: the same events again, same ids
        again = Stream(self.hub.http_port, last_id=ids[0])
        again.read_until(lambda: len(again.events) >= 2, 10)
        self.assertEqual(again.events[:2], s.events[1:3])
        again.close()
        # a filter: alerts only, resumed from before the reading
        only = Stream(self.hub.http_port, query="?types=alert", last_id=ids[0] - 1)
        only.read_until(lambda: len(only.events) >= 1, 10)
        self.assertEqual([e["event"] for e in only.events], ["alert"])
        only.close()
        bad = Stream(self.hub.http_port, query="?types=gossip")
        self.assertEqual(bad.status, 400)
        bad.close()
        # clear it again so later tests see the district calm
        publish_one(self.broker.port, "city/water_quality/phuong-6/wq-1",
                    reading("wq-1", "salinity_ppt", 3.0, now_ms()))
        services.wait_until(lambda: self.get("/api/v1/sensors/wq-1")[1]["state"] == "ok", 10,
                            what="wq-1 ok again")

    def test_05_heartbeat(self):
        s = Stream(self.hub.http_port, query="?district=nowhere")
        t = time.monotonic()
        s.read_until(lambda: s.heartbeats >= 2, 5)
        self.assertGreater(time.monotonic() - t, 1.5)  # every live.heartbeat_ms (1 s here)
        s.close()

    def test_06_stalled_client_dropped_others_keep_receiving(self):
        stalled = Stream(self.hub.http_port, rcvbuf=4096)
        live = Stream(self.hub.http_port, query="?types=reading&kind=noise")
        dropped0 = self.hub.metric("cityhub_sse_dropped_total")
        n = 3000
        ts = now_ms()
        lines = [reading("n-1", "laeq_db", 40 + (i % 50), ts - n + i) for i in range(n)]
        base = self.hub.metric('cityhub_records_total{kind="noise"}')
        for k in range(0, n, 500):  # in bursts the broker's queue (1000 by default) takes
            publish_lines(self.broker.port, "city/noise/phuong-4/n-1", lines[k:k + 500])
            services.wait_until(lambda: self.hub.metric('cityhub_records_total{kind="noise"}')
                                >= base + k + 500, 20, what="a burst handled")
        live.read_until(lambda: len(live.events) >= n, 60)
        self.assertEqual([e["data"]["values"]["laeq_db"] for e in live.events[:n]],
                         [40 + (i % 50) for i in range(n)])
        services.wait_until(lambda: self.hub.metric("cityhub_sse_dropped_total") > dropped0, 10,
                            what="the stalled client dropped")
        # the stalled one finds its stream ended once it reads what was buffered
        stalled.sock.setblocking(True)
        stalled.sock.settimeout(10)
        total = 0
        while True:
            try:
                data = stalled.sock.recv(65536)
            except ConnectionResetError:
                break
            if not data:
                break
            total += len(data)
        self.assertLess(total, n * 150)
        stalled.close()
        live.close()

    def test_07_two_hundred_clients(self):
        services.wait_until(lambda: self.hub.metric("cityhub_sse_clients") == 0, 10,
                            what="earlier clients gone")
        clients = []
        for _ in range(200):
            clients.append(Stream(self.hub.http_port, query="?types=reading&district=phuong-9",
                                  read=False))
        sel = selectors.DefaultSelector()
        for c in clients:
            sel.register(c.sock, selectors.EVENT_READ, c)
        deadline = time.monotonic() + 30
        while any(c.status is None for c in clients) and time.monotonic() < deadline:
            for key, _ in sel.select(0.5):
                key.data.feed(key.data.sock.recv(65536))
        self.assertTrue(all(c.status == 200 for c in clients))
        services.wait_until(lambda: self.hub.metric("cityhub_sse_clients") == 200, 10,
                            what="200 clients counted")
        publish_one(self.broker.port, "city/noise/phuong-9/n-9",
                    reading("n-9", "laeq_db", 77.0, now_ms()))
        deadline = time.monotonic() + 20
        while (any(not c.events for c in clients) and time.monotonic() < deadline):
            for key, _ in sel.select(0.5):
                key.data.feed(key.data.sock.recv(65536))
        got = sum(1 for c in clients if c.events and c.events[0]["data"]["sensor_id"] == "n-9")
        self.assertEqual(got, 200)
        for c in clients:
            sel.unregister(c.sock)
            c.close()
        services.wait_until(lambda: self.hub.metric("cityhub_sse_clients") == 0, 15,
                            what="clients gone")

    # ---- history ----

    def test_08_history(self):
        def h(query):
            return self.get("/api/v1/sensors/wl-1/history?" + query)

        services.wait_until(lambda: len(h("field=level_m&since=1h&step=10m")[1]
                                        .get("points", [])) == 6, 20, what="history points")
        status, body = h("field=level_m&since=1h&step=10m")
        self.assertEqual(status, 200)
        self.assertEqual((body["sensor_id"], body["field"], body["unit"]),
                         ("wl-1", "level_m", "m"))
        self.assertEqual([round(p[1], 6) for p in body["points"]],
                         [1.0, 1.1, 1.2, 1.3, 1.4, 1.5])
        self.assertTrue(all(p[0].endswith("Z") for p in body["points"]))
        # an RFC 3339 since; the default step
        since = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 3600))
        status, body = h("field=level_m&since=" + urllib.parse.quote(since))
        self.assertEqual(status, 200)
        self.assertAlmostEqual(sum(p[1] for p in body["points"]), 7.5)
        for query, code in (("field=flow_rate", 400), ("field=level_m&since=8d", 400),
                            ("field=level_m&step=5s", 400), ("", 400),
                            ("field=level_m&since=yesterday", 400),
                            ("field=level_m%22%20OR%201=1", 400), ("field=lat", 400),
                            ("field=level_m&colour=red", 400)):
            status, body = h(query)
            self.assertEqual(status, code, query)
            self.assertIn("error", body)
        status, _ = self.get("/api/v1/sensors/nobody/history?field=level_m")
        self.assertEqual(status, 404)
        # a step too small for the span is raised to keep 2,000 points at most
        status, body = h("field=level_m&since=7d&step=10s")
        self.assertEqual((status, body["step_s"]), (200, 303))

    def test_09_restart_keeps_the_screen(self):
        before = {s["id"]: s for s in self.get("/api/v1/sensors")[1]["sensors"]}
        watching = [Stream(self.hub.http_port) for _ in range(3)]  # streams end on SIGTERM
        code, took = self.hub.stop()
        self.assertEqual(code, 0)
        self.assertLess(took, 6)
        for w in watching:
            w.read_until(lambda w=w: w.closed, 5)
            w.close()
        self.hub.start(wait_ready=False)
        services.wait_until(lambda: self.hub.http("/healthz")[0] == 200, 20, what="hub up")
        after = {s["id"]: s for s in self.get("/api/v1/sensors")[1]["sensors"]}
        for sid in ("wl-1", "wq-1", "n-1"):
            self.assertEqual(after[sid]["values"], before[sid]["values"], sid)
            self.assertEqual(after[sid]["last_seen"], before[sid]["last_seen"], sid)
        self.assertEqual(after["aq-never"]["state"], "missing")
        services.wait_until(self.hub.ready, 20, what="hub ready")

    def test_10_store_down_503(self):
        self.influx.stop()
        t = time.monotonic()
        status, body = self.get("/api/v1/sensors/wl-1/history?field=level_m")
        self.assertEqual(status, 503)
        self.assertTrue(body["error"].startswith("store unavailable: "), body)
        self.assertLess(time.monotonic() - t, 8)
        self.influx.start()


if __name__ == "__main__":
    unittest.main(verbosity=2)
