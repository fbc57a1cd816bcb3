/**
 * In-process checks of the receive path and the bookkeeping that must not leak (issue 11, point
 * 6): malformed frames that carry the job's token are dropped and counted, never thrown; a
 * correct message after them still arrives; bogus single-copy frames and pieces that never come
 * are dropped. The multi-process version (a peer sending thousands of bad frames over ZeroMQ) is
 * in robustness.test.ts; Request's and the matching engine's own bookkeeping is checked in
 * request.test.ts and matching.test.ts.
 */
import assert from "node:assert/strict";
import { config } from "../lib/config.js";
import { TsmpiError } from "../lib/errors.js";
import { MatchingEngine } from "../lib/p2p/matching.js";
import { spawn } from "node:child_process";
import { PointToPoint } from "../lib/p2p/protocol.js";
import { readObject } from "../lib/p2p/receive.js";
import { commonAncestor } from "../lib/transport/host.js";
import { kindCode, packObject } from "../lib/serializer.js";
import {
  FLAG_INLINE,
  FLAG_PEER,
  FLAG_RAW,
  HEADER_BYTES,
  KIND_CHUNK,
  KIND_MSG,
  decodeHeader,
  encodeHeader,
  type Header,
} from "../lib/transport/frame.js";
import type { Transport } from "../lib/transport/transport.js";

const TOKEN: [number, number] = [0x01020304, 0x05060708];
const WORLD = 3;

/** A transport that records what the rank sends; nothing here crosses a socket. */
function recordingTransport(rank: number): Transport & { sent: Buffer[][] } {
  const sent: Buffer[][] = [];
  return {
    rank,
    sent,
    send: (_dest, frames, done) => {
      sent.push(frames);
      done?.();
    },
    copiesBorrowed: () => false,
    hold: () => {},
    release: () => {},
    poke: () => {},
    close: async () => {},
  };
}

function header(over: Partial<Header> = {}): Header {
  return {
    kind: KIND_MSG,
    flags: FLAG_INLINE,
    dtype: 0,
    algo: 0,
    src: 0,
    tag: 7,
    wsrc: 0,
    ctx: 2,
    seq: 1,
    total: 0,
    token0: TOKEN[0],
    token1: TOKEN[1],
    ...over,
  };
}

/** An inline object-tier message carrying `value`. */
function inline(value: unknown, over: Partial<Header> = {}): Buffer {
  const bytes = packObject(value);
  const frame = encodeHeader(header({ total: bytes.byteLength, ...over }), bytes.byteLength);
  bytes.copy(frame, HEADER_BYTES);
  return frame;
}

function receiver(): PointToPoint {
  const p2p = new PointToPoint(1, new MatchingEngine(), config());
  p2p.attach(recordingTransport(1), TOKEN, WORLD);
  return p2p;
}

/** Posts a receive on COMM_WORLD's context and resolves with the value. */
function recv(p2p: PointToPoint, src: number, tag: number): Promise<unknown> {
  return new Promise((resolve, reject) => {
    p2p.receive(2, src, tag, (msg) => readObject(msg, (v, err) => (err ? reject(err) : resolve(v))));
  });
}

describe("receive path: malformed frames carrying the job's token", function () {
  // Each entry: the frames, and the kind of problem they must be counted under.
  const bad: [string, () => Buffer[], string][] = [
    ["no frame at all", () => [], "short"],
    ["a frame shorter than a header", () => [Buffer.alloc(HEADER_BYTES - 1)], "short"],
    ["a header without the token", () => [encodeHeader(header({ token0: 0 }))], "token"],
    ["an unknown kind", () => [encodeHeader(header({ kind: 77 }))], "kind"],
    ["a CHUNK of a message that is not arriving", () => [encodeHeader(header({ kind: KIND_CHUNK, seq: 999 })), Buffer.alloc(10)], "chunk"],
    ["a CHUNK without its piece", () => [encodeHeader(header({ kind: KIND_CHUNK }))], "shape"],
    ["an inline message whose length lies", () => [inline("abc", { total: 1000 })], "shape"],
    ["a message whose piece is missing", () => [encodeHeader(header({ flags: 0, total: 64 }))], "shape"],
    ["a first piece longer than the message", () => [encodeHeader(header({ flags: 0, total: 4 })), Buffer.alloc(8)], "shape"],
    ["a negative total", () => [encodeHeader(header({ flags: 0, total: -1 })), Buffer.alloc(0)], "shape"],
    ["a NaN total", () => [encodeHeader(header({ flags: 0, total: NaN })), Buffer.alloc(0)], "shape"],
    ["a fractional context id", () => [inline(1, { ctx: 2.5 })], "shape"],
    ["three frames", () => [encodeHeader(header({ flags: 0, total: 2 })), Buffer.alloc(1), Buffer.alloc(1)], "shape"],
    ["a single-copy address of 3 bytes", () => [encodeHeader(header({ flags: FLAG_PEER, total: 1 << 20 })), Buffer.alloc(3)], "shape"],
    ["an unknown element kind", () => [encodeHeader(header({ flags: FLAG_RAW | FLAG_INLINE, dtype: 200, total: 0 }))], "dtype"],
    ["a sender outside the world", () => [inline(1, { wsrc: WORLD })], "sender"],
  ];

  for (const [what, frames, kind] of bad) {
    it(`${what}: dropped and counted as "${kind}", nothing thrown`, async function () {
      const p2p = receiver();
      const write = process.stderr.write;
      const warnings: string[] = [];
      process.stderr.write = ((s: string) => {
        warnings.push(String(s));
        return true;
      }) as typeof process.stderr.write;
      try {
        for (let i = 0; i < 1000; i++) p2p.onFrames(frames());
      } finally {
        process.stderr.write = write;
      }
      assert.deepEqual([...p2p.dropped], [[kind, 1000]]);
      assert.equal(warnings.length, 1, `one warning for 1000 frames, got ${warnings.length}`);
      assert.match(warnings[0]!, new RegExp(`\\(${kind}\\)`));
      // The rank still works: a correct message after the bad ones arrives intact.
      const got = recv(p2p, 0, 7);
      p2p.onFrames([inline({ ok: [1, 2, 3] }, { seq: 5000 })]);
      assert.deepEqual(await got, { ok: [1, 2, 3] });
    });
  }

  it("a garbage msgpack payload rejects that receive with ERR_TSMPI_TYPE; the next receive works", async function () {
    const p2p = receiver();
    const frame = encodeHeader(header({ total: 3 }), 3);
    frame.set([0xc1, 0xc1, 0xc1], HEADER_BYTES); // 0xc1 is never used in msgpack
    const first = recv(p2p, 0, 7);
    p2p.onFrames([frame]);
    await assert.rejects(first, (e: unknown) => e instanceof TsmpiError && e.code === "ERR_TSMPI_TYPE");
    const second = recv(p2p, 0, 7);
    p2p.onFrames([inline("fine", { seq: 2 })]);
    assert.equal(await second, "fine");
  });

  it("decodeHeader refuses a frame shorter than a header with ERR_TSMPI_TRANSPORT", function () {
    assert.throws(
      () => decodeHeader(Buffer.alloc(47)),
      (e: unknown) => e instanceof TsmpiError && e.code === "ERR_TSMPI_TRANSPORT" && /at least 48 bytes, got 47/.test(e.message),
    );
  });
});

describe("single-copy reads: who may read a rank's memory", function () {
  it("the tracer named to Yama is the nearest common ancestor of the same-host ranks (the launcher)", async function () {
    const kids = [0, 1].map(() => spawn("sleep", ["10"], { stdio: "ignore" }));
    try {
      assert.equal(commonAncestor(kids[0]!.pid!, [kids[1]!.pid!]), process.pid, "two children of this process: this process");
      assert.equal(commonAncestor(process.pid, [kids[0]!.pid!]), process.ppid, "a process and its child: the process's parent");
      assert.equal(
        commonAncestor(kids[0]!.pid!, [2 ** 22 + 12345]),
        undefined,
        "a peer whose ancestry cannot be read: none (any process of the user)",
      );
    } finally {
      for (const k of kids) k.kill("SIGKILL");
    }
  });
});

describe("bogus single-copy frames, and pieces that never come (issue 17, points 3 and 7)", function () {
  /** Runs `fn` with stderr captured; returns the warnings. */
  function captured(fn: () => void): string[] {
    const write = process.stderr.write;
    const warnings: string[] = [];
    process.stderr.write = ((s: string) => {
      warnings.push(String(s));
      return true;
    }) as typeof process.stderr.write;
    try {
      fn();
    } finally {
      process.stderr.write = write;
    }
    return warnings;
  }
  const peerFrame = (total: number, seq: number): Buffer[] => [encodeHeader(header({ flags: FLAG_PEER, total, seq })), Buffer.alloc(8)];

  it("a single-copy frame from a rank that does not share this host is dropped (peer), with one warning", async function () {
    const p2p = receiver();
    p2p.setPeers([null, null, null]); // world rank 0 is on another host
    const warnings = captured(() => {
      for (let i = 0; i < 100; i++) p2p.onFrames(peerFrame(1 << 20, 100 + i));
    });
    assert.deepEqual([...p2p.dropped], [["peer", 100]]);
    assert.equal(warnings.length, 1);
    const got = recv(p2p, 0, 7);
    p2p.onFrames([inline("still fine", { seq: 5000 })]);
    assert.equal(await got, "still fine");
  });

  it("a single-copy frame from a same-host rank announcing 2^33 bytes is dropped (shape), and nothing throws afterwards", async function () {
    const p2p = receiver();
    p2p.setPeers([{ pid: process.pid }, null, null]);
    const warnings = captured(() => p2p.onFrames(peerFrame(2 ** 33, 100)));
    // Before the fix the frame was queued and fetched in setImmediate: Buffer.allocUnsafe(2^33) threw there, uncaught.
    await new Promise((r) => setTimeout(r, 20));
    assert.deepEqual([...p2p.dropped], [["shape", 1]]);
    assert.match(warnings[0]!, /announcing 8589934592 payload bytes/);
  });

  it("a message whose pieces stop coming is freed when its sender's next message starts (stale)", async function () {
    const p2p = receiver();
    const engine = (p2p as unknown as { engine: MatchingEngine }).engine;
    const inflight = (p2p as unknown as { arrivals: { inflight: Map<number, unknown> } }).arrivals.inflight;
    const warnings = captured(() => {
      for (let seq = 1; seq <= 1000; seq++)
        p2p.onFrames([
          encodeHeader(header({ flags: FLAG_RAW, dtype: kindCode(new Uint8Array()), total: 1 << 20, seq })),
          Buffer.alloc(1024, seq % 256),
        ]);
    });
    assert.equal(inflight.size, 1, "only the last one may still get its pieces");
    assert.equal(engine.pendingCount(2), 1, "the others left the unexpected queue, and their pieces with them");
    assert.deepEqual([...p2p.dropped], [["stale", 999]]);
    assert.equal(warnings.length, 1);
    // The last one still completes with its pieces.
    const got = recv(p2p, 0, 7);
    p2p.onFrames([encodeHeader(header({ kind: KIND_CHUNK, total: 1 << 20, seq: 1000 })), Buffer.alloc((1 << 20) - 1024, 7)]);
    const array = (await got) as Uint8Array;
    assert.equal(array.length, 1 << 20);
    assert.deepEqual([array[0], array[1023], array[1024], array[(1 << 20) - 1]], [1000 % 256, 1000 % 256, 7, 7]);
    assert.equal(inflight.size, 0);
  });
});
