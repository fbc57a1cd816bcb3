/**
 * `CommP2P`: the point-to-point methods of `Comm` (MPI's chapter 3), as in mpi4py: `send`,
 * `recv`, `isend`, `irecv`, `ssend`, `bsend`, `sendrecv`, `probe`, `iprobe`, `mprobe` move any
 * value msgpackr can carry; `Send`, `Recv`, `Isend`, `Irecv`, `Ssend`, `Bsend`, `Rsend`,
 * `Sendrecv`, `Isendrecv`, `Sendrecv_replace`, `Mprobe` move typed arrays (or DeviceArrays,
 * staged through host memory by `device-staging.ts`) without serializing. Each validates its
 * arguments and hands the message to the point-to-point layer (`rt.p2p`); `PROC_NULL` is a valid
 * peer and moves nothing. On an intercommunicator the ranks name the remote group (`_peers`).
 * Matched probes return a `Message` (`message.ts`); buffered sends take room from the attached
 * buffer (`bsend.ts`). Part of the `Comm` chain, see `comm-base.ts`.
 *
 * Not supported yet: an object-tier ready send (mpi4py has none either: `Rsend` is buffer-tier).
 *
 * @module
 */
import { BufferSlot, requestOf, takeBuffered, type AttachedBuffer } from "./bsend.js";
import { CommBase, type BufferArg } from "./comm-base.js";
import { ANY_SOURCE, ANY_TAG, PROC_NULL } from "./constants.js";
import { hostSendBuffer } from "./gpu/device-staging.js";
import { Message, NULL_COMPLETION, completion, intoBuffer, intoValue } from "./message.js";
import type { InMsg } from "./p2p/matching.js";
import type { OutPayload } from "./p2p/protocol.js";
import { Request } from "./request.js";
import { allocateKind, bytesOf, isTypedArray, kindCode, packObject, type TypedArray } from "./serializer.js";
import { Status } from "./status.js";
import { checkBuffer, checkDest, checkRecvTag, checkSendTag, checkSource } from "./validate.js";

/** How a send completes: `standard` (eager), `synchronous` (once matched), `buffered` (at once, its bytes accounted in the attached buffer until they left). */
type Mode = "standard" | "synchronous" | "buffered";

/** The payload of an object-tier value: typed arrays raw (copied now), anything else msgpack. */
function objectPayload(value: unknown): OutPayload {
  if (isTypedArray(value)) return { raw: true, dtype: kindCode(value), bytes: bytesOf(value), mode: "copy" };
  return { raw: false, dtype: 0, bytes: packObject(value), mode: "owned" };
}

/** The payload of a buffer-tier array: raw, borrowed until the send completes. */
function bufferPayload(buf: TypedArray): OutPayload {
  return { raw: true, dtype: kindCode(buf), bytes: bytesOf(buf), mode: "borrow" };
}

/** @internal The point-to-point chapter of `Comm` (see `comm-base.ts`). */
export abstract class CommP2P extends CommBase {
  /** The buffer attached to this communicator for buffered sends (MPI-4.1), if any. */
  readonly #buffer = new BufferSlot("this communicator");

  // ---------------------------------------------------------------- sends

  #isend(payload: () => OutPayload, dest: number, tag: number, mode: Mode, what: string): Request<void> {
    this._usable(what);
    checkDest(dest, this._peers.length);
    checkSendTag(tag);
    if (dest === PROC_NULL) return Request.completed(undefined);
    const p = payload();
    if (mode === "buffered") {
      // Complete now, as the bytes are copied (never borrowed); the room is given back once they left.
      const release = this._takeBuffered(p.bytes.byteLength, what);
      this._rt.p2p.send(this.context, this.rank, this._peers[dest]!, tag, p.mode === "borrow" ? { ...p, mode: "copy" } : p, false, release);
      return Request.completed(undefined);
    }
    const req = new Request<void>();
    this._rt.p2p.send(this.context, this.rank, this._peers[dest]!, tag, p, mode === "synchronous", () => req._complete(undefined));
    return req;
  }

  /** A buffer-tier send: `buf` (a typed array, `[array, count]` or a DeviceArray, copied to the host now) checked, then {@link #isend}. */
  #isendBuffer(buf: BufferArg, dest: number, tag: number, mode: Mode, what: string): Request<void> {
    const data = checkBuffer(hostSendBuffer(buf), "buf");
    return this.#isend(() => bufferPayload(data), dest, tag, mode, what);
  }

  /** @internal Takes room for a buffered message of `size` bytes (this communicator's buffer, else the process's); returns what gives it back. */
  protected _takeBuffered(size: number, what: string): () => void {
    return takeBuffered(this.#buffer, size, what);
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
    return this.#isend(() => objectPayload(value), dest, tag, "standard", "send").wait();
  }

  /** Nonblocking {@link send}: the value is serialized now; the request is already complete. */
  isend(value: unknown, dest: number, tag = 0): Request<void> {
    return this.#isend(() => objectPayload(value), dest, tag, "standard", "isend");
  }

  /** Synchronous send (`MPI_Ssend`): resolves only once the receiver has matched the message. */
  async ssend(value: unknown, dest: number, tag = 0): Promise<void> {
    return this.#isend(() => objectPayload(value), dest, tag, "synchronous", "ssend").wait();
  }

  /** Nonblocking {@link ssend}: the request completes once the receiver matched the message. */
  issend(value: unknown, dest: number, tag = 0): Request<void> {
    return this.#isend(() => objectPayload(value), dest, tag, "synchronous", "issend");
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
    return this.#isendBuffer(buf, dest, tag, "standard", "Isend");
  }

  /** Synchronous {@link Send} (`MPI_Ssend`): resolves once the receiver matched it and has the data. */
  async Ssend(buf: BufferArg, dest: number, tag = 0): Promise<void> {
    return this.Issend(buf, dest, tag).wait();
  }

  /** Nonblocking {@link Ssend}. */
  Issend(buf: BufferArg, dest: number, tag = 0): Request<void> {
    return this.#isendBuffer(buf, dest, tag, "synchronous", "Issend");
  }

  /**
   * Sends `value` in buffered mode (`MPI_Bsend`, mpi4py's `bsend`): completes at once, whether or
   * not a receive was posted; the serialized value takes its size + `BSEND_OVERHEAD` bytes from
   * the attached buffer (this communicator's, else the process's) until it has left.
   * @throws TsmpiError `ERR_TSMPI_BUFFER` when no buffer is attached or the message does not fit, as a rejection.
   */
  async bsend(value: unknown, dest: number, tag = 0): Promise<void> {
    return this.#isend(() => objectPayload(value), dest, tag, "buffered", "bsend").wait();
  }

  /** Nonblocking {@link bsend} (`MPI_Ibsend`): the request is already complete. @throws TsmpiError `ERR_TSMPI_BUFFER`. */
  ibsend(value: unknown, dest: number, tag = 0): Request<void> {
    return this.#isend(() => objectPayload(value), dest, tag, "buffered", "ibsend");
  }

  /**
   * Buffer-tier {@link bsend} (`MPI_Bsend`): `buf` is copied now, so it may be reused at once;
   * its bytes + `BSEND_OVERHEAD` are taken from the attached buffer until the message has left.
   * @throws TsmpiError `ERR_TSMPI_BUFFER` (no buffer attached, or no room: the message names the sizes), and `Send`'s errors.
   *
   * @example
   * ```ts
   * Attach_buffer(new Uint8Array(data.byteLength + BSEND_OVERHEAD));
   * await comm.Bsend(data, right);
   * await Detach_buffer();
   * ```
   */
  async Bsend(buf: BufferArg, dest: number, tag = 0): Promise<void> {
    return this.Ibsend(buf, dest, tag).wait();
  }

  /** Nonblocking {@link Bsend} (`MPI_Ibsend`): the request is already complete. */
  Ibsend(buf: BufferArg, dest: number, tag = 0): Request<void> {
    return this.#isendBuffer(buf, dest, tag, "buffered", "Ibsend");
  }

  /**
   * Ready-mode send (`MPI_Rsend`): correct only when the matching receive is already posted (MPI
   * leaves it erroneous otherwise); tsmpi sends it as {@link Send}, which MPI allows.
   */
  async Rsend(buf: BufferArg, dest: number, tag = 0): Promise<void> {
    return this.Irsend(buf, dest, tag).wait();
  }

  /** Nonblocking {@link Rsend} (`MPI_Irsend`). */
  Irsend(buf: BufferArg, dest: number, tag = 0): Request<void> {
    return this.#isendBuffer(buf, dest, tag, "standard", "Irsend");
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
    return this.#irecv<T>(source, tag, "irecv", intoValue);
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
    return this.#irecv<T>(source, tag, "recv", intoValue).wait(status);
  }

  /**
   * Nonblocking {@link Recv}: the data lands in `buf` once the request completes; its
   * `status.count` says how many elements arrived (into a DeviceArray: only those are written).
   */
  Irecv(buf: BufferArg, source: number = ANY_SOURCE, tag: number = ANY_TAG): Request<void> {
    return this.#irecv<void>(source, tag, "Irecv", intoBuffer(buf));
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
    return this.#both(
      () => this.irecv<T>(source, recvtag),
      () => this.isend(value, dest, sendtag),
    ).wait(status);
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
    return this.Isendrecv(sendbuf, dest, sendtag, recvbuf, source, recvtag).wait(status);
  }

  /**
   * Nonblocking {@link Sendrecv} (`MPI_Isendrecv`, MPI-4): the request completes once the send
   * and the receive have; its status is the receive's.
   */
  Isendrecv(
    sendbuf: BufferArg,
    dest: number,
    sendtag: number,
    recvbuf: BufferArg,
    source: number = ANY_SOURCE,
    recvtag: number = ANY_TAG,
  ): Request<void> {
    return this.#both(
      () => this.Irecv(recvbuf, source, recvtag),
      () => this.Isend(sendbuf, dest, sendtag),
    );
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
    return this.Isendrecv_replace(buf, dest, sendtag, source, recvtag).wait(status);
  }

  /** Nonblocking {@link Sendrecv_replace} (`MPI_Isendrecv_replace`, MPI-4): `buf` is sent as it is now and holds the received data once the request completes. */
  Isendrecv_replace(buf: BufferArg, dest: number, sendtag = 0, source: number = ANY_SOURCE, recvtag: number = ANY_TAG): Request<void> {
    const data = checkBuffer(hostSendBuffer(buf), "buf");
    const copy = allocateKind(kindCode(data), data.length);
    copy.set(data as never);
    return this.Isendrecv(copy, dest, sendtag, buf, source, recvtag);
  }

  /** Posts the receive, then the send (a send that cannot start withdraws the receive); completes when both did, with the receive's value and status. */
  #both<T>(receive: () => Request<T>, send: () => Request<void>): Request<T> {
    const r = receive();
    let s: Request<void>;
    try {
      s = send();
    } catch (err) {
      r.cancel();
      throw err;
    }
    const req = new Request<T>();
    const st = new Status();
    Promise.all([r.wait(st), s.wait()]).then(
      ([got]) => req._complete(got, { source: st.source, tag: st.tag, count: st.count, byteCount: st.byteCount, cancelled: st.cancelled }),
      (err) => req._fail(err),
    );
    return req;
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
    if (this.#probeNull("probe", source, tag, status)) return true;
    this.#fillProbe(await this._rt.p2p.probe(this.context, source, tag), status);
    return true;
  }

  /**
   * True when a message from `source` with `tag` has arrived and can be received (`MPI_Iprobe`);
   * fills `status` only then. Never waits: a polling loop must `await` between calls (e.g.
   * `await new Promise(r => setImmediate(r))`) so that messages can arrive.
   */
  iprobe(source: number = ANY_SOURCE, tag: number = ANY_TAG, status?: Status): boolean {
    if (this.#probeNull("iprobe", source, tag, status)) return true;
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

  /**
   * Waits for a message from `source` with `tag` and takes it out of matching (`MPI_Mprobe`): it
   * is received only through the returned {@link Message}, so no other receive or probe, even one
   * already waiting, can take it. Fills `status`. From `PROC_NULL`: a no-proc message at once.
   * @throws TsmpiError `ERR_TSMPI_RANK`, `ERR_TSMPI_TAG`.
   *
   * @example
   * ```ts
   * const st = new Status();
   * const m = await comm.Mprobe(ANY_SOURCE, ANY_TAG, st);
   * const buf = new Int32Array(st.count);
   * await m.Recv(buf);
   * ```
   */
  async Mprobe(source: number = ANY_SOURCE, tag: number = ANY_TAG, status?: Status): Promise<Message> {
    if (this.#probeNull("Mprobe", source, tag, status)) return Message._noProc();
    const p2p = this._rt.p2p;
    const msg = await new Promise<InMsg>((resolve) => p2p.mprobe(this.context, source, tag, resolve));
    this.#fillProbe(msg, status);
    return Message._matched(p2p, msg);
  }

  /**
   * The first message from `source` with `tag` that has arrived, taken out of matching
   * (`MPI_Improbe`), or `null` (then `status` is untouched). Never waits: a polling loop must
   * `await` between calls.
   */
  Improbe(source: number = ANY_SOURCE, tag: number = ANY_TAG, status?: Status): Message | null {
    if (this.#probeNull("Improbe", source, tag, status)) return Message._noProc();
    const msg = this._rt.p2p.improbe(this.context, source, tag);
    if (!msg) return null;
    this.#fillProbe(msg, status);
    return Message._matched(this._rt.p2p, msg);
  }

  /** Alias of {@link Mprobe} (mpi4py's `mprobe`; receive with the message's `recv`). */
  mprobe(source: number = ANY_SOURCE, tag: number = ANY_TAG, status?: Status): Promise<Message> {
    return this.Mprobe(source, tag, status);
  }

  /** Alias of {@link Improbe} (mpi4py's `improbe`). */
  improbe(source: number = ANY_SOURCE, tag: number = ANY_TAG, status?: Status): Message | null {
    return this.Improbe(source, tag, status);
  }

  /** Checks a probe's arguments; true (status filled) when `source` is `PROC_NULL`. */
  #probeNull(what: string, source: number, tag: number, status: Status | undefined): boolean {
    this._usable(what);
    checkSource(source, this._peers.length);
    checkRecvTag(tag);
    if (source !== PROC_NULL) return false;
    if (status) Object.assign(status, { ...NULL_COMPLETION, cancelled: false, error: 0 });
    return true;
  }

  // ------------------------------------------------------ buffered sends

  /**
   * Attaches `buf` to this communicator for its buffered sends (`MPI_Comm_attach_buffer`,
   * MPI-4.1); they use it instead of the process's (`Attach_buffer`).
   * @throws TsmpiError `ERR_TSMPI_BUFFER` when one is attached already.
   */
  Attach_buffer(buf: AttachedBuffer): void {
    this.#buffer.attach(buf, "Attach_buffer");
  }

  /** Detaches this communicator's buffer: resolves with it once its buffered messages have left (null when none was attached). */
  Detach_buffer(): Promise<AttachedBuffer | null> {
    return this.#buffer.detach();
  }

  /** Resolves once the buffered messages in this communicator's buffer have left (`MPI_Comm_flush_buffer`). */
  Flush_buffer(): Promise<void> {
    return this.#buffer.flush();
  }

  /** Nonblocking {@link Flush_buffer} (`MPI_Comm_iflush_buffer`). */
  Iflush_buffer(): Request<void> {
    return requestOf(this.#buffer.flush());
  }
}
