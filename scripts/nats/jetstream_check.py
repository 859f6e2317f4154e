#!/usr/bin/env python3
"""Checks a nats-server's JetStream with nothing but the standard library.

    python3 scripts/nats/jetstream_check.py info  nats://127.0.0.1:PORT
    python3 scripts/nats/jetstream_check.py dedup nats://127.0.0.1:PORT

`info` asks $JS.API.INFO and fails unless JetStream answers for the
account. `dedup` creates a throw-away stream, publishes the same record
twice with one `Nats-Msg-Id` header, checks that the second publish is
acknowledged as a duplicate and that the stream holds exactly one
message, then deletes the stream. Exit status 0 means it all held.

It speaks the NATS client protocol over a plain socket (CONNECT, SUB,
PUB/HPUB, MSG/HMSG, PING/PONG) so that scripts/brokers.sh selftest needs
no client package: Debian ships no `nats` command-line tool.
"""

import json
import os
import socket
import sys
import time
import urllib.parse

DEADLINE_S = 10.0


class NatsError(Exception):
    pass


class Conn:
    """One NATS connection that does requests one at a time."""

    def __init__(self, url):
        parts = urllib.parse.urlsplit(url)
        self.sock = socket.create_connection(
            (parts.hostname or "127.0.0.1", parts.port or 4222),
            timeout=DEADLINE_S)
        self.buf = b""
        self.inbox = "_INBOX.weir_check_%s" % os.urandom(6).hex()
        self.next_reply = 0
        op, _ = self._read_op()
        if not op.startswith(b"INFO"):
            raise NatsError("expected INFO, got %r" % op)
        connect = {"verbose": False, "pedantic": False, "headers": True,
                   "no_responders": True, "lang": "python-raw",
                   "version": "0", "protocol": 1}
        self._send(b"CONNECT " + json.dumps(connect).encode() + b"\r\n")
        self._send(b"SUB " + self.inbox.encode() + b".* 1\r\n")
        self._send(b"PING\r\n")
        self._wait_pong()

    def close(self):
        self.sock.close()

    def _send(self, data):
        self.sock.sendall(data)

    def _fill(self):
        chunk = self.sock.recv(65536)
        if not chunk:
            raise NatsError("server closed the connection")
        self.buf += chunk

    def _read_line(self):
        while b"\r\n" not in self.buf:
            self._fill()
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def _read_bytes(self, n):
        # A payload is followed by its own CRLF.
        while len(self.buf) < n + 2:
            self._fill()
        data, self.buf = self.buf[:n], self.buf[n + 2:]
        return data

    def _read_op(self):
        """Returns (protocol line, (headers, payload) or None)."""
        line = self._read_line()
        if line.startswith(b"PING"):
            self._send(b"PONG\r\n")
            return self._read_op()
        if line.startswith(b"-ERR"):
            raise NatsError(line.decode(errors="replace"))
        if line.startswith(b"HMSG "):
            # HMSG subject sid [reply] header-size total-size
            fields = line.split()
            hdr_len, total = int(fields[-2]), int(fields[-1])
            data = self._read_bytes(total)
            return line, (data[:hdr_len], data[hdr_len:])
        if line.startswith(b"MSG "):
            # MSG subject sid [reply] size
            return line, (b"", self._read_bytes(int(line.split()[-1])))
        return line, None

    def _wait_pong(self):
        while True:
            op, _ = self._read_op()
            if op.startswith(b"PONG"):
                return

    def request(self, subject, payload=b"", headers=None):
        """Sends one request and returns its reply's headers and payload."""
        self.next_reply += 1
        reply = "%s.%d" % (self.inbox, self.next_reply)
        if headers:
            hdr = "NATS/1.0\r\n" + "".join(
                "%s: %s\r\n" % kv for kv in headers.items()) + "\r\n"
            hdr = hdr.encode()
            self._send(b"HPUB %s %s %d %d\r\n" % (
                subject.encode(), reply.encode(), len(hdr),
                len(hdr) + len(payload)) + hdr + payload + b"\r\n")
        else:
            self._send(b"PUB %s %s %d\r\n" % (
                subject.encode(), reply.encode(), len(payload)) +
                payload + b"\r\n")
        while True:
            op, msg = self._read_op()
            if msg is not None and op.split()[1].decode() == reply:
                if b" 503" in msg[0].split(b"\r\n", 1)[0]:
                    raise NatsError("no responders for %s" % subject)
                return msg

    def js(self, api, body=None, headers=None, subject=None):
        """Calls a JetStream API (or publishes to a stream's subject) and
        returns the decoded JSON reply, failing on a JetStream error."""
        payload = b"" if body is None else (
            body if isinstance(body, bytes) else json.dumps(body).encode())
        _, data = self.request(subject or "$JS.API." + api, payload, headers)
        reply = json.loads(data)
        if "error" in reply:
            raise NatsError("%s: %s" % (subject or api, reply["error"]))
        return reply


def check_info(conn):
    info = conn.js("INFO")
    print("jetstream: account has %d stream(s), storage %d bytes" % (
        info.get("streams", 0), info.get("storage", 0)))


def check_dedup(conn):
    name = "WEIR_SELFTEST_%s" % os.urandom(4).hex().upper()
    subject = "weir.selftest.%s" % name.lower()
    conn.js("STREAM.CREATE." + name, {
        "name": name, "subjects": [subject], "storage": "file",
        "retention": "limits", "num_replicas": 1,
        "duplicate_window": 120 * 10**9})
    try:
        headers = {"Nats-Msg-Id": "weir-selftest-1"}
        first = conn.js(None, b"one record", headers, subject)
        second = conn.js(None, b"one record", headers, subject)
        if first.get("duplicate") or not second.get("duplicate"):
            raise NatsError("acks %r then %r: expected a new record, "
                            "then a duplicate" % (first, second))
        state = conn.js("STREAM.INFO." + name)["state"]
        if state["messages"] != 1:
            raise NatsError("stream holds %d messages, expected 1"
                            % state["messages"])
        print("jetstream: Nats-Msg-Id published twice, stream %s kept 1 "
              "message (second ack: duplicate)" % name)
    finally:
        conn.js("STREAM.DELETE." + name)


def main(argv):
    checks = {"info": check_info, "dedup": check_dedup}
    if len(argv) != 3 or argv[1] not in checks:
        print(__doc__.strip().split("\n\n")[1], file=sys.stderr)
        return 2
    start = time.monotonic()
    try:
        conn = Conn(argv[2])
        try:
            checks[argv[1]](conn)
        finally:
            conn.close()
    except (OSError, NatsError, ValueError, KeyError) as err:
        print("jetstream_check %s: %s" % (argv[1], err), file=sys.stderr)
        return 1
    print("jetstream: %s check took %.2f s" % (
        argv[1], time.monotonic() - start))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
