/**
 * Benchmarks that double as smoke tests, run as `tsmpirun -n 2 -m tsmpi/bench <command>` (as
 * `python -m mpi4py.bench`):
 *
 * - `helloworld [-q]`: each rank says hello, in rank order.
 * - `ringtest [-n BYTES] [-l LOOPS] [-s SKIP]`: a message around the ring of ranks.
 * - `pingpong [-m MIN] [-n MAX] [-l LOOPS] [-s SKIP] [--json] [--without-bare]`: one-way latency
 *   and bandwidth between ranks 0 and 1 per message size, for the buffer tier (`Send/Recv`), the
 *   object tier (`send/recv`) and, beside them, two bare zeromq.js sockets between the same two
 *   processes (DEALER to ROUTER, as tsmpi's transport uses): the transport's own limit. The three
 *   are measured in interleaved rounds and reported as medians, with tsmpi/bare time ratios;
 *   `--json` adds the quartiles; `--without-bare` leaves the bare sockets out. The header names
 *   tsmpi's path between the two ranks (`shm`, `ipc` or `tcp`).
 * - `barrier`, `bcast`, `allreduce`, `allgather`, `gather`, `scatter`, `alltoall`
 *   `[-m MIN] [-n MAX] [--sizes B1,B2,..] [-l LOOPS] [-s SKIP] [--object | --device] [--json]`:
 *   per-call latency per message size (OSU style), median over iterations of the slowest rank's
 *   time. The size is the block each rank contributes (gather, scatter, alltoall and allgather
 *   move one block per rank). `--device` puts the buffers in DeviceArrays (GPU memory, or host
 *   memory on the cpu backend). `scripts/mpi4py-bench.py` measures the same on mpi4py.
 * - `gpupi`, `gpucopy`: the built-in Monte Carlo pi and host<->device copies (`lib/bench/gpu.ts`).
 *
 * `--help` prints the usage; a bad command line ends every rank with exit code 2 (rank 0 says
 * why). Every command ends the job with exit code 124 if it has not finished after
 * `TSMPI_BENCH_TIMEOUT` seconds (default 600), rather than wait forever.
 *
 * The benches are programs over tsmpi's public API, above it: this module, its GPU commands
 * (`gpu.ts`), `tsmpi/futures/bench` (`futures.ts`) and the option parser they share
 * (`options.ts`) live in `lib/bench/`, and nothing else in `lib/` imports them.
 *
 * @module
 */
import { pathToFileURL } from "node:url";
import { numberSetting } from "../config.js";
import { COMM_WORLD, Op, TsmpiError, processorName, transportInfo, wtime, type Comm } from "../index.js";
import { loadZmq } from "../transport/zmq.js";
import { cuda, isDeviceArray } from "../gpu/cuda.js";
import { gpucopy, gpupi } from "./gpu.js";
import { parseOptions, type OptionSpec, type Options } from "./options.js";

const HELP = `usage: tsmpirun -n N -m tsmpi/bench <command> [options]
  helloworld [-q]
  ringtest [-n BYTES] [-l LOOPS] [-s SKIP] [-q]
  pingpong [-m MIN] [-n MAX] [-l LOOPS] [-s SKIP] [--json] [--without-bare] [-q]    (2 ranks or more)
  barrier|bcast|allreduce|allgather|gather|scatter|alltoall [-m MIN] [-n MAX] [--sizes B1,B2,..]
      [-l LOOPS] [-s SKIP] [--object | --device] [--json] [-q]
  gpupi [-n SAMPLES] [-l LOOPS] [-s SKIP] [--seed S] [--json] [-q]
  gpucopy [-m MIN] [-n MAX] [-l LOOPS] [-s SKIP] [--json] [-q]
TSMPI_BENCH_TIMEOUT=S ends a run that has not finished after S seconds (default 600), exit 124`;

/** A bad command line: `main` prints it with the usage and ends with exit code 2. */
function usageError(message: string): TsmpiError {
  return new TsmpiError("ERR_TSMPI_ARG", message);
}

function options(args: string[], spec: OptionSpec): Options {
  return parseOptions(args, { quiet: { type: "boolean", short: "q" }, ...spec }).values;
}

function int(opts: Options, name: string): number {
  const n = Number(opts[name]);
  if (!Number.isInteger(n) || n < 0) throw usageError(`--${name} must be a non-negative integer, got ${JSON.stringify(opts[name])}`);
  return n;
}

/** The q-quantile (0..1) of `xs`, interpolated linearly between order statistics (numpy's default). */
function quantile(xs: ArrayLike<number>, q: number): number {
  const s = Array.from(xs).sort((a, b) => a - b);
  const h = (s.length - 1) * q;
  const lo = Math.floor(h);
  return lo + 1 < s.length ? s[lo]! + (h - lo) * (s[lo + 1]! - s[lo]!) : s[lo]!;
}

function median(xs: ArrayLike<number>): number {
  return quantile(xs, 0.5);
}

/** Median and quartiles of `xs`, rounded to 0.01 us, for the JSON lines. */
function summary(xs: ArrayLike<number>): { us: number; q1: number; q3: number } {
  const r = (x: number) => Math.round(x * 100) / 100;
  return { us: r(median(xs)), q1: r(quantile(xs, 0.25)), q3: r(quantile(xs, 0.75)) };
}

/** `--sizes 8,1048576` or the sizes between `--min-size` and `--max-size`. */
function sizeList(opts: Options, fallback: number[]): number[] {
  if (opts.sizes === undefined) return fallback;
  const list = String(opts.sizes).split(",").map(Number);
  if (list.length === 0 || !list.every((n) => Number.isInteger(n) && n >= 0))
    throw usageError(`--sizes must be a comma-separated list of non-negative integers, got ${JSON.stringify(opts.sizes)}`);
  return list;
}

/** Sizes 0 (when min is 0) and the powers of two in [min, max]. */
function sizes(min: number, max: number): number[] {
  const out = min === 0 ? [0] : [];
  for (let n = 1; n <= max; n *= 2) if (n >= min) out.push(n);
  return out;
}

/** Hello from every rank, in rank order (a zero-length token passed along). Returns this rank's line. */
export async function helloworld(comm: Comm = COMM_WORLD, args: string[] = []): Promise<string> {
  const opts = options(args, {});
  const width = String(comm.size - 1).length;
  const message = `Hello, World! I am process ${String(comm.rank).padStart(width)} of ${comm.size} on ${processorName()}.`;
  const token = new Uint8Array(0);
  await comm.barrier();
  if (comm.rank > 0) await comm.Recv(token, comm.rank - 1);
  if (!opts.quiet) process.stdout.write(`${message}\n`);
  if (comm.rank < comm.size - 1) await comm.Send(token, comm.rank + 1);
  await comm.barrier();
  return message;
}

/** Times a message of `-n` bytes going `-l` times around the ring; returns seconds. */
export async function ringtest(comm: Comm = COMM_WORLD, args: string[] = []): Promise<number> {
  const opts = options(args, {
    size: { type: "string", short: "n", default: "1" },
    loop: { type: "string", short: "l", default: "1" },
    skip: { type: "string", short: "s", default: "0" },
  });
  const [n, loop, skip] = [int(opts, "size"), int(opts, "loop"), int(opts, "skip")];
  const { rank, size } = comm;
  const source = (rank - 1 + size) % size;
  const dest = (rank + 1) % size;
  const sendmsg = new Uint8Array(n).fill(42);
  const recvmsg = new Uint8Array(n);
  await comm.barrier();
  let tic = wtime();
  for (let i = 0; i < loop + skip; i++) {
    if (i === skip) tic = wtime();
    if (size === 1) await comm.Sendrecv(sendmsg, dest, 0, recvmsg, source, 0);
    else if (rank === 0) {
      await comm.Send(sendmsg, dest, 0);
      await comm.Recv(recvmsg, source, 0);
    } else {
      await comm.Recv(recvmsg, source, 0);
      await comm.Send(recvmsg, dest, 0);
    }
  }
  const elapsed = wtime() - tic;
  if (rank === 0 && !recvmsg.every((b) => b === 42)) comm.abort(2);
  if (!opts.quiet && rank === 0)
    process.stdout.write(`time for ${loop} loops = ${elapsed.toPrecision(6)} seconds (${size} processes, ${n} bytes)\n`);
  return elapsed;
}

/** Two bare zeromq.js sockets between this rank and its peer, the baseline of `pingpong`. */
interface BareSockets {
  send(b: Buffer): Promise<void>;
  recv(): Promise<Buffer>;
  close(): void;
}

/**
 * A bare zeromq.js DEALER→ROUTER pair per process, connected by endpoints exchanged over `comm`:
 * `ipc://` in the job directory when the peer is on this host, else `tcp://` on the address this
 * rank advertises to other hosts.
 */
async function bareSockets(comm: Comm, peer: number): Promise<BareSockets> {
  const zmq = loadZmq();
  const router = new zmq.Router({ receiveHighWaterMark: 0, linger: 1000 });
  const dir = process.env.TSMPI_JOB_DIR;
  const info = transportInfo();
  const remote = info.paths[comm.worldRanks[peer]!] === "tcp";
  const tcpHost = /^tcp:\/\/(.*):\d+$/.exec(info.endpoints.find((e) => e.startsWith("tcp://")) ?? "")?.[1] ?? "127.0.0.1";
  await router.bind(dir && !remote ? `ipc://${dir}/bare-${comm.rank}.sock` : `tcp://${tcpHost}:*`);
  const theirs = await comm.sendrecv(router.lastEndpoint, peer, 901, peer, 901);
  const dealer = new zmq.Dealer({ sendHighWaterMark: 0, linger: 1000 });
  dealer.connect(theirs);
  return {
    send: (b) => dealer.send(b),
    recv: async () => (await router.receive())[1]!,
    close: () => {
      dealer.close();
      router.close();
    },
  };
}

export interface PingPongRow {
  bytes: number;
  /** Median one-way microseconds for each method (`bareUs` is absent with `--without-bare`). */
  bufferUs: number;
  objectUs: number;
  bareUs?: number;
}

/** A row as `--json` prints it: the medians, and each method's quartiles and sample count. */
interface PingPongJson extends PingPongRow {
  bufferQ1: number;
  bufferQ3: number;
  objectQ1: number;
  objectQ3: number;
  bareQ1?: number;
  bareQ3?: number;
  samples: number;
}

/**
 * Ping-pong between ranks 0 and 1 for every size, three ways, interleaved. Other ranks wait.
 * Returns the rows (on rank 0; empty elsewhere).
 */
export async function pingpong(comm: Comm = COMM_WORLD, args: string[] = []): Promise<PingPongRow[]> {
  const opts = options(args, {
    "min-size": { type: "string", short: "m", default: "0" },
    "max-size": { type: "string", short: "n", default: String(16 * 1024 * 1024) },
    loop: { type: "string", short: "l", default: "1000" },
    skip: { type: "string", short: "s", default: "50" },
    json: { type: "boolean" },
    "without-bare": { type: "boolean" },
  });
  if (comm.size < 2) throw usageError(`pingpong needs at least 2 ranks, got ${comm.size}`);
  const [min, max, loop, skip] = [int(opts, "min-size"), int(opts, "max-size"), int(opts, "loop"), int(opts, "skip")];
  const withBare = !opts["without-bare"];
  const { rank } = comm;
  const rows: PingPongRow[] = [];
  if (rank > 1) {
    await comm.barrier();
    return rows;
  }
  const peer = 1 - rank;
  const bare = withBare ? await bareSockets(comm, peer) : null;
  for (const bytes of sizes(min, max)) {
    const iters = Math.max(5, bytes > 1 << 20 ? Math.min(loop, 40) : bytes > 1 << 18 ? Math.min(loop, 300) : loop);
    const warm = Math.max(2, bytes > 1 << 20 ? Math.min(skip, 3) : skip);
    const samples = await sampleInterleaved(comm, peer, pingPongMethods(comm, peer, bytes, bare), iters, warm);
    const [buf, obj] = [summary(samples.buffer!), summary(samples.object!)];
    const row: PingPongJson = {
      bytes,
      bufferUs: buf.us,
      objectUs: obj.us,
      bufferQ1: buf.q1,
      bufferQ3: buf.q3,
      objectQ1: obj.q1,
      objectQ3: obj.q3,
      samples: samples.buffer!.length,
    };
    if (bare) {
      const b = summary(samples.bare!);
      Object.assign(row, { bareUs: b.us, bareQ1: b.q1, bareQ3: b.q3 });
    }
    rows.push({ bytes, bufferUs: row.bufferUs, objectUs: row.objectUs, ...(bare ? { bareUs: row.bareUs } : {}) });
    if (rank === 0 && !opts.quiet)
      printPingPong(row, rows.length === 1, Boolean(opts.json), transportInfo().paths[comm.worldRanks[peer]!]!);
  }
  await comm.barrier(); // the peer may still be receiving our last bare message
  bare?.close();
  return rank === 0 ? rows : [];
}

/** One round trip of each kind between this rank and `peer` (rank 0 sends first). */
function pingPongMethods(comm: Comm, peer: number, bytes: number, bare: BareSockets | null): Record<string, () => Promise<void>> {
  const sendArr = new Uint8Array(bytes).fill(7);
  const recvArr = new Uint8Array(bytes);
  const sendBuf = Buffer.alloc(bytes, 7);
  const first = comm.rank === 0;
  const methods: Record<string, () => Promise<void>> = {
    buffer: first
      ? async () => {
          await comm.Send(sendArr, peer, 1);
          await comm.Recv(recvArr, peer, 1);
        }
      : async () => {
          await comm.Recv(recvArr, peer, 1);
          await comm.Send(sendArr, peer, 1);
        },
    object: first
      ? async () => {
          await comm.send(sendArr, peer, 2);
          await comm.recv(peer, 2);
        }
      : async () => {
          await comm.recv(peer, 2);
          await comm.send(sendArr, peer, 2);
        },
  };
  if (bare) {
    methods.bare = first
      ? async () => {
          await bare.send(sendBuf);
          await bare.recv();
        }
      : async () => {
          await bare.recv();
          await bare.send(sendBuf);
        };
  }
  return methods;
}

/**
 * Times each method `iters` times in 10 interleaved rounds (so that a slow moment of the machine
 * falls on all of them), after `warm` untimed calls each; one-way times in µs, per method.
 */
async function sampleInterleaved(
  comm: Comm,
  peer: number,
  methods: Record<string, () => Promise<void>>,
  iters: number,
  warm: number,
): Promise<Record<string, number[]>> {
  const samples: Record<string, number[]> = Object.fromEntries(Object.keys(methods).map((m) => [m, []]));
  const rounds = 10;
  const perRound = Math.max(1, Math.ceil(iters / rounds));
  for (const m of Object.keys(methods)) for (let i = 0; i < warm; i++) await methods[m]!();
  for (let r = 0; r < rounds; r++) {
    for (const m of Object.keys(methods)) {
      await comm.Sendrecv(new Uint8Array(0), peer, 3, new Uint8Array(0), peer, 3); // both sides start together
      const run = methods[m]!;
      for (let i = 0; i < perRound; i++) {
        const t0 = process.hrtime.bigint();
        await run();
        samples[m]!.push(Number(process.hrtime.bigint() - t0) / 2000);
      }
    }
  }
  return samples;
}

function printPingPong(row: PingPongJson, header: boolean, json: boolean, path: string): void {
  if (json) {
    process.stdout.write(`${JSON.stringify(row)}\n`);
    return;
  }
  const mbs = (us: number) => (row.bytes / us).toFixed(1).padStart(9);
  if (header) {
    process.stdout.write(
      `# tsmpi PingPong Test: one-way time = round trip / 2, medians; tsmpi path between the ranks: ${path}; bare = two zeromq.js sockets (DEALER->ROUTER) between the same processes\n`,
    );
    process.stdout.write(
      `#  Size [B] | Send/Recv [us]   [MB/s] | send/recv [us]   [MB/s] | bare zmq [us]   [MB/s] | Send/bare send/bare  Samples\n`,
    );
  }
  const f = (us: number) => us.toFixed(2).padStart(14);
  const bare =
    row.bareUs === undefined
      ? `${"-".padStart(13)}${"-".padStart(9)} |${"-".padStart(9)}${"-".padStart(10)}`
      : `${f(row.bareUs).slice(1)}${mbs(row.bareUs)} |${(row.bufferUs / row.bareUs).toFixed(2).padStart(9)}${(row.objectUs / row.bareUs).toFixed(2).padStart(10)}`;
  process.stdout.write(
    `${String(row.bytes).padStart(11)} |${f(row.bufferUs)}${mbs(row.bufferUs)} |${f(row.objectUs)}${mbs(row.objectUs)} |${bare}${String(row.samples).padStart(9)}\n`,
  );
}

/** The collectives `collectiveLatency` times. */
const COLLECTIVES = ["barrier", "bcast", "allreduce", "allgather", "gather", "scatter", "alltoall"] as const;
type Collective = (typeof COLLECTIVES)[number];

/**
 * OSU-style latency of one collective per size: median over iterations of the slowest rank's
 * time. `bytes` is the block each rank contributes (Float64 elements, at least one).
 */
async function collectiveLatency(name: Collective, comm: Comm, args: string[]): Promise<void> {
  const opts = options(args, {
    "min-size": { type: "string", short: "m", default: name === "barrier" ? "0" : "8" },
    "max-size": { type: "string", short: "n", default: name === "barrier" ? "0" : String(8 * 1024 * 1024) },
    sizes: { type: "string" },
    loop: { type: "string", short: "l", default: "200" },
    skip: { type: "string", short: "s", default: "20" },
    object: { type: "boolean" },
    device: { type: "boolean" },
    json: { type: "boolean" },
  });
  const [min, max, loop, skip] = [int(opts, "min-size"), int(opts, "max-size"), int(opts, "loop"), int(opts, "skip")];
  const object = Boolean(opts.object);
  const device = Boolean(opts.device);
  if (object && device) throw usageError("--object and --device exclude each other (the object tier refuses DeviceArrays)");
  const json = Boolean(opts.json);
  const { rank, size } = comm;
  if (rank === 0 && !opts.quiet && !json) {
    const tier = object
      ? " (object tier)"
      : device
        ? ` (DeviceArrays, ${cuda.available ? `cuda:${cuda.device} ${cuda.deviceInfo().name}` : "cpu backend"})`
        : "";
    process.stdout.write(
      `# tsmpi ${name}${tier}: ${size} processes; latency per call = median over iterations of the slowest rank\n#   Size [B]  Latency [us]  Iterations\n`,
    );
  }
  const todo = name === "barrier" ? [0] : sizeList(opts, sizes(min, max)).filter((b) => b >= 8);
  for (const bytes of todo) {
    const n = Math.max(1, Math.floor(bytes / 8));
    const all = name === "allgather" || name === "gather" || name === "scatter" || name === "alltoall";
    const hostA = new Float64Array(name === "scatter" || name === "alltoall" ? n * size : n).fill(rank + 1);
    const bLength = all && name !== "scatter" ? n * size : n;
    const a = device ? cuda.toDevice(hostA) : hostA;
    const b = device ? cuda.empty(Float64Array, bLength) : new Float64Array(bLength);
    const blocks = Array.from({ length: size }, (_, i) => hostA.subarray(i * n, (i + 1) * n));
    const iters = bytes > 1 << 20 ? Math.min(loop, 20) : bytes > 1 << 14 ? Math.min(loop, 100) : loop;
    const call: () => Promise<unknown> = {
      barrier: () => comm.barrier(),
      bcast: () => (object ? comm.bcast(hostA, 0) : comm.Bcast(a, 0)),
      allreduce: () => (object ? comm.allreduce(hostA, Op.SUM) : comm.Allreduce(a, b, Op.SUM)),
      allgather: () => (object ? comm.allgather(hostA) : comm.Allgather(a, b)),
      gather: () => (object ? comm.gather(hostA, 0) : comm.Gather(a, rank === 0 ? b : null, 0)),
      scatter: () => (object ? comm.scatter(rank === 0 ? blocks : null, 0) : comm.Scatter(rank === 0 ? a : null, b, 0)),
      alltoall: () => (object ? comm.alltoall(blocks) : comm.Alltoall(a, b)),
    }[name];
    const times: number[] = [];
    for (let i = 0; i < iters + skip; i++) {
      await comm.barrier();
      const t0 = process.hrtime.bigint();
      await call();
      const us = Number(process.hrtime.bigint() - t0) / 1000;
      if (i >= skip) times.push(us);
    }
    for (const buf of [a, b]) if (isDeviceArray(buf)) buf.free();
    const slowest = await comm.reduce(new Float64Array(times), Op.MAX, 0);
    if (rank !== 0 || opts.quiet) continue;
    const s = summary(slowest as Float64Array);
    if (json)
      process.stdout.write(`${JSON.stringify({ name, tier: object ? "object" : "buffer", size, bytes, ...s, iterations: iters })}\n`);
    else
      process.stdout.write(
        `${String(bytes).padStart(12)}${median(slowest as Float64Array)
          .toFixed(2)
          .padStart(14)}${String(iters).padStart(12)}\n`,
      );
  }
}

/** Entry point of `-m tsmpi/bench`. */
export async function main(argv: string[] = process.argv.slice(2)): Promise<void> {
  const [command, ...args] = argv;
  const commands: Record<string, (c: Comm, a: string[]) => Promise<unknown>> = {
    helloworld,
    ringtest,
    pingpong,
    ...Object.fromEntries(COLLECTIVES.map((name) => [name, (c: Comm, a: string[]) => collectiveLatency(name, c, a)])),
    gpupi,
    gpucopy,
  };
  if (command === "-h" || command === "--help" || args.includes("-h") || args.includes("--help")) {
    if (COMM_WORLD.rank === 0) process.stdout.write(`${HELP}\n`);
    return;
  }
  const run = command ? commands[command] : undefined;
  if (!run) {
    if (COMM_WORLD.rank === 0) process.stderr.write(`${command ? `unknown command ${JSON.stringify(command)}\n` : ""}${HELP}\n`);
    process.exitCode = 2;
    return;
  }
  // A bench never waits forever: past the limit it ends the job with an error (exit 124).
  const limit = numberSetting("TSMPI_BENCH_TIMEOUT")!;
  const watchdog = setTimeout(() => {
    process.stderr.write(
      `tsmpi bench: rank ${COMM_WORLD.rank}: ${command} did not finish within ${limit} s (TSMPI_BENCH_TIMEOUT); ending the job\n`,
    );
    COMM_WORLD.abort(124);
  }, limit * 1000);
  watchdog.unref();
  try {
    await run(COMM_WORLD, args);
  } catch (err) {
    // Every rank parses the same command line: each ends with 2, rank 0 says why.
    if (!(err instanceof TsmpiError && err.code === "ERR_TSMPI_ARG")) throw err;
    if (COMM_WORLD.rank === 0) process.stderr.write(`tsmpi bench ${command}: ${err.message}\n${HELP}\n`);
    process.exitCode = 2;
  } finally {
    clearTimeout(watchdog);
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) await main();
