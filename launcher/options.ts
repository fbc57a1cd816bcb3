/**
 * tsmpirun's command-line options: one table, read two ways. The common case (a valid command
 * line) is parsed by yargs-parser, the parser yargs itself uses, with yargs's configuration;
 * anything else (`--help`, an unknown option, a value outside its choices) goes through yargs,
 * which prints the help or the error. Loading yargs's help and validation machinery costs
 * ~30 ms, on the path of every job's start.
 *
 * @module
 */
import parser from "yargs-parser";

/** One option, in yargs's terms. */
interface OptionSpec {
  alias?: string[];
  type: "string" | "boolean";
  choices?: string[];
  describe: string;
}

/** Every option of tsmpirun. */
export const OPTIONS = {
  n: {
    alias: ["np"],
    type: "string",
    describe: "number of ranks to start (default 1, or the hosts' slots, or the SLURM allocation's tasks)",
  },
  m: { type: "string", describe: "run a module (e.g. tsmpi/bench) instead of a script, as python -m" },
  c: {
    type: "string",
    describe: "run CODE (JavaScript, as an ES module) instead of a script, as python -c; a script named - is read from stdin",
  },
  x: { type: "string", describe: "export VAR (or VAR=value) to the ranks; repeatable" },
  host: { alias: ["H"], type: "string", describe: "hosts to run on, as host[:slots],...; repeatable (remote ones are started over ssh)" },
  hostfile: {
    alias: ["machinefile"],
    type: "string",
    describe: "file of hosts: Open MPI `host slots=N` or Hydra `host:N` lines; # comments",
  },
  ppn: { alias: ["npernode"], type: "string", describe: "ranks per host (replaces the hosts' slot counts)" },
  "universe-size": {
    alias: ["usize"],
    type: "string",
    describe:
      "the MPI universe size (UNIVERSE_SIZE) that Spawn reads (default: the hosts' slots, the SLURM allocation's tasks, or this host's cores)",
  },
  "map-by": {
    type: "string",
    choices: ["slot", "node"],
    describe: "fill each host's slots first (slot, default) or deal ranks round-robin (node)",
  },
  oversubscribe: { type: "boolean", describe: "allow more ranks than slots (locally ranks are never limited to cores)" },
  "tag-output": { type: "boolean", describe: "prefix each output line with [rank]" },
  insecure: { type: "boolean", describe: "do not encrypt traffic between hosts (ZeroMQ CURVE, TLS rendezvous); also TSMPI_INSECURE=1" },
  "output-filename": { type: "string", describe: "write rank r's output to DIR/1/rank.r/{stdout,stderr}" },
  timeout: { type: "string", describe: "end the job after SEC seconds (default: $MPIEXEC_TIMEOUT, or none); exit code 124" },
  wdir: { type: "string", describe: "working directory of the ranks (default: the current one)" },
  "launch-agent": { type: "string", describe: 'command that reaches remote hosts (default $TSMPI_SSH or ssh), e.g. "ssh -p 2222"' },
  "node-path": {
    type: "string",
    describe: "node binary on remote hosts (default: this node's path if it exists there, else node on the remote PATH)",
  },
  iface: {
    type: "string",
    describe: "interface name or subnet (CIDR) to advertise to other hosts (default $TSMPI_IFACE, else the route to them)",
  },
  launcher: {
    type: "string",
    choices: ["auto", "local", "ssh", "slurm"],
    describe: "how to start ranks (default auto: ssh with --host/--hostfile, srun inside a SLURM allocation, else local)",
  },
  info: {
    type: "boolean",
    describe: "print versions, transport and native addon status (with -n N: the GPU each rank would use), then exit",
  },
  version: { alias: ["V"], type: "boolean", describe: "print tsmpirun's version and exit" },
} satisfies Record<string, OptionSpec>;

/** Parser settings shared by both readings (mpiexec habits: `-np 4`, the script ends the options). */
export const CONFIGURATION = {
  "short-option-groups": false,
  "halt-at-non-option": true,
  "camel-case-expansion": false,
  "boolean-negation": false,
} as const;

/** The parsed command line. */
export type CliArgs = { [K in keyof typeof OPTIONS]?: (typeof OPTIONS)[K]["type"] extends "boolean" ? boolean : string | string[] } & {
  _: (string | number)[];
};

export const USAGE =
  "usage: tsmpirun [-n N] [options] <script.ts|script.js|program | -m module | -c code | -> [args...] [: [-n N] [part options] <program> [args...]]...";

/**
 * Parses `argv`. A clean command line never loads yargs; otherwise yargs parses it again and
 * prints the help (and exits 0) or throws its error.
 */
export async function parseCommandLine(argv: string[]): Promise<CliArgs> {
  const spec = OPTIONS as Record<string, OptionSpec>;
  const names = Object.keys(spec);
  const fast = parser(argv, {
    string: names.filter((n) => spec[n]!.type === "string"),
    boolean: names.filter((n) => spec[n]!.type === "boolean"),
    alias: Object.fromEntries(names.filter((n) => spec[n]!.alias).map((n) => [n, spec[n]!.alias!])),
    configuration: CONFIGURATION,
  });
  const known = new Set(["_", "--", ...names, ...names.flatMap((n) => spec[n]!.alias ?? [])]);
  const clean =
    Object.keys(fast).every((k) => known.has(k)) &&
    names.every((n) => !spec[n]!.choices || fast[n] === undefined || spec[n]!.choices!.includes(String(fast[n])));
  if (clean) return fast as unknown as CliArgs;
  const { parseWithYargs } = await import("./options-yargs.js");
  return parseWithYargs(argv);
}
