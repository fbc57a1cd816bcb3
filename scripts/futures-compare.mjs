#!/usr/bin/env node
// tsmpi/futures next to mpi4py.futures, interleaved, medians and ratios (the targets of the
// task-pool issue). Run under the bench lock, from a built checkout:
//
//   flock /tmp/tsmpi-bench.lock node scripts/futures-compare.mjs [rounds=3] [tasks=10000] [fib=3000]
//
// Each round runs `tsmpirun -n 5 -m tsmpi/futures tsmpi/futures/bench TASKS FIB --json`, then
// `mpiexec -n 5 --oversubscribe python3 -m mpi4py.futures futures_bench.py TASKS FIB`, then the
// start-up of a 4-worker pool on each side. tsmpi's no-op maps also run 5 more times (their
// median: the steady state, after the JIT warmed up), reported beside the first runs that the
// reference measures. Prints one JSON object at the end (and a table).
// FUTURES_BENCH_PY overrides the path of the reference script; PYTHON the interpreter.
import { execFileSync } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const [rounds = 3, tasks = 10000, fib = 3000] = process.argv.slice(2).map(Number);
const python = process.env.PYTHON ?? "/usr/bin/python3";
const reference = process.env.FUTURES_BENCH_PY ?? path.resolve(root, "..", "shared", "bench", "futures_bench.py");
const env = { ...process.env, OMPI_ALLOW_RUN_AS_ROOT: "1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM: "1" };
const run = (file, args) => execFileSync(file, args, { cwd: root, env, encoding: "utf8", maxBuffer: 1 << 24 });
const cli = path.join(root, "dist", "launcher", "cli.js");

function mpi4py() {
  const out = run("mpiexec", ["-n", "5", "--oversubscribe", python, "-m", "mpi4py.futures", reference, String(tasks), String(fib)]);
  const num = (re) => Number(re.exec(out)?.[1]);
  return {
    noop_cs1_per_s: num(/chunksize=1: [\d.]+ s = (\d+) tasks\/s/),
    noop_cs100_per_s: num(/chunksize=100: [\d.]+ s = (\d+) tasks\/s/),
    fib_serial_s: num(/fib-primes serial F=\d+: \d+ primes in ([\d.]+) s/),
    fib_cs1_s: num(/chunksize=1: \d+ primes in ([\d.]+) s/),
    fib_cs10_s: num(/chunksize=10: \d+ primes in ([\d.]+) s/),
    startup_s: JSON.parse(
      run("mpiexec", ["-n", "1", "--oversubscribe", python, path.join(root, "scripts", "mpi4py-futures-startup.py"), "4"]),
    ).startup_s,
  };
}

function tsmpi() {
  const out = JSON.parse(
    run(process.execPath, [
      cli,
      "-n",
      "5",
      "-m",
      "tsmpi/futures",
      "tsmpi/futures/bench",
      String(tasks),
      String(fib),
      "--json",
      "--repeat",
      "5",
    ])
      .trim()
      .split("\n")
      .pop(),
  );
  out.startup_s = JSON.parse(
    run(process.execPath, [path.join(root, "dist", "lib", "futures-bench.js"), "--startup", "4", "--json"]).trim(),
  ).startup_s;
  return out;
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[s.length >> 1] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const samples = { tsmpi: [], mpi4py: [] };
for (let r = 0; r < rounds; r++) {
  samples.tsmpi.push(tsmpi());
  samples.mpi4py.push(mpi4py());
  process.stderr.write(`round ${r + 1}/${rounds}: ${JSON.stringify({ tsmpi: samples.tsmpi.at(-1), mpi4py: samples.mpi4py.at(-1) })}\n`);
}
const keys = ["noop_cs1_per_s", "noop_cs100_per_s", "fib_serial_s", "fib_cs1_s", "fib_cs10_s", "startup_s"];
const med = (side) => Object.fromEntries(keys.map((k) => [k, median(samples[side].map((s) => s[k]))]));
const t = {
  ...med("tsmpi"),
  noop_cs1_median_per_s: median(samples.tsmpi.map((s) => s.noop_cs1_median_per_s)),
  noop_cs100_median_per_s: median(samples.tsmpi.map((s) => s.noop_cs100_median_per_s)),
};
const m = med("mpi4py");
const result = {
  rounds,
  tasks,
  fib,
  tsmpi: t,
  mpi4py: m,
  ratios: {
    noop_cs1_rate: t.noop_cs1_per_s / m.noop_cs1_per_s,
    noop_cs100_rate: t.noop_cs100_per_s / m.noop_cs100_per_s,
    fib_speedup_cs1_tsmpi: t.fib_serial_s / t.fib_cs1_s,
    fib_speedup_cs10_tsmpi: t.fib_serial_s / t.fib_cs10_s,
    fib_speedup_cs1_mpi4py: m.fib_serial_s / m.fib_cs1_s,
    fib_speedup_cs10_mpi4py: m.fib_serial_s / m.fib_cs10_s,
    startup: t.startup_s / m.startup_s,
  },
};
for (const k of keys)
  process.stderr.write(`${k.padEnd(18)} tsmpi ${t[k].toFixed(3).padStart(12)}   mpi4py ${m[k].toFixed(3).padStart(12)}\n`);
console.log(JSON.stringify(result));
