/**
 * `Group`: an ordered set of processes (`MPI_Group`), as in mpi4py. A group is a local object:
 * making one (`Incl`, `Union`, ...) never communicates. Communicators give theirs through
 * `comm.Get_group()` / `comm.group`, and make new communicators from one with `comm.Create(group)`
 * and `comm.Create_group(group, tag)`.
 *
 * Members are held as world ranks; a rank in a group is an index into that list.
 *
 * Not supported yet: `Create_from_session_pset` (MPI sessions), handles (`tohandle`/`fromhandle`).
 *
 * @module
 */
import { IDENT, PROC_NULL, SIMILAR, UNDEFINED, UNEQUAL } from "./constants.js";
import { TsmpiError, describeValue } from "./errors.js";

/** @internal This process and the size of its world, which a group needs to answer `rank` and to translate to the world. */
export interface WorldView {
  readonly rank: number;
  readonly size: number;
}

/** A range of ranks for {@link Group.Range_incl} / {@link Group.Range_excl}: `[first, last, stride]`, `last` included. */
export type RankRange = readonly [first: number, last: number, stride: number];

/**
 * An ordered set of processes (`MPI_Group`). Groups are immutable; the set operations return new
 * groups. `GROUP_EMPTY` is the group with no members.
 *
 * @example
 * ```ts
 * import { COMM_WORLD as comm } from "tsmpi";
 * const evens = comm.group.Range_incl([[0, comm.size - 1, 2]]);
 * const sub = await comm.Create(evens);   // null on the odd ranks
 * ```
 */
export class Group {
  readonly #members: readonly number[];
  readonly #world: WorldView;
  #freed = false;

  /** @internal Groups come from `comm.Get_group()`, `GROUP_EMPTY` and the set operations. */
  constructor(members: readonly number[], world: WorldView) {
    this.#members = Object.freeze([...members]);
    this.#world = world;
  }

  /** @internal The world rank of each member, by rank in the group. */
  get worldRanks(): readonly number[] {
    this.#usable("worldRanks");
    return this.#members;
  }

  /** @internal The world this group's ranks belong to. */
  get world(): WorldView {
    return this.#world;
  }

  #usable(what: string): void {
    if (this.#freed) throw new TsmpiError("ERR_TSMPI_ARG", `${what} on a freed group (GROUP_NULL)`);
  }

  /** The number of processes in the group (`MPI_Group_size`). */
  get size(): number {
    this.#usable("size");
    return this.#members.length;
  }

  /** This process's rank in the group, or `UNDEFINED` when it is not a member (`MPI_Group_rank`). */
  get rank(): number {
    this.#usable("rank");
    const r = this.#members.indexOf(this.#world.rank);
    return r < 0 ? UNDEFINED : r;
  }

  /** mpi4py spelling of {@link size}. */
  Get_size(): number {
    return this.size;
  }

  /** mpi4py spelling of {@link rank}. */
  Get_rank(): number {
    return this.rank;
  }

  /** Checks a list of distinct ranks of this group. */
  #ranks(ranks: unknown, name: string): number[] {
    if (!Array.isArray(ranks)) throw new TsmpiError("ERR_TSMPI_ARG", `${name} must be an array of ranks, got ${describeValue(ranks)}`);
    const seen = new Set<number>();
    for (const r of ranks) {
      if (!Number.isInteger(r) || r < 0 || r >= this.#members.length) {
        throw new TsmpiError("ERR_TSMPI_RANK", `${name} entries must be integers in [0, ${this.#members.length}), got ${describeValue(r)}`);
      }
      if (seen.has(r)) throw new TsmpiError("ERR_TSMPI_RANK", `${name} must not repeat a rank, got ${r} twice`);
      seen.add(r);
    }
    return ranks as number[];
  }

  /** The ranks `ranges` name, in order: each `[first, last, stride]` with `last` included (MPI's rule). */
  #expand(ranges: unknown, name: string): number[] {
    if (!Array.isArray(ranges))
      throw new TsmpiError("ERR_TSMPI_ARG", `${name} must be an array of [first, last, stride], got ${describeValue(ranges)}`);
    const out: number[] = [];
    for (const range of ranges) {
      if (!Array.isArray(range) || range.length !== 3 || !range.every((v) => Number.isInteger(v))) {
        throw new TsmpiError("ERR_TSMPI_ARG", `${name} entries must be [first, last, stride] integers, got ${describeValue(range)}`);
      }
      const [first, last, stride] = range as [number, number, number];
      if (stride === 0) throw new TsmpiError("ERR_TSMPI_ARG", `${name} stride must not be 0, got ${describeValue(range)}`);
      if (first < 0 || first >= this.#members.length || last < 0 || last >= this.#members.length) {
        throw new TsmpiError(
          "ERR_TSMPI_RANK",
          `${name} first and last must be in [0, ${this.#members.length}), got ${describeValue(range)}`,
        );
      }
      for (let r = first; stride > 0 ? r <= last : r >= last; r += stride) out.push(r);
    }
    return this.#ranks(out, name);
  }

  /** A new group of the members whose ranks are `ranks`, in that order (`MPI_Group_incl`). */
  Incl(ranks: readonly number[]): Group {
    this.#usable("Incl");
    return new Group(
      this.#ranks(ranks, "ranks").map((r) => this.#members[r]!),
      this.#world,
    );
  }

  /** A new group without the members whose ranks are `ranks`, the others in order (`MPI_Group_excl`). */
  Excl(ranks: readonly number[]): Group {
    this.#usable("Excl");
    const out = new Set(this.#ranks(ranks, "ranks"));
    return new Group(
      this.#members.filter((_, r) => !out.has(r)),
      this.#world,
    );
  }

  /** {@link Incl} of the ranks that `[first, last, stride]` triplets name (`MPI_Group_range_incl`). */
  Range_incl(ranks: readonly RankRange[]): Group {
    this.#usable("Range_incl");
    return new Group(
      this.#expand(ranks, "ranks").map((r) => this.#members[r]!),
      this.#world,
    );
  }

  /** {@link Excl} of the ranks that `[first, last, stride]` triplets name (`MPI_Group_range_excl`). */
  Range_excl(ranks: readonly RankRange[]): Group {
    this.#usable("Range_excl");
    const out = new Set(this.#expand(ranks, "ranks"));
    return new Group(
      this.#members.filter((_, r) => !out.has(r)),
      this.#world,
    );
  }

  /** A copy of this group (`Group.Dup` in mpi4py): compares `IDENT`. */
  Dup(): Group {
    this.#usable("Dup");
    return new Group(this.#members, this.#world);
  }

  /**
   * The ranks in `group` (default: COMM_WORLD's group) of the processes whose ranks here are
   * `ranks` (default: all, in order); `UNDEFINED` for those not in `group`, `PROC_NULL` for
   * `PROC_NULL` (`MPI_Group_translate_ranks`).
   * @throws TsmpiError `ERR_TSMPI_RANK` for a rank outside `[0, size)` that is not `PROC_NULL`.
   */
  Translate_ranks(ranks: readonly number[] | null = null, group: Group | null = null): number[] {
    this.#usable("Translate_ranks");
    const list = ranks ?? this.#members.map((_, i) => i);
    if (!Array.isArray(list)) throw new TsmpiError("ERR_TSMPI_ARG", `ranks must be an array of ranks or null, got ${describeValue(list)}`);
    const target = group === null ? null : checkGroup(group, "group").worldRanks;
    const index = new Map(target?.map((w, r) => [w, r]));
    return list.map((r) => {
      if (r === PROC_NULL) return PROC_NULL;
      if (!Number.isInteger(r) || r < 0 || r >= this.#members.length) {
        throw new TsmpiError(
          "ERR_TSMPI_RANK",
          `ranks entries must be integers in [0, ${this.#members.length}) or PROC_NULL, got ${describeValue(r)}`,
        );
      }
      const w = this.#members[r]!;
      if (target === null) return w;
      return index.get(w) ?? UNDEFINED;
    });
  }

  /**
   * Compares with `group` (`MPI_Group_compare`): `IDENT` (same members, same order), `SIMILAR`
   * (same members, another order) or `UNEQUAL`.
   */
  Compare(group: Group): number {
    this.#usable("Compare");
    const b = checkGroup(group, "group").worldRanks;
    const a = this.#members;
    if (a.length !== b.length) return UNEQUAL;
    if (a.every((w, i) => w === b[i])) return IDENT;
    const set = new Set(a);
    return b.every((w) => set.has(w)) ? SIMILAR : UNEQUAL;
  }

  /** Frees the group (`MPI_Group_free`): further use throws `ERR_TSMPI_ARG`. Freeing `GROUP_EMPTY` does nothing. */
  Free(): void {
    if (this === emptyGroups.get(this.#world)) return;
    this.#freed = true;
  }

  /** Alias of {@link Free}. */
  free(): void {
    this.Free();
  }

  /** The members of `group1`, then those of `group2` not in `group1` (`MPI_Group_union`). */
  static Union(group1: Group, group2: Group): Group {
    const a = checkGroup(group1, "group1").worldRanks;
    const inA = new Set(a);
    return new Group([...a, ...checkGroup(group2, "group2").worldRanks.filter((w) => !inA.has(w))], group1.world);
  }

  /** The members of `group1` that are in `group2`, in `group1`'s order (`MPI_Group_intersection`). */
  static Intersection(group1: Group, group2: Group): Group {
    const b = new Set(checkGroup(group2, "group2").worldRanks);
    return new Group(
      checkGroup(group1, "group1").worldRanks.filter((w) => b.has(w)),
      group1.world,
    );
  }

  /** The members of `group1` that are not in `group2`, in `group1`'s order (`MPI_Group_difference`). */
  static Difference(group1: Group, group2: Group): Group {
    const b = new Set(checkGroup(group2, "group2").worldRanks);
    return new Group(
      checkGroup(group1, "group1").worldRanks.filter((w) => !b.has(w)),
      group1.world,
    );
  }

  /** `group1.Translate_ranks(ranks, group2)`, as mpi4py's `Group.Translate_ranks(group1, ranks, group2)`. */
  static Translate_ranks(group1: Group, ranks: readonly number[] | null = null, group2: Group | null = null): number[] {
    return checkGroup(group1, "group1").Translate_ranks(ranks, group2);
  }

  /** `group1.Compare(group2)`, as mpi4py's `Group.Compare(group1, group2)`. */
  static Compare(group1: Group, group2: Group): number {
    return checkGroup(group1, "group1").Compare(group2);
  }
}

/** Checks that `value` is a group. */
export function checkGroup(value: unknown, name: string): Group {
  if (value instanceof Group) return value;
  throw new TsmpiError("ERR_TSMPI_ARG", `${name} must be a Group, got ${describeValue(value)}`);
}

/** The empty group of each world (one world per process; tests may make others). */
const emptyGroups = new WeakMap<WorldView, Group>();

/** @internal The empty group (`MPI_GROUP_EMPTY`) of `world`. */
export function emptyGroup(world: WorldView): Group {
  let g = emptyGroups.get(world);
  if (!g) {
    g = new Group([], world);
    emptyGroups.set(world, g);
  }
  return g;
}
