/**
 * Every example in examples/ runs as a user runs it (the .ts file, through tsmpirun, compiled once)
 * at 1, 2 and 3 ranks; each example asserts its own results and exits non-zero if they are
 * wrong. A few output lines are checked here too. heat-gpu.ts runs on the GPU where this machine
 * has one (with NVRTC) and otherwise must say why not and exit 0.
 */
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { cuda } from "../lib/gpu/cuda.js";
import { ROOT, settledLeftovers, tsmpirun } from "./helpers/launch.js";

/** What the output of an example must contain at `np` ranks (beyond exiting 0). */
const EXPECT: Record<string, (np: number) => RegExp[]> = {
  "hello.ts": (np) => [
    new RegExp(`^${Array.from({ length: np }, (_, i) => `Hello, World! I am process ${i} of ${np} on [^\\n]+\\.\\n`).join("")}$`),
  ],
  "ring.ts": (np) => [new RegExp(`went 3 laps around ${np} ranks`)],
  "pi.ts": (np) => [/pi is approximately 3\.14\d+/, new RegExp(`time between barriers: [\\d.]+ ms on ${np} rank`)],
  "gpu-pi.ts": (np) => [
    new RegExp(
      `^${Array.from({ length: np }, (_, i) => `rank ${i}: (cuda device \\d+ \\(.+\\)|cpu \\((C\\+\\+ addon|JavaScript)\\)), \\d+ samples, \\S+ samples/s\\n`).join("")}`,
      "m",
    ),
    new RegExp(`pi is approximately 3\\.1\\d+ \\(error \\S+\\) from 20000000 samples on ${np} ranks?$`, "m"),
  ],
  "heat.ts": (np) => [
    new RegExp(`32x32 plate on ${np} ranks? converged after \\d+ iterations`),
    /identical to the single-rank run in every cell/,
  ],
  // with a GPU and NVRTC the GPU run and its check against the CPU; elsewhere the line saying why not
  "heat-gpu.ts": (np) => [
    cuda.available && cuda.info().nvrtc !== null
      ? new RegExp(
          `^heat-gpu: 32x32 plate on ${np} ranks? \\(GPUs ${Array.from({ length: np }, () => ".+ #\\d+").join(", ")}\\) converged after 1149 iterations[^\\n]*\\nheat-gpu: centre temperature 23\\.5176; identical to the CPU run in every cell$`,
          "m",
        )
      : new RegExp(
          `^heat-gpu: ${np > 1 ? "rank 0 has" : "this machine has"} no usable GPU \\(.*(libcuda|libnvrtc|addon|CUDA|TSMPI_CUDA).*\\); this example needs one on every rank, nothing to check here$`,
          "m",
        ),
  ],
  "fib-primes.ts": (np) => [
    /^serial: 21 Fibonacci primes among the first 1000 /m,
    new RegExp(`^executor, ${np > 1 ? np - 1 : "\\d+"} workers?, chunksize 10: 21 primes in`, "m"),
  ],
  "spawn.ts": (np) => [
    new RegExp(
      `^sum of k\\^2 for k = 1\\.\\.100000 on ${np} masters? and 3 spawned workers: 333338333350000\\nidentical to n\\(n\\+1\\)\\(2n\\+1\\)/6$`,
      "m",
    ),
  ],
  "julia.ts": (np) => [new RegExp(`^julia set 320x240 on ${Math.max(1, np - 1)} workers?: .* identical to the serial image`, "m")],
};

/** Arguments that keep an example's run short here. */
const ARGS: Record<string, string[]> = { "fib-primes.ts": ["1000"], "julia.ts": ["320", "240"] };

const examples = fs
  .readdirSync(path.join(ROOT, "examples"))
  .filter((f) => f.endsWith(".ts"))
  .sort();

describe("examples", function () {
  it("the examples this test knows are all present", function () {
    for (const name of Object.keys(EXPECT)) assert.ok(examples.includes(name), name);
  });
  for (const name of examples) {
    for (const np of [1, 2, 3]) {
      it(`${name} on ${np} rank${np > 1 ? "s" : ""}`, async function () {
        const r = await tsmpirun(["-n", String(np), path.join("examples", name), ...(ARGS[name] ?? [])], { timeoutMs: 60000 });
        assert.equal(r.code, 0, `exit ${r.code}\n${r.stdout}\n${r.stderr}`);
        for (const re of EXPECT[name]?.(np) ?? []) assert.match(r.stdout, re);
        assert.deepEqual(await settledLeftovers(r.marker), []);
      });
    }
  }
});
