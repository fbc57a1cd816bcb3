/**
 * `CommPersistent`: the persistent requests of `Comm` (MPI's `MPI_Send_init` family and MPI-4's
 * persistent collectives), as in mpi4py 4: `Send_init`, `Ssend_init`, `Bsend_init`,
 * `Rsend_init`, `Recv_init`, and `Barrier_init`, `Bcast_init`, ..., `Exscan_init`. Each binds its
 * arguments once and returns an inactive {@link Prequest}; every `Start()` runs one round (see
 * `prequest.ts`). A persistent collective takes its collective sequence number at init, so the
 * init calls match in issue order as collectives do; its starts then reuse it. Part of the `Comm`
 * chain, see `comm-base.ts`.
 *
 * Not supported yet: partitioned communication (`Psend_init`/`Precv_init`), the neighbourhood
 * `*_init` calls, object-tier persistent requests (mpi4py has none either).
 *
 * @module
 */
import * as coll from "./collectives/api.js";
import type { CollectiveChannel } from "./collectives/channel.js";
import { Alltoallw as alltoallw } from "./collectives/alltoallw.js";
import type { BufferArg, SendBufferArg, VBufferArg, WBufferArg } from "./comm-base.js";
import { CommCollectives } from "./comm-collectives.js";
import { ANY_SOURCE, ANY_TAG, type IN_PLACE } from "./constants.js";
import { isDeviceArray } from "./gpu/device-array.js";
import { stagedCollective, type StagedCollective } from "./gpu/device-staging.js";
import { Op } from "./op.js";
import { Prequest, promiseRound, recvRound, requestRound, sendRound, type Endpoint, type SendMode } from "./prequest.js";
import { checkBuffer, checkDest, checkRecvTag, checkRoot, checkSendTag, checkSource } from "./validate.js";

/** @internal The persistent-request chapter of `Comm` (see `comm-base.ts`). */
export abstract class CommPersistent extends CommCollectives {
  /** @internal What a persistent point-to-point request binds of this communicator. */
  #endpoint(): Endpoint {
    return { rt: this._rt, ctx: this.context, rank: this.rank, group: this.worldRanks, usable: (what) => this._usable(what) };
  }

  #sendInit(buf: BufferArg, dest: number, tag: number, mode: SendMode, what: string): Prequest<void> {
    this._usable(what);
    checkDest(dest, this.size);
    checkSendTag(tag);
    if (isDeviceArray(buf) || (Array.isArray(buf) && isDeviceArray(buf[0]))) {
      // copied to the host at each start, as Isend does
      return new Prequest<void>(requestRound(() => (mode === "synchronous" ? this.Issend(buf, dest, tag) : this.Isend(buf, dest, tag))));
    }
    return new Prequest<void>(sendRound(this.#endpoint(), checkBuffer(buf, "buf"), dest, tag, mode));
  }

  /**
   * A persistent standard send of `buf` to `dest` (`MPI_Send_init`): each `Start()` sends the
   * array's current contents, as {@link Isend}. The request starts inactive.
   * @throws TsmpiError `ERR_TSMPI_TYPE`, `ERR_TSMPI_COUNT`, `ERR_TSMPI_RANK`, `ERR_TSMPI_TAG` (at init).
   *
   * @example
   * ```ts
   * const s = comm.Send_init(edge, right), r = comm.Recv_init(halo, left);
   * for (let i = 0; i < steps; i++) { Prequest.Startall([s, r]); await Request.waitall([s, r]); }
   * ```
   */
  Send_init(buf: BufferArg, dest: number, tag = 0): Prequest<void> {
    return this.#sendInit(buf, dest, tag, "standard", "Send_init");
  }

  /** A persistent synchronous send (`MPI_Ssend_init`): each round completes once the receiver matched it. */
  Ssend_init(buf: BufferArg, dest: number, tag = 0): Prequest<void> {
    return this.#sendInit(buf, dest, tag, "synchronous", "Ssend_init");
  }

  /**
   * A persistent buffered send (`MPI_Bsend_init`): each `Start()` copies `buf`, so the round
   * completes without waiting for the receiver. No attached buffer is needed or accounted yet.
   */
  Bsend_init(buf: BufferArg, dest: number, tag = 0): Prequest<void> {
    return this.#sendInit(buf, dest, tag, "buffered", "Bsend_init");
  }

  /** A persistent ready send (`MPI_Rsend_init`); it behaves as a standard send, as MPI allows. */
  Rsend_init(buf: BufferArg, dest: number, tag = 0): Prequest<void> {
    return this.#sendInit(buf, dest, tag, "ready", "Rsend_init");
  }

  /**
   * A persistent receive into `buf` (`MPI_Recv_init`): each `Start()` posts a receive as
   * {@link Irecv}; `wait(status)` fills the status. The request starts inactive.
   * @throws TsmpiError `ERR_TSMPI_TYPE`, `ERR_TSMPI_COUNT`, `ERR_TSMPI_RANK`, `ERR_TSMPI_TAG` (at init).
   */
  Recv_init(buf: BufferArg, source: number = ANY_SOURCE, tag: number = ANY_TAG): Prequest<void> {
    this._usable("Recv_init");
    checkSource(source, this.size);
    checkRecvTag(tag);
    if (isDeviceArray(buf) || (Array.isArray(buf) && isDeviceArray(buf[0])))
      return new Prequest<void>(requestRound(() => this.Irecv(buf, source, tag)));
    return new Prequest<void>(recvRound(this.#endpoint(), checkBuffer(buf, "buf"), source, tag));
  }

  /**
   * A persistent collective: takes its sequence number now (the init calls are matched in
   * issue order, as collectives), then each start runs `body` with that number.
   */
  #persistent(name: string, root: number | null, body: (ch: CollectiveChannel) => Promise<void>): Prequest<void> {
    this._usable(`${name}_init`);
    if (root !== null) checkRoot(root, this.size);
    const seq = this._nextCollective();
    return new Prequest<void>(
      promiseRound(() => {
        this._usable(name);
        return this._collectiveAt<void>(seq, name, body);
      }),
    );
  }

  /** {@link #persistent} of a buffer-tier call, DeviceArrays among `bufs` staged at each start. */
  #persistentBuffers(
    name: StagedCollective,
    bufs: unknown[],
    root: number | null,
    body: (ch: CollectiveChannel, host: readonly unknown[]) => Promise<void>,
  ): Prequest<void> {
    return this.#persistent(name, root, (ch) => stagedCollective(name, bufs, ch.rank, root ?? 0, (host) => body(ch, host)));
  }

  /**
   * A persistent {@link Barrier} (`MPI_Barrier_init`, MPI-4). Like every persistent collective,
   * every rank makes it in the same order as its other collectives; its `Start()`s need not be
   * ordered with other collectives, but every rank starts it as often. `info` is ignored.
   *
   * @example
   * ```ts
   * const sum = comm.Allreduce_init(local, total, Op.SUM);
   * for (let i = 0; i < steps; i++) { compute(local); sum.Start(); await sum.wait(); }
   * ```
   */
  Barrier_init(info?: unknown): Prequest<void> {
    void info;
    return this.#persistent("barrier", null, (ch) => coll.barrier(ch));
  }

  /** A persistent {@link Bcast} (`MPI_Bcast_init`). @throws TsmpiError `ERR_TSMPI_ROOT` (at init). */
  Bcast_init(buf: BufferArg, root = 0, info?: unknown): Prequest<void> {
    void info;
    return this.#persistentBuffers("Bcast", [buf], root, (ch, [b]) => coll.Bcast(ch, b, root));
  }

  /** A persistent {@link Gather} (`MPI_Gather_init`). */
  Gather_init(sendbuf: SendBufferArg, recvbuf: BufferArg | null, root = 0, info?: unknown): Prequest<void> {
    void info;
    return this.#persistentBuffers("Gather", [sendbuf, recvbuf], root, (ch, [s, r]) => coll.Gather(ch, s, r, root));
  }

  /** A persistent {@link Gatherv} (`MPI_Gatherv_init`). */
  Gatherv_init(sendbuf: SendBufferArg, recvbuf: VBufferArg | null, root = 0, info?: unknown): Prequest<void> {
    void info;
    return this.#persistentBuffers("Gatherv", [sendbuf, recvbuf], root, (ch, [s, r]) => coll.Gatherv(ch, s, r, root));
  }

  /** A persistent {@link Scatter} (`MPI_Scatter_init`). */
  Scatter_init(sendbuf: BufferArg | null, recvbuf: BufferArg | typeof IN_PLACE, root = 0, info?: unknown): Prequest<void> {
    void info;
    return this.#persistentBuffers("Scatter", [sendbuf, recvbuf], root, (ch, [s, r]) => coll.Scatter(ch, s, r, root));
  }

  /** A persistent {@link Scatterv} (`MPI_Scatterv_init`). */
  Scatterv_init(sendbuf: VBufferArg | null, recvbuf: BufferArg | typeof IN_PLACE, root = 0, info?: unknown): Prequest<void> {
    void info;
    return this.#persistentBuffers("Scatterv", [sendbuf, recvbuf], root, (ch, [s, r]) => coll.Scatterv(ch, s, r, root));
  }

  /** A persistent {@link Allgather} (`MPI_Allgather_init`). */
  Allgather_init(sendbuf: SendBufferArg, recvbuf: BufferArg, info?: unknown): Prequest<void> {
    void info;
    return this.#persistentBuffers("Allgather", [sendbuf, recvbuf], null, (ch, [s, r]) => coll.Allgather(ch, s, r));
  }

  /** A persistent {@link Allgatherv} (`MPI_Allgatherv_init`). */
  Allgatherv_init(sendbuf: SendBufferArg, recvbuf: VBufferArg, info?: unknown): Prequest<void> {
    void info;
    return this.#persistentBuffers("Allgatherv", [sendbuf, recvbuf], null, (ch, [s, r]) => coll.Allgatherv(ch, s, r));
  }

  /** A persistent {@link Alltoall} (`MPI_Alltoall_init`). */
  Alltoall_init(sendbuf: SendBufferArg, recvbuf: BufferArg, info?: unknown): Prequest<void> {
    void info;
    return this.#persistentBuffers("Alltoall", [sendbuf, recvbuf], null, (ch, [s, r]) => coll.Alltoall(ch, s, r));
  }

  /** A persistent {@link Alltoallv} (`MPI_Alltoallv_init`). */
  Alltoallv_init(sendbuf: VBufferArg | typeof IN_PLACE, recvbuf: VBufferArg, info?: unknown): Prequest<void> {
    void info;
    return this.#persistentBuffers("Alltoallv", [sendbuf, recvbuf], null, (ch, [s, r]) => coll.Alltoallv(ch, s, r));
  }

  /** A persistent {@link Alltoallw} (`MPI_Alltoallw_init`). Host memory only. */
  Alltoallw_init(sendbuf: WBufferArg | typeof IN_PLACE, recvbuf: WBufferArg, info?: unknown): Prequest<void> {
    void info;
    return this.#persistent("Alltoallw", null, (ch) => alltoallw(ch, sendbuf, recvbuf));
  }

  /** A persistent {@link Reduce} (`MPI_Reduce_init`). */
  Reduce_init(sendbuf: SendBufferArg, recvbuf: BufferArg | null, op: Op = Op.SUM, root = 0, info?: unknown): Prequest<void> {
    void info;
    return this.#persistentBuffers("Reduce", [sendbuf, recvbuf], root, (ch, [s, r]) => coll.Reduce(ch, s, r, op, root));
  }

  /** A persistent {@link Allreduce} (`MPI_Allreduce_init`). */
  Allreduce_init(sendbuf: SendBufferArg, recvbuf: BufferArg, op: Op = Op.SUM, info?: unknown): Prequest<void> {
    void info;
    return this.#persistentBuffers("Allreduce", [sendbuf, recvbuf], null, (ch, [s, r]) => coll.Allreduce(ch, s, r, op));
  }

  /** A persistent {@link Reduce_scatter_block} (`MPI_Reduce_scatter_block_init`). */
  Reduce_scatter_block_init(sendbuf: SendBufferArg, recvbuf: BufferArg, op: Op = Op.SUM, info?: unknown): Prequest<void> {
    void info;
    return this.#persistentBuffers("Reduce_scatter_block", [sendbuf, recvbuf], null, (ch, [s, r]) =>
      coll.Reduce_scatter_block(ch, s, r, op),
    );
  }

  /** A persistent {@link Reduce_scatter} (`MPI_Reduce_scatter_init`). */
  Reduce_scatter_init(sendbuf: SendBufferArg, recvbuf: BufferArg, recvcounts: number[], op: Op = Op.SUM, info?: unknown): Prequest<void> {
    void info;
    return this.#persistentBuffers("Reduce_scatter", [sendbuf, recvbuf], null, (ch, [s, r]) =>
      coll.Reduce_scatter(ch, s, r, recvcounts, op),
    );
  }

  /** A persistent {@link Scan} (`MPI_Scan_init`). */
  Scan_init(sendbuf: SendBufferArg, recvbuf: BufferArg, op: Op = Op.SUM, info?: unknown): Prequest<void> {
    void info;
    return this.#persistentBuffers("Scan", [sendbuf, recvbuf], null, (ch, [s, r]) => coll.Scan(ch, s, r, op, false));
  }

  /** A persistent {@link Exscan} (`MPI_Exscan_init`). */
  Exscan_init(sendbuf: SendBufferArg, recvbuf: BufferArg, op: Op = Op.SUM, info?: unknown): Prequest<void> {
    void info;
    return this.#persistentBuffers("Exscan", [sendbuf, recvbuf], null, (ch, [s, r]) => coll.Scan(ch, s, r, op, true));
  }
}
