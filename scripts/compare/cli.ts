/**
 * `npm run compare`: the same workloads on tsmpi and on mpi4py with Open MPI (over shared memory
 * and over TCP), interleaved, written up as a Markdown report with SVG plots.
 *
 *   npm run compare                         # full run, about 4 minutes; report in docs/compare/
 *   npm run compare -- --quick --out /tmp/r # a small subset, under two minutes
 *   npm run compare -- --only pingpong,pi   # some sections
 *   npm run compare -- --from DIR/results.json --out DIR   # re-write the report and plots only
 *
 * Not done yet: remote hosts (everything runs on this machine), GPU workloads, MPICH.
 */
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import cliProgress from "cli-progress";
import { writePlots } from "./plots.ts";
import { writeReport, type Results } from "./report.ts";
import {
  BenchLock,
  buildIsStale,
  checkPrerequisites,
  haveFlock,
  installPrerequisites,
  killAll,
  launch,
  LABEL,
  lockHolder,
  ROOT,
  SYSTEMS,
} from "./runner.ts";
import { makePlan, schedule, SECTIONS, type SectionId } from "./workloads.ts";

const HELP = `usage: npm run compare -- [options]

Runs the same workloads on tsmpi and on mpi4py with Open MPI (shared memory and TCP), interleaved,
and writes report.md, results.json and SVG plots.

  --quick            a small subset (under two minutes)
  --out DIR          where the report goes (default: docs/compare/, the copy the README links)
  --only LIST        sections, comma-separated: ${SECTIONS.join(",")}
  --install          as root: apt-get install the packages mpi4py needs (openmpi-bin python3-mpi4py)
  --lock FILE        the bench lock held while measuring (default /tmp/tsmpi-bench.lock; "none": no lock)
  --timeout SEC      limit per launch (default 300)
  --from FILE        write the report and plots from an earlier results.json, measuring nothing
  -h, --help         this text`;

function fail(message: string, code = 2): never {
  process.stderr.write(`compare: ${message}\n`);
  process.exit(code);
}

function parse() {
  try {
    return parseArgs({
      options: {
        quick: { type: "boolean" },
        out: { type: "string" },
        only: { type: "string" },
        install: { type: "boolean" },
        lock: { type: "string", default: "/tmp/tsmpi-bench.lock" },
        timeout: { type: "string", default: "300" },
        from: { type: "string" },
        help: { type: "boolean", short: "h" },
      },
      allowPositionals: false,
    }).values;
  } catch (err) {
    fail(`${(err as Error).message}\n${HELP}`);
  }
}

function sections(only: string | undefined): SectionId[] {
  if (only === undefined) return [...SECTIONS];
  const list = only
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);
  const bad = list.filter((s) => !(SECTIONS as readonly string[]).includes(s));
  if (list.length === 0 || bad.length > 0)
    fail(`--only must be a comma-separated list of ${SECTIONS.join(", ")}; got ${JSON.stringify(only)}`);
  return list as SectionId[];
}

/** A git pathspec leaving out the report's folder, when it lies inside this checkout. */
function reportPathspec(outOption: string | undefined): string[] {
  const rel = path.relative(ROOT, path.resolve(outOption ?? path.join(ROOT, "docs", "compare")));
  return rel && !rel.startsWith("..") && !path.isAbsolute(rel) ? [`:(exclude)${rel}`] : [];
}

function git(args: string[]): string {
  const r = spawnSync("git", args, { cwd: ROOT, encoding: "utf8" });
  return r.status === 0 ? r.stdout.trim() : "";
}

function machine(): Results["meta"]["machine"] {
  const cpu = /model name\s*:\s*(.+)/.exec(fs.readFileSync("/proc/cpuinfo", "utf8"))?.[1]?.trim() ?? os.cpus()[0]?.model ?? "unknown";
  const python = spawnSync("/usr/bin/python3", ["--version"], { encoding: "utf8" }).stdout.trim();
  return {
    host: os.hostname(),
    cpu,
    cores: os.availableParallelism(),
    memoryGiB: Math.round(os.totalmem() / 2 ** 30),
    kernel: `${os.type()} ${os.release()}`,
    node: process.version,
    python,
  };
}

/** Progress: a bar on a terminal, a line per launch otherwise. */
function progress(total: number) {
  const tty = Boolean(process.stderr.isTTY);
  const bar = tty
    ? new cliProgress.SingleBar(
        { format: "compare {bar} {value}/{total} launches | {eta_formatted} left | {task}", stream: process.stderr, etaBuffer: 20 },
        cliProgress.Presets.shades_classic,
      )
    : null;
  bar?.start(total, 0, { task: "" });
  let done = 0;
  return {
    start(task: string) {
      bar?.update(done, { task });
    },
    finish(task: string, seconds: number, error?: string) {
      done++;
      if (bar) {
        bar.update(done, { task });
        if (error) {
          bar.stop();
          process.stderr.write(`  failed: ${task}: ${error}\n`);
          bar.start(total, done, { task });
        }
      } else process.stdout.write(`[${done}/${total}] ${task} ${error ? `FAILED: ${error}` : `${seconds.toFixed(1)} s`}\n`);
    },
    note(line: string) {
      if (bar) bar.update(done, { task: line });
      else process.stdout.write(`${line}\n`);
    },
    stop() {
      bar?.stop();
    },
  };
}

/** Set by Ctrl-C: no further launch starts. */
let interrupted = false;

async function measure(opts: ReturnType<typeof parse>, only: SectionId[]): Promise<Results> {
  const pre = checkPrerequisites();
  if (!pre.ok) {
    if (!opts.install) fail(pre.problem!, 3);
    try {
      installPrerequisites((l) => process.stdout.write(`compare: ${l}\n`));
    } catch (err) {
      fail((err as Error).message, 3);
    }
    const again = checkPrerequisites();
    if (!again.ok) fail(again.problem!, 3);
    Object.assign(pre, again);
  }
  if (buildIsStale()) {
    process.stdout.write("compare: dist/ is older than the sources: npm run build\n");
    const b = spawnSync("npm", ["run", "build"], { cwd: ROOT, stdio: "inherit" });
    if (b.status !== 0) fail("npm run build failed", 1);
  }
  const quick = Boolean(opts.quick);
  const plan = makePlan(quick, only);
  for (const [section, why] of plan.skipped) process.stdout.write(`compare: section ${section} skipped: ${why}\n`);
  const lockFile = opts.lock === "none" ? null : opts.lock!;
  if (lockFile && !haveFlock()) process.stdout.write(`compare: no flock on PATH: measuring without the bench lock ${lockFile}\n`);
  const lock = new BenchLock(lockFile && haveFlock() ? lockFile : null);
  const timeoutMs = Number(opts.timeout) * 1000;
  if (!(timeoutMs > 0)) fail(`--timeout must be a positive number of seconds, got ${JSON.stringify(opts.timeout)}`);

  const rounds = schedule(plan);
  const total = rounds.reduce((n, r) => n + r.cells.length, 0) + SYSTEMS.length;
  const results: Results = {
    meta: {
      date: new Date().toISOString(),
      quick,
      command: `npm run compare --${quick ? " --quick" : ""}${opts.only ? ` --only ${opts.only}` : ""}${opts.lock !== "/tmp/tsmpi-bench.lock" ? ` --lock ${opts.lock}` : ""}`,
      // Changes to an earlier report in the output folder are not changes to what is measured.
      commit: `${git(["rev-parse", "--short", "HEAD"])}${git(["status", "--porcelain", "--untracked-files=no", "--", ".", ...reportPathspec(opts.out)]) ? " (with uncommitted changes)" : ""}`,
      openmpi: pre.openmpi!,
      mpi4py: pre.mpi4py!,
      machine: machine(),
      loadBefore: os.loadavg(),
      loadAfter: [],
      seconds: 0,
      lockWaitSeconds: 0,
    },
    sections: only,
    settings: plan.settings,
    rows: [],
    observations: {},
    failures: [],
    skipped: Object.fromEntries(plan.skipped),
  };
  const t0 = Date.now();
  let lockWait = 0;
  const bar = progress(total);
  // One untimed launch per system first: file caches and Open MPI's first start-up are not measured.
  const w0 = Date.now();
  await lock.acquire();
  lockWait += Date.now() - w0;
  for (const sys of SYSTEMS) {
    const task = `warm-up ${LABEL[sys]}`;
    bar.start(task);
    const r = await launch(
      sys === "tsmpi"
        ? { system: sys, np: 2, args: ["dist/examples/hello.js"] }
        : { system: sys, np: 2, args: ["-m", "mpi4py.bench", "helloworld"] },
      timeoutMs,
    );
    const error = r.code === 0 ? undefined : `exit ${r.code ?? r.signal}: ${r.stderr.trim().split("\n").slice(-3).join(" | ")}`;
    if (error) results.failures.push({ what: task, error });
    bar.finish(task, r.ms / 1000, error);
  }
  lock.release();
  for (const { group, rep, cells } of rounds) {
    if (interrupted) break;
    const w0 = Date.now();
    // Held for one round: the systems of a row run back to back, nobody else's bench between them.
    const held = lock.acquire();
    let note: NodeJS.Timeout | undefined;
    await Promise.race([held, new Promise<void>((r) => (note = setTimeout(r, 2000)))]);
    if (Date.now() - w0 >= 2000) bar.note(`waiting for the bench lock ${lock.file}, held ${lockHolder(lock.file!)}`);
    clearTimeout(note);
    await held;
    lockWait += Date.now() - w0;
    for (const cell of cells) {
      if (interrupted) break;
      const task = `${group.title} ${cell.what} (${rep + 1}/${group.reps})`;
      bar.start(task);
      const r = await launch(cell.job, timeoutMs);
      let error: string | undefined;
      if (r.timedOut) error = `no exit within ${opts.timeout} s (killed)`;
      else if (r.code !== 0) error = `exit ${r.code ?? r.signal}: ${r.stderr.trim().split("\n").slice(-3).join(" | ")}`;
      else {
        try {
          for (const [key, obs] of cell.parse(r)) {
            const bySystem = results.observations[key] ?? {};
            results.observations[key] = bySystem;
            const list = bySystem[cell.system] ?? [];
            bySystem[cell.system] = list;
            list.push(obs);
          }
        } catch (err) {
          error = `unexpected output (${(err as Error).message}): ${r.stdout.trim().split("\n").slice(-2).join(" | ")}`;
        }
      }
      if (interrupted) break; // its launch was killed: neither a measurement nor a failure
      if (error) results.failures.push({ what: task, error });
      bar.finish(task, r.ms / 1000, error);
    }
    lock.release();
  }
  bar.stop();
  results.rows = [...plan.rows.values()];
  results.meta.loadAfter = os.loadavg();
  results.meta.seconds = Math.round((Date.now() - t0) / 1000);
  results.meta.lockWaitSeconds = Math.round(lockWait / 1000);
  results.meta.interrupted = interrupted;
  return results;
}

async function main(): Promise<void> {
  const opts = parse();
  if (opts.help) {
    process.stdout.write(`${HELP}\n`);
    return;
  }
  const only = sections(opts.only);
  const out = path.resolve(opts.out ?? path.join(ROOT, "docs", "compare"));
  // Ctrl-C: the launch running is ended, and the report is written from what was measured.
  process.on("SIGINT", () => {
    if (interrupted) process.exit(130);
    interrupted = true;
    killAll();
  });
  let results: Results;
  if (opts.from) {
    try {
      results = JSON.parse(fs.readFileSync(opts.from, "utf8")) as Results;
    } catch (err) {
      fail(`--from ${opts.from}: ${(err as Error).message}`);
    }
  } else results = await measure(opts, only);
  fs.mkdirSync(out, { recursive: true });
  if (!opts.from) fs.writeFileSync(path.join(out, "results.json"), `${JSON.stringify(results, null, 1)}\n`);
  const plots = await writePlots(results, out);
  const report = writeReport(results, plots, out);
  process.stdout.write(
    `compare: report ${path.relative(process.cwd(), report) || report}; plots ${plots.map((p) => p.file).join(", ")}${results.meta.seconds ? `; measured in ${results.meta.seconds} s (${results.meta.lockWaitSeconds ?? 0} s of it waiting for the bench lock)` : ""}\n`,
  );
  if (results.failures.length > 0) {
    process.stderr.write(
      `compare: ${results.failures.length} launch(es) failed:\n${results.failures.map((f) => `  ${f.what}: ${f.error}`).join("\n")}\n`,
    );
    process.exitCode = 1;
  }
  if (results.meta.interrupted) {
    process.stderr.write("compare: interrupted: the report holds what was measured before Ctrl-C\n");
    process.exitCode = 130;
  }
}

await main();
