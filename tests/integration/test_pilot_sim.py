"""The My Tho pilot end to end: cityhub-sim -> mosquitto -> cityhub (scripts/pilot.yaml.in) ->
InfluxDB, with every simulator format, and exact counts.

A 1-minute `--speed 600` run: 10 simulated hours of the default scenario's network and day,
paced in real time as the pilot runs it (`scripts/pilot` uses `--speed 60`). The default
scenario (normal-day) injects only radio dropouts, so the run switches on every regular fault
type as well (an overlay appended to a copy of the scenario file), to prove that
each fault the simulator injects on purpose is rejected with the reason it expects. The hostile
gateway stays off: which reason each hostile message earns is the hub's decision, and some of
them are valid data, so they are tested elsewhere.

The expectation is computed exactly, from the simulator's own output: a `--dry-run` of the same
scenario, seed and span (byte-identical by design; the two summaries are compared) gives every
message; the hub's dead letters say which messages it rejected, and the simulator's fault log and
summary say which it had to. The remaining messages are decoded here (ids, kinds, tags and times
only) into the set of InfluxDB points they must make: duplicates and several readings with the
same sensor, tags and time land on one point, as in InfluxDB.
"""
import base64
import json
import os
import re
import shutil
import subprocess
import tempfile
import unittest
from collections import Counter
from datetime import datetime, timezone
from decimal import ROUND_HALF_UP, Decimal

from common import HUB_BIN, ROOT, SIM_BIN, new_hub, services
from tests.lib.hub import fill_pilot_template

PILOT_IN = os.path.join(ROOT, "scripts", "pilot.yaml.in")
DERIVED = {"aqi", "alerts"}  # kinds the hub writes itself
SCENARIOS = os.path.join(ROOT, "simulator", "scenarios", "mytho.yaml")
SPAN = "10h"
SPEED = "600"  # SPAN in one minute of wall time
MAX_PAYLOAD = 1 << 20  # limits.max_payload_bytes in pilot.yaml.in
PROBE = "pilot-test/probe"  # no route matches it, so the hub never sees it

# Every regular fault type (docs/simulator.md, "Faults"), over the default scenario's network.
FAULTS_OVERLAY = """
  pilot-faults:
    description: normal-day plus every regular fault type (tests/integration/test_pilot_sim.py)
    faults: {dropout: 0.002, malformed_json: 0.01, truncated_lpp: 0.08, oversize: 0.002,
             out_of_range: 0.01, duplicate: 0.02, out_of_order: 0.02, clock_skew: 0.01,
             spike: 0.01, stuck: 0.005}
"""
FAULT_REASON = {"malformed_json": "bad_json", "truncated_lpp": "truncated",
                "oversize": "too_large", "out_of_range": "out_of_range"}
KINDS = {"traffic_flow", "air_quality", "noise", "weather", "water_level", "water_quality"}
FPORT_KIND = {10: "traffic_flow", 11: "air_quality", 12: "noise", 13: "weather",
              14: "water_level", 15: "water_quality"}
NGSI_KIND = {"TrafficFlowObserved": "traffic_flow", "AirQualityObserved": "air_quality",
             "NoiseLevelObserved": "noise", "WeatherObserved": "weather",
             "WaterObserved": "water_level", "WaterQualityObserved": "water_quality"}


def substitute(text, mqtt_port, influx_port, http_port, journal):
    """What scripts/pilot does with sed (tests/lib/hub.py)."""
    return fill_pilot_template(text, ROOT, mqtt_port, influx_port, http_port, journal)


def senml_kinds(config_text):
    """sensor id -> kind of the per-sensor SenML routes in the pilot config."""
    return dict(re.findall(r"- filter: senml/\+/(\S+)\n\s+adapter: senml\n\s+kind: (\S+)",
                           config_text))


def unescape(line):
    """Undoes the dry run's escaping of one topic or payload (bytes)."""
    out, i = bytearray(), 0
    simple = {ord("\\"): b"\\", ord("n"): b"\n", ord("r"): b"\r", ord("t"): b"\t"}
    while i < len(line):
        c = line[i]
        if c != ord("\\"):
            out.append(c)
            i += 1
        elif line[i + 1] == ord("x"):
            out.append(int(line[i + 2:i + 4], 16))
            i += 4
        else:
            out += simple[line[i + 1]]
            i += 2
    return bytes(out)


def rfc3339_ns(s):
    """RFC 3339 UTC time with an optional fraction -> integer nanoseconds, exactly."""
    m = re.fullmatch(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d{1,9}))?Z", s)
    if not m:
        raise ValueError("unexpected time " + s)
    secs = int(datetime.strptime(m.group(1), "%Y-%m-%dT%H:%M:%S")
               .replace(tzinfo=timezone.utc).timestamp())
    return secs * 10**9 + int((m.group(2) or "").ljust(9, "0"))


def seconds_ns(d):
    """SenML seconds (a Decimal, parsed from the payload's text) -> nanoseconds, half away."""
    return int((d * 10**9).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def lpp_whole(frame):
    """True when a Cayenne LPP frame (of the types the simulator sends) ends on an item."""
    size = {0: 1, 2: 2, 100: 4, 103: 2, 104: 1, 115: 2, 132: 2}
    i = 0
    while i < len(frame):
        if i + 2 > len(frame) or frame[i + 1] not in size:
            return False
        i += 2 + size[frame[i + 1]]
    return i == len(frame)


def truncated_frame(topic, payload):
    """True for a LoRaWAN uplink whose LPP frame ends inside an item."""
    if topic.startswith("v3/"):
        key, doc = "frm_payload", json.loads(payload).get("uplink_message", {})
    elif topic.startswith("application/"):
        key, doc = "data", json.loads(payload)
    else:
        return False
    return key in doc and not lpp_whole(base64.b64decode(doc[key]))


def strongest_gateway(receptions, id_of):
    best = max(receptions, key=lambda r: r.get("rssi", -1e9))
    return id_of(best)


class Expect:
    """Points (kind, sensor_id, sorted tag pairs, ns) and records per kind from accepted
    messages, decoded the way docs/payloads/*.md say each format maps."""

    def __init__(self, senml_kind):
        self.senml_kind = senml_kind
        self.points = set()
        self.records = Counter()

    def add(self, kind, sensor, tags, ts):
        self.points.add((kind, sensor, tuple(sorted(tags.items())), ts))
        self.records[kind] += 1

    def message(self, topic, payload):
        levels = topic.split("/")
        doc = json.loads(payload, parse_float=Decimal)
        getattr(self, "_" + {"city": "native", "senml": "senml", "v3": "ttn",
                             "application": "chirpstack", "ngsi": "ngsi"}[levels[0]])(levels, doc)

    def _native(self, levels, doc):
        top = {k: v for k, v in doc.items() if k != "readings"}
        for r in doc.get("readings", [doc]):
            r = dict(top, **r)
            tags = dict(r.get("tags", {}), district=levels[2])
            self.add(r.get("kind", levels[1]), r.get("sensor_id", levels[3]), tags,
                     rfc3339_ns(r["time"]))

    def _senml(self, levels, pack):
        bt, times = Decimal(0), set()
        for rec in pack:
            bt = rec.get("bt", bt)
            if "n" in rec:
                times.add(seconds_ns(bt + rec.get("t", Decimal(0))))
        for ts in times:  # one point per (sensor, time); all pilot times are absolute
            self.add(self.senml_kind[levels[2]], levels[2], {"district": levels[1]}, ts)

    def _lorawan(self, kind, sensor, eui, gateway, ts, device_tags=None):
        # The device's district and site tags (ChirpStack deviceInfo.tags, TTS attributes)
        # go on the reading and the link record.
        tags = {k: v for k, v in (device_tags or {}).items() if k in ("district", "site") and v}
        self.add(kind, sensor, dict(tags, dev_eui=eui.lower()), ts)
        self.add("link", sensor, dict(tags, dev_eui=eui.lower(), gateway_id=gateway), ts)

    def _ttn(self, levels, doc):
        up, ids = doc["uplink_message"], doc["end_device_ids"]
        gw = strongest_gateway(up["rx_metadata"], lambda r: r["gateway_ids"]["gateway_id"])
        self._lorawan(FPORT_KIND[up["f_port"]], ids["device_id"], ids["dev_eui"], gw,
                      rfc3339_ns(up["received_at"]), up.get("attributes"))

    def _chirpstack(self, levels, doc):
        info = doc["deviceInfo"]
        gw = strongest_gateway(doc["rxInfo"], lambda r: r["gatewayId"])
        self._lorawan(FPORT_KIND[doc["fPort"]], info["deviceName"], info["devEui"], gw,
                      rfc3339_ns(doc["time"]), info.get("tags"))

    def _ngsi(self, levels, doc):
        prefix = "urn:ngsi-ld:%s:" % doc["type"]
        sensor = doc["id"][len(prefix):] if doc["id"].startswith(prefix) else doc["id"]
        when = doc["dateObserved"]["value"]["@value"]
        self.add(NGSI_KIND[doc["type"]], sensor, {"district": levels[1]}, rfc3339_ns(when))


class PilotSim(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="cityhub-pilot-")
        # Bursts (every sensor reporting in the same simulated second) outrun the subscriber for
        # a moment: mosquitto must queue (its default of 1000 queued messages per client drops
        # the rest, unacknowledged by us).
        self.broker = services.Mosquitto(extra_conf="max_queued_messages 0\n").start()
        self.influx = services.Influxd().start()
        self.influx.create_db("city")
        with open(PILOT_IN, encoding="utf-8") as f:
            self.template = f.read()
        with open(SCENARIOS, encoding="utf-8") as f:
            scenarios = f.read()
        self.scenario_file = os.path.join(self.tmp, "mytho-faults.yaml")
        with open(self.scenario_file, "w", encoding="utf-8") as f:
            f.write(scenarios.rstrip("\n") + "\n" + FAULTS_OVERLAY)

    def tearDown(self):
        self.broker.close()
        self.influx.close()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def config(self, http_port):
        return substitute(self.template, self.broker.port, self.influx.port, http_port,
                          os.path.join(self.tmp, "journal"))

    def check_config(self, text):
        path = os.path.join(self.tmp, "check.yaml")
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)
        return subprocess.run([HUB_BIN, "--check-config", path], capture_output=True,
                              text=True, timeout=30)

    def sim(self, *extra):
        args = [SIM_BIN, "--scenario-file", self.scenario_file, "--scenario", "pilot-faults",
                "--duration", SPAN, "--log-level", "warn"] + list(extra)
        return subprocess.run(args, capture_output=True, timeout=300)

    def test_check_config_accepts_the_pilot_and_names_bad_ports_options(self):
        self.assertNotRegex(self.config(8080), r"@[A-Z_]+@")
        res = self.check_config(self.config(8080))
        self.assertEqual(res.returncode, 0, res.stderr)
        bad = self.config(8080).replace('        "14":\n          kind: water_level\n',
                                        '        "14":\n          kind: water_level\n'
                                        '          link: false\n', 1)
        res = self.check_config(bad)
        self.assertEqual(res.returncode, 2)
        self.assertRegex(res.stderr, r"routes\[8\]\.options\.ports\.14\.link: unknown key")
        bad = self.config(8080).replace('channels: {"1": level_m, "2": flow_m3s}',
                                        'channels: {"1": level_m, "2": [flow_m3s]}', 1)
        res = self.check_config(bad)
        self.assertEqual(res.returncode, 2)
        self.assertIn("routes[8].options.ports.14.channels.2: must be a field name", res.stderr)
        bad = self.config(8080).replace('        "15":\n', '        "0":\n', 1)
        res = self.check_config(bad)
        self.assertEqual(res.returncode, 2)
        self.assertIn("routes[8].options.ports.0: not an FPort", res.stderr)

    def dry_run(self):
        """Every message the run will publish, its summary, and its fault log."""
        res = self.sim("--dry-run")
        self.assertEqual(res.returncode, 0, res.stderr[-2000:])
        lines = res.stdout.split(b"\n")
        self.assertEqual(lines[-1], b"")
        summary = json.loads(lines[-2])
        msgs = []
        for line in lines[:-2]:
            topic, payload = line.split(b"\t", 1)
            msgs.append((unescape(topic).decode(), unescape(payload)))
        faults = re.findall(r"fault=(\S+) sensor=\S+ topic=(\S+) sim_time=(\S+)",
                            res.stderr.decode())
        return msgs, summary, faults

    def dead_letters(self, path):
        out = []
        with open(path, "rb") as f:
            for line in f:
                topic, _, body = line.rstrip(b"\n").partition(b" ")
                if topic == PROBE.encode():
                    continue
                letter = json.loads(body)
                self.assertEqual(topic.decode(), "pilot/deadletter/" + letter["reason"])
                payload = (letter["payload"].encode() if "payload" in letter
                           else base64.b64decode(letter["payload_base64"]))
                out.append((letter["reason"], letter["topic"], payload))
        return out

    def subscribe_dead_letters(self, out):
        """mosquitto_sub on the dead-letter topics, returned once it is surely subscribed (it
        has received a probe published after it started)."""
        sub = subprocess.Popen(["mosquitto_sub", "-p", str(self.broker.port), "-q", "1", "-v",
                                "-t", "pilot/deadletter/#", "-t", PROBE], stdout=out)

        def probed():
            if sub.poll() is not None:
                raise RuntimeError("mosquitto_sub exited")
            subprocess.run(["mosquitto_pub", "-p", str(self.broker.port), "-t", PROBE,
                            "-m", "probe"], check=True, timeout=10)
            out.flush()
            with open(out.name, "rb") as f:
                return f.read().startswith(PROBE.encode())
        services.wait_until(probed, 10, interval=0.3, what="dead-letter subscriber")
        return sub

    def run_through_hub(self):
        """Runs the simulator against the hub until every message is decoded, stored and
        dead-lettered; returns the simulator's summary, the hub's metrics and dead letters."""
        hub = new_hub(self.tmp, self.broker, self.influx)
        with open(hub.config_path, "w", encoding="utf-8") as f:
            f.write(self.config(hub.http_port))
        letters_path = os.path.join(self.tmp, "deadletters.txt")
        with hub.start(), open(letters_path, "wb") as letters_out:
            sub = self.subscribe_dead_letters(letters_out)
            try:
                res = self.sim("--broker", self.broker.url, "--speed", SPEED,
                               "--client-id", "pilot-sim")
                self.assertEqual(res.returncode, 0, res.stderr[-2000:])
                summary = json.loads(res.stdout)
                total = summary["messages"]["total"]
                try:
                    services.wait_until(
                        lambda: hub.metric_sum("cityhub_messages_accepted_total")
                        + hub.metric_sum("cityhub_rejected_total") == total, 120,
                        what=f"{total} messages decoded")
                except TimeoutError:
                    print({k: v for k, v in hub.metrics().items() if "total" in k})
                    raise
                services.wait_until(
                    lambda: hub.metric('cityhub_sink_lines_total{sink="influxdb"}')
                    == hub.metric_sum("cityhub_records_total"), 120, what="every line stored")
                rejected = hub.metric_sum("cityhub_rejected_total")
                services.wait_until(lambda: len(self.dead_letters(letters_path)) == rejected,
                                    30, what=f"{rejected} dead letters")
                metrics = hub.metrics()
            finally:
                sub.terminate()
                sub.wait(10)
        return summary, metrics, self.dead_letters(letters_path)

    def check_rejects(self, msgs, summary, fault_log, metrics, letters):
        """Asserts the hub rejected exactly the faulted messages, by reason; returns the
        accepted messages (duplicates included) and the reject counts."""
        exp_rej = summary["expected_rejects"]
        self.assertGreater(exp_rej["total"], 0)
        by_reason = Counter()
        for key, value in metrics.items():
            m = re.fullmatch(r'cityhub_rejected_total\{reason="(\w+)",adapter="\w+"\}', key)
            if m:
                by_reason[m.group(1)] += int(value)
        # A truncated_lpp fault that cuts exactly the last item (3 bytes off a humidity item)
        # leaves a valid, shorter frame, which the hub rightly accepts: the truncated frames
        # are counted here from the payloads (a simulator defect).
        truncated = 0
        for topic, payload in msgs:
            try:
                truncated += truncated_frame(topic, payload)
            except ValueError:  # malformed_json: not a frame to look at
                pass
        whole_cuts = exp_rej["truncated"] - truncated
        self.assertGreaterEqual(whole_cuts, 0)
        for reason in ("bad_json", "too_large", "out_of_range"):
            self.assertEqual(by_reason[reason], exp_rej[reason], reason)
        self.assertEqual(by_reason["truncated"], truncated)
        self.assertEqual(sum(by_reason.values()), exp_rej["total"] - whole_cuts, by_reason)

        # Each dead letter is a published message carrying a fault of its reason: per topic
        # and reason, as many letters as the fault log has faulted messages (twice when the
        # faulted message was also duplicated).
        self.assertEqual(len(letters), exp_rej["total"] - whole_cuts)
        duplicated = {(t, when) for f, t, when in fault_log if f == "duplicate"}
        faulted = Counter()
        for f, topic, when in fault_log:
            if f in FAULT_REASON:
                faulted[(FAULT_REASON[f], topic)] += 2 if (topic, when) in duplicated else 1
        lettered = Counter((r, t) for r, t, _ in letters)
        self.assertEqual(lettered - faulted, Counter())
        missing = faulted - lettered
        self.assertEqual(sum(missing.values()), whole_cuts)
        self.assertEqual({r for r, _ in missing}, {"truncated"} if whole_cuts else set())
        remaining = Counter(msgs)
        for reason, topic, payload in letters:
            if reason == "too_large":  # the hub journals only max_payload_bytes + 1 of it
                self.assertEqual(len(payload), MAX_PAYLOAD + 1)
                payload = next(p for t, p in remaining.elements()
                               if t == topic and len(p) > MAX_PAYLOAD and p.startswith(payload))
            self.assertGreater(remaining[(topic, payload)], 0, (reason, topic, payload[:200]))
            remaining[(topic, payload)] -= 1
        accepted = list(remaining.elements())
        self.assertEqual(len(accepted), len(msgs) - exp_rej["total"] + whole_cuts)
        self.assertEqual(sum(v for k, v in metrics.items()
                             if k.startswith("cityhub_messages_accepted_total{")), len(accepted))
        # Duplicates are exact copies: accepted plus rejected ones make the simulator's count.
        dup_acc = len(accepted) - len(set(accepted))
        dup_rej = len(letters) - len({(t, p) for _, t, p in letters})
        self.assertEqual(dup_acc + dup_rej, summary["faults"]["by_type"]["duplicate"])
        return accepted, by_reason, whole_cuts

    def test_simulated_hours_land_in_influxdb_exactly(self):
        msgs, dry, fault_log = self.dry_run()
        summary, metrics, letters = self.run_through_hub()
        # The published run is the dry run, message for message.
        for key in ("messages", "faults", "expected_rejects", "samples", "readings"):
            self.assertEqual(summary[key], dry[key], key)
        self.assertEqual(summary["publish"], {"sent": len(msgs), "acked": len(msgs), "failed": 0})
        accepted, by_reason, whole_cuts = self.check_rejects(msgs, summary, fault_log, metrics,
                                                             letters)

        expect = Expect(senml_kinds(self.template))
        for topic, payload in accepted:
            expect.message(topic, payload)
        records = {m.group(1): int(v) for k, v in metrics.items()
                   for m in [re.fullmatch(r'cityhub_records_total\{kind="(\w+)"\}', k)] if m}
        # The kinds the hub derives itself (hourly VN_AQI, alert transitions) come on top of what
        # the simulator sent: each derived record is one point too.
        derived = {k: records.pop(k) for k in DERIVED if k in records}
        self.assertEqual(records, dict(expect.records))
        self.assertEqual(derived.get("aqi", 0), int(metrics.get("cityhub_aqi_records_total", 0)))
        self.assertEqual(derived.get("alerts", 0),
                         int(metrics.get("cityhub_alert_transitions_total", 0)))

        # InfluxDB holds exactly the expected points: per kind the count, and the very keys.
        # Duplicates, and readings with the same sensor, tags and time, are one point.
        measurements = {r[0] for r in self.rows("SHOW MEASUREMENTS")}
        self.assertEqual(measurements - DERIVED, KINDS | {"link"})
        for kind, n in derived.items():
            self.assertEqual(len(self.points(kind)), n, f"{kind} points")
        counts = {}
        for kind in sorted(KINDS | {"link"}):
            got = self.points(kind)
            want = {p for p in expect.points if p[0] == kind}
            self.assertEqual(len(got), len(want), kind)
            self.assertEqual(got, want, kind)
            counts[kind] = len(got)
        # One link point per distinct accepted LoRaWAN uplink.
        uplinks = {(t, p) for t, p in accepted if t.startswith(("v3/", "application/"))}
        self.assertEqual(counts["link"], len(uplinks))
        print("\npilot points per kind:", json.dumps(counts, sort_keys=True),
              "records:", json.dumps(dict(sorted(expect.records.items()))),
              "rejects:", json.dumps(dict(sorted(by_reason.items()))),
              "whole-item LPP cuts:", whole_cuts)

    def rows(self, q):
        reply = self.influx.query(q, db="city")
        return [v for res in reply["results"] for s in res.get("series", []) for v in s["values"]]

    def points(self, kind):
        reply = self.influx.query(f'SELECT * FROM "{kind}" GROUP BY *', db="city")
        out = set()
        for res in reply["results"]:
            for s in res.get("series", []):
                tags = {k: v for k, v in s["tags"].items() if v != ""}
                sensor = tags.pop("sensor_id")
                for v in s["values"]:
                    out.add((kind, sensor, tuple(sorted(tags.items())), v[0]))
        return out



if __name__ == "__main__":
    unittest.main(verbosity=2)
