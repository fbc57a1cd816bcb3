/**
 * Collectives for communicators whose ranks all run on one host and may read each other's
 * memory (single copy, `process_vm_readv`; see `p2p/peer-memory.ts`). Instead of passing blocks
 * from rank to rank in N-1 lockstep steps, every rank publishes the addresses of its arrays and then reads
 * what it needs straight out of the others' memory, whether they are running or not, with only
 * barriers between phases. A predefined op on a numeric kind is applied while reading (one pass,
 * in the addon); other ops read into a scratch array and combine in JavaScript, in rank order.
 *
 * Only commutative ops use these reductions: they split arrays into blocks, and a
 * non-commutative user op always gets whole arrays.
 *
 * Before the first use by a group, its ranks check that each can read every other and agree
 * on the outcome; when one cannot, every rank falls back to the message-passing algorithm.
 *
 * @module
 */
import { TsmpiError } from "../errors.js";
import type { Op } from "../op.js";
import type { TypedArray } from "../serializer.js";
import { allgatherBlobs } from "./allgather.js";
import { barrier } from "./barrier.js";
import { borrowScratch, giveBack, splitEven } from "./blocks.js";
import type { Channel } from "./channel.js";

/** What every rank published: its addresses and the byte length of its operand, by rank. */
interface Published {
  addresses: bigint[][];
  lengths: number[];
}

/**
 * Exchanges addresses and operand sizes: every rank passes its own and gets every rank's, or
 * null when the members cannot all read each other (checked and agreed on the group's first
 * call). Every rank gets the same table, so a size mismatch ({@link checkLengths}) fails the
 * call on every rank alike, before anyone reads.
 */
async function publish(ch: Channel, addresses: readonly bigint[], byteLength: number): Promise<Published | null> {
  const mem = ch.peerMemory!;
  const canary = new BigUint64Array([0x7473_6d70_6921n]);
  const n = addresses.length;
  const mine = new BigUint64Array([...addresses, BigInt(byteLength), mem.addressOf(canary), mem.verified === undefined ? 1n : 0n]);
  const blobs = await allgatherBlobs(ch, new Uint8Array(mine.buffer));
  const all = blobs.map((b) => [...new BigUint64Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength))]);
  // Checked when any rank has not checked yet (ranks may reach a group's first call through
  // different communicators): every rank sees the same table, so all of them vote, or none.
  if (all.some((a) => a[n + 2] === 1n)) {
    let ok = true;
    const probe = new BigUint64Array(1);
    for (let r = 0; r < ch.size && ok; r++) {
      if (r === ch.rank) continue;
      try {
        mem.read(r, all[r]![n + 1]!, 8, probe, 0);
        ok = probe[0] === canary[0];
      } catch {
        ok = false;
      }
    }
    const votes = await allgatherBlobs(ch, new Uint8Array([ok ? 1 : 0]));
    mem.verified = votes.every((v) => v[0] === 1);
  }
  if (!mem.verified) return null;
  return { addresses: all.map((a) => a.slice(0, n)), lengths: all.map((a) => Number(a[n])) };
}

/**
 * Throws the same error on every rank when some rank's operand is not as long as rank `like`'s;
 * nobody has read anything yet.
 */
function checkLengths({ lengths }: Published, like: number, what: string): void {
  const want = lengths[like]!;
  const odd = lengths.findIndex((l) => l !== want);
  if (odd < 0) return;
  throw new TsmpiError(
    "ERR_TSMPI_COUNT",
    `rank ${odd}'s ${what} has ${lengths[odd]} bytes, rank ${like}'s ${want}; every rank must pass the same size`,
  );
}

/** Element range `[lo, hi)` of rank `r`'s block. */
function range(offsets: readonly number[], r: number): [number, number] {
  return [offsets[r]!, offsets[r + 1]!];
}

/**
 * Reduces block `[lo, hi)` of every rank's array at `sources[r]` into `out` (the block's
 * length), folding in rank order; this rank's own operand is `own`.
 */
function reduceBlock(ch: Channel, sources: readonly bigint[], own: TypedArray, lo: number, out: TypedArray, op: Op): void {
  const mem = ch.peerMemory!;
  const bpe = out.BYTES_PER_ELEMENT;
  const at = (r: number) => sources[r]! + BigInt(lo * bpe);
  if (op.commute) {
    // Any order will do: start from our own operand, fold the others in while reading them.
    if (out !== own) (out as Uint8Array).set(own as Uint8Array);
    let tmp: TypedArray | undefined;
    for (let r = 0; r < ch.size; r++) {
      if (r === ch.rank || mem.reduce(r, at(r), out, op.name)) continue;
      tmp ??= borrowScratch(out);
      mem.read(r, at(r), out.byteLength, tmp, 0);
      op.combine(out, out, tmp);
    }
    if (tmp) giveBack(tmp);
    return;
  }
  const mineCopy = borrowScratch(own);
  const tmp = borrowScratch(out);
  try {
    (mineCopy as Uint8Array).set(own as Uint8Array); // `out` may be `own` (IN_PLACE)
    for (let r = 0; r < ch.size; r++) {
      let operand = mineCopy;
      if (r !== ch.rank) {
        mem.read(r, at(r), out.byteLength, tmp, 0);
        operand = tmp;
      }
      if (r === 0) (out as Uint8Array).set(operand as Uint8Array);
      else op.combine(out, out, operand);
    }
  } finally {
    giveBack(mineCopy);
    giveBack(tmp);
  }
}

/**
 * Allreduce: rank r reduces block r of everyone's `send` into its `recv`; after a barrier each
 * rank reads the other reduced blocks from their owners' `recv`; a last barrier keeps every
 * rank's arrays in place until the others are done reading. False: fall back (see above).
 */
export async function allreducePeer(ch: Channel, send: TypedArray, recv: TypedArray, op: Op): Promise<boolean> {
  const mem = ch.peerMemory!;
  const pub = await publish(ch, [mem.addressOf(send), mem.addressOf(recv)], send.byteLength);
  if (!pub) return false;
  checkLengths(pub, 0, "sendbuf");
  const all = pub.addresses;
  const offsets = splitEven(send.length, ch.size, op.itemSize);
  const [lo, hi] = range(offsets, ch.rank);
  reduceBlock(
    ch,
    all.map((a) => a[0]!),
    send.subarray(lo, hi) as TypedArray,
    lo,
    recv.subarray(lo, hi) as TypedArray,
    op,
  );
  await barrier(ch);
  const bpe = recv.BYTES_PER_ELEMENT;
  for (let r = 0; r < ch.size; r++) {
    if (r === ch.rank) continue;
    const [a, b] = range(offsets, r);
    mem.read(r, all[r]![1]! + BigInt(a * bpe), (b - a) * bpe, recv, a * bpe);
  }
  await barrier(ch);
  return true;
}

/** Reduce-scatter: rank r reduces block r (`counts[r]` elements at `displs[r]`) of everyone's `send` into `recv`. */
export async function reduceScatterPeer(
  ch: Channel,
  send: TypedArray,
  recv: TypedArray,
  counts: readonly number[],
  displs: readonly number[],
  op: Op,
): Promise<boolean> {
  const mem = ch.peerMemory!;
  const pub = await publish(ch, [mem.addressOf(send)], send.byteLength);
  if (!pub) return false;
  checkLengths(pub, 0, "sendbuf");
  const all = pub.addresses;
  const lo = displs[ch.rank]!;
  const n = counts[ch.rank]!;
  reduceBlock(
    ch,
    all.map((a) => a[0]!),
    send.subarray(lo, lo + n) as TypedArray,
    lo,
    recv.subarray(0, n) as TypedArray,
    op,
  );
  await barrier(ch);
  return true;
}

/** Broadcast: every rank reads the root's bytes; a barrier keeps the root's array until all did. */
export async function bcastPeer(ch: Channel, root: number, buf: Uint8Array): Promise<boolean> {
  const mem = ch.peerMemory!;
  const pub = await publish(ch, [ch.rank === root ? mem.addressOf(buf) : 0n], buf.byteLength);
  if (!pub) return false;
  checkLengths(pub, root, "buffer");
  const all = pub.addresses;
  if (ch.rank !== root) mem.read(root, all[root]![0]!, buf.byteLength, buf, 0);
  await barrier(ch);
  return true;
}

/** Allgather: every rank reads block r (`counts[r]` at `displs[r]`) from rank r's `send`. */
export async function allgatherPeer(
  ch: Channel,
  send: TypedArray,
  recv: TypedArray,
  counts: readonly number[],
  displs: readonly number[],
): Promise<boolean> {
  const mem = ch.peerMemory!;
  const pub = await publish(ch, [mem.addressOf(send)], send.byteLength);
  if (!pub) return false;
  checkLengths(pub, 0, "sendbuf");
  const all = pub.addresses;
  const bpe = recv.BYTES_PER_ELEMENT;
  for (let r = 0; r < ch.size; r++) {
    if (r === ch.rank) (recv as Uint8Array).set(send.subarray(0, counts[r]) as Uint8Array, displs[r]!);
    else mem.read(r, all[r]![0]!, counts[r]! * bpe, recv, displs[r]! * bpe);
  }
  await barrier(ch);
  return true;
}
