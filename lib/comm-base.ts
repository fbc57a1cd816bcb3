/**
 * `CommBase`: what every communicator is (`MPI_Comm` without its operations): the runtime, the
 * context id, this rank, the members' world ranks, the name, `free` and `abort`, and the
 * attributes mpi4py's `Comm` has (`rank`, `size`, `group`, `name`, `topology`, `is_inter`, ...).
 *
 * `Comm` is one class to its users and to TypeDoc, built as a chain, one file per MPI chapter:
 * `CommBase` (here) → `CommP2P` (`comm-p2p.ts`, point-to-point) → `CommCollectives`
 * (`comm-collectives.ts`, blocking and nonblocking collectives) → `CommPersistent`
 * (`comm-persistent.ts`, persistent requests) → `CommTopology` (`comm-topology.ts`, the topology
 * constructors) → `Comm` (`comm.ts`, making and comparing communicators). Why a chain: each
 * chapter's methods stay methods of `Comm` (so `instanceof Comm`, `this`-typed results and the
 * subclasses' `override`s are unchanged), each file keeps its own state private (`#` fields),
 * and what a chapter needs of the ones below is a few `protected` `@internal` members. The
 * intermediate classes are not exported from `tsmpi`; `scripts/docs.mjs` documents their members
 * as `Comm`'s own, so the API docs read as before. Mixins (class factories) cannot keep private or
 * protected members through the `.d.ts` emit (TS4094) and document as anonymous classes;
 * delegating to plain functions would leave every method's signature and TSDoc in `comm.ts`, as
 * long as before.
 *
 * Attributes: `Get_attr` reads MPI's predefined attributes of `COMM_WORLD` (`TAG_UB`, `APPNUM`, `UNIVERSE_SIZE`),
 * which `dup` copies (as Open MPI's `MPI_Comm_dup` does) and other constructors do not.
 *
 * Not supported yet: error handlers (`Set_errhandler`: an error always throws or rejects),
 * attribute caching of the user's own keys (`Create_keyval`, `Set_attr`, `Delete_attr`),
 * `Get_info`/`Set_info`.
 *
 * @module
 */
import { APPNUM, TAG_UB, UNDEFINED, UNIVERSE_SIZE, type IN_PLACE } from "./constants.js";
import type { DeviceArray } from "./gpu/device-array.js";
import { TsmpiError, describeValue } from "./errors.js";
import { Group } from "./group.js";
import { deriveContext, SELF_CONTEXT, WORLD_CONTEXT, type Runtime } from "./job/runtime.js";
import { universeSize } from "./job/spawn.js";
import type { TypedArray, TypedArrayConstructor } from "./serializer.js";

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
export type WBufferArg = [
  ArrayBufferView | ArrayBuffer,
  readonly number[],
  readonly number[],
  TypedArrayConstructor | readonly TypedArrayConstructor[],
];

/** The keys of MPI's predefined attributes {@link CommBase.Get_attr} knows, with their names (for messages). */
const KEYVALS: ReadonlyMap<number, string> = new Map([
  [TAG_UB, "TAG_UB"],
  [APPNUM, "APPNUM"],
  [UNIVERSE_SIZE, "UNIVERSE_SIZE"],
]);

/** The attributes MPI caches on `COMM_WORLD`, by key. */
function worldAttributes(rt: Runtime): ReadonlyMap<number, number> {
  return new Map([
    [TAG_UB, TAG_UB],
    [APPNUM, rt.appnum],
    [UNIVERSE_SIZE, universeSize()],
  ]);
}

/** @internal What a communicator is made of: the runtime, its context id, this rank, the members' world ranks. */
export interface CommInit {
  readonly rt: Runtime;
  readonly ctx: number;
  readonly rank: number;
  readonly group: readonly number[];
}

/** @internal The state and attributes of a communicator; `Comm` is the class users see (see the module header). */
export abstract class CommBase {
  readonly #rt: Runtime;
  readonly #ctx: number;
  readonly #rank: number;
  readonly #size: number;
  readonly #group: readonly number[];
  /** World rank of each rank point-to-point calls name: `#group`, or an intercommunicator's remote group. */
  readonly #peers: readonly number[];
  #freed = false;
  #name: string;
  /** Communicators derived (dup/split) so far: part of their context id. */
  #deriveSeq = 0;
  /** MPI's predefined attributes: `COMM_WORLD`'s and its duplicates'; none elsewhere. */
  #attrs: ReadonlyMap<number, number> | null;

  /** @internal Communicators come from `COMM_WORLD`, `COMM_SELF` and the constructors (`dup()`, `split()`, `Create`, ...). */
  constructor(rt: Runtime, ctx: number, rank: number, group: readonly number[], name = "", remote?: readonly number[]) {
    this.#rt = rt;
    this.#ctx = ctx;
    this.#rank = rank;
    this.#size = group.length;
    this.#group = group;
    this.#name = name;
    this.#peers = remote ?? group;
    this.#attrs = ctx === WORLD_CONTEXT ? worldAttributes(rt) : null;
  }

  /** @internal What this communicator is made of, for a subclass wrapping a new one. */
  protected static _init(comm: CommBase): CommInit {
    return { rt: comm.#rt, ctx: comm.#ctx, rank: comm.#rank, group: comm.#group };
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

  /**
   * The value of the attribute `keyval` (`MPI_Comm_get_attr`), or `null` where this communicator
   * has none. MPI's predefined attributes are on `COMM_WORLD` and its duplicates (`dup`, `Clone`,
   * `Idup`): `TAG_UB` gives the largest tag, `APPNUM` the part of an MPMD command line
   * (`tsmpirun -n 1 a.ts : -n 4 b.js`) this rank runs, from 0.
   * @throws TsmpiError `ERR_TSMPI_ARG` for a key that is not one of them.
   * @example
   * ```ts
   * const part = COMM_WORLD.Get_attr(APPNUM); // 0 for a.ts's rank, 1 for b.js's
   * ```
   */
  Get_attr(keyval: number): number | null {
    this.#usable("Get_attr");
    if (!KEYVALS.has(keyval)) {
      throw new TsmpiError(
        "ERR_TSMPI_ARG",
        `keyval must be one of ${[...KEYVALS.values()].join(", ")} (keys of one's own are not supported yet), got ${describeValue(keyval)}`,
      );
    }
    return this.#attrs?.get(keyval) ?? null;
  }

  /** @internal Gives `to` this communicator's attributes, as `MPI_Comm_dup` does. */
  protected _copyAttrs(to: CommBase): void {
    to.#attrs = this.#attrs;
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

  // The state the chapters above need, read-only: the sequence counters move only through
  // these methods, so every constructor and collective numbers its calls the one way.

  /** @internal Rejects calls on a freed communicator or after the job ended (`ERR_TSMPI_COMM`, ...). */
  protected _usable(what: string): void {
    this.#usable(what);
  }

  /** @internal The runtime this communicator's messages go through. */
  protected get _rt(): Runtime {
    return this.#rt;
  }

  /** @internal World rank of each rank point-to-point calls name: `worldRanks`, or an intercommunicator's remote group (the same array when not an intercommunicator). */
  protected get _peers(): readonly number[] {
    return this.#peers;
  }

  /** @internal The sequence number of the next communicator derived from this one (dup, split, ...): part of its context id. */
  protected _nextDerive(): number {
    return ++this.#deriveSeq;
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
    return {
      rt: this.#rt,
      ctx: deriveContext(this.#ctx, seq, color),
      rank: members.indexOf(this.#rank),
      group: members.map((r) => this.#group[r]!),
    };
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
