/**
 * Entry points of every collective: check the arguments, choose the algorithm, run it on the
 * call's {@link Channel}. `Comm` methods are thin wrappers over these. Checks run inside the
 * call, so a rank whose arguments are wrong fails the call on every rank instead of leaving the
 * others waiting (see `channel.ts`).
 *
 * Object tier: values are serialized once (msgpack) and forwarded as bytes. Buffer tier: typed
 * arrays move as raw bytes into the caller's arrays.
 *
 * IN_PLACE works where MPI defines it: as the send buffer of the reductions, `Allgather(v)`,
 * `Alltoall(v)`, the root's `Gather(v)`, and as the root's receive buffer of `Scatter(v)`.
 * The neighbourhood collectives are in `neighbor.ts`, called from `topology/topocomm.ts`.
 *
 * @module
 */
import { IN_PLACE } from "../constants.js";
import { TsmpiError, describeValue } from "../errors.js";
import { checkOp, type Op } from "../op.js";
import { isTypedArray, packObject, unpackObject, type TypedArray } from "../serializer.js";
import { checkBuffer, checkLength, checkRoot, checkSameKind, checkVBuffer, type VBuffer } from "../validate.js";
import { allgatherBlobs, allgatherBruck, allgatherRing } from "./allgather.js";
import { allreduceArrayGather, allreduceArrayReduceBcast, allreduceArrayRing, allreduceValues } from "./allreduce.js";
import { alltoallArray, alltoallBlobs } from "./alltoall.js";
import { barrier as barrierAlgo } from "./barrier.js";
import { bytesOfRange, copyOf, packedDispls, scratch } from "./blocks.js";
import { bcastBinomial, bcastScatterRing } from "./bcast.js";
import type { Channel } from "./channel.js";
import { gatherArray, gatherBlobs, gathervArray, scatterArray, scatterBlobs, scattervArray } from "./gather.js";
import { reduceArrayBinomial, reduceArrayRing, reduceValues } from "./reduce.js";
import { reduceScatterArray } from "./reduce-scatter.js";
import { scanArray, scanValues } from "./scan.js";
import { adopt, chooseAllgather, chooseAllreduce, chooseBcast, chooseReduce, chooseReduceScatter, chooseRooted } from "./select.js";
import { allgatherPeer, allreducePeer, bcastPeer, reduceScatterPeer } from "./peer.js";

function uniform(n: number, count: number): { counts: number[]; displs: number[] } {
  const counts = new Array<number>(n).fill(count);
  return { counts, displs: packedDispls(counts) };
}

function checkList(values: unknown, n: number, name: string): unknown[] {
  if (!Array.isArray(values))
    throw new TsmpiError("ERR_TSMPI_TYPE", `${name} must be an array with one entry per rank (${n}), got ${describeValue(values)}`);
  if (values.length !== n) throw new TsmpiError("ERR_TSMPI_COUNT", `${name} must have one entry per rank (${n}), got ${values.length}`);
  return values;
}

// ------------------------------------------------------------------ object tier

export function barrier(ch: Channel): Promise<void> {
  return barrierAlgo(ch);
}

export async function bcast(ch: Channel, value: unknown, root: number): Promise<unknown> {
  checkRoot(root, ch.size);
  const data = ch.rank === root ? packObject(value) : undefined;
  return unpackObject(await bcastBinomial(ch, root, data, undefined, true));
}

export async function scatter(ch: Channel, values: unknown, root: number): Promise<unknown> {
  checkRoot(root, ch.size);
  const blobs = ch.rank === root ? checkList(values, ch.size, "the scatter list").map(packObject) : undefined;
  return unpackObject(await scatterBlobs(ch, root, blobs));
}

export async function gather(ch: Channel, value: unknown, root: number): Promise<unknown[] | undefined> {
  checkRoot(root, ch.size);
  return (await gatherBlobs(ch, root, packObject(value)))?.map(unpackObject);
}

export async function allgather(ch: Channel, value: unknown): Promise<unknown[]> {
  return (await allgatherBlobs(ch, packObject(value))).map(unpackObject);
}

export async function alltoall(ch: Channel, values: unknown): Promise<unknown[]> {
  const blobs = checkList(values, ch.size, "the alltoall list").map(packObject);
  return (await alltoallBlobs(ch, blobs)).map(unpackObject);
}

/** The op of an object-tier reduction, checked against this rank's value when that is a typed array. */
function valueOp(op: unknown, value: unknown): Op {
  const o = checkOp(op);
  if (isTypedArray(value)) o.checkOperand(value);
  return o;
}

export function reduce(ch: Channel, value: unknown, op: unknown, root: number): Promise<unknown> {
  checkRoot(root, ch.size);
  return reduceValues(ch, root, value, valueOp(op, value));
}

export function allreduce(ch: Channel, value: unknown, op: unknown): Promise<unknown> {
  return allreduceValues(ch, value, valueOp(op, value));
}

export function scan(ch: Channel, value: unknown, op: unknown, exclusive: boolean): Promise<unknown> {
  return scanValues(ch, value, valueOp(op, value), exclusive);
}

// ------------------------------------------------------------------ buffer tier

export async function Bcast(ch: Channel, buf: unknown, root: number): Promise<void> {
  checkRoot(root, ch.size);
  const bytes = bytesOfRange(checkBuffer(buf, "buf"));
  const algo = adopt(ch, "bcast", chooseBcast(bytes.byteLength, ch.size, Boolean(ch.peerMemory)));
  if (algo === "peer" && (await bcastPeer(ch, root, bytes))) return;
  if (algo === "scatter-ring" || (algo === "peer" && ch.size > 2)) return bcastScatterRing(ch, root, bytes);
  const isRoot = ch.rank === root;
  await bcastBinomial(ch, root, isRoot ? bytes : undefined, isRoot ? undefined : bytes);
}

export function Scatter(ch: Channel, sendbuf: unknown, recvbuf: unknown, root: number): Promise<void> {
  checkRoot(root, ch.size);
  if (ch.rank === root && recvbuf === IN_PLACE) {
    // the root's block stays where it is in sendbuf; what it "receives" goes nowhere
    const send = checkBuffer(sendbuf, "sendbuf");
    if (send.length % ch.size !== 0)
      throw new TsmpiError("ERR_TSMPI_COUNT", `sendbuf length ${send.length} is not a multiple of the ${ch.size} ranks`);
    return scatterBlocks(ch, root, send, scratch(send, send.length / ch.size));
  }
  const recv = checkBuffer(recvbuf, "recvbuf");
  let send: TypedArray | null = null;
  if (ch.rank === root) {
    send = checkBuffer(sendbuf, "sendbuf");
    checkSameKind(send, recv, "sendbuf and recvbuf");
    checkLength(send, ch.size * recv.length, "sendbuf", `${ch.size} ranks × ${recv.length} elements of recvbuf`);
  }
  return scatterBlocks(ch, root, send, recv);
}

/** Scatter of equal blocks: binomial tree, or straight from the root to each rank for large blocks. */
function scatterBlocks(ch: Channel, root: number, send: TypedArray | null, recv: TypedArray): Promise<void> {
  if (adopt(ch, "scatter", chooseRooted("scatter", recv.byteLength, ch.size)) === "binomial") return scatterArray(ch, root, send, recv);
  const { counts, displs } = uniform(ch.size, recv.length);
  return scattervArray(ch, root, send, recv, counts, displs);
}

/** Gather of equal blocks: binomial tree, or straight from each rank to the root for large blocks. */
function gatherBlocks(ch: Channel, root: number, send: TypedArray, recv: TypedArray | null): Promise<void> {
  if (adopt(ch, "gather", chooseRooted("gather", send.byteLength, ch.size)) === "binomial") return gatherArray(ch, root, send, recv);
  const { counts, displs } = uniform(ch.size, send.length);
  return gathervArray(ch, root, send, recv, counts, displs);
}

export function Gather(ch: Channel, sendbuf: unknown, recvbuf: unknown, root: number): Promise<void> {
  checkRoot(root, ch.size);
  if (ch.rank !== root) return gatherBlocks(ch, root, checkBuffer(sendbuf, "sendbuf"), null);
  const recv = checkBuffer(recvbuf, "recvbuf");
  let send: TypedArray;
  if (sendbuf === IN_PLACE) {
    if (recv.length % ch.size !== 0)
      throw new TsmpiError("ERR_TSMPI_COUNT", `recvbuf length ${recv.length} is not a multiple of the ${ch.size} ranks`);
    const count = recv.length / ch.size;
    send = copyOf(recv.subarray(root * count, (root + 1) * count) as TypedArray);
  } else {
    send = checkBuffer(sendbuf, "sendbuf");
    checkSameKind(send, recv, "sendbuf and recvbuf");
    checkLength(recv, ch.size * send.length, "recvbuf", `${ch.size} ranks × ${send.length} elements of sendbuf`);
  }
  return gatherBlocks(ch, root, send, recv);
}

export async function Allgather(ch: Channel, sendbuf: unknown, recvbuf: unknown): Promise<void> {
  const recv = checkBuffer(recvbuf, "recvbuf");
  let send: TypedArray;
  if (sendbuf === IN_PLACE) {
    if (recv.length % ch.size !== 0)
      throw new TsmpiError("ERR_TSMPI_COUNT", `recvbuf length ${recv.length} is not a multiple of the ${ch.size} ranks`);
    const count = recv.length / ch.size;
    send = copyOf(recv.subarray(ch.rank * count, (ch.rank + 1) * count) as TypedArray);
  } else {
    send = checkBuffer(sendbuf, "sendbuf");
    checkSameKind(send, recv, "sendbuf and recvbuf");
    checkLength(recv, ch.size * send.length, "recvbuf", `${ch.size} ranks × ${send.length} elements of sendbuf`);
  }
  const algo = adopt(ch, "allgather", chooseAllgather(send.byteLength, ch.size, Boolean(ch.peerMemory)));
  if (algo === "bruck") return allgatherBruck(ch, send, recv);
  const { counts, displs } = uniform(ch.size, send.length);
  if (algo === "peer" && (await allgatherPeer(ch, send, recv, counts, displs))) return;
  (recv as Uint8Array).set(send as Uint8Array, displs[ch.rank]!);
  await allgatherRing(ch, recv, counts, displs);
}

export function Alltoall(ch: Channel, sendbuf: unknown, recvbuf: unknown): Promise<void> {
  const recv = checkBuffer(recvbuf, "recvbuf");
  const send = sendbuf === IN_PLACE ? copyOf(recv) : checkBuffer(sendbuf, "sendbuf");
  checkSameKind(send, recv, "sendbuf and recvbuf");
  if (send.length % ch.size !== 0)
    throw new TsmpiError("ERR_TSMPI_COUNT", `sendbuf length ${send.length} is not a multiple of the ${ch.size} ranks`);
  checkLength(recv, send.length, "recvbuf", "the length of sendbuf");
  const { counts, displs } = uniform(ch.size, send.length / ch.size);
  return alltoallArray(ch, send, counts, displs, recv, counts, displs);
}

/** The operand of a reduction: `sendbuf`, or for IN_PLACE a copy of `recv`; checked against `op`. */
function operand(sendbuf: unknown, recv: TypedArray, op: Op): TypedArray {
  if (sendbuf === IN_PLACE) {
    op.checkOperand(recv);
    return copyOf(recv);
  }
  const send = checkBuffer(sendbuf, "sendbuf");
  checkSameKind(send, recv, "sendbuf and recvbuf");
  checkLength(recv, send.length, "recvbuf", "the length of sendbuf");
  op.checkOperand(send);
  return send;
}

export async function Reduce(ch: Channel, sendbuf: unknown, recvbuf: unknown, op: unknown, root: number): Promise<void> {
  checkRoot(root, ch.size);
  const o = checkOp(op);
  let send: TypedArray;
  let recv: TypedArray | null = null;
  if (ch.rank === root) {
    recv = checkBuffer(recvbuf, "recvbuf");
    send = operand(sendbuf, recv, o);
  } else {
    send = checkBuffer(sendbuf, "sendbuf");
    o.checkOperand(send);
  }
  if (adopt(ch, "reduce", chooseReduce(send.byteLength, ch.size, o)) === "ring") return reduceArrayRing(ch, root, send, recv, o);
  return reduceArrayBinomial(ch, root, send, recv, o);
}

export async function Allreduce(ch: Channel, sendbuf: unknown, recvbuf: unknown, op: unknown): Promise<void> {
  const o = checkOp(op);
  const recv = checkBuffer(recvbuf, "recvbuf");
  // gather and ring read all of `send` before they write `recv`: IN_PLACE needs no copy there
  const inPlace = sendbuf === IN_PLACE;
  if (inPlace) o.checkOperand(recv);
  const send = inPlace ? recv : operand(sendbuf, recv, o);
  const algo = adopt(ch, "allreduce", chooseAllreduce(send.byteLength, ch.size, o, Boolean(ch.peerMemory)));
  if (algo === "gather") return allreduceArrayGather(ch, send, recv, o);
  if (algo === "peer" && (await allreducePeer(ch, send, recv, o))) return;
  if (algo === "ring" || (algo === "peer" && o.commute)) return allreduceArrayRing(ch, send, recv, o);
  return allreduceArrayReduceBcast(ch, inPlace ? copyOf(recv) : send, recv, o);
}

export function Reduce_scatter_block(ch: Channel, sendbuf: unknown, recvbuf: unknown, op: unknown): Promise<void> {
  const o = checkOp(op);
  let recv = checkBuffer(recvbuf, "recvbuf");
  let send: TypedArray;
  if (sendbuf === IN_PLACE) {
    // recvbuf holds every rank's block of the operand; this rank's result goes to its start
    if (recv.length % ch.size !== 0)
      throw new TsmpiError("ERR_TSMPI_COUNT", `recvbuf length ${recv.length} is not a multiple of the ${ch.size} ranks`);
    send = copyOf(recv);
    recv = recv.subarray(0, recv.length / ch.size) as TypedArray;
  } else {
    send = checkBuffer(sendbuf, "sendbuf");
  }
  checkSameKind(send, recv, "sendbuf and recvbuf");
  checkLength(send, ch.size * recv.length, "sendbuf", `${ch.size} ranks × ${recv.length} elements of recvbuf`);
  o.checkOperand(recv);
  o.checkOperand(send);
  return reduceScatter(ch, send, recv, new Array<number>(ch.size).fill(recv.length), o);
}

export function Reduce_scatter(ch: Channel, sendbuf: unknown, recvbuf: unknown, recvcounts: unknown, op: unknown): Promise<void> {
  const o = checkOp(op);
  const recv = checkBuffer(recvbuf, "recvbuf");
  // IN_PLACE: recvbuf holds the whole operand; this rank's block of the result goes to its start
  const send = sendbuf === IN_PLACE ? copyOf(recv) : checkBuffer(sendbuf, "sendbuf");
  checkSameKind(send, recv, "sendbuf and recvbuf");
  const counts = checkList(recvcounts, ch.size, "recvcounts") as number[];
  if (!counts.every((c) => Number.isInteger(c) && c >= 0))
    throw new TsmpiError("ERR_TSMPI_COUNT", `recvcounts must be non-negative integers, got [${counts.join(", ")}]`);
  const total = counts.reduce((a, b) => a + b, 0);
  checkLength(send, total, "sendbuf", `the sum of recvcounts`);
  if (recv.length < counts[ch.rank]!)
    throw new TsmpiError(
      "ERR_TSMPI_COUNT",
      `recvbuf must hold recvcounts[${ch.rank}] = ${counts[ch.rank]} elements, got ${describeValue(recv)}`,
    );
  for (const c of counts) o.checkOperand(send.subarray(0, c) as TypedArray); // every block: whole items of a kind the op takes
  return reduceScatter(ch, send, recv, counts, o);
}

async function reduceScatter(ch: Channel, send: TypedArray, recv: TypedArray, counts: readonly number[], o: Op): Promise<void> {
  if (adopt(ch, "reduce_scatter", chooseReduceScatter(send.byteLength, o, Boolean(ch.peerMemory))) === "peer") {
    if (await reduceScatterPeer(ch, send, recv, counts, packedDispls(counts), o)) return;
  }
  return reduceScatterArray(ch, send, recv, counts, o);
}

export function Scan(ch: Channel, sendbuf: unknown, recvbuf: unknown, op: unknown, exclusive: boolean): Promise<void> {
  const o = checkOp(op);
  const recv = checkBuffer(recvbuf, "recvbuf");
  return scanArray(ch, operand(sendbuf, recv, o), recv, o, exclusive);
}

export function Scatterv(ch: Channel, sendbuf: unknown, recvbuf: unknown, root: number): Promise<void> {
  checkRoot(root, ch.size);
  if (ch.rank === root && recvbuf === IN_PLACE) {
    const v = checkVBuffer(sendbuf, ch.size, "sendbuf");
    return scattervArray(ch, root, v.array, scratch(v.array, v.counts[root]), v.counts, v.displs);
  }
  const recv = checkBuffer(recvbuf, "recvbuf");
  let v: VBuffer | null = null;
  if (ch.rank === root) {
    v = checkVBuffer(sendbuf, ch.size, "sendbuf");
    checkSameKind(v.array, recv, "sendbuf and recvbuf");
    checkLength(recv, v.counts[root]!, "recvbuf", `sendbuf counts[${root}]`);
  }
  return scattervArray(ch, root, v?.array ?? null, recv, v?.counts ?? null, v?.displs ?? null);
}

export function Gatherv(ch: Channel, sendbuf: unknown, recvbuf: unknown, root: number): Promise<void> {
  checkRoot(root, ch.size);
  if (ch.rank !== root) return gathervArray(ch, root, checkBuffer(sendbuf, "sendbuf"), null, [], []);
  const v = checkVBuffer(recvbuf, ch.size, "recvbuf");
  const send =
    sendbuf === IN_PLACE
      ? copyOf(v.array.subarray(v.displs[root], v.displs[root]! + v.counts[root]!) as TypedArray)
      : checkBuffer(sendbuf, "sendbuf");
  checkSameKind(send, v.array, "sendbuf and recvbuf");
  checkLength(send, v.counts[root]!, "sendbuf", `recvbuf counts[${root}]`);
  return gathervArray(ch, root, send, v.array, v.counts, v.displs);
}

export function Allgatherv(ch: Channel, sendbuf: unknown, recvbuf: unknown): Promise<void> {
  const v = checkVBuffer(recvbuf, ch.size, "recvbuf");
  if (sendbuf !== IN_PLACE) {
    // IN_PLACE: this rank's block is already in place
    const send = checkBuffer(sendbuf, "sendbuf");
    checkSameKind(send, v.array, "sendbuf and recvbuf");
    checkLength(send, v.counts[ch.rank]!, "sendbuf", `recvbuf counts[${ch.rank}]`);
    (v.array as Uint8Array).set(send as Uint8Array, v.displs[ch.rank]!);
  }
  return allgatherRing(ch, v.array, v.counts, v.displs);
}

export function Alltoallv(ch: Channel, sendbuf: unknown, recvbuf: unknown): Promise<void> {
  const r = checkVBuffer(recvbuf, ch.size, "recvbuf");
  // IN_PLACE: what is sent is recvbuf's own blocks (its counts and displacements), as MPI says
  const s = sendbuf === IN_PLACE ? { ...r, array: copyOf(r.array) } : checkVBuffer(sendbuf, ch.size, "sendbuf");
  checkSameKind(s.array, r.array, "sendbuf and recvbuf");
  if (s.counts[ch.rank] !== r.counts[ch.rank]) {
    throw new TsmpiError(
      "ERR_TSMPI_COUNT",
      `sendbuf counts[${ch.rank}] (${s.counts[ch.rank]}) and recvbuf counts[${ch.rank}] (${r.counts[ch.rank]}) must match`,
    );
  }
  return alltoallArray(ch, s.array, s.counts, s.displs, r.array, r.counts, r.displs);
}
