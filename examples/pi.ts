/**
 * Monte Carlo pi, as in the course material: N random points in the unit square are split
 * across the ranks; each rank counts those inside the quarter circle; the counts are summed
 * on rank 0 with `reduce`, which prints the estimate, the time between two barriers and the
 * number of ranks. Each rank draws from its own seeded stream, so a run is reproducible, and
 * the estimate is checked against pi (the tolerance is 6 standard deviations).
 *
 *   npx tsmpirun -n 4 examples/pi.ts [samples]
 */
import { COMM_WORLD as comm, Op, wtime } from "tsmpi";

const samples = Number(process.argv[2] ?? 4_000_000);
if (!Number.isInteger(samples) || samples <= 0) throw new Error(`samples must be a positive integer, got ${process.argv[2]}`);
const { rank, size } = comm;

/** A small seeded generator (splitmix32): uniform numbers in [0, 1). */
function generator(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x9e3779b9) >>> 0;
    let z = s;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
    return ((z ^ (z >>> 16)) >>> 0) / 2 ** 32;
  };
}

const mine = Math.floor(samples / size) + (rank < samples % size ? 1 : 0);
await comm.barrier();
const t0 = wtime();
const random = generator(12345 + 7919 * rank);
let inside = 0;
for (let i = 0; i < mine; i++) {
  const x = random();
  const y = random();
  if (x * x + y * y < 1) inside++;
}
const total = await comm.reduce(inside, Op.SUM, 0);
const drawn = await comm.reduce(mine, Op.SUM, 0);
await comm.barrier();
const elapsed = wtime() - t0;

if (rank === 0) {
  if (drawn !== samples) throw new Error(`the ranks drew ${drawn} samples, expected ${samples}`);
  const pi = (4 * total!) / samples;
  const sigma = 4 * Math.sqrt(((Math.PI / 4) * (1 - Math.PI / 4)) / samples);
  console.log(`pi is approximately ${pi.toFixed(6)} (error ${(pi - Math.PI).toExponential(2)}) from ${samples} samples`);
  console.log(`time between barriers: ${(elapsed * 1e3).toFixed(1)} ms on ${size} rank${size > 1 ? "s" : ""}`);
  if (Math.abs(pi - Math.PI) > 6 * sigma) throw new Error(`estimate ${pi} is more than 6 sigma (${sigma}) from pi`);
}
