/**
 * Monte Carlo pi on each rank's GPU: every rank counts its share of the samples with the built-in
 * kernel `cuda.piCount` (on its CUDA device, or on the CPU where there is none), the counts are
 * summed on rank 0 with a buffer-tier `Reduce` of DeviceArrays, and rank 0 prints each rank's
 * backend and speed (gathered, in rank order) and the estimate. Each rank draws from its own
 * Philox stream, so a run is reproducible on any backend. The example checks its own result:
 * every requested sample was counted, and the estimate is within 6 standard deviations of pi.
 *
 *   npx tsmpirun -n 4 examples/gpu-pi.ts [samples]
 */
import { COMM_WORLD as comm, Op, cuda, wtime } from "tsmpi";

const samples = Number(process.argv[2] ?? 20_000_000);
if (!Number.isSafeInteger(samples) || samples <= 0) throw new Error(`samples must be a positive integer, got ${process.argv[2]}`);
const { rank, size } = comm;

const mine = Math.floor(samples / size) + (rank < samples % size ? 1 : 0);
const t0 = wtime();
const inside = await cuda.piCount(mine, { seed: 2024, stream: rank });
const seconds = wtime() - t0;

// [inside, drawn] of this rank, summed on rank 0 straight from device memory
const counts = cuda.toDevice(new Float64Array([inside, mine]));
const totals = rank === 0 ? cuda.empty(Float64Array, 2) : null;
await comm.Reduce(counts, totals, Op.SUM, 0);

const backend = cuda.available
  ? `cuda device ${cuda.device} (${cuda.deviceInfo().name})`
  : `cpu (${cuda.info().addon === "loaded" ? "C++ addon" : "JavaScript"})`;
const rate = seconds > 0 ? (mine / seconds).toExponential(2) : "-";
const lines = await comm.gather(`rank ${rank}: ${backend}, ${mine} samples, ${rate} samples/s`, 0);

if (rank === 0) {
  for (const line of lines!) console.log(line);
  const [total, drawn] = totals!.toHost();
  if (drawn !== samples) throw new Error(`the ranks counted ${drawn} samples, expected ${samples}`);
  const pi = (4 * total!) / samples;
  const sigma = 4 * Math.sqrt(((Math.PI / 4) * (1 - Math.PI / 4)) / samples);
  console.log(
    `pi is approximately ${pi.toFixed(6)} (error ${(pi - Math.PI).toExponential(2)}) from ${samples} samples on ${size} rank${size > 1 ? "s" : ""}`,
  );
  if (Math.abs(pi - Math.PI) > 6 * sigma) throw new Error(`estimate ${pi} is more than 6 sigma (${sigma}) from pi`);
}
