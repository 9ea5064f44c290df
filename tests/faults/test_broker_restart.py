"""Fault 3: the broker (persistence on) is restarted under a steady QoS 1 load of 2,000 msg/s.
The hub reconnects and resubscribes by itself (same process), and nothing is lost."""
import time
import unittest

import faultlib as fl

LOAD_S = 12
DOWN_AT_S = 4
DOWN_FOR_S = 2


class BrokerRestart(fl.FaultCase):
    workdir_name = "broker"
    broker_options = {"persistence": True}

    def test_broker_restart_under_load(self):
        n = fl.RATE * LOAD_S
        hub = self.start_hub()
        pid = hub.proc.pid
        with fl.Load(self.broker, n) as load:
            time.sleep(DOWN_AT_S)
            received_before = hub.metric("cityhub_mqtt_messages_total")
            self.broker.stop()  # SIGTERM: mosquitto saves its database
            t_down = time.monotonic()
            fl.services.wait_until(lambda: not hub.ready(), 10, 0.05,
                                   "/readyz not ready without a broker")
            time.sleep(max(0.0, DOWN_FOR_S - (time.monotonic() - t_down)))
            self.broker.start()
            t_up = time.monotonic()
            fl.services.wait_until(hub.ready, 30, 0.05, "/readyz ready after the restart")
            reconnect_s = time.monotonic() - t_up
            summary = load.finish()
        stored = self.assert_all_stored(load.seqs(), 60)
        self.assertEqual(hub.proc.pid, pid)
        self.assertIsNone(hub.proc.poll())
        m = hub.metrics()
        self.assertEqual(m["cityhub_mqtt_connects_total"], 2)
        # Messages kept flowing after the restart, through the renewed subscription.
        self.assertGreater(m["cityhub_mqtt_messages_total"] - received_before,
                           fl.RATE * (LOAD_S - DOWN_AT_S - DOWN_FOR_S - 2))
        self.assert_clean_stop(hub)
        fig = fl.Figures("broker_restart")
        fig.load(summary, stored)
        fig["publisher_resent"] = summary["resent"]
        fig["broker_down_s"] = round(t_up - t_down, 2)
        fig["hub_ready_after_broker_up_s"] = round(reconnect_s, 2)
        fig["hub_connects"] = int(m["cityhub_mqtt_connects_total"])
        fig["hub_received"] = int(m["cityhub_mqtt_messages_total"])
        fig.save()


if __name__ == "__main__":
    unittest.main(verbosity=2)
