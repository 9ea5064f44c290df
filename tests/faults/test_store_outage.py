"""Fault 2: InfluxDB is stopped for 60 s under a steady QoS 1 load of 2,000 msg/s, then started
again. Nothing is lost; during the outage the backlog grows on disk while the hub's memory stays
flat and /readyz says not ready; after recovery the backlog drains and /readyz is ready again.
Reports the drain rate."""
import time
import unittest

import faultlib as fl

BEFORE_S = 5    # load before the outage
OUTAGE_S = 60
AFTER_S = 10    # load after the store is back
SEGMENT = 1 << 20
# Memory may move by allocator noise, never by the backlog (120,000 messages, about 14 MB).
ANON_GROWTH_LIMIT_KB = 4096


class StoreOutage(fl.FaultCase):
    workdir_name = "outage"

    def sample_outage(self, hub, until):
        """Samples memory, journal size and readiness every 0.5 s until the monotonic time
        until; returns the samples."""
        samples = []
        while time.monotonic() < until:
            m = hub.metrics()
            mem = fl.proc_mem(hub.proc.pid)
            samples.append({"anon": mem["RssAnon"], "rss": mem["VmRSS"],
                            "journal": m["cityhub_journal_bytes"],
                            "received": m["cityhub_mqtt_messages_total"],
                            "ready": hub.http("/readyz")[0]})
            time.sleep(0.5)
        return samples

    def drain(self, hub, t_back):
        """Polls until the sink has caught up with ingest (backlog under 0.25 s of load);
        returns (seconds, lines acknowledged meanwhile, backlog when the store came back,
        seconds until /readyz said ready)."""
        sink = 'cityhub_sink_lines_total{sink="influxdb"}'
        m = hub.metrics()
        backlog0 = m["cityhub_mqtt_messages_total"] - m[sink]
        acked0 = m[sink]
        ready_s = None
        while True:
            m = hub.metrics()
            if ready_s is None and hub.ready():
                ready_s = time.monotonic() - t_back
            if m["cityhub_mqtt_messages_total"] - m[sink] < fl.RATE // 4 and ready_s is not None:
                return time.monotonic() - t_back, m[sink] - acked0, backlog0, ready_s
            if time.monotonic() - t_back > 120:
                self.fail("backlog did not drain: %r" % m)
            time.sleep(0.05)

    def test_influxdb_down_60s(self):
        n = fl.RATE * (BEFORE_S + OUTAGE_S + AFTER_S)
        hub = self.start_hub(fl.new_hub(self.tmp, self.broker, self.influx,
                                        config={"journal": {"segment_bytes": SEGMENT}}))
        with fl.Load(self.broker, n) as load:
            time.sleep(BEFORE_S)
            self.influx.stop()
            t_down = time.monotonic()
            # The first seconds: the sink notices and the allocator settles.
            samples = self.sample_outage(hub, t_down + OUTAGE_S)
            self.influx.start()
            t_back = time.monotonic()
            drain_s, drained, backlog, ready_after_s = self.drain(hub, t_back)
            summary = load.finish()
        stored = self.assert_all_stored(load.seqs(), 90)
        steady = samples[len(samples) // 6:]  # from 10 s into the outage
        anon = [s["anon"] for s in steady]
        rss = [s["rss"] for s in samples]
        journal_growth = samples[-1]["journal"] - samples[0]["journal"]
        received = samples[-1]["received"] - samples[0]["received"]
        # Ingest went on at the load's pace while the store was down ...
        self.assertGreater(received, fl.RATE * (OUTAGE_S - 5))
        # ... into the journal on disk, not into memory.
        self.assertGreater(journal_growth, 8 * SEGMENT)
        self.assertLess(max(anon) - min(anon), ANON_GROWTH_LIMIT_KB,
                        "anonymous memory grew during the outage: %r" % anon)
        self.assertLess(max(rss) - min(rss), journal_growth / 1024 / 2)
        # Not ready while the store was down (after the first failed write), ready after.
        self.assertTrue(all(s["ready"] == 503 for s in samples[4:]),
                        [s["ready"] for s in samples])
        self.assertTrue(hub.ready())
        self.assert_clean_stop(hub)
        fig = fl.Figures("store_outage")
        fig.load(summary, stored)
        fig["outage_s"] = round(t_back - t_down, 1)
        fig["journal_growth_bytes"] = int(journal_growth)
        fig["received_during_outage"] = int(received)
        fig["rss_kb_min_max"] = [min(rss), max(rss)]
        fig["anon_kb_min_max_steady"] = [min(anon), max(anon)]
        fig["backlog_at_recovery"] = int(backlog)
        fig["drain_s"] = round(drain_s, 2)
        fig["drain_lines_per_s"] = round(drained / drain_s)
        fig["ready_again_after_s"] = round(ready_after_s, 2)
        fig.save()


if __name__ == "__main__":
    unittest.main(verbosity=2)
