/**
 * `Comm`: a communicator (`MPI_Comm`) and its public API, as in mpi4py: lowercase methods move
 * any value msgpackr can carry; Capitalized methods move typed arrays without serializing,
 * into the caller's arrays. Every blocking MPI call is an `async` method: blocking means
 * `await`. Methods validate their arguments and delegate to the point-to-point layer or to the
 * collective algorithms; `PROC_NULL` is a valid peer everywhere and moves nothing. Capitalized
 * methods also take DeviceArrays, staged through host memory by `device-staging.ts`.
 *
 * Not supported yet: matched probes (`mprobe`/`improbe`), persistent requests, buffered
 * (`bsend`) and ready (`rsend`) sends, intercommunicators, topologies, one-sided
 * communication, derived datatypes.
 *
 * @module
 */
import * as coll from "./collectives/api.js";
import { CollectiveChannel } from "./collectives/channel.js";
import { ANY_SOURCE, ANY_TAG, CONGRUENT, IDENT, IN_PLACE, PROC_NULL, SIMILAR, UNDEFINED, UNEQUAL } from "./constants.js";
import type { DeviceArray } from "./gpu/device-array.js";
import { Staging, hostSendBuffer, stagedCollective, type StagedCollective } from "./gpu/device-staging.js";
import { TsmpiError, describeValue } from "./errors.js";
import type { InMsg } from "./matching.js";
import { messageCount, readInto, readObject, type OutPayload } from "./p2p.js";
import { Request, type Completion } from "./request.js";
import { Op } from "./op.js";
import { deriveContext, SELF_CONTEXT, WORLD_CONTEXT, type Runtime } from "./job/runtime.js";
import { allocateKind, bytesOf, isTypedArray, kindCode, packObject, type TypedArray } from "./serializer.js";
import { Status } from "./status.js";
import { checkBuffer, checkDest, checkRecvTag, checkSendTag, checkSource } from "./validate.js";

/**
 * A buffer-tier argument: a typed array or a {@link DeviceArray} (staged through host memory, see
 * `device-staging.ts`), or `[array, count]` to use its first `count` elements.
 */
export type BufferArg = TypedArray | DeviceArray | [TypedArray | DeviceArray, number];
/** A buffer-tier send argument of a reduction or gather: a buffer, or `IN_PLACE`. */
export type SendBufferArg = BufferArg | typeof IN_PLACE;
/** A v-variant argument: `[array, counts]` or `[array, counts, displs]`, one entry per rank; the array a typed array or a DeviceArray. */
export type VBufferArg = [TypedArray | DeviceArray, number[]] | [TypedArray | DeviceArray, number[], number[]];

const NULL_COMPLETION: Completion = { source: PROC_NULL, tag: ANY_TAG, count: 0, byteCount: 0 };

/** The payload of an object-tier value: typed arrays raw (copied now), anything else msgpack. */
function objectPayload(value: unknown): OutPayload {
  if (isTypedArray(value)) return { raw: true, dtype: kindCode(value), bytes: bytesOf(value), mode: "copy" };
  return { raw: false, dtype: 0, bytes: packObject(value), mode: "owned" };
}

/** The payload of a buffer-tier array: raw, borrowed until the send completes. */
function bufferPayload(buf: TypedArray): OutPayload {
  return { raw: true, dtype: kindCode(buf), bytes: bytesOf(buf), mode: "borrow" };
}

function completion(msg: InMsg, count = messageCount(msg)): Completion {
  return { source: msg.src, tag: msg.tag, count, byteCount: msg.total };
}

/**
 * A communicator: a group of ranks and a private message space. `COMM_WORLD` holds every rank
 * of the job; `COMM_SELF` only this one; `dup()` and `split()` make new ones.
 *
 * @example
 * ```ts
 * import { COMM_WORLD as comm } from "tsmpi";
 * if (comm.rank === 0) await comm.send({ hello: "world" }, 1, 7);
 * else if (comm.rank === 1) console.log(await comm.recv(0, 7));
 * ```
 */
export class Comm {
  readonly #rt: Runtime;
  readonly #ctx: number;
  readonly #rank: number;
  readonly #size: number;
  readonly #group: readonly number[];
  #freed = false;
  /** Collective calls issued so far: the next call's sequence number (its tag). */
  #collSeq = 0;
  /** Communicators derived (dup/split) so far: part of their context id. */
  #deriveSeq = 0;

  /** @internal Communicators come from `COMM_WORLD`, `COMM_SELF`, `dup()` and `split()`. */
  constructor(rt: Runtime, ctx: number, rank: number, group: readonly number[]) {
    this.#rt = rt;
    this.#ctx = ctx;
    this.#rank = rank;
    this.#size = group.length;
    this.#group = group;
  }

  /** This process's rank in the communicator, in `[0, size)`. */
  get rank(): number {
    return this.#rank;
  }

  /** The number of ranks in the communicator. */
  get size(): number {
    return this.#size;
  }

  /** @internal The world rank of each member, by rank in this communicator. */
  get group(): readonly number[] {
    return this.#group;
  }

  /** @internal The context id of this communicator's point-to-point traffic. */
  get context(): number {
    return this.#ctx;
  }

  #usable(what: string): void {
    if (this.#freed) throw new TsmpiError("ERR_TSMPI_COMM", `${what} on a freed communicator`);
    this.#rt.checkAlive(what);
  }

  // ---------------------------------------------------------------- sends

  #isend(payload: () => OutPayload, dest: number, tag: number, sync: boolean, what: string): Request<void> {
    this.#usable(what);
    checkDest(dest, this.#size);
    checkSendTag(tag);
    if (dest === PROC_NULL) return Request.completed(undefined);
    const req = new Request<void>();
    this.#rt.p2p.send(this.#ctx, this.#rank, this.#group[dest]!, tag, payload(), sync, () => req._complete(undefined));
    return req;
  }

  /**
   * Sends `value` to rank `dest` (`MPI_Send` of a pickled object in mpi4py). Eager: resolves as
   * soon as the message is handed to the transport, so a rank can send to itself and then receive.
   * @param value any value msgpackr carries: objects, arrays, strings, numbers, BigInt, Map, Set,
   *   Date, Error, every typed array kind (a top-level typed array travels raw).
   * @param dest a rank in `[0, size)` or `PROC_NULL`.
   * @param tag an integer in `[0, TAG_UB]`.
   * @throws TsmpiError `ERR_TSMPI_RANK`, `ERR_TSMPI_TAG`, `ERR_TSMPI_TYPE` (value cannot be serialized,
   *   or is a DeviceArray: use {@link Send} or send `value.toHost()`).
   */
  async send(value: unknown, dest: number, tag = 0): Promise<void> {
    return this.#isend(() => objectPayload(value), dest, tag, false, "send").wait();
  }

  /** Nonblocking {@link send}: the value is serialized now; the request is already complete. */
  isend(value: unknown, dest: number, tag = 0): Request<void> {
    return this.#isend(() => objectPayload(value), dest, tag, false, "isend");
  }

  /** Synchronous send (`MPI_Ssend`): resolves only once the receiver has matched the message. */
  async ssend(value: unknown, dest: number, tag = 0): Promise<void> {
    return this.#isend(() => objectPayload(value), dest, tag, true, "ssend").wait();
  }

  /** Nonblocking {@link ssend}: the request completes once the receiver matched the message. */
  issend(value: unknown, dest: number, tag = 0): Request<void> {
    return this.#isend(() => objectPayload(value), dest, tag, true, "issend");
  }

  /**
   * Sends the elements of a typed array without serializing them (`MPI_Send`). Resolves when
   * `buf` may be reused: at once for small arrays (copied), for large ones when the receiver's
   * process has the data (sent without a copy).
   * @param buf a typed array or a DeviceArray, or `[array, count]` to send its first `count` elements.
   * @throws TsmpiError `ERR_TSMPI_TYPE` (not a typed array or DeviceArray), `ERR_TSMPI_COUNT`, `ERR_TSMPI_RANK`, `ERR_TSMPI_TAG`,
   *   `ERR_TSMPI_ARG` (a freed DeviceArray).
   */
  async Send(buf: BufferArg, dest: number, tag = 0): Promise<void> {
    return this.Isend(buf, dest, tag).wait();
  }

  /**
   * Nonblocking {@link Send}: do not change `buf` until the request completes. A DeviceArray is
   * copied to the host now, once the GPU work enqueued before has finished.
   */
  Isend(buf: BufferArg, dest: number, tag = 0): Request<void> {
    const data = checkBuffer(hostSendBuffer(buf), "buf");
    return this.#isend(() => bufferPayload(data), dest, tag, false, "Isend");
  }

  /** Synchronous {@link Send} (`MPI_Ssend`): resolves once the receiver matched it and has the data. */
  async Ssend(buf: BufferArg, dest: number, tag = 0): Promise<void> {
    return this.Issend(buf, dest, tag).wait();
  }

  /** Nonblocking {@link Ssend}. */
  Issend(buf: BufferArg, dest: number, tag = 0): Request<void> {
    const data = checkBuffer(hostSendBuffer(buf), "buf");
    return this.#isend(() => bufferPayload(data), dest, tag, true, "Issend");
  }

  // ------------------------------------------------------------- receives

  #irecv<T>(source: number, tag: number, what: string, onMatch: (msg: InMsg, req: Request<T>) => void): Request<T> {
    this.#usable(what);
    checkSource(source, this.#size);
    checkRecvTag(tag);
    if (source === PROC_NULL) return Request.completed(undefined as T, NULL_COMPLETION);
    let cancel: (() => boolean) | undefined;
    const req = new Request<T>(() => cancel!());
    cancel = this.#rt.p2p.receive(this.#ctx, source, tag, (msg) => onMatch(msg, req));
    return req;
  }

  /**
   * Nonblocking {@link recv}: `await req.wait()` gives the value.
   * @throws TsmpiError `ERR_TSMPI_RANK`, `ERR_TSMPI_TAG`.
   */
  irecv<T = any>(source: number = ANY_SOURCE, tag: number = ANY_TAG): Request<T> {
    return this.#irecv<T>(source, tag, "irecv", (msg, req) =>
      readObject(msg, (value, err) => (err ? req._fail(err) : req._complete(value as T, completion(msg)))),
    );
  }

  /**
   * Receives a value sent with {@link send} (or a typed array sent with {@link Send}), from
   * `source` (or `ANY_SOURCE`) with `tag` (or `ANY_TAG`), and fills `status`.
   * From `PROC_NULL` it returns `undefined` at once with `status.source === PROC_NULL`.
   * @throws TsmpiError `ERR_TSMPI_RANK`, `ERR_TSMPI_TAG`.
   */
  async recv<T = any>(source: number = ANY_SOURCE, tag: number = ANY_TAG, status?: Status): Promise<T> {
    return this.#irecv<T>(source, tag, "recv", (msg, req) =>
      readObject(msg, (value, err) => (err ? req._fail(err) : req._complete(value as T, completion(msg)))),
    ).wait(status);
  }

  /**
   * Nonblocking {@link Recv}: the data lands in `buf` once the request completes; its
   * `status.count` says how many elements arrived (into a DeviceArray: only those are written).
   */
  Irecv(buf: BufferArg, source: number = ANY_SOURCE, tag: number = ANY_TAG): Request<void> {
    const staging = Staging.now([buf], ["out"]);
    const data = checkBuffer(staging.args[0], "buf");
    return this.#irecv<void>(source, tag, "Irecv", (msg, req) =>
      readInto(msg, data, (count, err) =>
        err ? req._fail(err) : staging.writeBack((e) => (e ? req._fail(e) : req._complete(undefined, completion(msg, count))), count),
      ),
    );
  }

  /**
   * Receives typed-array data into `buf` (`MPI_Recv`, a typed array or a DeviceArray), filling
   * its prefix; `status.count` tells how many elements arrived. From `PROC_NULL`, `buf` is untouched.
   * @throws TsmpiError `ERR_TSMPI_TRUNCATE` when the message is larger than `buf` (the message is
   *   consumed), `ERR_TSMPI_TYPE` when it was sent with `send` as a non-array object.
   */
  async Recv(buf: BufferArg, source: number = ANY_SOURCE, tag: number = ANY_TAG, status?: Status): Promise<void> {
    return this.Irecv(buf, source, tag).wait(status);
  }

  // ------------------------------------------------------------ combined

  /**
   * Sends `value` to `dest` and receives from `source` at once (`MPI_Sendrecv`), without
   * deadlocking when ranks exchange pairwise. Returns the received value.
   */
  async sendrecv<T = any>(value: unknown, dest: number, sendtag = 0, source: number = ANY_SOURCE, recvtag: number = ANY_TAG, status?: Status): Promise<T> {
    return this.#exchange(() => this.irecv<T>(source, recvtag), () => this.isend(value, dest, sendtag), status);
  }

  /** Buffer-tier {@link sendrecv} (`MPI_Sendrecv`): sends `sendbuf`, receives into `recvbuf`. */
  async Sendrecv(sendbuf: BufferArg, dest: number, sendtag: number, recvbuf: BufferArg, source: number = ANY_SOURCE, recvtag: number = ANY_TAG, status?: Status): Promise<void> {
    return this.#exchange(() => this.Irecv(recvbuf, source, recvtag), () => this.Isend(sendbuf, dest, sendtag), status);
  }

  /** Posts the receive, then the send; a send that cannot start withdraws the receive. */
  async #exchange<T>(receive: () => Request<T>, send: () => Request<void>, status: Status | undefined): Promise<T> {
    const r = receive();
    let s: Request<void>;
    try {
      s = send();
    } catch (err) {
      r.cancel();
      throw err;
    }
    const [got] = await Promise.all([r.wait(status), s.wait()]);
    return got;
  }

  /** `MPI_Sendrecv_replace`: sends `buf`, then overwrites it with the received data. */
  async Sendrecv_replace(buf: BufferArg, dest: number, sendtag = 0, source: number = ANY_SOURCE, recvtag: number = ANY_TAG, status?: Status): Promise<void> {
    const data = checkBuffer(hostSendBuffer(buf), "buf");
    const copy = allocateKind(kindCode(data), data.length);
    copy.set(data as never);
    await this.Sendrecv(copy, dest, sendtag, buf, source, recvtag, status);
  }

  // -------------------------------------------------------------- probes

  #fillProbe(msg: InMsg, status: Status | undefined): void {
    if (!status) return;
    const c = completion(msg);
    Object.assign(status, { source: c.source, tag: c.tag, count: c.count, byteCount: c.byteCount, cancelled: false, error: 0 });
  }

  /**
   * Waits until a message from `source` with `tag` can be received, without receiving it
   * (`MPI_Probe`), and fills `status`. Resolves `true`, as mpi4py's `probe`.
   */
  async probe(source: number = ANY_SOURCE, tag: number = ANY_TAG, status?: Status): Promise<boolean> {
    this.#usable("probe");
    checkSource(source, this.#size);
    checkRecvTag(tag);
    if (source === PROC_NULL) {
      if (status) Object.assign(status, { ...NULL_COMPLETION, cancelled: false, error: 0 });
      return true;
    }
    this.#fillProbe(await this.#rt.p2p.probe(this.#ctx, source, tag), status);
    return true;
  }

  /**
   * True when a message from `source` with `tag` has arrived and can be received (`MPI_Iprobe`);
   * fills `status` only then. Never waits: a polling loop must `await` between calls (e.g.
   * `await new Promise(r => setImmediate(r))`) so that messages can arrive.
   */
  iprobe(source: number = ANY_SOURCE, tag: number = ANY_TAG, status?: Status): boolean {
    this.#usable("iprobe");
    checkSource(source, this.#size);
    checkRecvTag(tag);
    if (source === PROC_NULL) {
      if (status) Object.assign(status, { ...NULL_COMPLETION, cancelled: false, error: 0 });
      return true;
    }
    const msg = this.#rt.p2p.iprobe(this.#ctx, source, tag);
    if (msg) this.#fillProbe(msg, status);
    return msg !== undefined;
  }

  /** Alias of {@link probe} (mpi4py has both spellings). */
  Probe(source: number = ANY_SOURCE, tag: number = ANY_TAG, status?: Status): Promise<boolean> {
    return this.probe(source, tag, status);
  }

  /** Alias of {@link iprobe}. */
  Iprobe(source: number = ANY_SOURCE, tag: number = ANY_TAG, status?: Status): boolean {
    return this.iprobe(source, tag, status);
  }

  // --------------------------------------------------------- collectives

  /**
   * Runs one collective call: takes its sequence number now (so calls match in issue order),
   * runs `body` on the call's channel, and on failure tells the other ranks.
   */
  #collective<T>(name: string, body: (ch: CollectiveChannel) => Promise<unknown>): Promise<T> {
    try {
      this.#usable(name);
    } catch (err) {
      return Promise.reject(err);
    }
    const ch = new CollectiveChannel(this.#rt.p2p, this.#ctx + 1, this.#rank, this.#group, this.#collSeq++, name);
    let run: Promise<unknown>;
    try {
      run = body(ch);
    } catch (err) {
      run = Promise.reject(err);
    }
    return run.then(
      (value) => {
        ch.close();
        return value as T;
      },
      (err) => {
        ch.fail(err);
        ch.close();
        throw err;
      },
    );
  }

  /**
   * Runs buffer-tier collective `name` over the buffer arguments `bufs`: DeviceArrays among them
   * are staged through host memory inside the call (see `device-staging.ts`), `body` gets the
   * host arguments. `root` is the call's root (0 where it has none).
   */
  #buffers(name: StagedCollective, bufs: unknown[], root: number, body: (ch: CollectiveChannel, host: readonly unknown[]) => Promise<void>): Promise<void> {
    return this.#collective(name, (ch) => stagedCollective(name, bufs, ch.rank, root, (host) => body(ch, host)));
  }

  #request<T>(promise: Promise<T>): Request<T> {
    const req = new Request<T>();
    promise.then(
      (v) => req._complete(v),
      (e) => req._fail(e),
    );
    return req;
  }

  /** Blocks until every rank of the communicator called it (`MPI_Barrier`; dissemination, ceil(log2 N) rounds). */
  barrier(): Promise<void> {
    return this.#collective("barrier", (ch) => coll.barrier(ch));
  }

  /** Alias of {@link barrier}. */
  Barrier(): Promise<void> {
    return this.barrier();
  }

  /** Nonblocking {@link barrier} (`MPI_Ibarrier`). */
  Ibarrier(): Request<void> {
    return this.#request(this.barrier());
  }

  /** Alias of {@link Ibarrier}. */
  ibarrier(): Request<void> {
    return this.Ibarrier();
  }

  /**
   * Broadcasts the root's `value` to every rank (binomial tree) and returns it; what non-roots
   * pass is ignored. Every rank, the root too, gets its own copy.
   * @throws TsmpiError `ERR_TSMPI_ROOT` for a root outside `[0, size)`.
   */
  bcast<T>(value: T, root = 0): Promise<T> {
    return this.#collective("bcast", (ch) => coll.bcast(ch, value, root));
  }

  /** Nonblocking {@link bcast}. */
  ibcast<T>(value: T, root = 0): Request<T> {
    return this.#request(this.bcast(value, root));
  }

  /**
   * Sends the root's `values[i]` to rank i and returns this rank's; non-roots pass `null`.
   * @throws TsmpiError `ERR_TSMPI_COUNT` when the root's list does not have `size` entries.
   */
  scatter<T>(values: readonly T[] | null | undefined, root = 0): Promise<T> {
    return this.#collective("scatter", (ch) => coll.scatter(ch, values, root));
  }

  /** Collects every rank's `value` at the root, in rank order; non-roots get `undefined`. */
  gather<T>(value: T, root = 0): Promise<T[] | undefined> {
    return this.#collective("gather", (ch) => coll.gather(ch, value, root));
  }

  /** Collects every rank's `value` on every rank, in rank order (Bruck, ceil(log2 N) rounds). */
  allgather<T>(value: T): Promise<T[]> {
    return this.#collective("allgather", (ch) => coll.allgather(ch, value));
  }

  /** Sends `values[i]` to rank i and returns what each rank sent here, by source rank. */
  alltoall<T>(values: readonly T[]): Promise<T[]> {
    return this.#collective("alltoall", (ch) => coll.alltoall(ch, values));
  }

  /**
   * Combines every rank's `value` with `op` at the root, folding as `op(lower rank, higher rank)`;
   * non-roots get `undefined`.
   * @throws TsmpiError `ERR_TSMPI_ROOT`, `ERR_TSMPI_OP`.
   */
  reduce<T>(value: T, op: Op = Op.SUM, root = 0): Promise<T | undefined> {
    return this.#collective("reduce", (ch) => coll.reduce(ch, value, op, root));
  }

  /** Combines every rank's `value` with `op`; every rank gets the (identical) result. */
  allreduce<T>(value: T, op: Op = Op.SUM): Promise<T> {
    return this.#collective("allreduce", (ch) => coll.allreduce(ch, value, op));
  }

  /** Nonblocking {@link allreduce}. */
  iallreduce<T>(value: T, op: Op = Op.SUM): Request<T> {
    return this.#request(this.allreduce(value, op));
  }

  /** Inclusive prefix reduction: rank r gets op over the values of ranks 0..r. */
  scan<T>(value: T, op: Op = Op.SUM): Promise<T> {
    return this.#collective("scan", (ch) => coll.scan(ch, value, op, false));
  }

  /** Exclusive prefix reduction: rank r gets op over ranks 0..r-1; rank 0 gets `undefined`. */
  exscan<T>(value: T, op: Op = Op.SUM): Promise<T | undefined> {
    return this.#collective("exscan", (ch) => coll.scan(ch, value, op, true));
  }

  /**
   * Broadcasts the root's typed array into every rank's `buf` (same kind and length everywhere).
   * @throws TsmpiError `ERR_TSMPI_ROOT`; `ERR_TSMPI_COUNT` when lengths differ between ranks.
   */
  Bcast(buf: BufferArg, root = 0): Promise<void> {
    return this.#buffers("Bcast", [buf], root, (ch, [b]) => coll.Bcast(ch, b, root));
  }

  /** Nonblocking {@link Bcast}. */
  Ibcast(buf: BufferArg, root = 0): Request<void> {
    return this.#request(this.Bcast(buf, root));
  }

  /**
   * Splits the root's `sendbuf` (size × n elements) into n-element blocks, block i to rank i's
   * `recvbuf`. The root may pass `IN_PLACE` as `recvbuf`: its own block stays in `sendbuf`.
   */
  Scatter(sendbuf: BufferArg | null, recvbuf: BufferArg | typeof IN_PLACE, root = 0): Promise<void> {
    return this.#buffers("Scatter", [sendbuf, recvbuf], root, (ch, [s, r]) => coll.Scatter(ch, s, r, root));
  }

  /** Gathers every rank's `sendbuf` into the root's `recvbuf`, block i from rank i (`recvbuf` may be null elsewhere). */
  Gather(sendbuf: SendBufferArg, recvbuf: BufferArg | null, root = 0): Promise<void> {
    return this.#buffers("Gather", [sendbuf, recvbuf], root, (ch, [s, r]) => coll.Gather(ch, s, r, root));
  }

  /** Gathers every rank's `sendbuf` into every rank's `recvbuf` (size × n elements). */
  Allgather(sendbuf: SendBufferArg, recvbuf: BufferArg): Promise<void> {
    return this.#buffers("Allgather", [sendbuf, recvbuf], 0, (ch, [s, r]) => coll.Allgather(ch, s, r));
  }

  /** Block i of `sendbuf` goes to rank i; block j of `recvbuf` comes from rank j (`IN_PLACE`: `recvbuf` is sent). */
  Alltoall(sendbuf: SendBufferArg, recvbuf: BufferArg): Promise<void> {
    return this.#buffers("Alltoall", [sendbuf, recvbuf], 0, (ch, [s, r]) => coll.Alltoall(ch, s, r));
  }

  /**
   * Element-wise reduction of every rank's `sendbuf` into the root's `recvbuf`; non-roots'
   * `recvbuf` is untouched (may be null).
   */
  Reduce(sendbuf: SendBufferArg, recvbuf: BufferArg | null, op: Op = Op.SUM, root = 0): Promise<void> {
    return this.#buffers("Reduce", [sendbuf, recvbuf], root, (ch, [s, r]) => coll.Reduce(ch, s, r, op, root));
  }

  /**
   * Element-wise reduction of every rank's `sendbuf` into every rank's `recvbuf` (Bruck for small
   * arrays, ring reduce-scatter + allgather for large ones).
   */
  Allreduce(sendbuf: SendBufferArg, recvbuf: BufferArg, op: Op = Op.SUM): Promise<void> {
    return this.#buffers("Allreduce", [sendbuf, recvbuf], 0, (ch, [s, r]) => coll.Allreduce(ch, s, r, op));
  }

  /** Nonblocking {@link Allreduce}. */
  Iallreduce(sendbuf: SendBufferArg, recvbuf: BufferArg, op: Op = Op.SUM): Request<void> {
    return this.#request(this.Allreduce(sendbuf, recvbuf, op));
  }

  /**
   * Reduces `sendbuf` (size × n elements) element-wise and gives block i of the result to rank i.
   * With `IN_PLACE`, `recvbuf` holds the size × n operand and gets the result in its first n.
   */
  Reduce_scatter_block(sendbuf: SendBufferArg, recvbuf: BufferArg, op: Op = Op.SUM): Promise<void> {
    return this.#buffers("Reduce_scatter_block", [sendbuf, recvbuf], 0, (ch, [s, r]) => coll.Reduce_scatter_block(ch, s, r, op));
  }

  /** Like {@link Reduce_scatter_block} with `recvcounts[i]` elements for rank i (`IN_PLACE` likewise). */
  Reduce_scatter(sendbuf: SendBufferArg, recvbuf: BufferArg, recvcounts: number[], op: Op = Op.SUM): Promise<void> {
    return this.#buffers("Reduce_scatter", [sendbuf, recvbuf], 0, (ch, [s, r]) => coll.Reduce_scatter(ch, s, r, recvcounts, op));
  }

  /** Inclusive element-wise prefix reduction into `recvbuf`. */
  Scan(sendbuf: SendBufferArg, recvbuf: BufferArg, op: Op = Op.SUM): Promise<void> {
    return this.#buffers("Scan", [sendbuf, recvbuf], 0, (ch, [s, r]) => coll.Scan(ch, s, r, op, false));
  }

  /** Exclusive element-wise prefix reduction into `recvbuf`; rank 0's `recvbuf` is untouched. */
  Exscan(sendbuf: SendBufferArg, recvbuf: BufferArg, op: Op = Op.SUM): Promise<void> {
    return this.#buffers("Exscan", [sendbuf, recvbuf], 0, (ch, [s, r]) => coll.Scan(ch, s, r, op, true));
  }

  /** Scatter with per-rank counts: the root passes `[array, counts, displs?]` (and may receive `IN_PLACE`). Zero counts are allowed. */
  Scatterv(sendbuf: VBufferArg | null, recvbuf: BufferArg | typeof IN_PLACE, root = 0): Promise<void> {
    return this.#buffers("Scatterv", [sendbuf, recvbuf], root, (ch, [s, r]) => coll.Scatterv(ch, s, r, root));
  }

  /** Gather with per-rank counts: the root passes `recvbuf` as `[array, counts, displs?]` (and may send `IN_PLACE`). */
  Gatherv(sendbuf: SendBufferArg, recvbuf: VBufferArg | null, root = 0): Promise<void> {
    return this.#buffers("Gatherv", [sendbuf, recvbuf], root, (ch, [s, r]) => coll.Gatherv(ch, s, r, root));
  }

  /** Allgather with per-rank counts: every rank passes `recvbuf` as `[array, counts, displs?]` (`IN_PLACE`: its block is there already). */
  Allgatherv(sendbuf: SendBufferArg, recvbuf: VBufferArg): Promise<void> {
    return this.#buffers("Allgatherv", [sendbuf, recvbuf], 0, (ch, [s, r]) => coll.Allgatherv(ch, s, r));
  }

  /** All-to-all with per-rank counts and displacements on both sides (`IN_PLACE`: `recvbuf`'s blocks are sent). */
  Alltoallv(sendbuf: VBufferArg | typeof IN_PLACE, recvbuf: VBufferArg): Promise<void> {
    return this.#buffers("Alltoallv", [sendbuf, recvbuf], 0, (ch, [s, r]) => coll.Alltoallv(ch, s, r));
  }

  // ------------------------------------------------------- communicators

  /**
   * A new communicator with the same ranks and a private message space (`MPI_Comm_dup`): its
   * messages never match this one's. Every rank must call it in the same order; no messages
   * are exchanged, so it returns at once.
   */
  dup(): Comm {
    this.#usable("dup");
    return new Comm(this.#rt, deriveContext(this.#ctx, ++this.#deriveSeq, 0), this.#rank, this.#group);
  }

  /** Alias of {@link dup}. */
  Dup(): Comm {
    return this.dup();
  }

  /**
   * Splits into disjoint communicators, one per `color` (`MPI_Comm_split`); ranks are ordered
   * by `key`, then by rank here. A rank passing `UNDEFINED` gets `null`. Collective.
   * @throws TsmpiError `ERR_TSMPI_ARG` for a color that is not a non-negative integer or UNDEFINED.
   */
  async split(color: number, key = 0): Promise<Comm | null> {
    this.#usable("split");
    const seq = ++this.#deriveSeq;
    // Check after the exchange: every rank then sees a bad argument anywhere and rejects alike.
    const all = await this.allgather([color, key]);
    all.forEach(([c, k], r) => {
      if (!(Number.isInteger(c) && (c >= 0 || c === UNDEFINED))) {
        throw new TsmpiError("ERR_TSMPI_ARG", `color must be a non-negative integer or UNDEFINED, got ${describeValue(c)} on rank ${r}`);
      }
      if (!Number.isInteger(k)) throw new TsmpiError("ERR_TSMPI_ARG", `key must be an integer, got ${describeValue(k)} on rank ${r}`);
    });
    if (color === UNDEFINED) return null;
    const members = all
      .map(([c, k], r) => ({ c, k, r }))
      .filter((m) => m.c === color)
      .sort((a, b) => a.k - b.k || a.r - b.r);
    const group = members.map((m) => this.#group[m.r]!);
    return new Comm(this.#rt, deriveContext(this.#ctx, seq, color), members.findIndex((m) => m.r === this.#rank), group);
  }

  /** Alias of {@link split}. */
  Split(color: number, key = 0): Promise<Comm | null> {
    return this.split(color, key);
  }

  /**
   * Compares two communicators (`MPI_Comm_compare`): `IDENT` (the same), `CONGRUENT` (same ranks
   * in the same order), `SIMILAR` (same ranks, other order) or `UNEQUAL`.
   */
  compare(other: Comm): number {
    if (!(other instanceof Comm)) throw new TsmpiError("ERR_TSMPI_ARG", `other must be a Comm, got ${describeValue(other)}`);
    if (other === this) return IDENT;
    const a = this.#group;
    const b = other.group;
    if (a.length !== b.length) return UNEQUAL;
    if (a.every((w, i) => w === b[i])) return CONGRUENT;
    const set = new Set(a);
    return b.every((w) => set.has(w)) ? SIMILAR : UNEQUAL;
  }

  /** Alias of {@link compare}. */
  Compare(other: Comm): number {
    return this.compare(other);
  }

  /**
   * Frees the communicator (`MPI_Comm_free`): further calls on it reject with `ERR_TSMPI_COMM`;
   * messages sent on it and not received are dropped (receives already posted still complete).
   * @throws TsmpiError `ERR_TSMPI_COMM` for COMM_WORLD and COMM_SELF.
   */
  free(): void {
    if (this.#ctx === WORLD_CONTEXT || this.#ctx === SELF_CONTEXT) {
      throw new TsmpiError("ERR_TSMPI_COMM", `${this.#ctx === WORLD_CONTEXT ? "COMM_WORLD" : "COMM_SELF"} cannot be freed`);
    }
    if (this.#freed) return;
    this.#freed = true;
    this.#rt.engine.forget(this.#ctx);
    this.#rt.engine.forget(this.#ctx + 1); // its collectives' context
  }

  /** Alias of {@link free}. */
  Free(): void {
    this.free();
  }

  /** mpi4py spelling of {@link rank}. */
  Get_rank(): number {
    return this.#rank;
  }

  /** mpi4py spelling of {@link size}. */
  Get_size(): number {
    return this.#size;
  }

  // ---------------------------------------------------------------- misc

  /**
   * Ends the whole job (`MPI_Abort`): every rank is stopped and `tsmpirun` exits with `code`
   * (taken modulo 256, as a process exit status).
   * @throws TsmpiError `ERR_TSMPI_ARG` when `code` is not an integer.
   */
  abort(code = 1): never {
    if (!Number.isInteger(code)) throw new TsmpiError("ERR_TSMPI_ARG", `code must be an integer, got ${describeValue(code)}`);
    return this.#rt.abort(((code % 256) + 256) % 256, `rank ${this.#rank} called abort(${code})`);
  }

  /** Alias of {@link abort}. */
  Abort(code = 1): never {
    return this.abort(code);
  }
}
