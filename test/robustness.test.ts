/**
 * Bad input and load, end to end (issue 11, points 2 and 3): a peer holding the job's key sends
 * thousands of malformed frames of every kind beside correct messages; an outsider sends one
 * frame larger than TSMPI_MAX_FRAME; 4 senders flood one slower receiver with a million small
 * messages and large typed arrays, delivered exactly once and in order per sender, the senders
 * waiting instead of queueing without bound (over ZeroMQ at the send high-water mark; over
 * shared memory when the receiver's ring is full).
 *
 * Sizes: `TSMPI_LONG_TESTS=1` multiplies the flood by 10 and the malformed frames by 10.
 * `TSMPI_FLOOD_PATHS` (default `default;TSMPI_SHM=0`) lists the environments the flood runs
 * under, `;`-separated, each a space-separated list of VAR=value (`default`: none), so the
 * same-host shared-memory path and the ZeroMQ path are both flooded.
 */
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { getBinding } from "../lib/native.js";
import { checkJob, fixture, jsonLines, settledLeftovers, tsmpirun } from "./helpers/launch.js";
import { u32s, u64 } from "./helpers/bytes.js";

const LONG = process.env.TSMPI_LONG_TESTS === "1";

describe("bad input never crashes a rank (a peer with the job's key, and an outsider)", function () {
  const perKind = LONG ? 10_000 : 1000;
  this.timeout(LONG ? 600_000 : 120_000);

  it(`${perKind} malformed frames of each of 14 kinds: dropped with one warning per kind; every correct message arrives; a 256 MiB frame is never allocated`, async function () {
    const r = await tsmpirun(["-n", "2", fixture("malformed.js"), String(perKind)], { timeoutMs: LONG ? 590_000 : 110_000 });
    await checkJob(r);
    const [seen] = jsonLines(r.stdout);
    assert.ok(seen, r.stderr);
    assert.equal(seen.intact, seen.legit, "every correct message arrived intact");
    assert.ok(seen.lastIntact, "a correct message after the oversized frame arrived too");
    assert.deepEqual(seen.garbage, Array(5).fill("ERR_TSMPI_TYPE"), "garbage msgpack fails that receive, with a clear code");
    const warnings = r.stderr.split("\n").filter((l) => l.startsWith("tsmpi: rank 1 dropped"));
    const kinds = warnings.map((l) => /\((\w+)\) are dropped silently$/.exec(l)?.[1]);
    assert.deepEqual(
      [...kinds].sort(),
      ["chunk", "dtype", "kind", "sender", "shape", "short", "token"],
      `one warning per kind of problem:\n${warnings.join("\n")}`,
    );
    // TSMPI_MAX_FRAME (chunk size + 64 KiB) stops ZeroMQ before it allocates the frame: the
    // peak resident memory does not grow by the frame's 256 MiB (without the limit it does).
    assert.ok(seen.rssAfter - seen.rssBefore < 128 * 1024 * 1024, `peak RSS grew from ${seen.rssBefore} to ${seen.rssAfter} bytes`);
    console.log(
      `      ${perKind * seen.kinds} malformed frames; rank 1 peak RSS ${(seen.rssBefore / 2 ** 20).toFixed(0)} -> ${(seen.rssAfter / 2 ** 20).toFixed(0)} MiB around the 256 MiB frame`,
    );
  });
});

describe("garbage written straight into a rank's shared-memory ring by a process of the same user (issue 17)", function () {
  this.timeout(60_000);
  // This test process plays the intruder: it opens rank 1's inbox memfd through /proc/<pid>/fd,
  // as any process of the user can, writes into the ring rank 0 sends through, and wakes rank 1
  // through its wake-up pipe (the pipe rank 0 opened through /proc too). Rank 1 sleeps in a recv
  // meanwhile (test/fixtures/shm-victim.ts).
  const R = 1 << 20; // ring bytes (set for the job: TSMPI_SHM_RING_BYTES)
  /** Offset of the control block of the ring that slot `s` writes, in an inbox of 2 slots (tail +0, head +64, data +256). */
  const control = (s: number) => 4096 + s * (256 + R);
  interface Trace {
    rank: number;
    pid: number;
    jobDir: string;
  }
  const fds = (pid: number) =>
    fs.readdirSync(`/proc/${pid}/fd`).map((fd) => {
      let link = "";
      let flags = 0;
      try {
        link = fs.readlinkSync(`/proc/${pid}/fd/${fd}`);
        flags = parseInt(/^flags:\s+(\d+)/m.exec(fs.readFileSync(`/proc/${pid}/fdinfo/${fd}`, "utf8"))?.[1] ?? "0", 8);
      } catch {
        /* closed meanwhile */
      }
      return { fd, link, flags };
    });
  /** Opens rank `victim`'s inbox (read-write) and its wake-up pipe (write end), as an intruder can. */
  const openVictim = (victim: number, peer: number) => {
    const mine = fds(victim);
    const inbox = mine.find((f) => f.link.includes("memfd:tsmpi-inbox"));
    assert.ok(inbox, "rank 1 holds its inbox memfd");
    // The peer opened the victim's pipe with open(2) through /proc (O_LARGEFILE set), its own with pipe2(2).
    const opened = new Set(
      fds(peer)
        .filter((f) => f.link.startsWith("pipe:") && (f.flags & 0o100000) !== 0)
        .map((f) => f.link),
    );
    const wake = mine.find((f) => opened.has(f.link));
    assert.ok(wake, "rank 1's wake-up pipe, as rank 0 opened it");
    return {
      inbox: fs.openSync(`/proc/${victim}/fd/${inbox.fd}`, "r+"),
      wake: fs.openSync(`/proc/${victim}/fd/${wake.fd}`, fs.constants.O_WRONLY | fs.constants.O_NONBLOCK),
    };
  };
  interface Intrusion {
    inbox: number;
    put: (at: number, bytes: Buffer) => void;
    tail: () => bigint;
    /** Writes bytes at the ring's write position, moves that position by `advance` (default: the bytes' length). */
    fragment: (bytes: Buffer, advance?: bigint) => void;
    /** The ring's read position, as the victim publishes it. */
    head: () => bigint;
    /** Writes one byte into the victim's wake-up pipe; false when the victim is gone (nobody reads the pipe). */
    wake: () => boolean;
  }
  const intrusion = (inbox: number, wakeFd: number, slot: number): Intrusion => {
    const put = (at: number, bytes: Buffer) => void fs.writeSync(inbox, bytes, 0, bytes.length, at);
    const tail = () => {
      const b = Buffer.alloc(8);
      fs.readSync(inbox, b, 0, 8, control(slot));
      return b.readBigUInt64LE();
    };
    return {
      inbox,
      put,
      tail,
      head: () => {
        const b = Buffer.alloc(8);
        fs.readSync(inbox, b, 0, 8, control(slot) + 64);
        return b.readBigUInt64LE();
      },
      wake: () => {
        try {
          fs.writeSync(wakeFd, Buffer.from([1]));
          return true;
        } catch (err) {
          const code = (err as NodeJS.ErrnoException).code;
          if (code === "EAGAIN") return true; // the pipe is full of wake-ups
          if (code === "EPIPE") return false;
          throw err;
        }
      },
      fragment: (bytes, advance) => {
        const t = tail();
        put(control(slot) + 256 + Number(t % BigInt(R)), bytes);
        put(control(slot), u64(t + (advance ?? BigInt(bytes.length))));
      },
    };
  };

  /** Runs the 2-rank job, lets `attack` write into rank `victim`'s inbox once both ranks are connected, wakes it; then lets the job go on. */
  async function attacked(attack: (x: Intrusion) => void, victim = 1, env: NodeJS.ProcessEnv = {}) {
    const traces = path.join(os.tmpdir(), `shm-victim-${process.pid}-${Date.now()}.jsonl`);
    try {
      const job = tsmpirun(["-n", "2", fixture("shm-victim.js")], {
        timeoutMs: 40_000,
        env: { SHM_VICTIM_TRACES: traces, TSMPI_SHM_RING_BYTES: String(R), ...env },
      });
      const read = (): Trace[] =>
        fs.existsSync(traces)
          ? fs
              .readFileSync(traces, "utf8")
              .split("\n")
              .filter(Boolean)
              .map((l) => JSON.parse(l) as Trace)
          : [];
      const end = Date.now() + 20_000;
      while (read().length < 2 && Date.now() < end) await new Promise((r) => setTimeout(r, 50));
      const t = read().sort((a, b) => a.rank - b.rank);
      assert.equal(t.length, 2, "both ranks joined");
      const { inbox, wake } = openVictim(t[victim]!.pid, t[1 - victim]!.pid);
      try {
        const x = intrusion(inbox, wake, 1 - victim);
        attack(x);
        if (env.SHM_VICTIM_IPROBE !== "1") x.wake();
      } finally {
        fs.closeSync(inbox);
        fs.closeSync(wake);
      }
      // A polling victim must find the garbage by itself: rank 0 is never released (its first send
      // would publish its own write position over the garbage), so only the detection ends the job.
      if (env.SHM_VICTIM_IPROBE !== "1") fs.writeFileSync(`${traces}.go`, "");
      const r = await job;
      return { r, jobDir: t[0]!.jobDir };
    } finally {
      fs.rmSync(traces, { force: true });
      fs.rmSync(`${traces}.go`, { force: true });
    }
  }

  /** The job ended through rank `victim`'s transport error, naming the peer; no signal; nothing left. */
  async function endedCleanly(x: Awaited<ReturnType<typeof attacked>>, message: RegExp, victim = 1) {
    const { r, jobDir } = x;
    assert.equal(r.timedOut, false, `the job hung:\n${r.stderr}`);
    assert.equal(r.code, 1, `exit ${r.code} ${r.signal ?? ""}; stderr:\n${r.stderr}`);
    assert.doesNotMatch(r.stderr, /signal|SIGSEGV|SIGBUS/i, r.stderr);
    assert.match(r.stderr, new RegExp(`rank ${victim}: .*ERR_TSMPI_TRANSPORT`), r.stderr);
    assert.match(r.stderr, message, r.stderr);
    assert.deepEqual(await settledLeftovers(r.marker), [], "no process of the job may be left");
    assert.ok(jobDir !== "" && !fs.existsSync(jobDir), `the job directory ${jobDir} was removed`);
  }

  const skipWithoutAddon = (ctx: Mocha.Context) => {
    if (getBinding() === null) {
      console.log("      skipped: the native addon is not built here (no shared-memory rings)");
      ctx.skip();
    }
  };

  it("sizes: a write position 8 GiB ahead and a 2 GiB fragment (a SIGSEGV before the checks)", async function () {
    skipWithoutAddon(this);
    const x = await attacked((i) => i.fragment(u32s(2 ** 31, 3), 2n ** 33n));
    await endedCleanly(
      x,
      /the shared-memory ring that rank 0 writes into this rank's inbox is corrupt: its write position \d+ is not within/,
    );
  });

  it("the same, found by a rank polling with iprobe (not woken): the job ends the same way", async function () {
    skipWithoutAddon(this);
    const x = await attacked((i) => i.fragment(u32s(2 ** 31, 3), 2n ** 33n), 1, { SHM_VICTIM_IPROBE: "1" });
    await endedCleanly(
      x,
      /the shared-memory ring that rank 0 writes into this rank's inbox is corrupt: its write position \d+ is not within/,
    );
  });

  it("fragment header: a length past what was written, then unknown flags", async function () {
    skipWithoutAddon(this);
    await endedCleanly(
      await attacked((i) => i.fragment(Buffer.concat([u32s(100_000, 3), Buffer.alloc(56)]))),
      /rank 0 writes into this rank's inbox is corrupt: a fragment of 100000 bytes where 56 were written/,
    );
    await endedCleanly(
      await attacked((i) => i.fragment(Buffer.concat([u32s(8, 0xff00 | 3), u32s(1, 0)]))),
      /rank 0 writes into this rank's inbox is corrupt: fragment flags 65283/,
    );
  });

  it("fragments: a message that never ends (past 2 x TSMPI_MAX_FRAME), and a record whose lengths lie", async function () {
    skipWithoutAddon(this);
    const endless = await attacked((i) => {
      // 1 MiB ring, 512 KiB fragments (what the sender writes at most): FIRST, then continuations, never LAST.
      const piece = 512 * 1024;
      i.fragment(Buffer.concat([u32s(piece, 1), u32s(1, 2 ** 31), Buffer.alloc(piece - 8)]));
      for (let k = 0; k < 6; k++) {
        // Wake rank 1 and let it drain the ring before the next piece.
        const before = i.tail();
        const wait = Date.now() + 10_000;
        while (i.head() !== before && i.wake() && Date.now() < wait) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 10);
        if (i.head() !== before) return; // rank 1 stopped reading: it refused the message
        i.fragment(Buffer.concat([u32s(piece, 0), Buffer.alloc(piece)]));
      }
    });
    await endedCleanly(endless, /rank 0 writes into this rank's inbox is corrupt: a message longer than \d+ bytes/);
    const lying = await attacked((i) => i.fragment(Buffer.concat([u32s(16, 3), u32s(2, 4), u32s(4000), Buffer.alloc(4)])));
    await endedCleanly(lying, /rank 0 writes into this rank's inbox is corrupt: a message of 16 bytes says its 2 frames/);
  });

  it("the read position a sender sees moved ahead: the sender ends with the error, naming the receiver", async function () {
    skipWithoutAddon(this);
    // Rank 0's inbox, the ring rank 1 writes: its head (read by rank 1 when it answers) 16 KiB ahead.
    const x = await attacked((i) => i.put(control(1) + 64, u64(i.tail() + 16384n)), 0);
    await endedCleanly(x, /the shared-memory inbox of rank 0 is corrupt: its ring's read position \d+ is not within/, 1);
  });

  it("inbox header overwritten: ignored (peers copied its layout when they connected), the job goes on and ends normally", async function () {
    skipWithoutAddon(this);
    const { r } = await attacked((i) => i.put(0, Buffer.alloc(4096, 0xff)));
    await checkJob(r);
    assert.match(r.stdout, /^@@got after the garbage$/m);
    assert.match(r.stdout, /^@@answer thanks$/m);
  });
});

describe("bogus single-copy frames (issue 17, point 3)", function () {
  this.timeout(60_000);

  it("single-copy frames announcing 2^33 and 2^53 bytes, and 200 whose bytes are nowhere, from a peer with the job's key: dropped or asked for, the rank lives on", async function () {
    const r = await tsmpirun(["-n", "2", fixture("bogus-single-copy.js"), "200"], { timeoutMs: 50_000 });
    await checkJob(r);
    const [seen] = jsonLines(r.stdout);
    assert.equal(seen?.got, "after the bogus frames", r.stderr);
    // The sizes no buffer can hold: one warning for their kind (shape), naming the size.
    assert.match(
      r.stderr,
      /tsmpi: rank 1 dropped a message announcing 8589934592 payload bytes .* from world rank 0; further ones of this kind \(shape\)/,
    );
  });
});

describe("isends that nobody awaits (issue 17, point 7)", function () {
  this.timeout(120_000);
  for (const [path, env] of [
    ["shared memory", {}],
    ["ZeroMQ (TSMPI_SHM=0)", { TSMPI_SHM: "0" }],
  ] as const) {
    it(`two ranks isend 50,000 x 1 KiB to each other without waiting, over ${path}: past the high-water mark the requests wait; neither rank waits for the other for ever`, async function () {
      // Rank 1 freezes its event loop for a while: until then rank 0's requests may complete only
      // as far as the bounds between them hold (TSMPI_SEND_HWM = 1 MiB, a 1 MiB ring, ZeroMQ's
      // 1000 messages each way): a few thousand of the 50,000.
      const r = await tsmpirun(["-n", "2", fixture("isend-flood.js"), "50000", "1024", "1000"], {
        timeoutMs: 110_000,
        env: { ...env, TSMPI_SEND_HWM: String(2 ** 20) },
      });
      await checkJob(r);
      const lines = jsonLines(r.stdout);
      assert.equal(lines.length, 2, r.stderr);
      for (const l of lines) assert.ok(l.inOrder, `rank ${l.rank}: every message, in order`);
      const sender = lines.find((l) => l.rank === 0)!;
      assert.ok(
        sender.early < sender.count / 4,
        `rank 0: ${sender.early} of ${sender.count} requests completed while rank 1 took nothing in`,
      );
      console.log(
        `      rank 0's requests complete while rank 1 is frozen: ${sender.early} of 50000; peak RSS ${lines.map((l) => (l.rss / 2 ** 20).toFixed(0)).join("/")} MiB`,
      );
    });
  }
});

const PATHS = (process.env.TSMPI_FLOOD_PATHS ?? "default;TSMPI_SHM=0").split(";").filter(Boolean);

for (const path of PATHS) {
  const env = Object.fromEntries(
    path === "default"
      ? []
      : path
          .split(/\s+/)
          .filter(Boolean)
          .map((kv) => [kv.slice(0, kv.indexOf("=")), kv.slice(kv.indexOf("=") + 1)]),
  );
  describe(`flood: 4 senders, 1 slower receiver (${path})`, function () {
    const perSender = LONG ? 2_500_000 : 250_000;
    this.timeout(LONG ? 1_200_000 : 180_000);

    it(`${4 * perSender} messages (1 in 1000 a 1 MiB Float64Array) arrive exactly once, in order per sender, checksum equal; senders wait at the high-water mark`, async function () {
      const r = await tsmpirun(["-n", "5", fixture("flood.js"), String(perSender), "1000", "300"], {
        timeoutMs: LONG ? 1_190_000 : 170_000,
        env: { ...env, TSMPI_SEND_HWM: String(4 * 2 ** 20) },
      });
      await checkJob(r);
      const lines = jsonLines(r.stdout);
      const rx = lines.find((l) => l.rank === 0);
      assert.ok(rx, r.stderr);
      assert.equal(rx.small + rx.large, 4 * perSender, "count");
      assert.equal(rx.large, 4 * Math.floor(perSender / 1000));
      assert.deepEqual(rx.perSender, [perSender, perSender, perSender, perSender]);
      assert.equal(rx.outOfOrder, 0, "in order per sender");
      assert.equal(rx.badValues, 0, "every value and array intact");
      assert.ok(rx.checksumOk, "checksum");
      const senders = lines.filter((l) => l.rank > 0);
      assert.equal(senders.length, 4);
      for (const s of senders)
        assert.ok(s.waited > 0, `rank ${s.rank}: no send waited for room, so its queue grew unchecked (${JSON.stringify(s)})`);
      console.log(
        `      ${rx.rate} messages/s; receiver peak RSS ${(rx.rss / 2 ** 20).toFixed(0)} MiB, senders ${senders.map((s) => (s.rss / 2 ** 20).toFixed(0)).join("/")} MiB (TSMPI_SEND_HWM=4 MiB)`,
      );
    });

    // The control is the ZeroMQ path's: the shared-memory path bounds its senders by its ring.
    if (env.TSMPI_SHM !== "0") return;
    it("control (ZeroMQ path): with TSMPI_SEND_HWM out of reach no send waits (the knob is what bounds the queue)", async function () {
      const r = await tsmpirun(["-n", "3", fixture("flood.js"), "50000", "1000", "600"], {
        timeoutMs: 120_000,
        env: { ...env, TSMPI_SEND_HWM: String(2 ** 40) },
      });
      await checkJob(r);
      const senders = jsonLines(r.stdout).filter((l) => l.rank > 0);
      assert.equal(senders.length, 2);
      for (const s of senders) assert.equal(s.waited, 0);
      assert.ok(jsonLines(r.stdout).find((l) => l.rank === 0)?.checksumOk);
    });
  });
}
