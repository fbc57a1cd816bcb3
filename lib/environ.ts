/**
 * MPI's environment inquiries (mpi4py's module-level functions of the same names): which MPI
 * version the API follows, which library this is, the thread level, the processor name, and the
 * clock. None needs the runtime, so they answer also before a rank joins its job.
 *
 * Not implemented: `Init_thread` (importing tsmpi initializes, as mpi4py's default import does:
 * the level provided is {@link Query_thread}'s), `Get_hw_resource_info`, `Pcontrol`,
 * `Get_abi_version`.
 *
 * @module
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { isMainThread } from "node:worker_threads";
import { SUBVERSION, THREAD_FUNNELED, VERSION } from "./constants.js";

/**
 * The version of the MPI standard tsmpi's API follows (`MPI_Get_version`), `[VERSION,
 * SUBVERSION]`: `[4, 0]`, MPI 4.0 through mpi4py 4.x's names (persistent collectives, `Isendrecv`,
 * ...), for the parts tsmpi implements.
 * @example
 * ```ts
 * const [major, minor] = Get_version(); // 4, 0
 * ```
 */
export function Get_version(): [number, number] {
  return [VERSION, SUBVERSION];
}

let libraryVersion: string | undefined;

/**
 * The library's version string (`MPI_Get_library_version`), e.g.
 * `"tsmpi 0.1.0 (MPI 4.0; Node.js v20.20.0, linux x64)"`: tsmpi's version from its package.json
 * and the Node.js that runs it.
 */
export function Get_library_version(): string {
  libraryVersion ??= `tsmpi ${packageVersion()} (MPI ${VERSION}.${SUBVERSION}; Node.js ${process.version}, ${process.platform} ${process.arch})`;
  return libraryVersion;
}

/**
 * tsmpi's version: from the nearest package.json above this module named tsmpi (lib/ from source,
 * dist/lib/ built, node_modules/tsmpi/dist/lib/ installed), or `unknown`.
 */
export function packageVersion(): string {
  for (let dir = path.dirname(fileURLToPath(import.meta.url)); ; dir = path.dirname(dir)) {
    try {
      const pkg = JSON.parse(fs.readFileSync(path.join(dir, "package.json"), "utf8")) as { name?: unknown; version?: unknown };
      if (pkg.name === "tsmpi" && typeof pkg.version === "string") return pkg.version;
    } catch {
      // no package.json here (or not readable): look further up
    }
    if (path.dirname(dir) === dir) return "unknown";
  }
}

/**
 * The level of thread support tsmpi provides (`MPI_Query_thread`): `THREAD_FUNNELED`. A rank is
 * one Node process; its main thread imports tsmpi and makes every call, any number of them
 * outstanding at once as promises on the event loop (which needs no threads). Worker threads may
 * run beside it but must not use tsmpi: a worker gets its own copy of the module, which is not
 * this rank.
 */
export function Query_thread(): number {
  return THREAD_FUNNELED;
}

/**
 * Whether the calling thread is the one that initialized tsmpi (`MPI_Is_thread_main`): true on
 * Node's main thread, where tsmpi is meant to be imported (see {@link Query_thread}), false in a
 * worker thread.
 */
export function Is_thread_main(): boolean {
  return isMainThread;
}

/** The name of the host this rank runs on (`MPI_Get_processor_name`): `os.hostname()`. */
export function Get_processor_name(): string {
  return os.hostname();
}

/** Seconds since an arbitrary point in the past, with sub-microsecond resolution (`MPI_Wtime`). */
export function Wtime(): number {
  return performance.now() / 1000;
}

/** The resolution of {@link Wtime} in seconds (`MPI_Wtick`). */
export function Wtick(): number {
  return 1e-9;
}
