#!/usr/bin/env python3
"""A stand-in for the hub's /api/v1 and dashboard, to develop and test web/ without the hub.

Serves the files of web/ like the hub does and the /api/v1 shapes of docs/operations.md
(sensors, districts, alerts, history, the server-sent event stream). Sensors come from the
pilot's scenario (simulator/scenarios/mytho.yaml) or are made up (--synthetic N, for load).
Readings arrive from a real broker (--mqtt-port: it runs mosquitto_sub on city/#, native
payloads), from --demo (random readings for every sensor every few seconds), or from
POST /_stub/reading; alerts from POST /_stub/alert (an `alert` event JSON). Standard library
only; prints the port on stdout once it serves. Stop it with SIGTERM.
"""
import argparse
import ctypes
import ctypes.util
import json
import math
import os
import queue
import random
import re
import signal
import subprocess
import sys
import threading
import time
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote, urlparse

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
TYPES = {".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8",
         ".css": "text/css; charset=utf-8", ".svg": "image/svg+xml"}
UNITS = {"pm1": "ug/m3", "pm25": "ug/m3", "pm10": "ug/m3", "no2": "ug/m3", "o3": "ug/m3",
         "co": "ug/m3", "temperature_c": "Cel", "humidity": "/", "salinity_ppt": "g/l",
         "level_m": "m", "flow_m3s": "m3/s", "vehicle_count": "count", "avg_speed_kmh": "km/h",
         "occupancy": "/", "laeq_db": "dB", "lamax_db": "dB", "rain_mm": "mm",
         "wind_speed_ms": "m/s", "aqi": "1", "conductivity_us_cm": "uS/cm"}
DEMO = {"air_quality": {"pm25": (20, 60), "pm10": (30, 90), "temperature_c": (27, 33),
                        "humidity": (0.6, 0.9)},
        "water_level": {"level_m": (-0.3, 1.45), "flow_m3s": (1000, 4000)},
        "water_quality": {"salinity_ppt": (0.3, 1.6), "temperature_c": (27, 30)},
        "traffic_flow": {"vehicle_count": (5, 60), "avg_speed_kmh": (12, 40),
                         "occupancy": (0.05, 0.5)},
        "noise": {"laeq_db": (50, 72), "lamax_db": (65, 90)},
        "weather": {"temperature_c": (26, 34), "humidity": (0.55, 0.95), "rain_mm": (0, 2),
                    "wind_speed_ms": (0.5, 6)}}
NAMES_VI = {"traffic_flow": "Nút giao", "air_quality": "Trạm không khí", "noise": "Trạm tiếng ồn",
            "weather": "Trạm thời tiết", "water_level": "Trạm mực nước",
            "water_quality": "Trạm chất lượng nước"}
NAMES_EN = {"traffic_flow": "Intersection", "air_quality": "Air station", "noise": "Noise station",
            "weather": "Weather station", "water_level": "Level gauge",
            "water_quality": "Water-quality station"}


def iso(t):
    return datetime.fromtimestamp(t, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def scenario_sensors(path):
    """The sensors of a scenario file (flow mappings with id, kind, district, lat, lon)."""
    with open(path, encoding="utf-8") as f:
        text = f.read().split("\nscenarios:")[0]
    out = []
    for m in re.finditer(r"\{id: ([\w-]+), kind: (\w+), district: ([\w-]+),\s*lat: ([\d.]+),"
                         r"\s*lon: ([\d.]+),\s*interval_s: (\d+)", text):
        sid, kind, district, lat, lon, interval = m.groups()
        out.append({"id": sid, "kind": kind, "district": district, "lat": float(lat),
                    "lon": float(lon), "interval_s": int(interval)})
    return out


def pm25_aqi(pm):
    """VN_AQI of one PM2.5 value (Decision 1459/QD-TCMT breakpoints; the hub uses NowCast)."""
    bp = [(0, 0), (25, 50), (50, 100), (80, 150), (150, 200), (250, 300), (350, 400), (500, 500)]
    for (c0, i0), (c1, i1) in zip(bp, bp[1:]):
        if pm <= c1:
            return round(i0 + (i1 - i0) * (pm - c0) / (c1 - c0))
    return 500


class State:
    def __init__(self, sensors):
        self.lock = threading.Lock()
        self.sensors = {}
        self.alerts = {}
        self.recent = []
        self.clients = []
        self.next_id = 1
        self.ring = []
        for s in sensors:
            s.update({"tags": {}, "state": "missing", "severity": None, "last_seen": None,
                      "last_ts": None, "values": {}, "msgs_1h": 0, "rejects_1h": 0,
                      "name_vi": "%s %s" % (NAMES_VI.get(s["kind"], ""), s["id"]),
                      "name_en": "%s %s" % (NAMES_EN.get(s["kind"], ""), s["id"])})
            self.sensors[s["id"]] = s

    def emit(self, event, data):
        with self.lock:
            eid = self.next_id
            self.next_id += 1
            msg = "id: %d\nevent: %s\ndata: %s\n\n" % (eid, event, json.dumps(data))
            self.ring = (self.ring + [(eid, msg)])[-5000:]
            for q in self.clients:
                q.put(msg)

    def reading(self, sid, kind, district, ts, fields):
        with self.lock:
            s = self.sensors.get(sid)
            if s is None:
                s = {"id": sid, "kind": kind, "district": district, "tags": {}, "lat": None,
                     "lon": None, "name_vi": sid, "name_en": sid, "state": "ok",
                     "severity": None, "values": {}, "msgs_1h": 0, "rejects_1h": 0,
                     "interval_s": None}
                self.sensors[sid] = s
            values = {f: {"value": v, "unit": UNITS.get(f, ""), "ts": ts} for f, v in fields.items()}
            s["values"].update(values)
            s["last_ts"] = ts
            s["last_seen"] = iso(time.time())
            s["msgs_1h"] += 1
            changed = s["state"] in ("missing", "stale")
            if changed:
                s["state"] = "ok"
        self.emit("reading", {"sensor_id": sid, "kind": s["kind"], "district": s["district"],
                              "ts": ts, "values": values})
        if changed:
            self.emit("sensor", {"sensor_id": sid, "state": "ok", "severity": None})

    def alert(self, ev):
        key = (ev["rule"], ev["sensor_id"], ev.get("level"))
        with self.lock:
            if ev["state"] == "firing":
                self.alerts[key] = {"rule": ev["rule"], "sensor_id": ev["sensor_id"],
                                    "level": ev.get("level"), "severity": ev["severity"],
                                    "since": ev["at"], "value": ev.get("value"),
                                    "labels": ev.get("labels", {}),
                                    "annotations": ev.get("annotations", {})}
            else:
                self.alerts.pop(key, None)
            self.recent = (self.recent + [ev])[-50:]
            s = self.sensors.get(ev["sensor_id"])
            active = [a for a in self.alerts.values() if a["sensor_id"] == ev["sensor_id"]]
            if s is not None:
                s["state"] = "alerting" if active else "ok"
                order = ["critical", "major", "warning", "info"]
                s["severity"] = min((a["severity"] for a in active), key=order.index,
                                    default=None)
        self.emit("alert", ev)
        if s is not None:
            self.emit("sensor", {"sensor_id": s["id"], "state": s["state"],
                                 "severity": s["severity"]})

    def districts(self):
        out = {}
        with self.lock:
            for s in self.sensors.values():
                d = out.setdefault(s["district"], {"district": s["district"], "sensors": 0, "ok": 0,
                                                   "stale": 0, "alerting": 0, "missing": 0,
                                                   "worst_aqi": None, "max_salinity_ppt": None,
                                                   "max_level_m": None})
                d["sensors"] += 1
                d[s["state"]] += 1
                for field, key in (("salinity_ppt", "max_salinity_ppt"), ("level_m", "max_level_m")):
                    v = s["values"].get(field, {}).get("value")
                    if v is not None and (d[key] is None or v > d[key]["value"]):
                        d[key] = {"value": v, "sensor_id": s["id"]}
                pm = s["values"].get("pm25", {}).get("value")
                if pm is not None:
                    aqi = pm25_aqi(pm)
                    if d["worst_aqi"] is None or aqi > d["worst_aqi"]["value"]:
                        d["worst_aqi"] = {"value": aqi, "category": 0, "category_name": "",
                                          "sensor_id": s["id"]}
        return sorted(out.values(), key=lambda d: d["district"])


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    state = None

    def log_message(self, fmt, *args):
        pass

    def send(self, status, body, ctype="application/json"):
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "no-cache")
        # the hub's policy (hub/http.c), so a page that breaks it fails here too
        self.send_header("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; "
                         "object-src 'none'; base-uri 'none'; frame-ancestors 'none'")
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        url = urlparse(self.path)
        path, q = url.path, parse_qs(url.query)
        st = self.state
        if path == "/api/v1/sensors":
            with st.lock:
                body = json.loads(json.dumps(list(st.sensors.values())))
            return self.send(200, {"count": len(body), "sensors": body})
        if path == "/api/v1/districts":
            return self.send(200, {"districts": st.districts()})
        if path == "/api/v1/alerts":
            with st.lock:
                return self.send(200, {"active": list(st.alerts.values()), "recent": st.recent})
        m = re.match(r"^/api/v1/sensors/([^/]+)/history$", path)
        if m:
            return self.history(unquote(m.group(1)), q.get("field", [""])[0])
        if path == "/api/v1/stream":
            return self.stream()
        name = "index.html" if path == "/" else path.lstrip("/")
        full = os.path.join(ROOT, "web", name)
        if "/" not in name and os.path.splitext(name)[1] in TYPES and os.path.isfile(full):
            with open(full, "rb") as f:
                return self.send(200, f.read(), TYPES[os.path.splitext(name)[1]])
        return self.send(404, {"error": "not found"})

    def history(self, sid, field):
        s = self.state.sensors.get(sid)
        if s is None:
            return self.send(404, {"error": "no such sensor"})
        lo, hi = DEMO.get(s["kind"], {}).get(field, (0, 1))
        now = time.time() - time.time() % 900
        rnd = random.Random(sid + field)
        phase = rnd.random() * 6.28
        pts = [[iso(now - 86400 + i * 900),
                round(lo + (hi - lo) * (0.5 + 0.4 * math.sin(phase + i / 96 * 6.28 * 2)
                                        + 0.1 * rnd.random()), 3)] for i in range(97)]
        return self.send(200, {"sensor_id": sid, "field": field, "unit": UNITS.get(field, ""),
                               "points": pts})

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
        if self.path == "/_stub/alert":
            self.state.alert(body)
        elif self.path == "/_stub/reading":
            self.state.reading(body["sensor_id"], body.get("kind"), body.get("district"),
                               body.get("ts") or iso(time.time()), body["fields"])
        else:
            return self.send(404, {"error": "not found"})
        return self.send(200, {"ok": True})

    def stream(self):
        q = queue.Queue(maxsize=10000)
        last = int(self.headers.get("Last-Event-ID") or 0)
        with self.state.lock:
            for eid, msg in self.state.ring:
                if last and eid > last:
                    q.put(msg)
            self.state.clients.append(q)
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        try:
            self.wfile.write(b": hello\n\n")
            self.wfile.flush()
            while True:
                try:
                    msg = q.get(timeout=15)
                except queue.Empty:
                    msg = ": heartbeat\n\n"
                self.wfile.write(msg.encode())
                self.wfile.flush()
        except OSError:
            pass
        finally:
            with self.state.lock:
                self.state.clients.remove(q)
            self.close_connection = True


CHILDREN = []


def on_sigterm(*_):
    for proc in CHILDREN:
        proc.kill()
    os._exit(0)


def die_with_parent():
    """Runs in the child before exec: SIGKILL when the stub dies (PR_SET_PDEATHSIG)."""
    libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
    libc.prctl(1, signal.SIGKILL, 0, 0, 0)


def follow_mqtt(state, port):
    """Turns native payloads on city/{kind}/{district}/{sensor_id} into readings."""
    proc = subprocess.Popen(["mosquitto_sub", "-p", str(port), "-v", "-t", "city/#"],
                            stdout=subprocess.PIPE, text=True, preexec_fn=die_with_parent)
    CHILDREN.append(proc)
    for line in proc.stdout:
        topic, _, payload = line.rstrip("\n").partition(" ")
        parts = topic.split("/")
        try:
            msg = json.loads(payload)
            ts = msg.get("ts", msg.get("time"))
            ts = iso(ts / 1000) if isinstance(ts, (int, float)) else ts or iso(time.time())
            state.reading(msg.get("sensor_id") or parts[3], parts[1], parts[2], ts, msg["fields"])
        except (ValueError, KeyError, IndexError):
            continue


def demo(state, period):
    """Every sensor reads at once, then each every `period` seconds, spread over the period."""
    rnd = random.Random(1)
    first = True
    while True:
        for s in list(state.sensors.values()):
            fields = {f: round(rnd.uniform(lo, hi), 3) for f, (lo, hi) in DEMO.get(s["kind"], {}).items()}
            if fields:
                state.reading(s["id"], s["kind"], s["district"], iso(time.time()), fields)
            if not first:
                time.sleep(period / max(1, len(state.sensors)))
        first = False


def showcase(state):
    """A scene for the README's screenshot: a river at alert level III, salt at an intake, haze
    at the bus station (summaries as rules/mytho.yaml writes them)."""
    now = time.time()
    state.reading("wl-tien-mytho", None, None, iso(now), {"level_m": 1.63, "flow_m3s": 3850})
    state.reading("wq-binhduc-intake", None, None, iso(now), {"salinity_ppt": 1.42,
                                                               "temperature_c": 28.6})
    state.reading("aq-busstation", None, None, iso(now), {"pm25": 118, "pm10": 165,
                                                           "temperature_c": 29.1, "humidity": 0.71})
    state.alert({"id": "1", "rule": "salinity_domestic", "sensor_id": "wq-binhduc-intake",
                 "state": "firing", "severity": "warning", "at": iso(now - 38 * 60), "value": 1.42,
                 "labels": {"team": "water"}, "annotations": {
                     "summary_vi": "Độ mặn 1.42 g/L tại wq-binhduc-intake (trung-an) vượt 1 g/L: "
                                   "ngừng lấy nước sinh hoạt, không tưới cây ăn trái",
                     "summary_en": "Salinity 1.42 g/L at wq-binhduc-intake (trung-an) above 1 g/L: "
                                   "stop raw-water intake for domestic supply, do not irrigate "
                                   "orchards"}})
    state.alert({"id": "2", "rule": "river_level", "sensor_id": "wl-tien-mytho", "level": "III",
                 "state": "firing", "severity": "critical", "at": iso(now - 6 * 60), "value": 1.63,
                 "labels": {"team": "water"}, "annotations": {
                     "summary_vi": "Mực nước sông Tiền tại wl-tien-mytho 1.63 m, trên mức báo "
                                   "động III",
                     "summary_en": "Tien River level at wl-tien-mytho 1.63 m, above alert level "
                                   "III"}})


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--scenario", default=os.path.join(ROOT, "simulator", "scenarios", "mytho.yaml"))
    ap.add_argument("--synthetic", type=int, default=0, help="add N made-up sensors")
    ap.add_argument("--mqtt-port", type=int)
    ap.add_argument("--demo", type=float, default=0, help="every sensor reads every N s")
    ap.add_argument("--showcase", action="store_true", help="the README screenshot's alerts")
    a = ap.parse_args()
    sensors = scenario_sensors(a.scenario)
    rnd = random.Random(7)
    kinds = list(DEMO)
    for i in range(a.synthetic):
        sensors.append({"id": "syn-%04d" % i, "kind": kinds[i % len(kinds)],
                        "district": "phuong-%d" % (1 + i % 10), "lat": rnd.uniform(10.352, 10.372),
                        "lon": rnd.uniform(106.338, 106.39), "interval_s": 5})
    Handler.state = State(sensors)
    signal.signal(signal.SIGTERM, on_sigterm)
    srv = ThreadingHTTPServer(("127.0.0.1", a.port), Handler)
    srv.daemon_threads = True
    if a.mqtt_port:
        threading.Thread(target=follow_mqtt, args=(Handler.state, a.mqtt_port), daemon=True).start()
    if a.demo:
        threading.Thread(target=demo, args=(Handler.state, a.demo), daemon=True).start()
        time.sleep(0.5)
    if a.showcase:
        showcase(Handler.state)
    print(srv.server_address[1], flush=True)
    srv.serve_forever()


if __name__ == "__main__":
    main()
