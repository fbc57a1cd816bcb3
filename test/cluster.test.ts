// The test cluster itself: fake ssh hosts node1/node2 and SLURM on them (test/cluster/*.sh).
// Runs only as root with the packages present; otherwise it prints why and skips.
// Later tests that launch tsmpi over ssh or srun belong in this file, inside this describe,
// so the rig comes up once: use `rig` (hosts, mode) and `run()`/`rigEnv()` from ./cluster/rig.js.
import assert from "node:assert/strict";
import { expandHostlist, expandTasksPerNode } from "../launcher/hostlist.js";
import { clusterAvailable, rigDown, rigUp, run, type RigInfo } from "./cluster/rig.js";

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
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual([...new Set(r.stdout.split("\n").filter((l) => l !== ""))].sort(), ["node1", "node2"]);
  });

  it("SLURM_JOB_NODELIST and SLURM_TASKS_PER_NODE expand with launcher/hostlist", async () => {
    const script = 'echo "$SLURM_PROCID $SLURMD_NODENAME $SLURM_JOB_NODELIST $SLURM_TASKS_PER_NODE"';
    const r = await run("srun", ["-N", "2", "--ntasks-per-node=2", "bash", "-c", script], { timeoutMs: 60_000 });
    assert.equal(r.code, 0, r.stderr);
    const rows = r.stdout.split("\n").filter((l) => l !== "").map((l) => l.split(" "));
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
});
