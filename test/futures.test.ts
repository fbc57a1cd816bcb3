/**
 * tsmpi/futures as users run it: CommExecutor on 1 to 5 ranks (and a root other than 0),
 * PoolExecutor with spawned workers (from plain node, from tsmpirun -n 1 over the hosts'
 * slots) and over the workers of `tsmpirun -m tsmpi/futures`. Every run goes through the same
 * checks (test/fixtures/futures-checks.ts: order, unordered completion, chunk sizes, empty
 * input, errors with remote stacks, unserializable values, timeouts, buffersize, progress,
 * shutdown semantics, submit after shutdown); spawned pools also lose a killed worker. Each
 * job must exit 0 and leave no process behind, and a pool's workers die with a parent killed
 * by SIGKILL. Then scheduling (nothing waits behind a slow task), broken pools, what a pool
 * leaves of its parent process, and the regressions of the review of the futures branch.
 */
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { checkJob, fixture, jsonLines, ROOT, runNode, settledLeftovers, tsmpirun, type JobResult } from "./helpers/launch.js";

async function passed(r: JobResult, expectOk: number): Promise<void> {
  assert.equal(r.code, 0, `exit ${r.code} ${r.signal ?? ""}\n${r.stdout}\n${r.stderr}`);
  const oks = r.stdout.split("\n").filter((l) => l.startsWith("ok "));
  assert.ok(oks.length >= expectOk, `only ${oks.length} checks passed:\n${r.stdout}\n${r.stderr}`);
  assert.deepEqual(await settledLeftovers(r.marker), [], "no process of the job may be left");
}

/** Checks in futures-checks.ts (without the load-balance one, which needs 2 workers). */
const CHECKS = 15;

describe("tsmpi/futures: CommExecutor", function () {
  for (const [np, root] of [
    [1, 0],
    [2, 0],
    [3, 2],
    [5, 0],
  ] as const) {
    it(`on ${np} rank${np > 1 ? "s" : ""}, root ${root}: every check; the other ranks serve and get null`, async function () {
      const r = await tsmpirun(["-n", String(np), fixture("futures-comm.js"), String(root)], { timeoutMs: 90000 });
      await passed(r, CHECKS);
      for (let i = 0; i < np; i++) assert.match(r.stdout, new RegExp(`^rank ${i} done$`, "m"));
    });
  }
});

describe("tsmpi/futures: PoolExecutor", function () {
  it("from plain node, 2 spawned workers: every check, env and initializer, a killed worker is replaced", async function () {
    const r = await runNode([fixture("futures-pool.js"), "2", "kill"], {
      timeoutMs: 90000,
      env: { TSMPI_FUTURES_MAX_WORKERS: "2", FUTURES_EXPECT_ENV: "1" },
    });
    await passed(r, CHECKS + 4);
    assert.match(r.stdout, /^ok a killed worker: its task rejects, a replacement starts$/m);
    assert.match(r.stdout, /^pool done$/m);
  });

  it("under tsmpirun -n 1 --host localhost:3: the universe's 2 free slots are its workers", async function () {
    const r = await tsmpirun(["-n", "1", "--host", "localhost:3", fixture("futures-pool.js"), "2"], { timeoutMs: 90000 });
    await passed(r, CHECKS + 2);
  });

  for (const np of [2, 5]) {
    it(`under tsmpirun -n ${np} -m tsmpi/futures: rank 0 runs the script, the ${np - 1} other ranks are the workers`, async function () {
      const r = await tsmpirun(["-n", String(np), "-m", "tsmpi/futures", fixture("futures-pool.js"), String(np - 1)], { timeoutMs: 90000 });
      await passed(r, CHECKS + 2);
      assert.match(r.stdout, /^pool done$/m);
    });
  }

  it("-m tsmpi/futures without a script: usage, exit 2", async function () {
    const r = await tsmpirun(["-n", "2", "-m", "tsmpi/futures"], { timeoutMs: 30000 });
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /usage: tsmpirun -n N -m tsmpi\/futures/);
    assert.deepEqual(await settledLeftovers(r.marker), []);
  });

  it("tsmpi/futures/bench: a bad count or option is a usage error naming it (exit 2); a tiny run checks its results", async function () {
    const bad = await tsmpirun(["-n", "3", "-m", "tsmpi/futures", "tsmpi/futures/bench", "1000", "zz"], { timeoutMs: 30000 });
    await checkJob(bad, 2);
    assert.match(bad.stderr, /tsmpi\/futures\/bench: FIB must be an integer >= 1, got "zz"\nusage:/);
    const startup = await runNode([path.join(ROOT, "dist", "lib", "futures-bench.js"), "--startup", "2", "--repeat", "x"], {
      timeoutMs: 30000,
    });
    assert.equal(startup.code, 2);
    assert.match(startup.stderr, /--repeat must be an integer >= 0, got "x"/);
    const ok = await tsmpirun(["-n", "3", "-m", "tsmpi/futures", "tsmpi/futures/bench", "200", "100", "--json"], { timeoutMs: 60000 });
    await checkJob(ok, 0);
    const figures = JSON.parse(ok.stdout.trim().split("\n").pop()!) as Record<string, number>;
    assert.ok(figures.noop_cs1_per_s! > 0 && figures.noop_cs100_per_s! > 0, ok.stdout);
  });

  for (const when of ["after its workers answered", "while its workers start"]) {
    it(`a parent killed by SIGKILL ${when} takes its workers with it`, async function () {
      const ready = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "tsmpi-futures-")), "ready");
      let parent = 0;
      const job = runNode([fixture("futures-orphan.js"), ready, when.startsWith("after") ? "answered" : "starting"], {
        timeoutMs: 60000,
        onStart: (pid) => (parent = pid),
      });
      for (let i = 0; i < 600 && !fs.existsSync(ready); i++) await new Promise((r) => setTimeout(r, 100));
      assert.ok(fs.existsSync(ready), "the fixture never got ready");
      process.kill(parent, "SIGKILL");
      const r = await job;
      assert.equal(r.signal, "SIGKILL", r.stderr);
      assert.deepEqual(await settledLeftovers(r.marker, 15000), [], "workers and their launchers must exit with their parent");
      fs.rmSync(path.dirname(ready), { recursive: true, force: true });
    });
  }
});

describe("tsmpi/futures: scheduling (PoolExecutor of 2 spawned workers)", function () {
  let r: JobResult;
  before(async function () {
    r = await runNode([fixture("futures-schedule.js")], { timeoutMs: 90000 });
  });
  const ran = (name: RegExp): void => assert.match(r.stdout, name, `${r.stdout}\n${r.stderr.slice(-3000)}`);

  it("the job ends by itself, exit 0, no process left", async function () {
    await checkJob(r);
    assert.match(r.stdout, /^schedule done$/m);
  });
  it("a quick task goes to the idle worker, not behind a slow one (600 ms task, then two 10 ms ones)", function () {
    ran(/^ok a quick task does not wait behind a slow one/m);
  });
  it("a map's timeout and a break out of a map leave no chunk to run (none was sent ahead to a busy worker)", function () {
    ran(/^ok map timeout: the chunks not started are cancelled, none runs$/m);
    ran(/^ok break out of a map: the chunks not started do not run$/m);
  });
  it("a dying worker's chunks held behind the one it ran go back to the queue and run", function () {
    ran(/^ok a dying worker's chunks that had not started run again$/m);
  });
  it("errors are headed by the worker's index in the pool, not rank 0 for all", function () {
    ran(/^ok errors headed by the worker's index in the pool$/m);
  });
});

describe("tsmpi/futures: broken pools end, as concurrent.futures' BrokenProcessPool", function () {
  const cases: [string, string, RegExp][] = [
    [
      "initargs",
      "initargs that cannot be serialized: ERR_TSMPI_TYPE at construction",
      /^ok initargs that cannot be sent are refused at construction$/m,
    ],
    [
      "start",
      "a worker that dies during start-up: its tasks and later ones reject with ERR_TSMPI_LAUNCH, shutdown resolves",
      /^ok a worker that dies while starting/m,
    ],
    [
      "exit",
      "a task module that ends every worker: the pool breaks (ERR_TSMPI_BROKEN) instead of respawning forever",
      /^ok workers that keep dying: the pool is broken/m,
    ],
    [
      "initializer",
      "a failing initializer: bootup rejects with ERR_TSMPI_BROKEN (its error as cause), so do pending and later tasks",
      /^ok a failing initializer: bootup rejects/m,
    ],
  ];
  for (const [which, what, line] of cases) {
    it(what, async function () {
      const r = await runNode([fixture("futures-broken.js"), which], { timeoutMs: 60000 });
      await checkJob(r);
      assert.match(r.stdout, line, r.stderr.slice(-3000));
    });
  }
});

describe("tsmpi/futures: what a pool leaves of its parent", function () {
  const runs: [string, () => Promise<JobResult>][] = [
    ["plain node", () => runNode([fixture("futures-attach.js")], { timeoutMs: 60000 })],
    ["tsmpirun -n 1", () => tsmpirun(["-n", "1", fixture("futures-attach.js")], { timeoutMs: 60000 })],
  ];
  for (const [how, run] of runs) {
    it(`from ${how}: the parent keeps its CPUs and its TSMPI_* variables, the worker is not bound to a core`, async function () {
      const r = await run();
      await checkJob(r);
      const [got] = jsonLines(r.stdout);
      assert.ok(got, r.stdout);
      assert.deepEqual(got.after, got.before);
      assert.equal(got.workerCpus, got.before.cpus);
      assert.equal(got.laterWorkers, got.before.cpus);
    });
  }
});

describe("tsmpi/futures: a pool running from source", function () {
  it("under tsx with the tsmpi-source condition: tsmpirun and the worker run from source (launcher/cli.ts, lib/futures/index.ts), one copy of tsmpi in the worker", async function () {
    const r = await runNode(["--import", "tsx", "--conditions=tsmpi-source", path.join(ROOT, "test", "fixtures", "futures-source.ts")], {
      timeoutMs: 90000,
    });
    await checkJob(r);
    const [got] = jsonLines(r.stdout);
    assert.ok(got, `${r.stdout}\n${r.stderr}`);
    assert.equal(got.entry, path.join(ROOT, "lib", "futures", "index.ts"));
    assert.ok(got.launcher.includes(path.join(ROOT, "launcher", "cli.ts")), got.launcher.join(" "));
    assert.ok(!got.launcher.some((a: string) => a.startsWith(path.join(ROOT, "dist"))), got.launcher.join(" "));
    assert.equal(got.worker, true, "the task module's tsmpi/futures is the worker's");
  });
});

describe("tsmpi/futures: review regressions", function () {
  it("a script without an isMainModule guard runs tasks of its tasks modules (the script is not imported)", async function () {
    const r = await runNode([fixture("futures-nomain.js")], { timeoutMs: 60000 });
    await checkJob(r);
    assert.match(r.stdout, /^ok a script without a guard/m);
  });

  it("CommExecutor.open on 2 ranks: a promise of a Comm is refused (ERR_TSMPI_ARG), a failing initializer rejects on the root and frees the others, a task in no module", async function () {
    const r = await tsmpirun(["-n", "2", fixture("futures-comm-errors.js")], { timeoutMs: 60000 });
    await checkJob(r);
    assert.equal(r.stdout.split("\n").filter((l) => l.startsWith("ok ")).length, 3, r.stdout);
    for (const rank of [0, 1]) assert.match(r.stdout, new RegExp(`^rank ${rank} done$`, "m"));
  });

  it("an unordered map with a buffersize over a long input holds only the chunks in flight", async function () {
    const r = await runNode(["--expose-gc", fixture("futures-leak.js")], { timeoutMs: 60000 });
    await checkJob(r);
    const [got] = jsonLines(r.stdout);
    // 2,400 results of 20 kB consumed between the two measures: 46 MB when they were kept.
    assert.ok(got.growthMB < 20, `the heap grew by ${got.growthMB.toFixed(1)} MB`);
  });
});
