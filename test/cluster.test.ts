// The test cluster itself: fake ssh hosts node1/node2 and SLURM on them (test/cluster/*.sh).
// Runs only as root with the packages present; otherwise it prints why and skips.
// Later tests that launch tsmpi over ssh or srun belong in this file, inside this describe,
// so the rig comes up once: use `rig` (hosts, mode) and `run()`/`rigEnv()` from ./cluster/rig.js.
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import crypto from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { slurmPorts } from "../lib/job/environment.js";
import { expandHostlist, expandTasksPerNode } from "../lib/job/hostlist.js";
import { cases as collectiveCases } from "./suites/collectives.js";
import { cases as intercommCases } from "./suites/intercomm.js";
import { cases as p2pCases } from "./suites/p2p.js";
import { clusterAvailable, rigDown, rigUp, run, type RigInfo } from "./cluster/rig.js";
import { describeSuite } from "./helpers/suites.js";
import {
  checkJob,
  fixture,
  jsonLines,
  leftovers,
  ROOT,
  runProgram,
  settledLeftovers,
  tsmpirun,
  waitForRankPids,
  type JobResult,
} from "./helpers/launch.js";

const HOSTS = "node1:2,node2:2";
/** Forwards the test's marker to remote ranks (ssh passes only TSMPI_* it is told about). */
const MARK = ["-x", "TSMPI_TEST_MARK"];
const EXAMPLES: Record<string, RegExp> = {
  "hello.js": /Hello, World! I am process 3 of 4 on node2\./,
  "ring.js": /went 3 laps around 4 ranks/,
  "pi.js": /pi is approximately 3\.1\d+/,
  "heat.js": /identical to the single-rank run in every cell/,
};

/** Starts `srun ...srunArgs node ...args` from this machine (a direct launch, no tsmpirun). */
function srun(srunArgs: string[], args: string[], timeoutMs = 120_000): Promise<JobResult> {
  return runProgram("srun", [...srunArgs, process.execPath, ...args], { timeoutMs });
}

/** The JSON lines the ranks printed (a `[rank] ` tag stripped), by rank. */
function rankLines(r: JobResult): ReturnType<typeof jsonLines> {
  const untagged = r.stdout
    .split("\n")
    .map((l) => l.replace(/^\[\d+\] /, ""))
    .join("\n");
  return jsonLines(untagged).sort((a, b) => a.rank - b.rank);
}

/** Starts `salloc ...sallocArgs node tsmpirun ...args`: tsmpirun inside an allocation. */
function salloc(sallocArgs: string[], args: string[], timeoutMs = 120_000): Promise<JobResult> {
  return runProgram("salloc", [...sallocArgs, process.execPath, path.join(ROOT, "dist", "launcher", "cli.js"), ...args], { timeoutMs });
}

describe("cluster rig: fake ssh hosts + SLURM", function () {
  this.timeout(180_000);
  let rig: RigInfo | undefined;
  let attempted = false;

  before(async function () {
    const avail = await clusterAvailable();
    if (!avail.ok) {
      console.log(`    skipping cluster tests: ${avail.reason}`);
      this.skip();
    }
    attempted = true;
    const up = await rigUp({ timeoutMs: 120_000 });
    // Root and packages are there, so a rig that does not come up is a failure, not a skip.
    if (!up.ok) throw new Error(`test/cluster/up.sh failed: ${up.reason}`);
    rig = up;
  });

  after(async function () {
    if (!attempted) return;
    const down = await rigDown({ timeoutMs: 60_000 });
    assert.ok(down.ok, down.ok ? "" : down.reason);
  });

  for (const host of ["node1", "node2"]) {
    it(`ssh ${host} hostname prints ${host}`, async function () {
      const r = await run("ssh", [host, "hostname"], { timeoutMs: 20_000 });
      assert.equal(r.timedOut, false, r.stderr);
      assert.equal(r.code, 0, r.stderr);
      if (!rig!.ownHostnames) {
        console.log(`    no own hostnames here (no CAP_SYS_ADMIN): ${host} reports ${r.stdout.trim()}`);
        this.skip();
      }
      assert.equal(r.stdout.trim(), host);
    });
  }

  it("srun -N 2 -n 4 lands on both nodes", async () => {
    const r = await run("srun", ["-N", "2", "-n", "4", "printenv", "SLURMD_NODENAME"], { timeoutMs: 60_000 });
    assert.equal(r.timedOut, false, r.stderr);
    assert.equal(r.code, 0, r.stderr);
    const nodes = r.stdout.split("\n").filter((l) => l !== "");
    assert.equal(nodes.length, 4);
    assert.deepEqual([...new Set(nodes)].sort(), ["node1", "node2"]);
  });

  it("srun -N 2 -n 4 hostname runs on both fake hosts", async function () {
    if (!rig!.ownHostnames) {
      console.log("    no own hostnames here (no CAP_SYS_ADMIN): every task reports this machine's name");
      this.skip();
    }
    const r = await run("srun", ["-N", "2", "-n", "4", "hostname"], { timeoutMs: 60_000 });
    assert.equal(r.timedOut, false, r.stderr);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual([...new Set(r.stdout.split("\n").filter((l) => l !== ""))].sort(), ["node1", "node2"]);
  });

  it("SLURM_JOB_NODELIST and SLURM_TASKS_PER_NODE expand with lib/job/hostlist", async () => {
    const script = 'echo "$SLURM_PROCID $SLURMD_NODENAME $SLURM_JOB_NODELIST $SLURM_TASKS_PER_NODE"';
    const r = await run("srun", ["-N", "2", "--ntasks-per-node=2", "bash", "-c", script], { timeoutMs: 60_000 });
    assert.equal(r.timedOut, false, r.stderr);
    assert.equal(r.code, 0, r.stderr);
    const rows = r.stdout
      .split("\n")
      .filter((l) => l !== "")
      .map((l) => l.split(" "));
    assert.equal(rows.length, 4);
    for (const [rank, node, nodelist, perNode] of rows) {
      const hosts = expandHostlist(nodelist!);
      const counts = expandTasksPerNode(perNode!);
      assert.deepEqual(hosts, ["node1", "node2"]);
      assert.deepEqual(counts, [2, 2]);
      // block distribution: ranks 0-1 on the first host of the list, 2-3 on the second
      assert.equal(node, hosts[Math.floor(Number(rank) / 2)]);
    }
  });

  describe("tsmpirun --host / --hostfile: ranks over ssh", function () {
    for (const [example, expect] of Object.entries(EXAMPLES)) {
      it(`examples/${example} on 4 ranks across node1 and node2 with --host ${HOSTS}`, async function () {
        const r = await tsmpirun(["-n", "4", "--host", HOSTS, ...MARK, path.join(ROOT, "dist", "examples", example)], {
          timeoutMs: 60_000,
        });
        await checkJob(r, 0, 5000);
        assert.match(r.stdout, expect);
      });
    }

    for (const [format, text] of [
      ["Open MPI", "# test hostfile\nnode1 slots=2\n\nnode2 slots=2 max_slots=4   # trailing comment\n"],
      ["Hydra", "node1:2\nnode2:2\n"],
    ]) {
      it(`every example with a ${format} hostfile`, async function () {
        const file = path.join(os.tmpdir(), `tsmpi-hostfile-${process.pid}`);
        fs.writeFileSync(file, text!);
        try {
          for (const [example, expect] of Object.entries(EXAMPLES)) {
            const r = await tsmpirun(["--hostfile", file, ...MARK, path.join(ROOT, "dist", "examples", example)], { timeoutMs: 60_000 });
            await checkJob(r, 0, 5000);
            assert.match(r.stdout, expect);
          }
        } finally {
          fs.rmSync(file, { force: true });
        }
      });
    }

    it("places ranks: --map-by slot (default), --map-by node, --ppn; local ranks per host; same working directory", async function () {
      const place = async (args: string[]) => {
        const r = await tsmpirun([...args, ...MARK, fixture("env.js")], { timeoutMs: 60_000 });
        await checkJob(r, 0, 5000);
        return r.stdout
          .trim()
          .split("\n")
          .map((l) => JSON.parse(l))
          .sort((a, b) => a.rank - b.rank);
      };
      const bySlot = await place(["-n", "4", "--host", HOSTS]);
      assert.deepEqual(
        bySlot.map((s) => s.host),
        ["node1", "node1", "node2", "node2"],
      );
      assert.deepEqual(
        bySlot.map((s) => [s.local.rank, s.local.size]),
        [
          [0, 2],
          [1, 2],
          [0, 2],
          [1, 2],
        ],
      );
      assert.ok(bySlot.every((s) => s.cwd === ROOT));
      const byNode = await place(["-n", "4", "--host", HOSTS, "--map-by", "node"]);
      assert.deepEqual(
        byNode.map((s) => s.host),
        ["node1", "node2", "node1", "node2"],
      );
      const ppn = await place(["-n", "2", "--host", HOSTS, "--ppn", "1"]);
      assert.deepEqual(
        ppn.map((s) => s.host),
        ["node1", "node2"],
      );
    });

    it("more ranks than slots is an error naming the numbers, unless --oversubscribe", async function () {
      const r = await tsmpirun(["-n", "5", "--host", HOSTS, fixture("env.js")]);
      await checkJob(r, 2, 5000);
      assert.match(r.stderr, /5 ranks.*4 slots/);
      const o = await tsmpirun(["-n", "5", "--host", HOSTS, "--oversubscribe", ...MARK, fixture("env.js")], { timeoutMs: 60_000 });
      await checkJob(o, 0, 5000);
      assert.equal(o.stdout.trim().split("\n").length, 5);
    });

    it("this machine's name resolves to 127.0.0.1 here, yet a job across it and node1 works (no loopback address reaches a remote peer)", async function () {
      const name = os.hostname();
      const r = await tsmpirun(["-n", "3", "--host", `${name}:1,node1:2`, ...MARK, fixture("run-suite.js"), "p2p", "world"], {
        timeoutMs: 120_000,
      });
      await checkJob(r, 0, 5000);
      assert.ok(!r.stdout.includes('"ok":false'), r.stdout);
      assert.equal(r.stdout.split("\n").filter((l) => l.includes('"ok":true')).length, 3 * Object.keys(p2pCases).length);
    });

    it("--iface picks the advertised subnet; an unknown interface is a clear error", async function () {
      const r = await tsmpirun(
        ["-n", "2", "--host", "node1,node2", "--iface", `${rig!.subnet}.0/24`, ...MARK, path.join(ROOT, "dist", "examples", "ring.js")],
        { timeoutMs: 60_000 },
      );
      await checkJob(r, 0, 5000);
      const bad = await tsmpirun(["-n", "2", "--host", "node1,node2", "--iface", "nosuch0", fixture("env.js")], { timeoutMs: 60_000 });
      assert.notEqual(bad.code, 0);
      assert.match(bad.stderr, /iface must name an interface or a subnet .*nosuch0/);
    });
  });

  describe("failures across hosts end the job, with no process left on any host", function () {
    it("an unreachable host (nothing listens on the ssh port) is a clear error naming the host, fast", async function () {
      const r = await tsmpirun(["-n", "2", "--host", "node1,node2", "--launch-agent", "ssh -p 2999", fixture("env.js")], {
        timeoutMs: 30_000,
      });
      await checkJob(r, 255, 5000);
      assert.match(r.stderr, /could not start rank \d on node[12]/);
    });

    it("an ssh login that is refused is a clear error naming the host", async function () {
      const agent =
        "ssh -F /dev/null -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o IdentitiesOnly=yes -o IdentityFile=/nonexistent";
      const r = await tsmpirun(["-n", "2", "--host", "node1,node2", "--launch-agent", agent, fixture("env.js")], { timeoutMs: 30_000 });
      await checkJob(r, 255, 5000);
      assert.match(r.stderr, /Permission denied/);
      assert.match(r.stderr, /could not start rank \d on node[12]/);
    });

    for (const [mode, code, message] of [
      ["throw", 1, /rank 3 \(pid \d+ on node2\) exited with code 1/],
      ["signal", 137, /rank 3 \(pid \d+ on node2\) died/],
      ["abort", 5, /rank 3 called abort\(5\)/],
    ] as const) {
      it(`a remote rank that fails (${mode}) ends the job with code ${code}`, async function () {
        const r = await tsmpirun(["-n", "4", "--host", HOSTS, ...MARK, fixture("fail.js"), mode, "3"], { timeoutMs: 30_000 });
        await checkJob(r, code, 5000);
        assert.match(r.stderr, message);
      });
    }

    for (const signal of ["SIGINT", "SIGKILL"] as const) {
      it(`${signal} to tsmpirun stops the remote ranks too`, async function () {
        let pid = 0;
        const job = tsmpirun(["-n", "4", "--host", HOSTS, ...MARK, fixture("fail.js"), "hang"], {
          timeoutMs: 30_000,
          onStart: (p) => (pid = p),
        });
        const deadline = Date.now() + 15_000;
        let marker = "";
        while (Date.now() < deadline) {
          const mark = fs
            .readFileSync(`/proc/${pid}/environ`, "latin1")
            .split("\0")
            .find((e) => e.startsWith("TSMPI_TEST_MARK="));
          if (mark && leftovers(mark).length >= 5) {
            marker = mark;
            break;
          }
          await new Promise((res) => setTimeout(res, 100));
        }
        assert.ok(marker, "the four ranks did not start");
        await new Promise((res) => setTimeout(res, 500));
        process.kill(pid, signal);
        const r = await job;
        if (signal === "SIGINT") await checkJob(r, 130, 5000);
        assert.deepEqual(await settledLeftovers(marker, 8000), [], "every remote rank must exit");
      });
    }
  });

  describe("a host that disappears or a remote rank that stops ends the job (the heartbeat)", function () {
    const BEAT = { TSMPI_HEARTBEAT_TIMEOUT: "3", TSMPI_STOPPED_TIMEOUT: "3" };

    /** Starts a job of 4 ranks over node1 and node2 that wait forever; resolves once all run. */
    async function hangingJob(): Promise<{ job: Promise<JobResult>; marker: string; pids: number[] }> {
      let marker = "";
      const job = tsmpirun(["-n", "4", "--host", HOSTS, ...MARK, fixture("fail.js"), "hang"], {
        timeoutMs: 60_000,
        env: BEAT,
        onStart: (_p, m) => (marker = m),
      });
      const pids = await waitForRankPids(marker, 4, 20_000);
      await new Promise((res) => setTimeout(res, 1500)); // the rendezvous is done and the heartbeats beat
      return { job, marker, pids };
    }

    /** The pids of every process in node2's network namespace (its sshd, slurmd, ranks). */
    async function node2Pids(): Promise<number[]> {
      const r = await run("ip", ["netns", "pids", "tsmpi-node2"], { timeoutMs: 10_000 });
      assert.equal(r.code, 0, r.stderr);
      return r.stdout.split("\n").filter(Boolean).map(Number);
    }

    it("node2's link taken down mid-job: the job ends within seconds, naming node2; once the link is back no process is left", async function () {
      if (rig!.mode !== "netns") {
        console.log("      skipped: the fake hosts share this machine's network (MODE=lo), so no link can be taken down");
        return this.skip();
      }
      const { job, marker } = await hangingJob();
      const down = await run("ip", ["link", "set", "tsmv2", "down"], { timeoutMs: 10_000 });
      assert.equal(down.code, 0, down.stderr);
      let r: JobResult;
      try {
        r = await job;
      } finally {
        await run("ip", ["link", "set", "tsmv2", "up"], { timeoutMs: 10_000 });
      }
      await checkJob(r, 255, 60_000);
      assert.match(r.stderr, /host node2 \(ranks 2, 3\) stopped answering: no heartbeat for \d+ s/);
      assert.ok(r.ms < 30_000, `the job took ${r.ms} ms to end`);
      assert.deepEqual(await settledLeftovers(marker, 1000), []);
    });

    it("every process of node2 frozen with SIGSTOP: the job ends within seconds, naming node2; once thawed no process is left", async function () {
      if (rig!.mode !== "netns") {
        console.log("      skipped: the fake hosts share this machine's processes and network (MODE=lo)");
        return this.skip();
      }
      const { job, marker } = await hangingJob();
      const frozen = await node2Pids();
      for (const pid of frozen) process.kill(pid, "SIGSTOP");
      let r: JobResult;
      try {
        r = await job;
      } finally {
        for (const pid of frozen) {
          try {
            process.kill(pid, "SIGCONT");
          } catch {
            /* gone */
          }
        }
      }
      await checkJob(r, 255, 30_000);
      assert.match(r.stderr, /host node2 \(ranks 2, 3\) stopped answering/);
      assert.ok(r.ms < 30_000, `the job took ${r.ms} ms to end`);
      assert.deepEqual(await settledLeftovers(marker, 5000), [], "once thawed, every process of node2 must exit");
    });

    it("one remote rank stopped with SIGSTOP while the others wait: the job ends after TSMPI_STOPPED_TIMEOUT, naming it", async function () {
      const { job, pids } = await hangingJob();
      const rank3 = pids.find((pid) => fs.readFileSync(`/proc/${pid}/environ`, "latin1").split("\0").includes("TSMPI_RANK=3"));
      assert.ok(rank3, "rank 3 runs");
      process.kill(rank3, "SIGSTOP");
      const r = await job;
      await checkJob(r, 1, 10_000);
      assert.match(r.stderr, new RegExp(`rank 3 \\(pid ${rank3} on node2\\) has been stopped by a signal`));
      assert.ok(r.ms < 30_000, `the job took ${r.ms} ms to end`);
    });

    it("a long computation on a remote rank is not taken for a dead host", async function () {
      const r = await tsmpirun(["-n", "2", "--host", "node1,node2", ...MARK, fixture("compute.js"), "6000"], {
        timeoutMs: 60_000,
        env: BEAT,
      });
      await checkJob(r, 0, 5000);
      assert.equal(r.stdout.split("\n").filter((l) => l.endsWith("done after the computation")).length, 2, r.stdout);
    });
  });

  describe("a rank whose launching host vanished exits by itself (issue 17, point 6)", function () {
    it("tsmpirun's host dies (its processes killed, node2 cut off: no FIN ever arrives) while node2's ranks wait in recv: they exit within TSMPI_HEARTBEAT_TIMEOUT plus a margin", async function () {
      if (rig!.mode !== "netns") {
        console.log("      skipped: the fake hosts share this machine's network (MODE=lo), so no link can be taken down");
        return this.skip();
      }
      const timeoutS = 3;
      let marker = "";
      const job = tsmpirun(["-n", "2", "--host", "node2:2", ...MARK, fixture("fail.js"), "hang"], {
        timeoutMs: 90_000,
        env: { TSMPI_HEARTBEAT_TIMEOUT: String(timeoutS) },
        onStart: (_p, m) => (marker = m),
      });
      await waitForRankPids(marker, 2, 20_000);
      await new Promise((res) => setTimeout(res, 1500)); // the rendezvous is done: both ranks wait in recv
      const r2 = await run("ip", ["netns", "pids", "tsmpi-node2"], { timeoutMs: 10_000 });
      const onNode2 = new Set(r2.stdout.split("\n").filter(Boolean).map(Number));
      const down = await run("ip", ["link", "set", "tsmv2", "down"], { timeoutMs: 10_000 });
      assert.equal(down.code, 0, down.stderr);
      let left: number[] = [];
      let took = 0;
      const t0 = Date.now();
      try {
        // The launching host dies: tsmpirun, its ssh clients and heartbeats, without a word to node2.
        for (const pid of leftovers(marker)) {
          if (onNode2.has(pid)) continue;
          try {
            process.kill(pid, "SIGKILL");
          } catch {
            /* gone */
          }
        }
        await job;
        const bound = timeoutS * 1000 + 12_000;
        left = leftovers(marker);
        while (left.length > 0 && Date.now() - t0 < bound) {
          await new Promise((res) => setTimeout(res, 100));
          left = leftovers(marker);
        }
        took = Date.now() - t0;
      } finally {
        await run("ip", ["link", "set", "tsmv2", "up"], { timeoutMs: 10_000 });
        await settledLeftovers(marker, 5000);
      }
      assert.deepEqual(left, [], `node2's ranks were still running ${took} ms after their launcher's host vanished`);
      console.log(`      node2's ranks exited ${took} ms after the link went down (TSMPI_HEARTBEAT_TIMEOUT=${timeoutS})`);
    });
  });

  describe("SIGUSR1 across hosts (issue 17, point 4)", function () {
    it("SIGUSR1 to tsmpirun reaches the listeners of ranks on node1 and node2 (passed on over ssh), and no inspector opens", async function () {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), "tsmpi-usr1-"));
      try {
        let launcher = 0;
        const job = tsmpirun(["-n", "4", "--host", HOSTS, ...MARK, fixture("signals.js"), "listen", dir], {
          timeoutMs: 60_000,
          onStart: (p) => (launcher = p),
        });
        const end = Date.now() + 30_000;
        while (
          [0, 1, 2, 3].some(
            (r) => !fs.existsSync(path.join(dir, `ready.${r}`)) || fs.readFileSync(path.join(dir, `ready.${r}`), "utf8") === "",
          )
        ) {
          assert.ok(Date.now() < end, "the ranks did not get ready");
          await new Promise((res) => setTimeout(res, 50));
        }
        process.kill(launcher, "SIGUSR1");
        const r = await job;
        await checkJob(r, 0, 5000);
        assert.deepEqual(
          r.stdout
            .split("\n")
            .filter((l) => l.endsWith("got SIGUSR1"))
            .sort(),
          [0, 1, 2, 3].map((k) => `rank ${k} got SIGUSR1`),
        );
        assert.doesNotMatch(r.stderr, /Debugger listening|Starting inspector/);
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    });
  });

  describe("security between hosts: keys on no command line, --insecure", function () {
    it("no process on any host shows the job key or a -x value on its command line (both travel through ssh's stdin)", async function () {
      let pid = 0;
      const secret = `s3cr3t-${crypto.randomBytes(8).toString("hex")}`;
      // `-x NAME` takes the value from tsmpirun's environment: `-x NAME=value` would show it on tsmpirun's own command line.
      const job = tsmpirun(["-n", "4", "--host", HOSTS, ...MARK, "-x", "TSMPI_TEST_SECRET", fixture("fail.js"), "hang"], {
        timeoutMs: 40_000,
        env: { TSMPI_TEST_SECRET: secret },
        onStart: (p) => (pid = p),
      });
      const deadline = Date.now() + 20_000;
      let key = "";
      let got = "";
      let marker = "";
      while (!(key && got) && Date.now() < deadline) {
        marker =
          fs
            .readFileSync(`/proc/${pid}/environ`, "latin1")
            .split("\0")
            .find((e) => e.startsWith("TSMPI_TEST_MARK=")) ?? "";
        for (const p of marker ? leftovers(marker) : []) {
          try {
            // The environment the rank started with (the runtime takes the key out of process.env).
            const env = fs.readFileSync(`/proc/${p}/environ`, "latin1").split("\0");
            if (env.includes("TSMPI_RANK=3")) {
              key = env.find((e) => e.startsWith("TSMPI_JOB_KEY="))?.slice(14) ?? "";
              got = env.find((e) => e.startsWith("TSMPI_TEST_SECRET="))?.slice(18) ?? "";
            }
          } catch {
            /* gone */
          }
        }
        if (!(key && got)) await new Promise((res) => setTimeout(res, 100));
      }
      assert.ok(key.length >= 32, "rank 3 (on node2) got its job key");
      assert.equal(got, secret, "rank 3 (on node2) got the -x value");
      // Every host's processes: the fake hosts share this machine's process table.
      const shown: string[] = [];
      for (const entry of fs.readdirSync("/proc")) {
        if (!/^\d+$/.test(entry)) continue;
        try {
          const cmd = fs.readFileSync(`/proc/${entry}/cmdline`, "latin1");
          if (cmd.includes(key) || cmd.includes(secret)) shown.push(`${entry}: ${cmd.replace(/\0/g, " ").slice(0, 300)}`);
        } catch {
          /* gone */
        }
      }
      process.kill(pid, "SIGINT");
      await checkJob(await job, 130, 8000);
      assert.deepEqual(shown, [], "command lines showing the key or the -x value");
    });

    it("remote ranks and their child processes: no TSMPI_JOB_KEY in process.env or a child's; -x values arrive intact", async function () {
      const secret = 'it\'s "quoted" $HOME `x`';
      const r = await tsmpirun(["-n", "4", "--host", HOSTS, ...MARK, "-x", `TSMPI_TEST_SECRET=${secret}`, fixture("child-env.js")], {
        timeoutMs: 60_000,
      });
      await checkJob(r, 0, 5000);
      const lines = jsonLines(r.stdout);
      assert.equal(lines.length, 4, r.stdout + r.stderr);
      for (const l of lines) {
        assert.equal(l.inEnv, false, `rank ${l.rank}`);
        assert.deepEqual(l.inChild, [], `rank ${l.rank}`);
        assert.equal(l.secret, secret, `rank ${l.rank}`);
      }
    });

    it("flood over CURVE between hosts: 3 senders, 300,000 messages with 1 MiB arrays, exactly once and in order; senders wait", async function () {
      const r = await tsmpirun(["-n", "4", "--host", HOSTS, ...MARK, fixture("flood.js"), "100000", "1000", "300"], {
        timeoutMs: 170_000,
        env: { TSMPI_SEND_HWM: String(4 * 2 ** 20) },
      });
      await checkJob(r, 0, 5000);
      const lines = jsonLines(r.stdout);
      const rx = lines.find((l) => l.rank === 0);
      assert.ok(rx, r.stderr);
      assert.deepEqual(rx.perSender, [100000, 100000, 100000]);
      assert.equal(rx.small + rx.large, 300000);
      assert.equal(rx.outOfOrder, 0);
      assert.equal(rx.badValues, 0);
      assert.ok(rx.checksumOk);
      // Ranks 2 and 3 send from node2, over CURVE (rank 1 shares node1 with the receiver).
      for (const s of lines.filter((l) => l.rank >= 2)) assert.ok(s.waited > 0, `rank ${s.rank} never waited`);
      console.log(`      ${rx.rate} messages/s across hosts`);
    });

    it("a rank whose isends nobody receives still ends across hosts (issue 17, point 1): exit 0 within TSMPI_LINGER_MS, with the warning", async function () {
      // Rank 0 (node1) isends 20,000 x 1 KiB to each of ranks 1 (node1) and 2, 3 (node2, over CURVE); nobody receives.
      const linger = 2000;
      const r = await tsmpirun(["-n", "4", "--host", HOSTS, ...MARK, "-x", `TSMPI_LINGER_MS=${linger}`, fixture("unreceived.js")], {
        timeoutMs: 60_000,
      });
      const end = Date.now();
      await checkJob(r, 0, 5000);
      const done = jsonLines(r.stdout).find((l) => l.rank === 0)?.done as number;
      assert.ok(done, r.stdout + r.stderr);
      const warning = r.stderr
        .split("\n")
        .find((l) => l.startsWith("tsmpi: warning: rank 0 finished with messages that were never received"));
      assert.ok(warning, r.stderr);
      for (const dest of [1, 2, 3]) assert.match(warning, new RegExp(`\\b\\d+ to rank ${dest}\\b`));
      // The launcher's own exit over ssh adds to the linger: generous, yet far from a hang.
      assert.ok(end - done < linger + 6000, `the job ended ${end - done} ms after rank 0's script was done`);
      console.log(
        `      ended ${end - done} ms after rank 0's script (TSMPI_LINGER_MS=${linger}): ${warning.replace(/^.*received: /, "").replace(/ \(.*$/, "")}`,
      );
    });

    it("--insecure runs a job across hosts in clear text, with a warning on stderr", async function () {
      const r = await tsmpirun(
        ["-n", "2", "--host", "node1,node2", "--insecure", ...MARK, path.join(ROOT, "dist", "examples", "ring.js")],
        { timeoutMs: 60_000 },
      );
      await checkJob(r, 0, 5000);
      assert.match(r.stdout, /went 3 laps around 2 ranks/);
      assert.match(r.stderr, /warning: --insecure .*not encrypted/);
    });
  });

  describe("SLURM: direct srun launch, and tsmpirun inside sbatch and salloc", function () {
    it("srun -N 2 -n 4 node hello.js runs without tsmpirun, ranks from SLURM_PROCID", async function () {
      const r = await srun(["-N", "2", "-n", "4"], [path.join(ROOT, "dist", "examples", "hello.js")]);
      await checkJob(r, 0, 5000);
      const lines = r.stdout.trim().split("\n").sort();
      assert.equal(lines.length, 4);
      lines.forEach((l, i) => assert.match(l, new RegExp(`^Hello, World! I am process ${i} of 4 on node[12]\\.$`)));
      assert.ok(lines.some((l) => l.endsWith("node1.")) && lines.some((l) => l.endsWith("node2.")));
    });

    it("srun tasks get local ranks and sizes per node from SLURM", async function () {
      const r = await srun(["-N", "2", "--ntasks-per-node=2"], [fixture("env.js")]);
      await checkJob(r, 0, 5000);
      const seen = r.stdout
        .trim()
        .split("\n")
        .map((l) => JSON.parse(l))
        .sort((a, b) => a.rank - b.rank);
      assert.deepEqual(
        seen.map((s) => [s.rank, s.size, s.local.rank, s.local.size]),
        [
          [0, 4, 0, 2],
          [1, 4, 1, 2],
          [2, 4, 0, 2],
          [3, 4, 1, 2],
        ],
      );
      assert.deepEqual(
        seen.map((s) => s.env.TSMPI_RANK),
        ["0", "1", "2", "3"],
      );
    });

    it("a rank that fails under a direct srun ends the whole step (no hang)", async function () {
      const r = await srun(["-N", "2", "-n", "4"], [fixture("fail.js"), "throw", "3"], 30_000);
      assert.equal(r.timedOut, false, `the step hung; stderr:\n${r.stderr}`);
      assert.notEqual(r.code, 0);
      assert.deepEqual(await settledLeftovers(r.marker, 5000), [], "no process of the step may be left");
    });

    it("salloc -N 2 -n 4 tsmpirun (no -n) runs the allocation's 4 tasks through srun", async function () {
      const r = await salloc(["-N", "2", "-n", "4"], ["--tag-output", fixture("env.js")]);
      await checkJob(r, 0, 5000);
      const lines = r.stdout
        .trim()
        .split("\n")
        .filter((l) => l.startsWith("["));
      assert.equal(lines.length, 4);
      const seen = lines.map((l) => ({ tag: Number(/^\[(\d+)\] /.exec(l)![1]), ...JSON.parse(l.replace(/^\[\d+\] /, "")) }));
      for (const s of seen) assert.equal(s.tag, s.rank);
      assert.deepEqual([...new Set(seen.map((s) => s.host))].sort(), ["node1", "node2"]);
    });

    it("tsmpirun inside an allocation: the job key is not in srun's environment nor the ranks' (issue 17)", async function () {
      const r = await salloc(["-N", "2", "-n", "4"], [fixture("child-env.js")]);
      await checkJob(r, 0, 5000);
      const lines = jsonLines(r.stdout.replace(/^\d+: /gm, ""));
      assert.equal(lines.length, 4, r.stdout + r.stderr);
      for (const l of lines) {
        assert.equal(l.initialKey, false, `rank ${l.rank} was started with TSMPI_JOB_KEY in its environment`);
        assert.equal(l.inEnv, false);
        assert.deepEqual(l.inChild, []);
      }
    });

    it("a direct srun launch refuses a TSMPI_JOB_KEY of less than 128 bits, with a clear message and no hang (issue 17)", async function () {
      const r = await runProgram("srun", ["-N", "2", "-n", "2", process.execPath, fixture("env.js")], {
        timeoutMs: 60_000,
        env: { TSMPI_JOB_KEY: "hunter2" },
      });
      assert.equal(r.timedOut, false, r.stderr);
      assert.notEqual(r.code, 0);
      assert.match(r.stderr, /TSMPI_JOB_KEY must hold at least 128 bits/);
      assert.ok(!r.stderr.includes("hunter2"), "the message never repeats the secret");
      assert.deepEqual(await settledLeftovers(r.marker, 5000), []);
    });

    it("a direct srun whose first rendezvous ports on node1 are held by another program runs on the next one (issue 17)", async function () {
      if (rig!.mode !== "netns") {
        console.log("      skipped: the fake hosts share this machine's network (MODE=lo)");
        return this.skip();
      }
      // An allocation first, so that the job id, and with it the candidate ports, are known before the step starts.
      const alloc = await run("salloc", ["-N", "2", "-n", "2", "--no-shell"], { timeoutMs: 30_000 });
      const jobId = Number(/allocation (\d+)/.exec(alloc.stderr)?.[1]);
      assert.ok(jobId > 0, alloc.stderr);
      let squatter: ChildProcess | undefined;
      try {
        const ports = slurmPorts(jobId, 0).slice(0, 2);
        // On node1, on every address: it answers each connection with a line of junk and hangs up.
        const code = `let n = 0; const net = require("node:net"); let up = 0;
          for (const p of ${JSON.stringify(ports)}) net.createServer((c) => { n++; c.on("error", () => {}); c.end("HTTP/1.0 400 no\\r\\n\\r\\n"); }).listen(p, "0.0.0.0", () => ++up === 2 && console.log("ready"));
          process.on("SIGTERM", () => { console.log("connections " + n); process.exit(0); });`;
        squatter = spawn("ip", ["netns", "exec", "tsmpi-node1", process.execPath, "-e", code], { stdio: ["ignore", "pipe", "inherit"] });
        let out = "";
        squatter.stdout!.on("data", (d) => (out += d));
        for (let i = 0; i < 100 && !out.includes("ready"); i++) await new Promise((res) => setTimeout(res, 100));
        assert.ok(out.includes("ready"), "the squatter listens");
        const r = await runProgram(
          "srun",
          [`--jobid=${jobId}`, "-N", "2", "-n", "2", process.execPath, path.join(ROOT, "dist", "examples", "hello.js")],
          { timeoutMs: 90_000 },
        );
        await checkJob(r, 0, 5000);
        assert.equal(
          r.stdout
            .trim()
            .split("\n")
            .filter((l) => l.startsWith("Hello, World!")).length,
          2,
          r.stdout + r.stderr,
        );
        squatter.kill("SIGTERM");
        await new Promise((res) => squatter!.once("exit", res));
        assert.ok(Number(/connections (\d+)/.exec(out)?.[1]) > 0, `the ranks tried the squatted ports first (${out.trim()})`);
      } finally {
        squatter?.kill("SIGKILL");
        await run("scancel", [String(jobId)], { timeoutMs: 10_000 });
      }
    });

    it("a failing rank under tsmpirun in an allocation is named, with its code (srun --kill-on-bad-exit)", async function () {
      const r = await salloc(["-N", "2", "-n", "4"], [fixture("fail.js"), "exit", "3"], 30_000);
      await checkJob(r, 7, 5000);
      assert.match(r.stderr, /rank 3 \(pid \d+ on node2\) exited with code 7/);
    });

    it("sbatch runs tsmpirun inside the batch script", async function () {
      const out = path.join(os.tmpdir(), `tsmpi-sbatch-${process.pid}.out`);
      const script = `${process.execPath} ${path.join(ROOT, "dist", "launcher", "cli.js")} ${path.join(ROOT, "dist", "examples", "ring.js")}`;
      const sub = await runProgram("sbatch", ["--parsable", "--wait", "-N", "2", "-n", "4", "-o", out, "--wrap", script], {
        timeoutMs: 120_000,
      });
      try {
        await checkJob(sub, 0, 5000);
        assert.match(fs.readFileSync(out, "utf8"), /went 3 laps around 4 ranks/);
      } finally {
        fs.rmSync(out, { force: true });
      }
    });
  });

  describe("Comm.Spawn in a job across hosts (issue 19 item 7)", function () {
    it("over ssh: COMM_WORLD across node1 and node2 refuses to spawn on every rank; each rank's COMM_SELF spawns on its own host", async function () {
      const r = await tsmpirun(["-n", "2", "--host", "node1:1,node2:1", ...MARK, fixture("spawn.js"), "hosts"], { timeoutMs: 120_000 });
      await checkJob(r, 0, 5000);
      assert.deepEqual(
        r.stdout
          .split("\n")
          .filter((l) => /^ok hosts \d/.test(l))
          .sort(),
        ["ok hosts 0 node1", "ok hosts 1 node2"],
      );
    });
    it("ranks started by a direct srun: the same", async function () {
      const r = await srun(["-N", "2", "-n", "2"], [fixture("spawn.js"), "hosts"]);
      await checkJob(r, 0, 5000);
      assert.deepEqual(
        r.stdout
          .split("\n")
          .filter((l) => /^ok hosts \d/.test(l))
          .sort(),
        ["ok hosts 0 node1", "ok hosts 1 node2"],
      );
    });
    it("tsmpirun inside an allocation: the same", async function () {
      const r = await salloc(["-N", "2", "-n", "2"], ["-n", "2", "--ppn", "1", fixture("spawn.js"), "hosts"], 120_000);
      await checkJob(r, 0, 5000);
      assert.deepEqual(
        r.stdout
          .split("\n")
          .filter((l) => /^ok hosts \d/.test(l))
          .sort(),
        ["ok hosts 0 node1", "ok hosts 1 node2"],
      );
    });
    it("tsmpirun -n 1 --host node1:1,node2:2: the children take the free slots on node2 (over ssh from node1); a Spawn_multiple's child beyond them runs on node1", async function () {
      const r = await tsmpirun(["-n", "1", "--host", "node1:1,node2:2", ...MARK, fixture("spawn.js"), "remote"], { timeoutMs: 120_000 });
      await checkJob(r, 0, 5000);
      const out = JSON.parse(
        r.stdout
          .split("\n")
          .filter((l) => l.startsWith('{"parent"'))
          .pop()!,
      );
      if (rig!.ownHostnames)
        assert.deepEqual(
          { ...out, steps: undefined },
          { parent: "node1", spawned: ["node2", "node2"], multiple: ["node2", "node2", "node1"], steps: undefined },
        );
      else assert.equal(out.multiple.length, 3);
    });
    it("salloc -N 2 -n 4 tsmpirun -n 1: the children start with srun, in a step of their own, on the allocation's nodes", async function () {
      const r = await salloc(["-N", "2", "-n", "4"], ["-n", "1", fixture("spawn.js"), "remote"], 120_000);
      await checkJob(r, 0, 5000);
      const out = JSON.parse(
        r.stdout
          .split("\n")
          .map((l) => l.replace(/^\[\d+\] /, ""))
          .filter((l) => l.startsWith('{"parent"'))
          .pop()!,
      );
      assert.equal(out.spawned.length, 2);
      assert.equal(out.multiple.length, 3);
      for (const step of out.steps.children) assert.notEqual(step, out.steps.parent, JSON.stringify(out.steps));
      if (rig!.ownHostnames) for (const h of [...out.spawned, ...out.multiple]) assert.ok(["node1", "node2"].includes(h), h);
    });
  });

  describe("tsmpi/futures: a PoolExecutor's workers over ssh hosts and through srun", function () {
    it(`tsmpirun -n 1 --host localhost:1,${HOSTS}: 4 workers on the free slots, over ssh, remote stacks name their host`, async function () {
      const r = await tsmpirun(["-n", "1", "--host", `localhost:1,${HOSTS}`, ...MARK, fixture("futures-cluster.js"), "4"], {
        timeoutMs: 120_000,
      });
      assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);
      const out = JSON.parse(r.stdout.trim().split("\n").pop()!);
      if (rig!.ownHostnames) assert.deepEqual(out.hosts, ["node1", "node2"]);
      assert.match(out.stack, /^ {4}-- raised on pool worker [0-3] on host \S+ \(pid \d+\):$/);
      await checkJob(r, 0, 5000);
    });

    it("salloc -N 2 -n 4 tsmpirun -n 1: 3 workers started with srun inside the allocation", async function () {
      const r = await salloc(["-N", "2", "-n", "4"], ["-n", "1", fixture("futures-cluster.js"), "3"], 120_000);
      assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);
      const out = JSON.parse(
        r.stdout
          .trim()
          .split("\n")
          .filter((l) => l.includes('"hosts"'))
          .pop()!
          .replace(/^\[\d+\] /, ""),
      );
      assert.ok(out.hosts.length >= 1, r.stdout);
      if (rig!.ownHostnames) for (const h of out.hosts) assert.ok(["node1", "node2"].includes(h), h);
      await checkJob(r, 0, 5000);
    });
  });

  describe("MPMD launch across hosts and in an allocation (issue 19, point 8)", function () {
    const SOURCE = path.join(ROOT, "test", "fixtures", "mpmd.ts");
    /** Checks what every rank of a job of the parts `parts` (APPNUM by rank) and `programs` printed. */
    function checkRanks(seen: ReturnType<typeof jsonLines>, parts: number[], programs: string[], hosts: string[]): void {
      assert.equal(seen.length, parts.length);
      seen.forEach((s, rank) => {
        assert.equal(s.rank, rank);
        assert.equal(s.size, parts.length);
        assert.equal(s.appnum, parts[rank]);
        assert.equal(s.program, programs[rank]);
        // one COMM_WORLD: the allgather spans every part on every host
        assert.deepEqual(
          s.world,
          parts.map((p, q) => [q, p, programs[q]]),
        );
        assert.deepEqual(s.attrs, { tagUb: 2 ** 31 - 1, dup: parts[rank], split: null, self: null, badKey: "ERR_TSMPI_ARG" });
        if (rig!.ownHostnames) assert.equal(s.host, hosts[rank], `rank ${rank}`);
      });
    }

    it(`--host ${HOSTS} -n 1 mpmd.js : -n 3 mpmd.ts (TypeScript on the remote host): one COMM_WORLD, the parts' ranks in order on the slots, each part's arguments and -x`, async function () {
      const r = await tsmpirun(
        [
          "--host",
          HOSTS,
          ...MARK,
          "-n",
          "1",
          fixture("mpmd.js"),
          "first",
          ":",
          "-n",
          "3",
          "-x",
          "TEST_PART=one",
          ...MARK,
          SOURCE,
          "second",
          "c d",
        ],
        { timeoutMs: 90_000 },
      );
      await checkJob(r, 0, 5000);
      const seen = rankLines(r);
      checkRanks(seen, [0, 1, 1, 1], ["js", "ts", "ts", "ts"], ["node1", "node1", "node2", "node2"]);
      for (const s of seen) {
        assert.deepEqual(s.argv, s.appnum === 0 ? ["first"] : ["second", "c d"]);
        assert.deepEqual(s.env, s.appnum === 0 ? {} : { TEST_PART: "one" });
      }
    });

    it("--hostfile (node1 slots=1, node2 slots=3) -n 2 mpmd.ts : -n 2 mpmd.js: the first part fills node1, then node2", async function () {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), "tsmpi-mpmd-"));
      try {
        const hostfile = path.join(dir, "hosts");
        fs.writeFileSync(hostfile, "node1 slots=1\nnode2 slots=3\n");
        const r = await tsmpirun(["--hostfile", hostfile, "-n", "2", ...MARK, SOURCE, ":", "-n", "2", ...MARK, fixture("mpmd.js")], {
          timeoutMs: 90_000,
        });
        await checkJob(r, 0, 5000);
        checkRanks(rankLines(r), [0, 0, 1, 1], ["ts", "ts", "js", "js"], ["node1", "node2", "node2", "node2"]);
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    });

    it("each part on hosts of its own: -n 2 --host node2:2 mpmd.js : -n 2 --host node1:2 mpmd.ts", async function () {
      const r = await tsmpirun(
        ["-n", "2", "--host", "node2:2", ...MARK, fixture("mpmd.js"), ":", "-n", "2", "--host", "node1:2", ...MARK, SOURCE],
        { timeoutMs: 90_000 },
      );
      await checkJob(r, 0, 5000);
      checkRanks(rankLines(r), [0, 0, 1, 1], ["js", "js", "ts", "ts"], ["node2", "node2", "node1", "node1"]);
    });

    it("salloc -N 2 --ntasks-per-node=2 tsmpirun -n 1 mpmd.js : -n 3 mpmd.ts: one srun --multi-prog step, ranks in order on the tasks; arguments with spaces and %t, -x and --wdir per part", async function () {
      const r = await salloc(
        ["-N", "2", "--ntasks-per-node=2"],
        ["-n", "1", "-x", "TEST_PART=zero", fixture("mpmd.js"), "a b", "%t", ":", "-n", "3", "--wdir", "/tmp", SOURCE, "second"],
        120_000,
      );
      assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);
      const seen = rankLines(r);
      checkRanks(seen, [0, 1, 1, 1], ["js", "ts", "ts", "ts"], ["node1", "node1", "node2", "node2"]);
      for (const s of seen) {
        assert.deepEqual(s.argv, s.appnum === 0 ? ["a b", "%t"] : ["second"]);
        assert.deepEqual(s.env, s.appnum === 0 ? { TEST_PART: "zero" } : {});
        assert.equal(s.cwd, s.appnum === 0 ? ROOT : "/tmp");
      }
      await checkJob(r, 0, 5000);
    });
  });

  describe("Split_type(COMM_TYPE_SHARED) across hosts: one communicator per host, exactly its ranks, in key order (issue 19, point 2)", function () {
    /** Checks the node communicators the ranks printed against the hosts they ran on, and (with own host names) against `expected`. */
    function checkNodes(r: JobResult, expected: Record<string, number[]>): void {
      const seen = rankLines(r);
      assert.equal(seen.length, 4, r.stdout + r.stderr);
      for (const s of seen) {
        const here = seen.filter((o) => o.host === s.host).map((o) => o.rank);
        assert.equal(s.size, here.length, `rank ${s.rank}`);
        assert.deepEqual(s.members, [...here].reverse(), `rank ${s.rank}: key -rank orders the host's ranks backwards`);
        assert.equal(s.nodeRank, [...here].reverse().indexOf(s.rank));
        assert.deepEqual(
          s.hosts,
          here.map(() => s.host),
        );
        assert.deepEqual(s.inOrder, here, `rank ${s.rank}: the default key keeps world order`);
      }
      if (!rig!.ownHostnames) {
        console.log("    no own hostnames here (no CAP_SYS_ADMIN): every rank is on one host by name, which the checks above hold to");
        return;
      }
      const byHost: Record<string, number[]> = {};
      for (const s of seen) byHost[s.host] = [...(byHost[s.host] ?? []), s.rank];
      assert.deepEqual(byHost, expected);
    }

    it(`tsmpirun -n 4 --host ${HOSTS} --map-by node: ranks 0 and 2 on node1, 1 and 3 on node2`, async function () {
      const r = await tsmpirun(["-n", "4", "--host", HOSTS, "--map-by", "node", ...MARK, fixture("split-type.js")], { timeoutMs: 60_000 });
      await checkJob(r, 0, 5000);
      checkNodes(r, { node1: [0, 2], node2: [1, 3] });
    });

    it("salloc -N 2 --ntasks-per-node=2 tsmpirun (srun's block distribution): 0 and 1 on node1, 2 and 3 on node2", async function () {
      const r = await salloc(["-N", "2", "--ntasks-per-node=2"], [fixture("split-type.js")], 120_000);
      assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);
      checkNodes(r, { node1: [0, 1], node2: [2, 3] });
      await checkJob(r, 0, 5000);
    });

    it("direct srun -N 2 --ntasks-per-node=2 --distribution=cyclic: 0 and 2 on node1, 1 and 3 on node2", async function () {
      const r = await srun(["-N", "2", "--ntasks-per-node=2", "--distribution=cyclic"], [fixture("split-type.js")]);
      assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);
      checkNodes(r, { node1: [0, 2], node2: [1, 3] });
      await checkJob(r, 0, 5000);
    });
  });

  describeSuite("p2p", p2pCases, {
    sizes: [4],
    kinds: ["world", "dup"],
    where: `across node1 and node2 (--host ${HOSTS})`,
    extraArgs: ["--host", HOSTS, ...MARK],
  });
  describeSuite("collectives", collectiveCases, {
    sizes: [4],
    kinds: ["world"],
    where: "across node1 and node2 (direct srun -N 2)",
    launch: (np, args, opts) => runProgram("srun", ["-N", "2", "-n", String(np), process.execPath, ...args], opts),
  });
  // intercommunicators between the two hosts' ranks (the lower half is node1's, the upper node2's)
  describeSuite("intercomm", intercommCases, {
    sizes: [4],
    kinds: ["world"],
    where: `across node1 and node2 (--host ${HOSTS})`,
    extraArgs: ["--host", HOSTS, ...MARK],
  });
  describeSuite("intercomm", intercommCases, {
    sizes: [4],
    kinds: ["world"],
    where: "across node1 and node2 (direct srun -N 2)",
    launch: (np, args, opts) => runProgram("srun", ["-N", "2", "-n", String(np), process.execPath, ...args], opts),
  });
});
