/**
 * The fault matrix (issue 11, point 4), on this host: a rank killed with SIGKILL during
 * point-to-point, a collective, a large transfer and a single-copy read ends the job with exit
 * code 137 and a message naming the rank and the signal, with no process left; the time from
 * the kill to the end of the job is printed (the harness bound makes a hang a failure).
 * A local rank stopped with SIGSTOP ends the job after TSMPI_STOPPED_TIMEOUT. tsmpirun killed
 * with SIGKILL and --timeout are in launcher.test.ts.
 */
import assert from "node:assert/strict";
import fs from "node:fs";
import { checkJob, fixture, leftovers, tsmpirun } from "./helpers/launch.js";

/** The pid of world rank `rank` among the processes carrying the job's marker, once there. */
async function rankPid(launcher: number, rank: number, ms = 20_000): Promise<number> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    const mark = fs.readFileSync(`/proc/${launcher}/environ`, "latin1").split("\0").find((e) => e.startsWith("TSMPI_TEST_MARK="));
    for (const pid of mark ? leftovers(mark) : []) {
      try {
        if (fs.readFileSync(`/proc/${pid}/environ`, "latin1").split("\0").includes(`TSMPI_RANK=${rank}`)) return pid;
      } catch {
        /* gone */
      }
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`rank ${rank} did not start`);
}

const MODES: [string, NodeJS.ProcessEnv][] = [
  ["p2p", {}],
  ["collective", {}],
  ["large", {}],
  ["single-copy", { TSMPI_CMA_THRESHOLD: "1" }],
];

describe("fault matrix: a rank killed with SIGKILL mid-work ends the job", function () {
  this.timeout(60_000);
  for (const [mode, env] of MODES) {
    it(`during ${mode}: exit 137, the rank and signal named, no process left`, async function () {
      let launcher = 0;
      const job = tsmpirun(["-n", "4", fixture("busy.js"), mode], { timeoutMs: 50_000, env, onStart: (p) => (launcher = p) });
      const victim = await rankPid(launcher, 2);
      await new Promise((r) => setTimeout(r, 1500)); // well inside the loop
      const t0 = Date.now();
      process.kill(victim, "SIGKILL");
      const r = await job;
      const ms = Date.now() - t0;
      await checkJob(r, 137);
      assert.match(r.stderr, /rank 2 \(pid \d+ on [^)]+\) was killed by signal SIGKILL/);
      console.log(`      the job ended ${ms} ms after the kill`);
    });
  }
});

describe("fault matrix: a rank that stops answering", function () {
  this.timeout(60_000);
  it("a rank stopped with SIGSTOP while the others wait in a collective ends the job after TSMPI_STOPPED_TIMEOUT, naming it", async function () {
    let launcher = 0;
    const job = tsmpirun(["-n", "4", fixture("busy.js"), "collective"], { timeoutMs: 50_000, env: { TSMPI_STOPPED_TIMEOUT: "2" }, onStart: (p) => (launcher = p) });
    const victim = await rankPid(launcher, 2);
    await new Promise((r) => setTimeout(r, 1500));
    const t0 = Date.now();
    process.kill(victim, "SIGSTOP");
    const r = await job;
    const ms = Date.now() - t0;
    await checkJob(r, 1);
    assert.match(r.stderr, /rank 2 \(pid \d+ on [^)]+\) has been stopped by a signal \(SIGSTOP\?\) for \d+ s/);
    console.log(`      the job ended ${ms} ms after the SIGSTOP (TSMPI_STOPPED_TIMEOUT=2)`);
  });
});
