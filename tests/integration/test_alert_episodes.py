"""The simulator's alert episodes (docs/simulator.md, "Alert episodes") against the My Tho rule
pack, end to end: cityhub-sim -> mosquitto -> cityhub (alerts.rule_files: [rules/mytho.yaml])
-> prometheus-alertmanager and the MQTT event stream, plus the store's `alerts` measurement.

The event-time episodes (salinity_intrusion, spring_tide_flood, smog, congestion) run at
`--speed 7200` side by side (one sensor each, so they cannot disturb one another): the exact
transitions of docs/simulator.md, to the nanosecond. `sensor_dark` runs at `--speed 1200` beside
them: `sensor_silent` is judged on the hub's receive clock, so the test adds one rule of its own
(EXTRA_RULES: the pack's rule with `min_silence: 2s`, on wx-center only) and checks it against the
wall clock within a tolerance; the pack's own 2-minute `sensor_silent` must not fire at all while
the test reads (every phase ends well within 2 minutes of its first sensor falling silent).

Three runs: with the store up; with the store down throughout; and with two SIGKILLs of the hub
in the middle of the event-time episodes (sensor_dark is left out of that run: a restart makes
the broker deliver the backlog in one burst, which changes receive gaps, the very thing the
stale rule learns from). Each asserts the same transitions, no event id twice, and the alerts
still active in Alertmanager.
"""
import json
import os
import re
import shutil
import subprocess
import tempfile
import threading
import time
import unittest
from datetime import datetime, timezone

from common import ROOT, SIM_BIN, new_hub, series_values, services
from tests.lib.hub import unreachable_sinks

PACK = os.path.join(ROOT, "rules", "mytho.yaml")
SCENARIOS = os.path.join(ROOT, "simulator", "scenarios", "mytho.yaml")
SPEED = 7200         # event-time episodes: the longest (smog, 36 h) takes 18 s
DARK_SPEED = 1200    # sensor_dark, 5 h in 15 s; silences of 0.25-9.25 s wall
MIN_SILENCE_S = 2.0  # EXTRA_RULES' min_silence
EVENT_EPISODES = ["salinity_intrusion", "spring_tide_flood", "smog", "congestion"]

EXTRA_RULES = """rules:
  # The pack's sensor_silent with a min_silence that fits the test's speed (docs/simulator.md).
  - name: sensor_silent_fast
    type: stale
    kind: weather
    sensor: wx-center
    factor: 3
    interval: 0
    min_silence: 2s
    severity: warning
    labels: {team: operations}
"""

# The formats of the episodes' sensors (scripts/pilot.yaml.in has the same routes).
ROUTES = [
    {"filter": "city/#", "adapter": "native", "template": "city/{kind}/{district}/{sensor_id}"},
    {"filter": "ngsi/#", "adapter": "ngsi", "template": "ngsi/{district}/{sensor_id}"},
] + [{"filter": f"senml/+/{sid}", "adapter": "senml", "kind": kind,
      "template": "senml/{district}/{sensor_id}", "options": {"sensor_id_from": "topic"}}
     for sid, kind in (("aq-busstation", "air_quality"), ("tf-30thang4-leloi", "traffic_flow"),
                       ("wx-phuong10", "weather"))]

# docs/simulator.md, "Alert episodes": (rule, sensor, state, level, at), resolved listed first.
EXPECTED_DOC = [
    ("salinity_domestic", "wq-binhduc-intake", "firing", None, "2026-03-09T20:36:47.625Z"),
    ("salinity_rice", "wq-binhduc-intake", "firing", None, "2026-03-09T23:46:47.625Z"),
    ("salinity_rice", "wq-binhduc-intake", "resolved", None, "2026-03-10T02:46:47.625Z"),
    ("salinity_domestic", "wq-binhduc-intake", "resolved", None, "2026-03-10T14:56:47.625Z"),
    ("river_rising_fast", "wl-tien-mytho", "firing", None, "2026-10-20T07:27:18.833Z"),
    ("river_level", "wl-tien-mytho", "firing", "I", "2026-10-20T09:42:18.833Z"),
    ("river_level", "wl-tien-mytho", "resolved", "I", "2026-10-20T09:52:18.833Z"),
    ("river_level", "wl-tien-mytho", "firing", "II", "2026-10-20T09:52:18.833Z"),
    ("river_level", "wl-tien-mytho", "resolved", "II", "2026-10-20T10:02:18.833Z"),
    ("river_level", "wl-tien-mytho", "firing", "III", "2026-10-20T10:02:18.833Z"),
    ("river_rising_fast", "wl-tien-mytho", "resolved", None, "2026-10-20T10:32:18.833Z"),
    ("river_level", "wl-tien-mytho", "resolved", "III", "2026-10-20T10:37:18.833Z"),
    ("river_level", "wl-tien-mytho", "firing", "II", "2026-10-20T10:37:18.833Z"),
    ("river_level", "wl-tien-mytho", "resolved", "II", "2026-10-20T10:57:18.833Z"),
    ("river_level", "wl-tien-mytho", "firing", "I", "2026-10-20T10:57:18.833Z"),
    ("river_level", "wl-tien-mytho", "resolved", "I", "2026-10-20T11:17:18.833Z"),
    ("aqi_vn", "aq-busstation", "firing", "Kem", "2026-03-10T06:00:00Z"),
    ("aqi_vn", "aq-busstation", "resolved", "Kem", "2026-03-10T08:00:00Z"),
    ("aqi_vn", "aq-busstation", "firing", "Xau", "2026-03-10T08:00:00Z"),
    ("pm25_24h", "aq-busstation", "firing", None, "2026-03-10T08:32:30.880Z"),
    ("aqi_vn", "aq-busstation", "resolved", "Xau", "2026-03-11T00:00:00Z"),
    ("aqi_vn", "aq-busstation", "firing", "Kem", "2026-03-11T00:00:00Z"),
    ("aqi_vn", "aq-busstation", "resolved", "Kem", "2026-03-11T02:00:00Z"),
    ("traffic_occupancy", "tf-30thang4-leloi", "firing", None, "2026-03-10T07:12:52.098Z"),
    ("traffic_slow", "tf-30thang4-leloi", "firing", None, "2026-03-10T07:12:52.098Z"),
    ("traffic_occupancy", "tf-30thang4-leloi", "resolved", None, "2026-03-10T07:51:52.098Z"),
    ("traffic_slow", "tf-30thang4-leloi", "resolved", None, "2026-03-10T07:51:52.098Z"),
]
SEVERITY = {"salinity_domestic": "warning", "salinity_rice": "major", "river_rising_fast": "info",
            "pm25_24h": "major", "traffic_occupancy": "warning", "traffic_slow": "warning",
            ("river_level", "I"): "warning", ("river_level", "II"): "major",
            ("river_level", "III"): "critical", ("aqi_vn", "Kem"): "warning",
            ("aqi_vn", "Xau"): "major"}
DISTRICT = {}  # sensor -> district, read from the scenario file


def rfc3339_ns(s):
    """RFC 3339 UTC time with an optional fraction -> integer nanoseconds, exactly."""
    m = re.fullmatch(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d{1,9}))?(?:Z|\+00:00)", s)
    if not m:
        raise ValueError("unexpected time " + s)
    secs = int(datetime.strptime(m.group(1), "%Y-%m-%dT%H:%M:%S")
               .replace(tzinfo=timezone.utc).timestamp())
    return secs * 10**9 + int((m.group(2) or "").ljust(9, "0"))


EXPECTED = sorted((r, s, st, lv, rfc3339_ns(at)) for r, s, st, lv, at in EXPECTED_DOC)
STILL_FIRING = {("pm25_24h", "aq-busstation", None): rfc3339_ns("2026-03-10T08:32:30.880Z")}


def key(ev):
    return (ev["rule"], ev["sensor_id"], ev["state"], ev.get("level"), ev["at_ns"])


def read_districts():
    with open(SCENARIOS, encoding="utf-8") as f:
        text = f.read()
    for sid, district in re.findall(r"\{id: (\S+), kind: \S+, district: (\S+),", text):
        DISTRICT[sid] = district


class EventStream:
    """mosquitto_sub on cityhub/alerts/events: every event the MQTT notifier sent."""

    def __init__(self, broker):
        self.proc = subprocess.Popen(["mosquitto_sub", "-p", str(broker.port), "-q", "1",
                                      "-i", "episodes-events", "-c",
                                      "-t", "cityhub/alerts/events"], stdout=subprocess.PIPE,
                                     text=True)
        self.events = []
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()
        time.sleep(0.3)

    def _read(self):
        for line in self.proc.stdout:
            if line.strip():
                self.events.append(json.loads(line))

    def close(self):
        self.proc.terminate()
        self.proc.wait(timeout=10)
        self.thread.join(timeout=10)
        self.proc.stdout.close()
        return list(self.events)


class AmWatch:
    """Polls Alertmanager's /api/v2/alerts while an episode runs: every active alert seen."""

    def __init__(self, am):
        self.am, self.seen, self.stop_ev = am, set(), threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        while not self.stop_ev.is_set():
            for a in active(self.am).values():
                lb = a["labels"]
                self.seen.add((lb["alertname"], lb["sensor_id"], lb.get("level"),
                               rfc3339_ns(a["startsAt"])))
            self.stop_ev.wait(0.1)

    def close(self):
        self.stop_ev.set()
        self.thread.join(timeout=10)
        return self.seen


def active(am):
    """Active alerts as {(alertname, sensor_id, level): alert}."""
    out = {}
    for a in am.alerts():
        lb = a["labels"]
        if a["status"]["state"] == "active":
            out[(lb["alertname"], lb["sensor_id"], lb.get("level"))] = a
    return out


def run_sim(broker, scenario, speed, tag):
    """Starts cityhub-sim on one episode; returns the process (stdout: the summary)."""
    return subprocess.Popen([SIM_BIN, "--broker", f"tcp://127.0.0.1:{broker.port}",
                             "--scenario-file", SCENARIOS, "--scenario", scenario,
                             "--speed", str(speed),
                             "--client-id", f"sim-{tag}-{scenario}"],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)


class Episodes(unittest.TestCase):
    maxDiff = None

    @classmethod
    def setUpClass(cls):
        read_districts()

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="cityhub-episodes-")
        self.broker = services.Mosquitto().start()
        self.am = services.Alertmanager().start()
        extra = os.path.join(self.tmp, "extra-rules.yaml")
        with open(extra, "w", encoding="utf-8") as f:
            f.write(EXTRA_RULES)
        self.alerts_cfg = {"rule_files": [PACK, extra], "snapshot_ms": 200}
        self.notifiers = [{"name": "am", "type": "alertmanager", "urls": [self.am.url],
                           "resend_ms": "2s", "retry_base_ms": 50, "retry_cap_ms": 500},
                          {"name": "events", "type": "mqtt", "topic_prefix": "cityhub"}]
        self.stream = EventStream(self.broker)
        self.watch = AmWatch(self.am)

    def tearDown(self):
        self.watch.close()
        self.stream.close()
        self.am.close()
        self.broker.close()
        if os.environ.get("KEEP_TMP"):
            print("kept", self.tmp)
        else:
            shutil.rmtree(self.tmp, ignore_errors=True)

    def hub(self, influx=None, sinks=None):
        return new_hub(self.tmp, self.broker, influx, sinks=sinks, routes=ROUTES,
                       config={"alerts": self.alerts_cfg, "notifiers": self.notifiers})

    def finish_sims(self, sims):
        for p in sims:
            out, _ = p.communicate(timeout=120)
            self.assertEqual(p.returncode, 0, out)
            summary = json.loads(out.strip().splitlines()[-1])
            self.assertEqual(summary["publish"]["failed"], 0, summary)
            self.assertEqual(summary["publish"]["acked"], summary["publish"]["sent"], summary)

    def wait_delivered(self, hub, n):
        """Waits for n transitions, every one sent to MQTT and Alertmanager."""
        services.wait_until(lambda: len(self.stream.events) >= n and
                            hub.metric_sum("cityhub_notify_queue") == 0, 30,
                            what=f"{n} events delivered (have {len(self.stream.events)})")

    def check_events(self, events, t_dark=None):
        """The exact transitions; the receive-clock ones of sensor_dark within tolerance."""
        ids = [e["id"] for e in events]
        self.assertEqual([e["id"] for e in events if ids.count(e["id"]) > 1], [],
                         "an event id was sent twice")
        for e in events:
            sev = SEVERITY.get((e["rule"], e.get("level")), SEVERITY.get(e["rule"], "warning"))
            self.assertEqual(e["severity"], sev, e)
            if e["rule"] != "sensor_silent_fast":
                self.assertEqual(e["labels"]["district"], DISTRICT[e["sensor_id"]], e)
        got = sorted(key(e) for e in events if e["rule"] != "sensor_silent_fast")
        self.assertEqual(got, EXPECTED)
        self.check_labels_and_times(events)
        fast = [e for e in events if e["rule"] == "sensor_silent_fast"]
        if t_dark is None:
            self.assertEqual(fast, [])
            return
        self.check_dark(fast, t_dark)

    def check_labels_and_times(self, events):
        """Labels name the instance; a resolve carries its firing's start and ends at its own
        time (what Alertmanager matches and shows)."""
        started = {}
        for e in sorted(events, key=lambda e: (e["at_ns"], e["state"] == "firing")):
            lb = e["labels"]
            self.assertEqual((lb["alertname"], lb["sensor_id"], lb.get("level"), lb["severity"]),
                             (e["rule"], e["sensor_id"], e.get("level"), e["severity"]), e)
            inst = (e["rule"], e["sensor_id"], e.get("level"))
            self.assertEqual(rfc3339_ns(e["at"]), e["at_ns"], e)
            if e["state"] == "firing":
                self.assertEqual(rfc3339_ns(e["starts_at"]), e["at_ns"], e)
                self.assertNotIn("ends_at", e)
                started[inst] = e["at_ns"]
            else:
                self.assertEqual(rfc3339_ns(e["starts_at"]), started.pop(inst), e)
                self.assertEqual(rfc3339_ns(e["ends_at"]), e["at_ns"], e)

    def check_dark(self, fast, t_dark):
        """sensor_dark at DARK_SPEED, started at wall time t_dark (ns): the outage fires
        MIN_SILENCE_S after its last reading and resolves with the next one; the end of the run
        fires once more."""
        self.assertEqual([(e["sensor_id"], e["state"]) for e in fast],
                         [("wx-center", "firing"), ("wx-center", "resolved"),
                          ("wx-center", "firing")], fast)
        fire1, resolve, fire2 = (e["at_ns"] for e in fast)
        self.assertEqual(fast[0]["value"], MIN_SILENCE_S)
        self.assertEqual(fast[2]["value"], MIN_SILENCE_S)
        wall = lambda sim_s: t_dark + int(sim_s / DARK_SPEED * 1e9)  # noqa: E731
        last, back = 59 * 60 + 32.764, 4 * 3600 + 4 * 60 + 32.764      # from 01:00Z
        tol = int(1.5e9)
        self.assertLess(abs(fire1 - (wall(last) + int(MIN_SILENCE_S * 1e9))), tol, fast)
        self.assertLess(abs(resolve - wall(back)), tol, fast)
        self.assertGreater(resolve, fire1)
        self.assertGreater(fire2, wall(4 * 3600 + 54 * 60 + 32.764))

    def check_am(self, seen, t_dark=None):
        """Alertmanager: what is active at the end, and nothing ever active that did not fire."""
        want = dict(STILL_FIRING)
        if t_dark is not None:
            want[("sensor_silent_fast", "wx-center", None)] = None
        services.wait_until(lambda: set(active(self.am)) == set(want), 15,
                            what=f"Alertmanager active set {sorted(map(str, want))}")
        got = active(self.am)
        for k, starts in want.items():
            if starts is not None:
                self.assertEqual(rfc3339_ns(got[k]["startsAt"]), starts, got[k])
        a = got[("pm25_24h", "aq-busstation", None)]
        self.assertEqual(a["labels"]["severity"], "major")
        self.assertEqual(a["labels"]["team"], "environment")
        self.assertIn("QCVN 05:2023/BTNMT", a["annotations"]["summary_en"])
        firings = {(r, s, lv, at) for r, s, st, lv, at in EXPECTED if st == "firing"}
        extra = {x for x in seen if x[0] != "sensor_silent_fast"} - firings
        self.assertEqual(extra, set(), "Alertmanager showed alerts that never fired")

    def check_store(self, influx, events):
        def rows():
            return series_values(influx, 'SELECT "state", "event_id", "level", "sensor_id", '
                                 '"rule" FROM "alerts"')
        services.wait_until(lambda: len(rows()) == len(events), 20,
                            what=f"{len(events)} alerts points in influxd")
        got = sorted((r[2]["rule"], r[2]["sensor_id"], r[2]["state"], r[2]["level"],
                      r[2]["time"], r[2]["event_id"]) for r in rows())
        want = sorted((e["rule"], e["sensor_id"], e["state"], e.get("level"),
                       e["at_ns"] // 10**6 * 10**6, e["id"]) for e in events)
        self.assertEqual(got, want)

    def test_episodes_store_up(self):
        influx = services.Influxd().start()
        influx.create_db("city")
        try:
            hub = self.hub(influx).start()
            t_dark = time.time_ns()
            sims = [run_sim(self.broker, "sensor_dark", DARK_SPEED, "up")]
            sims += [run_sim(self.broker, e, SPEED, "up") for e in EVENT_EPISODES]
            self.finish_sims(sims)
            self.wait_delivered(hub, len(EXPECTED) + 3)
            events = list(self.stream.events)
            self.check_events(events, t_dark)
            self.check_am(self.watch.close(), t_dark)
            self.check_store(influx, events)
            self.assertEqual(hub.metric("cityhub_alert_transitions_total"), len(events))
            hub.stop()
        finally:
            influx.close()

    def test_episodes_store_down(self):
        hub = self.hub(sinks=unreachable_sinks())
        hub.start(wait_ready=False)
        services.wait_until(lambda: hub.http("/healthz")[0] == 200, 15, what="hub up")
        try:
            t_dark = time.time_ns()
            sims = [run_sim(self.broker, "sensor_dark", DARK_SPEED, "down")]
            sims += [run_sim(self.broker, e, SPEED, "down") for e in EVENT_EPISODES]
            self.finish_sims(sims)
            self.wait_delivered(hub, len(EXPECTED) + 3)
            events = list(self.stream.events)
            self.check_events(events, t_dark)
            self.check_am(self.watch.close(), t_dark)
        finally:
            hub.kill()

    def test_episodes_sigkill(self):
        hub = self.hub(sinks=unreachable_sinks())
        hub.start(wait_ready=False)
        services.wait_until(lambda: hub.http("/healthz")[0] == 200, 15, what="hub up")
        try:
            t0 = time.monotonic()
            sims = [run_sim(self.broker, e, SPEED, "kill") for e in EVENT_EPISODES]
            # At 3 s: salinity_rice pending (fires at 3.4 s), river level II/III moving; at 9 s:
            # salinity_domestic waiting out keep_firing_for, smog's 24 h mean just firing.
            before = []
            for at in (3.0, 9.0):
                time.sleep(max(0.0, at - (time.monotonic() - t0)))
                hub.kill()
                before.append(len(self.stream.events))
                time.sleep(0.5)
                hub.start(wait_ready=False)
            self.finish_sims(sims)
            services.wait_until(lambda: hub.http("/healthz")[0] == 200, 15, what="hub back")
            self.wait_delivered(hub, len(EXPECTED))
            time.sleep(1)  # nothing more may come
            # Both kills fell in the middle: some transitions before each, some after.
            self.assertTrue(0 < before[0] <= before[1] < len(EXPECTED), before)
            self.check_events(list(self.stream.events))
            self.check_am(self.watch.close())
        finally:
            hub.kill()


if __name__ == "__main__":
    unittest.main(verbosity=2)
