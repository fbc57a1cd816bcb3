/**
 * `Comm`: a communicator (`MPI_Comm`) and its public API, as in mpi4py: lowercase methods move
 * any value msgpackr can carry; Capitalized methods move typed arrays without serializing,
 * into the caller's arrays. Every blocking MPI call is an `async` method: blocking means
 * `await`. Methods validate their arguments and delegate to the point-to-point layer or to the
 * collective algorithms; `PROC_NULL` is a valid peer everywhere and moves nothing. Capitalized
 * methods also take DeviceArrays, staged through host memory by `device-staging.ts`.
 *
 * Communicators are made by `dup`/`Clone`/`Idup`, `split`, `Split_type`, `Create` and
 * `Create_group` (from a {@link Group}), and the topology constructors `Create_cart`,
 * `Create_graph`, `Create_dist_graph_adjacent` and `Create_dist_graph`, whose classes live in
 * `topology/` (they extend `Comm`, so they register themselves here instead of being imported).
 * `Create_intercomm` makes an {@link Intercomm} (`intercomm.ts`, registered the same way): its
 * point-to-point calls are these, addressed to the remote group.
 *
 * Nonblocking collectives (`Ibcast`, ..., `ibcast`, ...) and persistent requests (`Send_init`,
 * ..., `Bcast_init`, ..., see `prequest.ts`) are grouped at the end of the class.
 *
 * Not supported yet: matched probes (`mprobe`/`improbe`), buffered (`bsend`) and ready
 * (`rsend`) sends (the persistent `Bsend_init`/`Rsend_init` exist, see `prequest.ts`),
 * `Split_type` kinds other than
 * `COMM_TYPE_SHARED`, `Create_from_group` (sessions), one-sided communication, derived datatypes.
 *
 * Size: over 500 lines because every chapter added its methods to the one class (construction,
 * point-to-point, blocking, nonblocking and persistent collectives); it is to be split by chapter
 * with the layout work of issue 18, the class staying a façade over one file per chapter.
 *
 * @module
 */
import * as coll from "./collectives/api.js";
import { CollectiveChannel } from "./collectives/channel.js";
import { ANY_SOURCE, ANY_TAG, COMM_TYPE_SHARED, CONGRUENT, IDENT, IN_PLACE, PROC_NULL, SIMILAR, UNDEFINED, UNEQUAL, UNWEIGHTED, WEIGHTS_EMPTY } from "./constants.js";
import type { DeviceArray } from "./gpu/device-array.js";
import { isDeviceArray } from "./gpu/device-array.js";
import { Staging, hostSendBuffer, stagedCollective, type StagedCollective } from "./gpu/device-staging.js";
import { TsmpiError, describeValue } from "./errors.js";
import { Group, checkGroup } from "./group.js";
import type { InMsg } from "./p2p/matching.js";
import type { Cartcomm } from "./topology/cartcomm.js";
import type { Distgraphcomm } from "./topology/distgraphcomm.js";
import type { Graphcomm } from "./topology/graphcomm.js";
import type { Intercomm } from "./intercomm.js";
import type { OutPayload } from "./p2p/protocol.js";
import { messageCount, readInto, readObject } from "./p2p/receive.js";
import { Prequest, promiseRound, recvRound, requestRound, sendRound, type Endpoint, type SendMode } from "./prequest.js";
import { Request, type Completion } from "./request.js";
import { Alltoallw as alltoallw } from "./collectives/alltoallw.js";
import { Op } from "./op.js";
import { deriveContext, SELF_CONTEXT, WORLD_CONTEXT, type Runtime } from "./job/runtime.js";
import { allocateKind, bytesOf, isTypedArray, kindCode, packObject, type TypedArray, type TypedArrayConstructor } from "./serializer.js";
import { Status } from "./status.js";
import { checkBuffer, checkDest, checkRecvTag, checkRoot, checkSendTag, checkSource } from "./validate.js";

/**
 * A buffer-tier argument: a typed array or a {@link DeviceArray} (staged through host memory, see
 * `device-staging.ts`), or `[array, count]` to use its first `count` elements.
 */
export type BufferArg = TypedArray | DeviceArray | [TypedArray | DeviceArray, number];
/** A buffer-tier send argument of a reduction or gather: a buffer, or `IN_PLACE`. */
export type SendBufferArg = BufferArg | typeof IN_PLACE;
/** A v-variant argument: `[array, counts]` or `[array, counts, displs]`, one entry per rank; the array a typed array or a DeviceArray. */
export type VBufferArg = [TypedArray | DeviceArray, number[]] | [TypedArray | DeviceArray, number[], number[]];
/**
 * An `Alltoallw` argument, mpi4py's `[buf, counts, displs, types]`: block i is `counts[i]`
 * elements of `types[i]` at byte `displs[i]` of `buf`; a typed-array constructor stands for a
 * datatype (one may stand for all ranks).
 */
export type WBufferArg = [ArrayBufferView | ArrayBuffer, readonly number[], readonly number[], TypedArrayConstructor | readonly TypedArrayConstructor[]];

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

/** @internal What a communicator is made of: the runtime, its context id, this rank, the members' world ranks. */
export interface CommInit {
  readonly rt: Runtime;
  readonly ctx: number;
  readonly rank: number;
  readonly group: readonly number[];
}

/** An edge-weights argument of the distributed-graph constructors. */
export type Weights = readonly number[] | typeof UNWEIGHTED | typeof WEIGHTS_EMPTY | null;

/** @internal A distributed graph's edges at one rank, as `Create_dist_graph*` computed them. */
export interface DistGraphEdges {
  sources: number[];
  destinations: number[];
  /** `[sourceweights, destweights]`, or null when unweighted. */
  weights: [number[], number[]] | null;
}

/**
 * @internal The topology communicators' constructors. `topology/*.ts` extend `Comm` and so
 * import this module; they fill this table when loaded (`index.ts` loads them).
 */
export const topologies: {
  cart?: (init: CommInit, dims: number[], periods: boolean[]) => Comm;
  graph?: (init: CommInit, index: number[], edges: number[]) => Comm;
  distGraph?: (init: CommInit, edges: DistGraphEdges) => Comm;
} = {};

/**
 * @internal The intercommunicator constructor behind `Create_intercomm`: `intercomm.ts` extends
 * `Comm` and fills this when loaded (`index.ts` loads it). `init` is a fresh context of the
 * local group, agreed by its ranks.
 */
export const intercomms: {
  create?: (local: Comm, init: CommInit, localLeader: number, peerComm: Comm, remoteLeader: number, tag: number) => Promise<Intercomm>;
} = {};

/** A registered topology constructor (a missing one is a packaging bug). */
function topologyOf<K extends keyof typeof topologies>(kind: K): NonNullable<(typeof topologies)[K]> {
  const make = topologies[kind];
  if (!make) throw new TsmpiError("ERR_TSMPI_INTERNAL", `the ${kind} topology is not loaded (import tsmpi, not lib/comm.js)`);
  return make;
}

/** A list of non-negative integers (dims, index, degrees). */
function checkInts(value: unknown, name: string, min = 0, max = Infinity): number[] {
  if (!Array.isArray(value)) throw new TsmpiError("ERR_TSMPI_ARG", `${name} must be an array of integers, got ${describeValue(value)}`);
  value.forEach((v, i) => {
    if (!Number.isInteger(v) || v < min || v > max) {
      throw new TsmpiError("ERR_TSMPI_ARG", `${name}[${i}] must be an integer in [${min}, ${max === Infinity ? "∞" : max}${max === Infinity ? ")" : "]"}, got ${describeValue(v)}`);
    }
  });
  return [...(value as number[])];
}

/** A weights argument for `n` edges: null when unweighted. */
function checkWeights(value: unknown, n: number, name: string): number[] | null {
  if (value === null || value === undefined || value === UNWEIGHTED) return null;
  if (value === WEIGHTS_EMPTY) {
    if (n !== 0) throw new TsmpiError("ERR_TSMPI_ARG", `${name} may be WEIGHTS_EMPTY only with no edges, got ${n} edges`);
    return [];
  }
  const w = checkInts(value, name);
  if (w.length !== n) throw new TsmpiError("ERR_TSMPI_ARG", `${name} must have one weight per edge (${n}), got ${w.length}`);
  return w;
}

/** @internal A 32-bit FNV-1a hash of integers, for context ids keyed by a member list (also `intercomm.ts`). */
export function hashInts(values: readonly number[]): number {
  let h = 0x811c9dc5;
  for (const v of values) {
    h = Math.imul(h ^ (v >>> 0), 0x01000193);
    h ^= h >>> 15;
  }
  return h >>> 0;
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
  /** World rank of each rank point-to-point calls name: `#group`, or an intercommunicator's remote group. */
  readonly #peers: readonly number[];
  #freed = false;
  #name: string;
  /** `Create_group` calls so far, by tag and members: part of their context id. */
  readonly #groupSeq = new Map<string, number>();
  /** Collective calls issued so far: the next call's sequence number (its tag). */
  #collSeq = 0;
  /** Communicators derived (dup/split) so far: part of their context id. */
  #deriveSeq = 0;

  /** @internal Communicators come from `COMM_WORLD`, `COMM_SELF` and the constructors (`dup()`, `split()`, `Create`, ...). */
  constructor(rt: Runtime, ctx: number, rank: number, group: readonly number[], name = "", remote?: readonly number[]) {
    this.#rt = rt;
    this.#ctx = ctx;
    this.#rank = rank;
    this.#size = group.length;
    this.#group = group;
    this.#name = name;
    this.#peers = remote ?? group;
  }

  /** @internal What this communicator is made of, for a subclass wrapping a new one. */
  protected static _init(comm: Comm): CommInit {
    return { rt: comm.#rt, ctx: comm.#ctx, rank: comm.#rank, group: comm.#group };
  }

  /** @internal A new communicator of this one's class (and topology) from `init`; `dup` and `Clone` use it. */
  protected _like(init: CommInit): Comm {
    return new Comm(init.rt, init.ctx, init.rank, init.group);
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
  get worldRanks(): readonly number[] {
    return this.#group;
  }

  /** The group of this communicator's ranks (`MPI_Comm_group`), a new {@link Group} each time. */
  get group(): Group {
    return this.Get_group();
  }

  /** mpi4py spelling of {@link group}. */
  Get_group(): Group {
    this.#usable("Get_group");
    return new Group(this.#group, this.#rt);
  }

  /** This communicator's name (`MPI_Comm_get_name`): `MPI_COMM_WORLD`, `MPI_COMM_SELF`, `""` for a new one, or what {@link Set_name} set. */
  Get_name(): string {
    return this.#name;
  }

  /**
   * Names this communicator (`MPI_Comm_set_name`), for the user's messages; local to this rank.
   * @throws TsmpiError `ERR_TSMPI_ARG` when `name` is not a string.
   */
  Set_name(name: string): void {
    if (typeof name !== "string") throw new TsmpiError("ERR_TSMPI_ARG", `name must be a string, got ${describeValue(name)}`);
    this.#name = name;
  }

  /** The name: {@link Get_name} / {@link Set_name}. */
  get name(): string {
    return this.Get_name();
  }

  set name(value: string) {
    this.Set_name(value);
  }

  /** The topology (`MPI_Topo_test`): `CART`, `GRAPH`, `DIST_GRAPH`, or `UNDEFINED` for none. */
  Get_topology(): number {
    return UNDEFINED;
  }

  /** {@link Get_topology} as a property. */
  get topology(): number {
    return this.Get_topology();
  }

  /** Whether this communicator has a topology. */
  get is_topo(): boolean {
    return this.Get_topology() !== UNDEFINED;
  }

  /** Whether this is an intercommunicator ({@link Intercomm}). */
  Is_inter(): boolean {
    return false;
  }

  /** Whether this is an intracommunicator (not an {@link Intercomm}). */
  Is_intra(): boolean {
    return true;
  }

  /** {@link Is_inter} as a property. */
  get is_inter(): boolean {
    return this.Is_inter();
  }

  /** {@link Is_intra} as a property. */
  get is_intra(): boolean {
    return this.Is_intra();
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
    checkDest(dest, this.#peers.length);
    checkSendTag(tag);
    if (dest === PROC_NULL) return Request.completed(undefined);
    const req = new Request<void>();
    this.#rt.p2p.send(this.#ctx, this.#rank, this.#peers[dest]!, tag, payload(), sync, () => req._complete(undefined));
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
    checkSource(source, this.#peers.length);
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
    checkSource(source, this.#peers.length);
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
    checkSource(source, this.#peers.length);
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
  /** @internal {@link #collective} for the neighbour collectives of `topology/topocomm.ts`. */
  protected _collective<T>(name: string, body: (ch: CollectiveChannel) => Promise<unknown>): Promise<T> {
    return this.#collective(name, body);
  }

  #collective<T>(name: string, body: (ch: CollectiveChannel) => Promise<unknown>): Promise<T> {
    try {
      this.#usable(name);
      if (this.#peers !== this.#group) throw new TsmpiError("ERR_TSMPI_COMM", `${name} is not supported on an intercommunicator yet`);
    } catch (err) {
      return Promise.reject(err);
    }
    return this.#collectiveAt(this.#collSeq++, name, body);
  }

  /** {@link #collective} with sequence number `seq` taken earlier (persistent collectives take theirs at init). */
  #collectiveAt<T>(seq: number, name: string, body: (ch: CollectiveChannel) => Promise<unknown>): Promise<T> {
    const ch = new CollectiveChannel(this.#rt.p2p, this.#ctx + 1, this.#rank, this.#group, seq, name);
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

  // ------------------------------------------------------- communicators

  /**
   * A new communicator with the same ranks and a private message space (`MPI_Comm_dup`): its
   * messages never match this one's. A topology communicator's dup has its topology. Every rank
   * must call it in the same order; no messages are exchanged, so it returns at once.
   */
  dup(): this {
    this.#usable("dup");
    return this._like({ rt: this.#rt, ctx: deriveContext(this.#ctx, ++this.#deriveSeq, 0), rank: this.#rank, group: this.#group }) as this;
  }

  /** Alias of {@link dup} (mpi4py's `Dup(info=None)`; hints are ignored). */
  Dup(info?: unknown): this {
    void info;
    return this.dup();
  }

  /** Alias of {@link dup} (mpi4py's `Clone`: a duplicate of the same class). */
  Clone(): this {
    return this.dup();
  }

  /**
   * Nonblocking {@link dup} (`MPI_Comm_idup`), mpi4py's shape: `[comm, request]`. The new
   * communicator may be used once the request completes (here: at once, as no messages are needed).
   */
  Idup(info?: unknown): [this, Request<void>] {
    void info;
    return [this.dup(), Request.completed(undefined)];
  }

  /**
   * @internal A new communicator of the ranks whose `colorOf(rank)` equals this rank's, in rank
   * order, made without messages (every rank computes the same colors); `null` where the color
   * is `UNDEFINED`. Collective: every rank calls it, in the same order as the other constructors.
   */
  protected _derive(colorOf: (rank: number) => number): CommInit | null {
    this.#usable("derive");
    const seq = ++this.#deriveSeq;
    const color = colorOf(this.#rank);
    if (color === UNDEFINED) return null;
    const members: number[] = [];
    for (let r = 0; r < this.#size; r++) if (colorOf(r) === color) members.push(r);
    return { rt: this.#rt, ctx: deriveContext(this.#ctx, seq, color), rank: members.indexOf(this.#rank), group: members.map((r) => this.#group[r]!) };
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
    const all = await this.allgather<[number, number]>([color, key]);
    all.forEach(([c, k], r) => {
      if (!(Number.isInteger(c) && (c >= 0 || c === UNDEFINED))) {
        throw new TsmpiError("ERR_TSMPI_ARG", `color must be a non-negative integer or UNDEFINED, got ${describeValue(c)} on rank ${r}`);
      }
      if (!Number.isInteger(k)) throw new TsmpiError("ERR_TSMPI_ARG", `key must be an integer, got ${describeValue(k)} on rank ${r}`);
    });
    return this.#byColor(seq, all.map(([c]) => c), all.map(([, k]) => k));
  }

  /** The communicator of the ranks with this rank's color, ordered by key, then rank (`null` for `UNDEFINED`). */
  #byColor(seq: number, colors: readonly number[], keys: readonly number[]): Comm | null {
    const color = colors[this.#rank]!;
    if (color === UNDEFINED) return null;
    const members = colors
      .map((c, r) => ({ c, k: keys[r]!, r }))
      .filter((m) => m.c === color)
      .sort((a, b) => a.k - b.k || a.r - b.r);
    const group = members.map((m) => this.#group[m.r]!);
    return new Comm(this.#rt, deriveContext(this.#ctx, seq, color), members.findIndex((m) => m.r === this.#rank), group);
  }

  /** Alias of {@link split}. */
  Split(color = 0, key = 0): Promise<Comm | null> {
    return this.split(color, key);
  }

  /**
   * Splits by kind (`MPI_Comm_split_type`): with `COMM_TYPE_SHARED`, one communicator per host,
   * of the ranks that share this host's memory, ordered by `key`, then by rank here. A rank
   * passing `UNDEFINED` gets `null` (`COMM_NULL`). Collective.
   * @param info hints (ignored).
   * @throws TsmpiError `ERR_TSMPI_ARG` for a kind other than `COMM_TYPE_SHARED` or `UNDEFINED` (on every rank), or a key that is not an integer.
   *
   * @example
   * ```ts
   * const node = await comm.Split_type(COMM_TYPE_SHARED);
   * console.log(`rank ${comm.rank} is rank ${node!.rank} of ${node!.size} on its host`);
   * ```
   */
  async Split_type(split_type: number, key = 0, info?: unknown): Promise<Comm | null> {
    void info;
    this.#usable("Split_type");
    const seq = ++this.#deriveSeq;
    const all = await this.allgather<[number, number]>([split_type, key]);
    all.forEach(([t, k], r) => {
      if (t !== COMM_TYPE_SHARED && t !== UNDEFINED) {
        throw new TsmpiError("ERR_TSMPI_ARG", `split_type must be COMM_TYPE_SHARED or UNDEFINED, got ${describeValue(t)} on rank ${r}`);
      }
      if (!Number.isInteger(k)) throw new TsmpiError("ERR_TSMPI_ARG", `key must be an integer, got ${describeValue(k)} on rank ${r}`);
    });
    // a host's color: the world rank of its first rank (hosts are named alike by all ranks)
    const hosts = this.#rt.hosts;
    const colors = all.map(([t], r) => (t === UNDEFINED ? UNDEFINED : hosts.indexOf(hosts[this.#group[r]!] ?? "")));
    return this.#byColor(seq, colors, all.map(([, k]) => k));
  }

  /**
   * A communicator of the members of `group`, in the group's order (`MPI_Comm_create`);
   * ranks not in it get `null` (`COMM_NULL`). Collective over this communicator: every rank
   * passes the same group, or (as MPI allows) disjoint groups, each rank one it is in or any
   * group it is not in. No messages are exchanged. (On an {@link Intercomm}: a promise, see
   * `Intercomm.Create`.)
   * @throws TsmpiError `ERR_TSMPI_ARG` when `group` has a process outside this communicator.
   */
  Create(group: Group): Comm | null {
    this.#usable("Create");
    const members = this.#members(group);
    const seq = ++this.#deriveSeq;
    const me = members.indexOf(this.#rt.rank);
    if (me < 0) return null;
    // disjoint groups have distinct first members: their contexts differ
    return new Comm(this.#rt, deriveContext(this.#ctx, seq, members[0]!), me, members);
  }

  /**
   * A communicator of the members of `group`, in the group's order (`MPI_Comm_create_group`):
   * collective over the group's members only; `tag` tells apart concurrent calls with one group.
   * No messages are exchanged.
   * @throws TsmpiError `ERR_TSMPI_ARG` when this process is not in `group` or `group` has a process outside this communicator; `ERR_TSMPI_TAG`.
   */
  Create_group(group: Group, tag = 0): Comm {
    this.#usable("Create_group");
    checkSendTag(tag);
    const members = this.#members(group);
    const me = members.indexOf(this.#rt.rank);
    if (me < 0) throw new TsmpiError("ERR_TSMPI_ARG", `Create_group: rank ${this.#rank} is not in the group (only its members call it)`);
    // Not the dup/split sequence: ranks outside the group do not call this. Members call it in
    // one order per (tag, group), so a count per (tag, group) agrees among them.
    const key = `${tag}:${members.join(",")}`;
    const n = (this.#groupSeq.get(key) ?? 0) + 1;
    this.#groupSeq.set(key, n);
    const ctx = deriveContext(deriveContext(this.#ctx, -n, tag), members.length, hashInts(members));
    return new Comm(this.#rt, ctx, me, members);
  }

  /**
   * An intercommunicator between this communicator's group and another, disjoint one
   * (`MPI_Intercomm_create`). Collective over this communicator; `local_leader` (a rank here,
   * the same on every rank) and `remote_leader` (the other group's leader's rank in `peer_comm`,
   * read on the leader only) exchange what the groups need over `peer_comm` with `tag`.
   * @throws TsmpiError `ERR_TSMPI_ROOT` for a leader out of range, `ERR_TSMPI_TAG`, `ERR_TSMPI_ARG`
   *   when the groups overlap (on every rank of the group).
   *
   * @example
   * ```ts
   * const color = comm.rank % 2;
   * const half = (await comm.split(color))!;
   * const inter = await half.Create_intercomm(0, comm, color === 0 ? 1 : 0);
   * await inter.send(`hello from group ${color}`, 0);   // to rank 0 of the other group
   * ```
   */
  Create_intercomm(local_leader: number, peer_comm: Comm, remote_leader: number, tag = 0): Promise<Intercomm> {
    try {
      this.#usable("Create_intercomm");
      checkRoot(local_leader, this.#size, "local_leader");
      const make = intercomms.create;
      if (!make) throw new TsmpiError("ERR_TSMPI_INTERNAL", "intercommunicators are not loaded (import tsmpi, not lib/comm.js)");
      return make(this, this._derive(() => 0)!, local_leader, peer_comm, remote_leader, tag);
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /** The world ranks of `group`, checked to be members of this communicator. */
  #members(group: Group): readonly number[] {
    const members = checkGroup(group, "group").worldRanks;
    const mine = new Set(this.#group);
    const stray = members.find((w) => !mine.has(w));
    if (stray !== undefined) throw new TsmpiError("ERR_TSMPI_ARG", `group must be a subgroup of the communicator's group: world rank ${stray} is not in it`);
    return members;
  }

  // ------------------------------------------------------------ topologies

  /** `periods` as mpi4py takes it: null (none periodic), one boolean for all, or one per dimension. */
  #periods(periods: readonly boolean[] | boolean | null | undefined, ndims: number): boolean[] {
    if (periods === null || periods === undefined) return new Array<boolean>(ndims).fill(false);
    if (typeof periods === "boolean") return new Array<boolean>(ndims).fill(periods);
    if (!Array.isArray(periods) || periods.length !== ndims) {
      throw new TsmpiError("ERR_TSMPI_ARG", `periods must be a boolean or an array of ${ndims} booleans (one per dimension), got ${describeValue(periods)}`);
    }
    return periods.map((p) => Boolean(p));
  }

  #cartSize(dims: unknown): number[] {
    const d = checkInts(dims, "dims", 1);
    const n = d.reduce((a, b) => a * b, 1);
    if (n > this.#size) throw new TsmpiError("ERR_TSMPI_ARG", `dims ${describeValue(d)} need ${n} ranks, more than the communicator's ${this.#size}`);
    return d;
  }

  /**
   * A Cartesian grid of `dims` over the first prod(dims) ranks (`MPI_Cart_create`), in row-major
   * order (the last dimension varies fastest); ranks beyond the grid get `null`. `reorder` is
   * accepted and ignored: rank r here is rank r in the grid. Collective; no messages.
   * @param periods whether each dimension wraps around: null (none), a boolean for all, or one per dimension.
   * @throws TsmpiError `ERR_TSMPI_ARG` for dims that are not positive integers or need more ranks than this communicator has, or periods of another length.
   *
   * @example
   * ```ts
   * const cart = comm.Create_cart(Compute_dims(comm.size, 2), [false, false])!;
   * const [left, right] = cart.Shift(1, 1);   // PROC_NULL at the borders
   * ```
   */
  Create_cart(dims: readonly number[], periods: readonly boolean[] | boolean | null = null, reorder = false): Cartcomm | null {
    void reorder;
    this.#usable("Create_cart");
    const d = this.#cartSize(dims);
    const p = this.#periods(periods, d.length);
    const n = d.reduce((a, b) => a * b, 1);
    const init = this._derive((r) => (r < n ? 0 : UNDEFINED));
    return init && (topologyOf("cart")(init, d, p) as Cartcomm);
  }

  /**
   * The rank this process would have in `Create_cart(dims, periods)` (`MPI_Cart_map`): its rank
   * here when inside the grid, else `UNDEFINED`.
   */
  Cart_map(dims: readonly number[], periods: readonly boolean[] | boolean | null = null): number {
    const d = this.#cartSize(dims);
    this.#periods(periods, d.length);
    return this.#rank < d.reduce((a, b) => a * b, 1) ? this.#rank : UNDEFINED;
  }

  /** `index` and `edges` checked; mpi4py's extension: an `index` starting with 0 (CSR style) is accepted too. */
  #graphArgs(index: unknown, edges: unknown): { index: number[]; edges: number[] } {
    let ix = checkInts(index, "index");
    const ed = checkInts(edges, "edges");
    if (ix.length > 0 && ix[0] === 0 && ix[ix.length - 1] === ed.length) ix = ix.slice(1);
    if (ix.length > this.#size) throw new TsmpiError("ERR_TSMPI_ARG", `the graph has ${ix.length} nodes, more than the communicator's ${this.#size} ranks`);
    ix.forEach((v, i) => {
      if (v < (i > 0 ? ix[i - 1]! : 0) || v > ed.length) throw new TsmpiError("ERR_TSMPI_ARG", `index must be non-decreasing and at most the number of edges (${ed.length}), got ${describeValue(index)}`);
    });
    if ((ix.length > 0 ? ix[ix.length - 1]! : 0) !== ed.length) {
      throw new TsmpiError("ERR_TSMPI_ARG", `index's last entry must be the number of edges (${ed.length}), got ${describeValue(index)}`);
    }
    ed.forEach((e, i) => {
      if (e >= ix.length) throw new TsmpiError("ERR_TSMPI_RANK", `edges[${i}] must be a node in [0, ${ix.length}), got ${e}`);
    });
    return { index: ix, edges: ed };
  }

  /**
   * A graph topology over the first `index.length` ranks (`MPI_Graph_create`): node i's
   * neighbours are `edges[index[i-1]:index[i]]` (`index` cumulative, as MPI; one starting with 0
   * is accepted too, as mpi4py). Ranks beyond the graph get `null`; `reorder` is ignored.
   * Collective; no messages.
   * @throws TsmpiError `ERR_TSMPI_ARG` for an inconsistent index or more nodes than ranks, `ERR_TSMPI_RANK` for an edge to no node.
   */
  Create_graph(index: readonly number[], edges: readonly number[], reorder = false): Graphcomm | null {
    void reorder;
    this.#usable("Create_graph");
    const g = this.#graphArgs(index, edges);
    const init = this._derive((r) => (r < g.index.length ? 0 : UNDEFINED));
    return init && (topologyOf("graph")(init, g.index, g.edges) as Graphcomm);
  }

  /** The rank this process would have in `Create_graph(index, edges)` (`MPI_Graph_map`), or `UNDEFINED`. */
  Graph_map(index: readonly number[], edges: readonly number[]): number {
    const g = this.#graphArgs(index, edges);
    return this.#rank < g.index.length ? this.#rank : UNDEFINED;
  }

  /**
   * A distributed graph where each rank names its own neighbours (`MPI_Dist_graph_create_adjacent`):
   * it receives from `sources` and sends to `destinations` (null: none). Weights: an array per
   * edge, null or `UNWEIGHTED` for none, `WEIGHTS_EMPTY` for weighted with no edges. Every rank
   * of this communicator is in it; `reorder` and `info` are ignored. Collective; no messages.
   * @throws TsmpiError `ERR_TSMPI_RANK` for a neighbour outside `[0, size)`, `ERR_TSMPI_ARG` for weights of the wrong length.
   */
  Create_dist_graph_adjacent(
    sources: readonly number[] | null,
    destinations: readonly number[] | null,
    sourceweights: Weights = null,
    destweights: Weights = null,
    info: unknown = null,
    reorder = false,
  ): Distgraphcomm {
    void info, reorder;
    this.#usable("Create_dist_graph_adjacent");
    const src = this.#neighbors(sources ?? [], "sources");
    const dst = this.#neighbors(destinations ?? [], "destinations");
    const sw = checkWeights(sourceweights, src.length, "sourceweights");
    const dw = checkWeights(destweights, dst.length, "destweights");
    const weights: [number[], number[]] | null = sw || dw ? [sw ?? src.map(() => 1), dw ?? dst.map(() => 1)] : null;
    const init = this._derive(() => 0)!;
    return topologyOf("distGraph")(init, { sources: src, destinations: dst, weights }) as Distgraphcomm;
  }

  /**
   * A distributed graph where any rank may name any edge (`MPI_Dist_graph_create`): for each
   * i, the edges `sources[i] → destinations[...]` (`degrees[i]` of them, consecutive). The
   * ranks exchange their edges, so each learns its own; a rank's neighbours are listed in the
   * order of the rank that named the edge, then of its list. `reorder` and `info` are ignored.
   * Collective.
   * @throws TsmpiError `ERR_TSMPI_ARG` for inconsistent lengths or weights, `ERR_TSMPI_RANK` for a rank outside `[0, size)` (on every rank).
   */
  async Create_dist_graph(
    sources: readonly number[],
    degrees: readonly number[],
    destinations: readonly number[],
    weights: Weights = null,
    info: unknown = null,
    reorder = false,
  ): Promise<Distgraphcomm> {
    void info, reorder;
    this.#usable("Create_dist_graph");
    let mine: number[][] = [];
    let weighted = false;
    let bad: TsmpiError | undefined;
    try {
      const src = this.#neighbors(sources, "sources");
      const deg = checkInts(degrees, "degrees");
      if (deg.length !== src.length) throw new TsmpiError("ERR_TSMPI_ARG", `degrees must have one entry per source (${src.length}), got ${deg.length}`);
      const total = deg.reduce((a, b) => a + b, 0);
      const dst = this.#neighbors(destinations, "destinations");
      if (dst.length !== total) throw new TsmpiError("ERR_TSMPI_ARG", `destinations must have sum(degrees) = ${total} entries, got ${dst.length}`);
      const w = checkWeights(weights, total, "weights");
      weighted = w !== null;
      let e = 0;
      src.forEach((s, i) => {
        for (let j = 0; j < deg[i]!; j++, e++) mine.push([s, dst[e]!, w ? w[e]! : 1]);
      });
    } catch (err) {
      // still take part, so the others fail alike instead of waiting
      bad = err as TsmpiError;
      mine = [];
    }
    const all = await this.allgather({ edges: mine, weighted, bad: bad ? bad.message : null });
    const failed = all.findIndex((a) => a.bad !== null);
    if (failed >= 0) throw bad ?? new TsmpiError("ERR_TSMPI_ARG", `Create_dist_graph: bad arguments on rank ${failed}: ${all[failed]!.bad}`);
    const edges: DistGraphEdges = { sources: [], destinations: [], weights: null };
    const sw: number[] = [];
    const dw: number[] = [];
    for (const { edges: list } of all) {
      for (const [s, d, w] of list) {
        if (d === this.#rank) (edges.sources.push(s!), sw.push(w!));
        if (s === this.#rank) (edges.destinations.push(d!), dw.push(w!));
      }
    }
    if (all.some((a) => a.weighted)) edges.weights = [sw, dw];
    const init = this._derive(() => 0)!;
    return topologyOf("distGraph")(init, edges) as Distgraphcomm;
  }

  /** A list of ranks of this communicator. */
  #neighbors(value: unknown, name: string): number[] {
    return checkInts(value, name).map((r, i) => {
      if (r >= this.#size) throw new TsmpiError("ERR_TSMPI_RANK", `${name}[${i}] must be a rank in [0, ${this.#size}), got ${r}`);
      return r;
    });
  }

  /**
   * Compares two communicators (`MPI_Comm_compare`): `IDENT` (the same), `CONGRUENT` (same ranks
   * in the same order), `SIMILAR` (same ranks, other order) or `UNEQUAL`.
   */
  compare(other: Comm): number {
    if (!(other instanceof Comm)) throw new TsmpiError("ERR_TSMPI_ARG", `other must be a Comm, got ${describeValue(other)}`);
    if (other === this) return IDENT;
    const a = this.#group;
    const b = other.worldRanks;
    if (a.length !== b.length) return UNEQUAL;
    if (a.every((w, i) => w === b[i])) return CONGRUENT;
    const set = new Set(a);
    return b.every((w) => set.has(w)) ? SIMILAR : UNEQUAL;
  }

  /** Alias of {@link compare}. */
  Compare(other: Comm): number {
    return this.compare(other);
  }

  /** `comm1.compare(comm2)`, as mpi4py's `Comm.Compare(comm1, comm2)`. */
  static Compare(comm1: Comm, comm2: Comm): number {
    if (!(comm1 instanceof Comm)) throw new TsmpiError("ERR_TSMPI_ARG", `comm1 must be a Comm, got ${describeValue(comm1)}`);
    return comm1.compare(comm2);
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

  // ---------------------------------------------------- persistent requests

  /** @internal What a persistent point-to-point request binds of this communicator. */
  #endpoint(): Endpoint {
    return { rt: this.#rt, ctx: this.#ctx, rank: this.#rank, group: this.#group, usable: (what) => this.#usable(what) };
  }

  #sendInit(buf: BufferArg, dest: number, tag: number, mode: SendMode, what: string): Prequest<void> {
    this.#usable(what);
    checkDest(dest, this.#size);
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
    this.#usable("Recv_init");
    checkSource(source, this.#size);
    checkRecvTag(tag);
    if (isDeviceArray(buf) || (Array.isArray(buf) && isDeviceArray(buf[0]))) return new Prequest<void>(requestRound(() => this.Irecv(buf, source, tag)));
    return new Prequest<void>(recvRound(this.#endpoint(), checkBuffer(buf, "buf"), source, tag));
  }

  /**
   * A persistent collective: takes its sequence number now (the init calls are matched in
   * issue order, as collectives), then each start runs `body` with that number.
   */
  #persistent(name: string, root: number | null, body: (ch: CollectiveChannel) => Promise<void>): Prequest<void> {
    this.#usable(`${name}_init`);
    if (root !== null) checkRoot(root, this.#size);
    const seq = this.#collSeq++;
    return new Prequest<void>(
      promiseRound(() => {
        this.#usable(name);
        return this.#collectiveAt<void>(seq, name, body);
      }),
    );
  }

  /** {@link #persistent} of a buffer-tier call, DeviceArrays among `bufs` staged at each start. */
  #persistentBuffers(name: StagedCollective, bufs: unknown[], root: number | null, body: (ch: CollectiveChannel, host: readonly unknown[]) => Promise<void>): Prequest<void> {
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
    return this.#persistentBuffers("Reduce_scatter_block", [sendbuf, recvbuf], null, (ch, [s, r]) => coll.Reduce_scatter_block(ch, s, r, op));
  }

  /** A persistent {@link Reduce_scatter} (`MPI_Reduce_scatter_init`). */
  Reduce_scatter_init(sendbuf: SendBufferArg, recvbuf: BufferArg, recvcounts: number[], op: Op = Op.SUM, info?: unknown): Prequest<void> {
    void info;
    return this.#persistentBuffers("Reduce_scatter", [sendbuf, recvbuf], null, (ch, [s, r]) => coll.Reduce_scatter(ch, s, r, recvcounts, op));
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
