"""Shared helpers for the integration and fault suites (stdlib only)."""
import os
import subprocess
import sys

ROOT = os.environ.get("CITYHUB_SOURCE_ROOT") or os.path.abspath(
    os.path.join(os.path.dirname(__file__), "..", ".."))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

from tests.lib import services  # noqa: E402
from tests.lib.hub import Hub  # noqa: E402

BUILD = os.environ.get("CITYHUB_BUILD_ROOT", os.path.join(ROOT, "build"))
HUB_BIN = os.path.join(BUILD, "hub", "cityhub")
SIM_BIN = os.path.join(BUILD, "simulator", "cityhub-sim")

# A fixed instant (2026-11-26T10:00:00Z) so expected timestamps are exact.
T0_NS = 1795687200 * 10**9


def publish_lines(port, topic, payloads, qos=1):
    """Publishes each payload (no newlines) to topic with mosquitto_pub -l."""
    subprocess.run(["mosquitto_pub", "-p", str(port), "-q", str(qos), "-t", topic, "-l"],
                   input="\n".join(payloads) + "\n", text=True, check=True, timeout=120)


def publish_one(port, topic, payload, qos=1):
    """Publishes one payload (str or bytes, may hold anything) with mosquitto_pub -s."""
    data = payload.encode() if isinstance(payload, str) else payload
    subprocess.run(["mosquitto_pub", "-p", str(port), "-q", str(qos), "-t", topic, "-s"],
                   input=data, check=True, timeout=30)


def series_values(influx, q, db="city"):
    """Runs q and returns [(measurement, tags dict, {column: value})] rows."""
    rows = []
    for res in influx.query(q, db=db).get("results", []):
        for s in res.get("series", []):
            for v in s["values"]:
                rows.append((s["name"], s.get("tags", {}), dict(zip(s["columns"], v))))
    return rows


def count(influx, measurement, field, db="city"):
    rows = series_values(influx, f'SELECT count("{field}") FROM "{measurement}"', db)
    return int(rows[0][2]["count"]) if rows else 0


def new_hub(tmpdir, broker, influx=None, **kw):
    return Hub(tmpdir, broker.port, influx.port if influx else None, binary=HUB_BIN, **kw)
