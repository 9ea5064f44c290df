"""The MQTT side against a real mosquitto: MQTT 5 persistent sessions, TLS with client
certificates, username/password, and what /readyz says when the broker refuses us."""
import os
import shutil
import subprocess
import tempfile
import unittest

from common import count, new_hub, publish_lines, services


def openssl(*args, cwd):
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, timeout=60)


def make_pki(d):
    """A CA, a server certificate for 127.0.0.1 and a client certificate, all in d."""
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=cityhub-test-ca",
            "-keyout", "ca.key", "-out", "ca.crt", cwd=d)
    for name in ("server", "client"):
        openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", f"/CN={name}",
                "-keyout", f"{name}.key", "-out", f"{name}.csr", cwd=d)
        with open(os.path.join(d, f"{name}.ext"), "w") as f:
            f.write("subjectAltName=IP:127.0.0.1\n" if name == "server" else "\n")
        openssl("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.crt", "-CAkey", "ca.key",
                "-CAcreateserial", "-days", "2", "-extfile", f"{name}.ext", "-out", f"{name}.crt",
                cwd=d)


def reading(i):
    return '{"ts":%d,"fields":{"laeq_db":%d.5}}' % (1795687200000 + i, 40 + i % 30)


class Mqtt(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="cityhub-mqtt-")
        self.influx = services.Influxd().start()
        self.influx.create_db("city")

    def tearDown(self):
        self.influx.close()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def wait_count(self, n):
        services.wait_until(lambda: count(self.influx, "noise", "laeq_db") == n, 30,
                            what=f"{n} noise points")

    def test_mqtt5_persistent_session_keeps_messages_while_the_hub_is_down(self):
        with services.Mosquitto(extra_conf="max_queued_messages 0\n") as broker:
            broker.start()
            hub = new_hub(self.tmp, broker, self.influx, config={"mqtt": {"version": 5}}).start()
            publish_lines(broker.port, "city/noise/phuong-1/n-1", [reading(i) for i in range(50)])
            self.wait_count(50)
            hub.kill()
            # Published while no hub is connected: the broker queues them for our session.
            publish_lines(broker.port, "city/noise/phuong-1/n-1",
                          [reading(i) for i in range(50, 300)])
            hub.start()
            self.wait_count(300)
            self.assertEqual(hub.stop()[0], 0)

    def test_tls_with_client_certificate(self):
        make_pki(self.tmp)
        p = lambda name: os.path.join(self.tmp, name)  # noqa: E731
        tls = (f"cafile {p('ca.crt')}\ncertfile {p('server.crt')}\nkeyfile {p('server.key')}\n"
               "require_certificate true\n")
        with services.Mosquitto(extra_conf=tls) as broker:
            broker.start()
            mqtt = {"url": f"ssl://127.0.0.1:{broker.port}", "ca_file": p("ca.crt"),
                    "cert_file": p("client.crt"), "key_file": p("client.key")}
            with new_hub(self.tmp, broker, self.influx, config={"mqtt": mqtt}).start():
                subprocess.run(["mosquitto_pub", "-h", "127.0.0.1", "-p", str(broker.port),
                                "--cafile", p("ca.crt"), "--cert", p("client.crt"),
                                "--key", p("client.key"), "-q", "1",
                                "-t", "city/noise/phuong-1/n-tls", "-m", reading(1)],
                               check=True, timeout=30)
                self.wait_count(1)
            # Without a client certificate the broker refuses the hub: it must say so.
            mqtt = {"url": f"ssl://127.0.0.1:{broker.port}", "ca_file": p("ca.crt"),
                    "client_id": "cityhub-nocert"}
            hub = new_hub(self.tmp, broker, self.influx, config={"mqtt": mqtt}).start(
                wait_ready=False)
            with hub:
                services.wait_until(lambda: hub.http("/readyz")[0] == 503, 10)
                status, body = hub.http("/readyz")
                self.assertIn("mqtt: not connected", body)

    def test_username_and_password(self):
        pwfile = os.path.join(self.tmp, "passwd")
        subprocess.run(["mosquitto_passwd", "-b", "-c", pwfile, "hub", "s3cret pass"], check=True,
                       timeout=30)
        os.chmod(pwfile, 0o600)
        conf = f"allow_anonymous false\npassword_file {pwfile}\n"
        with services.Mosquitto(extra_conf=conf) as broker:
            broker.start()
            mqtt = {"username": "hub", "password": "s3cret pass"}
            with new_hub(self.tmp, broker, self.influx, config={"mqtt": mqtt}).start():
                subprocess.run(["mosquitto_pub", "-p", str(broker.port), "-u", "hub", "-P",
                                "s3cret pass", "-q", "1", "-t", "city/noise/phuong-1/n-pw",
                                "-m", reading(2)], check=True, timeout=30)
                self.wait_count(1)
            mqtt = {"username": "hub", "password": "wrong", "client_id": "cityhub-wrong"}
            hub = new_hub(self.tmp, broker, self.influx, config={"mqtt": mqtt}).start(
                wait_ready=False)
            with hub:
                services.wait_until(lambda: hub.http("/readyz")[0] == 503, 10)
                self.assertIn("mqtt: not connected", hub.http("/readyz")[1])


if __name__ == "__main__":
    unittest.main(verbosity=2)
