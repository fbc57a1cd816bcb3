/**
 * The wire protocol between an executor (the manager) and its workers: tags, message shapes,
 * and how a task's error travels back.
 *
 * Every message is one object-tier send on the executor's own communicator (a dup, or the
 * world of a spawned worker job), so it never matches the user's traffic. A chunk of tasks
 * travels in one message and its results in one message back. A worker with nothing in hand
 * takes any chunk; one still running a message gets a second (up to `prefetch` messages) only
 * when both what it holds and what it gets are known to be quick (about `BATCH_TARGET_US` of
 * work each, by the compute times measured so far), so a worker running quick tasks finds its
 * next chunk queued and never waits a round trip, while nothing waits behind a slow task.
 *
 * Adaptive batching: chunks that run quickly are sent several to a message (a batch): the
 * manager learns from each reply how long the worker computed (`t`) and sizes the next batch
 * to about `BATCH_TARGET_US` of work, at most `maxBatch` chunks. A batch of chunks that take
 * a millisecond or more is one chunk, so slow tasks are dealt one chunk at a time.
 *
 * Several executors may share workers (the workers of `tsmpirun -m tsmpi/futures`): each opens
 * a session with its own task modules and initializer, and its results come back on a tag of
 * its own (`RESULT_TAG + session`), so two executors never take each other's results.
 *
 * @module
 */
import { TsmpiError, type TsmpiErrorCode } from "../errors.js";

/** Manager to worker: open a session (task modules, initializer); answered by an empty batch result once ready. */
export const OPEN_TAG = 1;
/** Manager to worker: a chunk of tasks. */
export const CHUNK_TAG = 2;
/** Manager to worker: close a session (its task modules may be forgotten). */
export const CLOSE_TAG = 3;
/** Manager to worker: stop serving. */
export const STOP_TAG = 4;
/** Worker to manager: a session's results arrive on `RESULT_TAG + session`. */
export const RESULT_TAG = 16;

/** Opens session `s` on a worker. */
export interface OpenMessage {
  s: number;
  /** Module URLs that hold the task functions, searched in order. */
  m: string[];
  /** The main script (a PoolExecutor's): imported only for a function none of `m` exports. */
  main?: string;
  /** The initializer's name (found like a task) and its arguments, if any. */
  init?: string;
  initArgs?: unknown[];
}

/**
 * A chunk: `f` is the task's name, `c` the chunk's id; `a` holds each task's argument list, or
 * (map over one iterable, the common case) `x` holds each task's single argument.
 */
export interface ChunkMessage {
  c: number;
  f: string;
  a?: unknown[][];
  x?: unknown[];
}

/** Manager to worker: a batch of chunks of session `s`, run in order. */
export interface BatchMessage {
  s: number;
  k: ChunkMessage[];
}

/**
 * Worker to manager: the results of a batch, in order, and the microseconds spent computing
 * them. The answer to an open message has no results (`r` empty), and `e` when the
 * initializer failed.
 */
export interface BatchResult {
  r: ResultMessage[];
  t: number;
  e?: ErrorInfo;
}

/** The work a batch aims at, in microseconds of the worker's compute time. */
export const BATCH_TARGET_US = 2000;

/** What a task threw, as it travels. */
export interface ErrorInfo {
  /** Class name (`TypeError`, or a user class's name). */
  n: string;
  m: string;
  /** The stack as the worker saw it. */
  st?: string;
  /** A `code` property, if the error had one. */
  c?: string;
}

/** A chunk's results, in task order; with `e`, a task of the chunk failed, the chunk fails as a whole (`r` is empty) and its later tasks did not run. */
export interface ResultMessage {
  c: number;
  r: unknown[];
  e?: ErrorInfo;
}

/** Captures an error (or any thrown value) for the trip back. */
export function errorInfo(err: unknown): ErrorInfo {
  if (err instanceof Error) {
    const code = (err as { code?: unknown }).code;
    return { n: err.name, m: err.message, st: err.stack, ...(typeof code === "string" ? { c: code } : {}) };
  }
  return { n: "Error", m: `a non-Error value was thrown: ${String(err)}` };
}

const BUILTIN: Record<string, ErrorConstructor> = { Error, TypeError, RangeError, SyntaxError, ReferenceError, EvalError, URIError };

/** Where a task ran, for the head of its error's stack. */
export interface WorkerPlace {
  /** The worker's rank in the executor's communicator (a spawned worker: 0, its own job's). */
  rank: number;
  host: string;
  pid?: number;
  /** A spawned worker's index in its PoolExecutor's pool (a replacement takes the index of the one it replaces). */
  index?: number;
}

/** A worker as messages name it: `worker rank 2 on host node1 (pid 4242)`, or `pool worker 1 on ...` for a spawned one. */
export function describePlace(place: WorkerPlace): string {
  const who = place.index === undefined ? `worker rank ${place.rank}` : `pool worker ${place.index}`;
  return `${who} on host ${place.host}${place.pid ? ` (pid ${place.pid})` : ""}`;
}

/**
 * Rebuilds a task's error on the manager: the same class when it is a built-in one or
 * TsmpiError (else an Error with the remote class's `name`), the message, the `code`, and a
 * stack headed by the worker that ran it, followed by the worker's own frames.
 */
export function remoteError(info: ErrorInfo, place: WorkerPlace): Error {
  let err: Error;
  if (info.n === "TsmpiError" && info.c) err = new TsmpiError(info.c as TsmpiErrorCode, info.m);
  else {
    const Ctor = BUILTIN[info.n] ?? Error;
    err = new Ctor(info.m);
    if (!(info.n in BUILTIN)) Object.defineProperty(err, "name", { value: info.n, configurable: true, writable: true });
    if (info.c !== undefined) (err as { code?: string }).code = info.c;
  }
  const frames = (info.st ?? "").split("\n").filter((l) => /^\s+at /.test(l));
  const head = `${info.n}: ${info.m}`;
  err.stack = [head, `    -- raised on ${describePlace(place)}:`, ...frames].join("\n");
  Object.defineProperty(err, "worker", { value: { ...place }, enumerable: false });
  return err;
}
