/**
 * MPMD command lines, Open MPI's colon syntax: `tsmpirun [options] a.ts [args] : -n 4 b.js [args]`
 * runs several programs as one job, one `COMM_WORLD`, ranks numbered part after part; a rank
 * learns its part from `COMM_WORLD.Get_attr(APPNUM)` (`TSMPI_APPNUM`, from 0).
 *
 * As Open MPI's mpirun (checked with Open MPI 4.1): each part has its own `-n`, `-x`, `--host`,
 * `--wdir` and program (or `-m module`) with its arguments; the options before the first program
 * are the first part's, and the job's (`--hostfile`, `--tag-output`, `--timeout`, ...: every
 * option that is not a part's own), which apply to all parts. A later part may give only a
 * part's own options: anything else is a usage error naming the part. Unlike mpirun, an empty
 * part (`a.js :` or `: :`) is an error, not ignored.
 *
 * Inside a SLURM allocation the parts run as one `srun --multi-prog` step ({@link multiProg}).
 *
 * @module
 */
import { TsmpiError } from "../lib/errors.js";
import { parseCommandLine, type CliArgs } from "./options.js";

/** The options a part may give for itself (with their aliases); the others are the job's. */
export const PART_OPTIONS: ReadonlySet<string> = new Set(["n", "np", "x", "host", "H", "wdir", "m", "c"]);

/** Part `k` (from 0) of the command line, as messages name it. */
export function partName(k: number): string {
  return k === 0 ? "part 1 (before the first ':')" : `part ${k + 1} (after ':' number ${k})`;
}

/** Splits `argv` at each `:` that stands alone (Open MPI's separator of application contexts). */
export function splitParts(argv: readonly string[]): string[][] {
  const parts: string[][] = [[]];
  for (const arg of argv) {
    if (arg === ":") parts.push([]);
    else parts[parts.length - 1]!.push(arg);
  }
  return parts;
}

/**
 * Parses the parts after the first (`segments[1..]`) with tsmpirun's option table.
 * @throws TsmpiError `ERR_TSMPI_ARG` naming the part: an empty part, an unknown option or a
 * job's option in it.
 */
export async function parseLaterParts(segments: readonly string[][]): Promise<CliArgs[]> {
  const parsed: CliArgs[] = [];
  for (let k = 1; k < segments.length; k++) {
    const segment = segments[k]!;
    if (segment.length === 0) throw new TsmpiError("ERR_TSMPI_ARG", `${partName(k)} is empty: give its program after the ':'`);
    let args: CliArgs;
    try {
      args = await parseCommandLine(segment);
    } catch (err) {
      throw new TsmpiError("ERR_TSMPI_ARG", `${partName(k)}: ${(err as Error).message}`, { cause: err });
    }
    const job = Object.keys(args).filter((key) => key !== "_" && key !== "--" && !PART_OPTIONS.has(key));
    if (job.length > 0) {
      const flag = job[0]!.length === 1 ? `-${job[0]}` : `--${job[0]}`;
      throw new TsmpiError(
        "ERR_TSMPI_ARG",
        `${partName(k)}: ${flag} is an option of the whole job: give it before the first program (a part may give only -n, -x, --host, --wdir and -m)`,
      );
    }
    parsed.push(args);
  }
  return parsed;
}

/** What an MPMD part runs, once resolved: its command, extra environment and working directory. */
export interface RankPart {
  /** The command its ranks run (see `programArgv`). */
  argv: string[];
  /** Its `-x` variables. */
  env: Record<string, string>;
  /** Its ranks' working directory. */
  wdir: string;
  /** How many ranks run it. */
  np: number;
}

/** The part rank `rank` runs and its index (the rank's `APPNUM`). */
export function partOfRank(parts: readonly RankPart[], rank: number): { part: RankPart; appnum: number } {
  let first = 0;
  for (let k = 0; k < parts.length; k++) {
    first += parts[k]!.np;
    if (rank < first) return { part: parts[k]!, appnum: k };
  }
  throw new Error(`rank ${rank} is in no part (the parts have ${first} ranks)`);
}

/**
 * Quotes `s` for an `srun --multi-prog` file, whose parser knows single quotes only (no escape
 * inside them; `%t` and `%o` outside them are replaced).
 * @throws TsmpiError `ERR_TSMPI_ARG` for a value with a single quote or a newline.
 */
function multiProgQuote(s: string): string {
  if (/['\n\r]/.test(s)) {
    throw new TsmpiError(
      "ERR_TSMPI_ARG",
      `inside a SLURM allocation an MPMD part's command and -x values cannot hold a single quote or a newline (srun --multi-prog), got ${JSON.stringify(s)}`,
    );
  }
  return `'${s}'`;
}

/**
 * The `srun --multi-prog` file of an MPMD job: one line per part, `first-last` ranks, then
 * `env` setting the part's variables and `TSMPI_APPNUM` (and `-C` its working directory where
 * it is not `wdir`, srun's own) before its command. (The part's `-x` values are on `env`'s
 * command line for the instant before it starts the program.)
 */
export function multiProg(parts: readonly RankPart[], wdir: string): string {
  let first = 0;
  const lines = parts.map((part, k) => {
    const last = first + part.np - 1;
    const ranks = last === first ? `${first}` : `${first}-${last}`;
    first = last + 1;
    const chdir = part.wdir !== wdir ? ["-C", part.wdir] : [];
    const env = Object.entries({ ...part.env, TSMPI_APPNUM: String(k) }).map(([name, value]) => `${name}=${value}`);
    return [ranks, ...["/usr/bin/env", ...chdir, ...env, ...part.argv].map(multiProgQuote)].join(" ");
  });
  return `# tsmpirun: the parts of an MPMD job\n${lines.join("\n")}\n`;
}
