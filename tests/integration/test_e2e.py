"""End to end through a real mosquitto and a real influxd: exact values, tags and timestamps read
back, rejects counted and dead-lettered, clean shutdown, idempotent replay, several sinks."""
import json
import os
import shutil
import signal
import subprocess
import tempfile
import unittest

from common import (T0_NS, count, new_hub, publish_lines, publish_one, series_values, services)


class EndToEnd(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="cityhub-e2e-")
        self.broker = services.Mosquitto().start()
        self.influx = services.Influxd().start()
        self.influx.create_db("city")

    def tearDown(self):
        self.broker.close()
        self.influx.close()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def wait_count(self, measurement, field, n, timeout=30):
        services.wait_until(lambda: count(self.influx, measurement, field) == n, timeout,
                            what=f"{n} points of {measurement}")

    def test_values_tags_and_timestamps_read_back_exactly(self):
        with new_hub(self.tmp, self.broker, self.influx).start() as hub:
            publish_lines(self.broker.port, "city/air_quality/phuong-1/aq-ap-bac", [
                '{"time":"2026-11-26T10:00:00Z","tags":{"station":"Ap Bac, gate=2"},'
                '"fields":{"pm25":35.5,"pm10":52,"humidity":{"value":78,"unit":"%RH"}}}',
                '{"ts":1795687260000,"fields":{"pm25":{"value":0.0412,"unit":"mg/m3"}}}',
            ])
            publish_lines(self.broker.port, "city/traffic_flow/phuong-4/tf-hung-vuong", [
                '{"time":"2026-11-26T17:00:00.5+07:00","tags":{"lane":"1"},"fields":'
                '{"vehicle_count":41,"interval_s":60,"avg_speed_kmh":{"value":5,"unit":"m/s"},'
                '"occupancy":{"value":18,"unit":"%"},"congested":true,"lane_id":"L1 \\"left\\""}}',
            ])
            self.wait_count("air_quality", "pm25", 2)
            self.wait_count("traffic_flow", "vehicle_count", 1)
            aq = series_values(self.influx, 'SELECT * FROM air_quality ORDER BY time')
            self.assertEqual(len(aq), 2)
            self.assertEqual(aq[0][2], {"time": T0_NS, "district": "phuong-1", "humidity": 0.78,
                                        "pm10": 52, "pm25": 35.5, "sensor_id": "aq-ap-bac",
                                        "station": "Ap Bac, gate=2"})
            self.assertEqual(aq[1][2]["time"], T0_NS + 60 * 10**9)
            self.assertAlmostEqual(aq[1][2]["pm25"], 41.2, places=9)
            self.assertIsNone(aq[1][2]["station"])
            tf = series_values(self.influx, 'SELECT * FROM traffic_flow')
            self.assertEqual(tf[0][2], {"time": T0_NS + 500 * 10**6, "district": "phuong-4",
                                        "lane": "1", "sensor_id": "tf-hung-vuong",
                                        "vehicle_count": 41, "interval_s": 60,
                                        "avg_speed_kmh": 18.0, "occupancy": 0.18,
                                        "congested": True, "lane_id": 'L1 "left"'})
            # Integer fields are stored as integers, not floats.
            keys = series_values(self.influx, 'SHOW FIELD KEYS FROM traffic_flow')
            types = {r[2]["fieldKey"]: r[2]["fieldType"] for r in keys}
            self.assertEqual(types["vehicle_count"], "integer")
            self.assertEqual(types["congested"], "boolean")
            self.assertEqual(types["avg_speed_kmh"], "float")

    def test_rejects_are_counted_and_dead_lettered(self):
        sub = subprocess.Popen(["mosquitto_sub", "-p", str(self.broker.port), "-q", "1",
                                "-t", "cityhub/deadletter/#", "-v", "-C", "4", "-W", "30"],
                               stdout=subprocess.PIPE, text=True)
        try:
            with new_hub(self.tmp, self.broker, self.influx).start() as hub:
                port = self.broker.port
                publish_one(port, "city/air_quality/phuong-1/aq-1", '{"fields":{"humidity":7}}')
                # a text file published with mosquitto_pub -f ends with a newline
                publish_one(port, "city/air_quality/phuong-1/aq-1", '{"fields":{"pm25":\n')
                publish_one(port, "city/air_quality/phuong-1/aq-1",
                            b'{"sensor_id":"x\\ny","fields":{"pm25":1}}')
                publish_one(port, "city/noise/phuong-1", '{"fields":{"laeq_db":60}}')
                publish_one(port, "city/noise/phuong-1/n-1", '{"fields":{"laeq_db":60}}')
                out, _ = sub.communicate(timeout=40)
                self.wait_count("noise", "laeq_db", 1)
                m = hub.metrics()
        finally:
            sub.kill()
        letters = {}
        for line in out.splitlines():
            topic, _, body = line.partition(" ")
            letters[topic] = json.loads(body)
        self.assertEqual(sorted(letters), [
            "cityhub/deadletter/bad_json", "cityhub/deadletter/bad_string",
            "cityhub/deadletter/bad_topic", "cityhub/deadletter/out_of_range"])
        oor = letters["cityhub/deadletter/out_of_range"]
        self.assertEqual(oor["topic"], "city/air_quality/phuong-1/aq-1")
        self.assertEqual(oor["payload"], '{"fields":{"humidity":7}}')
        self.assertEqual(oor["adapter"], "native")
        self.assertIn("humidity", oor["detail"])
        # Valid UTF-8 stays text in the dead letter, a final newline included (not base64).
        self.assertEqual(letters["cityhub/deadletter/bad_json"]["payload"], '{"fields":{"pm25":\n')
        self.assertNotIn("payload_base64", letters["cityhub/deadletter/bad_json"])
        for reason in ("out_of_range", "bad_json", "bad_string", "bad_topic"):
            self.assertEqual(m[f'cityhub_rejected_total{{reason="{reason}",adapter="native"}}'], 1)
        self.assertEqual(m['cityhub_messages_accepted_total{adapter="native"}'], 1)
        self.assertEqual(m['cityhub_records_total{kind="noise"}'], 1)
        # Nothing from the rejected messages reached the database.
        self.assertEqual(count(self.influx, "air_quality", "pm25"), 0)
        self.assertEqual(count(self.influx, "air_quality", "humidity"), 0)

    def test_sigterm_exits_promptly_and_replay_is_idempotent(self):
        payloads = ['{"sensor_id":"wl-%d","ts":%d,"fields":{"level_m":%s}}'
                    % (i % 5, 1795687200000 + i, 0.5 + i / 1000) for i in range(500)]
        hub = new_hub(self.tmp, self.broker, self.influx).start()
        publish_lines(self.broker.port, "city/water_level/my-tho/x", payloads)
        self.wait_count("water_level", "level_m", 500)
        code, took = hub.stop(signal.SIGTERM)
        self.assertEqual(code, 0)
        self.assertLess(took, 5.0)
        # Restart with the same journal: the committed cursor means only new data is sent ...
        hub.start()
        publish_lines(self.broker.port, "city/water_level/my-tho/x",
                      ['{"sensor_id":"wl-new","ts":1795687200000,"fields":{"level_m":1.25}}'])
        self.wait_count("water_level", "level_m", 501)
        self.assertEqual(hub.metric('cityhub_sink_lines_total{sink="influxdb"}'), 1)
        hub.stop()
        # ... and replaying the whole journal from scratch rewrites the same points, no more.
        for name in os.listdir(os.path.join(self.tmp, "journal")):
            if name.startswith("cursor."):
                os.unlink(os.path.join(self.tmp, "journal", name))
        hub.start()
        services.wait_until(
            lambda: hub.metric('cityhub_sink_lines_total{sink="influxdb"}') == 501, 30,
            what="replay of 501 lines")
        hub.stop()
        self.assertEqual(count(self.influx, "water_level", "level_m"), 501)
        rows = series_values(self.influx, 'SELECT sum("level_m") FROM water_level')
        self.assertAlmostEqual(rows[0][2]["sum"],
                               1.25 + sum(0.5 + i / 1000 for i in range(500)), 6)

    def test_two_sinks_influx_v1_and_victoriametrics_v2_with_gzip(self):
        with services.VictoriaMetrics() as vm:
            vm.start()
            sinks = [
                {"name": "influxdb", "url": self.influx.url, "database": "city", "gzip": True,
                 "flush_ms": 100},
                {"name": "victoria", "url": vm.url, "version": 2, "org": "mytho",
                 "bucket": "city", "token": "secret", "flush_ms": 100},
            ]
            with new_hub(self.tmp, self.broker, sinks=sinks).start() as hub:
                publish_lines(self.broker.port, "city/noise/phuong-5/n-7", [
                    '{"ts":%d,"fields":{"laeq_db":%d.25}}' % (1795687200000 + i * 1000, 50 + i)
                    for i in range(20)])
                self.wait_count("noise", "laeq_db", 20)
                services.wait_until(
                    lambda: hub.metric('cityhub_sink_lines_total{sink="victoria"}') == 20, 30,
                    what="victoria sink acknowledged 20 lines")
            vm.flush()
            series = vm.export('{__name__="noise_laeq_db"}')
            self.assertEqual(len(series), 1)
            self.assertEqual(series[0]["metric"]["sensor_id"], "n-7")
            self.assertEqual(series[0]["metric"]["district"], "phuong-5")
            self.assertEqual(series[0]["values"], [50 + i + 0.25 for i in range(20)])
            self.assertEqual(series[0]["timestamps"],
                             [1795687200000 + i * 1000 for i in range(20)])


if __name__ == "__main__":
    unittest.main(verbosity=2)
