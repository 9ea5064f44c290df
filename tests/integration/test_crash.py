"""SIGKILL in the middle of a QoS 1 stream, restart: the store ends up with exactly the messages
published, none lost and none doubled (invariants 1 and 2)."""
import random
import shutil
import subprocess
import tempfile
import time
import unittest

from common import count, new_hub, services

N = 30000
CHUNK = 1000


class CrashRecovery(unittest.TestCase):
    def test_sigkill_mid_stream_loses_nothing(self):
        tmp = tempfile.mkdtemp(prefix="cityhub-crash-")
        # The broker must keep the hub's queued QoS 1 messages while it is down.
        broker = services.Mosquitto(extra_conf="max_queued_messages 0\n").start()
        influx = services.Influxd().start()
        influx.create_db("city")
        try:
            hub = new_hub(tmp, broker, influx).start()
            payloads = ['{"sensor_id":"aq-%d","ts":%d,"fields":{"pm25":%d.5}}'
                        % (i % 50, 1795687200000 + i, i % 300) for i in range(N)]
            pub = subprocess.Popen(["mosquitto_pub", "-p", str(broker.port), "-q", "1",
                                    "-t", "city/air_quality/phuong-6/gw", "-l"],
                                   stdin=subprocess.PIPE, text=True)
            rng = random.Random(7)
            kills = 0
            for start in range(0, N, CHUNK):
                pub.stdin.write("\n".join(payloads[start:start + CHUNK]) + "\n")
                pub.stdin.flush()
                time.sleep(0.05)
                if start and start % 7000 == 0:
                    time.sleep(rng.uniform(0, 0.2))
                    hub.kill()
                    kills += 1
                    hub.start(wait_ready=False)
            pub.stdin.close()
            self.assertEqual(pub.wait(120), 0)
            self.assertGreaterEqual(kills, 3)
            services.wait_until(lambda: count(influx, "air_quality", "pm25") >= N, 90,
                                what=f"{N} points")
            time.sleep(1)  # anything beyond N would be a duplicate or an invented point
            self.assertEqual(count(influx, "air_quality", "pm25"), N)
            code, took = hub.stop()
            self.assertEqual(code, 0, hub.log_tail())
        finally:
            broker.close()
            influx.close()
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    unittest.main(verbosity=2)
