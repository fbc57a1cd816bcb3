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
import { checkJob, fixture, jsonLines, tsmpirun } from "./helpers/launch.js";

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
    assert.deepEqual([...kinds].sort(), ["chunk", "dtype", "kind", "sender", "shape", "short", "token"], `one warning per kind of problem:\n${warnings.join("\n")}`);
    // TSMPI_MAX_FRAME (chunk size + 64 KiB) stops ZeroMQ before it allocates the frame: the
    // peak resident memory does not grow by the frame's 256 MiB (without the limit it does).
    assert.ok(seen.rssAfter - seen.rssBefore < 128 * 1024 * 1024, `peak RSS grew from ${seen.rssBefore} to ${seen.rssAfter} bytes`);
    console.log(`      ${perKind * seen.kinds} malformed frames; rank 1 peak RSS ${(seen.rssBefore / 2 ** 20).toFixed(0)} -> ${(seen.rssAfter / 2 ** 20).toFixed(0)} MiB around the 256 MiB frame`);
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
    assert.match(r.stderr, /tsmpi: rank 1 dropped a message announcing 8589934592 payload bytes .* from world rank 0; further ones of this kind \(shape\)/);
  });
});

describe("isends that nobody awaits (issue 17, point 7)", function () {
  this.timeout(120_000);
  for (const [path, env] of [["shared memory", {}], ["ZeroMQ (TSMPI_SHM=0)", { TSMPI_SHM: "0" }]] as const) {
    it(`two ranks isend 50,000 x 1 KiB to each other without waiting, over ${path}: past the high-water mark the requests wait; neither rank waits for the other for ever`, async function () {
      // Each rank receives only after a pause: until then its peer's requests may complete only
      // as far as the queues' bounds (TSMPI_SEND_HWM, the ring, ZeroMQ's high-water mark) and
      // what the receiver takes in by itself allow.
      const r = await tsmpirun(["-n", "2", fixture("isend-flood.js"), "50000", "1024", "1000"], { timeoutMs: 110_000, env: { ...env, TSMPI_SEND_HWM: String(2 ** 20) } });
      await checkJob(r);
      const lines = jsonLines(r.stdout);
      assert.equal(lines.length, 2, r.stderr);
      for (const l of lines) {
        assert.ok(l.inOrder, `rank ${l.rank}: every message, in order`);
        assert.ok(l.early < l.count / 2, `rank ${l.rank}: ${l.early} of ${l.count} requests completed before anyone received`);
      }
      console.log(`      requests complete before the peer receives: ${lines.map((l) => l.early).join(", ")} of 50000; peak RSS ${lines.map((l) => (l.rss / 2 ** 20).toFixed(0)).join("/")} MiB`);
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
      const r = await tsmpirun(["-n", "5", fixture("flood.js"), String(perSender), "1000", "300"], { timeoutMs: LONG ? 1_190_000 : 170_000, env: { ...env, TSMPI_SEND_HWM: String(4 * 2 ** 20) } });
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
      for (const s of senders) assert.ok(s.waited > 0, `rank ${s.rank}: no send waited for room, so its queue grew unchecked (${JSON.stringify(s)})`);
      console.log(`      ${rx.rate} messages/s; receiver peak RSS ${(rx.rss / 2 ** 20).toFixed(0)} MiB, senders ${senders.map((s) => (s.rss / 2 ** 20).toFixed(0)).join("/")} MiB (TSMPI_SEND_HWM=4 MiB)`);
    });

    // The control is the ZeroMQ path's: the shared-memory path bounds its senders by its ring.
    if (env.TSMPI_SHM !== "0") return;
    it("control (ZeroMQ path): with TSMPI_SEND_HWM out of reach no send waits (the knob is what bounds the queue)", async function () {
      const r = await tsmpirun(["-n", "3", fixture("flood.js"), "50000", "1000", "600"], { timeoutMs: 120_000, env: { ...env, TSMPI_SEND_HWM: String(2 ** 40) } });
      await checkJob(r);
      const senders = jsonLines(r.stdout).filter((l) => l.rank > 0);
      assert.equal(senders.length, 2);
      for (const s of senders) assert.equal(s.waited, 0);
      assert.ok(jsonLines(r.stdout).find((l) => l.rank === 0)?.checksumOk);
    });
  });
}
