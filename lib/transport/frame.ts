/**
 * The wire header: the one codec every tsmpi message goes through.
 *
 * A message travels as one ZeroMQ multipart message `[header(+inline payload), payload?]`;
 * a payload larger than the chunk size continues in `CHUNK` messages from the same sender, which
 * ZeroMQ keeps in order on that connection. Header layout (little endian, 48 bytes):
 *
 * | offset | type | field |
 * |---|---|---|
 * | 0 | u8 | kind: MSG, ACK, CHUNK, RESEND or BYE |
 * | 1 | u8 | flags: SYNC (ack on match), ARRIVAL (ack once all bytes arrived), RAW (typed-array bytes, not msgpack), INLINE (payload follows the header in this frame), PEER (the payload stays in the sender's memory; the frame after the header holds its address) |
 * | 2 | u8 | typed-array kind code of a RAW payload |
 * | 3 | u8 | collective algorithm id (0 for point-to-point): ranks that chose different algorithms notice |
 * | 4 | i32 | source: the sender's rank in the communicator |
 * | 8 | i32 | tag |
 * | 12 | u32 | the sender's world rank (where acks go; which CHUNKs continue which message) |
 * | 16 | f64 | context id (52-bit integer) |
 * | 24 | u32 | sequence number: the sender's id for this message (matches acks and chunks) |
 * | 32 | f64 | total payload bytes (BYE: how many of the receiver's messages the sender received) |
 * | 40 | 2 x u32 | job token: derived from the job key; a frame without it is dropped |
 *
 * @module
 */

import { constants } from "node:buffer";
import { TsmpiError } from "../errors.js";

export const HEADER_BYTES = 48;

/** A user message (first piece). */
export const KIND_MSG = 1;
/** An acknowledgement of message `seq` (flags say which: SYNC = matched, ARRIVAL = all bytes here). */
export const KIND_ACK = 2;
/** A further piece of the large message `seq` from world rank `wsrc`. */
export const KIND_CHUNK = 3;
/** A receiver that could not read PEER message `seq` from the sender's memory asks for its bytes as CHUNKs. */
export const KIND_RESEND = 4;
/**
 * The sender finished (its script ended): it receives nothing more. `total` says how many
 * messages from the frame's receiver it received, so that the receiver can tell how many of
 * its own were never received, and drop what it still queues for the sender.
 */
export const KIND_BYE = 5;

/**
 * The largest payload a message may announce: what this process can allocate as one buffer
 * (`buffer.constants.MAX_LENGTH`). A larger `total` can only come from a broken or hostile peer.
 */
export const MAX_TOTAL = constants.MAX_LENGTH;

export const FLAG_SYNC = 1;
export const FLAG_ARRIVAL = 2;
export const FLAG_RAW = 4;
export const FLAG_INLINE = 8;
export const FLAG_PEER = 16;

/** A decoded header. */
export interface Header {
  kind: number;
  flags: number;
  dtype: number;
  /** Collective algorithm id (0: none). */
  algo: number;
  src: number;
  tag: number;
  wsrc: number;
  ctx: number;
  seq: number;
  total: number;
  /** The job token (two 32-bit halves). */
  token0: number;
  token1: number;
}

/**
 * Encodes a header into a new buffer with `inlineBytes` spare bytes after it (for an inline
 * payload the caller copies in at offset {@link HEADER_BYTES}).
 */
export function encodeHeader(h: Header, inlineBytes = 0): Buffer {
  const b = Buffer.allocUnsafe(HEADER_BYTES + inlineBytes);
  b[0] = h.kind;
  b[1] = h.flags;
  b[2] = h.dtype;
  b[3] = h.algo;
  b.writeInt32LE(h.src, 4);
  b.writeInt32LE(h.tag, 8);
  b.writeUInt32LE(h.wsrc, 12);
  b.writeDoubleLE(h.ctx, 16);
  b.writeUInt32LE(h.seq, 24);
  b.writeUInt32LE(0, 28);
  b.writeDoubleLE(h.total, 32);
  b.writeUInt32LE(h.token0, 40);
  b.writeUInt32LE(h.token1, 44);
  return b;
}

/**
 * Decodes the header at the start of `b`.
 * @throws TsmpiError `ERR_TSMPI_TRANSPORT` when `b` is shorter than {@link HEADER_BYTES}.
 */
export function decodeHeader(b: Buffer): Header {
  if (b.byteLength < HEADER_BYTES)
    throw new TsmpiError("ERR_TSMPI_TRANSPORT", `a header frame must have at least ${HEADER_BYTES} bytes, got ${b.byteLength}`);
  return {
    kind: b[0]!,
    flags: b[1]!,
    dtype: b[2]!,
    algo: b[3]!,
    src: b.readInt32LE(4),
    tag: b.readInt32LE(8),
    wsrc: b.readUInt32LE(12),
    ctx: b.readDoubleLE(16),
    seq: b.readUInt32LE(24),
    total: b.readDoubleLE(32),
    token0: b.readUInt32LE(40),
    token1: b.readUInt32LE(44),
  };
}

/**
 * What is wrong with the shape of a message whose header `h` decoded from `frames[0]`: the
 * frame count, lengths that disagree with the header, a kind this codec does not know, a
 * total or context that is no integer, a sender outside `[0, worldSize)`. `undefined` when it
 * is well formed (the receiver still checks what needs its state: the message a CHUNK
 * continues). Returns `[category, detail]`; the category names the kind of problem for
 * one-warning-per-kind reporting.
 */
export function frameProblem(h: Header, frames: readonly Buffer[], worldSize: number): [string, string] | undefined {
  if (frames.length > 2) return ["shape", `a message of ${frames.length} frames (at most 2)`];
  if (worldSize > 0 && h.wsrc >= worldSize) return ["sender", `a frame claiming world rank ${h.wsrc} (the job has ${worldSize})`];
  switch (h.kind) {
    case KIND_ACK:
    case KIND_RESEND:
      return frames.length === 1 ? undefined : ["shape", `an ${h.kind === KIND_ACK ? "ACK" : "RESEND"} with ${frames.length} frames`];
    case KIND_BYE:
      if (frames.length !== 1) return ["shape", `a BYE with ${frames.length} frames`];
      return Number.isSafeInteger(h.total) && h.total >= 0 ? undefined : ["shape", `a BYE counting ${h.total} messages`];
    case KIND_CHUNK:
      return frames.length === 2 ? undefined : ["shape", `a CHUNK without its piece`];
    case KIND_MSG:
      break;
    default:
      return ["kind", `a frame of unknown kind ${h.kind}`];
  }
  if (!Number.isSafeInteger(h.total) || h.total < 0 || h.total > MAX_TOTAL)
    return ["shape", `a message announcing ${h.total} payload bytes (at most ${MAX_TOTAL})`];
  if (!Number.isSafeInteger(h.ctx) || h.ctx < 0) return ["shape", `a message on context ${h.ctx}`];
  const rest = frames[0]!.byteLength - HEADER_BYTES;
  // A single-copy message carries its address in a second frame, never an inline payload.
  if (h.flags & FLAG_INLINE && h.flags & FLAG_PEER) return ["shape", `a message flagged both inline and single-copy`];
  if (h.flags & FLAG_INLINE) {
    if (frames.length !== 1 || rest !== h.total)
      return ["shape", `an inline message of ${h.total} bytes carrying ${rest} bytes in ${frames.length} frames`];
    return undefined;
  }
  if (frames.length !== 2 || rest !== 0)
    return ["shape", `a message of ${h.total} bytes in ${frames.length} frames with ${rest} bytes after its header`];
  if (h.flags & FLAG_PEER)
    return frames[1]!.byteLength === 8 ? undefined : ["shape", `a single-copy message whose address has ${frames[1]!.byteLength} bytes`];
  if (frames[1]!.byteLength > h.total) return ["shape", `a message of ${h.total} bytes whose first piece has ${frames[1]!.byteLength}`];
  return undefined;
}
