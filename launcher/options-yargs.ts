/**
 * The full yargs reading of tsmpirun's options (see `options.ts`): help text, and yargs's own
 * messages for unknown options and bad choices. Loaded only when a command line needs it.
 *
 * @module
 */
import yargs from "yargs";
import { CONFIGURATION, OPTIONS, USAGE, type CliArgs } from "./options.js";

/** Parses `argv` with yargs: prints the help and exits for `--help`, throws yargs's error otherwise. */
export async function parseWithYargs(argv: string[]): Promise<CliArgs> {
  const args = await yargs(argv)
    .scriptName("tsmpirun")
    .usage(
      `${USAGE}\n\nRuns an SPMD program as N ranked processes (an mpiexec for tsmpi); several programs as one job (MPMD) are separated by ":", each with its own -n, -x, --host, --wdir.`,
    )
    .parserConfiguration(CONFIGURATION)
    .version(false) // before the options: tsmpirun's own --version is one of them
    .options(OPTIONS)
    .example("tsmpirun -n 4 examples/hello.ts", "four ranks of a TypeScript program")
    .example("tsmpirun -n 2 -m tsmpi/bench pingpong", "the bench module (as python -m mpi4py.bench)")
    .example("tsmpirun -n 4 --host node1:2,node2:2 script.ts", "two ranks on each of two hosts, over ssh")
    .example("tsmpirun -n 1 master.ts : -n 4 worker.js", "two programs as one job (MPMD): rank 0 runs master.ts, ranks 1-4 worker.js")
    .strictOptions()
    .help()
    .alias("help", "h")
    .wrap(null)
    .fail((msg, err) => {
      throw err ?? Object.assign(new Error(msg), { name: "YError" });
    })
    .parseAsync();
  return args as unknown as CliArgs;
}
