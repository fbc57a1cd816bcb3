/**
 * The receive side of a matched message: turning it into a value (object tier: a typed array or
 * the deserialized value) or reading it into the caller's array (buffer tier), with the size
 * and kind checks MPI asks for (`ERR_TSMPI_TRUNCATE`, `ERR_TSMPI_TYPE`). The message may still be
 * arriving in pieces: each function waits for its last byte. Used by `comm.ts`, persistent
 * requests and collectives alike, so that every receive reads a message the same way.
 *
 * @module
 */
import { TsmpiError, describeValue } from "../errors.js";
import { allocateKind, isKindCode, kindFromCode, typedArrayFromBytes, unpackObject, type TypedArray } from "../serializer.js";
import { FLAG_RAW } from "../transport/frame.js";
import type { InMsg } from "./matching.js";

/** Payload size in the units `Status.count` reports: elements for typed arrays, bytes otherwise. */
export function messageCount(msg: InMsg): number {
  return msg.flags & FLAG_RAW ? msg.total / kindFromCode(msg.dtype).BYTES_PER_ELEMENT : msg.total;
}

/** Discards a matched message's bytes (e.g. after a truncation error). */
function discard(msg: InMsg): void {
  msg.drainTo(() => {});
}

/**
 * Turns a matched message into a value for the object tier: a typed array for raw payloads,
 * the deserialized value otherwise. Calls `done` once all bytes are in.
 */
export function readObject(msg: InMsg, done: (value: unknown, error?: unknown) => void): void {
  if (msg.flags & FLAG_RAW) {
    const fail = (error: TsmpiError): void => {
      discard(msg);
      msg.whenComplete(() => done(undefined, error));
    };
    if (!isKindCode(msg.dtype)) {
      fail(new TsmpiError("ERR_TSMPI_TYPE", `message from rank ${msg.src} has unknown element kind ${msg.dtype}`));
      return;
    }
    const Kind = kindFromCode(msg.dtype);
    if (msg.total % Kind.BYTES_PER_ELEMENT !== 0) {
      fail(new TsmpiError("ERR_TSMPI_TYPE", `message of ${msg.total} bytes is not a whole number of ${Kind.name} elements`));
      return;
    }
    if (msg.complete && msg.parts.length === 1) {
      done(typedArrayFromBytes(msg.dtype, msg.parts[0]!));
      return;
    }
    let out: TypedArray;
    try {
      out = allocateKind(msg.dtype, msg.total / Kind.BYTES_PER_ELEMENT);
    } catch (err) {
      fail(
        new TsmpiError(
          "ERR_TSMPI_TYPE",
          `cannot allocate ${msg.total} bytes for a message from rank ${msg.src}: ${(err as Error).message}`,
          { cause: err },
        ),
      );
      return;
    }
    msg.fillInto(new Uint8Array(out.buffer, out.byteOffset, out.byteLength));
    msg.whenComplete(() => done(out));
    return;
  }
  msg.whenComplete(() => {
    let value: unknown;
    try {
      value = unpackObject(msg.payload());
    } catch (err) {
      return done(
        undefined,
        new TsmpiError("ERR_TSMPI_TYPE", `cannot deserialize a ${msg.total}-byte message from rank ${msg.src}: ${(err as Error).message}`, {
          cause: err,
        }),
      );
    }
    done(value);
  });
}

/**
 * Receives a matched message into `buf` (buffer tier), filling its prefix. Calls `done` with the
 * element count once all bytes are in, or with an error: `ERR_TSMPI_TRUNCATE` when the message
 * is larger than `buf`, `ERR_TSMPI_TYPE` when it was not sent as a typed array. The message is
 * consumed either way, as in MPI.
 */
export function readInto(msg: InMsg, buf: TypedArray, done: (count: number, error?: unknown) => void): void {
  const fail = (error: TsmpiError): void => {
    discard(msg);
    msg.whenComplete(() => done(0, error));
  };
  if (!(msg.flags & FLAG_RAW)) {
    fail(
      new TsmpiError(
        "ERR_TSMPI_TYPE",
        `message from rank ${msg.src} (tag ${msg.tag}) was sent as an object; receive it with recv(), not into ${describeValue(buf)}`,
      ),
    );
    return;
  }
  if (msg.total > buf.byteLength) {
    const sent = kindFromCode(msg.dtype);
    fail(
      new TsmpiError(
        "ERR_TSMPI_TRUNCATE",
        `message of ${msg.total / sent.BYTES_PER_ELEMENT} ${sent.name} elements (${msg.total} bytes) from rank ${msg.src} does not fit the receive buffer ${describeValue(buf)} (${buf.byteLength} bytes)`,
      ),
    );
    return;
  }
  if (msg.total % buf.BYTES_PER_ELEMENT !== 0) {
    fail(new TsmpiError("ERR_TSMPI_TYPE", `message of ${msg.total} bytes is not a whole number of ${buf.constructor.name} elements`));
    return;
  }
  msg.fillInto(new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength));
  msg.whenComplete(() => done(msg.total / buf.BYTES_PER_ELEMENT));
}
