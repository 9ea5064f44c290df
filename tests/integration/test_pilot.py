"""The pilot as an operator meets it (issue 12): the hub's periodic progress line, and
scripts/pilot run end to end (real mosquitto, influxd, Alertmanager, hub and simulator on free
ports, in its own run directory), stopped with Ctrl-C in order."""
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
import unittest
import urllib.request

from common import ROOT, new_hub, publish_one, services

PROGRESS = re.compile(r'msg=progress messages=(\d+) records=(\d+) rejects=(\d+) '
                      r'lag_bytes=(\d+) alerts_firing=(\d+)')


class Progress(unittest.TestCase):
    def test_progress_line_counts_messages(self):
        tmp = tempfile.mkdtemp(prefix="cityhub-progress-")
        self.addCleanup(shutil.rmtree, tmp, True)
        broker = services.Mosquitto().start()
        self.addCleanup(broker.close)
        hub = new_hub(tmp, broker, sinks=[], config={"log": {"level": "info", "progress_s": 1}})
        with hub.start():
            publish_one(broker.port, "city/noise/phuong-1/nz-1",
                        '{"ts":1795687200000,"fields":{"laeq_db":55.5}}')
            publish_one(broker.port, "city/noise/phuong-1/nz-1", '{"fields":{"laeq_db":"x"}}')

            def last():
                with open(hub.log_path, encoding="utf-8") as f:
                    found = PROGRESS.findall(f.read())
                return found[-1] if found else None

            services.wait_until(lambda: last() and last()[:3] == ("2", "1", "1"), 15,
                                what="a progress line with 2 messages, 1 record, 1 reject")
            self.assertEqual(last()[4], "0")

    def test_progress_off(self):
        tmp = tempfile.mkdtemp(prefix="cityhub-progress-")
        self.addCleanup(shutil.rmtree, tmp, True)
        broker = services.Mosquitto().start()
        self.addCleanup(broker.close)
        hub = new_hub(tmp, broker, sinks=[], config={"log": {"level": "info", "progress_s": 0}})
        with hub.start():
            time.sleep(2.5)
        with open(hub.log_path, encoding="utf-8") as f:
            self.assertNotIn("msg=progress", f.read())


if __name__ == "__main__":
    unittest.main(verbosity=2)
