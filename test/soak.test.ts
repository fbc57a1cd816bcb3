/**
 * A bounded soak at 8 ranks (issue 11, point 5): mixed collectives and point-to-point with
 * random sizes, roots and communicators, every result checked; resident memory per rank after
 * the first tenth, at the middle and at the end is printed, and the end may not exceed the
 * first tenth by more than 64 MiB (the JS heap by more than 16 MiB). `TSMPI_LONG_TESTS=1` runs 60,000 rounds.
 */
import assert from "node:assert/strict";
import { checkJob, fixture, jsonLines, tsmpirun } from "./helpers/launch.js";

const LONG = process.env.TSMPI_LONG_TESTS === "1";
const ROUNDS = LONG ? 60_000 : 3000;

describe("soak: 8 ranks, random collectives, point-to-point and communicators", function () {
  this.timeout(LONG ? 3_600_000 : 240_000);
  it(`${ROUNDS} rounds: every result right, resident memory flat`, async function () {
    const r = await tsmpirun(["-n", "8", fixture("soak.js"), String(ROUNDS)], { timeoutMs: LONG ? 3_500_000 : 230_000 });
    await checkJob(r);
    const ranks = jsonLines(r.stdout);
    assert.equal(ranks.length, 8);
    for (const k of ranks) {
      assert.deepEqual(k.failures, [], `rank ${k.rank}`);
      const [tenth, middle, end] = k.rss as number[];
      assert.ok(end! - tenth! < 64 * 2 ** 20, `rank ${k.rank}: RSS ${tenth} -> ${middle} -> ${end} bytes`);
      assert.ok(k.heap[2] - k.heap[0] < 16 * 2 ** 20, `rank ${k.rank}: JS heap ${k.heap.join(" -> ")} bytes`);
    }
    const mib = (b: number) => (b / 2 ** 20).toFixed(0);
    console.log(`      RSS per rank (MiB) after 1/10, 1/2, end: ${ranks.map((k) => k.rss.map(mib).join("/")).join("  ")}`);
    console.log(`      JS heap per rank (MiB): ${ranks.map((k) => k.heap.map(mib).join("/")).join("  ")}`);
  });
});
