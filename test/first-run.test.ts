/**
 * The README's first command on a fresh clone: `npm install && npx tsmpirun -n 4 examples/hello.ts`.
 * The repository is cloned into a temporary directory and installed offline from npm's cache
 * (what this machine's own install put there; the native addon is left out with TSMPI_NATIVE=0 to
 * spare a compile); then `npx tsmpirun` must run hello world, without npx building the checkout
 * again (scripts/built.mjs). Nothing is timed: speed is for the benches. Skipped, with the
 * reason, where there is no git checkout to clone or npm's cache cannot serve the install.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { ROOT } from "./helpers/launch.js";

interface Ran {
  code: number | null;
  out: string;
}

/** Runs a command to its end (bounded: its process group is killed after `ms`). */
function sh(file: string, args: string[], cwd: string, env: NodeJS.ProcessEnv, ms: number): Promise<Ran> {
  return new Promise((resolve) => {
    const child = spawn(file, args, { cwd, env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"], detached: true });
    let out = "";
    child.stdout.setEncoding("utf8").on("data", (d: string) => (out += d));
    child.stderr.setEncoding("utf8").on("data", (d: string) => (out += d));
    const timer = setTimeout(() => {
      out += `\n[test: ${file} ${args.join(" ")} exceeded ${ms} ms; killed]\n`;
      try {
        process.kill(-child.pid!, "SIGKILL");
      } catch {
        /* gone */
      }
    }, ms);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, out });
    });
  });
}

/** npx's cache entries (`<npm cache>/_npx/<hash>`) that install `dir`. */
function npxEntries(cache: string, dir: string): string[] {
  const root = path.join(cache, "_npx");
  if (!fs.existsSync(root)) return [];
  return fs
    .readdirSync(root)
    .map((h) => path.join(root, h))
    .filter((d) => {
      try {
        return fs.readFileSync(path.join(d, "package.json"), "utf8").includes(JSON.stringify(dir).slice(1, -1));
      } catch {
        return false;
      }
    });
}

describe("first run on a fresh clone (the README's first command)", function () {
  this.timeout(900_000);
  let dir: string | undefined;
  let npmCache = "";

  after(function () {
    if (!dir) return;
    for (const e of npxEntries(npmCache, dir)) fs.rmSync(e, { recursive: true, force: true });
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it("npm install (offline) && npx tsmpirun -n 4 examples/hello.ts runs hello world, and npx builds nothing again", async function () {
    if (!fs.existsSync(path.join(ROOT, ".git"))) {
      console.log(`      skipped: ${ROOT} is not a git checkout, there is nothing to clone`);
      this.skip();
    }
    const npm = await sh("npm", ["config", "get", "cache"], ROOT, {}, 60_000);
    npmCache = npm.out.trim();
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "tsmpi-clone-"));
    const clone = await sh("git", ["clone", "--quiet", ROOT, dir], os.tmpdir(), {}, 120_000);
    assert.equal(clone.code, 0, clone.out);
    const install = await sh("npm", ["install", "--offline", "--no-audit", "--no-fund"], dir, { TSMPI_NATIVE: "0" }, 600_000);
    if (install.code !== 0 && /ENOTCACHED|offline/i.test(install.out)) {
      console.log(`      skipped: npm's cache cannot serve an offline install here:\n${install.out.split("\n").slice(-5).join("\n")}`);
      this.skip();
    }
    assert.equal(install.code, 0, install.out);
    const run = await sh("npx", ["--foreground-scripts", "tsmpirun", "-n", "4", "examples/hello.ts"], dir, { TSMPI_NATIVE: "0" }, 300_000);
    assert.equal(run.code, 0, run.out);
    const host = os.hostname();
    const hello = run.out.split("\n").filter((l) => l.startsWith("Hello, World!"));
    assert.deepEqual(
      hello,
      [0, 1, 2, 3].map((i) => `Hello, World! I am process ${i} of 4 on ${host}.`),
    );
    // npx installed the checkout into its cache and re-ran its scripts: they must have skipped the builds.
    if (npxEntries(npmCache, dir).length > 0) {
      assert.doesNotMatch(run.out, /> tsc -p tsconfig.json/, "npx must not rebuild the checkout");
      assert.match(run.out, /dist already built in this checkout/);
    }
  });
});
