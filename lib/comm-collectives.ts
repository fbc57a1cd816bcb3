/**
 * `CommCollectives`: the collective methods of `Comm` (MPI's chapter 6), blocking and
 * nonblocking, as in mpi4py: lowercase ones (`bcast`, `gather`, `allreduce`, ...) move any value,
 * Capitalized ones (`Bcast`, `Gather`, `Allreduce`, `Alltoallw`, the v-variants, ...) typed arrays,
 * DeviceArrays staged through host memory (`device-staging.ts`). Each call takes a sequence
 * number when issued, so calls match in issue order per communicator, and runs an algorithm of
 * `collectives/` on a `CollectiveChannel` of the communicator's collective context (its context
 * id + 1), which user point-to-point traffic never matches. A nonblocking collective (`Ibcast`,
 * `ibcast`, ...) starts the blocking call's algorithm now and returns a `Request` over it. Part of
 * the `Comm` chain, see `comm-base.ts`; `Intercomm` overrides these with MPI's intercommunicator
 * rules.
 *
 * Not supported yet: on intercommunicators the v-variants and `Reduce_scatter*` (see
 * `intercomm.ts`); DeviceArrays in `Alltoallw`.
 *
 * @module
 */
import * as coll from "./collectives/api.js";
import { CollectiveChannel } from "./collectives/channel.js";
import { CommP2P } from "./comm-p2p.js";
import type { BufferArg, SendBufferArg, VBufferArg, WBufferArg } from "./comm-base.js";
import type { IN_PLACE } from "./constants.js";
import { stagedCollective, type StagedCollective } from "./gpu/device-staging.js";
import { TsmpiError } from "./errors.js";
import { Request } from "./request.js";
import { Alltoallw as alltoallw } from "./collectives/alltoallw.js";
import { Op } from "./op.js";

/** @internal The collectives chapter of `Comm` (see `comm-base.ts`). */
export abstract class CommCollectives extends CommP2P {
  /** Collective calls issued so far: the next call's sequence number (its tag). */
  #collSeq = 0;

  // --------------------------------------------------------- collectives

  /** @internal {@link #collective} for the neighbour collectives of `topology/topocomm.ts`. */
  protected _collective<T>(name: string, body: (ch: CollectiveChannel) => Promise<unknown>): Promise<T> {
    return this.#collective(name, body);
  }

  /** @internal {@link #collectiveAt} for the persistent collectives (`comm-persistent.ts`), with a number from {@link _nextCollective}. */
  protected _collectiveAt<T>(seq: number, name: string, body: (ch: CollectiveChannel) => Promise<unknown>): Promise<T> {
    return this.#collectiveAt(seq, name, body);
  }

  /** @internal Takes the next collective sequence number now (a persistent collective takes its own at init). */
  protected _nextCollective(): number {
    return this.#collSeq++;
  }

  /**
   * Runs one collective call: takes its sequence number now (so calls match in issue order),
   * runs `body` on the call's channel, and on failure tells the other ranks.
   */
  #collective<T>(name: string, body: (ch: CollectiveChannel) => Promise<unknown>): Promise<T> {
    try {
      this._usable(name);
      if (this._peers !== this.worldRanks) throw new TsmpiError("ERR_TSMPI_COMM", `${name} is not supported on an intercommunicator yet`);
    } catch (err) {
      return Promise.reject(err);
    }
    return this.#collectiveAt(this.#collSeq++, name, body);
  }

  /** {@link #collective} with sequence number `seq` taken earlier (persistent collectives take theirs at init). */
  #collectiveAt<T>(seq: number, name: string, body: (ch: CollectiveChannel) => Promise<unknown>): Promise<T> {
    const ch = new CollectiveChannel(this._rt.p2p, this.context + 1, this.rank, this.worldRanks, seq, name);
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
  #buffers(
    name: StagedCollective,
    bufs: unknown[],
    root: number,
    body: (ch: CollectiveChannel, host: readonly unknown[]) => Promise<void>,
  ): Promise<void> {
    return this.#collective(name, (ch) => stagedCollective(name, bufs, ch.rank, root, (host) => body(ch, host)));
  }

  /** @internal A request that settles with `promise` (the nonblocking collectives). */
  protected _request<T>(promise: Promise<T>): Request<T> {
    return this.#request(promise);
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

  // ------------------------------------------------ nonblocking collectives
  // Each starts the blocking call's algorithm now and returns a Request over it; the call's
  // messages move whenever the rank yields to the event loop (any await, a timer, I/O).

  /** Nonblocking {@link Gather} (`MPI_Igather`). */
  Igather(sendbuf: SendBufferArg, recvbuf: BufferArg | null, root = 0): Request<void> {
    return this.#request(this.Gather(sendbuf, recvbuf, root));
  }

  /** Nonblocking {@link Gatherv} (`MPI_Igatherv`). */
  Igatherv(sendbuf: SendBufferArg, recvbuf: VBufferArg | null, root = 0): Request<void> {
    return this.#request(this.Gatherv(sendbuf, recvbuf, root));
  }

  /** Nonblocking {@link Scatter} (`MPI_Iscatter`). */
  Iscatter(sendbuf: BufferArg | null, recvbuf: BufferArg | typeof IN_PLACE, root = 0): Request<void> {
    return this.#request(this.Scatter(sendbuf, recvbuf, root));
  }

  /** Nonblocking {@link Scatterv} (`MPI_Iscatterv`). */
  Iscatterv(sendbuf: VBufferArg | null, recvbuf: BufferArg | typeof IN_PLACE, root = 0): Request<void> {
    return this.#request(this.Scatterv(sendbuf, recvbuf, root));
  }

  /** Nonblocking {@link Allgather} (`MPI_Iallgather`). */
  Iallgather(sendbuf: SendBufferArg, recvbuf: BufferArg): Request<void> {
    return this.#request(this.Allgather(sendbuf, recvbuf));
  }

  /** Nonblocking {@link Allgatherv} (`MPI_Iallgatherv`). */
  Iallgatherv(sendbuf: SendBufferArg, recvbuf: VBufferArg): Request<void> {
    return this.#request(this.Allgatherv(sendbuf, recvbuf));
  }

  /** Nonblocking {@link Alltoall} (`MPI_Ialltoall`). */
  Ialltoall(sendbuf: SendBufferArg, recvbuf: BufferArg): Request<void> {
    return this.#request(this.Alltoall(sendbuf, recvbuf));
  }

  /** Nonblocking {@link Alltoallv} (`MPI_Ialltoallv`). */
  Ialltoallv(sendbuf: VBufferArg | typeof IN_PLACE, recvbuf: VBufferArg): Request<void> {
    return this.#request(this.Alltoallv(sendbuf, recvbuf));
  }

  /**
   * All-to-all with a count, a byte displacement and an element kind per block (`MPI_Alltoallw`),
   * mpi4py's `[buf, counts, displs, types]` with typed-array constructors as types (see
   * `collectives/alltoallw.ts`); `buf` may be a typed array, a DataView or an ArrayBuffer.
   * `IN_PLACE`: `recvbuf`'s blocks are sent. Host memory only.
   * @throws TsmpiError `ERR_TSMPI_TYPE`, `ERR_TSMPI_COUNT` (a block outside its buffer, or sizes that do not match across ranks).
   *
   * @example
   * ```ts
   * // one Float64 to every rank, received into an ArrayBuffer at byte offsets
   * const n = comm.size, ones = new Array(n).fill(1), at = (bytes: number) => Array.from({ length: n }, (_, i) => i * bytes);
   * const send = new Float64Array(n).fill(comm.rank);
   * const recv = new ArrayBuffer(8 * n);
   * await comm.Alltoallw([send, ones, at(8), Float64Array], [recv, ones, at(8), Float64Array]);
   * ```
   */
  Alltoallw(sendbuf: WBufferArg | typeof IN_PLACE, recvbuf: WBufferArg): Promise<void> {
    return this.#collective("Alltoallw", (ch) => alltoallw(ch, sendbuf, recvbuf));
  }

  /** Nonblocking {@link Alltoallw} (`MPI_Ialltoallw`). */
  Ialltoallw(sendbuf: WBufferArg | typeof IN_PLACE, recvbuf: WBufferArg): Request<void> {
    return this.#request(this.Alltoallw(sendbuf, recvbuf));
  }

  /** Nonblocking {@link Reduce} (`MPI_Ireduce`). */
  Ireduce(sendbuf: SendBufferArg, recvbuf: BufferArg | null, op: Op = Op.SUM, root = 0): Request<void> {
    return this.#request(this.Reduce(sendbuf, recvbuf, op, root));
  }

  /** Nonblocking {@link Reduce_scatter} (`MPI_Ireduce_scatter`). */
  Ireduce_scatter(sendbuf: SendBufferArg, recvbuf: BufferArg, recvcounts: number[], op: Op = Op.SUM): Request<void> {
    return this.#request(this.Reduce_scatter(sendbuf, recvbuf, recvcounts, op));
  }

  /** Nonblocking {@link Reduce_scatter_block} (`MPI_Ireduce_scatter_block`). */
  Ireduce_scatter_block(sendbuf: SendBufferArg, recvbuf: BufferArg, op: Op = Op.SUM): Request<void> {
    return this.#request(this.Reduce_scatter_block(sendbuf, recvbuf, op));
  }

  /** Nonblocking {@link Scan} (`MPI_Iscan`). */
  Iscan(sendbuf: SendBufferArg, recvbuf: BufferArg, op: Op = Op.SUM): Request<void> {
    return this.#request(this.Scan(sendbuf, recvbuf, op));
  }

  /** Nonblocking {@link Exscan} (`MPI_Iexscan`). */
  Iexscan(sendbuf: SendBufferArg, recvbuf: BufferArg, op: Op = Op.SUM): Request<void> {
    return this.#request(this.Exscan(sendbuf, recvbuf, op));
  }

  /** Nonblocking {@link gather}: `wait()` gives the root the list, `undefined` elsewhere. */
  igather<T>(sendobj: T, root = 0): Request<T[] | undefined> {
    return this.#request(this.gather(sendobj, root));
  }

  /** Nonblocking {@link scatter}: `wait()` gives this rank's item. */
  iscatter<T>(sendobj: readonly T[] | null | undefined, root = 0): Request<T> {
    return this.#request(this.scatter(sendobj, root));
  }

  /** Nonblocking {@link allgather}. */
  iallgather<T>(sendobj: T): Request<T[]> {
    return this.#request(this.allgather(sendobj));
  }

  /** Nonblocking {@link alltoall}. */
  ialltoall<T>(sendobj: readonly T[]): Request<T[]> {
    return this.#request(this.alltoall(sendobj));
  }

  /** Nonblocking {@link reduce}: `wait()` gives the root the result, `undefined` elsewhere. */
  ireduce<T>(sendobj: T, op: Op = Op.SUM, root = 0): Request<T | undefined> {
    return this.#request(this.reduce(sendobj, op, root));
  }

  /** Nonblocking {@link scan}. */
  iscan<T>(sendobj: T, op: Op = Op.SUM): Request<T> {
    return this.#request(this.scan(sendobj, op));
  }

  /** Nonblocking {@link exscan}: rank 0's `wait()` gives `undefined`. */
  iexscan<T>(sendobj: T, op: Op = Op.SUM): Request<T | undefined> {
    return this.#request(this.exscan(sendobj, op));
  }
}
