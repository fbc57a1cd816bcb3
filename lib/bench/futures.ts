/**
 * The tsmpi/futures bench, the same workloads as the mpi4py.futures reference
 * (`futures_bench.py`): throughput of no-op tasks at chunk sizes 1 and 100, and the
 * Fibonacci-primes exercise serially and through the executor at chunk sizes 1 and 10.
 *
 *   tsmpirun -n 5 -m tsmpi/futures tsmpi/futures/bench [TASKS=10000] [FIB=3000] [--json] [--repeat R]
 *   node node_modules/tsmpi/dist/lib/futures-bench.js --startup [WORKERS=4] [--json]
 *
 * The second form measures a PoolExecutor's start-up: from its construction to its first
 * result, with spawned workers. `--json` prints one JSON object instead of the lines (for
 * side-by-side comparisons). Doubles as a smoke test: every result is checked. `--help` prints
 * the usage; a bad command line exits with 2, naming the value.
 *
 * @module
 */
import { TsmpiError } from "../errors.js";
import { PoolExecutor } from "../futures/pool-executor.js";
import { isMainModule } from "../futures/tasks.js";
import { parseOptions } from "./options.js";

/** The no-op task. */
export function noop<T>(x: T): T {
  return x;
}

const SMALL = [2n, 3n, 5n, 7n, 11n, 13n, 17n, 19n, 23n, 29n, 31n, 37n];

function powmod(base: bigint, exp: bigint, mod: bigint): bigint {
  let result = 1n;
  base %= mod;
  while (exp > 0n) {
    if (exp & 1n) result = (result * base) % mod;
    base = (base * base) % mod;
    exp >>= 1n;
  }
  return result;
}

/** Miller-Rabin with the first twelve primes as bases, as the reference's `is_prime`. */
export function isPrime(n: bigint): boolean {
  if (n < 2n) return false;
  for (const p of SMALL) if (n % p === 0n) return n === p;
  let d = n - 1n;
  let s = 0;
  while ((d & 1n) === 0n) {
    d >>= 1n;
    s++;
  }
  outer: for (const a of SMALL) {
    let x = powmod(a, d, n);
    if (x === 1n || x === n - 1n) continue;
    for (let i = 0; i < s - 1; i++) {
      x = (x * x) % n;
      if (x === n - 1n) continue outer;
    }
    return false;
  }
  return true;
}

/** The first `n` Fibonacci numbers. */
export function* fibs(n: number): Generator<bigint> {
  let a = 0n;
  let b = 1n;
  for (let i = 0; i < n; i++) {
    yield a;
    [a, b] = [b, a + b];
  }
}

async function collect<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const v of it) out.push(v);
  return out;
}

function range(n: number): number[] {
  return Array.from({ length: n }, (_, i) => i);
}

/** Runs the workloads; returns the figures (and prints them unless `json`). With `repeat` > 1, the no-op maps also run that many times more, and the median rate is reported too (steady state, after the JIT warmed up). */
export async function runBench(tasks: number, fib: number, json: boolean, repeat = 0): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  const say = (line: string): void => {
    if (!json) console.log(line);
  };
  await using pool = new PoolExecutor();
  await collect(pool.map(noop, range(100)));
  for (const cs of [1, 100]) {
    const t = performance.now();
    const r = await collect(pool.map(noop, range(tasks), { chunksize: cs }));
    const dt = (performance.now() - t) / 1000;
    if (r.length !== tasks || r.some((v, i) => v !== i)) throw new Error(`noop map chunksize=${cs}: wrong results`);
    out[`noop_cs${cs}_per_s`] = tasks / dt;
    say(`noop map N=${tasks} chunksize=${cs}: ${dt.toFixed(3)} s = ${(tasks / dt).toFixed(0)} tasks/s`);
  }
  for (const cs of repeat > 0 ? [1, 100] : []) {
    const rates: number[] = [];
    for (let i = 0; i < repeat; i++) {
      const t = performance.now();
      await collect(pool.map(noop, range(tasks), { chunksize: cs }));
      rates.push(tasks / ((performance.now() - t) / 1000));
    }
    rates.sort((a, b) => a - b);
    out[`noop_cs${cs}_median_per_s`] = rates[rates.length >> 1]!;
    say(`noop map N=${tasks} chunksize=${cs}, median of ${repeat} more runs: ${out[`noop_cs${cs}_median_per_s`]!.toFixed(0)} tasks/s`);
  }
  let t = performance.now();
  const serial = [...fibs(fib)].filter((f) => isPrime(f));
  out.fib_serial_s = (performance.now() - t) / 1000;
  say(`fib-primes serial F=${fib}: ${serial.length} primes in ${out.fib_serial_s.toFixed(3)} s`);
  for (const cs of [1, 10]) {
    t = performance.now();
    const flags = await collect(pool.map(isPrime, fibs(fib), { chunksize: cs }));
    const dt = (performance.now() - t) / 1000;
    const count = flags.filter(Boolean).length;
    if (count !== serial.length) throw new Error(`fib-primes chunksize=${cs}: ${count} primes, serially ${serial.length}`);
    out[`fib_cs${cs}_s`] = dt;
    say(
      `fib-primes executor F=${fib} chunksize=${cs}: ${count} primes in ${dt.toFixed(3)} s (speed-up ${(out.fib_serial_s / dt).toFixed(2)})`,
    );
  }
  out.workers = pool.numWorkers;
  if (json) console.log(JSON.stringify(out));
  return out;
}

/** A PoolExecutor's start-up: construction to first result, with `workers` spawned workers. */
export async function runStartup(workers: number, json: boolean): Promise<number> {
  const t = performance.now();
  await using pool = new PoolExecutor({ maxWorkers: workers });
  if ((await pool.submit(noop, 42)) !== 42) throw new Error("start-up: wrong result");
  const s = (performance.now() - t) / 1000;
  console.log(
    json ? JSON.stringify({ startup_s: s, workers }) : `PoolExecutor start-up to first result (${workers} workers): ${s.toFixed(3)} s`,
  );
  return s;
}

const USAGE = `usage: tsmpirun -n N -m tsmpi/futures tsmpi/futures/bench [TASKS=10000] [FIB=3000] [--json] [--repeat R]
       node node_modules/tsmpi/dist/lib/futures-bench.js --startup [WORKERS=4] [--json]`;

/** The command line: positional counts and flags, checked (a bad one is a usage error, exit 2). */
function commandLine(argv: string[]): { pos: number[]; json: boolean; repeat: number; startup: boolean; help: boolean } {
  const { values, positionals } = parseOptions(
    argv,
    {
      json: { type: "boolean" },
      repeat: { type: "string", default: "0" },
      startup: { type: "boolean" },
      help: { type: "boolean", short: "h" },
    },
    true,
  );
  const count = (raw: string, what: string, min: number): number => {
    const n = Number(raw);
    if (raw === "" || !Number.isSafeInteger(n) || n < min)
      throw new TsmpiError("ERR_TSMPI_ARG", `${what} must be an integer >= ${min}, got ${JSON.stringify(raw)}`);
    return n;
  };
  if (positionals.length > 2)
    throw new TsmpiError("ERR_TSMPI_ARG", `at most two counts, got ${positionals.length}: ${positionals.join(" ")}`);
  const names = values.startup ? ["WORKERS"] : ["TASKS", "FIB"];
  const pos = positionals.map((p, i) => count(p, names[i] ?? "a count", 1));
  if (values.startup && pos.length > 1)
    throw new TsmpiError("ERR_TSMPI_ARG", `--startup takes one count (workers), got ${positionals.join(" ")}`);
  return {
    pos,
    json: Boolean(values.json),
    repeat: count(String(values.repeat), "--repeat", 0),
    startup: Boolean(values.startup),
    help: Boolean(values.help),
  };
}

if (isMainModule(import.meta)) {
  let line: ReturnType<typeof commandLine>;
  try {
    line = commandLine(process.argv.slice(2));
  } catch (err) {
    process.stderr.write(`tsmpi/futures/bench: ${(err as Error).message}\n${USAGE}\n`);
    process.exit(2);
  }
  if (line.help) console.log(USAGE);
  else if (line.startup) await runStartup(line.pos[0] ?? 4, line.json);
  else await runBench(line.pos[0] ?? 10000, line.pos[1] ?? 3000, line.json, line.repeat);
}
