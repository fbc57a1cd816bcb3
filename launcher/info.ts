/**
 * `tsmpirun --info`: versions and capabilities, for bug reports and for checking an install.
 *
 * @module
 */
import { createRequire } from "node:module";
import { msgpackrNative } from "../lib/serializer.js";

const require = createRequire(import.meta.url);

function version(pkg: string): string {
  try {
    return (require(`${pkg}/package.json`) as { version: string }).version;
  } catch {
    return "not found";
  }
}

/** Prints one `name: value` line per fact. */
export async function printInfo(): Promise<void> {
  const zmq = await import("zeromq");
  const lines: [string, string][] = [
    ["tsmpi", version("tsmpi")],
    ["node", process.version],
    ["zeromq.js", version("zeromq")],
    ["libzmq", zmq.version],
    ["zeromq capabilities", Object.entries(zmq.capability).filter(([, on]) => on).map(([k]) => k).join(" ")],
    ["msgpackr", `${version("msgpackr")} (native acceleration: ${(await msgpackrNative()) ? "yes" : "no"})`],
  ];
  for (const [k, v] of lines) process.stdout.write(`${k}: ${v}\n`);
}
