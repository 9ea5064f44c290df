"""Fault 1: the hub is killed with SIGKILL at 10 random moments under a steady QoS 1 load of
2,000 msg/s and restarted each time. The store ends up with exactly the published messages:
none lost (no gaps), none doubled or re-timestamped (no extra points). FAULTS_SEED=n replays a
run's kill moments."""
import os
import random
import time
import unittest

import faultlib as fl

KILLS = 10
SPAN_S = 30.0  # the kills fall in the first SPAN_S seconds of the load
LOAD_S = 33


class KillRestart(fl.FaultCase):
    workdir_name = "kill"

    def kill_moments(self, rng):
        """KILLS moments in (0.5, SPAN_S), at least 1 s apart (the hub needs that to start)."""
        while True:
            ts = sorted(rng.uniform(0.5, SPAN_S) for _ in range(KILLS))
            if all(b - a >= 1.0 for a, b in zip(ts, ts[1:])):
                return ts

    def test_sigkill_ten_times_under_load(self):
        seed = int(os.environ.get("FAULTS_SEED", time.time_ns() % 1000000))
        moments = self.kill_moments(random.Random(seed))
        print("FAULTS_SEED=%d kill moments: %s" % (seed, ", ".join("%.2f" % t for t in moments)))
        n = fl.RATE * LOAD_S
        hub = self.start_hub()
        kills, up_when_killed = 0, 0
        with fl.Load(self.broker, n) as load:
            for t in moments:
                time.sleep(max(0.0, t - load.elapsed()))
                up_when_killed += hub.ready()
                hub.kill()
                kills += 1
                hub.start(wait_ready=False)
            summary = load.finish()
        t_end = time.monotonic()
        fl.wait_count(self.influx, n, 90)
        caught_up_s = time.monotonic() - t_end
        time.sleep(1.0)  # anything arriving now would be an extra point
        stored = fl.assert_exact(self, self.influx, load.seqs())
        self.assertEqual(kills, KILLS)
        self.assertTrue(hub.ready(), hub.log_tail())
        self.assert_clean_stop(hub)
        log = fl.read_log(hub)
        self.assertNotIn("message not journaled", log)
        fig = fl.Figures("kill")
        fig.load(summary, stored)
        fig["seed"] = seed
        fig["kills"] = kills
        fig["kills_while_ready"] = up_when_killed
        fig["caught_up_after_load_s"] = round(caught_up_s, 2)
        fig["torn_entries_cut"] = log.count("journal entry damaged")
        fig.save()


if __name__ == "__main__":
    unittest.main(verbosity=2)
