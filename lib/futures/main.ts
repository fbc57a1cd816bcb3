/**
 * `tsmpirun -n N -m tsmpi/futures script [args...]` (as `mpiexec -n N python -m mpi4py.futures
 * script.py`): rank 0 runs the script, with `process.argv` as if it had been started alone;
 * ranks 1..N-1 serve as the workers of every executor the script makes. `script` is a file
 * (`.ts` through tsx, or `.js`) or a package module (`tsmpi/futures/bench`). When rank 0 has
 * nothing left to do the workers are told to stop, and the job ends.
 *
 * Also the entry of a `PoolExecutor`'s spawned worker (`--tsmpi-futures-worker`): it serves the
 * last rank of its job, the executor's process.
 *
 * @module
 */
import fs from "node:fs";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { COMM_WORLD } from "../index.js";
import { placesOf } from "./comm-executor.js";
import { STOP_TAG } from "./protocol.js";
import { markWorker, registerTsx, resolvePackageModule } from "./tasks.js";
import { serve } from "./worker.js";
import { setWorldWorkers } from "./world.js";

const USAGE = "usage: tsmpirun -n N -m tsmpi/futures <script.ts|script.js|module> [args...]";

/** The script to run: a file, else a package module resolved from here or from tsmpi's install. */
function resolveScript(spec: string): string {
  const file = path.resolve(spec);
  if (fs.existsSync(file)) return file;
  const module = resolvePackageModule(spec);
  if (!module) throw new Error(`tsmpi/futures: no such script or module: ${spec} (${USAGE})`);
  return module;
}

/** Runs the `-m tsmpi/futures` mode (or a spawned worker) with the arguments after the module. */
export async function runMain(argv: string[]): Promise<void> {
  if (argv[0] === "--tsmpi-futures-worker") {
    markWorker();
    await placesOf(COMM_WORLD);
    await serve(COMM_WORLD, COMM_WORLD.size - 1);
    return;
  }
  const [spec, ...rest] = argv;
  if (!spec) {
    if (COMM_WORLD.rank === 0) process.stderr.write(`${USAGE}\n`);
    process.exit(2);
  }
  const script = resolveScript(spec);
  process.argv = [process.argv[0]!, script, ...rest];
  const comm = COMM_WORLD.dup();
  const places = await placesOf(comm);
  if (comm.rank !== 0) {
    markWorker();
    await serve(comm, 0);
    return;
  }
  const workers = places.slice(1);
  setWorldWorkers({ comm, places: workers, sessions: 0 });
  let stopped = false;
  // When rank 0 has nothing left to do (before tsmpi finalizes it), the workers stop.
  process.prependListener("beforeExit", () => {
    if (stopped) return;
    stopped = true;
    for (const w of workers) comm.isend(null, w.rank, STOP_TAG);
  });
  if (/\.[mc]?ts$/.test(script)) await registerTsx();
  await import(pathToFileURL(script).href);
}
