"""Fault 7: SIGTERM under a steady QoS 1 load of 2,000 msg/s: the hub exits (code 0) within
5 s, three times in a run; after each restart nothing is lost."""
import shutil
import time
import unittest

import faultlib as fl

STOPS = 3
LOAD_S = 14
EXIT_LIMIT_S = 5.0


class SigtermUnderLoad(unittest.TestCase):
    def setUp(self):
        self.tmp = fl.workdir("sigterm")
        self.broker = fl.services.Mosquitto(extra_conf=fl.BROKER_CONF).start()
        self.influx = fl.services.Influxd().start()
        self.influx.create_db("city")

    def tearDown(self):
        self.broker.close()
        self.influx.close()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def test_sigterm_exits_quickly_and_loses_nothing(self):
        n = fl.RATE * LOAD_S
        hub = fl.new_hub(self.tmp, self.broker, self.influx).start()
        self.addCleanup(hub.kill)
        load = fl.Load(self.broker, n).begin()
        took_all = []
        try:
            for i in range(STOPS):
                time.sleep(max(0.0, 2.5 + 3.5 * i - load.elapsed()))
                self.assertTrue(hub.ready())
                code, took = hub.stop(timeout=30)
                took_all.append(round(took, 2))
                self.assertEqual(code, 0, hub.log_tail())
                self.assertLess(took, EXIT_LIMIT_S, hub.log_tail())
                hub.start()
            summary = load.finish()
        finally:
            load.kill()
        fl.wait_count(self.influx, n, 60)
        time.sleep(1.0)
        stored = fl.assert_exact(self, self.influx, load.seqs())
        code, took = hub.stop()
        self.assertEqual(code, 0, hub.log_tail())
        fig = fl.Figures("sigterm")
        fig["stops"] = STOPS
        fig["exit_s"] = took_all
        fig["published"] = summary["acked"]
        fig["publish_rate"] = summary["rate"]
        fig["stored"] = stored
        fig.save()


if __name__ == "__main__":
    unittest.main(verbosity=2)
