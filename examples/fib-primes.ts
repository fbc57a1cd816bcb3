/**
 * Fibonacci primes, the course exercise for task pools: which of the first F Fibonacci
 * numbers are prime (BigInt, Miller-Rabin)? Solved serially, then through an executor with
 * chunk sizes 1 and 10, printing the times and speed-ups. The numbers grow, so later tasks
 * take longer: dynamic load balancing matters.
 *
 * One script, three ways to run it:
 *   npx tsmpirun -n 4 examples/fib-primes.ts [F=5000]    # CommExecutor: rank 0 + 3 worker ranks
 *   npx tsx examples/fib-primes.ts [F]                    # PoolExecutor: spawns its own workers
 *   npx tsmpirun -n 5 -m tsmpi/futures examples/fib-primes.ts [F]   # the job's ranks 1-4 are the workers
 *
 * The primes found are checked against the known indices of Fibonacci primes (OEIS A001605).
 * Workers import this script to find `isPrime`, so its main part runs only where
 * `isMainModule(import.meta)` says so.
 */
import assert from "node:assert/strict";
import { COMM_WORLD, wtime } from "tsmpi";
import { CommExecutor, PoolExecutor, hasJobWorkers, isMainModule, type Executor } from "tsmpi/futures";

const BASES = [2n, 3n, 5n, 7n, 11n, 13n, 17n, 19n, 23n, 29n, 31n, 37n];

/** base ** exp % mod by squaring. */
function powmod(base: bigint, exp: bigint, mod: bigint): bigint {
  let result = 1n;
  base %= mod;
  for (; exp > 0n; exp >>= 1n) {
    if (exp & 1n) result = (result * base) % mod;
    base = (base * base) % mod;
  }
  return result;
}

/** Miller-Rabin with the first twelve primes as witnesses. */
export function isPrime(n: bigint): boolean {
  if (n < 2n) return false;
  for (const p of BASES) if (n % p === 0n) return n === p;
  let d = n - 1n;
  let s = 0;
  while ((d & 1n) === 0n) {
    d >>= 1n;
    s++;
  }
  witness: for (const a of BASES) {
    let x = powmod(a, d, n);
    if (x === 1n || x === n - 1n) continue;
    for (let i = 1; i < s; i++) {
      x = (x * x) % n;
      if (x === n - 1n) continue witness;
    }
    return false;
  }
  return true;
}

/** F(0), F(1), ..., F(count - 1). */
function* fibonacci(count: number): Generator<bigint> {
  let [a, b] = [0n, 1n];
  for (let i = 0; i < count; i++) {
    yield a;
    [a, b] = [b, a + b];
  }
}

/** Indices n with F(n) prime (OEIS A001605), up to 10^4. */
const KNOWN = [3, 4, 5, 7, 11, 13, 17, 23, 29, 43, 47, 83, 131, 137, 359, 431, 433, 449, 509, 569, 571, 2971, 4723, 5387, 9311, 9677];

/** A progress bar on a terminal (nothing when the output is a file or a pipe). */
function progressBar(label: string): ((done: number, total: number | undefined) => void) | undefined {
  if (!process.stdout.isTTY) return undefined;
  return (done, total) => {
    if (!total) return;
    const width = 30;
    const filled = Math.round((done / total) * width);
    process.stdout.write(
      `\r${label} [${"#".repeat(filled)}${".".repeat(width - filled)}] ${done}/${total}${done === total ? "\r\x1b[K" : ""}`,
    );
  };
}

async function run(ex: Executor, count: number): Promise<void> {
  const expected = KNOWN.filter((i) => i < count);
  await ex.bootup(); // workers started before the clock starts
  let t = wtime();
  const serial = [...fibonacci(count)].map((f, i) => (isPrime(f) ? i : -1)).filter((i) => i >= 0);
  const tSerial = wtime() - t;
  assert.deepEqual(serial, expected, "the serial run found other primes than the known ones");
  console.log(`serial: ${serial.length} Fibonacci primes among the first ${count} Fibonacci numbers in ${tSerial.toFixed(3)} s`);
  for (const chunksize of [1, 10]) {
    t = wtime();
    const found: number[] = [];
    let i = 0;
    for await (const prime of ex.map(isPrime, fibonacci(count), { chunksize, onProgress: progressBar(`chunksize ${chunksize}`) })) {
      if (prime) found.push(i);
      i++;
    }
    const dt = wtime() - t;
    assert.deepEqual(found, expected, `the executor (chunksize ${chunksize}) found other primes`);
    console.log(
      `executor, ${ex.numWorkers} worker${ex.numWorkers > 1 ? "s" : ""}, chunksize ${chunksize}: ${found.length} primes in ${dt.toFixed(3)} s (speed-up ${(tSerial / dt).toFixed(2)})`,
    );
  }
  console.log(`F(n) is prime for n = ${expected.join(", ")}`);
}

if (isMainModule(import.meta)) {
  const count = Number(process.argv[2] ?? 5000);
  if (!Number.isInteger(count) || count < 1) throw new Error(`F must be a positive integer, got ${process.argv[2]}`);
  if (COMM_WORLD.size > 1 && !hasJobWorkers()) {
    // SPMD: rank 0 gets the executor, the others serve until it shuts down.
    await using ex = await CommExecutor.open(COMM_WORLD, { root: 0, tasks: [isPrime] });
    if (ex) await run(ex, count);
  } else {
    // One process: a pool of its own workers (under -m tsmpi/futures, the job's).
    await using pool = new PoolExecutor();
    await run(pool, count);
  }
}
