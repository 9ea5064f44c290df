"""Several hubs under load (issue 14), each test ending in exact counts read back from InfluxDB.

Share group: three hubs (own client ids, own journals, MQTT 5, mqtt.share_group) split a QoS 1
load of the simulator; one is SIGKILLed mid-stream and restarted. The store holds exactly the
published messages, none doubled, and each hub's /metrics shows it took a real share.

HA pair: two hubs with the same routes and their own client ids both receive everything and
write to one store; one is SIGKILLed under load and restarted. Payload timestamps make their
points identical, so the store holds each message once; Alertmanager shows each of their alerts
once (same labels, same event-time startsAt); limits.require_timestamp makes both refuse a
reading without a time (it would otherwise be stored twice, at two receive times)."""
import json
import os
import subprocess
import time
import unittest

import faultlib as fl

LOAD_S = 10
KILL_AT_S = 3.5
DOWN_S = 1.0
MIN_MS = 60000


def publish(broker, topic, payload):
    subprocess.run(["mosquitto_pub", "-p", str(broker.port), "-q", "1", "-t", topic, "-m",
                    payload], check=True, timeout=30)


def hub_in(tc, name, **kw):
    d = os.path.join(tc.tmp, name)
    os.makedirs(d)
    hub = fl.new_hub(d, tc.broker, tc.influx, **kw)
    tc.addCleanup(hub.kill)
    return hub


def received(hub):
    return int(hub.metric("cityhub_mqtt_messages_total"))


def kill_and_restart(hub, load):
    """Kills hub KILL_AT_S into the load and restarts it DOWN_S later; returns the messages it
    had received before it died."""
    time.sleep(max(0.0, KILL_AT_S - load.elapsed()))
    before = received(hub)
    hub.kill()
    time.sleep(DOWN_S)
    hub.start(wait_ready=False)
    return before


class ShareGroup(fl.FaultCase):
    workdir_name = "sharegroup"

    def test_three_hubs_one_killed(self):
        hubs = [hub_in(self, "hub%d" % i, config={
            "mqtt": {"client_id": "sg-%d" % i, "version": 5, "share_group": "hubs"},
            "alerts": {"aqi": False}}).start() for i in range(3)]
        n = fl.RATE * LOAD_S
        with fl.Load(self.broker, n) as load:
            before = kill_and_restart(hubs[1], load)
            summary = load.finish()
        fl.wait_count(self.influx, n, 90)
        time.sleep(1.0)  # anything arriving now would be an extra point
        stored = fl.assert_exact(self, self.influx, load.seqs())
        services_ready = [h.ready() for h in hubs]
        self.assertEqual(services_ready, [True] * 3)
        shares = [received(hubs[0]), before + received(hubs[1]), received(hubs[2])]
        # Round robin gives each about a third; redelivery after the kill may add a few.
        for i, s in enumerate(shares):
            self.assertGreater(s, n // 6, "hub%d took only %d of %d: %r" % (i, s, n, shares))
        # hub1's count is read just before the kill: what it took in between is not in it.
        self.assertLess(abs(sum(shares) - n), n // 50, shares)
        for h in hubs:
            self.assertNotIn("message not journaled", fl.read_log(h))
        fig = fl.Figures("share_group")
        fig.load(summary, stored)
        fig["shares"] = shares
        fig.save()


RIVER = {"name": "river_high", "type": "threshold", "kind": "water_level", "field": "level_m",
         "above": 1.5, "severity": "critical"}
# (sensor, minutes after T0, level): wl-1 and wl-2 stay firing, wl-3 fires and resolves.
LEVELS = [("wl-1", 60, 1.7), ("wl-2", 61, 1.8), ("wl-3", 62, 1.6), ("wl-3", 67, 1.2)]


class HAPair(fl.FaultCase):
    workdir_name = "hapair"

    def setUp(self):
        super().setUp()
        self.am = fl.services.Alertmanager().start()
        self.addCleanup(self.am.close)

    def publish_levels(self):
        for sensor, minutes, value in LEVELS:
            publish(self.broker, "city/water_level/phuong-1/" + sensor, json.dumps(
                {"sensor_id": sensor, "ts": fl.T0_MS + minutes * MIN_MS,
                 "fields": {"level_m": value}}))
        # No time in the payload: both hubs refuse it (bad_time) instead of storing it twice.
        publish(self.broker, "city/water_level/phuong-1/wl-4",
                   json.dumps({"sensor_id": "wl-4", "fields": {"level_m": 1.9}}))

    def active(self):
        return sorted((a["labels"]["sensor_id"], a["startsAt"][:19]) for a in self.am.alerts()
                      if a["status"]["state"] == "active")

    def test_pair_one_killed(self):
        notifier = {"name": "am", "type": "alertmanager", "urls": [self.am.url],
                    "resend_ms": "1s", "retry_base_ms": 50, "retry_cap_ms": 500}
        hubs = [hub_in(self, "hub-" + x, config={
            "mqtt": {"client_id": "ha-" + x},
            "limits": {"require_timestamp": True},
            "alerts": {"snapshot_ms": 200},
            "rules": [RIVER], "notifiers": [notifier]}).start() for x in "ab"]
        n = fl.RATE * LOAD_S
        with fl.Load(self.broker, n) as load:
            time.sleep(0.5)
            self.publish_levels()
            # Both hubs delivered all four events (firing x3, resolved x1) to Alertmanager.
            fl.services.wait_until(lambda: [h.metric_sum("cityhub_notify_sent_total")
                                            for h in hubs] == [4, 4], 8,
                                   what="4 events sent by each hub")
            kill_and_restart(hubs[1], load)
            summary = load.finish()
        fl.wait_count(self.influx, n, 90)
        time.sleep(1.0)
        stored = fl.assert_exact(self, self.influx, load.seqs())
        self.assertEqual(received(hubs[0]), n + len(LEVELS) + 1)  # hub-a got everything
        # Each alert once, with its event time, though both hubs post it every second.
        want = [("wl-1", "2026-11-26T11:00:00"), ("wl-2", "2026-11-26T11:01:00")]
        fl.services.wait_until(lambda: self.active() == want, 15, what="wl-1, wl-2 active")
        time.sleep(2.5)
        self.assertEqual(self.active(), want)
        # The store: the readings and the transitions once each, not twice; wl-4 not at all.
        levels = fl.services.wait_until(lambda: self.influx.query(
            'SELECT count("level_m") FROM "water_level"', db="city"), 5)
        self.assertEqual(levels["results"][0]["series"][0]["values"][0][1], len(LEVELS))
        alerts = self.influx.query('SELECT * FROM "alerts"', db="city")
        self.assertEqual(len(alerts["results"][0]["series"][0]["values"]), 4, alerts)
        bad_time = [v for k, v in hubs[0].metrics().items()
                    if k.startswith("cityhub_rejected_total") and 'reason="bad_time"' in k]
        self.assertEqual(sum(bad_time), 1, hubs[0].metrics())
        fig = fl.Figures("ha_pair")
        fig.load(summary, stored)
        fig.save()


if __name__ == "__main__":
    unittest.main(verbosity=2)
