/**
 * `CommP2P`: the point-to-point methods of `Comm` (MPI's chapter 3), as in mpi4py: `send`,
 * `recv`, `isend`, `irecv`, `ssend`, `sendrecv`, `probe`, `iprobe` move any value msgpackr can
 * carry; `Send`, `Recv`, `Isend`, `Irecv`, `Ssend`, `Sendrecv`, `Sendrecv_replace` move typed
 * arrays (or DeviceArrays, staged through host memory by `device-staging.ts`) without
 * serializing. Each validates its arguments and hands the message to the point-to-point layer
 * (`rt.p2p`); `PROC_NULL` is a valid peer and moves nothing. On an intercommunicator the ranks
 * name the remote group (`_peers`). Part of the `Comm` chain, see `comm-base.ts`.
 *
 * Not supported yet: matched probes (`mprobe`/`improbe`), buffered (`bsend`) and ready
 * (`rsend`) sends (the persistent `Bsend_init`/`Rsend_init` exist, see `comm-persistent.ts`).
 *
 * @module
 */
import { CommBase, type BufferArg } from "./comm-base.js";
import { ANY_SOURCE, ANY_TAG, PROC_NULL } from "./constants.js";
import { Staging, hostSendBuffer } from "./gpu/device-staging.js";
import type { InMsg } from "./p2p/matching.js";
import type { OutPayload } from "./p2p/protocol.js";
import { messageCount, readInto, readObject } from "./p2p/receive.js";
import { Request, type Completion } from "./request.js";
import { allocateKind, bytesOf, isTypedArray, kindCode, packObject, type TypedArray } from "./serializer.js";
import type { Status } from "./status.js";
import { checkBuffer, checkDest, checkRecvTag, checkSendTag, checkSource } from "./validate.js";

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

/** @internal The point-to-point chapter of `Comm` (see `comm-base.ts`). */
export abstract class CommP2P extends CommBase {
  // ---------------------------------------------------------------- sends

  #isend(payload: () => OutPayload, dest: number, tag: number, sync: boolean, what: string): Request<void> {
    this._usable(what);
    checkDest(dest, this._peers.length);
    checkSendTag(tag);
    if (dest === PROC_NULL) return Request.completed(undefined);
    const req = new Request<void>();
    this._rt.p2p.send(this.context, this.rank, this._peers[dest]!, tag, payload(), sync, () => req._complete(undefined));
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
    this._usable(what);
    checkSource(source, this._peers.length);
    checkRecvTag(tag);
    if (source === PROC_NULL) return Request.completed(undefined as T, NULL_COMPLETION);
    let cancel: (() => boolean) | undefined;
    const req = new Request<T>(() => cancel!());
    cancel = this._rt.p2p.receive(this.context, source, tag, (msg) => onMatch(msg, req));
    return req;
  }

  /**
   * Nonblocking {@link recv}: `await req.wait()` gives the value.
   * @throws TsmpiError `ERR_TSMPI_RANK`, `ERR_TSMPI_TAG`.
   */
  // `T` defaults to `any`, as `JSON.parse`'s result, so that a received value is used without a cast,
  // as in mpi4py; `recv<number>()` states what is expected.
  // biome-ignore lint/suspicious/noExplicitAny: the default above, for the caller's convenience
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
  // `T` defaults to `any`, as `JSON.parse`'s result, so that a received value is used without a cast,
  // as in mpi4py; `recv<number>()` states what is expected.
  // biome-ignore lint/suspicious/noExplicitAny: the default above, for the caller's convenience
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
  // `T` defaults to `any`, as `JSON.parse`'s result, so that a received value is used without a cast,
  // as in mpi4py; `recv<number>()` states what is expected.
  // biome-ignore lint/suspicious/noExplicitAny: the default above, for the caller's convenience
  async sendrecv<T = any>(
    value: unknown,
    dest: number,
    sendtag = 0,
    source: number = ANY_SOURCE,
    recvtag: number = ANY_TAG,
    status?: Status,
  ): Promise<T> {
    return this.#exchange(
      () => this.irecv<T>(source, recvtag),
      () => this.isend(value, dest, sendtag),
      status,
    );
  }

  /** Buffer-tier {@link sendrecv} (`MPI_Sendrecv`): sends `sendbuf`, receives into `recvbuf`. */
  async Sendrecv(
    sendbuf: BufferArg,
    dest: number,
    sendtag: number,
    recvbuf: BufferArg,
    source: number = ANY_SOURCE,
    recvtag: number = ANY_TAG,
    status?: Status,
  ): Promise<void> {
    return this.#exchange(
      () => this.Irecv(recvbuf, source, recvtag),
      () => this.Isend(sendbuf, dest, sendtag),
      status,
    );
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
  async Sendrecv_replace(
    buf: BufferArg,
    dest: number,
    sendtag = 0,
    source: number = ANY_SOURCE,
    recvtag: number = ANY_TAG,
    status?: Status,
  ): Promise<void> {
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
    this._usable("probe");
    checkSource(source, this._peers.length);
    checkRecvTag(tag);
    if (source === PROC_NULL) {
      if (status) Object.assign(status, { ...NULL_COMPLETION, cancelled: false, error: 0 });
      return true;
    }
    this.#fillProbe(await this._rt.p2p.probe(this.context, source, tag), status);
    return true;
  }

  /**
   * True when a message from `source` with `tag` has arrived and can be received (`MPI_Iprobe`);
   * fills `status` only then. Never waits: a polling loop must `await` between calls (e.g.
   * `await new Promise(r => setImmediate(r))`) so that messages can arrive.
   */
  iprobe(source: number = ANY_SOURCE, tag: number = ANY_TAG, status?: Status): boolean {
    this._usable("iprobe");
    checkSource(source, this._peers.length);
    checkRecvTag(tag);
    if (source === PROC_NULL) {
      if (status) Object.assign(status, { ...NULL_COMPLETION, cancelled: false, error: 0 });
      return true;
    }
    const msg = this._rt.p2p.iprobe(this.context, source, tag);
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
}
