/**
 * DeviceArrays in the buffer-tier calls (test/cases/device-buffers.ts) at 1, 2 and 3 ranks on the
 * "cpu" backend (TSMPI_CUDA=0 keeps it there on any machine), and again through real device
 * memory where this machine has a usable GPU; `cuda` imported from `tsmpi` without loading the
 * addon; examples/gpu-pi.ts on the pure-JavaScript fallback.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { cuda } from "../lib/gpu/cuda.js";
import { bindingStatus } from "../lib/native.js";
import { cases } from "./cases/device-buffers.js";
import { describeCases } from "./helpers/cases.js";
import { ROOT, settledLeftovers, tsmpirun } from "./helpers/launch.js";

describe("DeviceArrays on the cpu backend (TSMPI_CUDA=0), C++ addon", () => {
  describeCases("device-buffers", cases, { sizes: [1, 2, 3], env: { TSMPI_CUDA: "0", TSMPI_TEST_BACKEND: "cpu" } });
});
describe("DeviceArrays on the cpu backend without the addon (TSMPI_NATIVE=0)", () => {
  describeCases("device-buffers", cases, { sizes: [2], env: { TSMPI_NATIVE: "0", TSMPI_TEST_BACKEND: "cpu" } });
});
describe("DeviceArrays in GPU memory", () => {
  if (cuda.available) {
    describeCases("device-buffers", cases, { sizes: [1, 2, 3], env: { TSMPI_TEST_BACKEND: "cuda" } });
  } else {
    it("runs the suite with DeviceArrays in device memory at 1, 2 and 3 ranks", function () {
      console.log(`      skipped: no usable GPU: ${cuda.reason}`);
      this.skip();
    });
  }
});

/** Runs an ES module snippet with plain node in the package root (importing the built `tsmpi`); returns its last stdout line as JSON. */
function node(code: string, env: Record<string, string> = {}): any {
  const run = spawnSync(process.execPath, ["--input-type=module", "-e", code], { cwd: ROOT, env: { ...process.env, ...env }, encoding: "utf8", timeout: 30_000 });
  assert.equal(run.status, 0, `child failed: ${run.stderr}`);
  return JSON.parse(run.stdout.trim().split("\n").at(-1)!);
}

/** A snippet defining mapped(): whether this process has the addon's file mapped (dlopen-ed). */
const MAPPED = `import { readFileSync } from "node:fs"; const mapped = () => readFileSync("/proc/self/maps", "utf8").includes("tsmpi_native.node");`;

describe("import { cuda } from \"tsmpi\"", () => {
  it("importing tsmpi does not load the native addon; the first use of cuda does", function () {
    const got = node(`${MAPPED}
      const mpi = await import("tsmpi");
      const before = mapped();
      const backend = mpi.cuda.backend;
      console.log(JSON.stringify({ before, after: mapped(), backend, available: mpi.cuda.available, deviceCount: mpi.cuda.deviceCount, device: mpi.cuda.device }));`);
    assert.equal(got.before, false, "the addon is mapped right after importing tsmpi");
    assert.equal(got.after, bindingStatus().addon === "loaded", "the addon is loaded on first use of cuda");
    assert.deepEqual([got.backend, got.available, got.deviceCount, got.device], [cuda.backend, cuda.available, cuda.deviceCount, cuda.device]);
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
    const got = node(`${MAPPED}
      const { cuda } = await import("tsmpi");
      console.log(JSON.stringify({ backend: cuda.backend, addon: cuda.info().addon, pi: await cuda.piCount(1000, { seed: 1, stream: 0 }), mapped: mapped() }));`, { TSMPI_NATIVE: "0" });
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
      for (let i = 0; i < np; i++) assert.match(r.stdout, new RegExp(`^rank ${i}: cpu \\(JavaScript\\), \\d+ samples, \\S+ samples/s$`, "m"));
      assert.match(r.stdout, new RegExp(`pi is approximately 3\\.1\\d+ .* from 300000 samples on ${np} rank`));
      assert.deepEqual(await settledLeftovers(r.marker), []);
    });
  }
});
