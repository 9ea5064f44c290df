"""Runs the cityhub daemon for integration tests: writes its YAML config, starts it, reads its
HTTP API, and stops or kills it. Stdlib only."""
import json
import os
import signal
import subprocess
import time
import urllib.error
import urllib.request

from . import services

DEFAULT_ROUTES = [
    {"filter": "city/#", "adapter": "native", "template": "city/{kind}/{district}/{sensor_id}"},
]


def _yaml_scalar(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(v)
    return json.dumps(str(v))  # a JSON string is a valid YAML double-quoted scalar


def to_yaml(obj, indent=0):
    """Serialises dicts, lists and scalars as block YAML (enough for cityhub configs)."""
    pad = " " * indent
    out = []
    if isinstance(obj, dict):
        for k, v in obj.items():
            if isinstance(v, (dict, list)) and v:
                out.append(f"{pad}{k}:")
                out.append(to_yaml(v, indent + 2))
            elif isinstance(v, dict):
                out.append(f"{pad}{k}: {{}}")
            elif isinstance(v, list):
                out.append(f"{pad}{k}: []")
            else:
                out.append(f"{pad}{k}: {_yaml_scalar(v)}")
    elif isinstance(obj, list):
        for item in obj:
            if isinstance(item, (dict, list)):
                text = to_yaml(item, indent + 2).lstrip()
            else:
                text = _yaml_scalar(item)
            out.append(f"{pad}- {text}")
    return "\n".join(out)


def unreachable_sinks():
    """One InfluxDB sink at a loopback port nobody listens on: the store down throughout, retried
    quickly."""
    return [{"name": "influxdb", "url": "http://127.0.0.1:%d" % services.free_port(),
             "database": "city", "retry_base_ms": 50, "retry_cap_ms": 500}]


def fill_pilot_template(text, root, mqtt_port, influx_port, http_port, journal):
    """What scripts/pilot does with sed to scripts/pilot.yaml.in. Alertmanager: a port nobody
    listens on (the pilot's alerts are tested in test_alerts.py and test_pilot.py; here they
    only must not disturb); the sensor registry is left out."""
    for key, value in (("@MQTT_PORT@", mqtt_port), ("@INFLUX_PORT@", influx_port),
                       ("@HTTP_PORT@", http_port), ("@JOURNAL@", journal),
                       ("@RULES@", os.path.join(root, "rules", "mytho.yaml")),
                       ("@ALERTMANAGER_URL@", "http://127.0.0.1:%d" % services.free_port()),
                       ("@REGISTRY@", os.path.join(journal, "sensors.csv")),
                       ("#@LIVE@", "#")):
        text = text.replace(key, str(value))
    return text


class Hub:
    """A cityhub process. `config` overrides sections of the generated config."""

    def __init__(self, workdir, broker_port, influx_port=None, config=None, binary=None,
                 sinks=None, routes=None):
        self.binary = binary or os.environ.get("CITYHUB_BIN", "build/hub/cityhub")
        self.workdir = workdir
        self.http_port = services.free_port()
        self.proc = None
        self.log_path = os.path.join(workdir, "cityhub.log")
        cfg = {
            "mqtt": {"url": f"tcp://127.0.0.1:{broker_port}", "client_id": "cityhub-test",
                     "keepalive_s": 10},
            "journal": {"dir": os.path.join(workdir, "journal"), "fsync": "none"},
            "http": {"listen": "127.0.0.1", "port": self.http_port},
            "log": {"level": "info"},
            "routes": routes or DEFAULT_ROUTES,
        }
        if sinks is not None:
            cfg["sinks"] = sinks
        elif influx_port:
            cfg["sinks"] = [{"name": "influxdb", "url": f"http://127.0.0.1:{influx_port}",
                             "database": "city", "flush_ms": 100, "retry_base_ms": 50,
                             "retry_cap_ms": 1000}]
        for section, values in (config or {}).items():
            if isinstance(values, dict):
                cfg.setdefault(section, {}).update(values)
            else:
                cfg[section] = values
        self.config = cfg
        self.config_path = os.path.join(workdir, "cityhub.yaml")
        with open(self.config_path, "w", encoding="utf-8") as f:
            f.write(to_yaml(cfg) + "\n")

    def start(self, wait_ready=True, timeout=20):
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen([self.binary, "-c", self.config_path], stdout=log,
                                     stderr=subprocess.STDOUT, start_new_session=True)
        log.close()
        if wait_ready:
            services.wait_until(self.ready, timeout, what="cityhub /readyz")
        return self

    def http(self, path):
        """Returns (status, body text) of GET path on the hub's API."""
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.http_port}{path}",
                                        timeout=5) as r:
                return r.status, r.read().decode()
        except urllib.error.HTTPError as e:
            return e.code, e.read().decode()
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            return 0, ""

    def ready(self):
        if self.proc and self.proc.poll() is not None:
            raise RuntimeError(f"cityhub exited with {self.proc.returncode}; log: "
                               + self.log_tail())
        return self.http("/readyz")[0] == 200

    def metrics(self):
        """Returns {'name{labels}': value} from /metrics."""
        status, body = self.http("/metrics")
        if status != 200:
            raise RuntimeError(f"/metrics answered {status}")
        out = {}
        for line in body.splitlines():
            if line and not line.startswith("#"):
                key, _, value = line.rpartition(" ")
                out[key] = float(value)
        return out

    def metric(self, name, default=0.0):
        return self.metrics().get(name, default)

    def metric_sum(self, prefix):
        return sum(v for k, v in self.metrics().items() if k.split("{")[0] == prefix)

    def stop(self, sig=signal.SIGTERM, timeout=10):
        """Sends sig and waits; returns (exit code, seconds taken)."""
        if not self.proc or self.proc.poll() is not None:
            return (self.proc.returncode if self.proc else None), 0.0
        t0 = time.monotonic()
        self.proc.send_signal(sig)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        return self.proc.returncode, time.monotonic() - t0

    def kill(self):
        return self.stop(signal.SIGKILL)

    def log_tail(self, n=30):
        try:
            with open(self.log_path, encoding="utf-8", errors="replace") as f:
                return "".join(f.readlines()[-n:])
        except OSError:
            return "(no log)"

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.kill()
