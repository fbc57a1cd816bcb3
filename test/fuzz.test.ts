/**
 * Fuzzing what parses bytes from outside a rank (issue 17): the shared-memory ring (reader,
 * writer and the inbox layout check of native/shm_ring.h, built with AddressSanitizer and
 * UndefinedBehaviorSanitizer: with libFuzzer where clang has it, else with the target's own
 * seeded random driver), the frame decoder and the point-to-point layer's acceptance of frames
 * (lib/transport/frame.ts, lib/p2p/protocol.ts), and the rendezvous line splitter (lib/job/rendezvous.ts).
 *
 * Each target runs a few seconds; `TSMPI_LONG_TESTS=1` runs each for 3 minutes. The seed of the
 * JavaScript targets is printed (set `TSMPI_FUZZ_SEED` to replay one); libFuzzer's crashing input
 * is kept in build/fuzz/ and named in the failure.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { EventEmitter } from "node:events";
import fs from "node:fs";
import type net from "node:net";
import path from "node:path";
import { config } from "../lib/config.js";
import { TsmpiError } from "../lib/errors.js";
import { onLines } from "../lib/job/rendezvous.js";
import { MatchingEngine } from "../lib/p2p/matching.js";
import { PointToPoint } from "../lib/p2p/protocol.js";
import { readObject } from "../lib/p2p/receive.js";
import { packObject } from "../lib/serializer.js";
import {
  FLAG_INLINE,
  FLAG_PEER,
  HEADER_BYTES,
  KIND_MSG,
  decodeHeader,
  encodeHeader,
  frameProblem,
  type Header,
} from "../lib/transport/frame.js";
import type { Transport } from "../lib/transport/transport.js";
import { ROOT } from "./helpers/launch.js";

const LONG = process.env.TSMPI_LONG_TESTS === "1";
const SECONDS = LONG ? 180 : 4;
const SEED = Number(process.env.TSMPI_FUZZ_SEED ?? Math.floor(Math.random() * 2 ** 31));

/** mulberry32: a small seeded generator, so a failing run can be replayed from its seed. */
function random(seed: number) {
  let s = seed >>> 0;
  const next = (): number => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
  const int = (n: number) => Math.floor(next() * n);
  const pick = <T>(xs: readonly T[]): T => xs[int(xs.length)]!;
  const bytes = (n: number) => {
    const b = Buffer.alloc(n);
    for (let i = 0; i < n; i++) b[i] = int(256);
    return b;
  };
  return { next, int, pick, bytes };
}

describe("fuzz: the shared-memory ring (native/fuzz/shm_ring_fuzz.cc, ASan + UBSan)", function () {
  this.timeout((SECONDS + 120) * 1000);
  const source = path.join(ROOT, "native", "fuzz", "shm_ring_fuzz.cc");
  const out = path.join(ROOT, "build", "fuzz");
  /** Inputs that once crashed it, replayed first. */
  const regressions = path.join(ROOT, "native", "fuzz", "regressions");
  /** libFuzzer's own corpus (it adds what grows coverage), kept between runs. */
  const corpus = () => {
    const dir = path.join(out, "corpus");
    fs.mkdirSync(dir, { recursive: true });
    return dir;
  };

  /** Builds the target: for libFuzzer with clang++, else standalone with g++ or clang++; the reason when neither works. */
  function build(): { binary: string; engine: "libFuzzer" | "random driver" } | { why: string } {
    fs.mkdirSync(out, { recursive: true });
    const flags = ["-std=c++17", "-g", "-O1", "-fno-sanitize-recover=undefined"];
    const tries: [string, string[], "libFuzzer" | "random driver"][] = [
      ["clang++", ["-fsanitize=fuzzer,address,undefined"], "libFuzzer"],
      ["g++", ["-fsanitize=address,undefined", "-DTSMPI_FUZZ_STANDALONE"], "random driver"],
      ["clang++", ["-fsanitize=address,undefined", "-DTSMPI_FUZZ_STANDALONE"], "random driver"],
    ];
    const failed: string[] = [];
    for (const [cxx, extra, engine] of tries) {
      const binary = path.join(out, `shm_ring_fuzz-${engine === "libFuzzer" ? "libfuzzer" : `standalone-${cxx}`}`);
      const r = spawnSync(cxx, [...flags, ...extra, source, "-o", binary], { encoding: "utf8" });
      if (r.status === 0) return { binary, engine };
      failed.push(
        `${cxx} ${extra[0]}: ${r.error ? (r.error as NodeJS.ErrnoException).code : (r.stderr.trim().split("\n").at(-1) ?? `exit ${r.status}`)}`,
      );
    }
    return { why: failed.join("; ") };
  }

  it(`runs ${SECONDS} s without a sanitizer report or a broken oracle`, function () {
    const built = build();
    if ("why" in built) {
      console.log(`      skipped: no sanitizing C++ compiler here (${built.why}); on Debian: apt-get install -y clang libfuzzer-14-dev`);
      this.skip();
    }
    const { binary, engine } = built;
    const r =
      engine === "libFuzzer"
        ? spawnSync(
            binary,
            [`-max_total_time=${SECONDS}`, `-seed=${SEED}`, `-artifact_prefix=${out}/`, "-print_final_stats=1", corpus(), regressions],
            { encoding: "utf8", maxBuffer: 64 << 20 },
          )
        : spawnSync(binary, [String(SEED), String(SECONDS), regressions], { encoding: "utf8", maxBuffer: 64 << 20 });
    const output = `${r.stdout}${r.stderr}`;
    assert.equal(r.status, 0, `${engine} (seed ${SEED}) found a crash:\n${output.slice(-4000)}`);
    const runs = Number((engine === "libFuzzer" ? /Done (\d+) runs/ : /^runs (\d+)$/m).exec(output)?.[1]);
    assert.ok(runs > 0, output.slice(-2000));
    console.log(`      ${engine}, seed ${SEED}: ${runs} inputs in ${SECONDS} s, no crash`);
  });
});

/** A transport that records what the rank sends; nothing crosses a socket. */
function recordingTransport(rank: number): Transport {
  return {
    rank,
    send: (_dest, _frames, done) => done?.(),
    copiesBorrowed: () => false,
    hold: () => {},
    release: () => {},
    poke: () => {},
    close: async () => {},
  };
}

const TOKEN: [number, number] = [0x0a0b0c0d, 0x01020304];
const WORLD = 4;

describe("fuzz: the frame decoder and the point-to-point layer's acceptance of frames", function () {
  this.timeout((SECONDS + 60) * 1000);

  it(`decodeHeader, frameProblem and PointToPoint.onFrames: ${SECONDS} s of random and mutated frames, nothing thrown, a correct message still arrives`, async function () {
    const rnd = random(SEED);
    const doubles = [0, 1, 2, 3, -1, 1.5, NaN, Infinity, -Infinity, 2 ** 31, 2 ** 32, 2 ** 33, 2 ** 53, 2 ** 53 + 2, 1e300, -0];
    const header = (): Header => ({
      kind: rnd.pick([1, 1, 1, 2, 3, 4, 0, 5, 255]),
      flags: rnd.next() < 0.5 ? rnd.pick([0, FLAG_INLINE, 4 | FLAG_INLINE, 1 | FLAG_INLINE, 2]) : rnd.int(256),
      dtype: rnd.next() < 0.5 ? rnd.int(12) : rnd.int(256),
      algo: rnd.int(4),
      src: rnd.pick([0, 1, 3, -1, -5, 2 ** 31 - 1]),
      tag: rnd.pick([0, 7, -1, 2 ** 31 - 1]),
      wsrc: rnd.pick([0, 1, 3, 4, 1000, 2 ** 32 - 1]),
      ctx: rnd.pick([2, 2, 4, ...doubles]),
      seq: rnd.next() < 0.5 ? rnd.int(16) : rnd.int(2 ** 32),
      total: rnd.next() < 0.5 ? rnd.int(200) : rnd.pick(doubles),
      token0: rnd.next() < 0.95 ? TOKEN[0] : rnd.int(2 ** 32),
      token1: TOKEN[1],
    });
    /** One input: random bytes, a header of chosen fields with random frames after it, or a correct message mutated. */
    const input = (): Buffer[] => {
      const r = rnd.next();
      if (r < 0.15) return Array.from({ length: rnd.int(4) }, () => rnd.bytes(rnd.int(80)));
      if (r < 0.75) {
        const h = header();
        const inline =
          rnd.next() < 0.5
            ? Number.isSafeInteger(h.total) && h.total >= 0 && h.total < 300 && rnd.next() < 0.7
              ? h.total
              : rnd.int(64)
            : 0;
        const frames = [encodeHeader(h, inline)];
        for (let k = rnd.int(3); k > 0; k--) frames.push(rnd.bytes(rnd.pick([0, 1, 8, 8, rnd.int(300)])));
        return frames;
      }
      const value = rnd.pick<unknown>([1, "text", [1, 2, 3], { a: new Float64Array(3) }, null]);
      const bytes = packObject(value);
      const frame = encodeHeader(
        {
          kind: KIND_MSG,
          flags: FLAG_INLINE,
          dtype: 0,
          algo: 0,
          src: rnd.int(WORLD),
          tag: 7,
          wsrc: rnd.int(WORLD),
          ctx: 2,
          seq: rnd.int(2 ** 32),
          total: bytes.byteLength,
          token0: TOKEN[0],
          token1: TOKEN[1],
        },
        bytes.byteLength,
      );
      bytes.copy(frame, HEADER_BYTES);
      for (let k = 1 + rnd.int(4); k > 0; k--) frame[rnd.int(frame.byteLength)] = rnd.int(256);
      return [frame];
    };
    const fresh = () => {
      const p2p = new PointToPoint(1, new MatchingEngine(), config());
      p2p.attach(recordingTransport(1), TOKEN, WORLD);
      return p2p;
    };
    const write = process.stderr.write;
    let runs = 0;
    let p2p = fresh();
    const end = Date.now() + SECONDS * 1000;
    try {
      // One warning per kind of problem would be printed for each fresh receiver: keep them out of the report.
      process.stderr.write = (() => true) as typeof process.stderr.write;
      while (Date.now() < end) {
        for (let i = 0; i < 500; i++, runs++) {
          const frames = input();
          const head = frames[0];
          if (head && head.byteLength >= HEADER_BYTES) {
            const h = decodeHeader(head);
            const problem = frameProblem(h, frames, WORLD);
            assert.ok(problem === undefined || (problem.length === 2 && typeof problem[0] === "string" && typeof problem[1] === "string"));
            if (!problem && h.kind === KIND_MSG)
              assert.ok(Number.isSafeInteger(h.total) && h.total >= 0 && Number.isSafeInteger(h.ctx) && h.ctx >= 0 && h.wsrc < WORLD);
          } else if (head) {
            assert.throws(
              () => decodeHeader(head),
              (e: unknown) => e instanceof TsmpiError && e.code === "ERR_TSMPI_TRANSPORT",
            );
          }
          p2p.onFrames(frames);
        }
        // Messages queued on contexts nobody receives on stay queued: start afresh now and then.
        if (runs % 20_000 === 0) p2p = fresh();
        await new Promise((r) => setImmediate(r)); // let fetches and deliveries scheduled by the frames run
      }
    } finally {
      process.stderr.write = write;
    }
    // The receiver still works: a correct message after all that arrives intact.
    const got = new Promise((resolve, reject) =>
      p2p.receive(2, 3, 99, (msg) => readObject(msg, (v, err) => (err ? reject(err) : resolve(v)))),
    );
    const bytes = packObject({ still: "fine" });
    const frame = encodeHeader(
      {
        kind: KIND_MSG,
        flags: FLAG_INLINE,
        dtype: 0,
        algo: 0,
        src: 3,
        tag: 99,
        wsrc: 3,
        ctx: 2,
        seq: 2 ** 32 - 7,
        total: bytes.byteLength,
        token0: TOKEN[0],
        token1: TOKEN[1],
      },
      bytes.byteLength,
    );
    bytes.copy(frame, HEADER_BYTES);
    p2p.onFrames([frame]);
    assert.deepEqual(await got, { still: "fine" });
    console.log(`      seed ${SEED}: ${runs} inputs, nothing thrown; peak RSS ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MiB`);
  });
});

describe("found by fuzzing, kept as regressions", function () {
  it("a message flagged both INLINE and PEER (single copy) is dropped as a bad shape, not thrown from onFrames (a TypeError before)", function () {
    const p2p = new PointToPoint(1, new MatchingEngine(), config());
    p2p.attach(recordingTransport(1), TOKEN, WORLD);
    const h: Header = {
      kind: KIND_MSG,
      flags: FLAG_INLINE | FLAG_PEER,
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
    };
    assert.deepEqual(frameProblem(h, [encodeHeader(h)], WORLD)?.[0], "shape");
    const write = process.stderr.write;
    process.stderr.write = (() => true) as typeof process.stderr.write;
    try {
      p2p.onFrames([encodeHeader(h)]);
    } finally {
      process.stderr.write = write;
    }
    assert.deepEqual([...p2p.dropped], [["shape", 1]]);
  });
});

describe("fuzz: the rendezvous line splitter (onLines in lib/job/rendezvous.ts)", function () {
  this.timeout((SECONDS + 60) * 1000);

  /** The part of a socket onLines uses. */
  class FakeSocket extends EventEmitter {
    destroyed = false;
    setEncoding(): this {
      return this;
    }
    destroy(): this {
      this.destroyed = true;
      return this;
    }
  }

  it(`${SECONDS} s of random streams in random chunks: messages are exactly the stream's JSON object lines up to the first bad or overlong line`, function () {
    const rnd = random(SEED ^ 0x5bd1e995);
    const maxLine = 200;
    let runs = 0;
    const end = Date.now() + SECONDS * 1000;
    const lineOf = (): string => {
      const r = rnd.next();
      if (r < 0.4)
        return JSON.stringify({
          t: rnd.pick(["hello", "bye", "error", "exit", "table"]),
          rank: rnd.int(8),
          reason: "x".repeat(rnd.int(40)),
        });
      if (r < 0.5) return JSON.stringify({ big: "y".repeat(maxLine + rnd.int(maxLine)) });
      if (r < 0.6) return rnd.pick(["1", "null", '"s"', "[1,2]", "true", "", "  {} "]);
      if (r < 0.7) return JSON.stringify({ t: "hello", key: "k", pid: rnd.pick<unknown>([1, -1, "1; kill -KILL -1", null, 1e300]) });
      if (r < 0.8) return `{"t":"hel\u00e9\u{1f600}${rnd.bytes(rnd.int(8)).toString("latin1").replace(/\n/g, "")}"}`;
      return rnd.bytes(rnd.int(60)).toString("latin1").replace(/\n/g, "");
    };
    while (Date.now() < end) {
      for (let i = 0; i < 200; i++, runs++) {
        const lines = Array.from({ length: 1 + rnd.int(8) }, lineOf);
        const terminated = rnd.next() < 0.8;
        const stream = lines.join("\n") + (terminated ? "\n" : "");
        // Expected: each complete line parsed in order; stop at the first that does not parse or is too long.
        const expected: unknown[] = [];
        let stopAt = -1; // index of the line that ends the connection
        const complete = terminated ? lines : lines.slice(0, -1);
        for (let k = 0; k < complete.length; k++) {
          let v: unknown;
          try {
            v = JSON.parse(complete[k]!);
          } catch {
            stopAt = k;
            break;
          }
          if (complete[k]!.length > maxLine) {
            stopAt = k; // refused, unless it came in one chunk behind a shorter line (counted below)
            break;
          }
          if (v && typeof v === "object") expected.push(v);
        }
        // An unfinished last line longer than the limit ends the connection once it is held.
        if (stopAt < 0 && complete.length < lines.length && lines.at(-1)!.length > maxLine) stopAt = complete.length;
        const socket = new FakeSocket();
        const got: unknown[] = [];
        onLines(
          socket as unknown as net.Socket,
          (m) => got.push(m),
          () => maxLine,
        );
        for (let at = 0; at < stream.length && !socket.destroyed; ) {
          const n = 1 + rnd.int(rnd.next() < 0.5 ? 16 : 400);
          socket.emit("data", stream.slice(at, at + n));
          at += n;
        }
        // Never more than the stream's own messages, in order; all of them when nothing was refused.
        const objects = complete.flatMap((l) => {
          try {
            const v: unknown = JSON.parse(l);
            return v && typeof v === "object" ? [v] : [];
          } catch {
            return [];
          }
        });
        assert.ok(got.length <= objects.length);
        assert.deepEqual(got, objects.slice(0, got.length), `seed ${SEED ^ 0x5bd1e995}: messages out of order or changed`);
        if (stopAt < 0) {
          assert.deepEqual(got, expected, `seed ${SEED ^ 0x5bd1e995}: a correct stream lost messages:\n${JSON.stringify(stream)}`);
          assert.equal(socket.destroyed, false, `seed ${SEED ^ 0x5bd1e995}: a correct stream was cut: ${JSON.stringify(stream)}`);
        } else {
          assert.deepEqual(
            got,
            expected,
            `seed ${SEED ^ 0x5bd1e995}: messages before line ${stopAt} lost, or a line at or past it accepted: ${JSON.stringify(stream)}`,
          );
          assert.equal(
            socket.destroyed,
            true,
            `seed ${SEED ^ 0x5bd1e995}: line ${stopAt} (${JSON.stringify(lines[stopAt]!.slice(0, 80))}) did not end the connection: ${JSON.stringify(stream)}`,
          );
        }
      }
    }
    console.log(`      seed ${SEED ^ 0x5bd1e995}: ${runs} streams, nothing thrown, every line over the limit refused`);
  });
});
