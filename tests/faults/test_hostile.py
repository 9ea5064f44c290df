"""Hostile input: the corpus in tests/faults/hostile/*.json, published byte for byte through a
bare MQTT client, then 100,000 distinct sensor ids against limits.max_series.

After each message the hub is still running. Every message the broker took is either stored
exactly (tags, fields and time read back from InfluxDB) or rejected with the corpus's reason
(its dead letter carries the original topic and payload, and cityhub_rejected_total counts it).
SHOW MEASUREMENTS / TAG KEYS / FIELD KEYS / SERIES on the real InfluxDB show nothing the schemas
do not allow.

A corpus case: name, topic (or topic_hex), payload as payload_json (serialised compactly),
payload (text), payload_hex or gen (generated: pad_to a size, nest to a depth, readings), and
expect: {"stored": {measurement, tags, fields}} | {"reject": reason} | {"refused": "broker"} |
{"unseen": true} (outside the hub's subscription).

Then the simulator's hostile-gateway scenario (docs/simulator.md) through the pilot's config
(scripts/pilot.yaml.in): one simulated hour of the whole network with every regular fault and a
hostile message a minute. Every message a route takes is dead-lettered or accepted; accepted
native readings are read back point by point.
"""
import base64
import collections
import datetime
import glob
import json
import os
import re
import subprocess
import time
import unittest

import faultlib as fl
import mqttraw
from tests.lib.hub import fill_pilot_template

CORPUS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "hostile")
MAX_PAYLOAD = 65536
MAX_SERIES = 1000
FLOOD = 100000
FLOOD_RATE = 20000
TYPES = {"double": "float", "int": "integer", "string": "string", "bool": "boolean"}


def load_schemas():
    out = {}
    for path in glob.glob(os.path.join(fl.ROOT, "schemas", "*.json")):
        with open(path, encoding="utf-8") as f:
            s = json.load(f)
        out[s["kind"]] = ({"sensor_id"} | set(s["tags"]),
                          {k: TYPES[v["type"]] for k, v in s["fields"].items()})
    return out


def pad_to(obj, size):
    text = json.dumps(obj, separators=(",", ":"))
    return (text[:-1] + " " * (size - len(text)) + "}").encode()


def build_payload(case):
    if "payload_json" in case:
        return json.dumps(case["payload_json"], ensure_ascii=False,
                          separators=(",", ":")).encode()
    if "payload" in case:
        return case["payload"].encode()
    if "payload_hex" in case:
        return bytes.fromhex(case["payload_hex"])
    gen = case["gen"]
    if "pad_to" in gen:
        size = {"limit": MAX_PAYLOAD, "limit+1": MAX_PAYLOAD + 1}.get(gen["pad_to"], gen["pad_to"])
        return pad_to(gen["json"], size)
    if "nest" in gen:
        d = gen["depth"]
        inner = "[" * d + "]" * d if gen["nest"] == "[" else '{"a":' * d + "1" + "}" * d
        return ('{"ts":%d,"fields":{"pm25":%s}}' % (gen["ts"], inner)).encode()
    if "readings" in gen:
        return json.dumps({"readings": [{"ts": gen["ts"], "fields": {"pm25": i}}
                                        for i in range(gen["readings"])]}).encode()
    raise ValueError("case %s: no payload" % case["name"])


def build_topic(case):
    return bytes.fromhex(case["topic_hex"]) if "topic_hex" in case else case["topic"].encode()


def load_corpus():
    cases = []
    for path in sorted(glob.glob(os.path.join(CORPUS, "*.json"))):
        with open(path, encoding="utf-8") as f:
            for c in json.load(f)["cases"]:
                c["file"] = os.path.basename(path)
                c["topic_b"], c["payload_b"] = build_topic(c), build_payload(c)
                cases.append(c)
    return cases


def unescape_split(s, sep):
    """Splits a line-protocol series key part on unescaped sep, removing the escapes."""
    parts, cur, i = [], "", 0
    while i < len(s):
        if s[i] == "\\" and i + 1 < len(s) and s[i + 1] in ",= \\":
            cur += s[i + 1]
            i += 2
            continue
        if s[i] == sep:
            parts.append(cur)
            cur = ""
        else:
            cur += s[i]
        i += 1
    parts.append(cur)
    return parts


def parse_series_key(key):
    """'m,a=1,b=x\\ y' -> ('m', {'a': '1', 'b': 'x y'})."""
    # Tag values never end in a backslash (the hub refuses that), so "\\," never occurs.
    items = [p for p in re.split(r"(?<!\\),", key)]
    meas = unescape_split(items[0], "\0")[0]
    tags = {}
    for item in items[1:]:
        k, v = re.split(r"(?<!\\)=", item, maxsplit=1)
        tags[unescape_split(k, "\0")[0]] = unescape_split(v, "\0")[0]
    return meas, tags


def reasons_of(metrics):
    """{reason: count} from cityhub_rejected_total{reason,adapter}, summed over adapters."""
    out = collections.Counter()
    for k, v in metrics.items():
        if k.startswith("cityhub_rejected_total{"):
            out[k.split('reason="')[1].split('"')[0]] += int(v)
    return dict(out)


def topic_matches(filt, topic):
    """MQTT filter matching (+ and #), as the broker and the hub do it."""
    f, t = filt.split("/"), topic.split("/")
    if topic.startswith("$") and f[0] in ("+", "#"):
        return False
    for i, level in enumerate(f):
        if level == "#":
            return True
        if i >= len(t) or (level != "+" and level != t[i]):
            return False
    return len(f) == len(t)


def unescape_dry(text):
    """A topic or payload of a --dry-run line (docs/simulator.md, "Dry run") -> bytes."""
    out, i = bytearray(), 0
    named = {ord("n"): 10, ord("r"): 13, ord("t"): 9, ord("\\"): 92}
    while i < len(text):
        if text[i] != 92:
            out.append(text[i])
            i += 1
        elif text[i + 1] == ord("x"):
            out.append(int(text[i + 2:i + 4], 16))
            i += 4
        else:
            out.append(named[text[i + 1]])
            i += 2
    return bytes(out)


def time_ns(r):
    """A native reading's time ("time" RFC 3339 or "ts" ms) in ns, or None."""
    if "ts" in r:
        return r["ts"] * 10**6
    if "time" not in r:
        return None
    m = re.fullmatch(r"(.*T\d\d:\d\d:\d\d)(?:\.(\d{1,9}))?(Z|[+-]\d\d:\d\d)", r["time"])
    base = datetime.datetime.fromisoformat(m.group(1) + ("+00:00" if m.group(3) == "Z"
                                                          else m.group(3)))
    return int(base.timestamp()) * 10**9 + int((m.group(2) or "").ljust(9, "0"))


def native_points(topic, payload, recv_fallback=None):
    """The points an accepted native message makes: [((kind, sensor, tags), ns, fields)]; a
    field given as {"value", "unit"} is None (converted by the schema: presence only)."""
    levels = topic.split("/")
    doc = json.loads(payload)
    readings = doc if isinstance(doc, list) else doc.get("readings", [doc])
    base = {} if isinstance(doc, list) else {k: v for k, v in doc.items() if k != "readings"}
    out = []
    for r in readings:
        m = dict(base, **r)
        if "ts" in r or "time" in r:
            m.pop("time" if "ts" in r else "ts", None)
        tags = {k: v for k, v in dict(base.get("tags", {}), **r.get("tags", {})).items() if v}
        tags["district"] = levels[2]
        key = (m.get("kind") or levels[1], m.get("sensor_id") or levels[3],
               tuple(sorted(tags.items())))
        fields = {k: (None if isinstance(v, dict) else v)
                  for k, v in m["fields"].items() if v is not None}
        out.append((key, time_ns(m), fields))
    return out


# Log lines whose values are still quoted by hand: none (every value goes through hub_logq), so
# every line must parse with each key once.
KNOWN_HAND_QUOTED = set()


def parse_logfmt(line):
    """[(key, value)] of one logfmt line; raises ValueError on what a parser would misread."""
    pairs, i, n = [], 0, len(line)
    while i < n:
        if line[i] == " ":
            i += 1
            continue
        m = re.match(r'([^\s="]+)=', line[i:])
        if not m:
            raise ValueError("no key at %d: %r" % (i, line))
        key, i = m.group(1), i + m.end()
        if i < n and line[i] == '"':
            out, i = [], i + 1
            while i < n and line[i] != '"':
                if line[i] == "\\":
                    i += 1
                out.append(line[i])
                i += 1
            if i >= n:
                raise ValueError("unterminated value: %r" % line)
            i += 1
            if i < n and line[i] != " ":
                raise ValueError("text after a quoted value at %d: %r" % (i, line))
            value = "".join(out)
        else:
            j = line.find(" ", i)
            j = n if j < 0 else j
            value = line[i:j]
            if '"' in value:
                raise ValueError("quote in a bare value: %r" % line)
            i = j
        pairs.append((key, value))
    return pairs


class Hostile(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp, cls.broker, cls.influx = fl.open_services(cls.addClassCleanup, "hostile")
        cls.fig = fl.Figures("hostile")
        cls.addClassCleanup(cls.fig.save)
        cls.hub = fl.new_hub(cls.tmp, cls.broker, cls.influx,
                             config={"limits": {"max_payload_bytes": MAX_PAYLOAD,
                                                "max_series": MAX_SERIES}})
        cls.addClassCleanup(cls.hub.kill)
        cls.hub.start()
        cls.schemas = load_schemas()

    def alive(self, what):
        self.assertIsNone(self.hub.proc.poll(), "hub died after %s: %s" % (what,
                                                                         self.hub.log_tail()))

    def handled(self):
        m = self.hub.metrics()
        return (m.get('cityhub_messages_accepted_total{adapter="native"}', 0) +
                sum(v for k, v in m.items() if k.startswith("cityhub_rejected_total{")))

    def wait_handled(self, n):
        fl.services.wait_until(
            lambda: self.handled() >= n and
            self.hub.metric('cityhub_consumer_lag_bytes{consumer="influxdb"}') == 0,
            120, 0.1, "%d messages decoded and stored" % n)
        time.sleep(1.5)  # the monitor commits and the sink flushes
        self.assertEqual(self.handled(), n)

    def check_schemas(self):
        """Everything in the store is something a schema allows; returns the series keys."""
        q = lambda s: self.influx.query(s, db="city")  # noqa: E731
        meas = [v[0] for r in q("SHOW MEASUREMENTS")["results"] for s in r.get("series", [])
                for v in s["values"]]
        self.assertLessEqual(set(meas), set(self.schemas))
        for m in meas:
            tags, fields = self.schemas[m]
            tk = [v[0] for r in q('SHOW TAG KEYS FROM "%s"' % m)["results"]
                  for s in r.get("series", []) for v in s["values"]]
            self.assertLessEqual(set(tk), tags, m)
            fk = {v[0]: v[1] for r in q('SHOW FIELD KEYS FROM "%s"' % m)["results"]
                  for s in r.get("series", []) for v in s["values"]}
            self.assertEqual({k: fields[k] for k in fk if k in fields}, fk, m)
        keys = [v[0] for r in q("SHOW SERIES")["results"] for s in r.get("series", [])
                for v in s["values"]]
        for key in keys:
            m, tags = parse_series_key(key)
            self.assertIn(m, self.schemas, key)
            self.assertLessEqual(set(tags), self.schemas[m][0], key)
            for v in tags.values():
                self.assertTrue(v and not v.endswith("\\"), key)
                self.assertFalse(any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in v), key)
        return keys

    def check_stored(self, c):
        exp = c["expect"]["stored"]
        t_ms = json.loads(c["payload_b"][:c["payload_b"].rindex(b"}") + 1])["ts"]
        rows = self.influx.query(
            'SELECT * FROM "%s" WHERE time = %dms' % (exp["measurement"], t_ms),
            db="city", epoch="ms")["results"][0].get("series", [])
        self.assertEqual(len(rows), 1, c["name"])
        self.assertEqual(len(rows[0]["values"]), 1, c["name"])
        got = {k: v for k, v in zip(rows[0]["columns"], rows[0]["values"][0])
               if v is not None and k != "time"}
        want = dict(exp["tags"], **exp["fields"])
        self.assertEqual(got, want, c["name"])

    def dead_letters(self, collector):
        out = collections.defaultdict(list)
        for topic, body in collector.snapshot():
            try:
                d = json.loads(body)
            except ValueError:
                continue  # not from the hub (the corpus publishes a fake one)
            if not isinstance(d, dict) or "reason" not in d:
                continue
            payload = (base64.b64decode(d["payload_base64"]) if "payload_base64" in d
                       else d["payload"].encode())
            out[(d["topic"].encode(), payload)].append((topic.decode(), d["reason"]))
        return out

    def test_1_corpus(self):
        cases = load_corpus()
        collector = mqttraw.Collector(self.broker.port, "cityhub/deadletter/#")
        client = mqttraw.Client(self.broker.port, "faults-hostile")
        try:
            for c in cases:
                c["taken"] = client.publish(c["topic_b"], c["payload_b"])
                self.alive(c["name"])
            seen = [c for c in cases if c["taken"] and "unseen" not in c["expect"]]
            self.wait_handled(len(seen))
            want = sum("reject" in c["expect"] for c in cases)
            deadline = time.monotonic() + 30
            while (sum(len(v) for v in self.dead_letters(collector).values()) < want and
                   time.monotonic() < deadline):
                time.sleep(0.1)
            time.sleep(0.5)
            letters = self.dead_letters(collector)
        finally:
            client.close()
            collector.close()
        self.assertEqual(self.hub.http("/healthz")[0], 200)
        reasons = collections.Counter()
        wrong = []
        for c in cases:
            exp = c["expect"]
            if c["taken"] != ("refused" not in exp):
                wrong.append((c["name"], "broker took it" if c["taken"] else "broker refused"))
            key = (c["topic_b"], c["payload_b"][:MAX_PAYLOAD + 1])
            got = letters.get(key, [])
            want = [("cityhub/deadletter/" + exp["reject"], exp["reject"])] if "reject" in exp \
                else []
            reasons.update(r for _, r in want)
            if got != want:
                wrong.append((c["name"], "dead letters %r, expected %r" % (got, want)))
            if "stored" in exp:
                try:
                    self.check_stored(c)
                except AssertionError as e:
                    wrong.append((c["name"], "stored: %s" % str(e)[:300]))
        self.fig["cases"] = len(cases)
        self.fig["stored"] = sum("stored" in c["expect"] for c in cases)
        self.fig["rejected"] = sum(reasons.values())
        self.fig["refused_by_broker"] = sum(not c["taken"] for c in cases)
        self.fig["unseen"] = sum("unseen" in c["expect"] for c in cases)
        self.fig["reasons"] = dict(sorted(reasons.items()))
        self.fig["mismatches"] = [w[0] for w in wrong]
        self.assertEqual(wrong, [], "\n".join("%s: %s" % w for w in wrong))
        m = self.hub.metrics()
        counted = reasons_of(m)
        self.assertEqual(counted, dict(reasons))
        n_stored = sum("stored" in c["expect"] for c in cases)
        self.assertEqual(m['cityhub_messages_accepted_total{adapter="native"}'], n_stored)
        self.assertEqual(m["cityhub_mqtt_truncated_total"], 1)
        # Nothing else reached the store: every point in the corpus's time range is a case's.
        t_lo = 1795773600000
        total = 0
        for meas in self.schemas:
            rows = self.influx.query(
                'SELECT * FROM "%s" WHERE time >= %dms' % (meas, t_lo),
                db="city")["results"][0].get("series", [])
            total += sum(len(s["values"]) for s in rows)
        self.assertEqual(total, n_stored)
        self.check_schemas()

    def test_2_series_flood(self):
        # A fresh process: the series guard is in memory and starts empty (after a restart up
        # to max_series more series can appear; docs/reliability.md).
        code, took = self.hub.stop()
        self.assertEqual(code, 0, self.hub.log_tail())
        self.hub.start()
        before = self.handled()
        series_before = len(self.check_schemas())
        load = fl.Load(self.broker, FLOOD, rate=FLOOD_RATE, sensors=FLOOD, prefix="flood",
                       district="flood")
        summary = load.run()
        self.wait_handled(before + FLOOD)
        self.alive("the flood")
        m = self.hub.metrics()
        limited = m['cityhub_rejected_total{reason="series_limit",adapter="native"}']
        admitted = MAX_SERIES
        keys = self.check_schemas()
        flood_keys = [k for k in keys if ",district=flood," in k]
        self.assertEqual(len(flood_keys), admitted)
        self.assertEqual(limited, FLOOD - admitted)
        self.assertEqual(len(keys), series_before + MAX_SERIES)
        rows = self.influx.query(
            "SELECT count(pm25) FROM air_quality WHERE district = 'flood'",
            db="city")["results"][0]["series"]
        self.assertEqual(rows[0]["values"][0][1], admitted)
        published = m.get("cityhub_deadletter_published_total", 0)
        failed = m.get("cityhub_deadletter_failed_total", 0)
        rejects = sum(v for k, v in m.items() if k.startswith("cityhub_rejected_total{"))
        self.assertEqual(published + failed, rejects)
        # The broker stays up: a burst of rejects waits for room in the MQTT client's queue
        # instead of dropping dead letters.
        self.assertEqual(failed, 0)
        self.assertEqual(self.hub.http("/healthz")[0], 200)
        self.fig["flood_sensors"] = FLOOD
        self.fig["flood_rate"] = summary["achieved_rate"]
        self.fig["flood_admitted"] = admitted
        self.fig["flood_series_limit_rejects"] = int(limited)
        self.fig["deadletters_published_failed"] = [int(published), int(failed)]

    def test_3_hostile_gateway_scenario(self):
        pilot = os.path.join(fl.ROOT, "scripts", "pilot.yaml.in")
        sim = fl.SIM
        if not os.path.exists(pilot) or not os.path.exists(sim):
            self.skipTest("needs scripts/pilot.yaml.in and cityhub-sim")
        self.hub.stop()
        hub = fl.track(fl.Hub(self.tmp, self.broker.port, binary=fl.HUB_BIN))
        with open(pilot, encoding="utf-8") as f:
            text = f.read()
        text = fill_pilot_template(text, fl.ROOT, self.broker.port, self.influx.port,
                                   hub.http_port, os.path.join(self.tmp, "pilot-journal"))
        with open(hub.config_path, "w", encoding="utf-8") as f:
            f.write(text)
        filters = re.findall(r"^\s*- filter: (\S+)", text, re.M)
        max_payload = 1 << 20
        args = ["--scenario", "hostile-gateway", "--seed", "20261127"]
        dry = subprocess.run([sim, "--dry-run"] + args, capture_output=True, check=True,
                             timeout=120).stdout.splitlines()
        msgs = [tuple(unescape_dry(x) for x in line.split(b"\t", 1)) for line in dry[:-1]]
        want_summary = json.loads(dry[-1])
        seen = [(t, p) for t, p in msgs
                if any(topic_matches(f, t.decode("utf-8", "replace")) for f in filters)]
        # the pilot's config names its own dead-letter prefix (scripts/pilot.yaml.in)
        prefix = re.search(r"deadletter_prefix:\s*(\S+)", text).group(1)
        collector = mqttraw.Collector(self.broker.port, prefix + "/deadletter/#", "faults-sim")
        self.addCleanup(hub.kill)
        try:
            hub.start()
            run = subprocess.run([sim, "--broker", self.broker.url, "--speed", "max"] + args,
                                 capture_output=True, timeout=300)
            self.assertEqual(run.returncode, 0, run.stderr[-2000:])
            summary = json.loads(run.stdout.splitlines()[-1])
            self.assertEqual(summary["messages"], want_summary["messages"])
            self.assertEqual(summary["publish"]["acked"], len(msgs))
            fl.services.wait_until(
                lambda: self.handled_by(hub) >= len(seen) and
                hub.metric('cityhub_consumer_lag_bytes{consumer="influxdb"}') == 0,
                120, 0.2, "%d messages handled" % len(seen))
            time.sleep(1.5)
            self.assertEqual(self.handled_by(hub), len(seen))
            m = hub.metrics()
            n_rejected = sum(v for k, v in m.items() if k.startswith("cityhub_rejected_total{"))
            fl.services.wait_until(
                lambda: sum(len(v) for v in self.dead_letters(collector).values()) >=
                n_rejected, 30, what="dead letters")
            letters = self.dead_letters(collector)
        finally:
            collector.close()
        self.assertIsNone(hub.proc.poll())
        self.assertEqual(hub.http("/healthz")[0], 200)
        # Every dead letter is one of the published messages, once per publication.
        published = collections.Counter((t, p[:max_payload + 1]) for t, p in seen)
        rejected = collections.Counter({k: len(v) for k, v in letters.items()})
        self.assertEqual(rejected - published, collections.Counter())
        self.assertEqual(sum(rejected.values()), n_rejected)
        self.assertEqual(m["cityhub_deadletter_failed_total"] if
                         "cityhub_deadletter_failed_total" in m else 0, 0)
        # The regular faults the simulator injected on purpose were rejected as it expects.
        by_reason = reasons_of(m)
        for reason, n in want_summary["expected_rejects"].items():
            if reason not in ("total", "hostile"):
                self.assertGreaterEqual(by_reason.get(reason, 0), n, reason)
        # Accepted native messages: every point read back, fields merged in publication order
        # as InfluxDB merges points with the same series and time.
        accepted = published - rejected
        expect, n_native = {}, 0
        for t, p in seen:
            if not t.startswith(b"city/") or rejected[(t, p[:max_payload + 1])]:
                continue
            n_native += 1
            for key, ns, fields in native_points(t.decode(), p):
                expect.setdefault((key, ns), {}).update(fields)
        self.assertGreater(n_native, 100)
        wrong = []
        for (key, ns), fields in expect.items():
            kind, sensor, tags = key
            qs = "'" + sensor.replace("\\", "\\\\").replace("'", "\\'") + "'"
            res = self.influx.query(
                'SELECT * FROM "%s" WHERE sensor_id = %s AND time = %d' %
                (kind, qs, ns), db="city")["results"][0].get("series", [])
            rows = [dict(zip(s["columns"], v)) for s in res for v in s["values"]]
            rows = [r for r in rows if all(r.get(k) == v for k, v in tags)]
            if len(rows) != 1:
                wrong.append((key, ns, "%d rows" % len(rows)))
                continue
            got = rows[0]
            for f, v in fields.items():
                if got.get(f) is None or (v is not None and got[f] != v):
                    wrong.append((key, ns, f, v, got.get(f)))
        self.assertEqual(wrong[:10], [], "%d native points differ" % len(wrong))
        self.check_schemas()
        code, _ = hub.stop()
        self.assertEqual(code, 0, hub.log_tail())
        self.fig["scenario_messages"] = len(msgs)
        self.fig["scenario_hostile"] = want_summary["messages"]["hostile"]
        self.fig["scenario_seen_by_routes"] = len(seen)
        self.fig["scenario_rejected"] = int(n_rejected)
        self.fig["scenario_accepted"] = sum(accepted.values())
        self.fig["scenario_native_points_checked"] = len(expect)

    def test_4_log_lines_cannot_be_forged(self):
        """Issue 10: a topic and a payload carrying a quote and a newline followed by a whole
        logfmt error line, through a hub at debug level (which logs every reject's detail).
        Every line of its log is one of the hub's own: it starts with the hub's ts and level,
        parses as logfmt with each key once, and none says the forged message."""
        self.hub.stop()
        forged_ts = "1999-01-01T00:00:00.000Z"
        forged = 'ts=%s level=error msg="sink influx unhealthy"' % forged_ts
        cases = [
            # a kind with no schema: the reject detail quotes it
            ("city/air_quality/forge/k1", {"kind": "x\n" + forged, "fields": {"pm25": 1}}),
            # a control character in a string
            ("city/air_quality/forge/s1", {"sensor_id": "y\n" + forged, "fields": {"pm25": 1}}),
            # a topic that does not fit the route's template; quotes but no newline (brokers
            # refuse control characters in topics)
            ('city/air_quality/forge/t1/x" ' + forged, {"fields": {"pm25": 1}}),
            ('city/" ' + forged, {"fields": {"pm25": 1}}),
        ]
        tmp = os.path.join(self.tmp, "forge")
        os.makedirs(tmp)
        hub = fl.new_hub(tmp, self.broker, self.influx,
                         config={"log": {"level": "debug"},
                                 "mqtt": {"client_id": "cityhub-forge"}})
        self.addCleanup(hub.kill)
        hub.start()
        client = mqttraw.Client(self.broker.port, "faults-forge")
        try:
            taken = [client.publish(t.encode(), json.dumps(p).encode()) for t, p in cases]
        finally:
            client.close()
        self.assertEqual(taken, [True] * len(cases))
        fl.services.wait_until(lambda: self.handled_by(hub) >= len(cases), 60, 0.1,
                               "the forging messages handled")
        self.assertEqual(self.handled_by(hub), len(cases))
        self.assertEqual(hub.metric_sum("cityhub_messages_accepted_total"), 0)
        code, _ = hub.stop()
        self.assertEqual(code, 0, hub.log_tail())
        log = fl.read_log(hub)
        lines = log.splitlines()
        self.assertIn(forged_ts, log)  # the text did reach the log, as data
        for line in lines:
            self.assertRegex(line, r"^ts=\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z "
                             r"level=(debug|info|warn|error) ")
            self.assertFalse(line.startswith("ts=" + forged_ts), line)
            if line.split(" ")[2] in KNOWN_HAND_QUOTED:
                continue
            pairs = parse_logfmt(line)
            keys = [k for k, _ in pairs]
            self.assertEqual(len(keys), len(set(keys)), line)
            self.assertNotIn(("msg", "sink influx unhealthy"), pairs, line)
        # debug level logged each reject, with its detail
        self.assertEqual(sum('msg="rejected"' in ln for ln in lines), len(cases), log[-3000:])
        self.fig["forged_log_lines"] = 0
        self.fig["log_lines_checked"] = len(lines)

    def handled_by(self, hub):
        m = hub.metrics()
        return (sum(v for k, v in m.items() if k.startswith("cityhub_messages_accepted_total{"))
                + sum(v for k, v in m.items() if k.startswith("cityhub_rejected_total{")))


if __name__ == "__main__":
    unittest.main(verbosity=2)
