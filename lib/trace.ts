/**
 * Diagnostics switched on with `TSMPI_TRACE=collectives,startup,transport`: one JSON line per event on
 * stderr, for the tests (message counts per collective) and for finding where time goes.
 *
 * @module
 */
import { textSetting } from "./config.js";

const kinds = new Set((textSetting("TSMPI_TRACE") ?? "").split(",").filter(Boolean));

/** Whether tracing of `kind` is on. */
export function tracing(kind: "collectives" | "startup" | "transport"): boolean {
  return kinds.has(kind);
}

/** Writes one trace line (`{"tsmpi": kind, ...fields}`) to stderr. */
export function trace(kind: "collectives" | "startup" | "transport", fields: Record<string, unknown>): void {
  process.stderr.write(`${JSON.stringify({ tsmpi: kind, ...fields })}\n`);
}
