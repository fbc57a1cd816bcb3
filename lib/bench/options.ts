/**
 * The command-line parsing the bench modules share (`tsmpi/bench`, its GPU commands,
 * `tsmpi/futures/bench`): Node's `parseArgs`, with a problem thrown as a `TsmpiError`
 * (`ERR_TSMPI_ARG`) naming the option, which each bench prints with its usage (exit code 2).
 *
 * @module
 */
import { parseArgs } from "node:util";
import { TsmpiError } from "../errors.js";

/** What `parseArgs` takes for each option. */
export type OptionSpec = Record<string, { type: "string" | "boolean"; short?: string; default?: string | boolean }>;

/** Parsed option values. */
export type Options = Record<string, string | boolean | undefined>;

/** Parses `args` by `spec`; an unknown option or a missing value is `ERR_TSMPI_ARG`. */
export function parseOptions(args: string[], spec: OptionSpec, allowPositionals = false): { values: Options; positionals: string[] } {
  try {
    const { values, positionals } = parseArgs({ args, options: spec, allowPositionals });
    return { values: values as Options, positionals };
  } catch (err) {
    throw new TsmpiError("ERR_TSMPI_ARG", (err as Error).message);
  }
}
