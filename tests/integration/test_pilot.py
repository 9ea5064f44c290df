"""The pilot as an operator meets it (issue 12): the hub's periodic progress line, and
scripts/pilot run end to end (real mosquitto, influxd, Alertmanager, hub and simulator on free
ports, in its own run directory), stopped with Ctrl-C in order."""
import json
import os
import pty
import re
import shutil
import signal
import subprocess
import tempfile
import threading
import time
import unittest
import urllib.request

from common import BUILD, ROOT, SIM_BIN, new_hub, publish_one, services

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


class SimulatorForPilot(unittest.TestCase):
    def test_registry_csv(self):
        tmp = tempfile.mkdtemp(prefix="cityhub-registry-")
        self.addCleanup(shutil.rmtree, tmp, True)
        path = os.path.join(tmp, "sensors.csv")
        subprocess.run([SIM_BIN, "--scenario", "pilot", "--registry", path], check=True,
                       timeout=30)
        import csv
        with open(path, encoding="utf-8", newline="") as f:
            rows = list(csv.DictReader(f))
        self.assertEqual(len(rows), 30)
        self.assertEqual(list(rows[0]), ["id", "kind", "district", "lat", "lon", "name_vi",
                                         "name_en", "interval_s"])
        by_id = {r["id"]: r for r in rows}
        r = by_id["tf-apbac-levanpham"]
        self.assertEqual(r["name_vi"], "Ngã tư Ấp Bắc - Lê Văn Phẩm")
        self.assertEqual(r["name_en"], "Ap Bac - Le Van Pham intersection")
        self.assertEqual((r["kind"], r["district"], r["interval_s"]),
                         ("traffic_flow", "phuong-5", "60"))
        for r in rows:
            self.assertTrue(10.34 <= float(r["lat"]) <= 10.38 and
                            106.33 <= float(r["lon"]) <= 106.41, r)
            self.assertNotEqual(r["name_vi"], r["id"])
            self.assertNotEqual(r["name_en"], r["id"])
        # An `only:` scenario deploys only its sensors.
        subprocess.run([SIM_BIN, "--scenario", "congestion", "--registry", path], check=True,
                       timeout=30)
        with open(path, encoding="utf-8") as f:
            self.assertEqual(len(f.read().splitlines()), 2)

    def test_start_now_forever(self):
        """--start now --forever: the scenario starts at the wall clock and plays again
        right after its end, each cycle's episodes shifted by the duration."""
        t0 = int(time.time())
        p = subprocess.Popen([SIM_BIN, "--scenario", "congestion", "--start", "now",
                              "--duration", "2h", "--speed", "3600", "--forever",
                              "--dry-run"], stdout=subprocess.DEVNULL,
                             stderr=subprocess.PIPE, text=True)
        time.sleep(5.5)
        p.send_signal(signal.SIGINT)
        _, err = p.communicate(timeout=30)
        self.assertEqual(p.returncode, 1, err)  # stopped early, as with any scenario run
        again = re.findall(r'msg="scenario again" cycle=(\d+)', err)
        self.assertGreaterEqual(len(again), 2, err)
        froms = re.findall(r"msg=episode sensor=tf-30thang4-leloi field=occupancy .* "
                           r"from=(\S+)", err)
        self.assertGreaterEqual(len(froms), 3, err)
        stamps = [time.mktime(time.strptime(f[:19], "%Y-%m-%dT%H:%M:%S")) - time.timezone
                  for f in froms]
        self.assertLessEqual(abs(stamps[0] - (t0 + 3600)), 5)  # the episode starts at 1h
        self.assertEqual([b - a for a, b in zip(stamps, stamps[1:])],
                         [7200.0] * (len(stamps) - 1))


class PilotScript(unittest.TestCase):
    """scripts/pilot as a user runs it: in a terminal, stopped with Ctrl-C."""

    def test_pilot_runs_prints_where_to_look_and_stops_in_order(self):
        tmp = tempfile.mkdtemp(prefix="cityhub-pilot-")
        self.addCleanup(shutil.rmtree, tmp, True)
        pid, fd = pty.fork()
        if pid == 0:  # the child: scripts/pilot on a terminal of its own
            os.execvp("bash", ["bash", os.path.join(ROOT, "scripts", "pilot"), "--no-build",
                               "--build-dir", BUILD, "--run-root", tmp, "--speed", "600"])
        out = bytearray()

        def drain():
            while True:
                try:
                    data = os.read(fd, 4096)
                except OSError:
                    return
                if not data:
                    return
                out.extend(data)

        reader = threading.Thread(target=drain, daemon=True)
        reader.start()
        try:
            services.wait_until(lambda: b"Ctrl-C stops everything." in out, 90,
                                what="the pilot's banner")
            text = out.decode("utf-8", "replace")
            dash = re.search(r"dashboard +(http://127\.0\.0\.1:(\d+)/)", text)
            am = re.search(r"alertmanager +(http://127\.0\.0\.1:(\d+)/)", text)
            self.assertTrue(dash and am, text)
            self.assertNotEqual(dash.group(2), "8080")
            for rule in ("traffic_occupancy", "salinity_domestic", "river_level",
                         "sensor_silent", "aqi_vn"):
                self.assertRegex(text, r"\d\d:\d\d-\d\d:\d\d .*" + rule)
            run = os.path.realpath(os.path.join(tmp, "latest"))
            self.assertTrue(os.path.basename(run).startswith("pilot-"), run)
            with urllib.request.urlopen(dash.group(1) + "healthz", timeout=5) as r:
                self.assertEqual(r.status, 200)
            # The congestion drill fires ~17 simulated minutes in: about 2 s at x600.
            def alerts():
                with urllib.request.urlopen(am.group(1) + "api/v2/alerts", timeout=5) as r:
                    return {(a["labels"]["alertname"], a["labels"].get("sensor_id"))
                            for a in json.load(r)}
            services.wait_until(lambda: ("traffic_occupancy", "tf-30thang4-leloi") in alerts(),
                                60, what="the congestion drill's alert in Alertmanager")
            with open(os.path.join(run, "sensors.csv"), encoding="utf-8") as f:
                self.assertEqual(len(f.read().splitlines()), 31)
            os.write(fd, b"\x03")  # Ctrl-C: the terminal signals the whole foreground group
            _, status = os.waitpid(pid, 0)
        finally:
            try:
                os.kill(pid, signal.SIGTERM)
                os.waitpid(pid, 0)
            except OSError:
                pass
        reader.join(5)
        text = out.decode("utf-8", "replace")
        self.assertEqual(os.waitstatus_to_exitcode(status), 0, text)
        order = re.findall(r"pilot: stopping (\S+) +stopped after", text)
        self.assertEqual(order, ["simulator", "hub", "alertmanager", "influxd", "mosquitto"],
                         text)
        with open(os.path.join(run, "cityhub.log"), encoding="utf-8") as f:
            log = f.read()
        self.assertIn('msg="shutting down" signal=15', log)  # from the script, not the tty
        self.assertNotIn("level=error", log)
        self.assertFalse(os.path.exists(os.path.join(run, "pilot.pid")))


if __name__ == "__main__":
    unittest.main(verbosity=2)
