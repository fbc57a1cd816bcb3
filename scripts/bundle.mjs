#!/usr/bin/env node
// Bundles the compiled output so processes start fast: loading some 40 small ES modules costs
// a Node process tens of milliseconds, one bundle a few. Run after `tsc` (npm run build).
//  - dist/launcher/cli.js: tsmpirun and everything it imports, with what it loads only on demand
//    (yargs for --help and errors, --info) in chunk files beside it.
//  - dist/lib/{index,bench,cuda,futures,futures-bench}.js: the package's entry points, split so that they share one
//    copy of the runtime (chunk files beside them).
// zeromq, msgpackr, tsx and esbuild stay external: native code, tsx is resolved at run time, and
// esbuild is loaded only when the launcher compiles a TypeScript program (launcher/typescript.ts).
import { build } from "esbuild";
import { rmSync, readdirSync } from "node:fs";

const common = {
  bundle: true,
  platform: "node",
  format: "esm",
  target: "node20",
  sourcemap: true,
  // Maps without the sources (they are shipped beside them): ranks run with --enable-source-maps
  // when the launcher compiled their TypeScript, and Node then reads every loaded module's map.
  sourcesContent: false,
  logLevel: "warning",
  external: ["zeromq", "msgpackr", "tsx", "esbuild"],
  // Bundled CommonJS dependencies (yargs' helpers) may call require().
  banner: { js: "import { createRequire as __tsmpiRequire } from 'node:module'; const require = __tsmpiRequire(import.meta.url);" },
};

for (const f of readdirSync("dist/lib")) if (f.startsWith("chunk-")) rmSync(`dist/lib/${f}`);
for (const f of readdirSync("dist/launcher")) if (f.startsWith("chunk-")) rmSync(`dist/launcher/${f}`);
// Split, so that what only --help, a bad option (yargs) or --info needs is not parsed by every
// job's launcher before it starts the ranks (~3-5 ms of CPU).
await build({
  ...common,
  entryPoints: { cli: "launcher/cli.ts" },
  outdir: "dist/launcher",
  splitting: true,
  chunkNames: "chunk-[hash]",
  allowOverwrite: true,
});
await build({
  ...common,
  entryPoints: {
    index: "lib/index.ts",
    bench: "lib/bench/index.ts",
    cuda: "lib/gpu/cuda.ts",
    futures: "lib/futures/index.ts",
    "futures-bench": "lib/bench/futures.ts",
  },
  outdir: "dist/lib",
  splitting: true,
  chunkNames: "chunk-[hash]",
  allowOverwrite: true,
});
