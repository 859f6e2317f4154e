// Peer of core_bench's emit cases: Node's EventEmitter emitting N times
// to one listener with a 64-byte Buffer, as weir_emit does in C.
//
//   node node_emit.js [N] [REPS]        prints REPS JSON lines
//   node node_emit.js N 0 --serve       one JSON line per line read on
//                                       stdin (core_bench's interleaved
//                                       rounds; ends at EOF)
//
// Every timed run follows a warm-up that lets V8 optimise emit() and the
// listener (what a long-running server sees).
'use strict';

const { EventEmitter } = require('events');

const n = Number(process.argv[2] || 10000000);
const reps = Number(process.argv[3] || 3);

const ee = new EventEmitter();
const buf = Buffer.alloc(64, 0xab);
let count = 0;
// The listener does what core_bench's C handler does: count the call.
ee.on('bench.emit', (data) => {
  count++;
});

function run(iterations) {
  for (let i = 0; i < iterations; i++) {
    ee.emit('bench.emit', buf);
  }
}

function timed(r) {
  count = 0;
  const t0 = process.hrtime.bigint();
  run(n);
  const t1 = process.hrtime.bigint();
  if (count !== n) {
    console.error(`node_emit: ${count} of ${n} listener calls`);
    process.exit(1);
  }
  const ns = Number(t1 - t0);
  console.log(JSON.stringify({
    name: 'node_eventemitter_emit',
    node: process.version,
    rep: r,
    n: n,
    events_per_s: n / (ns / 1e9),
    ns_per_event: ns / n,
  }));
}

run(Math.min(n, 1000000));
if (process.argv[4] === '--serve') {
  // One round per line read: core_bench runs weir's cases and this one
  // in turn, so a phase of the machine hits both alike.
  const fs = require('fs');
  const one = Buffer.alloc(1);
  let r = 0;
  for (;;) {
    let got;
    try {
      got = fs.readSync(0, one, 0, 1, null);
    } catch (e) {
      if (e.code === 'EAGAIN') continue;
      throw e;
    }
    if (got === 0) break;
    if (one[0] === 10) timed(r++);
  }
} else {
  for (let r = 0; r < reps; r++) timed(r);
}
