/**
 * Starting rank processes: what command runs a program, and starting it on this host.
 *
 * `.js/.mjs/.cjs` run with this Node; `.ts/.mts/.cts` run with this Node and tsx resolved from
 * tsmpi's own install (`node --import <tsx> script.ts`), so users need no tsx of their own,
 * unless the launcher compiled the program for this host's ranks (`compiledArgv`, `typescript.ts`);
 * `-m module` resolves a package module (as `python -m`); anything else is run as an executable
 * found on PATH (as `mpiexec -n 2 hostname`).
 *
 * @module
 */
import { spawn, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { TsmpiError } from "../lib/errors.js";

const JS = new Set([".js", ".mjs", ".cjs"]);
const TS = new Set([".ts", ".mts", ".cts"]);

/** What the user asked to run. */
export type Program = { script: string } | { module: string } | { code: string; name: "-c" | "-" };

/** The argv that runs `program` with `args` from `cwd`, with the Node binary at `node`. */
export function programArgv(program: Program, args: readonly string[], cwd: string, node = process.execPath): string[] {
  if ("module" in program) return [node, resolveModule(program.module, cwd), ...args];
  // As python -c: process.argv[1] is "-c" (or "-" for a program read from stdin), so that
  // `process.argv.slice(2)` are the arguments, as for a script. Imports resolve from `cwd`.
  if ("code" in program) return [node, "--input-type=module", "--eval", program.code, "--", program.name, ...args];
  const ext = path.extname(program.script).toLowerCase();
  const file = path.resolve(cwd, program.script);
  if (JS.has(ext) || TS.has(ext)) {
    if (!fs.existsSync(file)) throw new TsmpiError("ERR_TSMPI_LAUNCH", `script not found: ${program.script}`);
    return TS.has(ext) ? [node, "--import", tsxLoader(), file, ...args] : [node, file, ...args];
  }
  if (program.script.includes("/") && !fs.existsSync(file))
    throw new TsmpiError("ERR_TSMPI_LAUNCH", `program not found: ${program.script}`);
  return [program.script, ...args];
}

/**
 * The argv that runs a TypeScript program compiled by the launcher (`typescript.ts`): plain
 * Node (the compiled module turns source maps on for the program's own files).
 */
export function compiledArgv(file: string, args: readonly string[], node = process.execPath): string[] {
  return [node, file, ...args];
}

/** The tsx ESM loader of tsmpi's own install, as a file URL for `--import`. */
export function tsxLoader(): string {
  return import.meta.resolve("tsx");
}

/**
 * Resolves `-m spec` to a file: from the user's directory first (their own dependency), then
 * from tsmpi's install (so `-m tsmpi/bench` works with a global tsmpirun).
 */
export function resolveModule(spec: string, cwd: string): string {
  try {
    return createRequire(path.join(cwd, "noop.js")).resolve(spec);
  } catch {
    try {
      return fileURLToPath(import.meta.resolve(spec));
    } catch (err) {
      throw new TsmpiError("ERR_TSMPI_LAUNCH", `module not found: ${spec}`, { cause: err });
    }
  }
}

/** How to start one rank on this host. */
export interface LocalSpawn {
  argv: string[];
  cwd: string;
  env: NodeJS.ProcessEnv;
  /** Give the rank the launcher's stdin (rank 0, as mpiexec does); others get /dev/null. */
  stdin: boolean;
}

/**
 * Starts a rank in its own process group (so the whole group can be signalled) with piped
 * stdout/stderr. Spawn failures (e.g. no such executable) arrive as the child's `error` event.
 */
export function spawnLocal(s: LocalSpawn): ChildProcess {
  return spawn(s.argv[0]!, s.argv.slice(1), {
    cwd: s.cwd,
    env: s.env,
    stdio: [s.stdin ? "pipe" : "ignore", "pipe", "pipe"],
    detached: true,
  });
}

/** Quotes `s` for a POSIX shell (the remote side of ssh). */
export function shellQuote(s: string): string {
  return /^[A-Za-z0-9_./:=@%+,-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

/** How to reach a remote host and what to run there. */
export interface SshLaunch {
  /** The ssh command and its options (`--launch-agent`, `TSMPI_SSH`; default `ssh`). */
  agent: readonly string[];
  host: string;
  /** The rank's command as it would run here (`programArgv`). */
  argv: readonly string[];
  /** Variables set on the remote command line (`ps` shows them on both hosts: nothing secret). */
  env: Record<string, string>;
  /**
   * The remote shell reads the first line of its stdin and evaluates it: the caller writes
   * {@link secretLine} of the secret variables there (the job key, the user's `-x` values), so
   * they are on no command line, and they are exported before the rank starts.
   */
  secrets?: boolean;
  wdir: string;
  /** `--node-path`: the node binary on the remote host. */
  nodePath?: string;
  /** Forward our stdin (rank 0); others get `ssh -n` (or, with `secrets`, only their line). */
  stdin: boolean;
}

/**
 * The argv of the local `ssh` process that starts one rank on `host`: it changes to the same
 * working directory, sets the rank's variables and execs node, the one at `--node-path`, else
 * this Node's path when it exists there, else `node` on the remote PATH.
 */
export function sshArgv(l: SshLaunch): string[] {
  const isNode = l.argv[0] === process.execPath;
  const envPart = Object.entries(l.env)
    .map(([k, v]) => `${k}=${shellQuote(v)}`)
    .join(" ");
  const rest = l.argv.slice(1).map(shellQuote).join(" ");
  let find = "";
  let program = shellQuote(l.argv[0]!);
  if (isNode) {
    program = '"$N"';
    find = l.nodePath
      ? `N=${shellQuote(l.nodePath)}; [ -x "$N" ] || { echo "tsmpi: --node-path $N is not an executable on $(hostname)" >&2; exit 127; }; `
      : `N=${shellQuote(process.execPath)}; [ -x "$N" ] || N=$(command -v node) || { echo "tsmpi: no node on $(hostname): install it or give --node-path" >&2; exit 127; }; `;
  }
  const read = l.secrets ? `IFS= read -r TSMPI_SECRETS || exit 127; eval "$TSMPI_SECRETS"; unset TSMPI_SECRETS; ` : "";
  const remote = `${read}${find}cd ${shellQuote(l.wdir)} || exit 127; exec env ${envPart} ${program} ${rest}`.trimEnd();
  return [...l.agent, "-o", "BatchMode=yes", "-o", "ConnectTimeout=10", ...(l.stdin || l.secrets ? [] : ["-n"]), "--", l.host, remote];
}

/**
 * The line a remote shell started by {@link sshArgv} with `secrets` reads and evaluates:
 * `export NAME='value' ...` on one line. A newline inside a value is written as `"$NL"`, a
 * variable the line itself sets first, so the line stays one line whatever the values hold.
 */
export function secretLine(vars: Record<string, string>): string {
  const names = Object.keys(vars);
  for (const k of names)
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(k))
      throw new TsmpiError("ERR_TSMPI_ARG", `-x needs a variable name of letters, digits and _, got ${JSON.stringify(k)}`);
  if (names.length === 0) return ":\n";
  const value = (v: string): string => shellQuote(v).replace(/\n/g, `'"$NL"'`);
  const nl = Object.values(vars).some((v) => v.includes("\n")) ? `NL=$(printf '\\nx'); NL=\${NL%x}; ` : "";
  return `${nl}export ${names.map((k) => `${k}=${value(vars[k]!)}`).join(" ")}\n`;
}

/** The argv of the `srun` that starts all ranks inside a SLURM allocation. */
export function srunArgv(np: number, argv: readonly string[], opts: { ppn?: number; oversubscribe: boolean }): string[] {
  return [
    "srun",
    "--kill-on-bad-exit=1",
    `--ntasks=${np}`,
    "--label",
    "--input=0",
    ...(opts.ppn ? [`--ntasks-per-node=${opts.ppn}`] : []),
    ...(opts.oversubscribe ? ["--overcommit"] : []),
    ...argv,
  ];
}
