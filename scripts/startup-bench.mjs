#!/usr/bin/env node
// Start-up time of whole jobs, measured interleaved: each round runs every command once, in
// turn, so that a change in the machine's load hits all of them alike (hyperfine runs one
// command's runs back to back). Prints each command's median, quartiles and the ratio of its
// median to the last command's (the reference, e.g. mpi4py's helloworld).
//
//   flock /tmp/tsmpi-bench.lock node scripts/startup-bench.mjs -r 30 -w 3 \
//     'node dist/launcher/cli.js -n 4 examples/hello.ts' \
//     'node dist/launcher/cli.js -n 4 dist/examples/hello.js' \
//     'mpiexec -n 4 --oversubscribe /usr/bin/python3 -m mpi4py.bench helloworld'
//
// Commands are split on spaces (no shell); each must exit 0. --json prints one JSON object.
import { spawnSync } from "node:child_process";

const args = process.argv.slice(2);
let runs = 20;
let warmup = 2;
let json = false;
const commands = [];
for (let i = 0; i < args.length; i++) {
  if (args[i] === "-r") runs = Number(args[++i]);
  else if (args[i] === "-w") warmup = Number(args[++i]);
  else if (args[i] === "--json") json = true;
  else commands.push(args[i]);
}
if (commands.length === 0 || !(runs > 0) || !(warmup >= 0)) {
  process.stderr.write("usage: startup-bench.mjs [-r RUNS] [-w WARMUP] [--json] 'command' ... 'reference command'\n");
  process.exit(2);
}

function once(command) {
  const [file, ...argv] = command.split(" ").filter(Boolean);
  const t0 = process.hrtime.bigint();
  const r = spawnSync(file, argv, { stdio: ["ignore", "ignore", "pipe"], encoding: "utf8" });
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  if (r.status !== 0) {
    process.stderr.write(`startup-bench: ${command} exited with ${r.status ?? r.signal}\n${r.stderr}`);
    process.exit(1);
  }
  return ms;
}

const times = commands.map(() => []);
for (let round = 0; round < warmup + runs; round++) {
  commands.forEach((c, i) => {
    const ms = once(c);
    if (round >= warmup) times[i].push(ms);
  });
}
const quantile = (xs, q) => {
  const s = [...xs].sort((a, b) => a - b);
  const pos = (s.length - 1) * q;
  const lo = Math.floor(pos);
  return s[lo] + (s[Math.min(lo + 1, s.length - 1)] - s[lo]) * (pos - lo);
};
const reference = quantile(times.at(-1), 0.5);
const rows = commands.map((command, i) => ({
  command,
  median: quantile(times[i], 0.5),
  q1: quantile(times[i], 0.25),
  q3: quantile(times[i], 0.75),
  ratio: quantile(times[i], 0.5) / reference,
}));
if (json) process.stdout.write(`${JSON.stringify({ runs, rows })}\n`);
else {
  for (const r of rows) {
    process.stdout.write(
      `${r.median.toFixed(1).padStart(8)} ms  [${r.q1.toFixed(1)} .. ${r.q3.toFixed(1)}]  ${r.ratio.toFixed(3)}x  ${r.command}\n`,
    );
  }
  process.stdout.write(`(medians of ${runs} interleaved rounds; ratio: median / the last command's median)\n`);
}
