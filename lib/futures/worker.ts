/**
 * The worker loop: receive chunks from the manager, run their tasks in order, send each
 * chunk's results back as one message, until told to stop.
 *
 * A task may return a value or a promise (an async function): the worker awaits it before the
 * next task, so a worker runs one task at a time, as a process of a Python pool does. A task
 * that throws fails its whole chunk, as in mpi4py.futures: its error travels back without the
 * chunk's results, and the rest of the chunk does not run. A result that cannot be serialized
 * fails its chunk the same way, not the worker.
 *
 * The answer to an open message says whether the initializer failed (the executor is then
 * broken, see `executor.ts`).
 *
 * Not supported yet: running several tasks of one worker concurrently; per-task timeouts that
 * interrupt a running task (a JavaScript function cannot be interrupted from outside).
 *
 * @module
 */
import type { Comm } from "../comm.js";
import { ANY_TAG } from "../constants.js";
import { TsmpiError } from "../errors.js";
import { packObject } from "../serializer.js";
import { Status } from "../status.js";
import {
  CHUNK_TAG,
  CLOSE_TAG,
  OPEN_TAG,
  RESULT_TAG,
  STOP_TAG,
  errorInfo,
  type BatchMessage,
  type BatchResult,
  type ChunkMessage,
  type ErrorInfo,
  type OpenMessage,
  type ResultMessage,
} from "./protocol.js";
import { TaskRegistry, type TaskFunction } from "./tasks.js";

/** One executor's state on a worker. */
export class Session {
  readonly registry: TaskRegistry;
  /** What the initializer threw: every task of the session then fails with it. */
  private broken: ErrorInfo | undefined;
  /** What the initializer threw, as it threw it (for the answer to the open message). */
  private initError: ErrorInfo | undefined;
  readonly ready: Promise<void>;

  constructor(open: OpenMessage, direct: readonly TaskFunction[]) {
    this.registry = new TaskRegistry(open.m, direct, open.main);
    this.ready = this.initialize(open);
  }

  /** The answer to the open message, once `ready`: no results; `e` when the initializer failed. */
  get answer(): BatchResult {
    return this.initError ? { r: [], t: 0, e: this.initError } : OPENED;
  }

  /** Loads the task modules and runs the initializer; never rejects (failures surface per task). */
  private async initialize(open: OpenMessage): Promise<void> {
    await this.registry.preload();
    if (!open.init) return;
    try {
      const fn = await this.registry.lookup(open.init);
      await fn(...(open.initArgs ?? []));
    } catch (err) {
      const info = errorInfo(err);
      this.initError = info;
      this.broken = { ...info, m: `the initializer ${open.init} failed on this worker: ${info.m}` };
    }
  }

  /** Runs a chunk's tasks in order and returns its results, or the first error alone (the chunk fails as a whole). */
  async run(chunk: ChunkMessage): Promise<ResultMessage> {
    await this.ready;
    if (this.broken) return { c: chunk.c, r: [], e: this.broken };
    const out: unknown[] = [];
    try {
      const fn = await this.registry.lookup(chunk.f);
      if (chunk.x) {
        for (const x of chunk.x) {
          let v = fn(x);
          if (v instanceof Promise) v = await v;
          out.push(v);
        }
      } else {
        for (const args of chunk.a ?? []) {
          let v = fn(...args);
          if (v instanceof Promise) v = await v;
          out.push(v);
        }
      }
    } catch (err) {
      return { c: chunk.c, r: [], e: errorInfo(err) };
    }
    return { c: chunk.c, r: out };
  }

  /** Runs a batch's chunks in order; `t` is the compute time in microseconds. */
  async runBatch(batch: BatchMessage): Promise<BatchResult> {
    const t0 = performance.now();
    const r: ResultMessage[] = [];
    for (const chunk of batch.k) r.push(await this.run(chunk));
    return { r, t: Math.round((performance.now() - t0) * 1000) };
  }
}

/** A batch's results with each unserializable chunk result turned into its task's error. */
export function sendable(result: BatchResult, batch: BatchMessage): BatchResult {
  return {
    t: result.t,
    r: result.r.map((r, i) => {
      try {
        packObject(r);
        return r;
      } catch (err) {
        return unserializable(r, batch.k[i]!, err);
      }
    }),
  };
}

/**
 * The result message of a chunk with an unserializable result: the chunk fails with
 * `ERR_TSMPI_TYPE`, naming the first such task.
 */
export function unserializable(result: ResultMessage, chunk: ChunkMessage, cause: unknown): ResultMessage {
  for (let k = 0; k < result.r.length; k++) {
    try {
      packObject(result.r[k]);
    } catch (err) {
      const e = new TsmpiError(
        "ERR_TSMPI_TYPE",
        `the result of ${chunk.f}() (task ${k + 1} of its chunk) cannot be sent back: ${(err as Error).message}`,
      );
      return { c: result.c, r: [], e: errorInfo(e) };
    }
  }
  const e = new TsmpiError(
    "ERR_TSMPI_TYPE",
    `the results of ${chunk.f}() cannot be sent back: ${(cause as Error)?.message ?? String(cause)}`,
  );
  return { c: result.c, r: [], e: errorInfo(e) };
}

/** The answer to an open message: the session is ready. */
export const OPENED: BatchResult = { r: [], t: 0 };

/**
 * Serves the executor whose manager is rank `root` of `comm` until it sends stop.
 * `direct` are task functions known here without a module (CommExecutor's `tasks`).
 */
export async function serve(comm: Comm, root: number, direct: readonly TaskFunction[] = []): Promise<void> {
  const sessions = new Map<number, Session>();
  const status = new Status();
  for (;;) {
    const msg = await comm.recv(root, ANY_TAG, status);
    const tag = status.tag;
    if (tag === STOP_TAG) return;
    if (tag === OPEN_TAG) {
      const open = msg as OpenMessage;
      const session = new Session(open, direct);
      sessions.set(open.s, session);
      // Acknowledged once its modules are loaded and its initializer ran (an empty batch result).
      void session.ready.then(() => comm.isend(session.answer, root, RESULT_TAG + open.s));
    } else if (tag === CLOSE_TAG) {
      sessions.delete((msg as { s: number }).s);
    } else if (tag === CHUNK_TAG) {
      const batch = msg as BatchMessage;
      const session = sessions.get(batch.s);
      const result: BatchResult = session
        ? await session.runBatch(batch)
        : {
            t: 0,
            r: batch.k.map((c) => ({
              c: c.c,
              r: [],
              e: errorInfo(new TsmpiError("ERR_TSMPI_INTERNAL", `a chunk for session ${batch.s}, which this worker never opened`)),
            })),
          };
      try {
        comm.isend(result, root, RESULT_TAG + batch.s);
      } catch {
        comm.isend(sendable(result, batch), root, RESULT_TAG + batch.s);
      }
    }
  }
}
