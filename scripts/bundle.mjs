#!/usr/bin/env node
// Bundles the compiled output so processes start fast: loading some 40 small ES modules costs
// a Node process tens of milliseconds, one bundle a few. Run after `tsc` (npm run build).
//  - dist/launcher/cli.js: tsmpirun and everything it imports (yargs included), one file.
//  - dist/lib/{index,bench,cuda,futures,futures-bench}.js: the package's entry points, split so that they share one
//    copy of the runtime (chunk files beside them).
// zeromq, msgpackr and tsx stay external: native code, and tsx is resolved at run time.
import { build } from "esbuild";
import { rmSync, readdirSync } from "node:fs";

const common = {
  bundle: true,
  platform: "node",
  format: "esm",
  target: "node20",
  sourcemap: true,
  logLevel: "warning",
  external: ["zeromq", "msgpackr", "tsx"],
  // Bundled CommonJS dependencies (yargs' helpers) may call require().
  banner: { js: "import { createRequire as __tsmpiRequire } from 'node:module'; const require = __tsmpiRequire(import.meta.url);" },
};

for (const f of readdirSync("dist/lib")) if (f.startsWith("chunk-")) rmSync(`dist/lib/${f}`);
await build({ ...common, entryPoints: { cli: "launcher/cli.ts" }, outdir: "dist/launcher", allowOverwrite: true });
await build({
  ...common,
  entryPoints: { index: "lib/index.ts", bench: "lib/bench.ts", cuda: "lib/gpu/cuda.ts", futures: "lib/futures/index.ts", "futures-bench": "lib/futures/bench.ts" },
  outdir: "dist/lib",
  splitting: true,
  chunkNames: "chunk-[hash]",
  allowOverwrite: true,
});
