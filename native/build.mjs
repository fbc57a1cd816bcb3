#!/usr/bin/env node
// `npm install` step for tsmpi's optional native addon (package.json "install"). Builds
// binding.gyp with the node-gyp that npm provides to scripts (never downloads anything), first
// with CUDA when native/detect-cuda.mjs finds a toolkit, then CPU-only if that failed. Prints one
// line saying what happened and ALWAYS exits 0: without the addon tsmpi uses its pure-JavaScript
// fallback. The full compiler output goes to build/tsmpi-native-build.log.
//
// Environment: TSMPI_NATIVE=0 skips the build; TSMPI_CUDA=0 builds without CUDA;
// CUDA_HOME/CUDA_PATH pick the toolkit; TSMPI_CUDA_ARCHS picks GPU architectures ("80,90").
import { spawnSync } from "node:child_process";
import { accessSync, constants, mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

import { detectCuda } from "./detect-cuda.mjs";

const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const addon = path.join(root, "build", "Release", "tsmpi_native.node");
const logFile = path.join(root, "build", "tsmpi-native-build.log");
const say = (line) => process.stdout.write(`tsmpi: ${line}\n`);

/** The node-gyp npm hands to scripts, else one on PATH; as [command, ...args], or undefined. */
function nodeGyp() {
  const fromNpm = process.env.npm_config_node_gyp;
  if (fromNpm) return [process.execPath, fromNpm];
  for (const dir of (process.env.PATH ?? "").split(path.delimiter)) {
    try {
      accessSync(path.join(dir, "node-gyp"), constants.X_OK);
      return [path.join(dir, "node-gyp")];
    } catch {
      // not here
    }
  }
  return undefined;
}

/** The line of a build log that best says why it failed. */
function firstError(log) {
  const lines = log.split("\n").map((l) => l.trim()).filter(Boolean);
  const pick = (re) => lines.find((l) => re.test(l));
  const compiler = process.env.CXX ? ` (CXX=${process.env.CXX})` : "";
  const line =
    pick(/\b(fatal )?error:|nvcc fatal/) ??
    (pick(/^make: \*\*\* \[/) ? `compiling failed${compiler}: ${pick(/^make: \*\*\* \[/)}` : undefined) ??
    pick(/^gyp ERR! stack Error/) ??
    lines.at(-1) ??
    "no output";
  return line.replace(/\s+/g, " ").slice(0, 240);
}

/** Verifies the built addon loads in a fresh process and reports what it has. */
function loadCheck() {
  const probe = `const b = require(${JSON.stringify(addon)}); console.log(JSON.stringify({ cuda: b.cudaCompiled, runtime: b.runtimeInfo() }))`;
  const run = spawnSync(process.execPath, ["-e", probe], { encoding: "utf8" });
  if (run.status !== 0) return { ok: false, error: firstError(run.stderr) };
  return { ok: true, ...JSON.parse(run.stdout) };
}

function main() {
  if (process.env.TSMPI_NATIVE === "0") {
    say("TSMPI_NATIVE=0: native addon not built; the pure JavaScript fallback is used.");
    return;
  }
  const gyp = nodeGyp();
  if (!gyp) {
    say("native addon not built (node-gyp not found: run `npm rebuild tsmpi` through npm); the pure JavaScript fallback is used.");
    return;
  }
  const cuda = detectCuda();
  const attempts = cuda.enabled ? [true, false] : [false];
  const logs = [];
  const started = Date.now();
  let built;
  for (const withCuda of attempts) {
    const env = { ...process.env, TSMPI_CUDA: withCuda ? "1" : "0" };
    const [command, ...args] = gyp;
    const run = spawnSync(command, [...args, "rebuild", "--jobs=max"], { cwd: root, env, encoding: "utf8", maxBuffer: 64 << 20 });
    const output = `${run.stdout ?? ""}${run.stderr ?? ""}${run.error ? String(run.error) : ""}`;
    logs.push(`=== node-gyp rebuild (CUDA ${withCuda ? "on" : "off"}): exit ${run.status}\n${output}`);
    if (run.status === 0) {
      built = { withCuda, check: loadCheck() };
      if (built.check.ok) break;
      logs.push(`=== load check failed: ${built.check.error}`);
    } else {
      built = undefined;
    }
  }
  mkdirSync(path.dirname(logFile), { recursive: true });
  writeFileSync(logFile, logs.join("\n"));
  const seconds = ((Date.now() - started) / 1000).toFixed(1);
  const log = path.relative(root, logFile);
  if (!built?.check.ok) {
    const why = built ? built.check.error : firstError(logs.at(-1));
    say(`native addon not built (${why}); the pure JavaScript fallback is used. Full log: ${log}`);
    return;
  }
  const version = built.check.runtime.version;
  const what = built.withCuda
    ? `with CUDA ${Math.floor(version / 1000)}.${(version % 1000) / 10} (sm_${cuda.archs.join(", sm_")}; ${built.check.runtime.deviceCount} device(s) visible now)`
    : `CPU-only (${cuda.enabled ? `the CUDA build failed: ${firstError(logs[0])}` : cuda.reason})`;
  say(`native addon built ${what} in ${seconds} s.`);
}

try {
  main();
} catch (error) {
  say(`native addon not built (${error instanceof Error ? error.message : String(error)}); the pure JavaScript fallback is used.`);
}
process.exit(0);
