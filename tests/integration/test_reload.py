"""SIGHUP reload under load: a new config (a rule, a second sink starting at the journal's
head, another log level) takes effect without a restart and without losing or doubling a
message; a broken config is refused with file:line and the running one stays."""
import json
import os
import shutil
import signal
import subprocess
import tempfile
import threading
import time
import unittest

from common import count, new_hub, publish_one, services
from tests.lib.hub import to_yaml

N = 20000
CHUNK = 1000
T0_MS = 1795687200000


def payloads():
    return ['{"sensor_id":"aq-%d","ts":%d,"fields":{"pm25":%d.5}}' % (i % 50, T0_MS + i, i % 300)
            for i in range(N)]


class Reload(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="cityhub-reload-")
        # The broker must keep the queued QoS 1 messages while the hub reconnects.
        self.broker = services.Mosquitto(extra_conf="max_queued_messages 0\n").start()
        self.influx = services.Influxd().start()
        self.influx.create_db("city")
        self.influx.create_db("city2")
        self.am = services.Alertmanager().start()

    def tearDown(self):
        for s in (self.am, self.influx, self.broker):
            s.close()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def write_config(self, hub, extra):
        cfg = json.loads(json.dumps(hub.config))
        for k, v in extra.items():
            cfg[k] = v
        with open(hub.config_path, "w", encoding="utf-8") as f:
            f.write(to_yaml(cfg) + "\n")

    def publish_all(self, port):
        data = payloads()
        pub = subprocess.Popen(["mosquitto_pub", "-p", str(port), "-q", "1", "-t",
                                "city/air_quality/phuong-6/gw", "-l"], stdin=subprocess.PIPE,
                               text=True)
        for start in range(0, N, CHUNK):
            pub.stdin.write("\n".join(data[start:start + CHUNK]) + "\n")
            pub.stdin.flush()
            time.sleep(0.1)
        pub.stdin.close()
        pub.wait(120)

    def test_reload_under_load(self):
        hub = new_hub(self.tmp, self.broker, self.influx,
                      config={"alerts": {"aqi": False}}).start()
        base = json.loads(json.dumps(hub.config))
        pub = threading.Thread(target=self.publish_all, args=(self.broker.port,))
        pub.start()
        time.sleep(0.5)
        # 1. a good config: a rule, a notifier, a second sink from the head, debug logging
        sinks = base["sinks"] + [{"name": "second", "url": self.influx.url, "database": "city2",
                                  "flush_ms": 100, "start": "head"}]
        self.write_config(hub, {
            "sinks": sinks,
            "rules": [{"name": "pm25_very_high", "type": "threshold", "kind": "air_quality",
                       "field": "pm25", "above": 900, "sensor": "aq-probe"}],
            "notifiers": [{"name": "am", "type": "alertmanager", "urls": [self.am.url]}],
            "log": {"level": "debug"}})
        hub.proc.send_signal(signal.SIGHUP)
        services.wait_until(lambda: "config reloaded" in open(hub.log_path).read(), 30,
                            what="the reload")
        # 2. a broken config: refused with file:line, the running config stays
        time.sleep(0.5)
        with open(hub.config_path, "a", encoding="utf-8") as f:
            f.write("bogus_section:\n  x: 1\n")
        hub.proc.send_signal(signal.SIGHUP)
        services.wait_until(lambda: "reload refused" in open(hub.log_path).read(), 30,
                            what="the refusal")
        pub.join()
        log = open(hub.log_path).read()
        self.assertRegex(log, r'reload refused; the running config stays" problem="?[^ ]*cityhub\.yaml:\d+: bogus_section')
        self.assertIsNone(hub.proc.poll(), "the hub exited")
        # Every message exactly once in the first store, whatever the reloads did.
        services.wait_until(lambda: count(self.influx, "air_quality", "pm25") == N, 120,
                            what=f"{N} points in city")
        # The second sink started at the journal's head at the reload: a part, none twice.
        n2 = count(self.influx, "air_quality", "pm25", db="city2")
        self.assertGreater(n2, 0)
        self.assertLess(n2, N)
        # The rule added by the reload works: a crossing reaches Alertmanager.
        publish_one(self.broker.port, "city/air_quality/phuong-6/aq-probe",
                    '{"fields":{"pm25":950}}')
        services.wait_until(lambda: any(a["labels"].get("alertname") == "pm25_very_high"
                                        for a in self.am.alerts()), 20,
                            what="the new rule's alert")
        # debug logging from the reload: a rejected message is logged at debug level
        publish_one(self.broker.port, "city/air_quality/phuong-6/aq-bad", '{"fields":')
        services.wait_until(lambda: 'level=debug msg="rejected" reason=bad_json' in
                            open(hub.log_path).read(), 10, what="a debug line")
        code, _ = hub.stop()
        self.assertEqual(code, 0)


if __name__ == "__main__":
    unittest.main(verbosity=2)
