/**
 * Task functions and the modules that hold them. No source code travels: the manager sends a
 * function's name, and a worker finds the function among the exports of the session's task
 * modules (or among the functions registered on it directly, for `CommExecutor` in an SPMD
 * program, whose ranks all hold them).
 *
 * Which modules: those in the executor's `tasks` option (module URLs or paths), then, for a
 * `PoolExecutor`, the main script (`process.argv[1]`; for `tsmpirun -m tsmpi/futures script`,
 * the script), imported only for a function none of the `tasks` modules exports. A worker
 * importing the main script runs its top-level code, so a script that defines tasks guards its
 * main part with `if (isMainModule(import.meta))`, as Python scripts guard theirs with
 * `if __name__ == "__main__"`; a script whose tasks all live in `tasks` modules needs no guard.
 *
 * Modules ending in `.ts`/`.mts`/`.cts` are loaded through tsx (resolved from tsmpi's own
 * install), registered on the worker the first time one is needed.
 *
 * Not supported: anonymous functions, closures and bound functions (they have no exported
 * name); two task modules exporting different functions under one name (the first wins).
 *
 * @module
 */
import fs from "node:fs";
import path from "node:path";
import { createRequire } from "node:module";
import { fileURLToPath, pathToFileURL } from "node:url";
import { TsmpiError, describeValue } from "../errors.js";
import { packObject } from "../serializer.js";

/**
 * A function the executor can run: any exported function of a task module. Its parameters are
 * `never[]` so that a function of any parameters is one (parameters are checked contravariantly:
 * `never` is assignable to every type); callers take its real parameters with `Parameters<F>`.
 */
export type TaskFunction = (...args: never[]) => unknown;

/**
 * A task function as a worker calls it: with the arguments that came over the wire, whose types
 * only the caller's `Parameters<F>` checked.
 */
export type WireTask = (...args: unknown[]) => unknown;

/** Whether this process serves as a tsmpi/futures worker (set before task modules load). */
let workerProcess = false;

/** Marks this process as a worker. */
export function markWorker(): void {
  workerProcess = true;
}

/** True in a process that serves as a tsmpi/futures worker. */
export function isWorkerProcess(): boolean {
  return workerProcess;
}

/** The URL of the main script, or undefined (a REPL, `node -e`). */
export function mainModuleUrl(): string | undefined {
  const main = process.argv[1];
  if (!main) return undefined;
  try {
    return pathToFileURL(fs.realpathSync(main)).href;
  } catch {
    return undefined;
  }
}

/**
 * True when `meta` is the main script's `import.meta` and this process is not a worker: guard a
 * script's main part with it when the script also defines tasks (workers import the script).
 *
 * @example
 * ```ts
 * export function square(x: number) { return x * x; }
 * if (isMainModule(import.meta)) {
 *   await using pool = new PoolExecutor();
 *   console.log(await pool.submit(square, 7));
 * }
 * ```
 */
export function isMainModule(meta: ImportMeta): boolean {
  if (workerProcess) return false;
  const main = mainModuleUrl();
  if (main === undefined) return false;
  if (meta.url === main) return true;
  try {
    return pathToFileURL(fs.realpathSync(new URL(meta.url))).href === main;
  } catch {
    return false;
  }
}

/**
 * A package module (`pkg/sub`) as a file: resolved from the current directory (the user's own
 * dependency), else from tsmpi's install; undefined when neither has it.
 */
export function resolvePackageModule(spec: string): string | undefined {
  try {
    return createRequire(path.join(process.cwd(), "noop.js")).resolve(spec);
  } catch {
    try {
      return fileURLToPath(import.meta.resolve(spec));
    } catch {
      return undefined;
    }
  }
}

/** A module given by URL, file URL object, path, or package specifier, as a URL string. */
export function moduleUrl(spec: string | URL, name: string): string {
  if (spec instanceof URL) return spec.href;
  if (typeof spec !== "string" || spec === "")
    throw new TsmpiError("ERR_TSMPI_ARG", `${name} must be module URLs, paths or package names, got ${describeValue(spec)}`);
  if (/^[a-z][a-z0-9+.-]*:/i.test(spec) && !/^[a-z]:[\\/]/i.test(spec)) return spec;
  if (spec.startsWith(".") || path.isAbsolute(spec) || fs.existsSync(spec)) return pathToFileURL(path.resolve(spec)).href;
  const file = resolvePackageModule(spec);
  if (!file) throw new TsmpiError("ERR_TSMPI_ARG", `${name}: no such module or package: ${describeValue(spec)}`);
  return pathToFileURL(file).href;
}

/** The name a task function travels by; refuses what a worker could never find. */
export function taskName(fn: unknown, what = "fn"): string {
  if (typeof fn !== "function")
    throw new TsmpiError("ERR_TSMPI_ARG", `${what} must be an exported function of a task module, got ${describeValue(fn)}`);
  const name = fn.name;
  if (!name || name.startsWith("bound ") || !/^[A-Za-z_$][\w$]*$/.test(name)) {
    throw new TsmpiError(
      "ERR_TSMPI_ARG",
      `${what} must be a named function exported by a task module (workers find it by name), got ${name ? JSON.stringify(name) : "an anonymous function"}`,
    );
  }
  return name;
}

/**
 * The open message's initializer fields from the `initializer`/`initargs` options: the
 * initializer's name, and arguments that are checked to serialize now (a worker could never
 * receive them; the executor refuses at construction, as it refuses a bad option).
 * @throws TsmpiError `ERR_TSMPI_ARG` for a bad initializer or initargs that are not an array,
 *   `ERR_TSMPI_TYPE` for initargs that cannot be serialized.
 */
export function initializerOption(initializer: unknown, initargs: unknown): { init?: string; initArgs?: unknown[] } {
  if (initargs !== undefined && !Array.isArray(initargs))
    throw new TsmpiError("ERR_TSMPI_ARG", `initargs must be an array, got ${describeValue(initargs)}`);
  if (initializer === undefined) return {};
  const init = taskName(initializer, "initializer");
  const initArgs = initargs ?? [];
  try {
    packObject(initArgs);
  } catch (err) {
    throw new TsmpiError("ERR_TSMPI_TYPE", `initargs cannot be sent to the workers: ${(err as Error)?.message ?? String(err)}`, {
      cause: err,
    });
  }
  return { init, initArgs };
}

/** Task modules being imported by this worker right now (their top-level code is running). */
let loadingTaskModules = 0;

/**
 * Refuses an executor made by a task module's top-level code while a worker imports it: a
 * script without an `isMainModule` guard would otherwise start pools from every worker, and
 * workers of those pools again.
 */
export function refuseInTaskModuleLoad(what: string): void {
  if (workerProcess && loadingTaskModules > 0) {
    throw new TsmpiError(
      "ERR_TSMPI_TASK",
      `${what} was created while a worker imported its task modules: guard the script's main part with if (isMainModule(import.meta)) { ... }`,
    );
  }
}

let tsxRegistered: Promise<void> | undefined;

/** Registers tsx's loader in this process (once), so `.ts` task modules import. */
export function registerTsx(): Promise<void> {
  tsxRegistered ??= import("tsx/esm/api").then((api) => {
    api.register();
  });
  return tsxRegistered;
}

/** Imports a task module (through tsx for TypeScript), or fails with `ERR_TSMPI_TASK`. */
async function importTaskModule(url: string): Promise<Record<string, unknown>> {
  if (/\.[mc]?ts(\?|#|$)/.test(url)) await registerTsx();
  loadingTaskModules++;
  try {
    return (await import(url)) as Record<string, unknown>;
  } catch (err) {
    throw new TsmpiError(
      "ERR_TSMPI_TASK",
      `task module ${url} could not be loaded on the worker: ${(err as Error)?.message ?? String(err)}`,
      { cause: err },
    );
  } finally {
    loadingTaskModules--;
  }
}

/**
 * A worker's view of a session's tasks: functions registered directly, then the exports of the
 * task modules, then (only for a name none of them exports) the main script's, looked up by name
 * and remembered.
 */
export class TaskRegistry {
  private readonly found = new Map<string, WireTask>();
  private modules: Promise<Record<string, unknown>[]> | undefined;
  private mainModule: Promise<Record<string, unknown>> | undefined;

  constructor(
    private readonly urls: readonly string[],
    direct: Iterable<TaskFunction> = [],
    /** The main script, imported only when a name is in none of `urls`. */
    private readonly main?: string,
  ) {
    for (const fn of direct) this.found.set(fn.name, fn as WireTask);
  }

  /** Starts loading the task modules now (errors surface at the first lookup); the main script waits until needed. */
  preload(): Promise<void> {
    return this.load().then(
      () => {},
      () => {},
    );
  }

  private load(): Promise<Record<string, unknown>[]> {
    this.modules ??= (async () => {
      const out: Record<string, unknown>[] = [];
      for (const url of this.urls) out.push(await importTaskModule(url));
      return out;
    })();
    return this.modules;
  }

  /** The function named `name`, synchronously when already known. */
  lookup(name: string): WireTask | Promise<WireTask> {
    return this.found.get(name) ?? this.search(name);
  }

  private async search(name: string): Promise<WireTask> {
    let mods = await this.load();
    if (this.main && !mods.some((m) => typeof m[name] === "function")) {
      this.mainModule ??= importTaskModule(this.main);
      mods = [...mods, await this.mainModule];
    }
    for (const mod of mods) {
      const fn = mod[name];
      if (typeof fn === "function") {
        this.found.set(name, fn as WireTask);
        return fn as WireTask;
      }
    }
    const where = [...this.urls, ...(this.main ? [this.main] : [])];
    if (where.length === 0) {
      throw new TsmpiError(
        "ERR_TSMPI_TASK",
        `task function ${JSON.stringify(name)} cannot be found: the executor lists no task module; give it a tasks option with the module that exports ${name} (e.g. tasks: [new URL("./tasks.js", import.meta.url)])`,
      );
    }
    throw new TsmpiError(
      "ERR_TSMPI_TASK",
      `task function ${JSON.stringify(name)} is not exported by the task modules (${where.join(", ")}); export it from one of them, or add its module to the tasks option`,
    );
  }
}
