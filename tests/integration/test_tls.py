"""Broker failures named in the log (issue 13 #3 and #10), against a real mosquitto TLS listener
that wants a client certificate and a password: the good config connects; a wrong CA, a wrong
password (MQTT 3.1.1 and 5) and a missing client certificate each get one clear line naming the
URL and the cause an operator can act on, and /readyz says the same. A broker that is down is
logged once with its URL, not once a second."""
import os
import re
import shutil
import subprocess
import tempfile
import unittest

from common import new_hub, services
from test_mqtt import make_pki, openssl

FAILED = "broker connect failed, retrying"


def connect_failures(hub):
    with open(hub.log_path, encoding="utf-8", errors="replace") as f:
        return [line for line in f if FAILED in line]


def attempts(hub):
    """The attempt count /readyz gives with the cause, 0 when none."""
    m = re.search(r"\((\d+) attempts\)", hub.http("/readyz")[1])
    return int(m.group(1)) if m else 0


class Tls(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="cityhub-tls-")
        make_pki(cls.tmp)
        # A second CA that did not sign the broker's certificate.
        openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj",
                "/CN=some-other-ca", "-keyout", "other-ca.key", "-out", "other-ca.crt",
                cwd=cls.tmp)
        pwfile = cls.path("passwd")
        subprocess.run(["mosquitto_passwd", "-b", "-c", pwfile, "hub", "s3cret"], check=True,
                       timeout=30)
        os.chmod(pwfile, 0o600)
        p = cls.path
        conf = (f"cafile {p('ca.crt')}\ncertfile {p('server.crt')}\nkeyfile {p('server.key')}\n"
                f"require_certificate true\nallow_anonymous false\npassword_file {pwfile}\n")
        cls.broker = services.Mosquitto(extra_conf=conf).start()
        cls.n = 0

    @classmethod
    def tearDownClass(cls):
        cls.broker.close()
        shutil.rmtree(cls.tmp, ignore_errors=True)

    @classmethod
    def path(cls, name):
        return os.path.join(cls.tmp, name)

    def hub(self, **mqtt):
        """A hub (no sinks) in its own directory with the good settings overridden by mqtt."""
        Tls.n += 1
        d = self.path(f"hub-{Tls.n}")
        os.mkdir(d)
        cfg = {"url": f"ssl://127.0.0.1:{self.broker.port}", "client_id": f"cityhub-tls-{Tls.n}",
               "ca_file": self.path("ca.crt"), "cert_file": self.path("client.crt"),
               "key_file": self.path("client.key"), "username": "hub", "password": "s3cret"}
        cfg.update(mqtt)
        for k in [k for k, v in cfg.items() if v is None]:
            del cfg[k]
        return new_hub(d, self.broker, sinks=[], config={"mqtt": cfg})

    def assert_named(self, hub, cause):
        """The hub logs cause once with the URL, /readyz says it, and retrying adds no line."""
        with hub:
            hub.start(wait_ready=False)
            services.wait_until(lambda: connect_failures(hub), 15, what="a connect failure line")
            # more attempts (one every 1 to 3 s) add no line
            services.wait_until(lambda: attempts(hub) >= 3, 30, what="3 attempts")
            lines = connect_failures(hub)
            self.assertEqual(len(lines), 1, "".join(lines))
            self.assertIn(f"url=ssl://127.0.0.1:{self.broker.port}", lines[0])
            self.assertIn(f'cause="{cause}', lines[0])
            status, body = hub.http("/readyz")
            self.assertEqual(status, 503)
            self.assertIn(f"mqtt: not connected: {cause}", body)
            self.assertNotIn("TCP/TLS connect failure", hub.log_tail(200))
            self.assertNotIn("CONNACK return code", hub.log_tail(200))

    def test_good_config_connects(self):
        with self.hub().start() as hub:
            self.assertEqual(hub.http("/readyz")[0], 200)
            self.assertEqual(connect_failures(hub), [])

    def test_wrong_ca(self):
        self.assert_named(self.hub(ca_file=self.path("other-ca.crt")),
                          "broker certificate verify failed")

    def test_wrong_password_mqtt3(self):
        # mosquitto answers a bad password on 3.1.1 with CONNACK 5 (not authorized)
        self.assert_named(self.hub(password="wrong"), "not authorized")

    def test_wrong_password_mqtt5(self):
        # and on MQTT 5 with reason code 0x87 (not authorized)
        self.assert_named(self.hub(password="wrong", version=5), "not authorized")

    def test_missing_client_certificate(self):
        self.assert_named(self.hub(cert_file=None, key_file=None),
                          "broker closed the TLS connection: it probably requires a client "
                          "certificate")

    def test_broker_down_is_logged_once_with_its_url(self):
        port = services.free_port()  # nobody listens
        hub = self.hub(url=f"tcp://127.0.0.1:{port}", ca_file=None, cert_file=None,
                       key_file=None)
        with hub:
            hub.start(wait_ready=False)
            services.wait_until(lambda: connect_failures(hub), 15, what="a connect failure line")
            services.wait_until(lambda: attempts(hub) >= 3, 30, what="3 attempts")
            lines = connect_failures(hub)
            self.assertEqual(len(lines), 1, "".join(lines))
            self.assertIn(f"url=tcp://127.0.0.1:{port}", lines[0])
            self.assertIn('cause="cannot reach the broker: Connection refused"', lines[0])


if __name__ == "__main__":
    unittest.main(verbosity=2)
