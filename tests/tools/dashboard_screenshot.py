#!/usr/bin/env python3
"""Makes docs/img/dashboard.png from a real hub: mosquitto, influxd and the built cityhub with
the pilot's routes (scripts/pilot.yaml.in), the My Tho rule pack and the pilot's registry;
cityhub-sim plays the last 6 hours of a normal day at full speed, then the river passes alert
level III and salt reaches the Binh Duc intake; headless chromium takes the picture.

    python3 tests/tools/dashboard_screenshot.py [OUT.png]   (from the source root, after a build)
"""
import json
import os
import re
import sys
import tempfile
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path[:0] = [os.path.join(ROOT, "tests"), os.path.join(ROOT, "tests", "integration")]
import yaml  # noqa: E402  (PyYAML: python3-yaml)

import test_dashboard as td  # noqa: E402
from common import SIM_BIN, new_hub, publish_one, services  # noqa: E402


def main():
    out = os.path.abspath(sys.argv[1] if len(sys.argv) > 1
                          else os.path.join(ROOT, "docs", "img", "dashboard.png"))
    with open(os.path.join(ROOT, "scripts", "pilot.yaml.in"), encoding="utf-8") as f:
        pilot = yaml.safe_load(re.sub(r"@\w+@", "x", f.read()))
    with services.Mosquitto() as broker, services.Influxd() as influx:
        influx.create_db("city")
        work = tempfile.mkdtemp(prefix="cityhub-shot-")
        hub = new_hub(work, broker, influx, routes=pilot["routes"], config={
            "limits": pilot.get("limits", {}),
            "alerts": {"rule_files": [td.RULES], "snapshot_ms": 200},
            "live": {"registry": td.write_registry(work)}}).start()
        start = time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime(time.time() - 6 * 3600))
        services.run_helper(SIM_BIN, ["--broker", f"tcp://127.0.0.1:{broker.port}",
                                      "--scenario", "normal-day", "--start", start,
                                      "--duration", "6h", "--speed", "max",
                                      "--summary", os.devnull], timeout=600)
        now = int(time.time() * 1000)

        def pub(kind, district, sid, fields, ts):
            publish_one(broker.port, f"city/{kind}/{district}/{sid}",
                        json.dumps({"sensor_id": sid, "ts": ts, "fields": fields}))
        pub("water_level", "phuong-1", "wl-tien-mytho", {"level_m": 1.63}, now)
        for k, v in enumerate([0.8, 1.2, 1.35, 1.42]):
            pub("water_quality", "trung-an", "wq-binhduc-intake", {"salinity_ppt": v},
                now - (3 - k) * 12 * 60000)
        time.sleep(3)
        driver = td.start_browser(tempfile.mkdtemp(prefix="cityhub-chromium-"))
        try:
            driver.set_window_size(1600, 1750)
            driver.get(f"http://127.0.0.1:{hub.http_port}/")
            time.sleep(6)
            driver.execute_script("document.getElementById('sensors').scrollIntoView();")
            time.sleep(4)  # sparklines
            driver.execute_script("window.scrollTo(0, 0);")
            time.sleep(2)
            driver.save_screenshot(out)
        finally:
            driver.quit()
            hub.kill()
    print(out)


if __name__ == "__main__":
    main()
