/**
 * tsmpi's tunables: one object, read once from `TSMPI_*` environment variables and validated.
 * A bad value is a `TsmpiError` naming the variable, the allowed range and the value.
 *
 * @module
 */
import { TsmpiError } from "./errors.js";

/** The validated configuration of this process. */
export interface Config {
  /** Buffer-tier sends up to this many bytes are copied and complete at once; larger ones are sent
   * without a copy and complete when the receiver's process has the data (`TSMPI_EAGER_LIMIT`). */
  eagerLimit: number;
  /** Large payloads travel in pieces of this many bytes, so the receiver copies one piece while the
   * next is in flight (`TSMPI_CHUNK_SIZE`). */
  chunkSize: number;
  /** Milliseconds a finishing rank keeps waiting for its queued messages to leave while none moves;
   * what is left then is dropped and said on stderr (`TSMPI_LINGER_MS`). */
  lingerMs: number;
  /** Seconds a rank waits for all ranks to join the job (`TSMPI_RENDEZVOUS_TIMEOUT`). */
  rendezvousTimeout: number;
  /** Whether ranks of one host may copy large messages straight out of each other's memory
   * (single copy, `process_vm_readv`); `TSMPI_CMA=0` turns it off. */
  cma: boolean;
  /** Payloads from this many bytes on use that single copy (`TSMPI_CMA_THRESHOLD`). */
  cmaThreshold: number;
  /**
   * For the tests (`TSMPI_CMA=fail-reads`): every single-copy read fails, as where the kernel
   * forbids them, so the fallbacks run.
   */
  cmaFailReads: boolean;
  /**
   * Bytes a rank may have queued for one peer before its sends stop completing at once: the
   * send then completes when the queue fell below half of it, so a fast sender waits for a slow
   * receiver instead of growing memory (`TSMPI_SEND_HWM`).
   */
  sendHwm: number;
  /** Messages ZeroMQ itself may hold per connection, each way (`TSMPI_ZMQ_HWM`). */
  zmqHwm: number;
  /**
   * The largest single frame a rank accepts (`TSMPI_MAX_FRAME`): ZeroMQ drops the connection of
   * a peer that sends a larger one before it allocates it. Default: the chunk size plus 64 KiB.
   */
  maxFrame: number;
  /**
   * Seconds after which a peer that went silent counts as gone (`TSMPI_HEARTBEAT_TIMEOUT`, a
   * positive number): tsmpirun's heartbeat of remote hosts, TCP keepalive on a rank's
   * coordinator connection, and ZeroMQ heartbeats on tcp:// connections.
   */
  heartbeatTimeout: number;
  /** Whether ranks of one host exchange messages through shared memory (`TSMPI_SHM=0`: through
   * ZeroMQ's ipc:// sockets instead). Needs the native addon. */
  shm: boolean;
}

function intFromEnv(name: string, fallback: number, min: number, max: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === "") return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min || n > max) {
    throw new TsmpiError("ERR_TSMPI_ARG", `${name} must be an integer in [${min}, ${max}], got ${JSON.stringify(raw)}`);
  }
  return n;
}

function secondsFromEnv(name: string, fallback: number, max: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === "") return fallback;
  const n = Number(raw);
  if (!Number.isFinite(n) || n <= 0) throw new TsmpiError("ERR_TSMPI_ARG", `${name} must be a positive number, got ${JSON.stringify(raw)}`);
  if (n > max) throw new TsmpiError("ERR_TSMPI_ARG", `${name} must be at most ${max} (seconds), got ${JSON.stringify(raw)}`);
  return n;
}

let cached: Config | undefined;

/** The configuration, read from the environment on first use. */
export function config(): Config {
  cached ??= {
    eagerLimit: intFromEnv("TSMPI_EAGER_LIMIT", 64 * 1024, 0, 2 ** 30),
    chunkSize: intFromEnv("TSMPI_CHUNK_SIZE", 1024 * 1024, 4096, 2 ** 30),
    lingerMs: intFromEnv("TSMPI_LINGER_MS", 5000, 0, 3_600_000),
    rendezvousTimeout: intFromEnv("TSMPI_RENDEZVOUS_TIMEOUT", 60, 1, 86_400),
    cma: process.env.TSMPI_CMA !== "0" && process.env.TSMPI_NATIVE !== "0",
    cmaThreshold: intFromEnv("TSMPI_CMA_THRESHOLD", 128 * 1024, 1, 2 ** 40),
    cmaFailReads: process.env.TSMPI_CMA === "fail-reads",
    sendHwm: intFromEnv("TSMPI_SEND_HWM", 64 * 1024 * 1024, 1, 2 ** 40),
    zmqHwm: intFromEnv("TSMPI_ZMQ_HWM", 1000, 1, 2 ** 30),
    maxFrame: 0,
    heartbeatTimeout: secondsFromEnv("TSMPI_HEARTBEAT_TIMEOUT", 10, 86_400),
    shm: process.env.TSMPI_SHM !== "0" && process.env.TSMPI_NATIVE !== "0",
  };
  if (cached.maxFrame === 0) cached.maxFrame = intFromEnv("TSMPI_MAX_FRAME", Math.max(cached.chunkSize, 8192) + 64 * 1024, Math.max(cached.chunkSize, 8192) + 48, 2 ** 40);
  return cached;
}
