#!/usr/bin/env node
// Whether an install step can be skipped because npx is re-running it on a checkout that is
// already built: `npx tsmpirun` inside a checkout of tsmpi installs the checkout itself into
// npx's cache (the package's own bin is never taken from node_modules/.bin), and npm then runs
// its install and prepare scripts again, in the checkout: 16-23 s of native and TypeScript
// builds on the first run, for nothing. Exits 0 (skip) only under npx (`npm_command` "exec")
// and when the step's output exists; every other install builds as before.
//
//   node scripts/built.mjs native || node native/build.mjs      (package.json "install")
//   node scripts/built.mjs dist || npm run build                 (package.json "prepare")
import { existsSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const outputs = {
  // The addon, or the log of a build that failed (it would fail again: tsmpi runs without it).
  native: [
    ["build", "Release", "tsmpi_native.node"],
    ["build", "tsmpi-native-build.log"],
  ],
  dist: [["dist", "launcher", "cli.js"]],
};
const step = process.argv[2];
if (!(step in outputs)) {
  process.stderr.write(`built.mjs: the step must be one of ${Object.keys(outputs).join(", ")}, got ${JSON.stringify(step)}\n`);
  process.exit(2);
}
const found = outputs[step].some((p) => existsSync(path.join(root, ...p)));
if (process.env.npm_command === "exec" && found && existsSync(path.join(root, "dist", "lib", "index.js"))) {
  process.stdout.write(`tsmpi: ${step} already built in this checkout; npx need not rebuild it\n`);
  process.exit(0);
}
process.exit(1);
