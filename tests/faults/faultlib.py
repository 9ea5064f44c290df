"""Shared helpers of the fault suite (stdlib only): the test case with its broker and store, the
paced load generator, exact read-back of the points it produced, process memory, the stub store,
and the figures each test reports.

The load is cityhub-sim's load mode (docs/simulator.md, "Load mode"): message seq is
`{"sensor_id": "<prefix>-<seq % sensors, 5 digits>", "kind": "air_quality",
"time": <T0_MS + seq ms, RFC 3339>, "fields": {"pm25": seq % 1000 + 0.25}}` on
`city/air_quality/<district>/<sensor_id>`, so the store must end up holding exactly one point per
published seq, at time T0_MS + seq, in the right sensor's series, with the right value: a lost
message is a missing seq, a point written twice under another timestamp is an extra one.
"""
import atexit
import calendar
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest

ROOT = os.environ.get("CITYHUB_SOURCE_ROOT") or os.path.abspath(
    os.path.join(os.path.dirname(__file__), "..", ".."))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

from tests.lib import services  # noqa: E402
from tests.lib.hub import Hub  # noqa: E402

BUILD = os.environ.get("CITYHUB_BUILD_ROOT", os.path.join(ROOT, "build"))
HUB_BIN = os.environ.get("CITYHUB_BIN", os.path.join(BUILD, "hub", "cityhub"))
SIM = os.environ.get("CITYHUB_SIM", os.path.join(BUILD, "simulator", "cityhub-sim"))
STUB_SINK = os.path.join(ROOT, "tests", "tools", "stub_sink.py")

T0_MS = 1795687200000  # 2026-11-26T10:00:00Z
RATE = 2000            # the steady load of every fault test, messages per second
MEASUREMENT = "air_quality"
# The broker keeps every queued QoS 1 message of the hub's session while the hub is away.
BROKER_CONF = "max_queued_messages 0\n"

__all__ = ["services", "Hub", "HUB_BIN", "SIM", "T0_MS", "RATE", "Load", "new_hub",
           "stored_seqs", "assert_exact", "sensor_id", "message_seq", "proc_mem", "StubSink",
           "Figures", "workdir", "BROKER_CONF", "FaultCase", "open_services", "read_log"]


_children = []  # hubs, load generators and stubs: killed at exit if a test left them running


def _kill_children():
    for child in _children:
        try:
            child.kill()
        except Exception:  # noqa: BLE001 - best effort at exit
            pass


atexit.register(_kill_children)


def track(child):
    """Makes sure child (anything with kill()) does not outlive the test process."""
    _children.append(child)
    return child


def workdir(name):
    return tempfile.mkdtemp(prefix="cityhub-faults-%s-" % name)


def new_hub(tmp, broker, influx=None, sink=None, **kw):
    """A Hub whose single sink writes to influx (or to the sink dict given)."""
    sinks = kw.pop("sinks", None)
    if sinks is None:
        base = {"name": "influxdb", "database": "city", "flush_ms": 100,
                "retry_base_ms": 50, "retry_cap_ms": 1000, "timeout_ms": 2000}
        if influx is not None:
            base["url"] = influx.url
        base.update(sink or {})
        sinks = [base]
    return track(Hub(tmp, broker.port, None, binary=HUB_BIN, sinks=sinks, **kw))


def read_log(hub):
    """The whole log of hub, every start of it."""
    with open(hub.log_path, encoding="utf-8", errors="replace") as f:
        return f.read()


def sensor_id(prefix, seq, sensors):
    """The sensor id of message seq of a load."""
    return "%s-%05d" % (prefix, seq % sensors)


def message_seq(payload):
    """The seq of a load message, given its payload (a dict): its time minus T0_MS."""
    when, _, frac = payload["time"].rstrip("Z").partition(".")
    secs = calendar.timegm(time.strptime(when, "%Y-%m-%dT%H:%M:%S"))
    return secs * 1000 + int((frac + "000")[:3]) - T0_MS


class Load:
    """cityhub-sim's load mode publishing messages start .. start+count-1 at rate msg/s, QoS 1.
    It reconnects after a broker restart, publishes again what was in flight, and ends when
    the broker acknowledged every message (or wait_s passed without)."""

    def __init__(self, broker, count, start=0, rate=RATE, sensors=50, prefix="lg",
                 district="faults", wait_s=120):
        self.count, self.start, self.sensors, self.prefix = count, start, sensors, prefix
        self.argv = [SIM, "--broker", broker.url, "--rate", str(rate), "--count", str(count),
                     "--first", str(start), "--sensors", str(sensors), "--prefix", prefix,
                     "--district", district, "--load-kind", "air_quality",
                     "--seq-time", str(T0_MS), "--qos", "1", "--max-inflight", "1000",
                     "--ack-timeout", str(wait_s)]
        self.proc = None
        self.t0 = None
        track(self)

    def begin(self):
        self.t0 = time.monotonic()
        self.proc = subprocess.Popen(self.argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     text=True, start_new_session=True)
        return self

    def elapsed(self):
        return time.monotonic() - self.t0

    def finish(self, timeout=300):
        """Waits for the end and returns the simulator's summary, plus "resent" (messages
        published again after a lost connection, from its log); raises when not every message
        was acknowledged."""
        out, err = self.proc.communicate(timeout=timeout)
        if self.proc.returncode != 0:
            raise RuntimeError("cityhub-sim failed (%d): %s %s" % (self.proc.returncode, out,
                                                                   err))
        summary = json.loads(out.strip().splitlines()[-1])
        if summary["acked"] != self.count or summary["failed"]:
            raise RuntimeError("cityhub-sim: %r" % summary)
        done = [ln for ln in err.splitlines() if 'msg="load done"' in ln]
        summary["resent"] = int(done[-1].split(" resent=")[1].split()[0]) if done else None
        return summary

    def run(self, timeout=300):
        return self.begin().finish(timeout)

    def kill(self):
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()

    def seqs(self):
        return set(range(self.start, self.start + self.count))

    def __enter__(self):
        return self.begin()

    def __exit__(self, *exc):
        self.kill()


def stored_seqs(influx, prefix="lg", db="city", window_ms=20000, lo=0, hi=None):
    """Reads every point of the load back: returns {seq: (sensor_id, pm25)}; a seq stored
    twice (impossible in one series, possible across series) raises."""
    if hi is None:
        rows = influx.query('SELECT count("pm25") FROM "%s"' % MEASUREMENT, db=db)
        if not rows["results"][0].get("series"):
            return {}
        last = influx.query('SELECT last("pm25") FROM "%s"' % MEASUREMENT, db=db, epoch="ms")
        hi = last["results"][0]["series"][0]["values"][0][0] - T0_MS + 1
    out = {}
    for a in range(lo, hi, window_ms):
        b = min(a + window_ms, hi)
        q = ('SELECT "pm25" FROM "%s" WHERE time >= %dms AND time < %dms AND '
             'sensor_id =~ /^%s-/ GROUP BY "sensor_id"' % (MEASUREMENT, T0_MS + a, T0_MS + b,
                                                             prefix))
        res = influx.query(q, db=db, epoch="ms")["results"][0]
        for s in res.get("series", []):
            sensor = s["tags"]["sensor_id"]
            for t, v in s["values"]:
                seq = t - T0_MS
                if seq in out:
                    raise AssertionError("seq %d stored twice: %s and %s" % (seq, out[seq][0],
                                                                             sensor))
                out[seq] = (sensor, v)
    return out


def count_points(influx, db="city"):
    rows = influx.query('SELECT count("pm25") FROM "%s"' % MEASUREMENT, db=db)
    series = rows["results"][0].get("series")
    return int(series[0]["values"][0][1]) if series else 0


def assert_exact(tc, influx, expected, prefix="lg", sensors=50, db="city"):
    """Asserts the store holds exactly the seqs in expected (a set), each in the right series
    with the right value. Returns the number of points."""
    got = stored_seqs(influx, prefix, db)
    missing = sorted(expected - got.keys())
    extra = sorted(got.keys() - expected)
    tc.assertEqual((len(missing), missing[:10], len(extra), extra[:10]), (0, [], 0, []),
                   "stored points differ from published messages")
    wrong = [(s, got[s]) for s in sorted(expected)
             if got[s] != (sensor_id(prefix, s, sensors), s % 1000 + 0.25)]
    tc.assertEqual(wrong[:10], [], "points in the wrong series or with a wrong value")
    tc.assertEqual(count_points(influx, db), len(expected), "points outside the load")
    return len(got)


def open_services(add_cleanup, name, influx=True, **broker_options):
    """A work folder, a broker (BROKER_CONF) and, with influx, an InfluxDB holding an empty
    database "city"; add_cleanup (a test's addCleanup or addClassCleanup) removes them.
    Returns (folder, broker, influxd or None)."""
    tmp = workdir(name)
    add_cleanup(shutil.rmtree, tmp, ignore_errors=True)
    broker = services.Mosquitto(extra_conf=BROKER_CONF, **broker_options).start()
    add_cleanup(broker.close)
    store = None
    if influx:
        store = services.Influxd().start()
        add_cleanup(store.close)
        store.create_db("city")
    return tmp, broker, store


class FaultCase(unittest.TestCase):
    """A test with its own work folder, a broker (BROKER_CONF) and an InfluxDB holding an empty
    database "city", all started before each test and removed after it. Cleanups run in reverse
    order, so a hub the test started (start_hub) is killed before its services and folder go."""

    workdir_name = "case"  # the work folder's name prefix
    broker_options = {}    # further Mosquitto() arguments

    def setUp(self):
        self.tmp, self.broker, self.influx = open_services(self.addCleanup, self.workdir_name,
                                                           **self.broker_options)

    def start_hub(self, hub=None, **kw):
        """Starts hub (by default a new_hub() writing to this test's store) with start(**kw);
        the hub is killed after the test."""
        hub = (hub or new_hub(self.tmp, self.broker, self.influx)).start(**kw)
        self.addCleanup(hub.kill)
        return hub

    def assert_clean_stop(self, hub, timeout=10):
        """Stops hub with SIGTERM (killing it after timeout seconds); it must exit with code 0.
        Returns the seconds it took."""
        code, took = hub.stop(timeout=timeout)
        self.assertEqual(code, 0, hub.log_tail())
        return took

    def assert_all_stored(self, expected, timeout):
        """Waits up to timeout seconds for len(expected) points, one second more for any extra
        point, then asserts the store holds exactly the seqs in expected (see assert_exact).
        Returns the number of points."""
        wait_count(self.influx, len(expected), timeout)
        time.sleep(1.0)
        return assert_exact(self, self.influx, expected)


def wait_count(influx, n, timeout=60, what=None):
    """Waits until the store holds n points of the load (never more: extra points fail)."""
    def done():
        c = count_points(influx)
        if c > n:
            raise AssertionError("%d points stored, only %d published" % (c, n))
        return c == n
    try:
        services.wait_until(done, timeout, 0.2, what or "%d points in InfluxDB" % n)
    except TimeoutError as exc:
        raise AssertionError("%s; have %d" % (exc, count_points(influx))) from None


def proc_mem(pid):
    """Returns {'VmRSS': kB, 'RssAnon': kB, 'RssFile': kB, ...} from /proc/pid/status."""
    out = {}
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            key, _, rest = line.partition(":")
            if key.startswith(("Vm", "Rss")):
                out[key] = int(rest.split()[0])
    return out


class StubSink:
    """tests/tools/stub_sink.py on a free port (see tests/tools/README.md)."""

    def __init__(self):
        self.proc = subprocess.Popen([sys.executable, STUB_SINK, "--port", "0"],
                                     stdout=subprocess.PIPE, text=True, start_new_session=True)
        self.port = int(self.proc.stdout.readline())
        self.url = "http://127.0.0.1:%d" % self.port
        track(self)

    def control(self, rule):
        status, body = services._http("POST", self.url + "/_control", json.dumps(rule).encode())
        if status != 204:
            raise RuntimeError("stub control: %d %s" % (status, body))

    def lines(self):
        return json.loads(services._http("GET", self.url + "/_lines")[1])

    def requests(self):
        return json.loads(services._http("GET", self.url + "/_requests")[1])

    def close(self):
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            self.proc.wait(10)

    kill = close

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def line_seq(line):
    """The seq of a load line `air_quality,... pm25=N.25 <ns>`."""
    return int(line.rsplit(" ", 1)[1]) // 10**6 - T0_MS


class Figures:
    """Collects a test's figures, prints them, and adds them to faults-figures.json in the
    build's meson-logs (the source of docs/reliability.md's table)."""

    def __init__(self, test):
        self.test = test
        self.values = {}

    def __setitem__(self, key, value):
        self.values[key] = value

    def load(self, summary, stored):
        """The figures of a load test: what the load published, at what rate, and how many
        points the store ended with."""
        self["published"] = summary["acked"]
        self["publish_rate"] = summary["achieved_rate"]
        self["stored"] = stored

    def save(self):
        print("FIGURES %s %s" % (self.test, json.dumps(self.values, sort_keys=True)),
              file=sys.stderr, flush=True)
        path = os.path.join(BUILD, "meson-logs", "faults-figures.json")
        try:
            os.makedirs(os.path.dirname(path), exist_ok=True)
            try:
                with open(path) as f:
                    data = json.load(f)
            except (OSError, ValueError):
                data = {}
            data[self.test] = dict(self.values, when=time.strftime("%Y-%m-%dT%H:%M:%SZ",
                                                                    time.gmtime()))
            with open(path + ".tmp", "w") as f:
                json.dump(data, f, indent=1, sort_keys=True)
            os.replace(path + ".tmp", path)
        except OSError as exc:
            print("figures not saved: %s" % exc, file=sys.stderr)
