#!/usr/bin/env node
/**
 * `tsmpirun`: starts an SPMD program as N ranked processes, with mpiexec's conventions
 * (`-n/-np`, `-x`, `--tag-output`, `--timeout`, `--wdir`, `-m module`). Bad arguments print one
 * line on stderr and exit 2; otherwise the exit code is the job's (see `job.ts`).
 *
 * Where ranks run (`plan.ts`): here; on hosts from `--host`/`--hostfile`, over ssh; or, inside
 * a SLURM allocation, through srun. Several programs as one job (`a.ts : -n 4 b.js`): `parts.ts`.
 *
 * @module
 */
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { checkSettings, numberSetting, textSetting } from "../lib/config.js";
import { TsmpiError } from "../lib/errors.js";
import { runJob } from "./job.js";
import { flushOutput } from "./output.js";
import { USAGE, parseCommandLine, type CliArgs } from "./options.js";
import { parseLaterParts, partName, splitParts, type RankPart } from "./parts.js";
import { planJob, type Plan } from "./plan.js";
import { compiledArgv, programArgv, type Program } from "./spawn.js";
import { compilable, compileProgram } from "./typescript.js";
import { trace, tracing } from "../lib/trace.js";

// SIGUSR1 would open Node's inspector on 127.0.0.1:9229 (any local user could then run code as
// this user, who holds the job key), and Node 20 has no --disable-sigusr1: a listener of our own
// keeps Node's default action from ever running. While a job runs, job.ts passes the signal on
// to the ranks, as mpirun does.
process.on("SIGUSR1", () => {});

/** `--timeout` has passed: at exit, output waits for its readers only briefly. */
let timeoutStruck = false;

/** A bad command line: one line of help on stderr, exit 2. */
class UsageError extends Error {}

function usageError(message: string): never {
  throw new UsageError(message);
}

/** Runs `step`; a `TsmpiError` from it (a bad value the user gave) becomes a usage error. */
async function asUsage<T>(step: () => T | Promise<T>): Promise<T> {
  try {
    return await step();
  } catch (err) {
    if (err instanceof TsmpiError) usageError(err.message);
    throw err;
  }
}

/** Parses `-x VAR[=value]` entries into an environment. */
function exportedEnv(entries: readonly string[]): Record<string, string> {
  const env: Record<string, string> = {};
  for (const entry of entries) {
    const eq = entry.indexOf("=");
    const name = eq < 0 ? entry : entry.slice(0, eq);
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name))
      usageError(`-x needs VAR or VAR=value with a valid variable name, got ${JSON.stringify(entry)}`);
    const value = eq < 0 ? process.env[name] : entry.slice(eq + 1);
    if (value !== undefined) env[name] = value;
  }
  return env;
}

function positiveNumber(value: unknown, name: string, integer: boolean): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0 || (integer && !Number.isInteger(n))) {
    usageError(`${name} must be a positive ${integer ? "integer" : "number"}, got ${JSON.stringify(value)}`);
  }
  return n;
}

/** tsmpi's version, from the package.json of this install (the nearest one above this file named tsmpi). */
function version(): string {
  for (let dir = path.dirname(fileURLToPath(import.meta.url)); ; dir = path.dirname(dir)) {
    try {
      const pkg = JSON.parse(fs.readFileSync(path.join(dir, "package.json"), "utf8")) as { name?: string; version?: string };
      if (pkg.name === "tsmpi" && pkg.version) return pkg.version;
    } catch {
      // none here
    }
    if (path.dirname(dir) === dir) return "unknown";
  }
}

/** A single-valued option given more than once: the last one wins. */
function one(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[v.length - 1] : v;
}

/** `-n`, checked; undefined when not given. */
function nOf(args: CliArgs): number | undefined {
  const n = one(args.n);
  return n === undefined ? undefined : positiveNumber(n, "-n", true);
}

const strings = (v: unknown): string[] => ([] as unknown[]).concat(v ?? []).map(String);

/** Runs `step` for part `k` of an MPMD command line: its usage errors name the part. */
async function inPart<T>(k: number, step: () => T | Promise<T>): Promise<T> {
  try {
    return await asUsage(step);
  } catch (err) {
    if (err instanceof UsageError) usageError(`${partName(k)}: ${err.message}`);
    throw err;
  }
}

/**
 * Where the ranks run, from `-n` and the host options (checked first: then the `TSMPI_*`
 * settings); with `parts` (an MPMD command line), each part's `-n` and `--host`.
 */
async function planOf(args: CliArgs, parts?: CliArgs[]): Promise<{ plan: Plan; np?: number }> {
  const np = parts ? undefined : nOf(args);
  const partHosts =
    parts && (await Promise.all(parts.map(async (a, k) => ({ np: await inPart(k, () => nOf(a)), hosts: strings(a.host) }))));
  // The ranks' settings, checked here: a bad value is one line and exit code 2, not an error
  // with a stack trace from every rank.
  await asUsage(() => checkSettings());
  const plan = await asUsage(() =>
    planJob({
      np,
      hosts: parts ? [] : strings(args.host),
      hostfile: one(args.hostfile),
      ppn: one(args.ppn) === undefined ? undefined : positiveNumber(one(args.ppn)!, "--ppn", true),
      mapBy: (one(args["map-by"]) as "slot" | "node" | undefined) ?? "slot",
      oversubscribe: Boolean(args.oversubscribe),
      launcher: (one(args.launcher) as "auto" | "local" | "ssh" | "slurm" | undefined) ?? "auto",
      parts: partHosts,
    }),
  );
  return { plan, np };
}

/** The job options every way of running shares (`--info` with `-n` too). */
function commonOptions(args: CliArgs, plan: Plan) {
  return {
    plan,
    env: {} as Record<string, string>,
    sshAgent: (one(args["launch-agent"]) ?? textSetting("TSMPI_SSH") ?? "ssh").split(/\s+/).filter(Boolean),
    nodePath: one(args["node-path"]),
    iface: one(args.iface) ?? (textSetting("TSMPI_IFACE") || undefined),
    oversubscribe: Boolean(args.oversubscribe),
    insecure: Boolean(args.insecure) || textSetting("TSMPI_INSECURE") === "1",
    stoppedTimeout: numberSetting("TSMPI_STOPPED_TIMEOUT"),
    heartbeatTimeout: numberSetting("TSMPI_HEARTBEAT_TIMEOUT"),
  };
}

/** The program to run (`-m module` or the first argument) and its arguments. */
function programOf(args: CliArgs): { program: Program; rest: string[] } {
  const rest = (args._ as (string | number)[]).map(String);
  if (rest[0] === "--") rest.shift();
  const module = one(args.m);
  const code = one(args.c);
  if (module !== undefined && code !== undefined) usageError("-m and -c both name the program: give one");
  if (module !== undefined) {
    if (!module) usageError("-m needs a module name, e.g. -m tsmpi/bench");
    return { program: { module }, rest };
  }
  if (code !== undefined) {
    if (!code.trim())
      usageError("-c needs the program's code, e.g. -c 'import { COMM_WORLD } from \"tsmpi\"; console.log(COMM_WORLD.rank)'");
    return { program: { code, name: "-c" }, rest };
  }
  const script = rest.shift();
  if (!script) usageError("no program given");
  // As python -: the program is what stdin holds, read to its end (rank 0's stdin is then empty).
  if (script === "-") return { program: { code: fs.readFileSync(0, "utf8"), name: "-" }, rest };
  return { program: { script }, rest };
}

/** The command each rank runs; TypeScript on this host is compiled once here, so that no rank loads a compiler (typescript.ts). */
async function rankArgv(program: Program, rest: string[], plan: Plan): Promise<string[]> {
  let argv = await asUsage(() => programArgv(program, rest, process.cwd()));
  if ("script" in program && plan.mode === "local" && compilable(program.script) && textSetting("TSMPI_TSX") !== "1") {
    const compiled = await compileProgram(path.resolve(program.script));
    if ("file" in compiled) argv = compiledArgv(compiled.file, rest);
    if (tracing("startup")) trace("startup", { launcher: "typescript", ...compiled });
  }
  return argv;
}

/** The working directory of the ranks (`--wdir`, else this one), checked. */
function wdirOf(args: CliArgs): string {
  const wdir = path.resolve(one(args.wdir) ?? ".");
  if (!fs.existsSync(wdir) || !fs.statSync(wdir).isDirectory())
    usageError(`--wdir must be an existing directory, got ${JSON.stringify(one(args.wdir))}`);
  return wdir;
}

/** `--timeout` (else `$MPIEXEC_TIMEOUT`) in seconds, 0 for none; arms the flag that shortens the output's wait at exit. */
function timeoutOf(args: CliArgs): number {
  const timeoutRaw = one(args.timeout) ?? process.env.MPIEXEC_TIMEOUT;
  const timeout =
    timeoutRaw === undefined || timeoutRaw === ""
      ? 0
      : positiveNumber(timeoutRaw, one(args.timeout) !== undefined ? "--timeout" : "MPIEXEC_TIMEOUT", false);
  // The job's own timer (job.ts) stops the ranks; this one only says, at exit, that the output
  // may no longer wait for its readers.
  if (timeout > 0) setTimeout(() => (timeoutStruck = true), timeout * 1000).unref();
  return timeout;
}

/** What each part of an MPMD command line runs (its `-x`, program, arguments, `--wdir`), in order. */
async function rankParts(parts: CliArgs[], plan: Plan): Promise<RankPart[]> {
  const sizes = plan.parts!;
  const resolved: RankPart[] = [];
  for (const [k, a] of parts.entries()) {
    const env = await inPart(k, () => exportedEnv(([] as string[]).concat(a.x ?? [])));
    const { program, rest } = await inPart(k, () => programOf(a));
    const wdir = await inPart(k, () => wdirOf(a));
    resolved.push({ argv: await inPart(k, () => rankArgv(program, rest, plan)), env, wdir, np: sizes[k]! });
  }
  return resolved;
}

async function main(argv: string[]): Promise<number> {
  const segments = splitParts(argv);
  const args = await parseCommandLine(segments[0]!);
  if (args.version) {
    process.stdout.write(`tsmpirun (tsmpi) ${version()}\n`);
    return 0;
  }
  const later = segments.length > 1 ? await asUsage(() => parseLaterParts(segments)) : undefined;
  if (later && args.info) usageError("--info runs no program: it takes no ':' parts");
  const { plan, np } = await planOf(args, later && [args, ...later]);
  const common = commonOptions(args, plan);
  if (args.info) {
    const { printInfo } = await import("./info.js");
    await printInfo();
    if (np === undefined) return 0;
    const rankInfo = fileURLToPath(new URL("./info-rank.js", import.meta.url));
    return runJob({ ...common, argv: [process.execPath, rankInfo], wdir: process.cwd(), output: { tagOutput: false }, timeout: 60 });
  }
  const parts = later && (await rankParts([args, ...later], plan));
  const env = parts ? {} : exportedEnv(([] as string[]).concat(args.x ?? []));
  // The MPI universe's size as the user set it (UNIVERSE_SIZE; otherwise the ranks count the hosts' slots).
  const usize = one(args["universe-size"]);
  if (usize !== undefined) env.TSMPI_UNIVERSE_SIZE = String(positiveNumber(usize, "--universe-size", true));
  const { program, rest } = parts ? { program: undefined, rest: [] } : programOf(args);
  const timeout = timeoutOf(args);
  const wdir = parts ? parts[0]!.wdir : wdirOf(args);
  const spawnerFd = await asUsage(() => numberSetting("TSMPI_SPAWN_FD"));
  const spawners = await asUsage(() => numberSetting("TSMPI_SPAWN_PARENTS"));
  return runJob({
    ...common,
    argv: parts ? parts[0]!.argv : await rankArgv(program!, rest, plan),
    parts,
    wdir,
    env,
    output: { tagOutput: Boolean(args["tag-output"]), outputDir: one(args["output-filename"]) },
    timeout,
    spawnerFd,
    spawners,
  });
}

/**
 * How long tsmpirun still waits for its readers once `--timeout` struck: then it exits whatever
 * they do, and what they did not take is dropped (said on stderr).
 */
const TIMEOUT_FLUSH_MS = 2000;

main(process.argv.slice(2)).then(
  async (code) => {
    const dropped = await flushOutput(timeoutStruck ? TIMEOUT_FLUSH_MS : Infinity);
    if (dropped > 0)
      process.stderr.write(
        `tsmpirun: dropped ${dropped} bytes of the ranks' output that its reader did not take within ${TIMEOUT_FLUSH_MS / 1000} s after --timeout\n`,
      );
    process.exit(code);
  },
  (err) => {
    if (err instanceof UsageError || (err as Error)?.name === "YError") {
      process.stderr.write(`tsmpirun: ${(err as Error).message} (${USAGE}; see tsmpirun --help)\n`);
      process.exit(2);
    }
    // What tsmpi knows to go wrong (a host name that does not resolve, ...) is one line; the
    // launch failed as an unreachable host's does (255). Anything else is a bug: its stack.
    if (err instanceof TsmpiError) {
      process.stderr.write(`tsmpirun: ${err.message}\n`);
      process.exit(err.code === "ERR_TSMPI_LAUNCH" ? 255 : 1);
    }
    process.stderr.write(`tsmpirun: ${(err as Error)?.stack ?? String(err)}\n`);
    process.exit(1);
  },
);
