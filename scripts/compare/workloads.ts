/**
 * What the comparison measures: per section, the launches on each system (the same program,
 * sizes and iteration counts on both sides), how each launch's output becomes observations,
 * and the rows of the report they belong to. Full and `--quick` plans differ only in sizes,
 * rank counts, iterations and repetitions.
 */
import fs from "node:fs";
import path from "node:path";
import { MPI4PY, ROOT, SYSTEMS, type Job, type LaunchResult, type SystemId } from "./runner.ts";
import type { Observation } from "./stats.ts";

export const SECTIONS = ["startup", "pingpong", "ringtest", "collectives", "allreduce", "pi", "futures"] as const;
export type SectionId = (typeof SECTIONS)[number];

export const SECTION_TITLE: Record<SectionId, string> = {
  startup: "Start-up: helloworld",
  pingpong: "Ping-pong: one-way latency and bandwidth",
  ringtest: "Ring test",
  collectives: "Collectives",
  allreduce: "Allreduce of 1M doubles (8 MiB)",
  pi: "Monte Carlo pi: speed-up",
  futures: "Task pool: tsmpi/futures and mpi4py.futures",
};

/** One row of the report: the same quantity on every system. */
export interface Row {
  key: string;
  section: SectionId;
  /** The table within the section (e.g. "buffer tier", "2 ranks"). */
  table: string;
  label: string;
  np: number;
  unit: "us" | "ms" | "s" | "tasks/s";
  higherIsBetter?: boolean;
  /** Where the mpi4py figures of this row are kept when several tsmpi rows share them (start-up .js and .ts). */
  refKey?: string;
  bytes?: number;
  /** Where the row goes in its table when neither rank count nor size orders it (the task pool's metrics). */
  order?: number;
  tier?: "buffer" | "object";
  collective?: string;
}

/** A launch and what its output says. */
export interface Cell {
  system: SystemId;
  /** Shown in progress lines, e.g. "tsmpi .ts". */
  what: string;
  job: Job;
  /** Observations keyed by row key; throws when the output is not what the program prints. */
  parse(result: LaunchResult): Map<string, Observation>;
}

/** Launches that belong together: run in one round, on every system, in rotating order. */
export interface Group {
  section: SectionId;
  title: string;
  reps: number;
  cells: Cell[];
}

export interface Plan {
  rows: Map<string, Row>;
  groups: Group[];
  /** Sections left out, with the reason (printed and written into the report). */
  skipped: Map<SectionId, string>;
  settings: Record<SectionId, string>;
}

const KiB = 1024;
const MiB = 1024 * 1024;
const MPI4PY_BENCH = path.join("scripts", "mpi4py-bench.py");
const PI_PY = path.join("scripts", "compare", "pi.py");

/** The size of a message in words: 0 B, 512 B, 64 KiB, 16 MiB. */
export function bytesLabel(b: number): string {
  if (b >= MiB && b % MiB === 0) return `${b / MiB} MiB`;
  if (b >= KiB && b % KiB === 0) return `${b / KiB} KiB`;
  return `${b} B`;
}

function jsonLines(stdout: string): Record<string, unknown>[] {
  return stdout
    .split("\n")
    .filter((l) => l.startsWith("{"))
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

function need<T>(v: T | undefined | null, what: string): T {
  if (v === undefined || v === null || (typeof v === "number" && !Number.isFinite(v))) throw new Error(`output has no ${what}`);
  return v;
}

interface Settings {
  startup: { np: number[]; reps: number };
  /** Each chunk of sizes is a launch of its own, with its own iteration count (-l). */
  pingpong: { chunks: { min: number; max: number; loop: number }[]; skip: number; reps: number };
  ringtest: { np: number[]; runs: { bytes: number; loop: number; skip: number }[]; reps: number };
  collectives: { names: string[]; np: number[]; sizes: number[]; loop: number; skip: number; reps: number };
  allreduce: { np: number[]; loop: number; skip: number; reps: number };
  pi: { np: number[]; samples: number; reps: number };
  futures: { np: number; tasks: number; fib: number; reps: number };
}

const FULL: Settings = {
  startup: { np: [1, 2, 4], reps: 5 },
  pingpong: {
    chunks: [
      { min: 0, max: 256 * KiB, loop: 1000 },
      { min: 512 * KiB, max: 16 * MiB, loop: 20 },
    ],
    skip: 200,
    reps: 2,
  },
  ringtest: {
    np: [2, 4],
    runs: [
      { bytes: 1, loop: 10000, skip: 1000 },
      { bytes: 1 * MiB, loop: 200, skip: 20 },
    ],
    reps: 3,
  },
  collectives: {
    names: ["barrier", "bcast", "allreduce", "gather", "scatter", "alltoall"],
    np: [2, 4],
    sizes: [8, 1 * MiB],
    loop: 10000,
    skip: 1000,
    reps: 2,
  },
  allreduce: { np: [2, 4], loop: 20, skip: 3, reps: 3 },
  pi: { np: [1, 2, 4], samples: 10_000_000, reps: 3 },
  futures: { np: 5, tasks: 10_000, fib: 2000, reps: 2 },
};

const QUICK: Settings = {
  startup: { np: [1, 2], reps: 3 },
  pingpong: { chunks: [{ min: 0, max: 1 * MiB, loop: 40 }], skip: 4, reps: 1 },
  ringtest: { np: [2], runs: [{ bytes: 1, loop: 200, skip: 20 }], reps: 1 },
  collectives: { names: ["bcast", "allreduce"], np: [2, 4], sizes: [8, 64 * KiB], loop: 40, skip: 5, reps: 1 },
  allreduce: { np: [2], loop: 5, skip: 1, reps: 1 },
  pi: { np: [1, 2, 4], samples: 2_000_000, reps: 1 },
  futures: { np: 3, tasks: 1000, fib: 300, reps: 1 },
};

/** mpi4py.futures' side of the task pool section: the project's reference script (shared/ beside the checkout). */
const FUTURES_PY = [path.join(ROOT, "..", "shared", "bench", "futures_bench.py"), "/work/shared/bench/futures_bench.py"];

/**
 * Is `tsmpi/futures` there to run, with its bench (`tsmpi/futures/bench`, the same workloads and
 * output lines as futures_bench.py)? Returns the reason when not.
 */
export function futuresAvailable(): { ok: true; reference: string } | { ok: false; reason: string } {
  const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, "package.json"), "utf8")) as { exports?: Record<string, unknown> };
  if (!pkg.exports?.["./futures"])
    return { ok: false, reason: "this checkout has no `tsmpi/futures` yet (package.json exports no ./futures)" };
  if (!pkg.exports["./futures/bench"])
    return {
      ok: false,
      reason: "`tsmpi/futures` exists, but not its bench `tsmpi/futures/bench` (package.json exports no ./futures/bench)",
    };
  const reference = FUTURES_PY.find((f) => fs.existsSync(f));
  if (!reference)
    return { ok: false, reason: `the mpi4py side, futures_bench.py, is not on this machine (looked at ${FUTURES_PY.join(", ")})` };
  return { ok: true, reference };
}

/** The plan of a run: every row and every launch, for the sections asked for. */
export function makePlan(quick: boolean, only: readonly SectionId[]): Plan {
  const s = quick ? QUICK : FULL;
  const rows = new Map<string, Row>();
  const groups: Group[] = [];
  const skipped = new Map<SectionId, string>();
  const row = (r: Row): Row => {
    if (rows.has(r.key)) return rows.get(r.key)!;
    rows.set(r.key, r);
    return r;
  };
  const on = (id: SectionId) => only.includes(id);

  if (on("startup")) {
    // Wall time of the whole job, launcher included, as a user waits for it.
    for (const np of s.startup.np) {
      const ref = `startup/py/${np}`;
      const cells: Cell[] = [];
      const hello = (key: string) => (r: LaunchResult) => {
        const lines = r.stdout.split("\n").filter((l) => l.startsWith("Hello, World!"));
        if (lines.length !== np) throw new Error(`${lines.length} hello lines, expected ${np}`);
        return new Map([[key, { value: r.ms }]]);
      };
      for (const [variant, file] of [
        ["js", "dist/examples/hello.js"],
        ["ts", "examples/hello.ts"],
      ] as const) {
        const key = `startup/${variant}/${np}`;
        row({ key, section: "startup", table: "", label: `hello.${variant}, ${np} rank${np > 1 ? "s" : ""}`, np, unit: "ms", refKey: ref });
        cells.push({ system: "tsmpi", what: `tsmpi .${variant}`, job: { system: "tsmpi", np, args: [file] }, parse: hello(key) });
      }
      for (const sys of MPI4PY)
        cells.push({ system: sys, what: sys, job: { system: sys, np, args: ["-m", "mpi4py.bench", "helloworld"] }, parse: hello(ref) });
      groups.push({ section: "startup", title: `helloworld -n ${np}`, reps: s.startup.reps, cells });
    }
  }

  if (on("pingpong")) {
    const { skip } = s.pingpong;
    for (const { min, max, loop } of s.pingpong.chunks) {
      const args = ["-m", String(min), "-n", String(max), "-l", String(loop), "-s", String(skip), "--json"];
      const parse = (r: LaunchResult) => {
        const out = new Map<string, Observation>();
        for (const j of jsonLines(r.stdout)) {
          const bytes = need(j.bytes as number, "bytes");
          for (const tier of ["buffer", "object"] as const) {
            const key = `pingpong/${tier}/${bytes}`;
            row({
              key,
              section: "pingpong",
              table: `${tier} tier (${tier === "buffer" ? "Send/Recv" : "send/recv"})`,
              label: bytesLabel(bytes),
              np: 2,
              unit: "us",
              bytes,
              tier,
            });
            out.set(key, {
              value: need(j[`${tier}Us`] as number, `${tier}Us`),
              q1: j[`${tier}Q1`] as number,
              q3: j[`${tier}Q3`] as number,
            });
          }
        }
        if (out.size === 0) throw new Error("no JSON rows in the output");
        return out;
      };
      const cells: Cell[] = SYSTEMS.map((sys) => ({
        system: sys,
        what: sys,
        job:
          sys === "tsmpi"
            ? { system: sys, np: 2, args: ["-m", "tsmpi/bench", "pingpong", ...args, "--without-bare"] }
            : { system: sys, np: 2, args: [MPI4PY_BENCH, "pingpong", ...args] },
        parse,
      }));
      groups.push({ section: "pingpong", title: `pingpong ${bytesLabel(min)}..${bytesLabel(max)}`, reps: s.pingpong.reps, cells });
    }
  }

  if (on("ringtest")) {
    // Both print "time for L loops = T seconds (N processes, B bytes)" (tsmpi's bench mirrors mpi4py.bench).
    for (const np of s.ringtest.np) {
      for (const { bytes, loop, skip } of s.ringtest.runs) {
        const key = `ringtest/${np}/${bytes}`;
        row({ key, section: "ringtest", table: "", label: `${np} ranks, ${bytesLabel(bytes)}`, np, unit: "us", bytes });
        const args = ["ringtest", "-n", String(bytes), "-l", String(loop), "-s", String(skip)];
        const parse = (r: LaunchResult) => {
          const m = /time for (\d+) loops = ([\d.e+-]+) seconds/.exec(r.stdout);
          if (!m) throw new Error("no 'time for L loops = T seconds' line");
          return new Map([[key, { value: (Number(m[2]) / Number(m[1])) * 1e6 }]]);
        };
        const cells: Cell[] = SYSTEMS.map((sys) => ({
          system: sys,
          what: sys,
          job: { system: sys, np, args: sys === "tsmpi" ? ["-m", "tsmpi/bench", ...args] : ["-m", "mpi4py.bench", ...args] },
          parse,
        }));
        groups.push({ section: "ringtest", title: `ringtest -n ${np} ${bytesLabel(bytes)}`, reps: s.ringtest.reps, cells });
      }
    }
  }

  const collective = (
    section: "collectives" | "allreduce",
    name: string,
    np: number,
    sizes: number[],
    loop: number,
    skip: number,
    reps: number,
  ) => {
    const args = [name, "--sizes", sizes.join(","), "-l", String(loop), "-s", String(skip), "--json"];
    const parse = (r: LaunchResult) => {
      const out = new Map<string, Observation>();
      for (const j of jsonLines(r.stdout)) {
        const bytes = need(j.bytes as number, "bytes");
        const key = `${section}/${name}/${np}/${bytes}`;
        const label =
          section === "allreduce"
            ? `${np} ranks`
            : name === "barrier"
              ? `barrier, ${np} ranks`
              : `${name}, ${np} ranks, ${bytesLabel(bytes)}`;
        row({
          key,
          section,
          table: section === "allreduce" ? "" : name === "barrier" ? "barrier" : bytes <= 64 ? "small" : "large",
          label,
          np,
          unit: "us",
          bytes,
          collective: name,
        });
        out.set(key, { value: need(j.us as number, "us"), q1: j.q1 as number, q3: j.q3 as number });
      }
      if (out.size === 0) throw new Error("no JSON rows in the output");
      return out;
    };
    const cells: Cell[] = SYSTEMS.map((sys) => ({
      system: sys,
      what: sys,
      job: sys === "tsmpi" ? { system: sys, np, args: ["-m", "tsmpi/bench", ...args] } : { system: sys, np, args: [MPI4PY_BENCH, ...args] },
      parse,
    }));
    groups.push({ section, title: `${name} -n ${np}${name === "barrier" ? "" : ` ${sizes.map(bytesLabel).join(", ")}`}`, reps, cells });
  };

  if (on("collectives")) {
    const c = s.collectives;
    for (const np of c.np)
      for (const name of c.names) collective("collectives", name, np, name === "barrier" ? [0] : c.sizes, c.loop, c.skip, c.reps);
  }
  if (on("allreduce")) {
    const a = s.allreduce;
    for (const np of a.np) collective("allreduce", "allreduce", np, [8 * MiB], a.loop, a.skip, a.reps);
  }

  if (on("pi")) {
    for (const np of s.pi.np) {
      const key = `pi/${np}`;
      row({ key, section: "pi", table: "", label: `${np} rank${np > 1 ? "s" : ""}`, np, unit: "ms" });
      const parse = (r: LaunchResult) => {
        const m = /time between barriers: ([\d.]+) ms/.exec(r.stdout);
        if (!m) throw new Error("no 'time between barriers' line");
        return new Map([[key, { value: Number(m[1]) }]]);
      };
      const n = String(s.pi.samples);
      const cells: Cell[] = SYSTEMS.map((sys) => ({
        system: sys,
        what: sys,
        job: { system: sys, np, args: sys === "tsmpi" ? ["dist/examples/pi.js", n] : [PI_PY, n] },
        parse,
      }));
      groups.push({ section: "pi", title: `pi -n ${np}`, reps: s.pi.reps, cells });
    }
  }

  if (on("futures")) {
    const found = futuresAvailable();
    if (!found.ok) skipped.set("futures", found.reason);
    else {
      const { np, tasks, fib } = s.futures;
      // futures_bench.py's lines, which the tsmpi side prints in the same words.
      const metrics: [RegExp, string, string, Row["unit"], boolean][] = [
        [/noop map N=\d+ chunksize=1: [\d.]+ s = ([\d.]+) tasks\/s/, "noop-1", "no-op map, chunksize 1", "tasks/s", true],
        [/noop map N=\d+ chunksize=100: [\d.]+ s = ([\d.]+) tasks\/s/, "noop-100", "no-op map, chunksize 100", "tasks/s", true],
        [/fib-primes serial F=\d+: \d+ primes in ([\d.]+) s/, "fib-serial", "Fibonacci primes, serial", "s", false],
        [/fib-primes executor F=\d+ chunksize=1: \d+ primes in ([\d.]+) s/, "fib-1", "Fibonacci primes, executor, chunksize 1", "s", false],
        [
          /fib-primes executor F=\d+ chunksize=10: \d+ primes in ([\d.]+) s/,
          "fib-10",
          "Fibonacci primes, executor, chunksize 10",
          "s",
          false,
        ],
      ];
      metrics.forEach(([, id, label, unit, higherIsBetter], order) =>
        row({ key: `futures/${id}`, section: "futures", table: "", label: `${label} (${np} processes)`, np, unit, higherIsBetter, order }),
      );
      const parse = (r: LaunchResult) =>
        new Map(metrics.map(([re, id, label]) => [`futures/${id}`, { value: Number(need(re.exec(r.stdout), label)[1]) }]));
      const cells: Cell[] = SYSTEMS.map((sys) => ({
        system: sys,
        what: sys,
        job:
          sys === "tsmpi"
            ? { system: sys, np, args: ["-m", "tsmpi/futures", "tsmpi/futures/bench", String(tasks), String(fib)] }
            : { system: sys, np, args: ["-m", "mpi4py.futures", found.reference, String(tasks), String(fib)] },
        parse,
      }));
      groups.push({ section: "futures", title: `futures -n ${np}`, reps: s.futures.reps, cells });
    }
  }

  const settings: Record<SectionId, string> = {
    startup: `wall time of the whole job (launcher, start-up, hello in rank order, exit), ${s.startup.np.join(", ")} ranks; tsmpi runs examples/hello (.js compiled, .ts through tsx), mpi4py runs \`python3 -m mpi4py.bench helloworld\``,
    pingpong: `\`tsmpi/bench pingpong\` and \`scripts/mpi4py-bench.py pingpong\`, ranks 0 and 1, sizes 0 B and powers of two up to ${bytesLabel(s.pingpong.chunks.at(-1)!.max)}, ${s.pingpong.chunks.map((c) => `${bytesLabel(c.min)}..${bytesLabel(c.max)} -l ${c.loop}`).join(", ")} (at most 300 iterations above 256 KiB and 40 above 1 MiB, the bench's rule), -s ${s.pingpong.skip}, buffer and object tier in 10 interleaved rounds per size`,
    ringtest: `\`tsmpi/bench ringtest\` and \`mpi4py.bench ringtest\`: ${s.ringtest.runs.map((r) => `${bytesLabel(r.bytes)} -l ${r.loop} -s ${r.skip}`).join("; ")}; the figure is the time of one loop around the ring`,
    collectives: `\`tsmpi/bench NAME\` and \`scripts/mpi4py-bench.py NAME\`, buffer tier (Float64), block sizes ${s.collectives.sizes.map(bytesLabel).join(" and ")} per rank, -l ${s.collectives.loop} -s ${s.collectives.skip} (100 iterations above 16 KiB); per call: median over iterations of the slowest rank's time, each iteration after a barrier`,
    allreduce: `\`allreduce --sizes 8388608\`, buffer tier, -l ${s.allreduce.loop} -s ${s.allreduce.skip}, as the collectives`,
    pi: `examples/pi.ts (compiled) and scripts/compare/pi.py, ${s.pi.samples.toLocaleString("en-US")} samples split over the ranks; the figure is the time between the two barriers`,
    futures: `\`tsmpirun -n ${s.futures.np} -m tsmpi/futures tsmpi/futures/bench ${s.futures.tasks} ${s.futures.fib}\` and \`mpiexec -n ${s.futures.np} python3 -m mpi4py.futures futures_bench.py ${s.futures.tasks} ${s.futures.fib}\` (one process runs the script, the others are the workers): no-op tasks per second at chunk sizes 1 and 100, the Fibonacci primes among the first ${s.futures.fib} Fibonacci numbers serially and through the pool at chunk sizes 1 and 10`,
  };
  return { rows, groups, skipped, settings };
}

/** The launches in the order they run: repetition by repetition, every group, systems rotating. */
export function schedule(plan: Plan): { group: Group; rep: number; cells: Cell[] }[] {
  const out: { group: Group; rep: number; cells: Cell[] }[] = [];
  const most = Math.max(0, ...plan.groups.map((g) => g.reps));
  for (const section of SECTIONS) {
    for (let rep = 0; rep < most; rep++) {
      for (const group of plan.groups) {
        if (group.section !== section || rep >= group.reps) continue;
        const k = rep % group.cells.length;
        out.push({ group, rep, cells: [...group.cells.slice(k), ...group.cells.slice(0, k)] });
      }
    }
  }
  return out;
}
