/**
 * Heat on GPUs: the plate of examples/heat.ts (top edge held at 100 degrees, the other edges at 0,
 * Jacobi iteration until the largest change is below a tolerance), with each rank's rows in
 * device memory and the update done by a CUDA C kernel of our own, compiled at run time (as a
 * numba.cuda or CuPy RawKernel user would write it). Per iteration each rank:
 *
 *   1. launches `step`: one thread per cell computes the new value from its four neighbours
 *      (the rows above and below this rank's block come from the halo arrays), writes the new
 *      first and last rows into the arrays it sends next, and folds |change| into a max;
 *   2. swaps halos with its neighbours with `Sendrecv` of DeviceArrays (PROC_NULL past the
 *      plate's edge, so rank 0's top halo keeps the 100-degree edge);
 *   3. `Allreduce(MAX)`s the change, a DeviceArray too, to decide convergence on every rank.
 *
 * Rank 0 then gathers the plate and solves it again on the CPU in plain JavaScript: the kernel is
 * compiled without fused multiply-adds, so the two must agree in every cell, bit for bit, and in
 * the number of iterations. Without a GPU (or NVRTC) on every rank it says why and exits 0.
 *
 *   npx tsmpirun -n 2 examples/heat-gpu.ts [gridSize] [tolerance]
 */
import { COMM_WORLD as comm, Op, PROC_NULL, TsmpiError, cuda, wtime } from "tsmpi";

const n = Number(process.argv[2] ?? 32);
const tolerance = Number(process.argv[3] ?? 1e-3);
if (!Number.isInteger(n) || n < comm.size)
  throw new Error(`grid size must be an integer >= the number of ranks (${comm.size}), got ${process.argv[2]}`);
const width = n + 2; // one boundary column (held at 0) on each side of the n interior columns

const SOURCE = `
extern "C" __global__ void step(const double* u, const double* above, const double* below, double* next,
                                double* firstRow, double* lastRow, double* change, int rows, int width) {
  int j = blockIdx.x * blockDim.x + threadIdx.x + 1;  // interior column, 1..width-2
  int i = blockIdx.y * blockDim.y + threadIdx.y;      // this rank's row, 0..rows-1
  if (j > width - 2 || i >= rows) return;
  int k = i * width + j;
  double up = i == 0 ? above[j] : u[k - width];
  double down = i == rows - 1 ? below[j] : u[k + width];
  double v = 0.25 * (u[k - 1] + u[k + 1] + up + down);
  next[k] = v;
  if (i == 0) firstRow[j] = v;
  if (i == rows - 1) lastRow[j] = v;
  // max of non-negative doubles = max of their bit patterns as unsigned integers
  atomicMax((unsigned long long*)change, (unsigned long long)__double_as_longlong(fabs(v - u[k])));
}`;

// Compile once per rank; where CUDA or NVRTC is missing the call says what is missing.
let step: ReturnType<typeof cuda.kernel> | undefined;
let missing = "";
try {
  step = cuda.kernel(SOURCE, "step", ["--fmad=false"]);
} catch (error) {
  if (!(error instanceof TsmpiError && error.code === "ERR_TSMPI_NO_GPU")) throw error;
  missing = error.message;
}
const reasons = await comm.allgather(missing);
const without = reasons.findIndex((why) => why !== "");
const { rank, size } = comm;

/** Solves the plate on the ranks' GPUs; rank 0 returns the whole plate, the others null. */
async function solveOnGpus(kernel: NonNullable<typeof step>): Promise<{ plate: Float64Array | null; iterations: number; seconds: number }> {
  const first = Math.floor((n * rank) / size);
  const rows = Math.floor((n * (rank + 1)) / size) - first;
  const up = rank > 0 ? rank - 1 : PROC_NULL;
  const down = rank < size - 1 ? rank + 1 : PROC_NULL;

  // This rank's rows (with their boundary columns) and the halos: the neighbours' edge rows, or
  // the plate's edge (100 degrees above rank 0, 0 below the last rank).
  let u = cuda.empty(Float64Array, rows * width);
  let next = cuda.empty(Float64Array, rows * width);
  const zeros = new Float64Array(rows * width);
  u.copyFrom(zeros);
  next.copyFrom(zeros); // its boundary columns stay 0: the kernel writes interior cells only
  const above = cuda.toDevice(new Float64Array(width).fill(rank === 0 ? 100 : 0));
  const below = cuda.toDevice(new Float64Array(width));
  const firstRow = cuda.toDevice(new Float64Array(width)); // what the neighbours need of us
  const lastRow = cuda.toDevice(new Float64Array(width));
  const change = cuda.empty(Float64Array, 1);
  const largest = cuda.empty(Float64Array, 1);
  const noChange = new Float64Array(1);

  const launch = { block: [32, 8], grid: [Math.ceil(n / 32), Math.ceil(rows / 8)] } as const;
  const t0 = wtime();
  let iterations = 0;
  for (;;) {
    // Halo exchange: my first row goes up while the row below mine comes up, and vice versa.
    await comm.Sendrecv(firstRow, up, 0, below, down, 0);
    await comm.Sendrecv(lastRow, down, 1, above, up, 1);
    await change.stageFromHost(noChange);
    await kernel.launch(launch, [u, above, below, next, firstRow, lastRow, change, rows, width]);
    [u, next] = [next, u];
    iterations++;
    await comm.Allreduce(change, largest, Op.MAX);
    if (largest.toHost()[0]! < tolerance) break;
  }
  const seconds = wtime() - t0;

  // The interior of this rank's rows, gathered on rank 0 (blocks of different sizes: Gatherv).
  const mine = u.toHost();
  const interior = new Float64Array(rows * n);
  for (let i = 0; i < rows; i++) interior.set(mine.subarray(i * width + 1, i * width + 1 + n), i * n);
  const counts = Array.from({ length: size }, (_, r) => (Math.floor((n * (r + 1)) / size) - Math.floor((n * r) / size)) * n);
  const plate = rank === 0 ? new Float64Array(n * n) : null;
  await comm.Gatherv(interior, plate ? [plate, counts] : null, 0);
  for (const array of [u, next, above, below, firstRow, lastRow, change, largest]) array.free();
  return { plate, iterations, seconds };
}

/** The same Jacobi iteration on the CPU, the whole plate in one array with a ghost frame. */
function solveOnCpu(): { cells: Float64Array; iterations: number } {
  let a = new Float64Array((n + 2) * width);
  let b = new Float64Array((n + 2) * width);
  a.fill(100, 0, width);
  b.fill(100, 0, width);
  for (let iteration = 1; ; iteration++) {
    let largestChange = 0;
    for (let i = 1; i <= n; i++) {
      for (let j = 1; j <= n; j++) {
        const k = i * width + j;
        const v = 0.25 * (a[k - 1]! + a[k + 1]! + a[k - width]! + a[k + width]!);
        largestChange = Math.max(largestChange, Math.abs(v - a[k]!));
        b[k] = v;
      }
    }
    [a, b] = [b, a];
    if (largestChange < tolerance) {
      const cells = new Float64Array(n * n);
      for (let i = 0; i < n; i++) cells.set(a.subarray((i + 1) * width + 1, (i + 1) * width + 1 + n), i * n);
      return { cells, iterations: iteration };
    }
  }
}

if (without >= 0) {
  if (rank === 0)
    console.log(
      `heat-gpu: ${size > 1 ? `rank ${without} has` : "this machine has"} no usable GPU (${reasons[without]}); this example needs one on every rank, nothing to check here`,
    );
} else {
  const { plate, iterations, seconds } = await solveOnGpus(step!);
  const devices = await comm.gather(`${cuda.deviceInfo().name} #${cuda.device}`, 0);
  if (rank === 0) {
    const cpu = solveOnCpu();
    if (cpu.iterations !== iterations) throw new Error(`the GPUs took ${iterations} iterations, the CPU ${cpu.iterations}`);
    const differ = plate!.findIndex((v, i) => v !== cpu.cells[i]);
    if (differ >= 0) throw new Error(`cell ${differ} differs: ${plate![differ]} on the GPUs, ${cpu.cells[differ]} on the CPU`);
    const centre = plate![Math.floor(n / 2) * n + Math.floor(n / 2)]!;
    console.log(
      `heat-gpu: ${n}x${n} plate on ${size} rank${size > 1 ? "s" : ""} (GPUs ${devices!.join(", ")}) converged after ${iterations} iterations (largest change < ${tolerance}) in ${(seconds * 1e3).toFixed(1)} ms`,
    );
    console.log(`heat-gpu: centre temperature ${centre.toFixed(4)}; identical to the CPU run in every cell`);
  }
}
