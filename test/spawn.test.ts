/**
 * Spawning (issue 19 item 7): `comm.Spawn`, `Spawn_multiple`, `Comm.Get_parent()`, `Disconnect`,
 * `UNIVERSE_SIZE`. mpi4py's test/test_spawn.py is translated in test/fixtures/spawn.ts (its cases:
 * testCommSpawn on COMM_SELF and COMM_WORLD with MAXPROCS 1 and the world's size, testErrcodes,
 * testArgsOnlyAtRoot, testNoArgs, the Spawn_multiple ones with Defaults1/Defaults2, testArgsBad, and
 * spawn_child.py's Barrier/Disconnect/Get_parent checks), run here at 1 to 3 parent ranks and
 * from a plain `node` process; plus the argument errors on every rank, Merge, args per command,
 * a failing child, children that die before joining, a killed parent, implicit disconnects at
 * either side's end, children outliving their disconnected parents, and the universe size.
 * Changed: testNoArgs spawns this fixture with no args rather than a script written at run
 * time; `assert parent == COMM_NULL` after Disconnect becomes `Get_parent() === null` (a JS
 * variable cannot be nulled by the call); testArgsBad's ValueErrors are ERR_TSMPI_ARG. Every job
 * is checked with checkJob (exit status, time bound, no process left).
 */
import assert from "node:assert/strict";
import { checkJob, fixture, runNode, tsmpirun } from "./helpers/launch.js";

const CASES = ["get-parent", "single", "errcodes", "argsOnlyAtRoot", "noArgs", "multiple", "args", "errors", "merge", "universe"];

describe("spawn", function () {
  this.timeout(180_000);

  for (const np of [1, 2, 3]) {
    it(`test_spawn.py's cases and more, from ${np} parent rank${np > 1 ? "s" : ""}`, async function () {
      const r = await tsmpirun(["-n", String(np), fixture("spawn.js"), "all"], { timeoutMs: 150_000 });
      await checkJob(r);
      assert.equal(r.stdout.match(/^ok \S+$/gm)?.join("\n"), CASES.map((c) => `ok ${c}`).join("\n"), r.stdout + r.stderr);
      assert.equal(r.stderr, "");
    });
  }

  it("from a plain node process (a world of one)", async function () {
    const r = await runNode([fixture("spawn.js"), "single"], { timeoutMs: 60_000 });
    await checkJob(r);
    assert.match(r.stdout, /^ok single$/m);
  });

  for (const np of [1, 2]) {
    it(`a failing child ends the children's job and the parents' (as Open MPI), ${np} parent${np > 1 ? "s" : ""}`, async function () {
      const r = await tsmpirun(["-n", String(np), fixture("spawn.js"), "crash"], { timeoutMs: 60_000 });
      await checkJob(r, 1);
      assert.match(r.stderr, /a child fails on purpose/);
      assert.match(r.stderr, /tsmpi: rank \d: the ranks it spawned \(.*spawn\.js\) failed: .*; ending this job too/);
    });
  }

  for (const np of [1, 2]) {
    it(`a parent killed while connected ends both jobs, no process left, ${np} parent${np > 1 ? "s" : ""}`, async function () {
      const r = await tsmpirun(["-n", String(np), fixture("spawn.js"), "parent-killed"], { timeoutMs: 60_000 });
      await checkJob(r, 137);
      assert.match(r.stderr, new RegExp(`rank ${np - 1} .*killed by signal SIGKILL`));
    });
  }

  it("children outlive disconnected parents; the parents' job ends after them (as mpirun)", async function () {
    const r = await tsmpirun(["-n", "2", fixture("spawn.js"), "outlive"], { timeoutMs: 60_000 });
    await checkJob(r);
    assert.match(r.stdout, /parents disconnected\n(.*\n)*child world of 2 finished after its parents/);
  });

  it("parents that finish without Disconnect disconnect then (the children still get their messages through)", async function () {
    const r = await tsmpirun(["-n", "2", fixture("spawn.js"), "noparent-finish"], { timeoutMs: 60_000 });
    await checkJob(r);
    assert.match(r.stdout, /^ok noparent-finish$/m);
    assert.equal(r.stderr, "");
  });

  for (const np of [1, 2]) {
    it(`children that die before they join: Spawn rejects with ERR_TSMPI_LAUNCH on every parent, ${np} parent${np > 1 ? "s" : ""}`, async function () {
      const r = await tsmpirun(["-n", String(np), fixture("spawn.js"), "start-fails"], { timeoutMs: 60_000 });
      await checkJob(r);
      assert.match(r.stdout, /^ok start-fails$/m);
      assert.match(r.stderr, /a spawned child dies at start/);
    });
  }

  for (const np of [1, 2]) {
    it(`children that finish without Disconnect disconnect then, matching their parents' Disconnect (MPI_Finalize's), ${np} parent${np > 1 ? "s" : ""}`, async function () {
      const r = await tsmpirun(["-n", String(np), fixture("spawn.js"), "child-finishes-first"], { timeoutMs: 60_000 });
      await checkJob(r);
      assert.match(r.stdout, /^ok child-finishes-first$/m);
      assert.equal(r.stderr, "");
    });
  }

  describe("UNIVERSE_SIZE", function () {
    for (const [args, size] of [
      [["-usize", "7"], 7],
      [["--universe-size", "5"], 5],
      [["--host", "localhost:3"], 3],
      [["--host", "localhost:3", "-usize", "4"], 4],
    ] as const) {
      it(`tsmpirun ${args.join(" ")}: ${size}`, async function () {
        const r = await tsmpirun(["-n", "2", ...args, fixture("spawn.js"), "universe"], { timeoutMs: 60_000 });
        await checkJob(r);
        assert.match(r.stdout, new RegExp(`^universe ${size}$`, "m"));
      });
    }
    it("a bad --universe-size is a usage error", async function () {
      const r = await tsmpirun(["-n", "1", "--universe-size", "0", fixture("spawn.js"), "universe"], { timeoutMs: 30_000 });
      await checkJob(r, 2);
      assert.match(r.stderr, /--universe-size/);
    });
  });
});
