/**
 * `Status`: what a receive or probe learned about the message (`MPI_Status`).
 *
 * Not yet implemented: `MPI_Get_elements` for derived datatypes (there are none).
 *
 * @module
 */
import { ANY_SOURCE, ANY_TAG, UNDEFINED } from "./constants.js";

/**
 * The source, tag and size of a received or probed message. Pass one to `recv`, `Recv`,
 * `probe`, `iprobe` or `Request.wait` and it is filled in; a false `iprobe` leaves it untouched.
 *
 * `count` is the number of elements for a buffer-tier message (in the receiving array's kind;
 * for a probe, in the sender's kind) and the number of serialized bytes for an object-tier
 * message, as mpi4py's `Status.Get_count()`.
 *
 * @example
 * ```ts
 * const st = new Status();
 * const v = await comm.recv(ANY_SOURCE, ANY_TAG, st);
 * console.log(`got ${st.count} bytes from ${st.source} with tag ${st.tag}`);
 * ```
 */
export class Status {
  /** Rank of the sender in the communicator; `ANY_SOURCE` until filled, `PROC_NULL` for a null receive. */
  source: number = ANY_SOURCE;
  /** Tag of the message; `ANY_TAG` until filled. */
  tag: number = ANY_TAG;
  /** Elements (buffer tier) or serialized bytes (object tier) of the message. */
  count = 0;
  /** True when the request this status describes was cancelled. */
  cancelled = false;
  /** Error code of the operation (0: success), as `MPI_ERROR`. */
  error = 0;
  /** Size of the message payload in bytes (all tiers). */
  byteCount = 0;

  /** `MPI_Get_source`. */
  getSource(): number {
    return this.source;
  }
  /** `MPI_Get_tag`. */
  getTag(): number {
    return this.tag;
  }
  /**
   * `MPI_Get_count`: the message size in units of `bytesPerElement` (default 1, i.e. bytes,
   * as mpi4py's `Get_count()` with `MPI.BYTE`), or `UNDEFINED` when it is not a whole number.
   */
  getCount(bytesPerElement = 1): number {
    const n = this.byteCount / bytesPerElement;
    return Number.isInteger(n) ? n : UNDEFINED;
  }
  /** `MPI_Test_cancelled`. */
  isCancelled(): boolean {
    return this.cancelled;
  }
}

/** Fills `status` (when given) for a completed receive. @internal */
export function fillStatus(status: Status | undefined, source: number, tag: number, count: number, byteCount: number): void {
  if (!status) return;
  status.source = source;
  status.tag = tag;
  status.count = count;
  status.byteCount = byteCount;
  status.cancelled = false;
  status.error = 0;
}
