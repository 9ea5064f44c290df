"""Fault 5: the journal reaches journal.max_bytes while the store is down, under a steady QoS 1
load of 2,000 msg/s.

drop_oldest: the journal stays within its limit, the oldest entries go, and every message is
    either stored or counted in cityhub_journal_dropped: stored + dropped == published, and
    what is stored is the newest messages (plus the batch the sink held when the store died).
block: the journal stays within its limit, ingest waits (the broker queues), SIGTERM still ends
    the hub within 5 s, and after a restart with the store back every message is stored.
"""
import time
import unittest

import faultlib as fl

MAX_BYTES = 1 << 20
SEGMENT = 72 << 10  # the hub wants segment_bytes >= limits.max_payload_bytes + 64 KiB + 64
MAX_PAYLOAD = 4096
LOAD_S = 8  # about 2.6 MB of journal entries (~165 bytes each): well over the limit


class JournalFull(fl.FaultCase):
    workdir_name = "full"

    def hub(self, policy):
        return fl.new_hub(self.tmp, self.broker, self.influx,
                          sink={"retry_cap_ms": 300},
                          config={"journal": {"max_bytes": MAX_BYTES, "segment_bytes": SEGMENT,
                                              "full_policy": policy},
                                  "limits": {"max_payload_bytes": MAX_PAYLOAD}})

    def watch_journal(self, hub, load):
        """Samples the journal size until the load ends; returns the largest seen."""
        biggest = 0
        while load.proc.poll() is None:
            biggest = max(biggest, hub.metric("cityhub_journal_bytes"))
            time.sleep(0.2)
        return biggest

    def test_drop_oldest_counts_every_dropped_message(self):
        n = fl.RATE * LOAD_S
        hub = self.start_hub(self.hub("drop_oldest"))
        fl.Load(self.broker, 500).run()  # the store takes the first messages ...
        fl.wait_count(self.influx, 500, 30)
        self.influx.stop()  # ... then goes away
        with fl.Load(self.broker, n, start=500) as load:
            biggest = self.watch_journal(hub, load)
            summary = load.finish()
        fl.services.wait_until(
            lambda: hub.metric("cityhub_mqtt_messages_total") >= n + 500, 30,
            what="every message journaled")
        time.sleep(1.5)  # the journal gauges are refreshed once a second
        dropped_while_down = hub.metric("cityhub_journal_dropped")
        self.influx.start()
        fl.services.wait_until(
            lambda: hub.metric('cityhub_consumer_lag_bytes{consumer="influxdb"}') == 0
            and hub.ready(), 60, what="the sink caught up")
        time.sleep(1.0)
        dropped = int(hub.metric("cityhub_journal_dropped"))
        stored = fl.stored_seqs(self.influx)
        published = set(range(n + 500))
        self.assertLessEqual(biggest, MAX_BYTES)
        self.assertGreater(dropped, 0)
        self.assertEqual(dropped, dropped_while_down)
        self.assertLessEqual(stored.keys(), published)
        self.assertEqual(len(stored) + dropped, n + 500,
                         "stored %d + dropped %d != published %d" % (len(stored), dropped,
                                                                       n + 500))
        # The oldest went: what is missing is one run of seqs, and the newest are all there.
        missing = sorted(published - stored.keys())
        self.assertEqual(missing, list(range(missing[0], missing[0] + len(missing))))
        self.assertTrue(set(range(n + 500 - 5000, n + 500)) <= stored.keys())
        self.assert_clean_stop(hub)
        fig = fl.Figures("journal_full_drop_oldest")
        fig["published"] = summary["acked"] + 500
        fig["publish_rate"] = summary["achieved_rate"]
        fig["stored"] = len(stored)
        fig["dropped_counted"] = dropped
        fig["journal_max_seen_bytes"] = int(biggest)
        fig["missing_seq_range"] = [missing[0], missing[-1]]
        fig.save()

    def test_block_waits_and_loses_nothing(self):
        n = fl.RATE * LOAD_S
        hub = self.start_hub(self.hub("block"))
        self.influx.stop()
        with fl.Load(self.broker, n) as load:
            biggest = self.watch_journal(hub, load)
            summary = load.finish()
        m = hub.metrics()
        self.assertGreater(m["cityhub_journal_full_waits"], 0)
        self.assertEqual(m["cityhub_journal_dropped"], 0)
        self.assertLess(m["cityhub_mqtt_messages_total"], n)  # the rest waits at the broker
        self.assertLessEqual(max(biggest, m["cityhub_journal_bytes"]), MAX_BYTES)
        # Ingest is blocked inside the MQTT callback: SIGTERM must still end the hub.
        took = self.assert_clean_stop(hub, timeout=30)
        self.assertLess(took, 5.0, hub.log_tail())
        self.influx.start()
        hub.start()
        stored = self.assert_all_stored(load.seqs(), 90)
        self.assert_clean_stop(hub)
        fig = fl.Figures("journal_full_block")
        fig.load(summary, stored)
        fig["journaled_before_full"] = int(m["cityhub_mqtt_messages_total"])
        fig["full_waits"] = int(m["cityhub_journal_full_waits"])
        fig["journal_max_seen_bytes"] = int(max(biggest, m["cityhub_journal_bytes"]))
        fig["sigterm_exit_s_while_blocked"] = round(took, 2)
        fig.save()


if __name__ == "__main__":
    unittest.main(verbosity=2)
