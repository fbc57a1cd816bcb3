/**
 * The same-host shared-memory path (lib/transport/shm.ts, native/shm_channel.cc): order across
 * paths and size classes, full and wrapping rings, many ranks on few cores with polling on and
 * off, what the ranks say about their paths, the CPU a waiting rank uses, and that no segment
 * is left after any ending. The p2p and collectives suites run over this path by default and
 * again with it off (p2p.test.ts, collectives.test.ts).
 */
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import { waitPolicy, usableCores } from "../lib/transport/polling.js";
import { ringBytes } from "../lib/transport/shm.js";
import { TsmpiError } from "../lib/errors.js";
import { getBinding } from "../lib/native.js";
import path from "node:path";
import { checkJob, fixture, ROOT, settledLeftovers, tsmpirun, waitForRankPids, type JobResult } from "./helpers/launch.js";

const addon = getBinding() !== null;

function skipWithoutAddon(ctx: Mocha.Context): void {
  if (!addon) {
    console.log("      skipped: the native addon is not built here, so ranks of one host use ipc:// sockets");
    ctx.skip();
  }
}

async function okJob(r: JobResult): Promise<void> {
  assert.deepEqual(await settledLeftovers(r.marker), [], "no process of the job may be left");
  assert.equal(r.code, 0, `tsmpirun exited ${r.code} ${r.signal ?? ""}; stderr:\n${r.stderr.slice(-3000)}`);
}

/** Messages and bytes rank 0 of shm-order checked, as the fixture counts them. */
function expected(np: number, phases = 3): string {
  const sizes = [0, 1, 8, 100, 4032, 4040, 4041, 4096, 8192, 8193, 65536, 65537, 131072, 200_000, 1_100_000, 2_500_000];
  let bytes = 0;
  for (let src = 1; src < np; src++) for (let n = 0; n < phases * sizes.length * 2; n++) bytes += sizes[n % sizes.length]!;
  return `@@ok ${(np - 1) * phases * sizes.length * 2} ${bytes}`;
}

describe("shared memory: every size class arrives complete and in order per sender, with wildcard receives, between collectives", function () {
  this.timeout(200_000);
  const runs: [number, NodeJS.ProcessEnv, string][] = [
    [2, {}, "shared memory"],
    [3, {}, "shared memory"],
    [4, {}, "shared memory"],
    [3, { SHM_ORDER_MIXED: "1" }, "mixed paths: odd ranks without shared memory (ipc:// to them)"],
    [4, { SHM_ORDER_MIXED: "1" }, "mixed paths: odd ranks without shared memory (ipc:// to them)"],
    [3, { TSMPI_SHM_RING_BYTES: "4096" }, "4 KiB rings: every message larger than the ring streams through it, rings fill and wrap"],
    [4, { TSMPI_SHM_RING_BYTES: "8192", TSMPI_CMA: "0" }, "8 KiB rings and no single copy: large payloads stream through the rings"],
    [3, { TSMPI_SHM: "0" }, "TSMPI_SHM=0 (ipc:// sockets)"],
    [8, { TSMPI_SPIN_US: "50" }, "8 ranks on this machine's cores, polling forced on"],
    [8, { TSMPI_SPIN_US: "0" }, "8 ranks, polling off"],
    [10, {}, "10 ranks, default polling"],
  ];
  for (const [np, env, what] of runs) {
    it(`${np} ranks, ${what}`, async function () {
      if (env.TSMPI_SHM !== "0") skipWithoutAddon(this);
      const r = await tsmpirun(["-n", String(np), fixture("shm-order.js")], { timeoutMs: 180_000, env: { ...env, SHM_ORDER_PHASES: np >= 8 ? "1" : "3" } });
      await okJob(r);
      assert.equal(r.stdout.trim(), expected(np, np >= 8 ? 1 : 3));
    });
  }
});

describe("shared memory: a rank that finished before its peers connected to it", function () {
  this.timeout(120_000);
  it("its messages still arrive (examples/hello.js at 4 ranks, 10 jobs, polling off: rank 0 sends and exits at once)", async function () {
    skipWithoutAddon(this);
    // Regression: a receiver read only the rings of peers whose own inbox it could open, and a
    // peer that had already exited left its message unread; about one job in four hung.
    for (let i = 0; i < 10; i++) {
      const r = await tsmpirun(["-n", "4", path.join(ROOT, "dist", "examples", "hello.js")], { timeoutMs: 20_000, env: { TSMPI_SPIN_US: "0" } });
      await checkJob(r);
      assert.equal(r.stdout.split("\n").filter(Boolean).length, 4, r.stdout);
    }
  });
});

describe("shared memory: which path each peer uses, and how ranks wait", function () {
  this.timeout(60_000);
  const traces = (r: JobResult) =>
    [...r.stderr.matchAll(/^\{"tsmpi":"transport".*\}$/gm)].map((m) => JSON.parse(m[0]) as { rank: number; paths: string[]; wait: { mode: string; spinUs: number; ranksHere: number }; heapKept: boolean });

  it("TSMPI_TRACE=transport: every same-host peer on shm, polling mode chosen from ranks and cores, malloc keeps freed memory", async function () {
    skipWithoutAddon(this);
    const r = await tsmpirun(["-n", "3", fixture("shm-idle.js"), "0"], { timeoutMs: 30_000, env: { TSMPI_TRACE: "transport" } });
    await okJob(r);
    const t = traces(r);
    assert.equal(t.length, 3, r.stderr);
    for (const { rank, paths, wait } of t) {
      assert.deepEqual(paths, [0, 1, 2].map((p) => (p === rank ? "self" : "shm")));
      assert.deepEqual(wait, waitPolicy(3, {}, usableCores()) as unknown as typeof wait);
    }
    assert.deepEqual(t.map((x) => x.heapKept), [true, true, true]);
  });

  it("TSMPI_SHM=0: same-host peers on ipc://; TSMPI_KEEP_HEAP=0: malloc left alone", async function () {
    const r = await tsmpirun(["-n", "2", fixture("shm-idle.js"), "0"], { timeoutMs: 30_000, env: { TSMPI_TRACE: "transport", TSMPI_SHM: "0", TSMPI_KEEP_HEAP: "0" } });
    await okJob(r);
    const t = traces(r);
    assert.deepEqual(t.map((x) => x.paths).sort(), [["ipc", "self"], ["self", "ipc"]]);
    assert.deepEqual(t.map((x) => x.heapKept), [false, false]);
  });

  it("tsmpirun --info -n 2 names the path to each peer and the polling mode", async function () {
    skipWithoutAddon(this);
    const r = await tsmpirun(["--info", "-n", "2"], { timeoutMs: 30_000 });
    await okJob(r);
    assert.match(r.stdout, /rank 0 .*peers: 1 shm; waits: (spin|yield|sleep)/);
    assert.match(r.stdout, /rank 1 .*peers: 0 shm; waits: (spin|yield|sleep)/);
  });

  it("a rank blocked 3 s in recv uses under 0.1 s of CPU", async function () {
    const r = await tsmpirun(["-n", "2", fixture("shm-idle.js"), "3"], { timeoutMs: 30_000 });
    await okJob(r);
    const cpu = Number(/^@@cpu (\S+) wake up$/m.exec(r.stdout)?.[1]);
    assert.ok(cpu >= 0 && cpu < 0.1, `the waiting rank used ${cpu} s of CPU; stdout:\n${r.stdout}`);
  });
});

describe("shared memory: the wait policy (lib/transport/polling.ts)", function () {
  it("polls while every rank has a core, yields up to twice as many, sleeps beyond", function () {
    assert.deepEqual(waitPolicy(2, {}, 2), { mode: "spin", spinUs: 50, cores: 2, ranksHere: 2 });
    assert.deepEqual(waitPolicy(4, {}, 2), { mode: "yield", spinUs: 50, cores: 2, ranksHere: 4 });
    assert.deepEqual(waitPolicy(64, {}, 2), { mode: "sleep", spinUs: 0, cores: 2, ranksHere: 64 });
    assert.deepEqual(waitPolicy(64, { TSMPI_SPIN_US: "20" }, 2), { mode: "yield", spinUs: 20, cores: 2, ranksHere: 64 });
    assert.deepEqual(waitPolicy(2, { TSMPI_SPIN_US: "0" }, 2), { mode: "sleep", spinUs: 0, cores: 2, ranksHere: 2 });
  });
  it("rejects a bad TSMPI_SPIN_US or TSMPI_SHM_RING_BYTES with a TsmpiError naming it", function () {
    for (const bad of ["-1", "1.5", "fast"]) {
      assert.throws(() => waitPolicy(2, { TSMPI_SPIN_US: bad }, 2), (e: unknown) => e instanceof TsmpiError && e.code === "ERR_TSMPI_ARG" && e.message.includes("TSMPI_SPIN_US") && e.message.includes(bad));
    }
    for (const bad of ["1000", "4097", "x"]) {
      assert.throws(() => ringBytes(2, { TSMPI_SHM_RING_BYTES: bad }), (e: unknown) => e instanceof TsmpiError && e.code === "ERR_TSMPI_ARG" && e.message.includes("TSMPI_SHM_RING_BYTES"));
    }
    assert.equal(ringBytes(2, {}), 1 << 20);
    assert.equal(ringBytes(1000, {}), 64 * 1024);
  });
});

describe("shared memory: no segment is left after any ending", function () {
  this.timeout(60_000);
  const tsmpiFiles = () => ({
    devShm: fs.existsSync("/dev/shm") ? fs.readdirSync("/dev/shm").filter((f) => f.includes("tsmpi")).sort() : [],
    tmp: fs.readdirSync(os.tmpdir()).filter((f) => f.startsWith("tsmpi-")).sort(),
  });
  /** Job dirs and segments that appeared during the job (others' runs may add and remove theirs meanwhile). */
  const added = (before: ReturnType<typeof tsmpiFiles>, after: ReturnType<typeof tsmpiFiles>, ourDirs: string[]) => ({
    devShm: after.devShm.filter((f) => !before.devShm.includes(f)),
    tmp: after.tmp.filter((f) => !before.tmp.includes(f) && ourDirs.includes(f)),
  });
  /** The job directories of a job's ranks (TSMPI_JOB_DIR in their environment). */
  const jobDirs = (pids: number[]) =>
    pids.flatMap((pid) => {
      try {
        const dir = fs.readFileSync(`/proc/${pid}/environ`, "latin1").split("\0").find((e) => e.startsWith("TSMPI_JOB_DIR="));
        return dir ? [dir.slice("TSMPI_JOB_DIR=".length).split("/").pop()!] : [];
      } catch {
        return [];
      }
    });

  it("while a job runs, its inboxes are memfds (nothing in /dev/shm); after it ends normally, nothing is left", async function () {
    skipWithoutAddon(this);
    const before = tsmpiFiles();
    const r = await tsmpirun(["-n", "3", fixture("shm-idle.js"), "0", "segments"], { timeoutMs: 30_000 });
    await okJob(r);
    const seen = JSON.parse(/^@@segments (.*)$/m.exec(r.stdout)?.[1] ?? "null") as { inboxes: number; devShm: string[] };
    assert.deepEqual(seen, { inboxes: 3, devShm: [] }, "rank 0 maps its own inbox and its 2 peers', all memfds");
    assert.deepEqual(added(before, tsmpiFiles(), []).devShm, []);
  });

  for (const [how, args] of [
    ["a rank throws", ["throw"]],
    ["a rank is killed with SIGKILL", ["signal"]],
  ] as const) {
    it(`${how}: the job ends, nothing is left in /dev/shm or the temporary directory`, async function () {
      skipWithoutAddon(this);
      const before = tsmpiFiles();
      let dirs: string[] = [];
      const job = tsmpirun(["-n", "3", fixture("fail.js"), ...args], {
        timeoutMs: 30_000,
        onStart: (_pid, marker) => void waitForRankPids(marker, 3).then((p) => (dirs = jobDirs(p)), () => {}),
      });
      const r = await job;
      assert.notEqual(r.code, 0);
      assert.deepEqual(await settledLeftovers(r.marker), []);
      assert.deepEqual(added(before, tsmpiFiles(), dirs), { devShm: [], tmp: [] });
    });
  }

  it("tsmpirun is killed with SIGKILL: the ranks exit, remove the job directory, and nothing is left", async function () {
    skipWithoutAddon(this);
    const before = tsmpiFiles();
    let launcher = 0;
    let marker = "";
    const job = tsmpirun(["-n", "3", fixture("fail.js"), "hang"], { timeoutMs: 30_000, onStart: (p, m) => ((launcher = p), (marker = m)) });
    const pids = await waitForRankPids(marker, 3);
    const dirs = jobDirs(pids);
    assert.equal(dirs.length, 3, "every rank knows its job directory");
    await new Promise((r) => setTimeout(r, 500)); // joined, waiting in recv
    process.kill(launcher, "SIGKILL");
    await job;
    assert.deepEqual(await settledLeftovers(marker, 10_000), [], "ranks must notice their launcher is gone");
    assert.deepEqual(added(before, tsmpiFiles(), dirs), { devShm: [], tmp: [] });
  });
});
