/**
 * DeviceArray: a typed array's worth of memory on this rank's GPU, or in host memory where there
 * is no GPU (the `"cpu"` backend), so the same code runs everywhere. Data moves with
 * `DeviceArray.from`, `copyFrom`, `toHost` (synchronous) and `stageToHost`/`stageFromHost`
 * (asynchronous, used by the buffer-tier message calls).
 *
 * Not supported yet: views/slices of a DeviceArray, element access from JS, peer copies between
 * devices, pinned host staging buffers, managed (unified) memory.
 *
 * @module
 */
import { TsmpiError, describeValue } from "../errors.js";
import type { NativeDeviceMemory } from "../native.js";
import { getBackend, type Backend } from "./backend.js";
import { gpuBinding } from "./device.js";
import { unserializable, type TypedArray, type Unserializable } from "../serializer.js";

/** A typed-array constructor: the element kind of a DeviceArray (`Float32Array`, ...). */
export interface TypedArrayKind<T extends TypedArray = TypedArray> {
  new (length: number): T;
  readonly BYTES_PER_ELEMENT: number;
  readonly name: string;
}

/**
 * Element kinds by name, with the addon's kind code (Node-API's `napi_typedarray_type`, as in
 * `native/element_kind.h`).
 */
const KINDS = new Map<string, { kind: TypedArrayKind; code: number }>(
  (
    [
      [Int8Array, 0],
      [Uint8Array, 1],
      [Uint8ClampedArray, 2],
      [Int16Array, 3],
      [Uint16Array, 4],
      [Int32Array, 5],
      [Uint32Array, 6],
      [Float32Array, 7],
      [Float64Array, 8],
      [BigInt64Array, 9],
      [BigUint64Array, 10],
    ] as [TypedArrayKind, number][]
  ).map(([kind, code]) => [kind.name, { kind, code }]),
);

const KIND_NAMES = [...KINDS.keys()].join(", ");

/** The kind name of a typed array (a Buffer counts as Uint8Array), or undefined. */
export function kindNameOf(value: unknown): string | undefined {
  if (!ArrayBuffer.isView(value) || value instanceof DataView) return undefined;
  return (value as unknown as { [Symbol.toStringTag]: string })[Symbol.toStringTag];
}

/** The kind (constructor) of a host typed array (a Buffer counts as Uint8Array), or undefined. */
export function kindOf<T extends TypedArray>(value: T): TypedArrayKind<T>;
export function kindOf(value: unknown): TypedArrayKind | undefined;
export function kindOf(value: unknown): TypedArrayKind | undefined {
  const name = kindNameOf(value);
  return name === undefined ? undefined : KINDS.get(name)?.kind;
}

/** The addon's code for a kind (see `native/element_kind.h`). */
export function kindCode(kind: TypedArrayKind): number {
  return KINDS.get(kind.name)!.code;
}

function checkKind(kind: unknown, name: string): TypedArrayKind {
  const entry = typeof kind === "function" ? KINDS.get(kind.name) : undefined;
  if (!entry || entry.kind !== kind) {
    throw new TsmpiError("ERR_TSMPI_TYPE", `${name} must be a typed-array constructor (${KIND_NAMES}), got ${describeValue(kind)}`);
  }
  return entry.kind;
}

/** Largest element count accepted (device allocations may exceed what a host array can hold). */
const MAX_LENGTH = 2 ** 48;

type Storage = { host: TypedArray } | { device: NativeDeviceMemory };

let storageOf: (array: DeviceArray) => Storage;

/**
 * An array of `length` elements of one typed-array kind in this rank's device memory (or host
 * memory on the `"cpu"` backend). Freed by {@link DeviceArray.free} or, failing that, when
 * garbage-collected.
 *
 * @typeParam T - the host typed array type it copies to and from, e.g. `Float32Array`.
 * @example
 * ```ts
 * const x = DeviceArray.from(new Float32Array([1, 2, 3]));
 * const y = new DeviceArray(Float32Array, 3);
 * y.copyFrom(new Float32Array([10, 20, 30]));
 * await cuda.saxpy(2, x, y);
 * console.log(y.toHost()); // Float32Array [12, 24, 36]
 * x.free(); y.free();
 * ```
 */
export class DeviceArray<T extends TypedArray = TypedArray> implements Unserializable {
  /** The element kind: the typed-array constructor, e.g. `Float32Array`. */
  readonly kind: TypedArrayKind<T>;
  /** Number of elements. */
  readonly length: number;
  /** Size in bytes. */
  readonly byteLength: number;
  /** Bytes per element (as on a typed array). */
  readonly BYTES_PER_ELEMENT: number;
  /** Where the memory lives: `"cuda"` (device memory) or `"cpu"` (host memory). */
  readonly backend: Backend;
  #storage: Storage | null;

  static {
    storageOf = (array) => array.#live();
  }

  /**
   * Allocates `length` elements of `kind`, zero-filled on the `"cpu"` backend and uninitialised
   * on the GPU (as `cudaMalloc`).
   *
   * @param kind - the element kind: `Float64Array`, `Float32Array`, `Int32Array`, ...
   * @param length - element count, an integer in [0, 2^48].
   * @throws {TsmpiError} `ERR_TSMPI_TYPE` for an unknown kind, `ERR_TSMPI_COUNT` for a bad length,
   *   `ERR_TSMPI_CUDA` when the device allocation fails.
   */
  constructor(kind: TypedArrayKind<T>, length: number) {
    this.kind = checkKind(kind, "kind") as TypedArrayKind<T>;
    if (!Number.isSafeInteger(length) || length < 0 || length > MAX_LENGTH) {
      throw new TsmpiError("ERR_TSMPI_COUNT", `length must be an integer in [0, 2^48], got ${describeValue(length)}`);
    }
    this.length = length;
    this.BYTES_PER_ELEMENT = kind.BYTES_PER_ELEMENT;
    this.byteLength = length * kind.BYTES_PER_ELEMENT;
    this.backend = getBackend();
    this.#storage = this.backend === "cuda" ? { device: new (gpuBinding().DeviceMemory)(this.byteLength) } : { host: this.#hostArray() };
  }

  /**
   * A new DeviceArray holding a copy of `host` (same kind and length).
   *
   * @param host - any typed array (a Buffer counts as Uint8Array).
   * @returns the device copy.
   * @throws {TsmpiError} `ERR_TSMPI_TYPE` when `host` is not a typed array.
   * @example
   * ```ts
   * const d = DeviceArray.from(new Float64Array([1, 2, 3]));
   * ```
   */
  static from<T extends TypedArray>(host: T): DeviceArray<T> {
    const kind = kindOf(host as unknown);
    if (kind === undefined) throw new TsmpiError("ERR_TSMPI_TYPE", `host must be a typed array, got ${describeValue(host)}`);
    const array = new DeviceArray(kind as TypedArrayKind<T>, host.length);
    return array.copyFrom(host);
  }

  /** Whether {@link DeviceArray.free} was called. */
  get freed(): boolean {
    return this.#storage === null;
  }

  /**
   * Copies the whole array to the host, after all GPU work enqueued before (blocks until then).
   *
   * @param out - the array to fill (same kind and length); a new one when omitted.
   * @returns `out`, or the new array.
   * @throws {TsmpiError} `ERR_TSMPI_TYPE`/`ERR_TSMPI_COUNT` when `out` differs in kind/length,
   *   `ERR_TSMPI_ARG` after free().
   */
  toHost(out?: T): T {
    const storage = this.#live();
    const target = out === undefined ? this.#hostArray() : this.#checkHost(out, "out", true);
    if ("host" in storage) target.set(storage.host as never);
    else storage.device.download(target);
    return target;
  }

  /**
   * Overwrites the array with `host` (same kind and length), after all GPU work enqueued before
   * (blocks until the copy is done).
   *
   * @param host - the source.
   * @returns this array.
   * @throws {TsmpiError} `ERR_TSMPI_TYPE`/`ERR_TSMPI_COUNT` when `host` differs in kind/length,
   *   `ERR_TSMPI_ARG` after free().
   */
  copyFrom(host: T): this {
    const storage = this.#live();
    this.#checkHost(host, "host", true);
    if ("host" in storage) storage.host.set(host as never);
    else storage.device.upload(host);
    return this;
  }

  /**
   * Copies the array into a new host typed array without blocking the event loop: the copy
   * starts once all GPU work enqueued before has finished. (Internal helper of the buffer-tier
   * message calls; usable by anyone.)
   *
   * @returns a new typed array of the same kind and length.
   * @throws {TsmpiError} `ERR_TSMPI_ARG` after free() (as a rejection).
   */
  async stageToHost(): Promise<T> {
    const storage = this.#live();
    const out = this.#hostArray();
    if ("host" in storage) out.set(storage.host as never);
    else await storage.device.downloadAsync(out);
    return out;
  }

  /**
   * Copies `host` into the start of the array without blocking the event loop; `host` may be
   * shorter than the array (a received message that fills a prefix), the rest is unchanged.
   * Kernels launched before the promise settles may see the old contents: await it first.
   *
   * @param host - the source, of the same kind, at most `length` elements.
   * @throws {TsmpiError} `ERR_TSMPI_TYPE`, `ERR_TSMPI_COUNT` (longer than the array),
   *   `ERR_TSMPI_ARG` after free() (as rejections).
   */
  async stageFromHost(host: T): Promise<void> {
    const storage = this.#live();
    this.#checkHost(host, "host", false);
    if ("host" in storage) storage.host.set(host as never);
    else await storage.device.uploadAsync(host);
  }

  /**
   * Releases the memory now (idempotent). Copies still in flight finish first; any later use
   * throws `ERR_TSMPI_ARG`.
   */
  free(): void {
    const storage = this.#storage;
    this.#storage = null;
    if (storage && "device" in storage) storage.device.free();
  }

  /** `DeviceArray(Float32Array, 1024, cuda)`. */
  toString(): string {
    return `DeviceArray(${this.kind.name}, ${this.length}, ${this.backend}${this.freed ? ", freed" : ""})`;
  }

  /**
   * Why the object tier (`send`, `bcast`, ...) refuses a DeviceArray: the message of its
   * `ERR_TSMPI_TYPE`, naming the fix.
   * @internal
   */
  [unserializable](): string {
    return (
      `value must be a serializable value, got ${this.toString()}: device memory cannot go through the lowercase (object) calls; ` +
      `pass it to the Capitalized buffer-tier call (Send, Recv, Bcast, Allreduce, ...) or send a host copy (value.toHost())`
    );
  }

  #live(): Storage {
    if (this.#storage === null) {
      throw new TsmpiError("ERR_TSMPI_ARG", `${this.toString()} was freed; it cannot be used after free()`);
    }
    return this.#storage;
  }

  #hostArray(): T {
    try {
      return new this.kind(this.length);
    } catch (error) {
      throw new TsmpiError("ERR_TSMPI_COUNT", `a host ${this.kind.name} of ${this.length} elements cannot be allocated`, { cause: error });
    }
  }

  #checkHost(host: unknown, name: string, exact: boolean): T {
    const kindName = kindNameOf(host);
    if (kindName !== this.kind.name) {
      throw new TsmpiError("ERR_TSMPI_TYPE", `${name} must be a ${this.kind.name} to match ${this.toString()}, got ${describeValue(host)}`);
    }
    const length = (host as T).length;
    if (exact ? length !== this.length : length > this.length) {
      const wanted = exact ? `equal the DeviceArray length ${this.length}` : `be at most the DeviceArray length ${this.length}`;
      throw new TsmpiError("ERR_TSMPI_COUNT", `${name}.length must ${wanted}, got ${length}`);
    }
    return host as T;
  }
}

/**
 * Whether `value` is a {@link DeviceArray} (for the message layer's buffer-tier calls).
 *
 * @example
 * ```ts
 * if (isDeviceArray(buf)) buf = await buf.stageToHost();
 * ```
 */
export function isDeviceArray(value: unknown): value is DeviceArray {
  return value instanceof DeviceArray;
}

/**
 * The live storage of a DeviceArray (internal: for the built-in and user kernels).
 *
 * @throws {TsmpiError} `ERR_TSMPI_ARG` after free().
 * @internal
 */
export function deviceStorage(array: DeviceArray): Storage {
  return storageOf(array);
}

/**
 * Checks that `value` is a live DeviceArray (internal: argument checks of the kernels).
 *
 * @throws {TsmpiError} `ERR_TSMPI_TYPE` for anything else, `ERR_TSMPI_ARG` after free().
 * @internal
 */
export function checkDeviceArray(value: unknown, name: string): DeviceArray {
  if (!isDeviceArray(value)) throw new TsmpiError("ERR_TSMPI_TYPE", `${name} must be a DeviceArray, got ${describeValue(value)}`);
  storageOf(value);
  return value;
}
