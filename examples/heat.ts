/**
 * Heat: the steady-state temperature of a square plate whose top edge is held at 100 degrees
 * and the other edges at 0, by Jacobi iteration on a grid. The rows are split across the ranks;
 * each iteration exchanges boundary rows with the neighbours (`Sendrecv`; PROC_NULL past the
 * plate's edge), and `allreduce(MAX)` of the largest change decides convergence. Rank 0 then
 * gathers the plate and solves it again alone (the same code on COMM_SELF): Jacobi does the
 * same arithmetic however the rows are split, so the two must agree to the last bit.
 *
 *   npx tsmpirun -n 4 examples/heat.ts [gridSize] [tolerance]
 */
import { COMM_SELF, COMM_WORLD, Op, PROC_NULL, wtime, type Comm } from "tsmpi";

const n = Number(process.argv[2] ?? 32);
const tolerance = Number(process.argv[3] ?? 1e-3);
if (!Number.isInteger(n) || n < 2) throw new Error(`grid size must be an integer >= 2, got ${process.argv[2]}`);

interface Solution {
  /** This rank's rows, n values each, in order. */
  rows: Float64Array;
  iterations: number;
}

/** Solves the n x n interior on `comm`, rows split in near-equal blocks. */
async function solve(comm: Comm): Promise<Solution> {
  const { rank, size } = comm;
  const first = Math.floor((n * rank) / size);
  const count = Math.floor((n * (rank + 1)) / size) - first;
  const up = rank > 0 ? rank - 1 : PROC_NULL;
  const down = rank < size - 1 ? rank + 1 : PROC_NULL;
  const width = n + 2; // one boundary column on each side
  // Rows 0 and count+1 are ghosts: the neighbours' boundary rows, or the plate's edge.
  let u = new Float64Array((count + 2) * width);
  let next = new Float64Array((count + 2) * width);
  if (rank === 0) {
    u.fill(100, 0, width);
    next.fill(100, 0, width);
  }
  const row = (a: Float64Array, i: number) => a.subarray(i * width, (i + 1) * width);
  let iterations = 0;
  for (;;) {
    // Halo exchange: my first row goes up while the row below mine comes up, and vice versa.
    await comm.Sendrecv(row(u, 1), up, 0, row(u, count + 1), down, 0);
    await comm.Sendrecv(row(u, count), down, 1, row(u, 0), up, 1);
    let change = 0;
    for (let i = 1; i <= count; i++) {
      for (let j = 1; j <= n; j++) {
        const k = i * width + j;
        const v = 0.25 * (u[k - 1]! + u[k + 1]! + u[k - width]! + u[k + width]!);
        change = Math.max(change, Math.abs(v - u[k]!));
        next[k] = v;
      }
    }
    [u, next] = [next, u];
    iterations++;
    if ((await comm.allreduce(change, Op.MAX)) < tolerance) break;
  }
  const rows = new Float64Array(count * n);
  for (let i = 0; i < count; i++) rows.set(u.subarray((i + 1) * width + 1, (i + 1) * width + 1 + n), i * n);
  return { rows, iterations };
}

const t0 = wtime();
const mine = await solve(COMM_WORLD);
const elapsed = wtime() - t0;

// Gather the whole plate on rank 0 (row blocks of different sizes: Gatherv).
const counts = Array.from({ length: COMM_WORLD.size }, (_, r) => (Math.floor((n * (r + 1)) / COMM_WORLD.size) - Math.floor((n * r) / COMM_WORLD.size)) * n);
const plate = COMM_WORLD.rank === 0 ? new Float64Array(n * n) : null;
await COMM_WORLD.Gatherv(mine.rows, plate ? [plate, counts] : null, 0);

if (COMM_WORLD.rank === 0) {
  const alone = await solve(COMM_SELF);
  if (alone.iterations !== mine.iterations) throw new Error(`${COMM_WORLD.size} ranks took ${mine.iterations} iterations, one rank ${alone.iterations}`);
  const differ = plate!.findIndex((v, i) => v !== alone.rows[i]);
  if (differ >= 0) throw new Error(`cell ${differ} differs: ${plate![differ]} on ${COMM_WORLD.size} ranks, ${alone.rows[differ]} on one`);
  const centre = plate![Math.floor(n / 2) * n + Math.floor(n / 2)]!;
  console.log(`heat: ${n}x${n} plate on ${COMM_WORLD.size} rank${COMM_WORLD.size > 1 ? "s" : ""} converged after ${mine.iterations} iterations (largest change < ${tolerance}) in ${(elapsed * 1e3).toFixed(1)} ms`);
  console.log(`heat: centre temperature ${centre.toFixed(4)}; identical to the single-rank run in every cell`);
}
