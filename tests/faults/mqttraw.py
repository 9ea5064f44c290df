"""A bare MQTT 3.1.1 client on a socket (stdlib only), for hostile input: it sends topics and
payloads byte for byte, including what a well-behaved client library refuses to send (invalid
UTF-8, NUL, wildcards in a PUBLISH topic), and tells whether the broker took each message."""
import socket
import struct
import threading


def _varint(n):
    out = bytearray()
    while True:
        b, n = n % 128, n // 128
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _utf8(b):
    return struct.pack(">H", len(b)) + b


class Closed(Exception):
    """The broker closed the connection (it refused what we sent)."""


class Client:
    def __init__(self, port, client_id, keepalive=60, timeout=10.0):
        self.port, self.client_id, self.keepalive, self.timeout = port, client_id, keepalive, timeout
        self.sock = None
        self.pid = 0
        self.connect()

    def connect(self):
        self.close()
        self.sock = socket.create_connection(("127.0.0.1", self.port), timeout=self.timeout)
        var = _utf8(b"MQTT") + bytes([4, 0x02]) + struct.pack(">H", self.keepalive)
        body = var + _utf8(self.client_id.encode())
        self.sock.sendall(bytes([0x10]) + _varint(len(body)) + body)
        ptype, data = self.read_packet()
        if ptype != 0x20 or data[1] != 0:
            raise RuntimeError("CONNACK refused: %r" % data)

    def close(self):
        if self.sock:
            try:
                self.sock.close()
            except OSError:
                pass
            self.sock = None

    def _read(self, n):
        buf = b""
        while len(buf) < n:
            chunk = self.sock.recv(n - len(buf))
            if not chunk:
                raise Closed()
            buf += chunk
        return buf

    def read_packet(self):
        """Returns (type nibble << 4 | flags, body bytes)."""
        first = self._read(1)[0]
        mult, length = 1, 0
        while True:
            b = self._read(1)[0]
            length += (b & 0x7F) * mult
            mult *= 128
            if not b & 0x80:
                break
        return first, self._read(length)

    def publish(self, topic, payload):
        """Publishes with QoS 1 and waits for the PUBACK. Returns True when the broker
        acknowledged, False when it closed the connection instead (the client reconnects)."""
        self.pid = self.pid % 65535 + 1
        body = _utf8(topic) + struct.pack(">H", self.pid) + payload
        try:
            self.sock.sendall(bytes([0x32]) + _varint(len(body)) + body)
            while True:
                ptype, data = self.read_packet()
                if ptype & 0xF0 == 0x40 and struct.unpack(">H", data[:2])[0] == self.pid:
                    return True
        except (Closed, ConnectionError, socket.timeout):
            self.connect()
            return False

    def subscribe(self, topic_filter):
        """Subscribes with QoS 0 and waits for the SUBACK."""
        self.pid = self.pid % 65535 + 1
        body = struct.pack(">H", self.pid) + _utf8(topic_filter.encode()) + b"\x00"
        self.sock.sendall(bytes([0x82]) + _varint(len(body)) + body)
        ptype, _ = self.read_packet()
        if ptype & 0xF0 != 0x90:
            raise RuntimeError("no SUBACK")


class Collector(threading.Thread):
    """Subscribes to topic_filter and keeps every (topic bytes, payload bytes) received."""

    def __init__(self, port, topic_filter, client_id="faults-collector"):
        super().__init__(daemon=True)
        self.client = Client(port, client_id, keepalive=0)
        self.client.subscribe(topic_filter)
        self.client.sock.settimeout(None)
        self.messages = []
        self.lock = threading.Lock()
        self.start()

    def run(self):
        try:
            while True:
                ptype, data = self.client.read_packet()
                if ptype & 0xF0 != 0x30:
                    continue
                tlen = struct.unpack(">H", data[:2])[0]
                topic = data[2:2 + tlen]
                rest = data[2 + tlen:]
                if ptype & 0x06:  # QoS > 0 carries a packet id
                    rest = rest[2:]
                with self.lock:
                    self.messages.append((topic, rest))
        except (Closed, OSError):
            return

    def snapshot(self):
        with self.lock:
            return list(self.messages)

    def close(self):
        try:
            self.client.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.join(5)
        self.client.close()
