/**
 * Heat: the steady-state temperature of a square plate whose top edge is held at 100 degrees
 * and the other edges at 0, by Jacobi iteration on a grid. The plate is cut into a 2-D grid of
 * blocks, one per rank: `Compute_dims` picks the grid's shape and `Create_cart` lays the ranks
 * on it; `Shift` names the four neighbours (PROC_NULL past the plate's edge). Each iteration
 * exchanges the blocks' borders with one neighbour collective (`Neighbor_alltoallv`: rows up and
 * down, columns left and right), and `allreduce(MAX)` of the largest change decides convergence.
 * Rank 0 then gathers the plate and solves it again alone (the same code on COMM_SELF, a 1 x 1
 * grid): Jacobi does the same arithmetic however the plate is cut, so the two must agree to the
 * last bit.
 *
 *   npx tsmpirun -n 4 examples/heat.ts [gridSize] [tolerance]
 */
import { COMM_SELF, COMM_WORLD, Compute_dims, Op, PROC_NULL, wtime, type Comm } from "tsmpi";

const n = Number(process.argv[2] ?? 32);
const tolerance = Number(process.argv[3] ?? 1e-3);
if (!Number.isInteger(n) || n < 2) throw new Error(`grid size must be an integer >= 2, got ${process.argv[2]}`);

/** The first index and the length of part `p` of `parts` near-equal parts of `0..n-1`. */
function part(p: number, parts: number): [number, number] {
  const first = Math.floor((n * p) / parts);
  return [first, Math.floor((n * (p + 1)) / parts) - first];
}

interface Solution {
  /** This rank's block: its first row and column on the plate, its size, its values row by row. */
  block: { row: number; col: number; rows: number; cols: number; values: Float64Array };
  iterations: number;
}

/** Solves the n x n interior on `comm`, cut into a 2-D grid of near-equal blocks. */
async function solve(comm: Comm): Promise<Solution> {
  const dims = Compute_dims(comm.size, 2);
  const cart = comm.Create_cart(dims, [false, false])!; // every rank is on the grid: prod(dims) = size
  const [r0, rows] = part(cart.coords[0]!, dims[0]!);
  const [c0, cols] = part(cart.coords[1]!, dims[1]!);
  const [up, down] = cart.Shift(0, 1);
  const [left, right] = cart.Shift(1, 1);
  const width = cols + 2; // a ghost column on each side, a ghost row above and below
  let u = new Float64Array((rows + 2) * width);
  let next = new Float64Array((rows + 2) * width);
  if (up === PROC_NULL) {
    // the plate's top edge: never overwritten, as PROC_NULL's receive blocks are left alone
    u.fill(100, 0, width);
    next.fill(100, 0, width);
  }
  // Halo blocks in the cart's neighbour order (up, down, left, right): rows, then columns.
  const counts = [cols, cols, rows, rows];
  const sendbuf = new Float64Array(2 * cols + 2 * rows);
  const recvbuf = new Float64Array(2 * cols + 2 * rows);
  let iterations = 0;
  for (;;) {
    sendbuf.set(u.subarray(width + 1, width + 1 + cols), 0); // my first row goes up
    sendbuf.set(u.subarray(rows * width + 1, rows * width + 1 + cols), cols); // my last row down
    for (let i = 0; i < rows; i++) {
      sendbuf[2 * cols + i] = u[(i + 1) * width + 1]!; // my first column left
      sendbuf[2 * cols + rows + i] = u[(i + 1) * width + cols]!; // my last column right
    }
    await cart.Neighbor_alltoallv([sendbuf, counts], [recvbuf, counts]);
    if (up !== PROC_NULL) u.set(recvbuf.subarray(0, cols), 1);
    if (down !== PROC_NULL) u.set(recvbuf.subarray(cols, 2 * cols), (rows + 1) * width + 1);
    for (let i = 0; i < rows; i++) {
      if (left !== PROC_NULL) u[(i + 1) * width] = recvbuf[2 * cols + i]!;
      if (right !== PROC_NULL) u[(i + 1) * width + cols + 1] = recvbuf[2 * cols + rows + i]!;
    }
    let change = 0;
    for (let i = 1; i <= rows; i++) {
      for (let j = 1; j <= cols; j++) {
        const k = i * width + j;
        const v = 0.25 * (u[k - 1]! + u[k + 1]! + u[k - width]! + u[k + width]!);
        change = Math.max(change, Math.abs(v - u[k]!));
        next[k] = v;
      }
    }
    // the ghost cells of `next` are refreshed by the next exchange (or fixed: the plate's edges)
    [u, next] = [next, u];
    iterations++;
    if ((await cart.allreduce(change, Op.MAX)) < tolerance) break;
  }
  const values = new Float64Array(rows * cols);
  for (let i = 0; i < rows; i++) values.set(u.subarray((i + 1) * width + 1, (i + 1) * width + 1 + cols), i * cols);
  cart.Free();
  return { block: { row: r0, col: c0, rows, cols, values }, iterations };
}

/** The whole plate from its blocks. */
function assemble(blocks: Solution["block"][]): Float64Array {
  const plate = new Float64Array(n * n);
  for (const b of blocks) {
    for (let i = 0; i < b.rows; i++) plate.set(b.values.subarray(i * b.cols, (i + 1) * b.cols), (b.row + i) * n + b.col);
  }
  return plate;
}

const t0 = wtime();
const mine = await solve(COMM_WORLD);
const elapsed = wtime() - t0;

// Gather the blocks on rank 0 (objects: each block says where it goes).
const blocks = await COMM_WORLD.gather(mine.block, 0);

if (COMM_WORLD.rank === 0) {
  const plate = assemble(blocks!);
  const alone = await solve(COMM_SELF);
  if (alone.iterations !== mine.iterations)
    throw new Error(`${COMM_WORLD.size} ranks took ${mine.iterations} iterations, one rank ${alone.iterations}`);
  const single = assemble([alone.block]);
  const differ = plate.findIndex((v, i) => v !== single[i]);
  if (differ >= 0) throw new Error(`cell ${differ} differs: ${plate[differ]} on ${COMM_WORLD.size} ranks, ${single[differ]} on one`);
  const centre = plate[Math.floor(n / 2) * n + Math.floor(n / 2)]!;
  const [py, px] = Compute_dims(COMM_WORLD.size, 2);
  console.log(
    `heat: ${n}x${n} plate on ${COMM_WORLD.size} rank${COMM_WORLD.size > 1 ? "s" : ""} converged after ${mine.iterations} iterations (largest change < ${tolerance}) in ${(elapsed * 1e3).toFixed(1)} ms, as ${py}x${px} blocks`,
  );
  console.log(`heat: centre temperature ${centre.toFixed(4)}; identical to the single-rank run in every cell`);
}
