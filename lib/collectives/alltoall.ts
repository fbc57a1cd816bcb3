/**
 * All-to-all: pairwise exchange, all N-1 sends and receives in flight at once (each rank must
 * send N-1 distinct blocks, so N-1 messages is the minimum without forwarding).
 *
 * @module
 */
import type { TypedArray } from "../serializer.js";
import { bytesOfRange } from "./blocks.js";
import type { Channel } from "./channel.js";

/** All-to-all of byte strings: rank r's `blobs[i]` goes to rank i; returns what each rank sent here. */
export async function alltoallBlobs(ch: Channel, blobs: readonly Uint8Array[]): Promise<Uint8Array[]> {
  const { rank, size: n } = ch;
  const out = new Array<Uint8Array>(n);
  out[rank] = blobs[rank]!;
  const ops: Promise<unknown>[] = [];
  for (let i = 1; i < n; i++) {
    const to = (rank + i) % n;
    const from = (rank - i + n) % n;
    ops.push(
      ch.send(to, blobs[to]!, true),
      ch.recv(from).then((b) => (out[from] = b)),
    );
  }
  await Promise.all(ops);
  return out;
}

/**
 * All-to-all of typed-array blocks: block i of `send` (`sendCounts[i]` at `sendDispls[i]`) goes
 * to rank i, whose block `rank` of `recv` receives it.
 */
export async function alltoallArray(
  ch: Channel,
  send: TypedArray,
  sendCounts: readonly number[],
  sendDispls: readonly number[],
  recv: TypedArray,
  recvCounts: readonly number[],
  recvDispls: readonly number[],
): Promise<void> {
  const { rank, size: n } = ch;
  const ops: Promise<unknown>[] = [];
  for (let i = 1; i < n; i++) {
    const to = (rank + i) % n;
    const from = (rank - i + n) % n;
    ops.push(ch.send(to, bytesOfRange(send, sendDispls[to]!, sendDispls[to]! + sendCounts[to]!)));
    ops.push(ch.recv(from, bytesOfRange(recv, recvDispls[from]!, recvDispls[from]! + recvCounts[from]!)));
  }
  (recv as Uint8Array).set(send.subarray(sendDispls[rank]!, sendDispls[rank]! + sendCounts[rank]!) as Uint8Array, recvDispls[rank]!);
  await Promise.all(ops);
}
