/**
 * Every `TSMPI_*` environment variable tsmpi reads, declared once ({@link SETTINGS}: name, kind,
 * default, range, meaning), and read and validated through this module only. A bad value is a
 * `TsmpiError` naming the variable, the allowed range and the value.
 *
 * Two sorts of variables: settings a user sets (shown in the README's tables, which
 * `npm run settings-table` writes from {@link SETTINGS}; a test fails when they disagree), and
 * internal ones (`internal: true`) that tsmpirun or a pool passes to the processes it starts
 * (`TSMPI_RANK`, `TSMPI_COORD`, ...): declared here so that every name read is a declared one,
 * but never shown to users, and their ranges depend on each other (a rank below the size), so
 * their readers check them with {@link parseInteger}. Variables only the tests read
 * (`TSMPI_LONG_TESTS`, ...) and build-time ones (`TSMPI_CUDA_ARCHS`) are not here.
 *
 * The tunables of the message layer are also gathered in one {@link Config} object, read once.
 *
 * @module
 */
import { TsmpiError, type TsmpiErrorCode as ErrorCode } from "./errors.js";

/** One `TSMPI_*` variable. */
export interface Setting {
  readonly name: string;
  /** `integer` and `seconds` (a positive number) are validated; `switch` and `text` are read as they are. */
  readonly kind: "integer" | "seconds" | "switch" | "text";
  /** The value when the variable is unset or empty, where it is one number. */
  readonly default?: number;
  /** The default as the README shows it, where it is not {@link default} (computed, or a word). */
  readonly shown?: string;
  readonly min?: number;
  readonly max?: number;
  readonly multipleOf?: number;
  /** Said after the range in an error (`microseconds`). */
  readonly unit?: string;
  /** The error code of a bad value (default `ERR_TSMPI_ARG`). */
  readonly code?: ErrorCode;
  /** What it does (the README's "meaning" column). */
  readonly meaning: string;
  /** The README table that lists it; internal variables are in none. */
  readonly table?: "configuration" | "security";
  /** Passed by tsmpirun or a pool to the processes it starts; not a user setting. */
  readonly internal?: true;
}

const MAX_RING = 2 ** 30;

/** Every `TSMPI_*` variable tsmpi reads, in the order of the README's tables. */
export const SETTINGS: readonly Setting[] = [
  {
    name: "TSMPI_EAGER_LIMIT",
    kind: "integer",
    default: 64 * 1024,
    min: 0,
    max: 2 ** 30,
    table: "configuration",
    meaning: "buffer-tier sends up to this many bytes are copied and complete at once; larger ones are sent without a copy",
  },
  {
    name: "TSMPI_CHUNK_SIZE",
    kind: "integer",
    default: 1024 * 1024,
    min: 4096,
    max: 2 ** 30,
    table: "configuration",
    meaning: "large payloads travel in pieces of this size",
  },
  {
    name: "TSMPI_LINGER_MS",
    kind: "integer",
    default: 5000,
    min: 0,
    max: 3_600_000,
    table: "configuration",
    meaning:
      "how long a finishing rank keeps waiting for its last messages to leave while none moves; what is left is dropped, and said on stderr",
  },
  {
    name: "TSMPI_RENDEZVOUS_TIMEOUT",
    kind: "integer",
    default: 60,
    min: 1,
    max: 86_400,
    table: "configuration",
    meaning: "seconds a rank waits for all ranks to join",
  },
  {
    name: "TSMPI_SSH",
    kind: "text",
    shown: "`ssh`",
    table: "configuration",
    meaning: "the command that reaches remote hosts (`--launch-agent`)",
  },
  {
    name: "TSMPI_IFACE",
    kind: "text",
    table: "configuration",
    meaning: "interface name or subnet to advertise to other hosts (`--iface`)",
  },
  {
    name: "TSMPI_SLURM_PORT",
    kind: "integer",
    min: 1,
    max: 65535,
    code: "ERR_TSMPI_RENDEZVOUS",
    table: "configuration",
    meaning: "rendezvous port of a direct srun launch (default: the first free of 8 derived from the job and step ids)",
  },
  {
    name: "TSMPI_CMA",
    kind: "switch",
    shown: "1",
    table: "configuration",
    meaning: "`0`: same-host ranks never read each other's memory (every byte goes through sockets)",
  },
  {
    name: "TSMPI_CMA_THRESHOLD",
    kind: "integer",
    default: 128 * 1024,
    min: 1,
    max: 2 ** 40,
    table: "configuration",
    meaning: "same-host payloads from this many bytes are read by the receiver from the sender's memory",
  },
  {
    name: "TSMPI_SHM",
    kind: "switch",
    shown: "1",
    table: "configuration",
    meaning: "`0`: same-host ranks talk through ZeroMQ `ipc://` sockets instead of shared memory",
  },
  {
    name: "TSMPI_SPIN_US",
    kind: "integer",
    shown: "by host",
    min: 0,
    max: 1_000_000,
    unit: "microseconds",
    table: "configuration",
    meaning:
      "microseconds a waiting rank polls shared memory before it sleeps (0: never); default 50 with no more ranks than cores, 50 yielding up to twice as many, else 0",
  },
  { name: "TSMPI_SPIN_MODE", kind: "switch", table: "configuration", meaning: "`yield`: always give the core away between polls" },
  {
    name: "TSMPI_BIND",
    kind: "switch",
    shown: "1",
    table: "configuration",
    meaning:
      "`0`: do not bind a polling rank's main thread to a core (with no more ranks than cores on a host, each rank's main thread is bound to one of the allowed CPUs, as Open MPI binds ranks to cores)",
  },
  {
    name: "TSMPI_KEEP_HEAP",
    kind: "switch",
    shown: "1",
    table: "configuration",
    meaning:
      "`0`: leave glibc malloc's thresholds alone. By default a rank fixes them at what glibc's own dynamic rule reaches at most (mmap from 32 MiB, trim past 64 MiB free), so the buffers received messages allocate are reused rather than faulted in again after each garbage collection (64 KiB ping-pong: 19-29 → 6-7 µs); a rank may keep up to 64 MiB it freed",
  },
  {
    name: "TSMPI_SHM_RING_BYTES",
    kind: "integer",
    shown: "1048576",
    min: 4096,
    max: MAX_RING,
    multipleOf: 4096,
    table: "configuration",
    meaning:
      "bytes of each shared-memory ring (one per sender and receiver); less by default with many ranks on a host (32 MiB per inbox, at least 64 KiB per ring)",
  },
  {
    name: "TSMPI_BENCH_TIMEOUT",
    kind: "seconds",
    default: 600,
    table: "configuration",
    meaning: "seconds after which a `tsmpi/bench` command ends the job with exit code 124",
  },
  {
    name: "TSMPI_COLL",
    kind: "text",
    table: "configuration",
    meaning:
      "force collective algorithms, e.g. `allreduce:ring,bcast:scatter-ring,gather:linear` (`peer`: same-host single copy); a wrong entry lists the choices",
  },
  {
    name: "TSMPI_TRACE",
    kind: "text",
    table: "configuration",
    meaning:
      "comma list: `collectives` (each rank prints one JSON line per collective call: messages sent/received, bytes), `startup` (each rank prints the milliseconds its start-up phases took), `transport` (each rank prints its path to each peer and its polling mode, and its first single-copy read from each sender)",
  },
  { name: "TSMPI_NATIVE", kind: "switch", shown: "1", table: "configuration", meaning: "`0` turns the native addon off (pure JavaScript)" },
  { name: "TSMPI_CUDA", kind: "switch", shown: "1", table: "configuration", meaning: "`0`: a CUDA build of the addon stays on the CPU" },
  {
    name: "TSMPI_FUTURES_MAX_WORKERS",
    kind: "integer",
    min: 1,
    max: Number.MAX_SAFE_INTEGER,
    table: "configuration",
    meaning: "the default worker count of a `PoolExecutor` (see Task pools)",
  },
  {
    name: "TSMPI_CACHE_DIR",
    kind: "text",
    shown: "`$XDG_CACHE_HOME/tsmpi`",
    table: "configuration",
    meaning: "where tsmpirun caches the TypeScript programs it compiled (else `~/.cache/tsmpi`)",
  },
  {
    name: "TSMPI_TSX",
    kind: "switch",
    table: "configuration",
    meaning: "`1`: run TypeScript through tsx in every rank instead of compiling it once in tsmpirun",
  },
  // Reliability and security.
  {
    name: "TSMPI_INSECURE",
    kind: "switch",
    table: "security",
    meaning: "`1`: no CURVE, no TLS between hosts (`--insecure`); a warning says so",
  },
  {
    name: "TSMPI_JOB_KEY",
    kind: "text",
    table: "security",
    meaning:
      "direct srun launch: the user's secret (else `~/.config/tsmpi/job-key`), at least 128 bits: 32 hex digits or 22 base64 characters",
  },
  {
    name: "TSMPI_SEND_HWM",
    kind: "integer",
    default: 64 * 1024 * 1024,
    min: 1,
    max: 2 ** 40,
    table: "security",
    meaning: "bytes queued per peer before sends wait",
  },
  {
    name: "TSMPI_ZMQ_HWM",
    kind: "integer",
    default: 1000,
    min: 1,
    max: 2 ** 30,
    table: "security",
    meaning: "messages ZeroMQ holds per connection, each way",
  },
  // Its least is the chunk size (at least 8192) + 48: config() and checkSettings() pass it.
  {
    name: "TSMPI_MAX_FRAME",
    kind: "integer",
    shown: "chunk size + 65536",
    min: 8192 + 48,
    max: 2 ** 40,
    table: "security",
    meaning: "the largest frame a rank accepts; raise it with `TSMPI_CHUNK_SIZE` on every rank",
  },
  {
    name: "TSMPI_STOPPED_TIMEOUT",
    kind: "seconds",
    default: 10,
    table: "security",
    meaning: "seconds a rank (local, or on a host reached over ssh) may stay stopped (SIGSTOP) before tsmpirun ends the job",
  },
  {
    name: "TSMPI_HEARTBEAT_TIMEOUT",
    kind: "seconds",
    default: 10,
    max: 86_400,
    table: "security",
    meaning:
      "seconds without a heartbeat from a host reached over ssh before tsmpirun ends the job (exit 255); also how long a rank's coordinator connection, and a `tcp://` connection between ranks, may stay silent before the peer counts as gone",
  },
  // What tsmpirun (launcher/job.ts) and a PoolExecutor pass to the processes they start.
  { name: "TSMPI_COORD", kind: "text", internal: true, meaning: "the coordinator a rank joins (`unix:PATH` or `tcp:HOST:PORT`)" },
  { name: "TSMPI_RANK", kind: "integer", internal: true, meaning: "the rank (below TSMPI_SIZE)" },
  { name: "TSMPI_SIZE", kind: "integer", internal: true, meaning: "the number of ranks" },
  { name: "TSMPI_LOCAL_RANK", kind: "integer", internal: true, meaning: "the rank among those of its host" },
  { name: "TSMPI_LOCAL_SIZE", kind: "integer", internal: true, meaning: "the number of ranks on its host" },
  { name: "TSMPI_JOB_DIR", kind: "text", internal: true, meaning: "the job's private (0700) directory" },
  {
    name: "TSMPI_JOB_NONCE",
    kind: "text",
    internal: true,
    meaning: "inside a SLURM allocation: mixed with the user's secret into the job key",
  },
  { name: "TSMPI_TCP", kind: "switch", internal: true, meaning: "`1`: peers on other hosts exist" },
  { name: "TSMPI_LAUNCHER_PID", kind: "integer", internal: true, meaning: "tsmpirun's process id (allowed to trace the ranks)" },
  {
    name: "TSMPI_APPNUM",
    kind: "integer",
    min: 0,
    max: 2 ** 20,
    code: "ERR_TSMPI_RENDEZVOUS",
    internal: true,
    meaning: "the part of an MPMD command line (`a.js : b.js`) the rank runs, from 0 (`APPNUM`); 0 when unset",
  },
  { name: "TSMPI_UNIVERSE", kind: "text", internal: true, meaning: "the hosts given to tsmpirun (`host:slots,...`), for a pool's workers" },
  {
    name: "TSMPI_SPAWN_PARENTS",
    kind: "integer",
    min: 1,
    max: 1_000_000,
    internal: true,
    meaning: "a job started by `Comm.Spawn`: how many parent ranks joined it after its own (its last ranks)",
  },
  {
    name: "TSMPI_UNIVERSE_SIZE",
    kind: "integer",
    min: 1,
    max: 1_000_000,
    internal: true,
    meaning: "the MPI universe size (`UNIVERSE_SIZE`) set by `tsmpirun --universe-size N`",
  },
  {
    name: "TSMPI_SPAWN_FD",
    kind: "integer",
    min: 1,
    max: Number.MAX_SAFE_INTEGER,
    internal: true,
    meaning: "a pool's tsmpirun: the descriptor it writes the join line to",
  },
];

const byName = new Map(SETTINGS.map((s) => [s.name, s]));

/** The declaration of `name` (a name nobody declared is a bug here, not a user's mistake). */
export function settingOf(name: string): Setting {
  const setting = byName.get(name);
  if (!setting) throw new Error(`${name} is not a declared TSMPI_* setting (lib/config.ts)`);
  return setting;
}

/**
 * The one integer check: `raw` as an integer in `[min, max]` (a multiple of `multipleOf`), or
 * a `TsmpiError` saying so.
 */
export function parseInteger(
  name: string,
  raw: string,
  min: number,
  max: number,
  opts: { code?: ErrorCode; unit?: string; multipleOf?: number } = {},
): number {
  const n = Number(raw);
  if (Number.isInteger(n) && n >= min && n <= max && n % (opts.multipleOf ?? 1) === 0) return n;
  const range =
    opts.multipleOf !== undefined
      ? `a multiple of ${opts.multipleOf} in [${min}, ${max}]`
      : max === Number.MAX_SAFE_INTEGER
        ? `an integer >= ${min}`
        : `an integer in [${min}, ${max}]`;
  throw new TsmpiError(
    opts.code ?? "ERR_TSMPI_ARG",
    `${name} must be ${range}${opts.unit ? ` (${opts.unit})` : ""}, got ${JSON.stringify(raw)}`,
  );
}

/**
 * The value of the numeric setting `name` in `env`, validated: its default (or `undefined`)
 * when unset or empty. `min` replaces the declared least value where it depends on another.
 */
export function numberSetting(name: string, env: NodeJS.ProcessEnv = process.env, min?: number): number | undefined {
  const s = settingOf(name);
  if (s.kind !== "integer" && s.kind !== "seconds") throw new Error(`${name} is not a number setting`);
  const raw = env[name];
  if (raw === undefined || raw === "") return s.default;
  if (s.kind === "integer") return parseInteger(name, raw, min ?? s.min ?? 0, s.max ?? Number.MAX_SAFE_INTEGER, s);
  const n = Number(raw);
  const code = s.code ?? "ERR_TSMPI_ARG";
  if (!Number.isFinite(n) || n <= 0) throw new TsmpiError(code, `${name} must be a positive number, got ${JSON.stringify(raw)}`);
  if (s.max !== undefined && n > s.max)
    throw new TsmpiError(code, `${name} must be at most ${s.max} (seconds), got ${JSON.stringify(raw)}`);
  return n;
}

/** The raw value of the switch or text setting `name` in `env` (as set, empty included). */
export function textSetting(name: string, env: NodeJS.ProcessEnv = process.env): string | undefined {
  settingOf(name);
  return env[name];
}

/** The least `TSMPI_MAX_FRAME`: a whole chunk and its header fit in one frame. */
function maxFrameFloor(chunkSize: number): number {
  return Math.max(chunkSize, 8192) + 48;
}

/**
 * Checks every numeric user setting in `env` (tsmpirun does, before it starts a rank, so that a
 * bad value is one line rather than an error from every rank).
 */
export function checkSettings(env: NodeJS.ProcessEnv = process.env): void {
  for (const s of SETTINGS) {
    if (s.internal || (s.kind !== "integer" && s.kind !== "seconds")) continue;
    numberSetting(s.name, env, s.name === "TSMPI_MAX_FRAME" ? maxFrameFloor(numberSetting("TSMPI_CHUNK_SIZE", env)!) : undefined);
  }
}

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

let cached: Config | undefined;

/** The configuration, read from the environment on first use. */
export function config(): Config {
  if (cached) return cached;
  const num = (name: string): number => numberSetting(name)!;
  const native = textSetting("TSMPI_NATIVE") !== "0";
  const chunkSize = num("TSMPI_CHUNK_SIZE");
  cached = {
    eagerLimit: num("TSMPI_EAGER_LIMIT"),
    chunkSize,
    lingerMs: num("TSMPI_LINGER_MS"),
    rendezvousTimeout: num("TSMPI_RENDEZVOUS_TIMEOUT"),
    cma: textSetting("TSMPI_CMA") !== "0" && native,
    cmaThreshold: num("TSMPI_CMA_THRESHOLD"),
    cmaFailReads: textSetting("TSMPI_CMA") === "fail-reads",
    sendHwm: num("TSMPI_SEND_HWM"),
    zmqHwm: num("TSMPI_ZMQ_HWM"),
    maxFrame: numberSetting("TSMPI_MAX_FRAME", process.env, maxFrameFloor(chunkSize)) ?? Math.max(chunkSize, 8192) + 64 * 1024,
    heartbeatTimeout: num("TSMPI_HEARTBEAT_TIMEOUT"),
    shm: textSetting("TSMPI_SHM") !== "0" && native,
  };
  return cached;
}
