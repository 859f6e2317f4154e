#!/usr/bin/env python3
"""Chaos, end to end with the real brokers (issue 12 item 10).

A paced generator feeds NDJSON events to `weir gateway --ack` (store in
FULL durability, one route to JetStream, one to Kafka) for --seconds at
--rate events/s. Meanwhile the gateway is killed with SIGKILL --kills
times at random moments and restarted over the same store, and the
nats-server (this program's own, on 127.0.0.1) is stopped with SIGTERM
for --outage seconds and started again on the same port and JetStream
directory. Kafka is the shared broker (WEIR_KAFKA_BOOTSTRAP, else the
source tree's build/brokers/env), used as a client only.

Events: topic "chaos<sfx>.k<j>", key "k<j>", payload "<j>:<n>" with n
counting per key, and an `id` (UUID) chosen here. A line the gateway has
not acknowledged when it dies is sent again, in order, with the same id
(the store keeps one row per id, and answers with the first seq). When
every event is acknowledged the generator closes the gateway's stdin;
the gateway drains its routes and exits. Then chaos_check reads the
log, the stream and the topic and prints lost / duplicated (after
de-duplication) / reordered-per-key counts; this program prints one
JSON line with its own figures and the checker's, and exits with the
checker's status (0: all three are 0).

Figures of the run: `events` offered at `rate` over `seconds`; `kills`;
`resent`, lines written to a gateway that died before acknowledging
them (sent again with their ids); `all_acked_s`, seconds from the start
until the last event was acknowledged by a gateway (above `seconds` when
the gateway could not keep up with the offered rate); `wall_s`, to the
last gateway's exit after it drained its routes.

Kills are not placed inside the outage: a gateway cannot start while a
route's nats-server is down (the NATS backend's start connects once),
so a kill there would stop the flow until the server is back; the run
keeps the gateway running through the outage instead
(docs/reliability.md).

Exit 77 (skipped) when no Kafka or no nats-server is found, unless
CI=true.
"""

import argparse
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid

SKIP = 77


def say(*a):
    print("chaos:", *a, file=sys.stderr, flush=True)


def skip(why):
    if os.environ.get("CI") == "true":
        say(why, "(CI=true: a failure)")
        sys.exit(1)
    say(why + ": skipped")
    sys.exit(SKIP)


def kafka_bootstrap(source):
    if os.environ.get("WEIR_KAFKA_BOOTSTRAP"):
        return os.environ["WEIR_KAFKA_BOOTSTRAP"]
    env = os.path.join(source, "build", "brokers", "env")
    if os.path.exists(env):
        for line in open(env):
            if line.startswith("WEIR_KAFKA_BOOTSTRAP="):
                return line.split("=", 1)[1].strip()
    return None


def nats_binary(source):
    cache = os.environ.get("WEIR_BROKER_CACHE",
                           os.path.expanduser("~/.cache/weir"))
    for b in (os.environ.get("WEIR_NATS_SERVER"),
              os.path.join(cache, "nats-server-v2.15.2", "nats-server"),
              shutil.which("nats-server"), "/usr/sbin/nats-server"):
        if b and os.access(b, os.X_OK):
            return b
    return None


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Nats:
    """A nats-server of this run: start, stop (SIGTERM by pid), again."""

    def __init__(self, binary, source, workdir):
        self.binary, self.source, self.dir = binary, source, workdir
        self.port = free_port()
        self.url = "nats://127.0.0.1:%d" % self.port
        self.proc = None

    def start(self, deadline_s=60):
        log = open(os.path.join(self.dir, "nats.out"), "a")
        self.proc = subprocess.Popen(
            [self.binary, "-a", "127.0.0.1", "-p", str(self.port), "-js",
             "-sd", os.path.join(self.dir, "jetstream"),
             "-l", os.path.join(self.dir, "nats.log")],
            stdin=subprocess.DEVNULL, stdout=log, stderr=log)
        check = os.path.join(self.source, "scripts", "nats",
                             "jetstream_check.py")
        end = time.monotonic() + deadline_s
        while time.monotonic() < end:
            if self.proc.poll() is not None:
                raise RuntimeError("nats-server exited with %d (see %s)"
                                   % (self.proc.returncode, self.dir))
            r = subprocess.run([sys.executable, check, "info", self.url],
                               capture_output=True)
            if r.returncode == 0:
                return
            time.sleep(0.1)
        raise RuntimeError("nats-server not ready in %d s" % deadline_s)

    def stop(self):
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


class Gateway:
    """One `weir gateway --ack` process: its lines, in the order sent."""

    def __init__(self, args, ini, errlog):
        self.proc = subprocess.Popen(
            [args.weir, "gateway", "-c", ini, "--ack",
             "--drain-timeout", "120"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=errlog,
            cwd=args.dir)
        os.set_blocking(self.proc.stdin.fileno(), False)
        os.set_blocking(self.proc.stdout.fileno(), False)
        self.sent = []  # event index of line 1, 2, ...
        self.ends = []  # byte offset of each line's end in the input
        self.queued = self.written = 0  # bytes
        self.out = bytearray()  # written to the pipe as it takes it
        self.inbuf = b""
        self.closed = False

    def alive(self):
        return self.proc.poll() is None

    def queue(self, idx, line):
        self.sent.append(idx)
        self.out += line
        self.queued += len(line)
        self.ends.append(self.queued)

    def flush(self):
        while self.out and not self.closed:
            try:
                n = os.write(self.proc.stdin.fileno(), self.out)
            except BlockingIOError:
                return
            except BrokenPipeError:
                self.closed = True
                return
            del self.out[:n]
            self.written += n

    def acks(self):
        """The acks that can be read now: (line, ok, answer)."""
        got = []
        while True:
            try:
                b = os.read(self.proc.stdout.fileno(), 1 << 16)
            except BlockingIOError:
                break
            if not b:
                break
            self.inbuf += b
        *lines, self.inbuf = self.inbuf.split(b"\n")
        for l in lines:
            a = json.loads(l)
            got.append((a["line"], a["ok"], a))
        return got


class Run:
    def __init__(self, args):
        self.a = args
        self.sfx = "%d%d" % (os.getpid(), random.randrange(1 << 30))
        self.events = []  # (id, line bytes)
        self.key_n = [0] * args.keys
        self.acked = []  # per event: 0 or 1
        self.resend = []  # indices to send again, in order
        self.next_new = 0
        self.kills = self.resent = self.start_failures = self.starts = 0
        self.acks_seen = self.n_acked = 0
        self.all_acked_s = None

    def make_event(self):
        i = len(self.events)
        j = i % self.a.keys
        n = self.key_n[j]
        self.key_n[j] += 1
        eid = str(uuid.uuid4())
        line = json.dumps({"topic": "chaos%s.k%d" % (self.sfx, j),
                           "key": "k%d" % j, "id": eid,
                           "payload": "%d:%d" % (j, n)},
                          separators=(",", ":")) + "\n"
        self.events.append((eid, line.encode()))
        self.acked.append(0)

    def write_ini(self, nats_url, kafka):
        ini = os.path.join(self.a.dir, "gateway.ini")
        with open(ini, "w") as f:
            f.write("[store]\npath = chaos.db\ndurability = full\n"
                    "[bridge]\nretry.max_ms = 1000\n"
                    "breaker.cooldown_ms = 1000\n"
                    "[nats]\nurl = %s\nstream = CHAOS%s\n"
                    "stream.subjects = chaos%s.>\nack_timeout_ms = 3000\n"
                    "[kafka]\nbootstrap.servers = %s\n"
                    "[route js]\npattern = chaos%s.>\nscheme = nats\n"
                    "dest = chaos%s.{2}\nkey = key\n"
                    "[route kafka]\npattern = chaos%s.>\nscheme = kafka\n"
                    "dest = chaos-%s\nkey = key\n"
                    % (nats_url, self.sfx, self.sfx, kafka, self.sfx,
                       self.sfx, self.sfx, self.sfx))
        return ini

    def take_acks(self, gw):
        for line, ok, a in gw.acks():
            if not ok:
                raise RuntimeError("gateway refused a line: %s" % a)
            idx = gw.sent[line - 1]
            self.acks_seen += 1
            self.n_acked += not self.acked[idx]
            self.acked[idx] = 1

    def bury(self, gw):
        """The gateway died: what it did not acknowledge goes again."""
        gw.proc.wait()
        self.take_acks(gw)  # answers written before the kill still count
        again = [i for i in gw.sent if not self.acked[i]]
        # The lines it may have read: in the pipe, or taken from it.
        self.resent += sum(1 for i, end in zip(gw.sent, gw.ends)
                           if end <= gw.written and not self.acked[i])
        self.resend = again + self.resend

    def start_gateway(self, ini, errlog):
        gw = Gateway(self.a, ini, errlog)
        self.starts += 1
        for i in self.resend:
            gw.queue(i, self.events[i][1])
        self.resend = []
        return gw

    def kill_times(self):
        """--kills moments in the run, none inside the outage (+-0.5 s)."""
        a, lo, hi = self.a, self.a.outage_at - 0.5, \
            self.a.outage_at + self.a.outage + 0.5
        times = []
        while len(times) < a.kills:
            t = random.uniform(0.5, a.seconds - 0.5)
            if a.outage == 0 or not lo <= t <= hi:
                times.append(t)
        return sorted(times)

    def loop(self, ini, nats, errlog):
        a = self.a
        total = int(a.rate * a.seconds)
        kills = self.kill_times()
        t0 = time.monotonic()
        deadline = t0 + a.seconds + a.outage + a.grace
        outage = "before" if a.outage > 0 else "none"
        gw = self.start_gateway(ini, errlog)
        while True:
            now = time.monotonic() - t0
            if time.monotonic() > deadline:
                gw.proc.kill()
                raise RuntimeError("not every event acknowledged in time: "
                                   "%d of %d" % (self.n_acked, total))
            if outage == "before" and now >= a.outage_at:
                say("nats-server stopped at %.1f s" % now)
                nats.stop()
                outage = "during"
            if outage == "during" and now >= a.outage_at + a.outage:
                nats.start()
                say("nats-server back at %.1f s" % (time.monotonic() - t0))
                outage = "after"
            if kills and now >= kills[0] and gw.alive():
                kills.pop(0)
                gw.proc.send_signal(signal.SIGKILL)
                gw.proc.wait()  # the next kill is for the next process
                self.kills += 1
            if not gw.alive():
                self.bury(gw)
                if gw.proc.returncode != -signal.SIGKILL:
                    self.start_failures += 1
                    time.sleep(0.2)
                gw = self.start_gateway(ini, errlog)
            due = min(total, int(a.rate * now))
            while self.next_new < due:
                self.make_event()
                gw.queue(self.next_new, self.events[-1][1])
                self.next_new += 1
            gw.flush()
            self.take_acks(gw)
            if self.next_new == total and self.n_acked == total and \
                    self.all_acked_s is None:
                self.all_acked_s = round(now, 1)
            if self.all_acked_s is not None and \
                    outage in ("none", "after") and not kills:
                break
            time.sleep(0.002)
        return gw

    def finish(self, gw):
        """Closes the input; the gateway drains its routes and exits."""
        gw.proc.stdin.close()
        rc = gw.proc.wait(timeout=self.a.grace + 130)
        if rc != 0:
            raise RuntimeError("the last gateway exited with %d" % rc)

    def write_acked(self):
        path = os.path.join(self.a.dir, "acked.txt")
        with open(path, "w") as f:
            for (eid, _), ok in zip(self.events, self.acked):
                if ok:
                    f.write(eid + "\n")
        return path


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--weir", required=True)
    p.add_argument("--check", required=True)
    p.add_argument("--source", required=True)
    p.add_argument("--dir", required=True)
    p.add_argument("--seconds", type=float, default=60)
    p.add_argument("--rate", type=float, default=10000)
    p.add_argument("--kills", type=int, default=20)
    p.add_argument("--outage", type=float, default=30)
    p.add_argument("--outage-at", type=float, default=None,
                   help="seconds into the run (default: a fifth of it)")
    p.add_argument("--keys", type=int, default=64)
    p.add_argument("--grace", type=float, default=120,
                   help="seconds past the run for the last acks")
    p.add_argument("--seed", type=int, default=None)
    a = p.parse_args()
    for f in ("weir", "check", "source", "dir"):
        setattr(a, f, os.path.abspath(getattr(a, f)))  # the gateway's cwd
    if a.outage_at is None:
        a.outage_at = a.seconds / 5
    if a.seed is None:
        a.seed = random.randrange(1 << 31)
    return a


def main():
    a = parse_args()
    random.seed(a.seed)
    kafka = kafka_bootstrap(a.source)
    if not kafka:
        skip("no Kafka (WEIR_KAFKA_BOOTSTRAP, build/brokers/env)")
    binary = nats_binary(a.source)
    if not binary:
        skip("no nats-server")
    shutil.rmtree(a.dir, ignore_errors=True)
    os.makedirs(a.dir)
    say("seed %d, %g s at %g events/s, %d kills, %g s outage at %g s"
        % (a.seed, a.seconds, a.rate, a.kills, a.outage, a.outage_at))
    run = Run(a)
    nats = Nats(binary, a.source, a.dir)
    errlog = open(os.path.join(a.dir, "gateway.log"), "a")
    t0 = time.monotonic()
    try:
        nats.start()
        ini = run.write_ini(nats.url, kafka)
        gw = run.loop(ini, nats, errlog)
        run.finish(gw)
        took = time.monotonic() - t0
        acked = run.write_acked()
        chk = subprocess.run(
            [a.check, "--store", os.path.join(a.dir, "chaos.db"),
             "--acked", acked, "--nats", nats.url,
             "--stream", "CHAOS" + run.sfx,
             "--subjects", "chaos%s.>" % run.sfx,
             "--kafka", kafka, "--topic", "chaos-" + run.sfx],
            capture_output=True, text=True)
    finally:
        nats.stop()
    sys.stderr.write(chk.stderr)
    try:
        res = json.loads(chk.stdout)
    except ValueError:
        say("the checker printed no JSON:", chk.stdout)
        return 2
    out = {"run": "chaos", "seed": a.seed, "seconds": a.seconds,
           "rate": a.rate, "events": len(run.events), "kills": run.kills,
           "gateway_starts": run.starts,
           "start_failures": run.start_failures, "resent": run.resent,
           "all_acked_s": run.all_acked_s,
           "acks_seen": run.acks_seen, "outage_s": a.outage,
           "wall_s": round(took, 1)}
    out.update(res)
    line = json.dumps(out, separators=(",", ":"))
    print(line, flush=True)
    with open(os.path.join(a.dir, "chaos.json"), "w") as f:
        f.write(line + "\n")
    if chk.returncode != 0:
        say("checker: exit %d (see %s)" % (chk.returncode, a.dir))
    return chk.returncode


if __name__ == "__main__":
    sys.exit(main())
