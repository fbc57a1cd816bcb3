#!/usr/bin/env node
/**
 * `tsmpirun`: starts an SPMD program as N ranked processes, with mpiexec's conventions
 * (`-n/-np`, `-x`, `--tag-output`, `--timeout`, `--wdir`, `-m module`). Bad arguments print one
 * line on stderr and exit 2; otherwise the exit code is the job's (see `job.ts`).
 *
 * Where ranks run (`plan.ts`): here; on hosts from `--host`/`--hostfile`, over ssh; or, inside
 * a SLURM allocation, through srun.
 *
 * @module
 */
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import yargs from "yargs";
import { hideBin } from "yargs/helpers";
import { TsmpiError } from "../lib/errors.js";
import { runJob } from "./job.js";
import { planJob, type Plan } from "./plan.js";
import { programArgv, type Program } from "./spawn.js";

const USAGE = "usage: tsmpirun [-n N] [options] <script.ts|script.js|program | -m module> [args...]";

/** A bad command line: one line of help on stderr, exit 2. */
class UsageError extends Error {}

function usageError(message: string): never {
  throw new UsageError(message);
}

/** Parses `-x VAR[=value]` entries into an environment. */
function exportedEnv(entries: readonly string[]): Record<string, string> {
  const env: Record<string, string> = {};
  for (const entry of entries) {
    const eq = entry.indexOf("=");
    const name = eq < 0 ? entry : entry.slice(0, eq);
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) usageError(`-x needs VAR or VAR=value with a valid variable name, got ${JSON.stringify(entry)}`);
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

async function main(argv: string[]): Promise<number> {
  const parser = yargs(argv)
    .scriptName("tsmpirun")
    .usage(`${USAGE}\n\nRuns an SPMD program as N ranked processes (an mpiexec for tsmpi).`)
    .parserConfiguration({ "short-option-groups": false, "halt-at-non-option": true, "camel-case-expansion": false, "boolean-negation": false })
    .option("n", { alias: ["np"], type: "string", describe: "number of ranks to start (default 1)" })
    .option("m", { type: "string", describe: "run a module (e.g. tsmpi/bench) instead of a script, as python -m" })
    .option("x", { type: "string", describe: "export VAR (or VAR=value) to the ranks; repeatable" })
    .option("tag-output", { type: "boolean", describe: "prefix each output line with [rank]" })
    .option("output-filename", { type: "string", describe: "write rank r's output to DIR/1/rank.r/{stdout,stderr}" })
    .option("timeout", { type: "string", describe: "end the job after SEC seconds (default: $MPIEXEC_TIMEOUT, or none); exit code 124" })
    .option("wdir", { type: "string", describe: "working directory of the ranks (default: the current one)" })
    .option("host", { alias: ["H"], type: "string", describe: "hosts to run on, as host[:slots],...; repeatable (remote ones are started over ssh)" })
    .option("hostfile", { alias: ["machinefile"], type: "string", describe: "file of hosts: Open MPI `host slots=N` or Hydra `host:N` lines; # comments" })
    .option("ppn", { alias: ["npernode"], type: "string", describe: "ranks per host (replaces the hosts' slot counts)" })
    .option("map-by", { type: "string", choices: ["slot", "node"], describe: "fill each host's slots first (slot, default) or deal ranks round-robin (node)" })
    .option("oversubscribe", { type: "boolean", describe: "allow more ranks than slots (locally ranks are never limited to cores)" })
    .option("launch-agent", { type: "string", describe: "command that reaches remote hosts (default $TSMPI_SSH or ssh), e.g. \"ssh -p 2222\"" })
    .option("node-path", { type: "string", describe: "node binary on remote hosts (default: this node's path if it exists there, else node on the remote PATH)" })
    .option("iface", { type: "string", describe: "interface name or subnet (CIDR) to advertise to other hosts (default $TSMPI_IFACE, else the route to them)" })
    .option("launcher", { type: "string", choices: ["auto", "local", "ssh", "slurm"], describe: "how to start ranks (default auto: ssh with --host/--hostfile, srun inside a SLURM allocation, else local)" })
    .option("info", { type: "boolean", describe: "print versions, transport and native addon status (with -n N: the GPU each rank would use), then exit" })
    .example("tsmpirun -n 4 examples/hello.ts", "four ranks of a TypeScript program")
    .example("tsmpirun -n 2 -m tsmpi/bench pingpong", "the bench module (as python -m mpi4py.bench)")
    .example("tsmpirun -n 4 --host node1:2,node2:2 script.ts", "two ranks on each of two hosts, over ssh")
    .strictOptions()
    .help()
    .alias("help", "h")
    .version(false)
    .wrap(null)
    .fail((msg, err) => {
      throw err ?? new UsageError(msg);
    });
  const args = await parser.parseAsync();

  const np = args.n === undefined ? undefined : positiveNumber(args.n, "-n", true);
  const strings = (v: unknown): string[] => ([] as unknown[]).concat(v ?? []).map(String);
  let plan: Plan;
  try {
    plan = await planJob({
      np,
      hosts: strings(args.host),
      hostfile: args.hostfile,
      ppn: args.ppn === undefined ? undefined : positiveNumber(args.ppn, "--ppn", true),
      mapBy: (args["map-by"] as "slot" | "node" | undefined) ?? "slot",
      oversubscribe: Boolean(args.oversubscribe),
      launcher: (args.launcher as "auto" | "local" | "ssh" | "slurm" | undefined) ?? "auto",
    });
  } catch (err) {
    if (err instanceof TsmpiError) usageError(err.message);
    throw err;
  }
  const sshAgent = (args["launch-agent"] ?? process.env.TSMPI_SSH ?? "ssh").split(/\s+/).filter(Boolean);
  const common = {
    plan,
    env: {} as Record<string, string>,
    sshAgent,
    nodePath: args["node-path"],
    iface: args.iface ?? (process.env.TSMPI_IFACE || undefined),
    oversubscribe: Boolean(args.oversubscribe),
  };
  if (args.info) {
    const { printInfo } = await import("./info.js");
    await printInfo();
    if (np === undefined) return 0;
    const rankInfo = fileURLToPath(new URL("./info-rank.js", import.meta.url));
    return runJob({ ...common, argv: [process.execPath, rankInfo], wdir: process.cwd(), output: { tagOutput: false }, timeout: 60 });
  }
  const env = exportedEnv(([] as string[]).concat(args.x ?? []));
  const rest = (args._ as (string | number)[]).map(String);
  if (rest[0] === "--") rest.shift();
  let program: Program;
  if (args.m !== undefined) {
    if (!args.m) usageError("-m needs a module name, e.g. -m tsmpi/bench");
    program = { module: args.m };
  } else {
    const script = rest.shift();
    if (!script) usageError("no program given");
    program = { script };
  }
  const timeoutRaw = args.timeout ?? process.env.MPIEXEC_TIMEOUT;
  const timeout = timeoutRaw === undefined || timeoutRaw === "" ? 0 : positiveNumber(timeoutRaw, args.timeout !== undefined ? "--timeout" : "MPIEXEC_TIMEOUT", false);
  const wdir = path.resolve(args.wdir ?? ".");
  if (!fs.existsSync(wdir) || !fs.statSync(wdir).isDirectory()) usageError(`--wdir must be an existing directory, got ${JSON.stringify(args.wdir)}`);

  let argvOfRank: string[];
  try {
    argvOfRank = programArgv(program, rest, process.cwd());
  } catch (err) {
    if (err instanceof TsmpiError) usageError(err.message);
    throw err;
  }
  return runJob({
    ...common,
    argv: argvOfRank,
    wdir,
    env,
    output: { tagOutput: Boolean(args["tag-output"]), outputDir: args["output-filename"] },
    timeout,
  });
}

main(hideBin(process.argv)).then(
  (code) => process.exit(code),
  (err) => {
    if (err instanceof UsageError || (err as Error)?.name === "YError") {
      process.stderr.write(`tsmpirun: ${(err as Error).message} (${USAGE}; see tsmpirun --help)\n`);
      process.exit(2);
    }
    process.stderr.write(`tsmpirun: ${(err as Error)?.stack ?? String(err)}\n`);
    process.exit(1);
  },
);
