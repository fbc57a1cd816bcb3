/**
 * Forwarding of the ranks' stdout and stderr: whole lines at a time, so two ranks' output never
 * mixes inside a line, optionally prefixed with `[rank] ` (`--tag-output`) or written to
 * per-rank files (`--output-filename`).
 *
 * @module
 */
import fs from "node:fs";
import path from "node:path";
import type { Readable } from "node:stream";

/** A line longer than this is passed on in pieces rather than held back indefinitely. */
const MAX_HELD_BYTES = 64 * 1024 * 1024;

/** Where forwarded output goes. */
export interface OutputOptions {
  /** Prefix each line with `[rank] `. */
  tagOutput: boolean;
  /** Write rank r's output to `DIR/1/rank.r/stdout` and `.../stderr` (Open MPI's layout) instead. */
  outputDir?: string;
}

/**
 * Copies `stream` to `fd` in whole lines, each passed through `format` when given (without its
 * newline). Resolves once the stream ended and everything was written. Writes are
 * synchronous, so each line goes out in one piece.
 */
export function forwardLines(stream: Readable, fd: number, format?: (line: string) => string): Promise<void> {
  let held: Buffer[] = [];
  let heldBytes = 0;
  const emit = (chunk: Buffer): void => {
    if (!format) return writeAll(fd, chunk);
    const lines = chunk.toString("utf8").split("\n");
    const last = lines.pop();
    let text = lines.map((l) => format(l) + "\n").join("");
    if (last) text += format(last) + "\n";
    writeAll(fd, Buffer.from(text));
  };
  stream.on("data", (chunk: Buffer) => {
    const nl = chunk.lastIndexOf(10);
    if (nl < 0) {
      held.push(chunk);
      heldBytes += chunk.length;
      if (heldBytes > MAX_HELD_BYTES) {
        emit(Buffer.concat(held));
        held = [];
        heldBytes = 0;
      }
      return;
    }
    const whole = held.length ? Buffer.concat([...held, chunk.subarray(0, nl + 1)]) : chunk.subarray(0, nl + 1);
    held = nl + 1 < chunk.length ? [chunk.subarray(nl + 1)] : [];
    heldBytes = held.length ? held[0]!.length : 0;
    emit(whole);
  });
  return new Promise((resolve) => {
    const finish = (): void => {
      // A last line without a newline still ends its line, so the next output starts afresh.
      if (heldBytes > 0) emit(Buffer.concat([...held, Buffer.from("\n")]));
      held = [];
      heldBytes = 0;
      resolve();
    };
    stream.on("end", finish);
    stream.on("error", finish);
  });
}

/** Writes all of `data` to `fd`, retrying on EAGAIN (a non-blocking pipe that is full). */
function writeAll(fd: number, data: Buffer): void {
  let off = 0;
  while (off < data.length) {
    try {
      off += fs.writeSync(fd, data, off);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === "EAGAIN") continue;
      if (code === "EPIPE") return; // nobody reads our output any more
      throw err;
    }
  }
}

/**
 * Forwards one rank's stdout and stderr according to `opts`. Resolves when both streams ended.
 */
export function forwardRank(rank: number, stdout: Readable, stderr: Readable, opts: OutputOptions): Promise<void> {
  if (opts.outputDir) {
    const dir = path.join(opts.outputDir, "1", `rank.${rank}`);
    fs.mkdirSync(dir, { recursive: true });
    const out = fs.openSync(path.join(dir, "stdout"), "w");
    const err = fs.openSync(path.join(dir, "stderr"), "w");
    return Promise.all([forwardLines(stdout, out), forwardLines(stderr, err)]).then(() => {
      fs.closeSync(out);
      fs.closeSync(err);
    });
  }
  const tag = opts.tagOutput ? (l: string) => `[${rank}] ${l}` : undefined;
  return Promise.all([forwardLines(stdout, 1, tag), forwardLines(stderr, 2, tag)]).then(() => {});
}

/**
 * Forwards the output of `srun --label`, whose lines start with `N: ` (N the task, padded):
 * the label becomes `[N] ` with `--tag-output` and is dropped otherwise. srun's own messages
 * (unlabelled) pass unchanged. (`--output-filename` is not supported under srun.)
 */
export function forwardLabelled(stdout: Readable, stderr: Readable, opts: OutputOptions): Promise<void> {
  const format = (l: string): string => {
    const m = /^ *(\d+): ?(.*)$/s.exec(l);
    if (!m) return l;
    return opts.tagOutput ? `[${m[1]}] ${m[2]}` : m[2]!;
  };
  return Promise.all([forwardLines(stdout, 1, format), forwardLines(stderr, 2, format)]).then(() => {});
}
