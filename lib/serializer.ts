/**
 * How values become bytes: msgpackr for the object tier, raw bytes for typed arrays.
 *
 * Object tier: `new Packr({ moreTypes: true, structuredClone: true })` keeps every TypedArray
 * kind, Map, Set, Date, BigInt, Error subclasses, `undefined` in arrays and cycles (with the
 * default options a `Float64Array` comes back as a `Buffer` of its raw bytes: msgpackr 2.1.3). A
 * top-level typed array skips msgpackr and travels as raw bytes with its kind code, so
 * `send(bigFloat64Array)` costs one copy.
 *
 * A value that must not be serialized says so by carrying the {@link unserializable} method
 * (DeviceArray does: device memory goes through the buffer-tier calls); this layer knows no more
 * about it than that.
 *
 * Not supported: class instances keep their fields but come back as plain objects (as with
 * structured clone); functions and symbols cannot be sent (`ERR_TSMPI_TYPE`); an unserializable
 * value is recognised at the top level only (nested inside an object it fails on its fields).
 * `-0` arrives as `0`.
 *
 * @module
 */
import { createRequire } from "node:module";
import type * as Msgpackr from "msgpackr";
import { TsmpiError, describeValue } from "./errors.js";

/** msgpackr, loaded on first use: a rank that never sends an object never pays for it. */
function msgpackr(): typeof Msgpackr {
  return createRequire(import.meta.url)("msgpackr") as typeof Msgpackr;
}

/** Any typed array (not DataView). */
export type TypedArray =
  | Int8Array
  | Uint8Array
  | Uint8ClampedArray
  | Int16Array
  | Uint16Array
  | Int32Array
  | Uint32Array
  | Float32Array
  | Float64Array
  | BigInt64Array
  | BigUint64Array;

/** A typed array constructor. */
export type TypedArrayConstructor =
  | Int8ArrayConstructor
  | Uint8ArrayConstructor
  | Uint8ClampedArrayConstructor
  | Int16ArrayConstructor
  | Uint16ArrayConstructor
  | Int32ArrayConstructor
  | Uint32ArrayConstructor
  | Float32ArrayConstructor
  | Float64ArrayConstructor
  | BigInt64ArrayConstructor
  | BigUint64ArrayConstructor;

/** Wire codes of the typed-array kinds (index = code; 0 means "not a typed array"). */
const KINDS: readonly (TypedArrayConstructor | null)[] = [
  null,
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
];
const CODES = new Map<unknown, number>(KINDS.map((k, i) => [k, i]));
/** Wire code for a Node Buffer: Uint8 bytes that come back as a Buffer. */
const BUFFER_CODE = 12;

/** True for every typed array (Buffer included), false for DataView and everything else. */
export function isTypedArray(value: unknown): value is TypedArray {
  return ArrayBuffer.isView(value) && !(value instanceof DataView);
}

/** The wire code of a typed array's kind (a Buffer counts as Uint8Array). */
export function kindCode(array: TypedArray): number {
  if (Buffer.isBuffer(array)) return BUFFER_CODE;
  const code = CODES.get(array.constructor) ?? (array instanceof Uint8Array ? 2 : 0);
  if (code === 0) throw new TsmpiError("ERR_TSMPI_TYPE", `unsupported typed array kind ${describeValue(array)}`);
  return code;
}

/** The constructor for a wire code. */
/** Whether `code` names a typed-array kind ({@link kindFromCode} accepts it). */
export function isKindCode(code: number): boolean {
  return code === BUFFER_CODE || Boolean(KINDS[code]);
}

export function kindFromCode(code: number): TypedArrayConstructor {
  const k = code === BUFFER_CODE ? Uint8Array : KINDS[code];
  if (!k) throw new TsmpiError("ERR_TSMPI_INTERNAL", `unknown typed array kind code ${code}`);
  return k;
}

/** A Buffer viewing (not copying) the bytes of a typed array. */
export function bytesOf(array: TypedArray): Buffer {
  return Buffer.from(array.buffer, array.byteOffset, array.byteLength);
}

/**
 * A typed array of kind `code` holding `bytes`: a view when `bytes` spans its whole ArrayBuffer
 * (so `.buffer` shows nothing else), else a copy. `bytes` is the caller's to give away.
 */
export function typedArrayFromBytes(code: number, bytes: Uint8Array): TypedArray {
  const Kind = kindFromCode(code);
  const size = Kind.BYTES_PER_ELEMENT;
  if (bytes.byteLength % size !== 0) {
    throw new TsmpiError("ERR_TSMPI_TYPE", `${bytes.byteLength} bytes is not a whole number of ${Kind.name} elements`);
  }
  const whole = bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength;
  const buffer = whole ? (bytes.buffer as ArrayBuffer) : new Uint8Array(bytes).buffer;
  return code === BUFFER_CODE ? Buffer.from(buffer) : new Kind(buffer);
}

/** An empty typed array of kind `code` with `length` elements (a Buffer for Buffer's code). */
export function allocateKind(code: number, length: number): TypedArray {
  return code === BUFFER_CODE ? Buffer.alloc(length) : new (kindFromCode(code))(length);
}

/**
 * The brand of values the object tier refuses: a method returning the error message (which
 * names the value and the fix). A higher layer puts it on its classes, e.g.
 * `[unserializable]() { return "value must be ..., got ..." }`.
 */
export const unserializable: unique symbol = Symbol.for("tsmpi.unserializable");

/** A value carrying the {@link unserializable} brand. */
export interface Unserializable {
  [unserializable](): string;
}

/** The refusal message of a branded value, or undefined for anything else. */
function refusal(value: unknown): string | undefined {
  if (value === null || typeof value !== "object") return undefined;
  const brand = (value as Partial<Unserializable>)[unserializable];
  return typeof brand === "function" ? brand.call(value) : undefined;
}

// Not `useRecords: false`: it switches on `mapsAsObjects`, and Maps would come back as plain objects.
const OPTIONS = { moreTypes: true, structuredClone: true } as const;
let packr: Msgpackr.Packr | undefined;
let unpackr: Msgpackr.Unpackr | undefined;

function refuseFunction(fn: unknown): never {
  throw new TypeError(`functions cannot be sent (found ${(fn as { name?: string }).name || "an anonymous function"})`);
}

/**
 * Serializes one value with msgpackr. The returned Buffer is private to the caller.
 *
 * @throws {TsmpiError} `ERR_TSMPI_TYPE` for a value that cannot be serialized (functions,
 *   symbols) and for a value branded {@link unserializable} (a DeviceArray), with its message.
 */
export function packObject(value: unknown): Buffer {
  const refused = refusal(value);
  if (refused !== undefined) throw new TsmpiError("ERR_TSMPI_TYPE", refused);
  // msgpackr would write a function as `undefined`: refuse instead, as structured clone does.
  packr ??= new (msgpackr().Packr)({ ...OPTIONS, writeFunction: refuseFunction } as unknown as Msgpackr.Options);
  try {
    return packr.pack(value);
  } catch (err) {
    throw new TsmpiError("ERR_TSMPI_TYPE", `cannot serialize ${describeValue(value)}: ${(err as Error).message}`, { cause: err });
  }
}

/** Deserializes one msgpackr value. */
export function unpackObject(bytes: Uint8Array): unknown {
  unpackr ??= new (msgpackr().Unpackr)(OPTIONS);
  return unpackr.unpack(bytes);
}

/** Whether msgpackr found its native accelerator (msgpackr-extract), for `tsmpirun --info`. */
export function msgpackrNative(): boolean {
  return Boolean((msgpackr() as { isNativeAccelerationEnabled?: boolean }).isNativeAccelerationEnabled);
}
