/**
 * A Julia set, a line per task through a CommExecutor, as mpi4py.futures' demo: rank 0 hands
 * out the image's lines, every other rank computes them; the image is written as a PGM file
 * (grey levels = escape iterations). With one rank the root computes the lines itself. The
 * result is checked against the same image computed serially on rank 0, byte for byte.
 *
 *   npx tsmpirun -n 4 examples/julia.ts [width=640] [height=480] [file=julia.pgm]
 */
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { COMM_WORLD, wtime } from "tsmpi";
import { CommExecutor } from "tsmpi/futures";

const width = Number(process.argv[2] ?? 640);
const height = Number(process.argv[3] ?? 480);
const file = process.argv[4] ?? path.join(os.tmpdir(), `julia-${process.pid}.pgm`);
if (!Number.isInteger(width) || width < 1 || !Number.isInteger(height) || height < 1)
  throw new Error(`width and height must be positive integers, got ${width} x ${height}`);

const [X1, X2, Y1, Y2] = [-2.0, 2.0, -1.5, 1.5];
const [CR, CI] = [0.0, 0.65];
const MAX_IT = 255;

/** Escape iterations of every pixel of line `k` (of `h` lines of `w` pixels). */
export function juliaLine(k: number, w: number, h: number): Uint8Array {
  const line = new Uint8Array(w);
  const y = Y1 + ((Y2 - Y1) * k) / h;
  for (let j = 0; j < w; j++) {
    let zr = X1 + ((X2 - X1) * j) / w;
    let zi = y;
    let n = 0;
    while (n < MAX_IT && zr * zr + zi * zi <= 4) {
      [zr, zi] = [zr * zr - zi * zi + CR, 2 * zr * zi + CI];
      n++;
    }
    line[j] = n;
  }
  return line;
}

await using ex = await CommExecutor.open(COMM_WORLD, { root: 0, tasks: [juliaLine] });
if (ex) {
  let t = wtime();
  const image = new Uint8Array(width * height);
  let k = 0;
  for await (const line of ex.starmap(
    juliaLine,
    Array.from({ length: height }, (_, y) => [y, width, height]),
  ))
    image.set(line, width * k++);
  const tParallel = wtime() - t;
  t = wtime();
  const serial = new Uint8Array(width * height);
  for (let y = 0; y < height; y++) serial.set(juliaLine(y, width, height), width * y);
  const tSerial = wtime() - t;
  assert.ok(Buffer.from(image).equals(Buffer.from(serial)), "the executor's image differs from the serial one");
  fs.writeFileSync(file, Buffer.concat([Buffer.from(`P5\n${width} ${height}\n255\n`), image]));
  const inside = image.reduce((a, v) => a + (v === MAX_IT ? 1 : 0), 0);
  console.log(
    `julia set ${width}x${height} on ${ex.numWorkers} worker${ex.numWorkers > 1 ? "s" : ""}: ${tParallel.toFixed(3)} s (serial ${tSerial.toFixed(3)} s); ${inside} pixels inside; identical to the serial image; written to ${file}`,
  );
  if (process.argv[4] === undefined) fs.rmSync(file);
}
