#!/usr/bin/env python3
"""Hostile names and values through the real encoder into a real InfluxDB 1.x and back.

Every record the encoder accepts (via the lp_encode helper) is written with /write and read
back with /query: same measurement, tags, field values, field types and timestamp. SHOW
MEASUREMENTS / SERIES / TAG KEYS / FIELD KEYS must list exactly what was meant, so no value
managed to add a line, a series, a tag or a field. Every refused record gets "ERR -1".

Usage: LP_ENCODE=/path/to/lp_encode python3 test_lineproto_influxd.py
       (or the path as the first argument). Exit code 77 (skip) without influxd.
"""

import json
import os
import re
import shutil
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from lib import services  # noqa: E402

HUB_EINVAL = -1
INT64_MIN = -(2 ** 63)
INT64_MAX = 2 ** 63 - 1
DB = "lp_roundtrip"
FIELD_TYPES = {"double": "float", "int": "integer", "bool": "boolean", "string": "string"}


def d(v):
    return {"type": "double", "v": v if isinstance(v, str) else repr(float(v))}


def i(v):
    return {"type": "int", "v": v}


def b(v):
    return {"type": "bool", "v": v}


def s(v):
    return {"type": "string", "v": v}


_next_ts = [1795662000000000000]


def rec(kind, sensor_id, fields, tags=None, ts=None):
    if ts is None:
        _next_ts[0] += 1000
        ts = _next_ts[0]
    r = {"kind": kind, "sensor_id": sensor_id, "fields": fields, "ts_ns": ts}
    if tags is not None:
        r["tags"] = tags
    return r


LONG_STR = ('say "hi" \\ ' * 5000)  # 55000 bytes, a third of them escaped
LONG_TAG = "a,b=c d " * 1250  # 10000 bytes
EMOJI = "Tiền Giang \U0001F30A \u4e2d\u6587"

# (description, record) accepted: each has its own sensor_id, so its own series.
ACCEPTED = [
    ("plain", rec("air_quality", "aq-01", {"pm25": d(12.5), "pm10": d(20)},
                  {"district": "my_tho", "site": "s1"})),
    ("measurement comma space", rec("traffic flow,evil=1", "tf-01", {"v": d(1)})),
    ("measurement equals quote", rec('a=b"c', "eq-01", {"v": d(1)})),
    ("measurement hash inside", rec("m#1", "hash-01", {"v": d(1)})),
    ("measurement utf8", rec("chất_lượng nước", "wq-01", {"v": d(1)})),
    ("measurement ordinary backslash", rec("m\\x", "bs-01", {"v": d(1)})),
    ("measurement space first", rec(" lead", "lead-01", {"v": d(1)})),
    ("tag value injection", rec("m", "inj-01", {"v": d(1)}, {"site": "x,evil=1 v=666 0"})),
    ("tag key specials", rec("m", "tk-01", {"v": d(1)}, {"k ,=": "v ,="})),
    ("tag value quotes", rec("m", "tq-01", {"v": d(1)}, {"q": '"quoted"'})),
    ("tag value ordinary backslashes", rec("m", "tb-01", {"v": d(1)},
                                           {"path": "C:\\temp\\x", "two": "a\\\\b"})),
    ("tag value leading space and equals", rec("m", "tl-01", {"v": d(1)}, {"lead": " =x"})),
    ("empty tag value omitted", rec("m", "te-01", {"v": d(1)}, {"site": "", "lane": "2"})),
    ("null tag value omitted", rec("m", "tn-01", {"v": d(1)}, {"gone": None})),
    ("sensor id specials", rec("m", "a b,c=d", {"v": d(1)})),
    ("tags sorted bytewise", rec("m", "ts-01", {"v": d(1)},
                                 [["b", "1"], ["a", "2"], ["é", "3"], ["B", "4"], ["_", "5"],
                                  ["sensor", "6"]])),
    ("utf8 tags", rec("m", "cảm biến", {"v": d(1)}, {"quận": "Mỹ Tho"})),
    ("field key specials", rec("fk", "fk-01", {"f ,=": d(2.5), '"q"': d(3.5)})),
    ("field key utf8", rec("fk", "fk-02", {"nhiệt_độ": d(31.5)})),
    ("string injection", rec("str", "si-01",
                             {"s": s('x",evil=1 0'), "n": i(1), "s2": s("a\\"), "s3": s("\\\"")})),
    ("string quotes backslashes", rec("str", "sq-01", {"s": s('say "hi" \\ bye\\')})),
    ("string separators", rec("str", "ss-01", {"s": s("a,b=c d")})),
    ("string empty", rec("str", "se-01", {"s": s("")})),
    ("string tab and controls", rec("str", "sc-01", {"s": s("a\tb\x01\x1f")})),
    ("string utf8", rec("str", "su-01", {"s": s(EMOJI)})),
    ("string long", rec("str", "sl-01", {"s": s(LONG_STR)})),
    ("tag value long", rec("m", "tlong-01", {"v": d(1)}, {"long": LONG_TAG})),
    ("ints", rec("ints", "int-01", {"min": i(INT64_MIN), "max": i(INT64_MAX), "zero": i(0),
                                    "neg": i(-1)})),
    ("doubles", rec("dbl", "dbl-01", {"a": d(0.1 + 0.2), "b": d(1.0), "c": d("-0"),
                                      "d": d(1e308), "e": d(5e-324),
                                      "f": d(1.7976931348623157e308),
                                      "g": d(2.2250738585072009e-308), "h": d(-273.15),
                                      "k": d(1 / 3), "l": d(1e15)})),
    ("bools", rec("bools", "b-01", {"t": b(True), "f": b(False)})),
    ("ts zero", rec("tsm", "ts0", {"v": d(1)}, ts=0)),
    ("ts negative", rec("tsm", "tsneg", {"v": d(1)}, ts=-1)),
    ("ts earliest", rec("tsm", "tsmin", {"v": d(1)}, ts=INT64_MIN + 2)),
    ("ts latest", rec("tsm", "tsmax", {"v": d(1)}, ts=INT64_MAX - 1)),
    ("time elsewhere", rec("time", "time", {"times": s("time")}, {"timer": "time"})),
]

REFUSED = [
    ("newline in kind", rec("m\nx", "r", {"v": d(1)})),
    ("CR in kind", rec("m\r", "r", {"v": d(1)})),
    ("kind is a comment", rec("#m", "r", {"v": d(1)})),
    ("no kind", rec(None, "r", {"v": d(1)})),
    ("no sensor", rec("m", None, {"v": d(1)})),
    ("newline in sensor", rec("m", "r\nm2 v=1 0", {"v": d(1)})),
    ("newline in tag", rec("m", "r", {"v": d(1)}, {"k": "x\nm2 v=1 0"})),
    ("tab in tag", rec("m", "r", {"v": d(1)}, {"k": "x\ty"})),
    ("trailing backslash in tag", rec("m", "r", {"v": d(1)}, {"k": "x\\"})),
    ("backslash before comma in tag", rec("m", "r", {"v": d(1)}, {"k": "x\\,y"})),
    ("backslash before space in kind", rec("m\\ x", "r", {"v": d(1)})),
    ("trailing backslash in field key", rec("m", "r", {"f\\": d(1)})),
    ("newline in string", rec("m", "r", {"s": s("a\nm2 v=1 0")})),
    ("CR in string", rec("m", "r", {"s": s("a\r")})),
    ("duplicate tags", rec("m", "r", {"v": d(1)}, [["k", "1"], ["k", "2"]])),
    ("tag named sensor_id", rec("m", "r", {"v": d(1)}, {"sensor_id": "x"})),
    ("duplicate fields", rec("m", "r", [["v", d(1)], ["v", d(2)]])),
    ("no fields", rec("m", "r", {})),
    ("field named time", rec("m", "r", {"time": i(1)})),
    ("tag named time", rec("m", "r", {"v": d(1)}, {"time": "x"})),
    ("NaN", rec("m", "r", {"v": d("nan")})),
    ("Inf", rec("m", "r", {"v": d("inf")})),
    ("-Inf", rec("m", "r", {"v": d("-inf")})),
    ("ts INT64_MAX", rec("m", "r", {"v": d(1)}, ts=INT64_MAX)),
    ("ts INT64_MIN", rec("m", "r", {"v": d(1)}, ts=INT64_MIN)),
]


def pairs(x):
    if x is None:
        return []
    return list(x.items()) if isinstance(x, dict) else [tuple(p) for p in x]


def expected_tags(r):
    tags = {k: v for k, v in pairs(r.get("tags")) if v}
    tags["sensor_id"] = r["sensor_id"]
    return tags


def expected_value(spec):
    if spec["type"] == "double":
        return float(spec["v"])
    return spec["v"]


def quote_ident(name):
    """An InfluxQL double-quoted identifier (backslash escapes for \\ and \")."""
    return '"%s"' % name.replace("\\", "\\\\").replace('"', '\\"')


def split_unescaped(text, sep):
    """Splits at sep bytes not preceded by a backslash (InfluxDB's key scanner rule)."""
    parts, cur, prev = [], [], ""
    for ch in text:
        if ch == sep and prev != "\\":
            parts.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
        prev = ch
    parts.append("".join(cur))
    return parts


def unescape_key(text):
    return re.sub(r"\\([, =])", r"\1", text)


def parse_series_key(key):
    meas, *tags = split_unescaped(key, ",")
    out = {}
    for t in tags:
        k, v = split_unescaped(t, "=")
        out[unescape_key(k)] = unescape_key(v)
    return unescape_key(meas), out


def encode(records):
    path = os.environ.get("LP_ENCODE") or (sys.argv[1] if len(sys.argv) > 1 else None)
    if not path:
        raise RuntimeError("set LP_ENCODE to the lp_encode helper")
    stdin = "".join(json.dumps(r) + "\n" for r in records)
    res = services.run_helper(path, input=stdin, timeout=60)
    return res.stdout.split(b"\n")[:-1]


class LineProtocolRoundTrip(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        records = [r for _, r in ACCEPTED] + [r for _, r in REFUSED]
        cls.out = encode(records)
        cls.lines = cls.out[:len(ACCEPTED)]
        cls.influx = services.Influxd()
        cls.addClassCleanup(cls.influx.close)
        cls.influx.start()
        cls.influx.create_db(DB)
        ok = [line for line in cls.lines if not line.startswith(b"ERR")]
        cls.write_status, cls.write_body = cls.influx.write(b"".join(x + b"\n" for x in ok), DB)

    def query(self, q):
        return self.influx.query(q, DB)["results"][0].get("series", [])

    def test_encoder_verdicts(self):
        self.assertEqual(len(self.out), len(ACCEPTED) + len(REFUSED),
                         "one output line per record: nothing split or joined")
        for (what, _), line in zip(ACCEPTED, self.lines):
            self.assertFalse(line.startswith(b"ERR"), "%s was refused: %s" % (what, line))
            self.assertNotIn(b"\r", line, what)
        for (what, _), line in zip(REFUSED, self.out[len(ACCEPTED):]):
            self.assertEqual(line, b"ERR %d" % HUB_EINVAL, what)

    def test_store_accepted_every_line(self):
        self.assertEqual(self.write_status, 204, self.write_body)

    def test_points_read_back_exactly(self):
        # One measurement per query: a regex FROM merges same-named columns of other types.
        series = []
        for kind in sorted({r["kind"] for _, r in ACCEPTED}):
            series += self.query("SELECT * FROM %s GROUP BY *" % quote_ident(kind))
        rows = {}
        for ser in series:
            tags = {k: v for k, v in ser.get("tags", {}).items() if v != ""}
            key = (ser["name"], tuple(sorted(tags.items())))
            for values in ser["values"]:
                row = dict(zip(ser["columns"], values))
                ts = row.pop("time")
                rows[key + (ts,)] = {k: v for k, v in row.items() if v is not None}
        self.assertEqual(len(rows), len(ACCEPTED), "one point per accepted record, no others")
        for what, r in ACCEPTED:
            key = (r["kind"], tuple(sorted(expected_tags(r).items())), r["ts_ns"])
            self.assertIn(key, rows, "%s: point not found" % what)
            want = {k: expected_value(v) for k, v in pairs(r["fields"])}
            got = rows[key]
            self.assertEqual(set(got), set(want), what)
            for name, value in want.items():
                self.assertEqual(got[name], value, "%s: field %r" % (what, name))
                if isinstance(value, float):
                    self.assertEqual(float(got[name]).hex(), value.hex() if value else "0x0.0p+0",
                                     "%s: field %r not bit-exact" % (what, name))

    def test_measurements_exact(self):
        got = {v[0] for ser in self.query("SHOW MEASUREMENTS") for v in ser["values"]}
        self.assertEqual(got, {r["kind"] for _, r in ACCEPTED})

    def test_series_exact(self):
        got = set()
        for ser in self.query("SHOW SERIES"):
            for (key,) in ser["values"]:
                meas, tags = parse_series_key(key)
                got.add((meas, tuple(sorted(tags.items()))))
        want = {(r["kind"], tuple(sorted(expected_tags(r).items()))) for _, r in ACCEPTED}
        self.assertEqual(got, want)

    def test_tag_keys_exact(self):
        want = {}
        for _, r in ACCEPTED:
            want.setdefault(r["kind"], set()).update(expected_tags(r))
        got = {ser["name"]: {v[0] for v in ser["values"]} for ser in self.query("SHOW TAG KEYS")}
        self.assertEqual(got, want)

    def test_field_keys_and_types_exact(self):
        want = {}
        for _, r in ACCEPTED:
            for name, spec in pairs(r["fields"]):
                want.setdefault(r["kind"], set()).add((name, FIELD_TYPES[spec["type"]]))
        got = {ser["name"]: {tuple(v) for v in ser["values"]}
               for ser in self.query("SHOW FIELD KEYS")}
        self.assertEqual(got, want)


if __name__ == "__main__":
    if shutil.which(services.Influxd.binary) is None:
        print("SKIP: influxd not installed")
        sys.exit(77)
    unittest.main(argv=sys.argv[:1], verbosity=2)
