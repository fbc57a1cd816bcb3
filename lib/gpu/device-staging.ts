/**
 * DeviceArrays in the buffer-tier calls. Wherever a Capitalized call takes a typed array it also
 * takes a {@link DeviceArray} (alone, as `[array, count]` or as `[array, counts, displs]`): each
 * one is replaced by a host stand-in of the same kind and length, the call runs on the host
 * arrays as usual (same validation, same error codes), and what the call wrote is copied back
 * into the device array. This module is that one mechanism; `Comm` passes every buffer argument
 * through it.
 *
 * What is copied depends on how this rank uses each argument in the call (its {@link Role}):
 * device data is copied to the host only where the call reads it (after the GPU work enqueued
 * before has finished), and copied back only where the call writes, and only that part: a `Recv`
 * that gets 3 elements writes 3, a non-root's `Reduce` receive array is never touched, and a
 * failed call writes nothing. Point-to-point sends copy when called (blocking until the GPU is
 * done), so messages keep MPI's order; collectives and receives copy without blocking the event
 * loop. Host arrays pass through untouched, at no cost.
 *
 * Not supported yet: device-to-device transfers (CUDA-aware transports, GPUDirect), pinned
 * staging buffers, overlapping the copies of a large array with its transfer, copying only the
 * used part of an array to the host (a read copies the whole DeviceArray; a receive array that a
 * v-variant or `Reduce_scatter` only partly writes goes to the host and back whole, unchanged
 * where not written), DeviceArrays inside object-tier values (refused).
 *
 * @module
 */
import { IN_PLACE } from "../constants.js";
import { checkDeviceArray, isDeviceArray, type DeviceArray } from "./device-array.js";
import type { TypedArray } from "../serializer.js";

/**
 * How a call uses one buffer argument on this rank: `in` reads it (copied to the host first),
 * `out` writes all of it (copied back after), `inout` reads it or writes only part of it (both),
 * `none` ignores it (a stand-in, no copies).
 */
export type Role = "in" | "out" | "inout" | "none";

/** One DeviceArray argument and its host stand-in. */
interface Slot {
  device: DeviceArray;
  role: Role;
  /** Elements the argument covers: `count` of `[array, count]`, else the whole array. */
  extent: number;
  host: TypedArray;
}

/** The DeviceArray of a buffer argument in any of its forms, or undefined. */
function deviceOf(arg: unknown): DeviceArray | undefined {
  if (isDeviceArray(arg)) return arg;
  if (Array.isArray(arg) && isDeviceArray(arg[0])) return arg[0];
  return undefined;
}

/** Elements of `device` that `arg` covers (none for an invalid count: the call rejects it). */
function extentOf(arg: unknown, device: DeviceArray): number {
  if (!Array.isArray(arg) || arg.length !== 2 || Array.isArray(arg[1])) return device.length;
  const count = arg[1];
  return Number.isInteger(count) && count >= 0 && count <= device.length ? count : 0;
}

const reads = (role: Role): boolean => role === "in" || role === "inout";
const writes = (role: Role): boolean => role === "out" || role === "inout";

/** A host stand-in that the call does not read: a new array (checked live where it is written). */
function blank(device: DeviceArray, role: Role): TypedArray {
  if (role !== "none") checkDeviceArray(device, "buf");
  return new device.kind(device.length);
}

/** Buffer arguments with their DeviceArrays replaced by host stand-ins (see the module doc). */
export class Staging {
  /** The arguments as the call should see them: host arrays in the same forms. */
  readonly args: readonly unknown[];
  readonly #slots: readonly Slot[];

  private constructor(bufs: readonly unknown[], slots: Slot[]) {
    let next = 0;
    this.args =
      slots.length === 0
        ? bufs
        : bufs.map((arg) => {
            if (deviceOf(arg) === undefined) return arg;
            const host = slots[next++]!.host;
            return Array.isArray(arg) ? [host, ...arg.slice(1)] : host;
          });
    this.#slots = slots;
  }

  /** The DeviceArray arguments among `bufs`, used as `roles` says (one per argument). */
  static #find(bufs: readonly unknown[], roles: readonly Role[]): Omit<Slot, "host">[] {
    const found: Omit<Slot, "host">[] = [];
    bufs.forEach((arg, i) => {
      const device = deviceOf(arg);
      if (device !== undefined) found.push({ device, role: roles[i] ?? "none", extent: extentOf(arg, device) });
    });
    return found;
  }

  /**
   * Stages `bufs`, copying what the call reads to the host now, blocking until the GPU work
   * enqueued before has finished (point-to-point calls: messages are handed over in call order).
   *
   * @throws {TsmpiError} `ERR_TSMPI_ARG` for a freed DeviceArray.
   */
  static now(bufs: readonly unknown[], roles: readonly Role[]): Staging {
    const slots = Staging.#find(bufs, roles).map((slot) => ({
      ...slot,
      host: reads(slot.role) ? slot.device.toHost() : blank(slot.device, slot.role),
    }));
    return new Staging(bufs, slots);
  }

  /**
   * Stages `bufs`, copying what the call reads to the host without blocking the event loop.
   *
   * @throws {TsmpiError} `ERR_TSMPI_ARG` for a freed DeviceArray (as a rejection).
   */
  static async later(bufs: readonly unknown[], roles: readonly Role[]): Promise<Staging> {
    const slots = await Promise.all(
      Staging.#find(bufs, roles).map(async (slot) => ({
        ...slot,
        host: reads(slot.role) ? await slot.device.stageToHost() : blank(slot.device, slot.role),
      })),
    );
    return new Staging(bufs, slots);
  }

  /**
   * Copies what the call wrote back into the device arrays: each written argument's extent, at
   * most `count` elements (a receive's `status.count`). Calls `done` when finished, at once when
   * there is nothing to copy (so host-only calls complete exactly as before).
   */
  writeBack(done: (error?: unknown) => void, count = Infinity): void {
    const written = this.#slots.filter((slot) => writes(slot.role));
    if (written.length === 0) {
      done();
      return;
    }
    Promise.all(written.map(({ device, host, extent }) => device.stageFromHost(host.subarray(0, Math.min(extent, count)) as never))).then(
      () => done(),
      done,
    );
  }
}

/** A point-to-point send buffer on the host: a DeviceArray argument copied now (blocking), anything else as given. */
export function hostSendBuffer(buf: unknown): unknown {
  return deviceOf(buf) === undefined ? buf : Staging.now([buf], ["in"]).args[0];
}

/** What a receive argument of a collective becomes when the send argument is `send`. */
const result = (send: unknown): Role => (send === IN_PLACE ? "inout" : "out");
/** A root's role, or `none` elsewhere. */
const atRoot = (rank: number, root: number, role: Role): Role => (rank === root ? role : "none");
/** Scatter and Scatterv: the root's send array is read, every receive array written. */
const scatter = (rank: number, root: number): Role[] => [atRoot(rank, root, "in"), "out"];

/**
 * The roles of the buffer arguments of each buffer-tier collective on rank `rank`, in argument
 * order (send buffer first). v-variant receives and `Reduce_scatter`'s receive are `inout`:
 * parts of them stay as they were.
 */
const COLLECTIVE_ROLES = {
  Bcast: (rank: number, root: number): Role[] => [rank === root ? "in" : "out"],
  Scatter: scatter,
  Scatterv: scatter,
  Gather: (rank: number, root: number, [send]: readonly unknown[]): Role[] => ["in", atRoot(rank, root, result(send))],
  Gatherv: (rank: number, root: number): Role[] => ["in", atRoot(rank, root, "inout")],
  Allgather: (_rank: number, _root: number, [send]: readonly unknown[]): Role[] => ["in", result(send)],
  Allgatherv: (): Role[] => ["in", "inout"],
  Alltoall: (_rank: number, _root: number, [send]: readonly unknown[]): Role[] => ["in", result(send)],
  Alltoallv: (): Role[] => ["in", "inout"],
  Reduce: (rank: number, root: number, [send]: readonly unknown[]): Role[] => ["in", atRoot(rank, root, result(send))],
  Allreduce: (_rank: number, _root: number, [send]: readonly unknown[]): Role[] => ["in", result(send)],
  Reduce_scatter_block: (_rank: number, _root: number, [send]: readonly unknown[]): Role[] => ["in", result(send)],
  Reduce_scatter: (): Role[] => ["in", "inout"],
  Scan: (_rank: number, _root: number, [send]: readonly unknown[]): Role[] => ["in", result(send)],
  // rank 0 gets no result; with IN_PLACE its receive array is its operand
  Exscan: (rank: number, _root: number, [send]: readonly unknown[]): Role[] => [
    "in",
    rank > 0 ? result(send) : send === IN_PLACE ? "in" : "none",
  ],
} satisfies Record<string, (rank: number, root: number, bufs: readonly unknown[]) => Role[]>;

/** A buffer-tier collective that takes DeviceArrays. */
export type StagedCollective = keyof typeof COLLECTIVE_ROLES;

/**
 * Runs collective `name` on host buffers: DeviceArrays among `bufs` are staged as this rank
 * (`rank`, of a call rooted at `root`) uses them, `run` gets the host arguments, and afterwards
 * the results are copied back. Run it inside the collective call, so that a bad DeviceArray on
 * one rank fails the call on every rank. Host arrays go straight to `run`.
 *
 * @throws {TsmpiError} `ERR_TSMPI_ARG` for a freed DeviceArray, or what `run` throws (as rejections).
 */
export async function stagedCollective(
  name: StagedCollective,
  bufs: readonly unknown[],
  rank: number,
  root: number,
  run: (host: readonly unknown[]) => Promise<void>,
): Promise<void> {
  if (!bufs.some((arg) => deviceOf(arg) !== undefined)) return run(bufs);
  const staging = await Staging.later(bufs, COLLECTIVE_ROLES[name](rank, root, bufs));
  await run(staging.args);
  await new Promise<void>((resolve, reject) => staging.writeBack((error) => (error === undefined ? resolve() : reject(error))));
}
