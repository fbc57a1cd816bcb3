/**
 * The GPU commands of `tsmpi/bench` (run as `tsmpirun -n N -m tsmpi/bench gpupi|gpucopy`), with
 * the same options and JSON lines as `scripts/cupy-bench.py`, so runs of the two side by side
 * compare one for one (`scripts/gpu-compare.mjs` puts them in one table):
 *
 * - `gpupi [-n SAMPLES] [-l LOOPS] [-s SKIP] [--seed S] [--json]`: the built-in Monte Carlo pi
 *   (`cuda.piCount`) on every rank at once, each on its own stream; per rank the wall time of
 *   the awaited call and, on a GPU, the kernel's time between two `cuda.event()`s.
 * - `gpucopy [-m MIN] [-n MAX] [-l LOOPS] [-s SKIP] [--json]`: rank 0's host<->device copies per
 *   size (powers of two, bytes of a Float32Array): `DeviceArray.from` (allocate and upload),
 *   `copyFrom`, `toHost()` (into a new array), `toHost(out)`, and the asynchronous
 *   `stageFromHost`/`stageToHost`.
 *
 * They run on the `"cpu"` backend too (host memory; no kernel time), which makes them a smoke
 * test anywhere.
 *
 * Not supported yet: several GPUs per rank, pinned host memory, device-to-device copies.
 *
 * @module
 */
import type { Comm } from "../comm.js";
import { TsmpiError } from "../errors.js";
import { cuda, DeviceArray } from "../gpu/cuda.js";
import { parseOptions, type OptionSpec, type Options } from "./options.js";

function parse(args: string[], spec: OptionSpec): Options {
  return parseOptions(args, { quiet: { type: "boolean", short: "q" }, json: { type: "boolean" }, ...spec }).values;
}

function count(opts: Options, name: string, min = 0): number {
  const n = Number(opts[name]);
  if (!Number.isSafeInteger(n) || n < min)
    throw new TsmpiError("ERR_TSMPI_ARG", `--${name} must be an integer >= ${min}, got ${JSON.stringify(opts[name])}`);
  return n;
}

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

const seconds = (t0: bigint): number => Number(process.hrtime.bigint() - t0) / 1e9;

/** Where this rank computes, for the reports: `cuda:0 NVIDIA H200` or `cpu`. */
function where(): string {
  return cuda.available ? `cuda:${cuda.device} ${cuda.deviceInfo().name}` : "cpu";
}

/** One rank's `gpupi` result (also the JSON line it prints). */
export interface GpuPiResult {
  bench: "pi";
  impl: "tsmpi";
  rank: number;
  size: number;
  device: string;
  n: number;
  seed: number;
  stream: number;
  count: number;
  /** Wall time of each awaited `cuda.piCount` call, seconds. */
  wallS: number[];
  /** GPU time of each call's work between two events, seconds; null on the cpu backend. */
  kernelS: number[] | null;
}

/** `gpupi`: returns every rank's result on rank 0 (an empty list elsewhere). */
export async function gpupi(comm: Comm, args: string[]): Promise<GpuPiResult[]> {
  const opts = parse(args, {
    samples: { type: "string", short: "n", default: String(cuda.available ? 2 ** 32 : 2 ** 22) },
    loop: { type: "string", short: "l", default: "10" },
    skip: { type: "string", short: "s", default: "2" },
    seed: { type: "string", default: "2024" },
  });
  const [n, loop, skip, seed] = [count(opts, "samples", 1), count(opts, "loop", 1), count(opts, "skip"), count(opts, "seed")];
  const stream = comm.rank;
  const wallS: number[] = [];
  const kernelS: number[] = [];
  let inside = -1;
  for (let i = 0; i < skip + loop; i++) {
    await comm.barrier();
    const t0 = process.hrtime.bigint();
    const start = cuda.available ? cuda.event() : null;
    const pending = cuda.piCount(n, { seed, stream });
    const end = start ? cuda.event() : null;
    const got = await pending;
    const wall = seconds(t0);
    if (inside >= 0 && got !== inside) throw new Error(`piCount gave ${got}, then ${inside}, for the same samples`);
    inside = got;
    if (i < skip) continue;
    wallS.push(wall);
    if (start && end) kernelS.push((await cuda.elapsedTime(start, end)) / 1e3);
  }
  const mine: GpuPiResult = {
    bench: "pi",
    impl: "tsmpi",
    rank: comm.rank,
    size: comm.size,
    device: where(),
    n,
    seed,
    stream,
    count: inside,
    wallS,
    kernelS: cuda.available ? kernelS : null,
  };
  const all = await comm.gather(mine, 0);
  if (comm.rank !== 0) return [];
  for (const r of all!) {
    if (opts.quiet) continue;
    if (opts.json) {
      process.stdout.write(`${JSON.stringify(r)}\n`);
      continue;
    }
    const wall = median(r.wallS);
    const kernel = r.kernelS ? median(r.kernelS) : null;
    const rate = (s: number) => (r.n / s).toExponential(3);
    process.stdout.write(
      `pi rank ${r.rank}/${r.size} ${r.device}: ${r.n} samples, count ${r.count}; wall ${(wall * 1e3).toFixed(3)} ms = ${rate(wall)} samples/s` +
        (kernel === null ? "; kernel time n/a (cpu backend)" : `; kernel ${(kernel * 1e3).toFixed(3)} ms = ${rate(kernel)} samples/s`) +
        ` (medians of ${r.wallS.length})\n`,
    );
  }
  return all!;
}

/** One `gpucopy` measurement (also the JSON line it prints). */
export interface GpuCopyResult {
  bench: "copy";
  impl: "tsmpi";
  device: string;
  /** The operation, by the name `scripts/cupy-bench.py` uses for its counterpart. */
  op: string;
  bytes: number;
  /** Seconds per call. */
  timesS: number[];
}

/** The copy operations timed, by the name shared with `scripts/cupy-bench.py`. */
const COPIES: Record<string, (host: Float32Array, d: DeviceArray<Float32Array>, out: Float32Array) => unknown> = {
  // DeviceArray.from(host)  ~  cupy.asarray(ndarray): allocate, then host to device
  "h2d-new": (host) => DeviceArray.from(host).free(),
  // d.copyFrom(host)  ~  d.set(ndarray)
  "h2d-into": (host, d) => d.copyFrom(host),
  // d.toHost()  ~  d.get(): a new host array
  "d2h-new": (_host, d) => d.toHost(),
  // d.toHost(out)  ~  d.get(out=ndarray)
  "d2h-into": (_host, d, out) => d.toHost(out),
  // the buffer-tier calls' asynchronous staging (no CuPy counterpart)
  "h2d-async": (host, d) => d.stageFromHost(host),
  "d2h-async": (_host, d) => d.stageToHost(),
};

/** `gpucopy`: rank 0 measures (the others wait); returns its results. */
export async function gpucopy(comm: Comm, args: string[]): Promise<GpuCopyResult[]> {
  const opts = parse(args, {
    "min-size": { type: "string", short: "m", default: String(1 << 20) },
    "max-size": { type: "string", short: "n", default: String(256 << 20) },
    loop: { type: "string", short: "l", default: "10" },
    skip: { type: "string", short: "s", default: "2" },
  });
  const [min, max, loop, skip] = [count(opts, "min-size", 4), count(opts, "max-size", 4), count(opts, "loop", 1), count(opts, "skip")];
  const results: GpuCopyResult[] = [];
  if (comm.rank === 0) {
    if (!opts.json && !opts.quiet)
      process.stdout.write(
        `# tsmpi host<->device copies on ${where()}: GB/s (medians of ${loop}; pageable host memory)\n#        bytes  op         GB/s\n`,
      );
    for (let bytes = 4; bytes <= max; bytes *= 2) {
      if (bytes < min) continue;
      const host = new Float32Array(bytes / 4).map((_, i) => i % 1000);
      const out = new Float32Array(bytes / 4);
      const d = DeviceArray.from(host);
      for (const [op, run] of Object.entries(COPIES)) {
        const timesS: number[] = [];
        for (let i = 0; i < skip + loop; i++) {
          const t0 = process.hrtime.bigint();
          await run(host, d, out);
          if (i >= skip) timesS.push(seconds(t0));
        }
        const r: GpuCopyResult = { bench: "copy", impl: "tsmpi", device: where(), op, bytes, timesS };
        results.push(r);
        if (opts.quiet) continue;
        if (opts.json) process.stdout.write(`${JSON.stringify(r)}\n`);
        else
          process.stdout.write(`${String(bytes).padStart(14)}  ${op.padEnd(10)}${(bytes / median(timesS) / 1e9).toFixed(2).padStart(8)}\n`);
      }
      if (out.some((v, i) => v !== i % 1000)) throw new Error("d2h-into copied the wrong data");
      d.free();
    }
  }
  await comm.barrier();
  return results;
}
