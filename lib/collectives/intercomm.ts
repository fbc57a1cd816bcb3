/**
 * The collectives of an intercommunicator (`Intercomm`'s `bcast`, `Allreduce`, ...), as plain
 * functions over two channels: `x`, the intercommunicator's collective channel, whose ranks
 * name the remote group, and `local`, one collective call of the local group (a failure on any of
 * its ranks fails it on all of them). MPI's rules: in a rooted call the group holding the root
 * passes `ROOT` at the root and `PROC_NULL` at its other ranks, the other group passes the root's
 * rank in the remote group; data moves from one group to the other. Each runs as a local
 * collective plus messages between the two leaders (local rank 0 on each side), or between all
 * pairs (`alltoall`). `intercomm.ts` validates the arguments and runs these; the checks it shares
 * with them are here too.
 *
 * Not supported yet: `scan`/`exscan` (undefined in MPI), the v-variants, `Reduce_scatter*`,
 * DeviceArrays.
 *
 * @module
 */
import { PROC_NULL, ROOT } from "../constants.js";
import { TsmpiError, describeValue } from "../errors.js";
import { allocateKind, bytesOf, kindCode, packObject, unpackObject, type TypedArray } from "../serializer.js";
import { checkBuffer } from "../validate.js";
import * as coll from "./api.js";
import type { Channel } from "./channel.js";

/** A root of an intercommunicator collective: ROOT, PROC_NULL, or a rank of the remote group. */
export function checkInterRoot(root: unknown, remoteSize: number): number {
  if (root === ROOT || root === PROC_NULL) return root;
  if (Number.isInteger(root) && (root as number) >= 0 && (root as number) < remoteSize) return root as number;
  throw new TsmpiError(
    "ERR_TSMPI_ROOT",
    `root must be ROOT, PROC_NULL or an integer in [0, ${remoteSize}) (a rank of the remote group), got ${describeValue(root)}`,
  );
}

/** The host typed array of a buffer argument (`[array, count]`: its first count elements). */
export function hostArray(value: unknown, name: string): TypedArray {
  if (Array.isArray(value) && value.length === 2 && Number.isInteger(value[1])) {
    const a = checkBuffer(value[0], name);
    const n = value[1] as number;
    if (n < 0 || n > a.length) throw new TsmpiError("ERR_TSMPI_COUNT", `${name}'s count must be in [0, ${a.length}], got ${n}`);
    return a.subarray(0, n) as TypedArray;
  }
  return checkBuffer(value, name);
}

/** `n` equal blocks of `array`. */
export function blocksOf(array: TypedArray, n: number, name: string): number {
  if (n === 0 ? array.length !== 0 : array.length % n !== 0) {
    throw new TsmpiError(
      "ERR_TSMPI_COUNT",
      `${name} must hold ${n} equal blocks (one per rank of the remote group), got ${array.length} elements`,
    );
  }
  return n === 0 ? 0 : array.length / n;
}

/** The leaders send `mine` to each other; resolves with the remote leader's bytes (on the leader). */
async function swap(x: Channel, mine: Uint8Array, into?: Uint8Array): Promise<Uint8Array> {
  const [got] = await Promise.all([x.recv(0, into), x.send(0, mine)]);
  return got;
}

// ---------------------------------------------------------------- object tier

/** A local barrier, the leaders' exchange, a local barrier. */
export async function barrier(x: Channel, local: Channel): Promise<void> {
  await coll.barrier(local);
  if (local.rank === 0) await swap(x, new Uint8Array(0));
  await coll.barrier(local);
}

export async function bcast(x: Channel, local: Channel, value: unknown, root: number): Promise<unknown> {
  if (root === ROOT) await x.send(0, packObject(value), true);
  if (root === ROOT || root === PROC_NULL) return undefined;
  const got = local.rank === 0 ? unpackObject(await x.recv(root)) : undefined;
  return coll.bcast(local, got, 0);
}

export async function gather(x: Channel, local: Channel, value: unknown, root: number): Promise<unknown[] | undefined> {
  if (root === ROOT) return unpackObject(await x.recv(0)) as unknown[];
  if (root === PROC_NULL) return undefined;
  const all = await coll.gather(local, value, 0);
  if (local.rank === 0) await x.send(root, packObject(all), true);
  return undefined;
}

export async function scatter(x: Channel, local: Channel, values: unknown, root: number): Promise<unknown> {
  if (root === ROOT) await x.send(0, packObject(values), true);
  if (root === ROOT || root === PROC_NULL) return undefined;
  const list = local.rank === 0 ? (unpackObject(await x.recv(root)) as unknown[]) : null;
  return coll.scatter(local, list, 0);
}

export async function allgather(x: Channel, local: Channel, value: unknown): Promise<unknown[]> {
  const mine = await coll.gather(local, value, 0);
  const theirs = local.rank === 0 ? (unpackObject(await swap(x, packObject(mine))) as unknown[]) : [];
  return coll.bcast(local, theirs, 0) as Promise<unknown[]>;
}

/** `values[j]` to remote rank j: every pair exchanges directly. */
export async function alltoall(x: Channel, values: readonly unknown[], n: number): Promise<unknown[]> {
  const got = Array.from({ length: n }, (_, j) => x.recv(j));
  await Promise.all(values.map((v, j) => x.send(j, packObject(v), true)));
  return (await Promise.all(got)).map((b) => unpackObject(b));
}

export async function reduce(x: Channel, local: Channel, value: unknown, op: unknown, root: number): Promise<unknown> {
  if (root === ROOT) return unpackObject(await x.recv(0));
  if (root === PROC_NULL) return undefined;
  const r = await coll.reduce(local, value, op, 0);
  if (local.rank === 0) await x.send(root, packObject(r), true);
  return undefined;
}

export async function allreduce(x: Channel, local: Channel, value: unknown, op: unknown): Promise<unknown> {
  const mine = await coll.reduce(local, value, op, 0);
  const theirs = local.rank === 0 ? unpackObject(await swap(x, packObject(mine))) : undefined;
  return coll.bcast(local, theirs, 0);
}

/** Every local rank's `value` and every remote rank's, in rank order (`split`, `Create` use it). */
export async function exchange(x: Channel, local: Channel, value: unknown): Promise<[unknown[], unknown[]]> {
  const mine = await coll.allgather(local, value);
  const theirs = local.rank === 0 ? (unpackObject(await swap(x, packObject(mine))) as unknown[]) : [];
  return [mine, (await coll.bcast(local, theirs, 0)) as unknown[]];
}

// ---------------------------------------------------------------- buffer tier
// The arrays are checked already (host arrays, block counts): `null` where a rank has none.

export async function Bcast(x: Channel, local: Channel, b: TypedArray | null, root: number): Promise<void> {
  if (root === PROC_NULL) return;
  if (root === ROOT) return void (await x.send(0, bytesOf(b!)));
  if (local.rank === 0) await x.recv(root, bytesOf(b!));
  await coll.Bcast(local, b, 0);
}

export async function Gather(x: Channel, local: Channel, s: TypedArray | null, r: TypedArray | null, root: number): Promise<void> {
  if (root === ROOT) return void (await x.recv(0, bytesOf(r!)));
  if (root === PROC_NULL) return;
  const all = local.rank === 0 ? allocateKind(kindCode(s!), s!.length * local.size) : null;
  await coll.Gather(local, s, all, 0);
  if (all) await x.send(root, bytesOf(all), true);
}

export async function Scatter(x: Channel, local: Channel, s: TypedArray | null, r: TypedArray | null, root: number): Promise<void> {
  if (root === ROOT) return void (await x.send(0, bytesOf(s!)));
  if (root === PROC_NULL) return;
  const all = local.rank === 0 ? allocateKind(kindCode(r!), r!.length * local.size) : null;
  if (all) await x.recv(root, bytesOf(all));
  await coll.Scatter(local, all, r, 0);
}

export async function Allgather(x: Channel, local: Channel, s: TypedArray, r: TypedArray): Promise<void> {
  const all = local.rank === 0 ? allocateKind(kindCode(s), s.length * local.size) : null;
  await coll.Gather(local, s, all, 0);
  if (all) await swap(x, bytesOf(all), bytesOf(r));
  await coll.Bcast(local, r, 0);
}

/** Block j of `s` to remote rank j, block j of `r` from it (`sb`, `rb` elements each), every pair directly. */
export async function Alltoall(x: Channel, s: TypedArray, r: TypedArray, n: number, sb: number, rb: number): Promise<void> {
  const got = Array.from({ length: n }, (_, j) => x.recv(j, bytesOf(r.subarray(j * rb, (j + 1) * rb) as TypedArray)));
  await Promise.all(Array.from({ length: n }, (_, j) => x.send(j, bytesOf(s.subarray(j * sb, (j + 1) * sb) as TypedArray))));
  await Promise.all(got);
}

export async function Reduce(
  x: Channel,
  local: Channel,
  s: TypedArray | null,
  r: TypedArray | null,
  op: unknown,
  root: number,
): Promise<void> {
  if (root === ROOT) return void (await x.recv(0, bytesOf(r!)));
  if (root === PROC_NULL) return;
  const acc = local.rank === 0 ? allocateKind(kindCode(s!), s!.length) : null;
  await coll.Reduce(local, s, acc, op, 0);
  if (acc) await x.send(root, bytesOf(acc), true);
}

export async function Allreduce(x: Channel, local: Channel, s: TypedArray, r: TypedArray, op: unknown): Promise<void> {
  const acc = local.rank === 0 ? allocateKind(kindCode(s), s.length) : null;
  await coll.Reduce(local, s, acc, op, 0);
  if (acc) await swap(x, bytesOf(acc), bytesOf(r));
  await coll.Bcast(local, r, 0);
}
