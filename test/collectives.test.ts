/**
 * Collective semantics at world sizes 1 to 5 and 8 (8 oversubscribes a small machine), each case
 * on COMM_WORLD, a dup of it and COMM_SELF; the same cases again with every algorithm forced at
 * small sizes (TSMPI_COLL), so each path runs with uneven and empty blocks; and the message
 * counts of the small-message algorithms, read from TSMPI_TRACE=collectives.
 */
import assert from "node:assert/strict";
import { cases } from "./suites/collectives.js";
import { describeSuite } from "./helpers/suites.js";
import { fixture, settledLeftovers, tsmpirun } from "./helpers/launch.js";

describeSuite("collectives", cases, { sizes: [1, 2, 3, 4, 5, 8], timeoutMs: 90_000 });
// The same over ZeroMQ's ipc:// sockets instead of shared memory.
describeSuite("collectives", cases, { sizes: [2, 3, 5], env: { TSMPI_SHM: "0" }, timeoutMs: 90_000 });
for (const TSMPI_COLL of [
  "allreduce:ring,bcast:scatter-ring,allgather:ring,reduce:ring,gather:linear,scatter:linear",
  "allreduce:reduce-bcast",
]) {
  describeSuite("collectives", cases, { sizes: [2, 3, 5], env: { TSMPI_COLL }, timeoutMs: 90_000 });
}
// Same-host ranks reading each other's memory: forced at every size (small, uneven and empty
// blocks); and with that access turned off, where the large-payload choices fall back to messages.
describeSuite("collectives", cases, {
  sizes: [2, 3, 5],
  env: { TSMPI_COLL: "allreduce:peer,bcast:peer,allgather:peer,reduce_scatter:peer" },
  timeoutMs: 90_000,
});
describeSuite("collectives", cases, {
  sizes: [3],
  env: { TSMPI_COLL: "allreduce:peer,bcast:peer,allgather:peer,reduce_scatter:peer", TSMPI_CMA: "0" },
  timeoutMs: 90_000,
});
// Reads between the ranks failing (as where the kernel forbids them): the ranks find out on
// their first call, agree, and every call falls back to messages.
describeSuite("collectives", cases, {
  sizes: [3],
  env: { TSMPI_COLL: "allreduce:peer,bcast:peer,allgather:peer,reduce_scatter:peer", TSMPI_CMA: "fail-reads" },
  timeoutMs: 90_000,
});

/** One trace line: what one rank did in one collective call. */
interface Trace {
  tsmpi: "collective";
  name: string;
  rank: number;
  size: number;
  sends: number;
  recvs: number;
  bytes: number;
}

describe("collective message counts: small messages take ceil(log2 N) rounds (TSMPI_TRACE=collectives)", function () {
  this.timeout(60_000);
  for (const np of [2, 3, 4, 5, 8]) {
    it(`${np} ranks: no rank sends or receives more than ceil(log2 ${np}) messages per call, nor sends more than twice that`, async function () {
      const r = await tsmpirun(["-n", String(np), fixture("count-messages.js")], {
        timeoutMs: 45_000,
        env: { TSMPI_TRACE: "collectives", TSMPI_COLL: "" },
      });
      assert.deepEqual(await settledLeftovers(r.marker), [], "no process of the job may be left");
      assert.equal(r.code, 0, `tsmpirun exited ${r.code}; stderr:\n${r.stderr.slice(-3000)}`);
      const calls = JSON.parse(/^@@calls (.*)$/m.exec(r.stdout)?.[1] ?? "null") as string[] | null;
      assert.ok(calls, `rank 0 did not list its calls; stdout:\n${r.stdout.slice(-2000)}`);
      const byRank = new Map<number, Trace[]>();
      for (const m of r.stderr.matchAll(/\{"tsmpi":"collectives".*?\}/g)) {
        const t = JSON.parse(m[0]) as Trace;
        byRank.set(t.rank, [...(byRank.get(t.rank) ?? []), t]);
      }
      const rounds = Math.ceil(Math.log2(np));
      for (let rank = 0; rank < np; rank++) {
        const traces = byRank.get(rank) ?? [];
        assert.deepEqual(
          traces.map((t) => t.name),
          calls.map((c) => c.split("@")[0]),
          `rank ${rank}: one trace line per call, in call order`,
        );
        traces.forEach((t, i) => {
          const what = `rank ${rank} in ${calls[i]} on ${np} ranks (${t.sends} sends, ${t.recvs} receives)`;
          assert.equal(t.size, np, what);
          assert.ok(Math.max(t.sends, t.recvs) <= rounds, `${what}: more than ceil(log2 N) = ${rounds} messages`);
          assert.ok(t.sends <= 2 * rounds, `${what}: more than 2 ceil(log2 N) = ${2 * rounds} sends`);
        });
      }
    });
  }
});

describe("same-host ranks read large collective payloads from each other's memory (single copy)", function () {
  this.timeout(60_000);
  const run = async (np: number, env: NodeJS.ProcessEnv) => {
    const r = await tsmpirun(["-n", String(np), fixture("single-copy.js")], {
      timeoutMs: 45_000,
      env: { TSMPI_TRACE: "collectives", TSMPI_COLL: "", ...env },
    });
    assert.deepEqual(await settledLeftovers(r.marker), [], "no process of the job may be left");
    assert.equal(r.code, 0, `tsmpirun exited ${r.code}; stderr:\n${r.stderr.slice(-3000)}`);
    const calls = JSON.parse(/^@@calls (.*)$/m.exec(r.stdout)?.[1] ?? "null") as string[] | null;
    assert.ok(calls, `rank 0 did not list its calls; stdout:\n${r.stdout.slice(-2000)}`);
    const traces = [...r.stderr.matchAll(/\{"tsmpi":"collectives".*?\}/g)].map((m) => JSON.parse(m[0]) as Trace & { algorithm: string });
    assert.equal(traces.length, np * calls.length, "one trace line per rank and call");
    return traces;
  };
  for (const np of [2, 3, 4]) {
    it(`${np} ranks: Allreduce, Bcast, Allgather and Reduce_scatter_block of 1 MiB per rank pass only addresses through sockets`, async function () {
      for (const t of await run(np, {})) {
        assert.equal(t.algorithm, "peer", `rank ${t.rank} in ${t.name}`);
        assert.ok(t.bytes < 1024, `rank ${t.rank} in ${t.name} sent ${t.bytes} bytes through sockets`);
      }
    });
  }
  it("TSMPI_CMA=0: the same calls pass messages and give the same results", async function () {
    for (const t of await run(3, { TSMPI_CMA: "0" })) {
      assert.notEqual(t.algorithm, "peer", `rank ${t.rank} in ${t.name}`);
      assert.ok(t.bytes > 64 * 1024, `rank ${t.rank} in ${t.name} sent only ${t.bytes} bytes`);
    }
  });
  it("reads between the ranks failing: they agree on the first call and pass messages, with the same results", async function () {
    for (const t of await run(3, { TSMPI_CMA: "fail-reads" })) {
      assert.ok(t.bytes > 64 * 1024, `rank ${t.rank} in ${t.name} sent only ${t.bytes} bytes`);
    }
  });
});
