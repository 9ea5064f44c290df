"""Fault 6: a damaged journal. While the store is down the hub journals one second of a steady
QoS 1 load of 2,000 msg/s and is killed (SIGKILL). Then three entries are damaged on disk: the
magic of one flipped, a payload byte of another flipped, and the newest segment truncated in the
middle of its last entry. On start the hub reports each damaged entry (log and
cityhub_journal_corrupt), cuts its segment there, and delivers every entry before each cut and
every undamaged segment: exactly those, nothing else."""
import glob
import json
import os
import re
import struct
import unittest

import faultlib as fl

HDR = struct.Struct("<IIIIq")  # magic, body length, crc, topic length, receive time
MAGIC = 0x4C4E524A
SEG_HDR = struct.Struct("<4sIQ")  # a segment file's header: b"CHJS", format version, zero
FORMAT = 1
SEGMENT = 72 << 10
N = fl.RATE  # one second of load


def round8(n):
    return (n + 7) & ~7


def read_segments(jdir):
    """Returns [(path, base, [(position in file, size, seq)])] of every journal segment. An
    entry at file position p of the segment at base has offset base + p - SEG_HDR.size."""
    out = []
    for path in sorted(glob.glob(os.path.join(jdir, "*.seg"))):
        base = int(os.path.basename(path)[:20])
        with open(path, "rb") as f:
            data = f.read()
        assert SEG_HDR.unpack_from(data) == (b"CHJS", FORMAT, 0), path
        entries, pos = [], SEG_HDR.size
        while pos + HDR.size <= len(data):
            magic, blen, _, tlen, _ = HDR.unpack_from(data, pos)
            if magic != MAGIC:
                break
            body = data[pos + HDR.size:pos + HDR.size + blen]
            payload = json.loads(body[tlen + 1:-1])
            entries.append((pos, round8(HDR.size + blen), fl.message_seq(payload)))
            pos += round8(HDR.size + blen)
        out.append((path, base, entries))
    return out


def flip(path, at):
    with open(path, "r+b") as f:
        f.seek(at)
        b = f.read(1)
        f.seek(at)
        f.write(bytes([b[0] ^ 0xFF]))


class TornJournal(fl.FaultCase):
    workdir_name = "torn"

    def hub(self, url):
        return fl.new_hub(self.tmp, self.broker, sink={"url": url},
                          config={"journal": {"segment_bytes": SEGMENT},
                                  "limits": {"max_payload_bytes": 4096}})

    def test_damaged_entries_are_reported_and_the_rest_delivered(self):
        dead_store = "http://127.0.0.1:%d" % fl.services.free_port()
        hub = self.start_hub(self.hub(dead_store))
        summary = fl.Load(self.broker, N).run()
        fl.services.wait_until(lambda: hub.metric("cityhub_mqtt_messages_total") == N, 30,
                               what="every message journaled")
        hub.kill()
        segs = read_segments(os.path.join(self.tmp, "journal"))
        self.assertGreaterEqual(len(segs), 3)
        self.assertEqual(sorted(s for _, _, es in segs for _, _, s in es), list(range(N)))
        (p0, b0, e0), (p1, b1, e1), (pl, bl, el) = segs[0], segs[1], segs[-1]
        lost = set()
        # 1. the magic of entry 50 of the oldest segment
        flip(p0, e0[50][0])
        lost |= {s for _, _, s in e0[50:]}
        # 2. a payload byte of entry 100 of the second segment
        flip(p1, e1[100][0] + e1[100][1] - 12)
        lost |= {s for _, _, s in e1[100:]}
        # 3. the newest segment cut in the middle of its last entry
        with open(pl, "r+b") as f:
            f.truncate(el[-1][0] + HDR.size + 5)
        lost.add(el[-1][2])
        off = lambda base, pos: base + pos - SEG_HDR.size  # noqa: E731
        damaged = {(off(b0, e0[50][0]), "bad magic"),
                   (off(b1, e1[100][0]), "checksum mismatch"),
                   # re-extended with zeros on open: the body no longer matches its CRC
                   (off(bl, el[-1][0]), "checksum mismatch")}

        hub = self.start_hub(self.hub(self.influx.url))
        stored = self.assert_all_stored(set(range(N)) - lost, 60)
        self.assertEqual(hub.metric("cityhub_journal_corrupt"), 3)
        log = fl.read_log(hub)
        found = set(re.findall(r'journal entry damaged.* offset=(\d+) reason="([^"]+)"', log))
        self.assertEqual({(int(o), why) for o, why in found}, damaged, log[-3000:])
        self.assert_clean_stop(hub)
        fig = fl.Figures("torn_journal")
        fig["published"] = summary["acked"]
        fig["segments"] = len(segs)
        fig["damaged_entries_reported"] = len(found)
        fig["entries_cut"] = len(lost)
        fig["stored"] = stored
        fig.save()


if __name__ == "__main__":
    unittest.main(verbosity=2)
