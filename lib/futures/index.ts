/**
 * tsmpi/futures: task pools over ranks and hosts, as mpi4py.futures and Python's
 * `concurrent.futures` / `multiprocessing.Pool`.
 *
 * - {@link PoolExecutor}: starts its own workers (locally, on the hosts given to tsmpirun, or
 *   with srun inside a SLURM allocation), or uses the workers of `tsmpirun -m tsmpi/futures`.
 * - {@link CommExecutor}: `CommExecutor.open(comm, { root })` in an SPMD program; the root gets
 *   the executor, the other ranks serve and get `null`.
 * - `tsmpirun -n 5 -m tsmpi/futures script.ts`: rank 0 runs the script, ranks 1-4 are workers.
 *
 * `submit` returns a {@link Future}; {@link wait} and {@link asCompleted} wait on many.
 *
 * Tasks are exported functions of ES modules, found by name on the workers (no source code
 * travels): see `tasks.ts` and the README section "Task pools".
 *
 * @example
 * ```ts
 * import { PoolExecutor, isMainModule } from "tsmpi/futures";
 * export function square(x: number): number { return x * x; }
 * if (isMainModule(import.meta)) {
 *   await using pool = new PoolExecutor({ maxWorkers: 4 });
 *   for await (const y of pool.map(square, [1, 2, 3])) console.log(y);
 * }
 * ```
 *
 * @module
 */
import fs from "node:fs";
import { fileURLToPath } from "node:url";
import { runMain } from "./main.js";
import { isWorkerProcess } from "./tasks.js";
import { worldWorkers } from "./world.js";

export { Executor, AsyncResult, type MapOptions, type ShutdownOptions, type ExecutorOptions, type FirstArg } from "./executor.js";
export { Future, type FutureState, type DoneCallback } from "./future.js";
export {
  wait,
  asCompleted,
  FIRST_COMPLETED,
  FIRST_EXCEPTION,
  ALL_COMPLETED,
  type ReturnWhen,
  type DoneAndNotDone,
  type CompletedFuture,
} from "./wait.js";
export { PoolExecutor, defaultWorkers, type PoolExecutorOptions } from "./pool-executor.js";
export { CommExecutor, type CommExecutorOptions } from "./comm-executor.js";
export { isMainModule, type TaskFunction } from "./tasks.js";
export { poolChunksize } from "./chunking.js";

/** True in a process that serves as a tsmpi/futures worker (its task modules see it while they load). */
export function isWorker(): boolean {
  return isWorkerProcess();
}

/**
 * True on rank 0 of `tsmpirun -m tsmpi/futures` (with workers): every PoolExecutor there uses
 * the job's other ranks, which are busy serving (so no collective over COMM_WORLD can work).
 */
export function hasJobWorkers(): boolean {
  return (worldWorkers()?.places.length ?? 0) > 0;
}

function isEntry(): boolean {
  try {
    return process.argv[1] !== undefined && fs.realpathSync(process.argv[1]) === fs.realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}

// Run as `-m tsmpi/futures` (or as a spawned worker). Not awaited: the script imports this
// module, which must finish evaluating first.
if (isEntry()) {
  runMain(process.argv.slice(2)).catch((err) => {
    setImmediate(() => {
      throw err;
    });
  });
}
