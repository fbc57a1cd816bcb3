/**
 * `Intercomm`: an intercommunicator (`MPI_Intercomm_*`), as in mpi4py: two disjoint groups, the
 * local one (`rank`, `size`, `group`) and the remote one (`remote_size`, `remote_group`). Made
 * by `comm.Create_intercomm(local_leader, peer_comm, remote_leader, tag)`; `Merge(high)` joins
 * the two groups into an intracommunicator; `dup`, `split` and `Create` make new ones.
 *
 * Point-to-point calls are `Comm`'s, with ranks naming the remote group. The collectives follow
 * MPI's intercommunicator rules: in a rooted one the group holding the root passes `ROOT` at the
 * root and `PROC_NULL` at its other ranks, the other group passes the root's rank in the remote
 * group; data moves from one group to the other (`allgather` returns the remote group's values,
 * `allreduce` their reduction). Each runs as one collective call of the local group (on a private
 * intracommunicator over it, so a failure on any of its ranks fails the call on all of them) plus
 * messages between the leaders, or between all pairs (`alltoall`), on the intercommunicator's
 * collective context, whose error notices tell the remote group. Their algorithms are plain
 * functions in `collectives/intercomm.ts`; this class checks the arguments and runs them.
 *
 * Contexts (agreed in `intercomm-create.ts`): the two leaders exchange a fresh context of each group over `peer_comm` and both
 * derive the intercommunicator's from the pair and both groups' members, so it differs from every
 * communicator either side has; communicators made from it derive theirs from it, counted in the
 * (MPI-mandated) common order of those calls.
 *
 * Not supported yet: `scan`/`exscan` (undefined in MPI), the v-variants, `Reduce_scatter*`,
 * `Allgatherv`, `Alltoallv`, DeviceArrays in the collectives, `Create_from_groups` (sessions),
 * `Split_type`, topologies on intercommunicators (MPI has none). In `Create_intercomm` a leader
 * whose own arguments are bad fails its group, but the other leader keeps waiting for it over
 * `peer_comm` (the failing group's error ends the job unless caught).
 *
 * Size: just over 500 lines once formatted: every method here is the intercommunicator form of a
 * `Comm` method (its argument checks and which algorithm runs), so the class is as long as the
 * list of calls MPI defines on intercommunicators. What is not a method already lives elsewhere:
 * the algorithms in `collectives/intercomm.ts`, the leaders' exchange in `intercomm-create.ts`.
 * A class chain like `Comm`'s would split it at no seam a reader looks for.
 *
 * @module
 */
import { CollectiveChannel } from "./collectives/channel.js";
import * as inter from "./collectives/intercomm.js";
import { blocksOf, checkInterRoot, hostArray } from "./collectives/intercomm.js";
import type { BufferArg, CommInit, SendBufferArg } from "./comm-base.js";
import { Comm, intercomms } from "./comm.js";
import { type IN_PLACE, PROC_NULL, ROOT, UNDEFINED } from "./constants.js";
import { TsmpiError, describeValue } from "./errors.js";
import { Group, checkGroup } from "./group.js";
import { createIntercomm } from "./intercomm-create.js";
import { deriveContext } from "./job/runtime.js";
import { Op } from "./op.js";
import type { TypedArray } from "./serializer.js";
import { checkSameKind } from "./validate.js";

/** The sequence number of the local intracommunicator's context: no constructor uses 0. */
const LOCAL_SEQ = 0;

/** The local group of an intercommunicator: its collectives' local parts run as one collective of it. */
class LocalComm extends Comm {
  /** Runs `body` as one collective call here: a failure on any rank fails it on all of them. */
  run<T>(name: string, body: (ch: CollectiveChannel) => Promise<unknown>): Promise<T> {
    return this._collective<T>(name, body);
  }
}

/**
 * An intercommunicator: the local group (`rank`, `size`) and a disjoint remote group
 * (`remote_size`); point-to-point ranks name the remote group.
 *
 * @example
 * ```ts
 * import { COMM_WORLD as world, ROOT, PROC_NULL } from "tsmpi";
 * const half0 = Math.floor(world.size / 2);
 * const color = world.rank < half0 ? 0 : 1;
 * const half = (await world.split(color))!;
 * const inter = await half.Create_intercomm(0, world, color === 0 ? half0 : 0);
 * // group 0's rank 0 broadcasts to group 1
 * const root = color === 0 ? (inter.rank === 0 ? ROOT : PROC_NULL) : 0;
 * const v = await inter.bcast(color === 0 ? "hi" : null, root);   // "hi" in group 1
 * const all = await (await inter.Merge(color === 1)).allgather(world.rank);
 * ```
 */
export class Intercomm extends Comm {
  readonly #init: CommInit;
  readonly #remote: readonly number[];
  /** The local group as an intracommunicator, on a private context: the collectives' local parts. */
  readonly #local: LocalComm;
  /** Collective calls issued so far (the tag of the next one's messages between the groups). */
  #collSeq = 0;
  /** `split`, `Create` and `Merge` calls so far: part of their context ids. */
  #makeSeq = 0;
  #freed = false;

  /** @internal Made by `Create_intercomm`, `dup`, `split` and `Create`. */
  constructor(init: CommInit, remote: readonly number[]) {
    super(init.rt, init.ctx, init.rank, init.group, "", remote);
    this.#init = init;
    this.#remote = remote;
    this.#local = new LocalComm(init.rt, deriveContext(init.ctx, LOCAL_SEQ, 0), init.rank, init.group);
  }

  protected override _like(init: CommInit): Intercomm {
    return new Intercomm(init, this.#remote);
  }

  override Is_inter(): boolean {
    return true;
  }

  override Is_intra(): boolean {
    return false;
  }

  /** The number of ranks in the remote group (`MPI_Comm_remote_size`). */
  get remote_size(): number {
    return this.#remote.length;
  }

  /** mpi4py spelling of {@link remote_size}. */
  Get_remote_size(): number {
    return this.#remote.length;
  }

  /** The remote group (`MPI_Comm_remote_group`), a new {@link Group} each time. */
  Get_remote_group(): Group {
    this.#usable("Get_remote_group");
    return new Group(this.#remote, this.#init.rt);
  }

  /** {@link Get_remote_group} as a property. */
  get remote_group(): Group {
    return this.Get_remote_group();
  }

  #usable(what: string): void {
    if (this.#freed) throw new TsmpiError("ERR_TSMPI_COMM", `${what} on a freed communicator`);
    this.#init.rt.checkAlive(what);
  }

  /** Frees this intercommunicator (`MPI_Comm_free`) and its private local communicator. */
  override free(): void {
    super.free();
    this.#freed = true;
    this.#local.free();
  }

  // ------------------------------------------------------------ collectives

  /**
   * Runs one collective: takes its sequence numbers now, here and in the local group (so calls
   * match in issue order on both sides), runs `body` as one collective call of the local group,
   * and on failure tells the remote ranks too.
   */
  #run<T>(name: string, check: () => void, body: (x: CollectiveChannel, local: CollectiveChannel) => Promise<T>): Promise<T> {
    let ch: CollectiveChannel;
    try {
      this.#usable(name);
      check();
      ch = new CollectiveChannel(this.#init.rt.p2p, this.#init.ctx + 1, this.#init.rank, this.#remote, this.#collSeq++, name);
    } catch (err) {
      return Promise.reject(err);
    }
    return this.#local
      .run<T>(name, (local) => body(ch, local))
      .then(
        (value) => {
          ch.close();
          return value;
        },
        (err) => {
          ch.fail(err);
          ch.close();
          throw err;
        },
      );
  }

  /**
   * Blocks until every rank of both groups called it (`MPI_Barrier`): a local barrier, the
   * leaders' exchange, a local barrier.
   */
  override barrier(): Promise<void> {
    return this.#run(
      "barrier",
      () => {},
      (x, local) => inter.barrier(x, local),
    );
  }

  /**
   * Broadcasts from a root in one group to every rank of the other (`MPI_Bcast` on an
   * intercommunicator). In the root's group the root passes `root = ROOT` and the others
   * `PROC_NULL` (they get `undefined`, the root too); in the other group every rank passes the
   * root's rank in the remote group and gets the value.
   * @throws TsmpiError `ERR_TSMPI_ROOT` for a root that is none of these.
   */
  override bcast<T>(value: T, root = 0): Promise<T> {
    return this.#run(
      "bcast",
      () => checkInterRoot(root, this.#remote.length),
      (x, local) => inter.bcast(x, local, value, root) as Promise<T>,
    );
  }

  /**
   * Collects every rank's `value` of the other group at the root (`MPI_Gather` on an
   * intercommunicator): the root (`ROOT`) gets the remote group's values in rank order; its
   * group's other ranks pass `PROC_NULL`; everyone but the root gets `undefined`.
   */
  override gather<T>(value: T, root = 0): Promise<T[] | undefined> {
    return this.#run(
      "gather",
      () => checkInterRoot(root, this.#remote.length),
      (x, local) => inter.gather(x, local, value, root) as Promise<T[] | undefined>,
    );
  }

  /**
   * Sends the root's `values[i]` to rank i of the other group (`MPI_Scatter` on an
   * intercommunicator); the root passes `ROOT` and a list of `remote_size` values, its group's
   * other ranks `PROC_NULL`; they get `undefined`.
   * @throws TsmpiError `ERR_TSMPI_COUNT` when the root's list has not `remote_size` entries.
   */
  override scatter<T>(values: readonly T[] | null | undefined, root = 0): Promise<T> {
    const check = (): void => {
      checkInterRoot(root, this.#remote.length);
      if (root === ROOT && (!Array.isArray(values) || values.length !== this.#remote.length)) {
        throw new TsmpiError(
          "ERR_TSMPI_COUNT",
          `the scatter list must be an array of remote_size (${this.#remote.length}) values, got ${describeValue(values)}`,
        );
      }
    };
    return this.#run("scatter", check, (x, local) => inter.scatter(x, local, values, root) as Promise<T>);
  }

  /** Every rank gets the values of the remote group's ranks, in their rank order (`MPI_Allgather` on an intercommunicator). */
  override allgather<T>(value: T): Promise<T[]> {
    return this.#run(
      "allgather",
      () => {},
      (x, local) => inter.allgather(x, local, value) as Promise<T[]>,
    );
  }

  /** Sends `values[i]` to rank i of the remote group; returns what each remote rank sent here (`MPI_Alltoall` on an intercommunicator). */
  override alltoall<T>(values: readonly T[]): Promise<T[]> {
    const n = this.#remote.length;
    const check = (): void => {
      if (!Array.isArray(values) || values.length !== n) {
        throw new TsmpiError("ERR_TSMPI_COUNT", `alltoall needs an array of remote_size (${n}) values, got ${describeValue(values)}`);
      }
    };
    return this.#run("alltoall", check, (x) => inter.alltoall(x, values, n) as Promise<T[]>);
  }

  /**
   * Combines the remote group's values with `op` at the root (`MPI_Reduce` on an
   * intercommunicator; roots as {@link gather}); everyone but the root gets `undefined`.
   */
  override reduce<T>(value: T, op: Op = Op.SUM, root = 0): Promise<T | undefined> {
    return this.#run(
      "reduce",
      () => checkInterRoot(root, this.#remote.length),
      (x, local) => inter.reduce(x, local, value, op, root) as Promise<T | undefined>,
    );
  }

  /** Every rank gets `op` over the remote group's values (`MPI_Allreduce` on an intercommunicator). */
  override allreduce<T>(value: T, op: Op = Op.SUM): Promise<T> {
    return this.#run(
      "allreduce",
      () => {},
      (x, local) => inter.allreduce(x, local, value, op) as Promise<T>,
    );
  }

  // ---------------------------------------------------------------- buffer tier

  /**
   * Buffer-tier {@link bcast}: the root (`ROOT`) sends `buf`; the other group's ranks receive
   * into theirs (same kind and length); `PROC_NULL` ranks pass anything (`null`).
   */
  override Bcast(buf: BufferArg | null, root = 0): Promise<void> {
    let b: TypedArray | null = null;
    const check = (): void => {
      checkInterRoot(root, this.#remote.length);
      if (root !== PROC_NULL) b = hostArray(buf, "buf");
    };
    return this.#run("Bcast", check, (x, local) => inter.Bcast(x, local, b, root));
  }

  /**
   * Buffer-tier {@link gather}: the root (`ROOT`) receives block i of `recvbuf` from remote rank
   * i (`remote_size` equal blocks); the other group's ranks send `sendbuf`.
   */
  override Gather(sendbuf: SendBufferArg | null, recvbuf: BufferArg | null, root = 0): Promise<void> {
    let s: TypedArray | null = null;
    let r: TypedArray | null = null;
    const check = (): void => {
      checkInterRoot(root, this.#remote.length);
      if (root === ROOT) {
        r = hostArray(recvbuf, "recvbuf");
        blocksOf(r, this.#remote.length, "recvbuf");
      } else if (root !== PROC_NULL) s = hostArray(sendbuf, "sendbuf");
    };
    return this.#run("Gather", check, (x, local) => inter.Gather(x, local, s, r, root));
  }

  /**
   * Buffer-tier {@link scatter}: the root (`ROOT`) sends block i of `sendbuf` (`remote_size`
   * equal blocks) to remote rank i's `recvbuf`.
   */
  override Scatter(sendbuf: BufferArg | null, recvbuf: BufferArg | typeof IN_PLACE | null, root = 0): Promise<void> {
    let s: TypedArray | null = null;
    let r: TypedArray | null = null;
    const check = (): void => {
      checkInterRoot(root, this.#remote.length);
      if (root === ROOT) {
        s = hostArray(sendbuf, "sendbuf");
        blocksOf(s, this.#remote.length, "sendbuf");
      } else if (root !== PROC_NULL) r = hostArray(recvbuf, "recvbuf");
    };
    return this.#run("Scatter", check, (x, local) => inter.Scatter(x, local, s, r, root));
  }

  /**
   * Buffer-tier {@link allgather}: block i of `recvbuf` (`remote_size` equal blocks) gets remote
   * rank i's `sendbuf`; the two groups' block lengths may differ.
   */
  override Allgather(sendbuf: SendBufferArg, recvbuf: BufferArg): Promise<void> {
    let s: TypedArray;
    let r: TypedArray;
    const check = (): void => {
      s = hostArray(sendbuf, "sendbuf");
      r = hostArray(recvbuf, "recvbuf");
      checkSameKind(s, r, "sendbuf and recvbuf");
      blocksOf(r, this.#remote.length, "recvbuf");
    };
    return this.#run("Allgather", check, (x, local) => inter.Allgather(x, local, s, r));
  }

  /**
   * Buffer-tier {@link alltoall}: block j of `sendbuf` goes to remote rank j, block j of
   * `recvbuf` comes from it (`remote_size` equal blocks each).
   */
  override Alltoall(sendbuf: SendBufferArg, recvbuf: BufferArg): Promise<void> {
    const n = this.#remote.length;
    let s: TypedArray;
    let r: TypedArray;
    let sb = 0;
    let rb = 0;
    const check = (): void => {
      s = hostArray(sendbuf, "sendbuf");
      r = hostArray(recvbuf, "recvbuf");
      checkSameKind(s, r, "sendbuf and recvbuf");
      sb = blocksOf(s, n, "sendbuf");
      rb = blocksOf(r, n, "recvbuf");
    };
    return this.#run("Alltoall", check, (x) => inter.Alltoall(x, s, r, n, sb, rb));
  }

  /**
   * Buffer-tier {@link reduce}: the root (`ROOT`) gets in `recvbuf` the element-wise reduction of
   * the remote group's `sendbuf`s.
   */
  override Reduce(sendbuf: SendBufferArg | null, recvbuf: BufferArg | null, op: Op = Op.SUM, root = 0): Promise<void> {
    let s: TypedArray | null = null;
    let r: TypedArray | null = null;
    const check = (): void => {
      checkInterRoot(root, this.#remote.length);
      if (root === ROOT) r = hostArray(recvbuf, "recvbuf");
      else if (root !== PROC_NULL) s = hostArray(sendbuf, "sendbuf");
    };
    return this.#run("Reduce", check, (x, local) => inter.Reduce(x, local, s, r, op, root));
  }

  /** Buffer-tier {@link allreduce}: `recvbuf` gets the element-wise reduction of the remote group's `sendbuf`s. */
  override Allreduce(sendbuf: SendBufferArg, recvbuf: BufferArg, op: Op = Op.SUM): Promise<void> {
    let s: TypedArray;
    let r: TypedArray;
    const check = (): void => {
      s = hostArray(sendbuf, "sendbuf");
      r = hostArray(recvbuf, "recvbuf");
      checkSameKind(s, r, "sendbuf and recvbuf");
    };
    return this.#run("Allreduce", check, (x, local) => inter.Allreduce(x, local, s, r, op));
  }

  // ------------------------------------------------------------ communicators

  /** Every local rank's `value` and every remote rank's, in rank order (one collective). */
  #exchange<T>(value: T, name: string): Promise<[T[], T[]]> {
    return this.#run(
      name,
      () => {},
      (x, local) => inter.exchange(x, local, value) as Promise<[T[], T[]]>,
    );
  }

  /**
   * Splits into intercommunicators (`MPI_Comm_split` on an intercommunicator): the local ranks
   * with this rank's `color` and the remote ranks with the same color, each ordered by `key`,
   * then rank. `null` (`COMM_NULL`) for `UNDEFINED`, or when no remote rank has the color.
   * Collective over both groups.
   * @throws TsmpiError `ERR_TSMPI_ARG` for a color that is not a non-negative integer or UNDEFINED.
   */
  override async split(color: number, key = 0): Promise<Intercomm | null> {
    this.#usable("split");
    const seq = ++this.#makeSeq;
    const [mine, theirs] = await this.#exchange<[number, number]>([color, key], "split");
    for (const [side, all] of [
      ["local", mine],
      ["remote", theirs],
    ] as const) {
      all.forEach(([c, k], r) => {
        if (!(Number.isInteger(c) && (c >= 0 || c === UNDEFINED))) {
          throw new TsmpiError(
            "ERR_TSMPI_ARG",
            `color must be a non-negative integer or UNDEFINED, got ${describeValue(c)} on ${side} rank ${r}`,
          );
        }
        if (!Number.isInteger(k))
          throw new TsmpiError("ERR_TSMPI_ARG", `key must be an integer, got ${describeValue(k)} on ${side} rank ${r}`);
      });
    }
    if (color === UNDEFINED) return null;
    const pick = (all: number[][], world: readonly number[]): { r: number; w: number }[] =>
      all
        .map(([c, k], r) => ({ c: c!, k: k!, r, w: world[r]! }))
        .filter((m) => m.c === color)
        .sort((a, b) => a.k - b.k || a.r - b.r);
    const localMembers = pick(mine, this.#init.group);
    const remoteMembers = pick(theirs, this.#remote);
    if (remoteMembers.length === 0) return null;
    const init: CommInit = {
      rt: this.#init.rt,
      ctx: deriveContext(this.#init.ctx, -seq, color),
      rank: localMembers.findIndex((m) => m.r === this.rank),
      group: localMembers.map((m) => m.w),
    };
    return new Intercomm(
      init,
      remoteMembers.map((m) => m.w),
    );
  }

  /** Alias of {@link split}. */
  override Split(color = 0, key = 0): Promise<Intercomm | null> {
    return this.split(color, key);
  }

  /**
   * An intercommunicator between the members of `group` (a subgroup of the local group, the same
   * on every local rank) and those of the group the remote ranks pass (`MPI_Comm_create` on an
   * intercommunicator); `null` (`COMM_NULL`) for ranks not in `group`, and when either is empty.
   * Collective over both groups; returns a promise (the groups are exchanged).
   * @throws TsmpiError `ERR_TSMPI_ARG` when `group` has a process outside the local group.
   */
  // Typed as a promise that is also a Comm so that an Intercomm stays a Comm to the compiler
  // (Comm's Create returns at once); `await` it.
  override Create(group: Group): Promise<Intercomm | null> & Comm {
    return this.#create(group) as Promise<Intercomm | null> & Comm;
  }

  async #create(group: Group): Promise<Intercomm | null> {
    this.#usable("Create");
    const members = checkGroup(group, "group").worldRanks;
    const mine = new Set(this.#init.group);
    const stray = members.find((w) => !mine.has(w));
    if (stray !== undefined)
      throw new TsmpiError("ERR_TSMPI_ARG", `group must be a subgroup of the local group: world rank ${stray} is not in it`);
    const seq = ++this.#makeSeq;
    const [theirs] = (await this.allgather([...members])) as number[][];
    const remote = theirs ?? [];
    const me = members.indexOf(this.#init.rt.rank);
    if (me < 0 || remote.length === 0) return null;
    return new Intercomm({ rt: this.#init.rt, ctx: deriveContext(this.#init.ctx, -seq, 0), rank: me, group: members }, remote);
  }

  /**
   * The intracommunicator of both groups (`MPI_Intercomm_merge`): the group passing
   * `high = false` first, then the other, each in its rank order; when both pass the same,
   * the group holding the lower world rank comes first. Collective over both groups.
   */
  async Merge(high = false): Promise<Comm> {
    this.#usable("Merge");
    const seq = ++this.#makeSeq;
    const flags = await this.allgather(Boolean(high));
    const theirs = flags[0] ?? false;
    const mineFirst = Boolean(high) !== theirs ? !high : Math.min(...this.#init.group) < Math.min(...this.#remote);
    const group = mineFirst ? [...this.#init.group, ...this.#remote] : [...this.#remote, ...this.#init.group];
    return new Comm(this.#init.rt, deriveContext(this.#init.ctx, -seq, 1), group.indexOf(this.#init.rt.rank), group);
  }

  // ------------------------------------------------------- not on intercommunicators

  #intraOnly(what: string): never {
    throw new TsmpiError("ERR_TSMPI_COMM", `${what} needs an intracommunicator, not an Intercomm (Merge it first)`);
  }

  override Create_intercomm(..._args: unknown[]): Promise<Intercomm> {
    return Promise.reject(new TsmpiError("ERR_TSMPI_COMM", "Create_intercomm needs an intracommunicator, not an Intercomm"));
  }

  override Create_group(..._args: unknown[]): never {
    return this.#intraOnly("Create_group");
  }

  override Split_type(..._args: unknown[]): Promise<Comm | null> {
    return Promise.reject(new TsmpiError("ERR_TSMPI_COMM", "Split_type is not supported on an Intercomm yet"));
  }

  override Create_cart(..._args: unknown[]): never {
    return this.#intraOnly("Create_cart");
  }

  override Create_graph(..._args: unknown[]): never {
    return this.#intraOnly("Create_graph");
  }

  override Create_dist_graph_adjacent(..._args: unknown[]): never {
    return this.#intraOnly("Create_dist_graph_adjacent");
  }

  override Create_dist_graph(..._args: unknown[]): Promise<never> {
    return Promise.reject(new TsmpiError("ERR_TSMPI_COMM", "Create_dist_graph needs an intracommunicator, not an Intercomm"));
  }
}

// Create_intercomm (comm.ts) cannot import this class, which extends Comm: it calls this.
intercomms.create = (local, init, localLeader, peerComm, remoteLeader, tag) =>
  createIntercomm(local, init, localLeader, peerComm, remoteLeader, tag, (made, remote) => new Intercomm(made, remote));
