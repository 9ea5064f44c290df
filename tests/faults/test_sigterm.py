"""Fault 7: SIGTERM under a steady QoS 1 load of 2,000 msg/s: the hub exits (code 0) within
5 s, three times in a run; after each restart nothing is lost."""
import time
import unittest

import faultlib as fl

STOPS = 3
LOAD_S = 14
EXIT_LIMIT_S = 5.0


class SigtermUnderLoad(fl.FaultCase):
    workdir_name = "sigterm"

    def test_sigterm_exits_quickly_and_loses_nothing(self):
        n = fl.RATE * LOAD_S
        hub = self.start_hub()
        took_all = []
        with fl.Load(self.broker, n) as load:
            for i in range(STOPS):
                time.sleep(max(0.0, 2.5 + 3.5 * i - load.elapsed()))
                self.assertTrue(hub.ready())
                took = self.assert_clean_stop(hub, timeout=30)
                took_all.append(round(took, 2))
                self.assertLess(took, EXIT_LIMIT_S, hub.log_tail())
                hub.start()
            summary = load.finish()
        stored = self.assert_all_stored(load.seqs(), 60)
        self.assert_clean_stop(hub)
        fig = fl.Figures("sigterm")
        fig.load(summary, stored)
        fig["stops"] = STOPS
        fig["exit_s"] = took_all
        fig.save()


if __name__ == "__main__":
    unittest.main(verbosity=2)
