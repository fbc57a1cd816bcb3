/**
 * `Status`: what a receive or probe learned about the message (`MPI_Status`).
 *
 * The datatype argument of mpi4py's `Get_count`, `Get_elements` and `Set_elements` is a
 * typed-array constructor (`Float64Array` for `DOUBLE`, `Uint8Array` for `BYTE`), as in
 * `Alltoallw`; left out, it is `BYTE`.
 *
 * Not yet implemented: derived datatypes as that argument (there are none yet; {@link unitBytes}
 * is where they plug in, and `Get_elements` must then count their basic elements).
 *
 * @module
 */
import { ANY_SOURCE, ANY_TAG, UNDEFINED } from "./constants.js";
import { TsmpiError, describeValue } from "./errors.js";
import type { TypedArrayConstructor } from "./serializer.js";

/** `%TypedArray%`, the class every typed-array constructor extends. */
const TypedArrayBase = Object.getPrototypeOf(Int8Array) as abstract new () => object;

/** The bytes of one element of `datatype` (a typed-array constructor), checked. */
function unitBytes(datatype: unknown): number {
  if (typeof datatype === "function" && datatype.prototype instanceof TypedArrayBase) {
    return (datatype as TypedArrayConstructor).BYTES_PER_ELEMENT;
  }
  throw new TsmpiError("ERR_TSMPI_TYPE", `datatype must be a typed-array constructor (e.g. Float64Array), got ${describeValue(datatype)}`);
}

/**
 * The source, tag and size of a received or probed message. Pass one to `recv`, `Recv`,
 * `probe`, `iprobe` or `Request.wait` and it is filled in; a false `iprobe` leaves it untouched.
 *
 * `count` is the number of elements for a buffer-tier message (in the receiving array's kind;
 * for a probe, in the sender's kind) and the number of serialized bytes for an object-tier
 * message, as mpi4py's `Status.Get_count()`. (mpi4py's `count` property is always bytes; here
 * `Get_count()` gives bytes, `Get_count(Float64Array)` elements of that kind.)
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

  /**
   * A status with mpi4py's defaults (`source` `ANY_SOURCE`, `tag` `ANY_TAG`, `error` 0), or a
   * copy of `status` (mpi4py's `Status(status)`).
   * @throws TsmpiError `ERR_TSMPI_ARG` when `status` is given and not a Status.
   */
  constructor(status?: Status) {
    if (status === undefined) return;
    if (!(status instanceof Status)) throw new TsmpiError("ERR_TSMPI_ARG", `status must be a Status, got ${describeValue(status)}`);
    Object.assign(this, {
      source: status.source,
      tag: status.tag,
      count: status.count,
      cancelled: status.cancelled,
      error: status.error,
      byteCount: status.byteCount,
    });
  }

  /** The message source (`MPI_Status.MPI_SOURCE`). */
  Get_source(): number {
    return this.source;
  }
  /** Sets the message source (`MPI_Status_set_source`). */
  Set_source(source: number): void {
    this.source = source;
  }
  /** The message tag (`MPI_Status.MPI_TAG`). */
  Get_tag(): number {
    return this.tag;
  }
  /** Sets the message tag (`MPI_Status_set_tag`). */
  Set_tag(tag: number): void {
    this.tag = tag;
  }
  /** The error code (`MPI_Status.MPI_ERROR`; 0 is success). */
  Get_error(): number {
    return this.error;
  }
  /** Sets the error code (`MPI_Status_set_error`). */
  Set_error(error: number): void {
    this.error = error;
  }

  /**
   * `MPI_Get_count`: how many elements of `datatype` the message held: its bytes divided by
   * `datatype.BYTES_PER_ELEMENT` (left out: `BYTE`, so bytes; for an object-tier message, the
   * serialized bytes, as mpi4py), or `UNDEFINED` when that is not a whole number.
   * @param datatype A typed-array constructor standing for the datatype (`Float64Array` for `DOUBLE`).
   * @throws TsmpiError `ERR_TSMPI_TYPE` when `datatype` is not a typed-array constructor.
   * @example
   * ```ts
   * await comm.Recv(buf, 0, 0, st);          // buf a Float64Array
   * st.Get_count(Float64Array);             // elements received
   * st.Get_count();                         // bytes received
   * ```
   */
  Get_count(datatype: TypedArrayConstructor = Uint8Array): number {
    const n = this.byteCount / unitBytes(datatype);
    return Number.isInteger(n) ? n : UNDEFINED;
  }

  /**
   * `MPI_Get_elements`: how many basic elements of `datatype` the message held. For the
   * typed-array kinds (each one basic element) it equals {@link Get_count}.
   * @throws TsmpiError `ERR_TSMPI_TYPE` when `datatype` is not a typed-array constructor.
   */
  Get_elements(datatype: TypedArrayConstructor): number {
    return this.Get_count(datatype);
  }

  /**
   * `MPI_Status_set_elements`: records a message of `count` elements of `datatype` (what a
   * generalized request's query function does); `count` and {@link Get_count} follow.
   * @throws TsmpiError `ERR_TSMPI_TYPE` for a bad `datatype`, `ERR_TSMPI_COUNT` for a `count`
   *   that is not a non-negative integer.
   */
  Set_elements(datatype: TypedArrayConstructor, count: number): void {
    const bytes = unitBytes(datatype);
    if (!Number.isSafeInteger(count) || count < 0)
      throw new TsmpiError("ERR_TSMPI_COUNT", `count must be a non-negative integer, got ${describeValue(count)}`);
    this.count = count;
    this.byteCount = count * bytes;
  }

  /** `MPI_Test_cancelled`: whether the request this status describes was cancelled. */
  Is_cancelled(): boolean {
    return this.cancelled;
  }
  /** `MPI_Status_set_cancelled`. */
  Set_cancelled(flag: boolean): void {
    this.cancelled = Boolean(flag);
  }

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
