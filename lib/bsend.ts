/**
 * Buffered-mode sends (`MPI_Bsend`): the buffer a user attaches and the accounting of what the
 * buffered messages take from it, as in mpi4py 4: the process-wide `Attach_buffer(buf)`,
 * `Detach_buffer()`, `Flush_buffer()` and `Iflush_buffer()` (here), and MPI-4.1's per-communicator
 * ones (`comm.Attach_buffer`, ..., in `comm-p2p.ts`). A communicator's buffered sends use its own
 * buffer when one is attached, else the process's, as MPI-4.1 says.
 *
 * Accounting as MPI: each buffered message takes its packed size (the bytes it sends: the array's
 * bytes, or the serialized value) plus {@link BSEND_OVERHEAD} from the attached buffer from the
 * send until the message has left (the transport took it); a send that does not fit, or finds
 * no buffer, fails with `ERR_TSMPI_BUFFER`. Why tsmpi copies the message into memory of its own
 * rather than into the attached buffer: the protocol already copies a buffered message (it is sent
 * in `copy` mode), and the accounting is what makes a program's buffer sizes portable; the
 * attached memory is not written (MPI forbids the program to touch it while attached anyway).
 *
 * Not supported yet: `Session.Attach_buffer` (there are no sessions).
 *
 * @module
 */
import { TsmpiError, describeValue } from "./errors.js";
import { Request } from "./request.js";

/**
 * The bytes a buffered message takes from the attached buffer on top of its own size
 * (`MPI_BSEND_OVERHEAD`); 512 as in the MPI ABI. Size a buffer for `n` messages of `s` bytes as
 * `n * (s + BSEND_OVERHEAD)`.
 */
export const BSEND_OVERHEAD = 512;

/**
 * `MPI_BUFFER_AUTOMATIC` (MPI-4.1): attach it instead of memory and buffered sends never run out
 * of room (tsmpi allocates each message); `Detach_buffer` then returns it.
 */
export const BUFFER_AUTOMATIC: unique symbol = Symbol("BUFFER_AUTOMATIC");

/** What `Attach_buffer` takes: memory (a typed array, DataView, Buffer or ArrayBuffer), or {@link BUFFER_AUTOMATIC}. */
export type AttachedBuffer = ArrayBufferView | ArrayBuffer | typeof BUFFER_AUTOMATIC;

/** One attached buffer: its capacity and the messages that still take room in it. */
class Attachment {
  readonly capacity: number;
  used = 0;
  messages = 0;
  #idle: (() => void)[] = [];

  constructor(readonly buffer: AttachedBuffer) {
    this.capacity = buffer === BUFFER_AUTOMATIC ? Number.POSITIVE_INFINITY : buffer.byteLength;
  }

  /** Takes `size + BSEND_OVERHEAD` bytes for one message; returns what gives them back. */
  take(size: number, what: string, where: string): () => void {
    const need = size + BSEND_OVERHEAD;
    if (this.used + need > this.capacity) {
      throw new TsmpiError(
        "ERR_TSMPI_BUFFER",
        `${what}: a buffered message of ${size} bytes needs ${need} bytes (with BSEND_OVERHEAD = ${BSEND_OVERHEAD}), but the buffer attached to ${where} has ${this.capacity - this.used} of its ${this.capacity} bytes free (${this.messages} buffered message(s) not yet sent take ${this.used})`,
      );
    }
    this.used += need;
    this.messages++;
    let given = false;
    return () => {
      if (given) return;
      given = true;
      this.used -= need;
      this.messages--;
      if (this.messages === 0) this.#wake();
    };
  }

  #wake(): void {
    const idle = this.#idle;
    this.#idle = [];
    for (const fn of idle) fn();
  }

  /** Resolves once no buffered message takes room here. */
  async drained(): Promise<void> {
    if (this.messages > 0) await new Promise<void>((resolve) => this.#idle.push(resolve));
  }
}

/** @internal Where a buffer can be attached: the process, or one communicator. */
export class BufferSlot {
  #current: Attachment | undefined;

  constructor(readonly where: string) {}

  /** True while a buffer is attached here. */
  get attached(): boolean {
    return this.#current !== undefined;
  }

  attach(buf: AttachedBuffer, what: string): void {
    if (buf !== BUFFER_AUTOMATIC && !ArrayBuffer.isView(buf) && !(buf instanceof ArrayBuffer)) {
      throw new TsmpiError(
        "ERR_TSMPI_TYPE",
        `${what}: buf must be a typed array, DataView, Buffer, ArrayBuffer or BUFFER_AUTOMATIC, got ${describeValue(buf)}`,
      );
    }
    if (this.#current)
      throw new TsmpiError(
        "ERR_TSMPI_BUFFER",
        `${what}: a buffer of ${this.#current.capacity} bytes is already attached to ${this.where}; detach it first (Detach_buffer)`,
      );
    this.#current = new Attachment(buf);
  }

  /** Detaches now (later buffered sends find no buffer here) and resolves with the buffer once its messages have left; null when none was attached. */
  async detach(): Promise<AttachedBuffer | null> {
    const a = this.#current;
    if (!a) return null;
    this.#current = undefined;
    await a.drained();
    return a.buffer;
  }

  /** Resolves once the buffered messages sent so far through this slot's buffer have left. */
  async flush(): Promise<void> {
    await this.#current?.drained();
  }

  /** @internal Takes room for one message of `size` bytes, or throws `ERR_TSMPI_BUFFER`; undefined when nothing is attached here. */
  take(size: number, what: string): (() => void) | undefined {
    return this.#current?.take(size, what, this.where);
  }
}

/** The process's buffer (`MPI_Buffer_attach`). */
const processSlot = new BufferSlot("the process");

/**
 * @internal Takes room for a buffered message of `size` bytes from `own` (a communicator's
 * buffer) when one is attached there, else from the process's; returns what gives it back.
 * @throws TsmpiError `ERR_TSMPI_BUFFER` when it does not fit, or no buffer is attached.
 */
export function takeBuffered(own: BufferSlot | undefined, size: number, what: string): () => void {
  const release = own?.take(size, what) ?? processSlot.take(size, what);
  if (release) return release;
  throw new TsmpiError(
    "ERR_TSMPI_BUFFER",
    `${what}: a buffered send of ${size} bytes needs an attached buffer of at least ${size + BSEND_OVERHEAD} bytes (its size + BSEND_OVERHEAD), and none is attached: call Attach_buffer(buf) first`,
  );
}

/**
 * Attaches `buf` to the process for buffered sends (`MPI_Buffer_attach`, mpi4py's
 * `MPI.Attach_buffer`). Each buffered message takes its size plus {@link BSEND_OVERHEAD} bytes
 * of it until the message has left.
 * @throws TsmpiError `ERR_TSMPI_BUFFER` when a buffer is already attached; `ERR_TSMPI_TYPE` for anything but memory or `BUFFER_AUTOMATIC`.
 *
 * @example
 * ```ts
 * Attach_buffer(new Uint8Array(2 * (data.byteLength + BSEND_OVERHEAD)));
 * await comm.Bsend(data, 1); await comm.Bsend(data, 2);
 * await Detach_buffer(); // resolves once both messages have left
 * ```
 */
export function Attach_buffer(buf: AttachedBuffer): void {
  processSlot.attach(buf, "Attach_buffer");
}

/**
 * Detaches the process's buffer (`MPI_Buffer_detach`): resolves with it once every buffered
 * message that uses it has left (null when none was attached). Buffered sends made after the call
 * find no process buffer.
 */
export function Detach_buffer(): Promise<AttachedBuffer | null> {
  return processSlot.detach();
}

/** Resolves once every buffered message in the process's buffer has left (`MPI_Buffer_flush`, MPI-4.1). */
export function Flush_buffer(): Promise<void> {
  return processSlot.flush();
}

/** Nonblocking {@link Flush_buffer} (`MPI_Buffer_iflush`): a request that completes once the buffered messages have left. */
export function Iflush_buffer(): Request<void> {
  return requestOf(processSlot.flush());
}

/** @internal A request that completes as `p` settles. */
export function requestOf(p: Promise<void>): Request<void> {
  const req = new Request<void>();
  p.then(
    () => req._complete(undefined),
    (e) => req._fail(e),
  );
  return req;
}
