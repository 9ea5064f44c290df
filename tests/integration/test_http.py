"""The operations API and the command line from outside (issue 13): /readyz stays valid JSON with
many failing sinks (#12), the bearer scheme is case-insensitive (#7) and a 401 carries
WWW-Authenticate (#13), libmicrohttpd's own errors are logfmt lines (#6), http.listen takes IPv6
and host names (#11), stray arguments are usage errors (#9), and --check-config reports every
error of a file, including what the daemon would only find at run time (#1, #2, #4, #11, #16)."""
import json
import os
import shutil
import socket
import subprocess
import tempfile
import unittest
import urllib.error
import urllib.request

from common import HUB_BIN, new_hub, publish_one, services

TOKEN = "tok3n-Secret"


def get(url, headers=None):
    """Returns (status, headers, body) of GET url."""
    req = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=5) as r:
            return r.status, r.headers, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read().decode()


def run_hub(*args):
    return subprocess.run([HUB_BIN, *args], capture_output=True, text=True, timeout=30)


class Http(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.broker = services.Mosquitto().start()

    @classmethod
    def tearDownClass(cls):
        cls.broker.close()

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="cityhub-http-")

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def test_readyz_is_json_with_many_failing_sinks(self):
        dead = services.free_port()  # no store listens here
        sinks = [{"name": f"district-store-with-a-long-name-{i:02d}",
                  "url": f"http://127.0.0.1:{dead}", "flush_ms": 50, "retry_base_ms": 50,
                  "retry_cap_ms": 200} for i in range(30)]
        with new_hub(self.tmp, self.broker, sinks=sinks).start(wait_ready=False) as hub:
            services.wait_until(lambda: hub.http("/readyz")[0] == 200 or
                                hub.http("/readyz")[0] == 503, 15, what="/readyz")
            publish_one(self.broker.port, "city/noise/phuong-1/n-1",
                        '{"ts":1795687200000,"fields":{"laeq_db":55.5}}')

            def problems():
                status, body = hub.http("/readyz")
                doc = json.loads(body)  # a truncated reply would raise here
                self.assertEqual(status, 503)
                self.assertIs(doc["ready"], False)
                return doc["problems"]

            services.wait_until(lambda: len(problems()) == 30, 30, what="30 failing sinks")
            body = hub.http("/readyz")[1]
            self.assertGreater(len(body), 1024)
            for i, p in enumerate(sorted(problems())):
                self.assertTrue(p.startswith(f"district-store-with-a-long-name-{i:02d}: network: "),
                                p)

    def test_bearer_token(self):
        hub = new_hub(self.tmp, self.broker, sinks=[], config={"http": {"token": TOKEN}})
        with hub.start(wait_ready=False):
            base = f"http://127.0.0.1:{hub.http_port}"
            services.wait_until(lambda: hub.http("/healthz")[0] == 200, 15, what="/healthz")
            for scheme in ("Bearer", "bearer", "BEARER", "bEaReR"):
                status, _, _ = get(base + "/metrics", {"Authorization": f"{scheme} {TOKEN}"})
                self.assertEqual(status, 200, scheme)
            status, _, _ = get(base + "/metrics", {"Authorization": f"Bearer   {TOKEN}"})
            self.assertEqual(status, 200)
            for auth in (None, "Bearer wrong", f"Basic {TOKEN}", f"Bearer {TOKEN}x",
                         f"Bearer {TOKEN[:-1]}", "Bearer"):
                status, headers, _ = get(base + "/metrics", {"Authorization": auth} if auth else {})
                self.assertEqual(status, 401, auth)
                self.assertEqual(headers.get("WWW-Authenticate"), 'Bearer realm="cityhub"')

    def test_mhd_errors_are_logfmt(self):
        with new_hub(self.tmp, self.broker, sinks=[]).start(wait_ready=False) as hub:
            services.wait_until(lambda: hub.http("/healthz")[0] == 200, 15, what="/healthz")
            with socket.create_connection(("127.0.0.1", hub.http_port), timeout=5) as s:
                s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 200000 +
                          b"\r\n\r\n")
                reply = s.recv(4096)
            self.assertIn(b" 431 ", reply.split(b"\r\n")[0])
            services.wait_until(lambda: 'msg="http server"' in hub.log_tail(50), 10,
                                what="the libmicrohttpd message in the log")
            hub.stop()
            with open(hub.log_path, encoding="utf-8", errors="replace") as f:
                for line in f:
                    self.assertTrue(line.startswith("ts="), "not a logfmt line: " + line)

    def test_listen_ipv6_and_host_name(self):
        try:
            with socket.socket(socket.AF_INET6) as s:
                s.bind(("::1", 0))
        except OSError:
            self.skipTest("no IPv6 loopback on this machine")
        for listen, host in (("::1", "[::1]"), ("localhost", "localhost")):
            d = os.path.join(self.tmp, listen.replace(":", "_"))
            os.mkdir(d)
            hub = new_hub(d, self.broker, sinks=[], config={"http": {"listen": listen}})
            with hub.start(wait_ready=False):
                url = f"http://{host}:{hub.http_port}/healthz"

                def up():
                    if hub.proc.poll() is not None:
                        raise RuntimeError("cityhub exited: " + hub.log_tail())
                    try:
                        return get(url)[0] == 200
                    except OSError:
                        return False

                services.wait_until(up, 15, what=url)

    def test_cli_strictness(self):
        for args in (["--version", "extra"], ["--list-adapters", "--bogus"],
                     ["--config-doc", "-c", "x.yaml"], ["--help", "--version"], ["--bogus"]):
            r = run_hub(*args)
            self.assertEqual(r.returncode, 2, args)
            self.assertEqual(r.stdout, "", args)
            self.assertIn("usage: cityhub", r.stderr)
        r = run_hub("--help")
        self.assertEqual(r.returncode, 0)
        self.assertIn("--config FILE", r.stdout)
        self.assertEqual(run_hub("--version").returncode, 0)

    def test_check_config_reports_every_error(self):
        path = os.path.join(self.tmp, "bad.yaml")
        with open(path, "w") as f:
            f.write("mqtt:\n"
                    "  url: tcp://127.0.0.1:1883\n"
                    "  ca_file: /nonexistent/ca.pem\n"
                    "http:\n"
                    "  listen: no-such-host.invalid\n"
                    "routes: []\n"
                    "sinks:\n"
                    "  - name: a\n"
                    "    url: http://127.0.0.1:99999\n")
        r = run_hub("--check-config", path)
        self.assertEqual(r.returncode, 2)
        lines = r.stderr.splitlines()
        self.assertEqual(len(lines), 4, r.stderr)
        self.assertEqual(lines[0], f"cityhub: {path}:3: mqtt.ca_file: cannot read "
                         "/nonexistent/ca.pem: No such file or directory")
        # the resolver's words vary (no such name, or no DNS at all)
        self.assertTrue(lines[1].startswith(f"cityhub: {path}:5: http.listen: cannot resolve "
                                            "no-such-host.invalid: "), lines[1])
        self.assertEqual(lines[2], f"cityhub: {path}:6: routes: must list at least one route "
                         "(leave routes: out for the default route city/#)")
        self.assertEqual(lines[3],
                         f"cityhub: {path}:9: sinks[0].url: port 99999: must be between 1 and "
                         "65535")
        with open(path, "w") as f:
            f.write("routes:\n  - filter: a/#\n    adapter: native\n    template: a/{sensor_id\n")
        r = run_hub("--check-config", path)
        self.assertEqual(r.returncode, 2)
        self.assertIn(f"{path}:4: routes[0].template: level \"{{sensor_id\"", r.stderr)
        r = run_hub("--check-config", self.tmp)
        self.assertEqual(r.returncode, 2)
        self.assertEqual(r.stderr, f"cityhub: {self.tmp}: is a directory, not a config file\n")


if __name__ == "__main__":
    unittest.main(verbosity=2)
