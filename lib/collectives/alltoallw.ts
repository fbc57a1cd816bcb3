/**
 * `Alltoallw`: all-to-all where each block has its own count, byte displacement and element
 * kind (`MPI_Alltoallw`), in mpi4py's shape `[buf, counts, displs, types]`. Until derived
 * datatypes exist, a type is a typed-array constructor (`Float64Array` for `DOUBLE`, ...);
 * `buf` is any typed array, `DataView` or `ArrayBuffer`, and displacements are in bytes, as MPI
 * has them. Blocks travel as bytes: what rank i sends to rank j must have as many bytes as j's
 * block i (MPI's matching type signatures; the kinds are not compared).
 *
 * Not supported yet: derived datatypes as types, mpi4py's `[buf, (counts, displs), types]` form.
 *
 * @module
 */
import { IN_PLACE } from "../constants.js";
import { TsmpiError, describeValue } from "../errors.js";
import type { TypedArrayConstructor } from "../serializer.js";
import type { Channel } from "./channel.js";

const KINDS = new Set<unknown>([
  Int8Array,
  Uint8Array,
  Uint8ClampedArray,
  Int16Array,
  Uint16Array,
  Int32Array,
  Uint32Array,
  Float32Array,
  Float64Array,
  BigInt64Array,
  BigUint64Array,
]);

/** The byte block of each rank in a checked `[buf, counts, displs, types]` argument. */
function wblocks(value: unknown, size: number, name: string): { bytes: Uint8Array; blocks: Uint8Array[] } {
  if (!Array.isArray(value) || value.length !== 4) {
    throw new TsmpiError("ERR_TSMPI_TYPE", `${name} must be [buf, counts, displs, types], got ${describeValue(value)}`);
  }
  const [buf, counts, displs, types] = value as unknown[];
  let bytes: Uint8Array;
  if (buf instanceof ArrayBuffer) bytes = new Uint8Array(buf);
  else if (ArrayBuffer.isView(buf)) bytes = new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
  else throw new TsmpiError("ERR_TSMPI_TYPE", `${name} buf must be a typed array, DataView or ArrayBuffer, got ${describeValue(buf)}`);
  const list = (v: unknown, what: string): unknown[] => {
    if (!Array.isArray(v) || v.length !== size)
      throw new TsmpiError("ERR_TSMPI_COUNT", `${name} ${what} must have one entry per rank (${size}), got ${describeValue(v)}`);
    return v;
  };
  const c = list(counts, "counts");
  const d = list(displs, "displs");
  if (!KINDS.has(types) && !Array.isArray(types)) {
    throw new TsmpiError("ERR_TSMPI_TYPE", `${name} types must be a typed-array constructor or one per rank, got ${describeValue(types)}`);
  }
  const t = KINDS.has(types) ? new Array<unknown>(size).fill(types) : list(types, "types");
  return {
    bytes,
    blocks: c.map((n, i) => {
      const kind = t[i];
      if (!KINDS.has(kind))
        throw new TsmpiError(
          "ERR_TSMPI_TYPE",
          `${name} types[${i}] must be a typed-array constructor (Float64Array, Int32Array, ...), got ${describeValue(kind)}`,
        );
      const off = d[i];
      if (!Number.isInteger(n) || (n as number) < 0)
        throw new TsmpiError("ERR_TSMPI_COUNT", `${name} counts[${i}] must be a non-negative integer, got ${describeValue(n)}`);
      const length = (n as number) * (kind as TypedArrayConstructor).BYTES_PER_ELEMENT;
      if (!Number.isInteger(off) || (off as number) < 0 || (off as number) + length > bytes.byteLength) {
        throw new TsmpiError(
          "ERR_TSMPI_COUNT",
          `${name} displs[${i}] must be a byte offset in [0, ${bytes.byteLength - length}] (block ${i} of ${length} bytes in ${bytes.byteLength}), got ${describeValue(off)}`,
        );
      }
      return bytes.subarray(off as number, (off as number) + length);
    }),
  };
}

/**
 * All-to-all of per-rank typed blocks: block i of `sendbuf` goes to rank i, block j of `recvbuf`
 * comes from rank j. `IN_PLACE`: `recvbuf`'s own blocks are sent (then overwritten).
 */
export async function Alltoallw(ch: Channel, sendbuf: unknown, recvbuf: unknown): Promise<void> {
  const { rank, size: n } = ch;
  const r = wblocks(recvbuf, n, "recvbuf");
  let s: Uint8Array[];
  if (sendbuf === IN_PLACE) {
    const copy = new Uint8Array(r.bytes);
    s = r.blocks.map((b) => copy.subarray(b.byteOffset - r.bytes.byteOffset, b.byteOffset - r.bytes.byteOffset + b.byteLength));
  } else {
    s = wblocks(sendbuf, n, "sendbuf").blocks;
  }
  if (s[rank]!.byteLength !== r.blocks[rank]!.byteLength) {
    throw new TsmpiError(
      "ERR_TSMPI_COUNT",
      `sendbuf block ${rank} (${s[rank]!.byteLength} bytes) and recvbuf block ${rank} (${r.blocks[rank]!.byteLength} bytes) must match`,
    );
  }
  const ops: Promise<unknown>[] = [];
  for (let i = 1; i < n; i++) {
    const to = (rank + i) % n;
    const from = (rank - i + n) % n;
    ops.push(ch.send(to, s[to]!), ch.recv(from, r.blocks[from]!));
  }
  r.blocks[rank]!.set(s[rank]!);
  await Promise.all(ops);
}
