"""Real services on loopback for integration tests: Mosquitto, InfluxDB 1.x, VictoriaMetrics and
Alertmanager, each in its own temporary directory on free ports.

Every service is a context manager. Its process runs in its own process group, which is killed
on exit, at interpreter exit, on SIGTERM, and (through PR_SET_PDEATHSIG) when the test process
dies, so no process outlives the test. The temporary directory is removed unless the
environment has KEEP_TMP=1, in which case its path and log file are printed instead.

Standard library only.
"""

import atexit
import ctypes
import ctypes.util
import json
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request

__all__ = [
    "free_port",
    "wait_until",
    "run_helper",
    "Service",
    "Mosquitto",
    "Influxd",
    "VictoriaMetrics",
    "Alertmanager",
]

_PR_SET_PDEATHSIG = 1
_libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
_given_ports = set()
_open = []  # services created and not yet closed, for the exit and signal hooks


def free_port():
    """Returns a TCP port on 127.0.0.1 that was free a moment ago and that this process
    has not handed out before."""
    for _ in range(100):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if port not in _given_ports:
            _given_ports.add(port)
            return port
    raise RuntimeError("no free port found")


def wait_until(pred, timeout=10.0, interval=0.1, what=None):
    """Calls pred() until it returns a true value, which is returned; raises TimeoutError
    after timeout seconds. Exceptions from pred count as 'not yet'."""
    deadline = time.monotonic() + timeout
    last_exc = None
    while True:
        try:
            value = pred()
            if value:
                return value
        except Exception as exc:  # noqa: BLE001 - a failing probe means "not ready yet"
            last_exc = exc
        if time.monotonic() >= deadline:
            msg = "timed out after %.1fs waiting for %s" % (timeout, what or pred)
            if last_exc is not None:
                msg += " (last error: %r)" % (last_exc,)
            raise TimeoutError(msg)
        time.sleep(interval)


def _child_setup():
    # Runs in the child between fork and exec: die with the parent.
    _libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


def run_helper(path, args=(), input=None, timeout=60, check=True, env=None):
    """Runs a helper program to completion and returns the CompletedProcess (stdout and stderr
    as bytes). input may be str or bytes. Raises CalledProcessError when check and the exit
    code is not 0, TimeoutExpired after timeout seconds (the helper is then killed)."""
    if isinstance(input, str):
        input = input.encode("utf-8")
    return subprocess.run(
        [str(path)] + [str(a) for a in args],
        input=input,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        timeout=timeout,
        check=check,
        env=env,
        preexec_fn=_child_setup,
    )


def _http(method, url, body=None, headers=None, timeout=10.0):
    """Returns (status, body bytes) for any HTTP status; raises OSError on network errors."""
    req = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as err:
        return err.code, err.read()


def _port_open(port):
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


def _cleanup_all():
    for svc in list(_open):
        svc.close()


def _on_sigterm(signum, frame):
    # Unwind through the with-blocks so that every service is stopped and cleaned up.
    _cleanup_all()
    raise SystemExit(128 + signum)


_hooks_installed = False


def _install_hooks():
    global _hooks_installed
    if _hooks_installed:
        return
    _hooks_installed = True
    atexit.register(_cleanup_all)
    if signal.getsignal(signal.SIGTERM) == signal.SIG_DFL:
        signal.signal(signal.SIGTERM, _on_sigterm)


class Service:
    """A child process with a temporary directory and a log file.

    Subclasses set `name` and implement _argv() and _ready(); they may write config files in
    _prepare(), which runs once before the first start. start() and stop() may be called
    repeatedly (the directory and ports stay the same), close() stops and removes the
    directory. Used as a context manager: start on enter, close on exit."""

    name = "service"
    ready_timeout = 30.0

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="cityhub-%s-" % self.name)
        self.log_path = os.path.join(self.dir, "%s.log" % self.name)
        self.proc = None
        self._prepared = False
        self._closed = False
        _install_hooks()
        _open.append(self)

    # -- to be provided by subclasses --
    def _prepare(self):
        pass

    def _argv(self):
        raise NotImplementedError

    def _ready(self):
        raise NotImplementedError

    def _env(self):
        return dict(os.environ)

    # -- lifecycle --
    def start(self):
        """Starts the process and waits until it serves; raises RuntimeError with the log's
        tail when it does not within ready_timeout seconds."""
        if self.proc is not None:
            return self
        if self._closed:
            raise RuntimeError("%s: already closed" % self.name)
        if not self._prepared:
            self._prepare()
            self._prepared = True
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                self._argv(),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=self.dir,
                env=self._env(),
                start_new_session=True,
                preexec_fn=_child_setup,
            )
        try:
            wait_until(self._ready_or_dead, self.ready_timeout, 0.1, "%s ready" % self.name)
        except Exception as exc:
            self.stop()
            raise RuntimeError("%s did not start: %s\n--- %s ---\n%s" % (
                self.name, exc, self.log_path, self.log_tail())) from None
        return self

    def _ready_or_dead(self):
        if self.proc.poll() is not None:
            raise RuntimeError("exited with code %d" % self.proc.returncode)
        return self._ready()

    def stop(self, sig=signal.SIGTERM, timeout=15.0):
        """Stops the process group (sig, then SIGKILL after timeout seconds)."""
        proc, self.proc = self.proc, None
        if proc is None:
            return
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            pass
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            pass
        try:
            os.killpg(proc.pid, signal.SIGKILL)  # also any stray child left in the group
        except ProcessLookupError:
            pass
        proc.wait()

    def kill(self):
        """Stops the process abruptly (SIGKILL), as a crash would."""
        self.stop(signal.SIGKILL)

    def close(self):
        self.stop()
        if self._closed:
            return
        self._closed = True
        if self in _open:
            _open.remove(self)
        if os.environ.get("KEEP_TMP") == "1":
            print("KEEP_TMP: %s dir=%s log=%s" % (self.name, self.dir, self.log_path),
                  file=sys.stderr)
        else:
            shutil.rmtree(self.dir, ignore_errors=True)

    def log_tail(self, nbytes=4000):
        try:
            with open(self.log_path, "rb") as f:
                f.seek(0, os.SEEK_END)
                f.seek(max(0, f.tell() - nbytes))
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def __enter__(self):
        try:
            return self.start()
        except BaseException:
            self.close()
            raise

    def __exit__(self, *exc):
        self.close()
        return False


class Mosquitto(Service):
    """An MQTT broker on 127.0.0.1:port, anonymous access; with persistence=True its
    database lives in the temporary directory and survives stop()/start()."""

    name = "mosquitto"
    binary = "/usr/sbin/mosquitto"

    def __init__(self, persistence=False, extra_conf=""):
        super().__init__()
        self.port = free_port()
        self.persistence = persistence
        self.extra_conf = extra_conf
        self.conf_path = os.path.join(self.dir, "mosquitto.conf")
        self.url = "tcp://127.0.0.1:%d" % self.port

    def _prepare(self):
        lines = [
            "listener %d 127.0.0.1" % self.port,
            "allow_anonymous true",
            # Run as whoever we are: as root, mosquitto would otherwise switch to a user
            # that cannot write into our temporary directory.
            "user %s" % pwd.getpwuid(os.getuid()).pw_name,
            "log_dest stdout",
            "log_type error",
            "log_type warning",
            "log_type notice",
            "log_type information",
        ]
        if self.persistence:
            lines += [
                "persistence true",
                "persistence_location %s/" % self.dir,
                "persistence_file mosquitto.db",
                "autosave_interval 1",
            ]
        else:
            lines.append("persistence false")
        with open(self.conf_path, "w") as f:
            f.write("\n".join(lines) + "\n" + self.extra_conf)

    def _argv(self):
        return [self.binary, "-c", self.conf_path]

    def _ready(self):
        return _port_open(self.port)


class Influxd(Service):
    """InfluxDB 1.x with its meta, data and WAL in the temporary directory, HTTP on
    127.0.0.1:port and the RPC listener on another free port; stop()/start() keeps the data."""

    name = "influxd"
    binary = "influxd"

    def __init__(self):
        super().__init__()
        self.port = free_port()
        self.rpc_port = free_port()
        self.conf_path = os.path.join(self.dir, "influxdb.conf")
        self.url = "http://127.0.0.1:%d" % self.port

    def _prepare(self):
        d = self.dir
        conf = """\
reporting-disabled = true
bind-address = "127.0.0.1:{rpc}"

[meta]
  dir = "{d}/meta"
  logging-enabled = false

[data]
  dir = "{d}/data"
  wal-dir = "{d}/wal"
  index-version = "inmem"
  query-log-enabled = false

[monitor]
  store-enabled = false

[subscriber]
  enabled = false

[continuous_queries]
  enabled = false

[http]
  enabled = true
  bind-address = "127.0.0.1:{port}"
  log-enabled = true
  pprof-enabled = false
  unix-socket-enabled = false

[ifql]
  enabled = false

[logging]
  level = "info"
  suppress-logo = true
""".format(d=d, rpc=self.rpc_port, port=self.port)
        with open(self.conf_path, "w") as f:
            f.write(conf)

    def _env(self):
        # INFLUXDB_* variables override the config file: keep the caller's out.
        return {k: v for k, v in os.environ.items() if not k.startswith("INFLUXDB_")}

    def _argv(self):
        return [self.binary, "run", "-config", self.conf_path]

    def _ready(self):
        status, _ = _http("GET", self.url + "/ping", timeout=2.0)
        return status == 204

    def query(self, q, db=None, epoch="ns"):
        """Runs InfluxQL q (POST /query) and returns the parsed JSON reply; raises
        RuntimeError on an HTTP error or a statement error."""
        params = {"q": q}
        if db:
            params["db"] = db
        if epoch:
            params["epoch"] = epoch
        body = urllib.parse.urlencode(params).encode()
        status, data = _http("POST", self.url + "/query", body,
                             {"Content-Type": "application/x-www-form-urlencoded"})
        if status != 200:
            raise RuntimeError("query %r: HTTP %d: %s" % (q, status, data[:500]))
        reply = json.loads(data)
        for res in reply.get("results", []):
            if "error" in res:
                raise RuntimeError("query %r: %s" % (q, res["error"]))
        return reply

    def create_db(self, name):
        quoted = name.replace("\\", "\\\\").replace('"', '\\"')
        self.query('CREATE DATABASE "%s"' % quoted)

    def write(self, lines, db, precision="ns", rp=None):
        """POSTs line protocol (str or bytes) to /write; returns (status, body text)."""
        if isinstance(lines, str):
            lines = lines.encode("utf-8")
        params = {"db": db, "precision": precision}
        if rp:
            params["rp"] = rp
        status, data = _http("POST", self.url + "/write?" + urllib.parse.urlencode(params),
                             lines, {"Content-Type": "text/plain; charset=utf-8"})
        return status, data.decode("utf-8", "replace")


class VictoriaMetrics(Service):
    """Single-node VictoriaMetrics on 127.0.0.1:port, storage in the temporary directory.
    Retention is 100 years and the search latency offset 0 so that test data with any
    timestamp is kept and visible at once."""

    name = "victoria-metrics"
    binary = "victoria-metrics"

    def __init__(self, extra_args=()):
        super().__init__()
        self.port = free_port()
        self.extra_args = list(extra_args)
        self.url = "http://127.0.0.1:%d" % self.port

    def _argv(self):
        return [
            self.binary,
            "-storageDataPath=%s/data" % self.dir,
            "-httpListenAddr=127.0.0.1:%d" % self.port,
            "-retentionPeriod=100y",
            "-search.latencyOffset=0s",
        ] + self.extra_args

    def _ready(self):
        status, _ = _http("GET", self.url + "/health", timeout=2.0)
        return status == 200

    def query(self, promql, time_s=None):
        """Instant query; returns the parsed JSON reply."""
        params = {"query": promql}
        if time_s is not None:
            params["time"] = str(time_s)
        status, data = _http("GET", self.url + "/api/v1/query?" + urllib.parse.urlencode(params))
        if status != 200:
            raise RuntimeError("query %r: HTTP %d: %s" % (promql, status, data[:500]))
        return json.loads(data)

    def export(self, match='{__name__!=""}'):
        """Returns every raw series matching match as a list of parsed JSON lines."""
        self.flush()
        status, data = _http("GET", self.url + "/api/v1/export?" +
                             urllib.parse.urlencode({"match[]": match}))
        if status != 200:
            raise RuntimeError("export: HTTP %d: %s" % (status, data[:500]))
        return [json.loads(line) for line in data.splitlines() if line.strip()]

    def flush(self):
        """Makes recently written samples searchable (/internal/force_flush)."""
        _http("GET", self.url + "/internal/force_flush")


class Alertmanager(Service):
    """Prometheus Alertmanager on 127.0.0.1:port with clustering disabled and a minimal
    config (one receiver without integrations) unless config_yaml is given."""

    name = "alertmanager"
    binary = "prometheus-alertmanager"
    minimal_config = """\
route:
  receiver: default
  group_wait: 0s
  group_interval: 1s
receivers:
  - name: default
"""

    def __init__(self, config_yaml=None):
        super().__init__()
        self.port = free_port()
        self.config_yaml = config_yaml or self.minimal_config
        self.conf_path = os.path.join(self.dir, "alertmanager.yml")
        self.url = "http://127.0.0.1:%d" % self.port
        self.cluster_port = None  # set by cluster(): gossip on 127.0.0.1:cluster_port
        self.peers = []

    @classmethod
    def cluster(cls, n, config_yaml=None):
        """Returns n instances (not started) that form one Alertmanager cluster on loopback.
        Alertmanager gossips silences and the notification log, not alerts: a sender must
        post to every instance."""
        members = [cls(config_yaml) for _ in range(n)]
        for m in members:
            m.cluster_port = free_port()
        for m in members:
            m.peers = ["127.0.0.1:%d" % o.cluster_port for o in members if o is not m]
        return members

    def _prepare(self):
        with open(self.conf_path, "w") as f:
            f.write(self.config_yaml)

    def _argv(self):
        return [
            self.binary,
            "--config.file=%s" % self.conf_path,
            "--web.listen-address=127.0.0.1:%d" % self.port,
            "--storage.path=%s/data" % self.dir,
        ] + self._cluster_args()

    def _cluster_args(self):
        if self.cluster_port is None:
            return ["--cluster.listen-address="]
        return ["--cluster.listen-address=127.0.0.1:%d" % self.cluster_port] + [
            "--cluster.peer=%s" % p for p in self.peers]

    def _ready(self):
        status, _ = _http("GET", self.url + "/-/ready", timeout=2.0)
        return status == 200

    def alerts(self):
        """Returns the current alerts (GET /api/v2/alerts) as parsed JSON."""
        status, data = _http("GET", self.url + "/api/v2/alerts")
        if status != 200:
            raise RuntimeError("alerts: HTTP %d: %s" % (status, data[:500]))
        return json.loads(data)
