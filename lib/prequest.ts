/**
 * `Prequest`: a persistent request (`MPI_Prequest`), made by a communicator's `Send_init`,
 * `Ssend_init`, `Bsend_init`, `Rsend_init`, `Recv_init` and the persistent collectives
 * (`Barrier_init`, `Bcast_init`, ..., MPI-4). Its arguments are bound once; each `Start()` begins
 * one operation on them, which completes like a nonblocking one (`wait`, `test`, `Request.waitall`
 * and the rest). A new request, and one whose operation completed and was waited on or tested
 * true, is inactive: `wait`/`test` return at once with an empty status and the `*any`/`*some`
 * calls skip it, until the next `Start()`.
 *
 * Set-up done once: a point-to-point request checks its arguments and binds the buffer's bytes,
 * its kind and the peer's world rank at init, and each `Start()` hands them to the point-to-point
 * layer directly. A persistent collective takes its matching tag at init (its init calls are
 * ordered like collectives; its starts need not be ordered with other collectives); the
 * algorithm is chosen again at each start, as a blocking call does.
 *
 * Send modes: `Ssend_init` completes once the receiver matched the message. `Bsend_init` copies
 * the buffer when started, so it completes without waiting for the receiver, as a buffered send;
 * no buffer needs attaching and none is accounted (`Attach_buffer` is not there yet).
 * `Rsend_init` is a standard-mode send (MPI allows that: a ready send whose receive was posted
 * behaves as a standard one).
 *
 * Not supported yet: partitioned communication (`Psend_init`/`Precv_init`), the neighbourhood
 * `*_init` calls, object-tier persistent requests (mpi4py has none either).
 *
 * @module
 */
import { ANY_TAG, PROC_NULL } from "./constants.js";
import { TsmpiError, describeValue } from "./errors.js";
import type { Runtime } from "./job/runtime.js";
import { readInto } from "./p2p/receive.js";
import { Request, type Completion } from "./request.js";
import { bytesOf, kindCode, type TypedArray } from "./serializer.js";

/**
 * One round of a persistent operation: begins it and settles `req`; returns a function that
 * withdraws it (true when withdrawn) where it can be cancelled.
 * @internal
 */
// biome-ignore lint/suspicious/noConfusingVoidType: "a canceller, or nothing": rounds that only start a send end in a call that returns void
export type Round<T> = (req: Request<T>) => (() => boolean) | void;

/**
 * A persistent request: `Start()` begins its operation again, `wait()`/`test()` complete it.
 *
 * @example
 * ```ts
 * const halo = new Float64Array(n);
 * const reqs = [comm.Send_init(edge, right, 0), comm.Recv_init(halo, left, 0)];
 * for (let step = 0; step < steps; step++) {
 *   Prequest.Startall(reqs);
 *   await Request.waitall(reqs);
 * }
 * ```
 */
export class Prequest<T = void> extends Request<T> {
  /** Begins one round on this request (a closure, so that the class stays covariant in T). */
  // biome-ignore lint/suspicious/noConfusingVoidType: a Round's result (see Round)
  readonly #begin: () => (() => boolean) | void;
  #cancelRound: (() => boolean) | undefined;
  #freed = false;

  /** @internal Made by the communicator's `*_init` methods. */
  constructor(round: Round<T>) {
    let cancel = (): boolean => false;
    super(() => cancel());
    cancel = () => this.#cancelRound?.() ?? false;
    this.#begin = () => round(this);
    this._deactivate();
  }

  /**
   * Starts the operation (`MPI_Start`): the request becomes active until it completes and is
   * waited on or tested true.
   * @throws TsmpiError `ERR_TSMPI_REQUEST` when the request is active or freed; `ERR_TSMPI_COMM` on a freed communicator.
   */
  Start(): void {
    this.#startable("Start");
    this._restart();
    this.#cancelRound = undefined;
    try {
      this.#cancelRound = this.#begin() ?? undefined;
    } catch (err) {
      this._deactivate();
      throw err;
    }
  }

  /** Alias of {@link Start}. */
  start(): void {
    this.Start();
  }

  #startable(what: string): void {
    if (this.#freed) throw new TsmpiError("ERR_TSMPI_REQUEST", `${what} on a freed persistent request`);
    if (this.active)
      throw new TsmpiError(
        "ERR_TSMPI_REQUEST",
        `${what} on an active persistent request: complete it first (wait, or a test that returned true)`,
      );
  }

  /**
   * Starts every request (`MPI_Startall`), in order. Checks them all first: if one is not a
   * `Prequest`, is active or freed, none is started.
   * @throws TsmpiError `ERR_TSMPI_ARG` for an entry that is not a Prequest; `ERR_TSMPI_REQUEST`.
   */
  static Startall(requests: readonly Prequest<unknown>[]): void {
    if (!Array.isArray(requests))
      throw new TsmpiError("ERR_TSMPI_ARG", `requests must be an array of Prequest, got ${describeValue(requests)}`);
    requests.forEach((r, i) => {
      if (!(r instanceof Prequest)) throw new TsmpiError("ERR_TSMPI_ARG", `requests[${i}] must be a Prequest, got ${describeValue(r)}`);
      r.#startable(`Startall (requests[${i}])`);
    });
    for (const r of requests) r.Start();
  }

  /** Alias of {@link Startall}. */
  static startall(requests: readonly Prequest<unknown>[]): void {
    Prequest.Startall(requests);
  }

  /**
   * Frees the request (`MPI_Request_free`): it cannot be started again. An operation in progress
   * still completes (and may still be waited on).
   */
  Free(): void {
    this.#freed = true;
  }

  /** Alias of {@link Free}. */
  free(): void {
    this.Free();
  }
}

/** @internal What a persistent point-to-point request binds of its communicator. */
export interface Endpoint {
  readonly rt: Runtime;
  readonly ctx: number;
  readonly rank: number;
  readonly group: readonly number[];
  /** Throws when the communicator was freed or the job is ending. */
  readonly usable: (what: string) => void;
}

/** @internal The send mode of a persistent send. */
export type SendMode = "standard" | "synchronous" | "buffered" | "ready";

/**
 * @internal One send of `buf` (checked) to `dest` (checked, may be PROC_NULL) per start, its
 * bytes, kind and world rank bound now.
 */
export function sendRound(ep: Endpoint, buf: TypedArray, dest: number, tag: number, mode: SendMode): Round<void> {
  if (dest === PROC_NULL) return (req) => req._complete(undefined);
  const wdest = ep.group[dest]!;
  const dtype = kindCode(buf);
  const bytes = bytesOf(buf);
  const sync = mode === "synchronous";
  // buffered: copied at start, so the send completes without the receiver's help
  const owner = mode === "buffered" ? "copy" : "borrow";
  return (req) => {
    ep.usable("Start");
    ep.rt.p2p.send(ep.ctx, ep.rank, wdest, tag, { raw: true, dtype, bytes, mode: owner }, sync, () => req._complete(undefined));
  };
}

const NULL_COMPLETION: Completion = { source: PROC_NULL, tag: ANY_TAG, count: 0, byteCount: 0 };

/** @internal One receive into `buf` (checked) from `source` (checked) per start; cancellable until matched. */
export function recvRound(ep: Endpoint, buf: TypedArray, source: number, tag: number): Round<void> {
  if (source === PROC_NULL) return (req) => req._complete(undefined, NULL_COMPLETION);
  return (req) => {
    ep.usable("Start");
    return ep.rt.p2p.receive(ep.ctx, source, tag, (msg) =>
      readInto(msg, buf, (count, err) =>
        err ? req._fail(err) : req._complete(undefined, { source: msg.src, tag: msg.tag, count, byteCount: msg.total }),
      ),
    );
  };
}

/** @internal A round that makes a new nonblocking request each start (DeviceArray buffers). */
export function requestRound<T>(start: () => Request<T>): Round<T> {
  return (req) => {
    const inner = start();
    req._follow(inner);
    return () => {
      inner.cancel();
      return false; // `inner` completes as cancelled, and so does `req` through _follow
    };
  };
}

/** @internal A round that runs an operation given as a promise (the persistent collectives). */
export function promiseRound<T>(start: () => Promise<T>): Round<T> {
  return (req) => {
    start().then(
      (v) => req._complete(v),
      (e) => req._fail(e),
    );
  };
}
