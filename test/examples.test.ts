/**
 * Every example in examples/ runs as a user runs it (the .ts file, through tsmpirun, compiled once)
 * at 1, 2 and 3 ranks; each example asserts its own results and exits non-zero if they are
 * wrong. A few output lines are checked here too.
 */
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { ROOT, settledLeftovers, tsmpirun } from "./helpers/launch.js";

/** What the output of an example must contain at `np` ranks (beyond exiting 0). */
const EXPECT: Record<string, (np: number) => RegExp[]> = {
  "hello.ts": (np) => [new RegExp(`^${Array.from({ length: np }, (_, i) => `Hello, World! I am process ${i} of ${np} on [^\\n]+\\.\\n`).join("")}$`)],
  "ring.ts": (np) => [new RegExp(`went 3 laps around ${np} ranks`)],
  "pi.ts": (np) => [/pi is approximately 3\.14\d+/, new RegExp(`time between barriers: [\\d.]+ ms on ${np} rank`)],
  "gpu-pi.ts": (np) => [
    new RegExp(`^${Array.from({ length: np }, (_, i) => `rank ${i}: (cuda device \\d+ \\(.+\\)|cpu \\((C\\+\\+ addon|JavaScript)\\)), \\d+ samples, \\S+ samples/s\\n`).join("")}`, "m"),
    new RegExp(`pi is approximately 3\\.1\\d+ \\(error \\S+\\) from 20000000 samples on ${np} ranks?$`, "m"),
  ],
  "heat.ts": (np) => [new RegExp(`32x32 plate on ${np} ranks? converged after \\d+ iterations`), /identical to the single-rank run in every cell/],
};

const examples = fs.readdirSync(path.join(ROOT, "examples")).filter((f) => f.endsWith(".ts")).sort();

describe("examples", function () {
  it("the examples this test knows are all present", function () {
    for (const name of Object.keys(EXPECT)) assert.ok(examples.includes(name), name);
  });
  for (const name of examples) {
    for (const np of [1, 2, 3]) {
      it(`${name} on ${np} rank${np > 1 ? "s" : ""}`, async function () {
        const r = await tsmpirun(["-n", String(np), path.join("examples", name)], { timeoutMs: 60000 });
        assert.equal(r.code, 0, `exit ${r.code}\n${r.stdout}\n${r.stderr}`);
        for (const re of EXPECT[name]?.(np) ?? []) assert.match(r.stdout, re);
        assert.deepEqual(await settledLeftovers(r.marker), []);
      });
    }
  }
});
