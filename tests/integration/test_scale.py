"""Beyond one hub (issue 14), with several real processes on loopback:
- a share group refuses alert rules and the VN_AQI (--check-config names file:line and says why);
- two hubs that partition the city by district (each its own routes filters) send their alerts
  to one Alertmanager: every alert arrives once, from the hub that owns its district, with the
  right labels;
- the notifier posts to both members of a real two-node Alertmanager cluster; one member is
  killed, and the alerts stay visible and resolve on the other;
- sinks[].path writes to VictoriaMetrics' /influx/write and its InfluxDB v2 /api/v2/write
  (the paths of a VictoriaMetrics cluster's vminsert, /insert/<tenant>/influx/write, and of
  InfluxDB 3's compatible endpoints work the same way); the values are read back.
The share-group and HA-pair load tests are in tests/faults/test_scale.py."""
import json
import os
import shutil
import subprocess
import tempfile
import time
import unittest

from common import HUB_BIN, T0_NS, Hub, publish_one, services

T0_MS = T0_NS // 10**6
MIN_MS = 60000

SALINITY = {"name": "salinity_rice", "type": "threshold", "kind": "water_quality",
            "field": "salinity_ppt", "above": 4.0, "clear": 3.8, "for": "30m",
            "severity": "major"}
RIVER = {"name": "river_high", "type": "threshold", "kind": "water_level", "field": "level_m",
         "above": 1.5, "severity": "critical"}


def payload(sensor, field, minutes, value):
    return json.dumps({"sensor_id": sensor, "ts": T0_MS + minutes * MIN_MS,
                       "fields": {field: value}})


def am_active(am):
    """Active alerts as a list of (alertname, sensor_id, district) (duplicates kept)."""
    return sorted((a["labels"]["alertname"], a["labels"]["sensor_id"],
                   a["labels"].get("district")) for a in am.alerts()
                  if a["status"]["state"] == "active")


class Scale(unittest.TestCase):
    maxDiff = None

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="cityhub-scale-")
        self.addCleanup(shutil.rmtree, self.tmp, ignore_errors=True)

    def hub(self, name, broker, **kw):
        d = os.path.join(self.tmp, name)
        os.makedirs(d)
        hub = Hub(d, broker.port, binary=HUB_BIN, **kw)
        self.addCleanup(hub.kill)
        return hub

    def check_config(self, text, rules=None):
        path = os.path.join(self.tmp, "check.yaml")
        with open(path, "w") as f:
            f.write(text)
        if rules is not None:
            with open(os.path.join(self.tmp, "stateful.yaml"), "w") as f:
                f.write(rules)
        return path, subprocess.run([HUB_BIN, "--check-config", path], capture_output=True,
                                    text=True, timeout=30)

    def test_share_group_refuses_rules_and_aqi(self):
        rules = ("rules:\n"
                 "  - name: salinity_rice\n    type: threshold\n    kind: water_quality\n"
                 "    field: salinity_ppt\n    above: 4\n    for: 30m\n"
                 "  - name: silent\n    type: stale\n    kind: noise\n")
        path, r = self.check_config("mqtt:\n  version: 5\n  share_group: hubs\n"
                                    "alerts:\n  rule_files: [stateful.yaml]\n", rules)
        self.assertEqual(r.returncode, 2, r.stdout)
        rule_file = os.path.join(self.tmp, "stateful.yaml")
        lines = r.stderr.splitlines()
        self.assertEqual(len(lines), 3, r.stderr)
        self.assertTrue(lines[0].startswith(
            f"cityhub: {path}: alerts.aqi: must be false (it is true by default) in a share "
            "group (mqtt.share_group: hubs, line 3): the hourly VN_AQI needs every reading"),
            lines[0])
        self.assertTrue(lines[1].startswith(
            f"cityhub: {rule_file}:2: rules: rule salinity_rice cannot run in a share group "
            f"(mqtt.share_group: hubs, {path}:3): its for: waits for later readings"), lines[1])
        self.assertTrue(lines[2].startswith(
            f"cityhub: {rule_file}:8: rules: rule silent cannot run in a share group"), lines[2])
        for line in lines:
            self.assertIn("partition by topic instead (each hub its own routes filters, e.g. "
                          "by district: docs/scaling.md)", line)
        # A share-group hub without rules and VN_AQI is fine.
        _, r = self.check_config("mqtt:\n  version: 5\n  share_group: hubs\n"
                                 "alerts:\n  aqi: false\n")
        self.assertEqual((r.returncode, r.stderr), (0, ""))
        self.assertEqual(r.stdout, f"{path}: ok\n")
        # Without a share group, --check-config says what an HA pair needs.
        _, r = self.check_config("alerts:\n  rule_files: [stateful.yaml]\n", rules)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("note: limits.require_timestamp is false", r.stdout)
        self.assertIn("HA pair", r.stdout)
        _, r = self.check_config("limits:\n  require_timestamp: true\n")
        self.assertEqual(r.stdout, f"{path}: ok\n")

    def test_two_hubs_partitioned_by_district_one_alertmanager(self):
        with services.Mosquitto() as broker, services.Alertmanager() as am:
            owners = {"east": ["phuong-1", "phuong-2"], "west": ["phuong-3", "phuong-4"]}
            hubs = {}
            for name, districts in owners.items():
                routes = [{"filter": f"city/+/{d}/+", "adapter": "native",
                           "template": "city/{kind}/{district}/{sensor_id}"} for d in districts]
                hubs[name] = self.hub(name, broker, routes=routes, sinks=[], config={
                    "mqtt": {"client_id": f"hub-{name}"},
                    "alerts": {"snapshot_ms": 200},
                    "rules": [SALINITY, RIVER],
                    "notifiers": [{"name": "am", "type": "alertmanager", "urls": [am.url],
                                   "resend_ms": "2s", "retry_base_ms": 50,
                                   "retry_cap_ms": 500}]}).start()
            # Per district: a salinity breach held 45 min (fires after for: 30m), a river level
            # that breaches and clears; phuong-5 belongs to nobody.
            sent = {}
            for d in ["phuong-1", "phuong-2", "phuong-3", "phuong-4", "phuong-5"]:
                msgs = [(f"city/water_quality/{d}/wq-{d}", payload(f"wq-{d}", "salinity_ppt",
                                                                   15 * i, v))
                        for i, v in enumerate([3.5, 4.2, 4.4, 4.5, 4.3])]
                msgs += [(f"city/water_level/{d}/wl-{d}", payload(f"wl-{d}", "level_m", 5 * i, v))
                         for i, v in enumerate([1.2, 1.6, 1.3])]
                for topic, p in msgs:
                    publish_one(broker.port, topic, p)
                sent[d] = len(msgs)
            expected = sorted(("salinity_rice", f"wq-{d}", d) for d in sent if d != "phuong-5")
            services.wait_until(lambda: am_active(am) == expected, 20,
                                what="one salinity alert per owned district")
            time.sleep(2.5)  # a resend round: still once each
            self.assertEqual(am_active(am), expected)
            for a in am.alerts():
                lb = a["labels"]
                self.assertEqual((lb["severity"], lb["kind"]), ("major", "water_quality"))
                # event time: fired 30 min after the breach began at +15 min
                self.assertEqual(a["startsAt"][:19], "2026-11-26T10:45:00")
            for name, districts in owners.items():
                h = hubs[name]
                self.assertEqual(h.metric("cityhub_mqtt_messages_total"),
                                 sum(sent[d] for d in districts), name)
                # per district: salinity firing; river firing then resolved
                self.assertEqual(h.metric("cityhub_alert_transitions_total"),
                                 3 * len(districts), name)

    def test_alertmanager_cluster_member_killed(self):
        ams = services.Alertmanager.cluster(2)
        with services.Mosquitto() as broker:
            for m in ams:
                self.addCleanup(m.close)
                m.start()
            hub = self.hub("hub", broker, sinks=[], config={
                "alerts": {"snapshot_ms": 200},
                "rules": [RIVER],
                "notifiers": [{"name": "am", "type": "alertmanager",
                               "urls": [m.url for m in ams], "resend_ms": "1s",
                               "retry_base_ms": 50, "retry_cap_ms": 500, "timeout_ms": 1000}]
            }).start()

            def level(sensor, minutes, value):
                publish_one(broker.port, f"city/water_level/phuong-1/{sensor}",
                            payload(sensor, "level_m", minutes, value))

            def active(m):
                return [k[1] for k in am_active(m)]

            level("wl-a", 0, 1.7)
            for m in ams:
                services.wait_until(lambda: active(m) == ["wl-a"], 15, what="wl-a on " + m.url)
            ams[0].kill()
            level("wl-b", 1, 1.8)  # fires while one member is down
            services.wait_until(lambda: active(ams[1]) == ["wl-a", "wl-b"], 15,
                                what="both alerts on the surviving member")
            time.sleep(2.5)  # resends to the dead member fail; the live one keeps both
            self.assertEqual(active(ams[1]), ["wl-a", "wl-b"])
            level("wl-a", 2, 1.2)
            level("wl-b", 3, 1.1)
            services.wait_until(lambda: active(ams[1]) == [], 15,
                                what="both resolved on the surviving member")
            self.assertGreater(hub.metric_sum("cityhub_notify_instance_errors_total"), 0)

    def test_sink_path_victoriametrics(self):
        with services.Mosquitto() as broker, services.VictoriaMetrics() as v1, \
                services.VictoriaMetrics() as v2:
            sinks = [{"name": "vm_v1", "url": v1.url, "path": "/influx/write",
                      "database": "city", "flush_ms": 100},
                     {"name": "vm_v2", "url": v2.url + "/", "version": 2,
                      "path": "/api/v2/write", "org": "mytho", "bucket": "city",
                      "token": "unused", "flush_ms": 100}]
            hub = self.hub("hub", broker, sinks=sinks).start()
            readings = [(f"ws-{i % 3}", i, 20.5 + i) for i in range(12)]
            for sensor, minutes, value in readings:
                publish_one(broker.port, f"city/weather/phuong-7/{sensor}",
                            payload(sensor, "temperature_c", minutes, value))
            want = {}
            for sensor, minutes, value in readings:
                want.setdefault(sensor, []).append((T0_MS + minutes * MIN_MS, value))
            for vm in (v1, v2):
                def got(vm=vm):
                    out = {}
                    for s in vm.export('{__name__="weather_temperature_c"}'):
                        self.assertEqual(s["metric"]["district"], "phuong-7")
                        out[s["metric"]["sensor_id"]] = sorted(zip(s["timestamps"],
                                                                   s["values"]))
                    return out
                services.wait_until(lambda: got() == want, 20, what="points in " + vm.url)
            for name in ("vm_v1", "vm_v2"):
                self.assertEqual(hub.metric(f'cityhub_sink_lines_total{{sink="{name}"}}'),
                                 len(readings), hub.metrics())


if __name__ == "__main__":
    unittest.main(verbosity=2)
