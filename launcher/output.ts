/**
 * Forwarding of the ranks' stdout and stderr: whole lines at a time, so two ranks' output never
 * mixes inside a line, optionally prefixed with `[rank] ` (`--tag-output`) or written to
 * per-rank files (`--output-filename`).
 *
 * Bounds: a line is held back until its newline only while it is shorter than
 * {@link MAX_HELD_BYTES} and while all streams together hold less than {@link HELD_TOTAL_BYTES}
 * (ranks printing `\r` progress bars never end a line): past either, the held part is passed on
 * as it is. At most {@link SINK_HWM} bytes wait for a slow reader before the ranks wait too. A
 * write error on an `--output-filename` file (ENOSPC) is said once per file on stderr.
 *
 * @module
 */
import fs from "node:fs";
import net from "node:net";
import path from "node:path";
import type { Readable, Writable } from "node:stream";
import tty from "node:tty";

/** A line longer than this is passed on in pieces rather than held back indefinitely. */
export const MAX_HELD_BYTES = 1024 * 1024;
/** Bytes of unfinished lines held for all ranks' streams together; past it, a stream that adds passes its part on. */
export const HELD_TOTAL_BYTES = 16 * 1024 * 1024;
/** Bytes of unfinished lines held now, all streams together. */
let heldTotal = 0;
/** Bytes waiting for a slow reader above which the ranks' output is no longer read (they wait). */
const SINK_HWM = 8 * 1024 * 1024;

/**
 * One destination of forwarded output (tsmpirun's stdout, stderr, or a file), written without
 * ever blocking the launcher: a pipe or socket through a non-blocking stream, so a reader that
 * stalls (a full pipe, a pager) holds back only the output, never `--timeout` or failure
 * handling. Each chunk is queued whole, and one writer per destination writes them in order, so
 * lines of different ranks never mix. Above {@link SINK_HWM} queued bytes the sources pause
 * (the ranks then wait on their own output, as under mpiexec) until it drained.
 */
class Sink {
  private readonly stream: Writable | undefined;
  private readonly fd: number;
  private readonly paused = new Set<Readable>();
  private broken = false;

  constructor(
    fd: number,
    /** What the destination is, for the warning on a write error (files only). */
    private readonly name = `fd ${fd}`,
  ) {
    this.fd = fd;
    let kind: fs.Stats | undefined;
    try {
      kind = fs.fstatSync(fd);
    } catch {
      this.broken = true;
    }
    let stream: Writable | undefined;
    if (kind && (kind.isFIFO() || kind.isSocket())) stream = new net.Socket({ fd, readable: false, writable: true });
    else if (kind?.isCharacterDevice() && tty.isatty(fd)) stream = new tty.WriteStream(fd);
    if (stream) {
      stream.on("error", () => {
        // EPIPE: nobody reads this output any more. Sources paused for it go on (what they
        // write is dropped), and a closed stdout is reported, as SIGPIPE ends a pipeline.
        this.broken = true;
        this.resume();
        if (fd === 1) for (const listener of stdoutClosed.splice(0)) listener();
      });
      stream.on("drain", () => this.resume());
      this.stream = stream;
    }
  }

  /** Queues `data`; pauses `from` while too much waits for the reader. */
  write(data: Buffer, from: Readable): void {
    if (this.broken) return;
    if (!this.stream) {
      // A file: never stalls. One that cannot be written (ENOSPC) is said once, then dropped.
      const err = writeAllSync(this.fd, data);
      if (err) {
        this.broken = true;
        process.stderr.write(`tsmpirun: cannot write ${this.name}: ${err.message}; further output to it is dropped\n`);
      }
      return;
    }
    if (!this.stream.write(data) || this.stream.writableLength > SINK_HWM) {
      from.pause();
      this.paused.add(from);
    }
  }

  private resume(): void {
    for (const s of this.paused) s.resume();
    this.paused.clear();
  }

  /** Bytes queued and not yet taken by the reader. */
  get pending(): number {
    return this.broken || !this.stream ? 0 : this.stream.writableLength;
  }

  /** Resolves once everything queued was written (or the reader went away). */
  flushed(): Promise<void> {
    const stream = this.stream;
    if (!stream || this.broken || stream.writableLength === 0) return Promise.resolve();
    return new Promise((resolve) => {
      const check = (): void => {
        if (this.broken || stream.writableLength === 0) {
          stream.off("drain", check);
          stream.off("error", check);
          resolve();
        }
      };
      stream.on("drain", check);
      stream.on("error", check);
    });
  }
}

const sinks = new Map<number, Sink>();
const stdoutClosed: (() => void)[] = [];

/**
 * Calls `listener` once if tsmpirun's standard output is closed by its reader while ranks still
 * write to it (`tsmpirun ... | head`): the job should then end, as a pipeline's writer does on
 * SIGPIPE, rather than run on with its output dropped. Returns a function that unregisters it.
 */
export function onStdoutClosed(listener: () => void): () => void {
  stdoutClosed.push(listener);
  return () => {
    const i = stdoutClosed.indexOf(listener);
    if (i >= 0) stdoutClosed.splice(i, 1);
  };
}

function sinkFor(fd: number, name?: string): Sink {
  let sink = sinks.get(fd);
  if (!sink) {
    sink = new Sink(fd, name);
    sinks.set(fd, sink);
  }
  return sink;
}

/**
 * Resolves once all forwarded output reached tsmpirun's stdout and stderr (call before
 * exiting), or after `timeoutMs`: then with the number of bytes its readers did not take
 * (dropped when tsmpirun exits), else 0.
 */
export async function flushOutput(timeoutMs = Infinity): Promise<number> {
  const all = Promise.all([...sinks.values()].map((s) => s.flushed()));
  if (timeoutMs === Infinity) {
    await all;
    return 0;
  }
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([all, new Promise((resolve) => (timer = setTimeout(resolve, timeoutMs)))]);
  clearTimeout(timer);
  let left = 0;
  for (const s of sinks.values()) left += s.pending;
  return left;
}

/** Where forwarded output goes. */
export interface OutputOptions {
  /** Prefix each line with `[rank] `. */
  tagOutput: boolean;
  /** Write rank r's output to `DIR/1/rank.r/stdout` and `.../stderr` (Open MPI's layout) instead. */
  outputDir?: string;
}

/**
 * Copies `stream` to `fd` in whole lines, each passed through `format` when given (without its
 * newline). Resolves once the stream ended; what it read is then queued for `fd` in whole
 * lines ({@link flushOutput} waits until it is written).
 */
export function forwardLines(stream: Readable, fd: number, format?: (line: string) => string, name?: string): Promise<void> {
  const sink = sinkFor(fd, name);
  let held: Buffer[] = [];
  let heldBytes = 0;
  /** Forgets the held bytes (they were passed on), in the global count too. */
  const release = (): void => {
    heldTotal -= heldBytes;
    held = [];
    heldBytes = 0;
  };
  const emit = (chunk: Buffer): void => {
    if (!format) {
      sink.write(chunk, stream);
      return;
    }
    const lines = chunk.toString("utf8").split("\n");
    const last = lines.pop();
    let text = lines.map((l) => `${format(l)}\n`).join("");
    if (last) text += `${format(last)}\n`;
    sink.write(Buffer.from(text), stream);
  };
  stream.on("data", (chunk: Buffer) => {
    const nl = chunk.lastIndexOf(10);
    if (nl < 0) {
      held.push(chunk);
      heldBytes += chunk.length;
      heldTotal += chunk.length;
      if (heldBytes > MAX_HELD_BYTES || heldTotal > HELD_TOTAL_BYTES) {
        const part = Buffer.concat(held);
        release();
        emit(part);
      }
      return;
    }
    const whole = held.length ? Buffer.concat([...held, chunk.subarray(0, nl + 1)]) : chunk.subarray(0, nl + 1);
    release();
    if (nl + 1 < chunk.length) {
      held = [chunk.subarray(nl + 1)];
      heldBytes = chunk.length - nl - 1;
      heldTotal += heldBytes;
    }
    emit(whole);
  });
  return new Promise((resolve) => {
    const finish = (): void => {
      // A last line without a newline still ends its line, so the next output starts afresh.
      const rest = heldBytes > 0 ? Buffer.concat([...held, Buffer.from("\n")]) : undefined;
      release();
      if (rest) emit(rest);
      resolve();
    };
    stream.on("end", finish);
    stream.on("error", finish);
  });
}

/**
 * Writes all of `data` to a file `fd` (files never return EAGAIN); returns the error when it
 * cannot (ENOSPC, EIO, EBADF: the rest is dropped).
 */
function writeAllSync(fd: number, data: Buffer): Error | undefined {
  let off = 0;
  while (off < data.length) {
    try {
      off += fs.writeSync(fd, data, off);
    } catch (err) {
      return err as Error;
    }
  }
  return undefined;
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
    const name = (what: string): string => `rank ${rank}'s ${what} to ${path.join(dir, what)}`;
    return Promise.all([forwardLines(stdout, out, undefined, name("stdout")), forwardLines(stderr, err, undefined, name("stderr"))]).then(
      () => {
        sinks.delete(out);
        sinks.delete(err);
        fs.closeSync(out);
        fs.closeSync(err);
      },
    );
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
