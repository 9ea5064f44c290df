#!/usr/bin/env python3
"""Fault-injecting stand-in for an InfluxDB write endpoint (v1 /write and v2 /api/v2/write).

Control rules are queued; each /write request consumes one use of the rule at the head of the
queue (a rule with times < 0 never runs out), and with no rule left the reply is 204.
See tests/tools/README.md for the control protocol.
"""

import argparse
import gzip
import json
import socket
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

WRITE_PATHS = ("/write", "/api/v2/write")
RULE_KEYS = {"mode", "status", "retry_after", "times", "delay_ms", "reset", "bad_substring",
             "body"}


class State:
    """Everything the server remembers, guarded by one lock."""

    def __init__(self):
        self.lock = threading.Lock()
        self.rules = []
        self.lines = []
        self.requests = []

    def clear(self):
        with self.lock:
            self.rules.clear()
            self.lines.clear()
            self.requests.clear()

    def add_rule(self, rule):
        unknown = set(rule) - RULE_KEYS
        if unknown:
            raise ValueError("unknown rule keys: " + ", ".join(sorted(unknown)))
        rule = dict(rule)
        rule.setdefault("mode", "status" if "status" in rule else "ok")
        if rule["mode"] not in ("ok", "status"):
            raise ValueError("mode must be ok or status")
        rule["times"] = int(rule.get("times", 1))
        with self.lock:
            self.rules.append(rule)

    def take_rule(self):
        with self.lock:
            if not self.rules:
                return {"mode": "ok"}
            rule = self.rules[0]
            if rule["times"] > 0:
                rule["times"] -= 1
                if rule["times"] == 0:
                    self.rules.pop(0)
            return rule


STATE = State()


def apply_control(obj):
    """A control object is a rule, or {"clear": true}, or a list of those."""
    if isinstance(obj, list):
        for item in obj:
            apply_control(item)
        return
    if not isinstance(obj, dict):
        raise ValueError("control must be a JSON object or list")
    if obj.get("clear"):
        STATE.clear()
        obj = {k: v for k, v in obj.items() if k != "clear"}
        if not obj:
            return
    STATE.add_rule(obj)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "stub-sink/1"

    def log_message(self, fmt, *args):  # keep test output quiet
        pass

    def reply(self, status, body=b"", headers=None):
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        if body:
            self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if body:
            self.wfile.write(body)

    def reply_json(self, status, obj):
        self.reply(status, json.dumps(obj).encode())

    def read_body(self):
        length = self.headers.get("Content-Length")
        if length is None:
            return None
        return self.rfile.read(int(length))

    def do_GET(self):
        path = urlsplit(self.path).path
        with STATE.lock:
            if path == "/_lines":
                data = list(STATE.lines)
            elif path == "/_requests":
                data = [dict(r) for r in STATE.requests]
            elif path == "/ping":
                data = None
            else:
                data = False
        if data is False:
            self.reply_json(404, {"error": "not found"})
        elif data is None:
            self.reply(204)
        else:
            self.reply_json(200, data)

    def do_POST(self):
        path = urlsplit(self.path).path
        raw = self.read_body()
        if raw is None:
            self.reply_json(411, {"error": "length required"})
            return
        if path == "/_control":
            try:
                apply_control(json.loads(raw or b"{}"))
            except (ValueError, TypeError) as exc:
                self.reply_json(400, {"error": str(exc)})
                return
            self.reply(204)
        elif path in WRITE_PATHS:
            self.handle_write(raw)
        else:
            self.reply_json(404, {"error": "not found"})

    def handle_write(self, raw):
        gz = self.headers.get("Content-Encoding", "") == "gzip"
        try:
            text = (gzip.decompress(raw) if gz else raw).decode("utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            self.log_request_entry(400, 0, len(raw), gz)
            self.reply_json(400, {"error": "bad body: %s" % exc})
            return
        lines = [ln for ln in text.split("\n") if ln]
        rule = STATE.take_rule()
        status, body, headers, keep = self.decide(rule, lines)
        # Stored and logged before any delay: a slow store has written the lines even when
        # the client gives up waiting for the reply.
        with STATE.lock:
            STATE.lines.extend(keep)
        self.log_request_entry(status, len(lines), len(raw), gz)
        if rule.get("delay_ms"):
            time.sleep(rule["delay_ms"] / 1000.0)
        if rule.get("reset"):
            self.close_connection = True
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            return
        try:
            self.reply(status, body, headers)
        except OSError:
            self.close_connection = True  # the client gave up (timeout)

    @staticmethod
    def decide(rule, lines):
        """Returns (status, body, headers, lines to store) for one write request."""
        if rule.get("reset"):
            return 0, b"", {}, []
        bad = rule.get("bad_substring")
        if bad is not None:
            hits = [ln for ln in lines if bad in ln]
            if not hits:
                return 204, b"", {}, lines
            msg = "partial write: unable to parse '%s': invalid field format dropped=%d" % (
                hits[0], len(hits))
            body = json.dumps({"error": msg}).encode()
            return 400, body, {}, [ln for ln in lines if bad not in ln]
        if rule["mode"] == "ok":
            return 204, b"", {}, lines
        status = int(rule.get("status", 500))
        headers = {}
        if "retry_after" in rule:
            headers["Retry-After"] = str(rule["retry_after"])
        if 200 <= status < 300:
            return status, b"", headers, lines
        body = json.dumps({"error": rule.get("body", "stub status %d" % status)}).encode()
        return status, body, headers, []

    def log_request_entry(self, status, nlines, nbytes, gz):
        parts = urlsplit(self.path)
        entry = {
            "path": parts.path,
            "query": parts.query,
            "status": status,
            "nlines": nlines,
            "bytes": nbytes,
            "gzip": gz,
            "auth": self.headers.get("Authorization"),
            "expect": self.headers.get("Expect"),
            "content_type": self.headers.get("Content-Type"),
            "conn": "%s:%d" % self.client_address[:2],
        }
        with STATE.lock:
            STATE.requests.append(entry)


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--port", type=int, default=0, help="TCP port on 127.0.0.1 (0 = any)")
    ap.add_argument("--script", help="JSON file: a rule or list of rules queued at start")
    args = ap.parse_args()
    if args.script:
        with open(args.script, encoding="utf-8") as fp:
            apply_control(json.load(fp))
    server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    server.daemon_threads = True
    print(server.server_address[1], flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
