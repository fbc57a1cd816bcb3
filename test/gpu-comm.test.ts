/**
 * DeviceArrays in the buffer-tier calls (test/suites/device-buffers.ts) at 1, 2 and 3 ranks on the
 * "cpu" backend (TSMPI_CUDA=0 keeps it there on any machine), and again through real device
 * memory where this machine has a usable GPU; `cuda` imported from `tsmpi` without loading the
 * addon; examples/gpu-pi.ts on the pure-JavaScript fallback; the GPU commands of tsmpi/bench.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { cuda } from "../lib/gpu/cuda.js";
import { bindingStatus } from "../lib/native.js";
import { cases } from "./suites/device-buffers.js";
import { describeSuite } from "./helpers/suites.js";
import { ROOT, settledLeftovers, tsmpirun } from "./helpers/launch.js";

describe("DeviceArrays on the cpu backend (TSMPI_CUDA=0), C++ addon", () => {
  describeSuite("device-buffers", cases, { sizes: [1, 2, 3], env: { TSMPI_CUDA: "0", TSMPI_TEST_BACKEND: "cpu" } });
});
describe("DeviceArrays on the cpu backend without the addon (TSMPI_NATIVE=0)", () => {
  describeSuite("device-buffers", cases, { sizes: [2], env: { TSMPI_NATIVE: "0", TSMPI_TEST_BACKEND: "cpu" } });
});
describe("DeviceArrays in GPU memory", () => {
  if (cuda.available) {
    describeSuite("device-buffers", cases, { sizes: [1, 2, 3], env: { TSMPI_TEST_BACKEND: "cuda" } });
  } else {
    it("runs the suite with DeviceArrays in device memory at 1, 2 and 3 ranks", function () {
      console.log(`      skipped: no usable GPU: ${cuda.reason}`);
      this.skip();
    });
  }
});

/** Runs an ES module snippet with plain node in the package root (importing the built `tsmpi`); returns its last stdout line as JSON (of the shape `T` the snippet prints). */
function node<T = Record<string, unknown>>(code: string, env: Record<string, string> = {}): T {
  const run = spawnSync(process.execPath, ["--input-type=module", "-e", code], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    encoding: "utf8",
    timeout: 30_000,
  });
  assert.equal(run.status, 0, `child failed: ${run.stderr}`);
  return JSON.parse(run.stdout.trim().split("\n").at(-1)!) as T;
}

/** A snippet defining mapped(): whether this process has the addon's file mapped (dlopen-ed). */
const MAPPED = `import { readFileSync } from "node:fs"; const mapped = () => readFileSync("/proc/self/maps", "utf8").includes("tsmpi_native.node");`;

describe('import { cuda } from "tsmpi"', () => {
  it("importing tsmpi does not load the native addon; the first use of cuda does", function () {
    const got = node(`${MAPPED}
      const mpi = await import("tsmpi");
      const before = mapped();
      const backend = mpi.cuda.backend;
      console.log(JSON.stringify({ before, after: mapped(), backend, available: mpi.cuda.available, deviceCount: mpi.cuda.deviceCount, device: mpi.cuda.device }));`);
    assert.equal(got.before, false, "the addon is mapped right after importing tsmpi");
    assert.equal(got.after, bindingStatus().addon === "loaded", "the addon is loaded on first use of cuda");
    assert.deepEqual(
      [got.backend, got.available, got.deviceCount, got.device],
      [cuda.backend, cuda.available, cuda.deviceCount, cuda.device],
    );
  });

  it("tsmpi and tsmpi/cuda share one cuda and one DeviceArray; a DeviceArray from tsmpi/cuda goes through Allreduce", () => {
    const got = node(`
      const mpi = await import("tsmpi");
      const sub = await import("tsmpi/cuda");
      const d = sub.DeviceArray.from(new Float64Array([1, 2]));
      const out = sub.cuda.empty(Float64Array, 2);
      await mpi.COMM_WORLD.Allreduce(d, out, mpi.Op.SUM);
      console.log(JSON.stringify({ cuda: mpi.cuda === sub.cuda, DeviceArray: mpi.DeviceArray === sub.DeviceArray, out: Array.from(out.toHost()) }));`);
    assert.deepEqual(got, { cuda: true, DeviceArray: true, out: [1, 2] });
  });

  it("with TSMPI_NATIVE=0 cuda works on the cpu backend without the addon", () => {
    const got = node<{ backend: string; addon: string; pi: number; mapped: boolean }>(
      `${MAPPED}
      const { cuda } = await import("tsmpi");
      console.log(JSON.stringify({ backend: cuda.backend, addon: cuda.info().addon, pi: await cuda.piCount(1000, { seed: 1, stream: 0 }), mapped: mapped() }));`,
      { TSMPI_NATIVE: "0" },
    );
    assert.deepEqual([got.backend, got.addon, got.mapped], ["cpu", "disabled", false]);
    assert.ok(got.pi > 700 && got.pi < 870, String(got.pi));
  });
});

describe("examples/gpu-pi.ts on the pure-JavaScript fallback (TSMPI_NATIVE=0)", function () {
  this.timeout(70_000);
  for (const np of [1, 3]) {
    it(`${np} rank${np > 1 ? "s" : ""}: every rank reports cpu (JavaScript), the estimate checks out`, async () => {
      const r = await tsmpirun(["-n", String(np), "examples/gpu-pi.ts", "300000"], { timeoutMs: 60_000, env: { TSMPI_NATIVE: "0" } });
      assert.equal(r.code, 0, `exit ${r.code}\n${r.stdout}\n${r.stderr}`);
      for (let i = 0; i < np; i++)
        assert.match(r.stdout, new RegExp(`^rank ${i}: cpu \\(JavaScript\\), \\d+ samples, \\S+ samples/s$`, "m"));
      assert.match(r.stdout, new RegExp(`pi is approximately 3\\.1\\d+ .* from 300000 samples on ${np} rank`));
      assert.deepEqual(await settledLeftovers(r.marker), []);
    });
  }
});

describe("tsmpi/bench GPU commands (a smoke test on this machine's backend)", function () {
  this.timeout(90_000);
  it("gpupi at 2 ranks: one JSON line per rank, each count the rank's piCount, kernel times only on a GPU", async () => {
    const r = await tsmpirun(["-n", "2", "-m", "tsmpi/bench", "gpupi", "-n", "100001", "-l", "3", "-s", "1", "--json"], {
      timeoutMs: 60_000,
    });
    assert.equal(r.code, 0, `exit ${r.code}\n${r.stdout}\n${r.stderr}`);
    const lines = r.stdout
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    assert.deepEqual(
      lines.map((l) => [l.bench, l.impl, l.rank, l.size, l.n, l.stream, l.wallS.length]),
      [
        ["pi", "tsmpi", 0, 2, 100001, 0, 3],
        ["pi", "tsmpi", 1, 2, 100001, 1, 3],
      ],
    );
    for (const l of lines) {
      assert.equal(l.count, await cuda.piCount(100001, { seed: 2024, stream: l.stream }));
      assert.equal(l.kernelS === null, !cuda.available);
    }
    assert.deepEqual(await settledLeftovers(r.marker), []);
  });

  it("gpucopy: every op at every size, the data checked; allreduce --device runs", async () => {
    const r = await tsmpirun(["-n", "1", "-m", "tsmpi/bench", "gpucopy", "-m", "4096", "-n", "8192", "-l", "2", "--json"], {
      timeoutMs: 60_000,
    });
    assert.equal(r.code, 0, `exit ${r.code}\n${r.stdout}\n${r.stderr}`);
    const lines = r.stdout
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    assert.deepEqual(
      lines.map((l) => `${l.bytes} ${l.op} ${l.timesS.length}`),
      [4096, 8192].flatMap((b) => ["h2d-new", "h2d-into", "d2h-new", "d2h-into", "h2d-async", "d2h-async"].map((op) => `${b} ${op} 2`)),
    );
    const a = await tsmpirun(["-n", "2", "-m", "tsmpi/bench", "allreduce", "-m", "1024", "-n", "1024", "-l", "3", "--device"], {
      timeoutMs: 60_000,
    });
    assert.equal(a.code, 0, `exit ${a.code}\n${a.stdout}\n${a.stderr}`);
    assert.match(a.stdout, /allreduce \(DeviceArrays, (cuda:\d+ .+|cpu backend)\): 2 processes/);
    assert.match(a.stdout, /^ +1024 +\d+\.\d+ +3$/m);
    assert.deepEqual(await settledLeftovers(r.marker), []);
    assert.deepEqual(await settledLeftovers(a.marker), []);
  });
});
