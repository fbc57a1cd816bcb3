/**
 * Process topologies and neighbourhood collectives (issue 19 items 3, 4 and 5):
 * `Compute_dims` against Open MPI's own answers for every n ≤ 64 and d ≤ 4, with fixed
 * entries (through Debian's mpi4py; skipped, with the reason, where it is absent), and the
 * translated mpi4py tests in test/suites/topology.ts and test/suites/neighbor.ts on 1 to 5 ranks,
 * each on COMM_WORLD, a dup of it and COMM_SELF.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { Compute_dims } from "../lib/topology/dims.js";
import { cases as neighbor } from "./suites/neighbor.js";
import { cases as topology } from "./suites/topology.js";
import { describeSuite } from "./helpers/suites.js";
import { checkJob, tsmpirun } from "./helpers/launch.js";

/** Asks Open MPI (through mpi4py) for MPI_Dims_create of every n ≤ 64 and every dims of up to 4 entries in {0, 1, 2, 3}; null where it fails. */
const ORACLE = `
import itertools, json, sys
from mpi4py import MPI
out = []
for n in range(1, 65):
    for d in range(0, 5):
        for dims in itertools.product([0, 1, 2, 3], repeat=d):
            try:
                out.append([n, list(dims), MPI.Compute_dims(n, list(dims))])
            except MPI.Exception:
                out.append([n, list(dims), None])
print(MPI.Get_library_version().splitlines()[0])
json.dump(out, sys.stdout)
`;

describe("Compute_dims gives Open MPI's answers", function () {
  let answers: [number, number[], number[] | null][] = [];
  before(function () {
    const r = spawnSync("/usr/bin/python3", ["-c", ORACLE], {
      encoding: "utf8",
      timeout: 60_000,
      env: { ...process.env, OMPI_ALLOW_RUN_AS_ROOT: "1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM: "1", OMPI_MCA_btl: "self" },
    });
    if (r.error || r.status !== 0) {
      console.log(
        `      skipped: /usr/bin/python3 with mpi4py on Open MPI is needed (apt-get install openmpi-bin python3-mpi4py): ${r.error?.message ?? r.stderr.trim().split("\n").pop()}`,
      );
      this.skip();
    }
    const [library, json] = r.stdout.split("\n", 2) as [string, string];
    if (!/Open MPI/.test(library)) {
      console.log(`      skipped: mpi4py runs on ${library}, not Open MPI`);
      this.skip();
    }
    answers = JSON.parse(json);
  });

  it("for every n ≤ 64 and d ≤ 4, fixed entries honoured, and fails where Open MPI fails", function () {
    assert.ok(answers.length > 64 * 300, `only ${answers.length} answers from Open MPI`);
    let compared = 0;
    for (const [n, dims, want] of answers) {
      if (want === null) {
        assert.throws(() => Compute_dims(n, dims), { code: "ERR_TSMPI_ARG" }, `Compute_dims(${n}, [${dims}]) should fail, as in Open MPI`);
      } else {
        assert.deepEqual(Compute_dims(n, dims), want, `Compute_dims(${n}, [${dims}])`);
        if (dims.every((d) => d === 0)) assert.deepEqual(Compute_dims(n, dims.length), want, `Compute_dims(${n}, ${dims.length})`);
      }
      compared++;
    }
    assert.equal(compared, answers.length);
  });
});

describe("Compute_dims by itself", function () {
  it("balances, keeps fixed entries, does not change its argument, checks its input", function () {
    assert.deepEqual(Compute_dims(12, 3), [3, 2, 2]);
    assert.deepEqual(Compute_dims(12, [0, 3]), [4, 3]);
    assert.deepEqual(Compute_dims(7, 2), [7, 1]);
    assert.deepEqual(Compute_dims(1, 0), []);
    const dims = [0, 2, 0];
    assert.deepEqual(Compute_dims(16, dims), [4, 2, 2]);
    assert.deepEqual(dims, [0, 2, 0]);
    assert.throws(() => Compute_dims(10, [3, 0]), { code: "ERR_TSMPI_ARG" });
    assert.deepEqual(Compute_dims(6, [2, 2, 0]), [2, 2, 1]); // Open MPI's rounding, kept
    assert.deepEqual(Compute_dims(6, [2, 2]), [2, 2]); // Open MPI accepts this too
    assert.throws(() => Compute_dims(4, [2]), { code: "ERR_TSMPI_ARG" });
    assert.throws(() => Compute_dims(-1, 2), { code: "ERR_TSMPI_ARG" });
    assert.throws(() => Compute_dims(0, 2), { code: "ERR_TSMPI_ARG" }); // as Open MPI
    assert.throws(() => Compute_dims(4, [-1]), { code: "ERR_TSMPI_ARG" });
    assert.throws(() => Compute_dims(4, "2" as never), { code: "ERR_TSMPI_ARG" });
  });
});

describeSuite("topology", topology, { sizes: ["node", 1, 2, 3, 4, 5], timeoutMs: 90_000 });
describeSuite("neighbor", neighbor, { sizes: ["node", 1, 2, 3, 4, 5], timeoutMs: 90_000 });
// Blocks are told apart by message order only: the same over ZeroMQ's ipc:// sockets.
describeSuite("neighbor", neighbor, { sizes: [4], env: { TSMPI_SHM: "0" }, timeoutMs: 90_000 });

// examples.test.ts runs every example on 1 to 3 ranks, where Compute_dims(n, 2) is [n, 1]; here
// the heat example runs on grids cut both ways, and still matches its one-rank run bit for bit.
describe("examples/heat.ts on a 2-D grid of ranks", function () {
  for (const [np, grid] of [
    [4, "2x2"],
    [6, "3x2"],
  ] as const) {
    it(`${np} ranks as ${grid} blocks match the one-rank run in every cell`, async function () {
      this.timeout(100_000);
      const r = await tsmpirun(["-n", String(np), "examples/heat.ts", "13", "1e-2"], { timeoutMs: 90_000 });
      await checkJob(r);
      assert.match(r.stdout, new RegExp(`13x13 plate on ${np} ranks converged after \\d+ iterations .*, as ${grid} blocks`));
      assert.match(r.stdout, /identical to the single-rank run in every cell/);
    });
  }
});
