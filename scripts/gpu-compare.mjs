#!/usr/bin/env node
// Puts the JSON lines of `tsmpi/bench gpupi|gpucopy --json` and `scripts/cupy-bench.py pi|copy
// --json` side by side: medians over every sample of every round, and tsmpi/CuPy ratios of the
// rates (above 1: tsmpi is faster). Checks that the pi counts of the two agree for the same
// (seed, stream, n), and exits 1 when they do not.
//
//   node scripts/gpu-compare.mjs FILE.jsonl...   (lines that are not JSON objects are skipped)
import { readFileSync } from "node:fs";

const rows = [];
for (const file of process.argv.slice(2)) {
  for (const line of readFileSync(file, "utf8").split("\n")) {
    if (!line.startsWith("{")) continue;
    try {
      rows.push(JSON.parse(line));
    } catch {
      // a log line that happens to start with "{"
    }
  }
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length === 0 ? NaN : s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const group = (list, key) => {
  const out = new Map();
  for (const r of list) out.set(key(r), [...(out.get(key(r)) ?? []), r]);
  return out;
};
const fmt = (x, digits = 3) => (Number.isFinite(x) ? x.toExponential(digits) : "n/a");
const ratio = (a, b) => (Number.isFinite(a) && Number.isFinite(b) && b > 0 ? `${(a / b).toFixed(2)}x` : "n/a");
let failed = false;

// Monte Carlo pi: samples/s per rank, wall and kernel-only.
const pi = rows.filter((r) => r.bench === "pi");
if (pi.length) {
  console.log("# Monte Carlo pi (Philox-4x32-10): samples/s per rank, medians over all calls; ratio = tsmpi / CuPy");
  console.log(
    "# impl    ranks rank  device                          samples      calls  wall ms    wall samples/s  kernel ms  kernel samples/s  count",
  );
  const cupy = pi.filter((r) => r.impl === "cupy");
  const cupyWall = median(cupy.flatMap((r) => r.wallS));
  const cupyKernel = median(cupy.flatMap((r) => r.kernelS ?? []));
  for (const [, list] of group(pi, (r) => `${r.impl} ${r.size} ${r.rank} ${r.n}`)) {
    const r = list[0];
    const wall = median(list.flatMap((x) => x.wallS));
    const kernel = median(list.flatMap((x) => x.kernelS ?? []));
    const counts = new Set(list.map((x) => x.count));
    if (counts.size > 1) {
      console.log(`ERROR: ${r.impl} rank ${r.rank} gave different counts across rounds: ${[...counts]}`);
      failed = true;
    }
    console.log(
      `${r.impl.padEnd(8)}${String(r.size).padStart(6)}${String(r.rank).padStart(5)}  ${r.device.slice(0, 30).padEnd(30)}${String(r.n).padStart(12)}${String(list.flatMap((x) => x.wallS).length).padStart(7)}` +
        `${(wall * 1e3).toFixed(3).padStart(10)}${fmt(r.n / wall).padStart(16)}${(Number.isFinite(kernel) ? (kernel * 1e3).toFixed(3) : "n/a").padStart(11)}${fmt(r.n / kernel).padStart(18)}  ${r.count}`,
    );
  }
  for (const t of pi.filter((r) => r.impl === "tsmpi" && r.size === 1 && r.rank === 0).slice(0, 1)) {
    const same = cupy.find((c) => c.n === t.n && c.seed === t.seed && c.stream === t.stream);
    const tsWall = median(pi.filter((r) => r.impl === "tsmpi" && r.size === 1 && r.n === t.n).flatMap((r) => r.wallS));
    const tsKernel = median(pi.filter((r) => r.impl === "tsmpi" && r.size === 1 && r.n === t.n).flatMap((r) => r.kernelS ?? []));
    console.log(`pi at 1 rank, tsmpi/CuPy samples/s: wall ${ratio(cupyWall, tsWall)}, kernel-only ${ratio(cupyKernel, tsKernel)}`);
    if (!same) console.log("pi counts: no CuPy run with the same seed, stream and samples to compare with");
    else if (same.count === t.count) console.log(`pi counts: identical (${t.count} of ${t.n}, seed ${t.seed}, stream ${t.stream})`);
    else {
      console.log(`ERROR: pi counts differ: tsmpi ${t.count}, CuPy ${same.count} (seed ${t.seed}, stream ${t.stream}, n ${t.n})`);
      failed = true;
    }
  }
}

// Host<->device copies: GB/s per op and size.
const copy = rows.filter((r) => r.bench === "copy");
if (copy.length) {
  console.log("# host<->device copies, GB/s (medians over all calls); ratio = tsmpi / CuPy");
  console.log("#        bytes  op          tsmpi GB/s   CuPy GB/s  ratio");
  const byKey = group(copy, (r) => `${r.bytes} ${r.op}`);
  const keys = [...byKey.keys()].sort((a, b) => Number(a.split(" ")[0]) - Number(b.split(" ")[0]));
  for (const key of keys) {
    const list = byKey.get(key);
    const rate = (impl) => {
      const times = list.filter((r) => r.impl === impl).flatMap((r) => r.timesS);
      return times.length ? list[0].bytes / median(times) / 1e9 : NaN;
    };
    const [ts, cu] = [rate("tsmpi"), rate("cupy")];
    const show = (x) => (Number.isFinite(x) ? x.toFixed(2) : "-").padStart(12);
    console.log(`${String(list[0].bytes).padStart(14)}  ${list[0].op.padEnd(10)}${show(ts)}${show(cu)}  ${ratio(ts, cu)}`);
  }
}

if (!pi.length && !copy.length) {
  console.log("no benchmark lines found");
  failed = true;
}
process.exitCode = failed ? 1 : 0;
