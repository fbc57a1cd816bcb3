/**
 * `Message`: a message matched by a matched probe (`MPI_Message`), as mpi4py's `Message`:
 * `comm.Mprobe`/`comm.Improbe` (and `mprobe`/`improbe`, `Message.Probe`/`Message.Iprobe`) match
 * a message as a receive does and take it out of matching, so no other receive or probe can see
 * it; it is then received only through its `Message`, with `Recv`/`Irecv` (into a buffer) or
 * `recv`/`irecv` (as a value). That is what makes "probe, allocate, receive" safe when several
 * receives run concurrently (async code): two receivers never race for one message.
 *
 * After its receive a message is null (mpi4py's `MESSAGE_NULL`: `isNull`), and receiving it again
 * is an error. Probing `PROC_NULL` gives a no-proc message (`MESSAGE_NO_PROC`: `isNoProc`) whose
 * receive completes at once with source `PROC_NULL`, tag `ANY_TAG` and count 0. The constants
 * `MESSAGE_NULL` and `MESSAGE_NO_PROC` themselves never change.
 *
 * Also here: what a receive does with the message it matched (read it as a value, or into a
 * buffer), shared by `comm-p2p.ts`'s receives and this file's.
 *
 * Not supported yet: handle conversion (`fromhandle`, `py2f`/`f2py`) and pickling of messages.
 *
 * @module
 */
import type { BufferArg } from "./comm-base.js";
import { PROC_NULL, ANY_TAG } from "./constants.js";
import { TsmpiError } from "./errors.js";
import { Staging } from "./gpu/device-staging.js";
import type { InMsg } from "./p2p/matching.js";
import type { PointToPoint } from "./p2p/protocol.js";
import { messageCount, readInto, readObject } from "./p2p/receive.js";
import { Request, type Completion } from "./request.js";
import type { Status } from "./status.js";
import { checkBuffer } from "./validate.js";

/** @internal The status of a receive from `PROC_NULL`. */
export const NULL_COMPLETION: Completion = { source: PROC_NULL, tag: ANY_TAG, count: 0, byteCount: 0 };

/** @internal The status of a received message (`count` in the receive's units). */
export function completion(msg: InMsg, count = messageCount(msg)): Completion {
  return { source: msg.src, tag: msg.tag, count, byteCount: msg.total };
}

/** @internal What a receive into `buf` does with its matched message; `buf` (DeviceArrays staged) is checked now. */
export function intoBuffer(buf: BufferArg): (msg: InMsg, req: Request<void>) => void {
  const staging = Staging.now([buf], ["out"]);
  const data = checkBuffer(staging.args[0], "buf");
  return (msg, req) =>
    readInto(msg, data, (count, err) =>
      err ? req._fail(err) : staging.writeBack((e) => (e ? req._fail(e) : req._complete(undefined, completion(msg, count))), count),
    );
}

/** @internal What a receive of a value does with its matched message. */
export function intoValue<T>(msg: InMsg, req: Request<T>): void {
  readObject(msg, (value, err) => (err ? req._fail(err) : req._complete(value as T, completion(msg))));
}

/** The matched message a `Message` (and its copies) refer to; `received` once one of them received it. */
interface Matched {
  readonly p2p: PointToPoint;
  readonly msg: InMsg;
  received: boolean;
}

type State = { kind: "null" } | { kind: "noproc"; constant: boolean } | { kind: "matched"; m: Matched };

/**
 * A message taken out of matching by a matched probe (`MPI_Message`). Receive it once with
 * {@link Recv}/{@link Irecv} (into a buffer) or {@link recv}/{@link irecv} (as a value).
 *
 * @example
 * ```ts
 * const st = new Status();
 * const m = await comm.Mprobe(ANY_SOURCE, 7, st);
 * const buf = new Float64Array(st.count);   // sized from the probe: no other receive can take it
 * await m.Recv(buf);
 * ```
 */
export class Message {
  #state: State;

  /**
   * A null message (mpi4py's `Message()`), or a copy of `message` (`Message(message)`): a copy of
   * a matched message refers to the same message, which either can receive once.
   */
  constructor(message?: Message) {
    const s: State = message ? message.#state : { kind: "null" };
    this.#state = s.kind === "noproc" ? { kind: "noproc", constant: false } : s;
  }

  /** @internal A message matched by a matched probe. */
  static _matched(p2p: PointToPoint, msg: InMsg): Message {
    const m = new Message();
    m.#state = { kind: "matched", m: { p2p, msg, received: false } };
    return m;
  }

  /** @internal A message from probing `PROC_NULL` (`constant`: the `MESSAGE_NO_PROC` export itself, which never becomes null). */
  static _noProc(constant = false): Message {
    const m = new Message();
    m.#state = { kind: "noproc", constant };
    return m;
  }

  /** True for `MESSAGE_NULL` and for a message that was received (mpi4py: `not message`). */
  get isNull(): boolean {
    return this.#state.kind === "null" || (this.#state.kind === "matched" && this.#state.m.received);
  }

  /** True for a message from probing `PROC_NULL` that was not received yet (mpi4py: `message == MESSAGE_NO_PROC`). */
  get isNoProc(): boolean {
    return this.#state.kind === "noproc";
  }

  /** Starts the receive: hands the message to `onMatch` once, and makes this message null. */
  #take<T>(what: string, onMatch: (msg: InMsg, req: Request<T>) => void): Request<T> {
    const s = this.#state;
    if (s.kind === "noproc") {
      if (!s.constant) this.#state = { kind: "null" };
      return Request.completed(undefined as T, NULL_COMPLETION);
    }
    if (s.kind === "null" || s.m.received) {
      throw new TsmpiError(
        "ERR_TSMPI_REQUEST",
        `${what} on ${s.kind === "null" ? "MESSAGE_NULL" : "a message that was already received"}: a matched message is received once`,
      );
    }
    const req = new Request<T>();
    s.m.received = true;
    s.m.p2p.receiveMatched(s.m.msg, (msg) => onMatch(msg, req));
    return req;
  }

  /**
   * Receives the message into `buf` (`MPI_Mrecv`), filling its prefix, and fills `status`; the
   * message becomes null. For a no-proc message `buf` may be null and is untouched.
   * @throws TsmpiError `ERR_TSMPI_REQUEST` when already received (or `MESSAGE_NULL`), `ERR_TSMPI_TRUNCATE`, `ERR_TSMPI_TYPE`, as `Recv`.
   */
  async Recv(buf: BufferArg | null, status?: Status): Promise<void> {
    return this.Irecv(buf).wait(status);
  }

  /** Nonblocking {@link Recv} (`MPI_Imrecv`): the message becomes null now; the data is in `buf` once the request completes. */
  Irecv(buf: BufferArg | null): Request<void> {
    // the buffer is checked (and a DeviceArray staged) only for a message that has data
    return this.#take<void>("Irecv", this.#state.kind === "matched" ? intoBuffer(buf as BufferArg) : () => {});
  }

  /** Receives the message as a value (mpi4py's `Message.recv`) and fills `status`; the message becomes null. */
  // `T` defaults to `any`, as `comm.recv`'s does (see there).
  // biome-ignore lint/suspicious/noExplicitAny: the default above, for the caller's convenience
  async recv<T = any>(status?: Status): Promise<T> {
    return this.irecv<T>().wait(status);
  }

  /** Nonblocking {@link recv} (mpi4py's `Message.irecv`). */
  // biome-ignore lint/suspicious/noExplicitAny: as recv's
  irecv<T = any>(): Request<T> {
    return this.#take<T>("irecv", intoValue);
  }

  /** `comm.Mprobe(source, tag, status)` (mpi4py's `Message.Probe(comm, ...)`). */
  static Probe(comm: MatchedProber, source?: number, tag?: number, status?: Status): Promise<Message> {
    return comm.Mprobe(source, tag, status);
  }

  /** `comm.Improbe(source, tag, status)` (mpi4py's `Message.Iprobe(comm, ...)`): null when nothing matches. */
  static Iprobe(comm: MatchedProber, source?: number, tag?: number, status?: Status): Message | null {
    return comm.Improbe(source, tag, status);
  }

  /** Alias of {@link Probe} (mpi4py's `Message.probe`). */
  static probe(comm: MatchedProber, source?: number, tag?: number, status?: Status): Promise<Message> {
    return comm.Mprobe(source, tag, status);
  }

  /** Alias of {@link Iprobe} (mpi4py's `Message.iprobe`). */
  static iprobe(comm: MatchedProber, source?: number, tag?: number, status?: Status): Message | null {
    return comm.Improbe(source, tag, status);
  }
}

/** A communicator, as far as {@link Message.Probe} needs it. */
export interface MatchedProber {
  Mprobe(source?: number, tag?: number, status?: Status): Promise<Message>;
  Improbe(source?: number, tag?: number, status?: Status): Message | null;
}

/** The null message (`MPI_MESSAGE_NULL`): what a message becomes once received; receiving it is an error. */
export const MESSAGE_NULL: Message = new Message();
/** The message of probing `PROC_NULL` (`MPI_MESSAGE_NO_PROC`): its receive completes at once with an empty status (source `PROC_NULL`). */
export const MESSAGE_NO_PROC: Message = Message._noProc(true);
