/**
 * The one place that chooses collective algorithms, by payload size and world size.
 * Every rank must choose the same, so choices depend only on values MPI requires to agree
 * (byte counts of the buffer tier, the op, N); object-tier payloads may differ per rank, so
 * their algorithms depend on N alone.
 *
 * `TSMPI_COLL=allreduce:ring,bcast:scatter-ring` forces algorithms (for tests and tuning); a
 * forced `peer` applies only where the ranks can read each other's memory.
 *
 * @module
 */
import { TsmpiError } from "../errors.js";
import { textSetting } from "../config.js";
import type { Op } from "../op.js";

/** Per-rank bytes up to which latency-optimal algorithms (Bruck, binomial) are used. */
export const SMALL_BYTES = 16 * 1024;
/** Bytes from which a broadcast uses scatter + ring allgather. */
export const LARGE_BCAST_BYTES = 256 * 1024;

/**
 * Per-rank block bytes from which Gather and Scatter go straight between the root and each rank
 * (each block moves once; a binomial tree forwards half of them through other ranks).
 */
export const LINEAR_BLOCK_BYTES = 64 * 1024;

/** Per-rank bytes from which ranks of one host read each other's memory (`peer.ts`) rather than pass messages. */
export const PEER_BYTES = 256 * 1024;

const CHOICES = {
  allreduce: ["gather", "ring", "reduce-bcast", "peer"],
  bcast: ["binomial", "scatter-ring", "peer"],
  allgather: ["bruck", "ring", "peer"],
  reduce: ["binomial", "ring"],
  reduce_scatter: ["messages", "peer"],
  gather: ["binomial", "linear"],
  scatter: ["binomial", "linear"],
} as const;
type Collective = keyof typeof CHOICES;
type Choice<C extends Collective> = (typeof CHOICES)[C][number];

/** A small id per (collective, algorithm), carried in every message of the call (0: fixed algorithm). */
export function algorithmId(collective: Collective, algorithm: string): number {
  let id = 1;
  for (const [c, algos] of Object.entries(CHOICES)) {
    for (const a of algos) {
      if (c === collective && a === algorithm) return id;
      id++;
    }
  }
  return 0;
}

/** The algorithm name of an id from {@link algorithmId} ("" for 0). */
export function algorithmName(id: number): string {
  const all = Object.values(CHOICES).flat();
  return all[id - 1] ?? "";
}

/** Records `choice` as the algorithm of the call on `ch` and returns it. */
export function adopt<T extends string>(ch: { algorithm?: number }, collective: Collective, choice: T): T {
  ch.algorithm = algorithmId(collective, choice);
  return choice;
}

let forced: Map<string, string> | undefined;

function force<C extends Collective>(name: C): Choice<C> | undefined {
  if (!forced) {
    forced = new Map();
    for (const item of (textSetting("TSMPI_COLL") ?? "").split(",").filter(Boolean)) {
      const [coll, algo] = item.split(":");
      const allowed = (CHOICES as Record<string, readonly string[]>)[coll ?? ""];
      if (!allowed?.includes(algo ?? "")) {
        throw new TsmpiError(
          "ERR_TSMPI_ARG",
          `TSMPI_COLL entries must be collective:algorithm with ${Object.entries(CHOICES)
            .map(([c, a]) => `${c}:${a.join("|")}`)
            .join(", ")}; got ${JSON.stringify(item)}`,
        );
      }
      forced.set(coll!, algo!);
    }
  }
  return forced.get(name) as Choice<C> | undefined;
}

/**
 * Allreduce of `bytes` per rank; `peer`: all ranks are on this host and may read each other's
 * memory (a "peer" choice falls back to ring or reduce-bcast inside the call if they cannot).
 */
export function chooseAllreduce(bytes: number, n: number, op: Op, peer: boolean): Choice<"allreduce"> {
  const f = force("allreduce");
  if (f === "peer" && (!peer || !op.commute)) return op.commute ? "ring" : "reduce-bcast"; // peer splits arrays: commutative ops only
  if (f === "ring" && !op.commute) return "reduce-bcast"; // a ring would reorder operands
  if (f) return f;
  if (bytes <= SMALL_BYTES || n === 1) return "gather";
  if (peer && bytes >= PEER_BYTES && op.commute) return "peer";
  return op.commute ? "ring" : "reduce-bcast";
}

/** Broadcast of `bytes`. */
export function chooseBcast(bytes: number, n: number, peer: boolean): Choice<"bcast"> {
  const f = force("bcast");
  if (f && (f !== "peer" || peer)) return f;
  if (peer && bytes >= PEER_BYTES) return "peer";
  return bytes >= LARGE_BCAST_BYTES && n > 2 ? "scatter-ring" : "binomial";
}

/** Allgather of `bytes` per rank. */
export function chooseAllgather(bytes: number, n: number, peer: boolean): Choice<"allgather"> {
  const f = force("allgather");
  if (f && (f !== "peer" || peer)) return f;
  if (peer && bytes * n >= PEER_BYTES) return "peer";
  return bytes * n <= 4 * SMALL_BYTES || n <= 2 ? "bruck" : "ring";
}

/** Gather or Scatter of `bytes` per rank (buffer tier). */
export function chooseRooted(collective: "gather" | "scatter", bytes: number, n: number): Choice<"gather" | "scatter"> {
  return force(collective) ?? (bytes >= LINEAR_BLOCK_BYTES && n > 2 ? "linear" : "binomial");
}

/** Reduce of `bytes`. */
export function chooseReduce(bytes: number, n: number, op: Op): Choice<"reduce"> {
  const f = force("reduce");
  if (!op.commute) return "binomial";
  return f ?? (bytes > SMALL_BYTES * 16 && n > 2 ? "ring" : "binomial");
}

/** Reduce-scatter of `bytes` (the whole send array). */
export function chooseReduceScatter(bytes: number, op: Op, peer: boolean): Choice<"reduce_scatter"> {
  const f = force("reduce_scatter");
  if (f && (f !== "peer" || (peer && op.commute))) return f;
  return peer && op.commute && bytes >= PEER_BYTES ? "peer" : "messages";
}
