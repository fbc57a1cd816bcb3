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
 * `topology/` (they extend `Comm`, so they register themselves in `comm-topology.ts` instead of
 * being imported).
 * `Create_intercomm` makes an {@link Intercomm} (`intercomm.ts`, registered the same way): its
 * point-to-point calls are these, addressed to the remote group.
 *
 * `Comm` is one class built as a chain, one file per MPI chapter (why: see `comm-base.ts`):
 * `comm-base.ts` (state, attributes, `free`, `abort`) → `comm-p2p.ts` (point-to-point) →
 * `comm-collectives.ts` (blocking and nonblocking collectives) → `comm-persistent.ts`
 * (persistent requests) → `comm-topology.ts` (topology constructors) → this file: making,
 * comparing communicators, the class users see. It re-exports the buffer argument types.
 *
 * Not supported yet: `Split_type` kinds other than `COMM_TYPE_SHARED`, `Create_from_group`
 * (sessions), one-sided communication, derived datatypes; and what each chapter's file lists.
 *
 * @module
 */
import type { CommInit } from "./comm-base.js";
import { CommTopology } from "./comm-topology.js";
import { COMM_TYPE_SHARED, CONGRUENT, IDENT, SIMILAR, UNDEFINED, UNEQUAL } from "./constants.js";
import { TsmpiError, describeValue } from "./errors.js";
import { type Group, checkGroup } from "./group.js";
import type { Intercomm } from "./intercomm.js";
import { deriveContext, type Runtime } from "./job/runtime.js";
import { Request } from "./request.js";
import { checkRoot, checkSendTag } from "./validate.js";

// The public argument types of the chapters' methods, exported by `index.ts` from here.
export type { BufferArg, SendBufferArg, VBufferArg, WBufferArg } from "./comm-base.js";
export type { Weights } from "./comm-topology.js";

/**
 * @internal The intercommunicator constructor behind `Create_intercomm`: `intercomm.ts` extends
 * `Comm` and fills this when loaded (`index.ts` loads it). `init` is a fresh context of the
 * local group, agreed by its ranks.
 */
export const intercomms: {
  create?: (local: Comm, init: CommInit, localLeader: number, peerComm: Comm, remoteLeader: number, tag: number) => Promise<Intercomm>;
} = {};

/** The arguments of `Spawn_multiple` as given (checked at the root by `spawn.ts`). */
export interface SpawnRequest {
  command: unknown;
  args: unknown;
  maxprocs: unknown;
  info: unknown;
  multiple: boolean;
  errcodes: unknown;
}

/**
 * @internal Spawning: `spawn.ts` fills `spawn` and `disconnect` when loaded, `index.ts` the
 * children's `parent` intercommunicator.
 */
export const spawning: {
  spawn?: (comm: Comm, rt: Runtime, request: SpawnRequest, root: number) => Promise<Intercomm>;
  disconnect?: (comm: Comm) => Promise<void>;
  parent: Intercomm | null;
} = { parent: null };

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
export class Comm extends CommTopology {
  /** `Create_group` calls so far, by tag and members: part of their context id. */
  readonly #groupSeq = new Map<string, number>();

  /** @internal Communicators come from `COMM_WORLD`, `COMM_SELF` and the constructors (`dup()`, `split()`, `Create`, ...). */
  constructor(rt: Runtime, ctx: number, rank: number, group: readonly number[], name = "", remote?: readonly number[]) {
    super(rt, ctx, rank, group, name, remote);
  }

  /** @internal A new communicator of this one's class (and topology) from `init`; `dup` and `Clone` use it. */
  protected _like(init: CommInit): Comm {
    return new Comm(init.rt, init.ctx, init.rank, init.group);
  }

  /**
   * A new communicator with the same ranks and a private message space (`MPI_Comm_dup`): its
   * messages never match this one's. A topology communicator's dup has its topology, and
   * `COMM_WORLD`'s its attributes (`Get_attr`). Every rank
   * must call it in the same order; no messages are exchanged, so it returns at once.
   */
  dup(): this {
    this._usable("dup");
    const copy = this._like({
      rt: this._rt,
      ctx: deriveContext(this.context, this._nextDerive(), 0),
      rank: this.rank,
      group: this.worldRanks,
    }) as this;
    this._copyAttrs(copy);
    return copy;
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
   * Splits into disjoint communicators, one per `color` (`MPI_Comm_split`); ranks are ordered
   * by `key`, then by rank here. A rank passing `UNDEFINED` gets `null`. Collective.
   * @throws TsmpiError `ERR_TSMPI_ARG` for a color that is not a non-negative integer or UNDEFINED.
   */
  async split(color: number, key = 0): Promise<Comm | null> {
    this._usable("split");
    const seq = this._nextDerive();
    // Check after the exchange: every rank then sees a bad argument anywhere and rejects alike.
    const all = await this.allgather<[number, number]>([color, key]);
    all.forEach(([c, k], r) => {
      if (!(Number.isInteger(c) && (c >= 0 || c === UNDEFINED))) {
        throw new TsmpiError("ERR_TSMPI_ARG", `color must be a non-negative integer or UNDEFINED, got ${describeValue(c)} on rank ${r}`);
      }
      if (!Number.isInteger(k)) throw new TsmpiError("ERR_TSMPI_ARG", `key must be an integer, got ${describeValue(k)} on rank ${r}`);
    });
    return this.#byColor(
      seq,
      all.map(([c]) => c),
      all.map(([, k]) => k),
    );
  }

  /** The communicator of the ranks with this rank's color, ordered by key, then rank (`null` for `UNDEFINED`). */
  #byColor(seq: number, colors: readonly number[], keys: readonly number[]): Comm | null {
    const color = colors[this.rank]!;
    if (color === UNDEFINED) return null;
    const members = colors
      .map((c, r) => ({ c, k: keys[r]!, r }))
      .filter((m) => m.c === color)
      .sort((a, b) => a.k - b.k || a.r - b.r);
    const group = members.map((m) => this.worldRanks[m.r]!);
    return new Comm(
      this._rt,
      deriveContext(this.context, seq, color),
      members.findIndex((m) => m.r === this.rank),
      group,
    );
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
    this._usable("Split_type");
    const seq = this._nextDerive();
    const all = await this.allgather<[number, number]>([split_type, key]);
    all.forEach(([t, k], r) => {
      if (t !== COMM_TYPE_SHARED && t !== UNDEFINED) {
        throw new TsmpiError("ERR_TSMPI_ARG", `split_type must be COMM_TYPE_SHARED or UNDEFINED, got ${describeValue(t)} on rank ${r}`);
      }
      if (!Number.isInteger(k)) throw new TsmpiError("ERR_TSMPI_ARG", `key must be an integer, got ${describeValue(k)} on rank ${r}`);
    });
    // a host's color: the world rank of its first rank (hosts are named alike by all ranks)
    const hosts = this._rt.hosts;
    const colors = all.map(([t], r) => (t === UNDEFINED ? UNDEFINED : hosts.indexOf(hosts[this.worldRanks[r]!] ?? "")));
    return this.#byColor(
      seq,
      colors,
      all.map(([, k]) => k),
    );
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
    this._usable("Create");
    const members = this.#members(group);
    const seq = this._nextDerive();
    const me = members.indexOf(this._rt.rank);
    if (me < 0) return null;
    // disjoint groups have distinct first members: their contexts differ
    return new Comm(this._rt, deriveContext(this.context, seq, members[0]!), me, members);
  }

  /**
   * A communicator of the members of `group`, in the group's order (`MPI_Comm_create_group`):
   * collective over the group's members only; `tag` tells apart concurrent calls with one group.
   * No messages are exchanged.
   * @throws TsmpiError `ERR_TSMPI_ARG` when this process is not in `group` or `group` has a process outside this communicator; `ERR_TSMPI_TAG`.
   */
  Create_group(group: Group, tag = 0): Comm {
    this._usable("Create_group");
    checkSendTag(tag);
    const members = this.#members(group);
    const me = members.indexOf(this._rt.rank);
    if (me < 0) throw new TsmpiError("ERR_TSMPI_ARG", `Create_group: rank ${this.rank} is not in the group (only its members call it)`);
    // Not the dup/split sequence: ranks outside the group do not call this. Members call it in
    // one order per (tag, group), so a count per (tag, group) agrees among them.
    const key = `${tag}:${members.join(",")}`;
    const n = (this.#groupSeq.get(key) ?? 0) + 1;
    this.#groupSeq.set(key, n);
    const ctx = deriveContext(deriveContext(this.context, -n, tag), members.length, hashInts(members));
    return new Comm(this._rt, ctx, me, members);
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
      this._usable("Create_intercomm");
      checkRoot(local_leader, this.size, "local_leader");
      const make = intercomms.create;
      if (!make) throw new TsmpiError("ERR_TSMPI_INTERNAL", "intercommunicators are not loaded (import tsmpi, not lib/comm.js)");
      return make(this, this._derive(() => 0)!, local_leader, peer_comm, remote_leader, tag);
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /**
   * Starts `maxprocs` new ranks running `command` with `args` (`MPI_Comm_spawn`) and returns the
   * intercommunicator to them: local group this communicator, remote group the children, whose
   * own `COMM_WORLD` has `maxprocs` ranks and who reach the parents through `Comm.Get_parent()`.
   * `command` is a script (`.ts`, `.js`) or a program, as tsmpirun's first argument, or
   * `"-m module"`. Collective; `command`, `args` and `maxprocs` count at `root` only; `info` is
   * ignored; `errcodes`, an array, gets one 0 per child. The children run on this host; a job's
   * end waits for its children (see the README).
   * @throws TsmpiError on every rank: `ERR_TSMPI_ROOT` (bad root), `ERR_TSMPI_ARG` (bad
   * `maxprocs`, `args`), `ERR_TSMPI_LAUNCH` (a command that does not exist, ranks on other hosts,
   * children that could not start).
   * @example
   * ```ts
   * const workers = await COMM_WORLD.Spawn("worker.ts", ["--size", "10"], 4);
   * const all = await workers.Merge(false);   // parents first, then the 4 workers
   * ```
   */
  Spawn(
    command: string,
    args: readonly string[] | null = null,
    maxprocs = 1,
    info: unknown = null,
    root = 0,
    errcodes?: number[],
  ): Promise<Intercomm> {
    return this.#spawn({ command, args, maxprocs, info, multiple: false, errcodes }, root);
  }

  /**
   * {@link Spawn} for several commands at once (`MPI_Comm_spawn_multiple`): `maxprocs[i]` ranks
   * (default 1) run `command[i]` with `args[i]`, numbered in that order in the children's one
   * `COMM_WORLD`. `errcodes`, an array, gets one array of zeros per command.
   * Not supported yet: different commands (the same command with different args is).
   */
  Spawn_multiple(
    command: readonly string[],
    args: readonly (readonly string[])[] | null = null,
    maxprocs: number | readonly number[] | null = null,
    info: unknown = null,
    root = 0,
    errcodes?: number[][],
  ): Promise<Intercomm> {
    return this.#spawn({ command, args, maxprocs, info, multiple: true, errcodes }, root);
  }

  #spawn(request: SpawnRequest, root: number): Promise<Intercomm> {
    try {
      this._usable(request.multiple ? "Spawn_multiple" : "Spawn");
      if (this.Is_inter()) throw new TsmpiError("ERR_TSMPI_COMM", "Spawn needs an intracommunicator, got an Intercomm");
      checkRoot(root, this.size, "root");
      if (!spawning.spawn) throw new TsmpiError("ERR_TSMPI_INTERNAL", "spawning is not loaded (import tsmpi, not lib/comm.js)");
      return spawning.spawn(this, this._rt, request, root);
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /**
   * Disconnects (`MPI_Comm_disconnect`): waits until every rank of both groups called it, then
   * frees the communicator. On the intercommunicator of a `Spawn`, the parents leave the
   * children's job: from then on neither waits for the other (the children's end no longer
   * ends the parents' job), and on the children `Comm.Get_parent()` returns `null`. Collective.
   */
  async Disconnect(): Promise<void> {
    this._usable("Disconnect");
    await this.barrier();
    this.free();
    await spawning.disconnect?.(this);
  }

  /** The intercommunicator to the parents of a spawned job (`MPI_Comm_get_parent`); `null` (`COMM_NULL`) when not spawned, or after it was disconnected. */
  static Get_parent(): Intercomm | null {
    return spawning.parent;
  }

  /** The world ranks of `group`, checked to be members of this communicator. */
  #members(group: Group): readonly number[] {
    const members = checkGroup(group, "group").worldRanks;
    const mine = new Set(this.worldRanks);
    const stray = members.find((w) => !mine.has(w));
    if (stray !== undefined)
      throw new TsmpiError("ERR_TSMPI_ARG", `group must be a subgroup of the communicator's group: world rank ${stray} is not in it`);
    return members;
  }

  /**
   * Compares two communicators (`MPI_Comm_compare`): `IDENT` (the same), `CONGRUENT` (same ranks
   * in the same order), `SIMILAR` (same ranks, other order) or `UNEQUAL`.
   */
  compare(other: Comm): number {
    if (!(other instanceof Comm)) throw new TsmpiError("ERR_TSMPI_ARG", `other must be a Comm, got ${describeValue(other)}`);
    if (other === this) return IDENT;
    const a = this.worldRanks;
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
}
