/**
 * TypeScript programs under tsmpirun (launcher/typescript.ts): the launcher compiles them once,
 * and each rank runs plain JavaScript. A small project in a temporary directory (tsmpi linked into
 * its node_modules, as a dependent project has it) imports other .ts/.mts modules by relative
 * path and through tsconfig `paths`, reads a file beside it through import.meta.url, and throws:
 * the output must be the same as through tsx in every rank (TSMPI_TSX=1), and the stack must
 * name the .ts file and line. Also: the cache is reused and rebuilt on change; what the fast path
 * cannot take still runs, through tsx.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import crypto from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { ROOT, settledLeftovers, tsmpirun, type JobResult } from "./helpers/launch.js";

const FILES: Record<string, string> = {
  "package.json": JSON.stringify({ name: "ts-user", type: "module", private: true }),
  "tsconfig.json": JSON.stringify({
    compilerOptions: { module: "NodeNext", strict: true, baseUrl: ".", paths: { "@util/*": ["./util/*"] } },
  }),
  "data.txt": "read through import.meta.url\n",
  "main.ts": `import fs from "node:fs";
import { fileURLToPath } from "node:url";
import { COMM_WORLD as comm } from "tsmpi";
import { greet, fail, helperUrl } from "./lib/greet.js";
import { twice } from "./lib/twice.mts";
import { shout } from "@util/shout.js";

enum Color { Red = 1, Green = 2 }
const data: string = fs.readFileSync(new URL("./data.txt", import.meta.url), "utf8").trim();
const total = await comm.allreduce(twice(comm.rank));
console.log(JSON.stringify({
  rank: comm.rank, size: comm.size, greeting: shout(greet(comm.rank)), data, total, color: Color.Green,
  self: fileURLToPath(import.meta.url), dirname: import.meta.dirname, argv1: process.argv[1], helperUrl, args: process.argv.slice(2),
}));
if (process.argv.includes("--throw") && comm.rank === comm.size - 1) fail("on purpose");
`,
  "lib/greet.ts": `export const helperUrl: string = import.meta.url;
export function greet(rank: number): string {
  return \`hello from rank \${rank}\`;
}
export function fail(why: string): never {
  throw new Error(\`failed \${why}\`); // THROW LINE
}
`,
  "lib/twice.mts": "export const twice = (n: number): number => 2 * n;\n",
  "util/shout.ts": "export const shout = (s: string): string => s.toUpperCase();\n",
};

function writeProject(dir: string, files: Record<string, string>): void {
  for (const [name, text] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(dir, name)), { recursive: true });
    fs.writeFileSync(path.join(dir, name), text);
  }
  fs.mkdirSync(path.join(dir, "node_modules"), { recursive: true });
  if (!fs.existsSync(path.join(dir, "node_modules", "tsmpi"))) fs.symlinkSync(ROOT, path.join(dir, "node_modules", "tsmpi"));
}

/** What a rank of the test programs prints: one JSON object, with its rank. */
interface RankLine {
  rank: number;
  [field: string]: unknown;
}

function jsonLines(text: string): RankLine[] {
  return text
    .split("\n")
    .filter((l) => l.startsWith("{"))
    .map((l) => JSON.parse(l) as RankLine)
    .sort((a, b) => a.rank - b.rank);
}

/** The launcher's startup trace of a TypeScript program (launcher/typescript.ts's Compiled): the compiled file, or why tsx runs it instead. */
interface LauncherTrace {
  launcher: "typescript";
  file?: string;
  source?: string;
  cached?: boolean;
  fallback?: string;
  ms: number;
}

/** The launcher's trace line saying how it ran the TypeScript program. */
function launcherTrace(stderr: string): LauncherTrace {
  const line = stderr.split("\n").find((l) => l.includes('"launcher":"typescript"'));
  assert.ok(line, `no launcher trace in:\n${stderr}`);
  return JSON.parse(line) as LauncherTrace;
}

describe("TypeScript programs: compiled once by the launcher", function () {
  let dir: string;
  let cache: string;
  const run = (args: string[], env: NodeJS.ProcessEnv = {}): Promise<JobResult> =>
    tsmpirun(args, { cwd: dir, env: { TSMPI_CACHE_DIR: cache, TSMPI_TRACE: "startup", ...env }, timeoutMs: 90000 });

  before(function () {
    dir = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), "tsmpi-ts-")));
    cache = path.join(dir, ".cache");
    writeProject(dir, FILES);
  });
  after(function () {
    fs.rmSync(dir, { recursive: true, force: true });
  });

  for (const np of [1, 3]) {
    it(`-n ${np}: relative .ts/.mts imports, tsconfig paths, import.meta, argv: the same as through tsx`, async function () {
      const fast = await run(["-n", String(np), "main.ts", "a", "b c"]);
      assert.equal(fast.code, 0, fast.stderr);
      assert.ok(launcherTrace(fast.stderr).file, `the fast path was not taken: ${fast.stderr}`);
      const viaTsx = await run(["-n", String(np), "main.ts", "a", "b c"], { TSMPI_TSX: "1" });
      assert.equal(viaTsx.code, 0, viaTsx.stderr);
      const seen = jsonLines(fast.stdout);
      assert.deepEqual(seen, jsonLines(viaTsx.stdout), "the compiled program must behave as under tsx");
      assert.equal(seen.length, np);
      seen.forEach((s, rank) => {
        assert.deepEqual(s, {
          rank,
          size: np,
          greeting: `HELLO FROM RANK ${rank}`,
          data: "read through import.meta.url",
          total: np * (np - 1),
          color: 2,
          self: path.join(dir, "main.ts"),
          dirname: dir,
          argv1: path.join(dir, "main.ts"),
          helperUrl: pathToFileURL(path.join(dir, "lib", "greet.ts")).href,
          args: ["a", "b c"],
        });
      });
      await settledLeftovers(fast.marker).then((left) => assert.deepEqual(left, []));
    });

    it(`-n ${np}: an exception's stack names the .ts file and line; the job fails with the rank's code`, async function () {
      const r = await run(["-n", String(np), "main.ts", "--throw"]);
      assert.ok(launcherTrace(r.stderr).file, `the fast path was not taken: ${r.stderr}`);
      assert.equal(r.code, 1, r.stderr);
      const line = FILES["lib/greet.ts"]!.split("\n").findIndex((l) => l.includes("THROW LINE")) + 1;
      assert.match(r.stderr, /Error: failed on purpose/);
      assert.ok(r.stderr.includes(`${path.join(dir, "lib", "greet.ts")}:${line}:`), `the stack must name greet.ts:${line}:\n${r.stderr}`);
      assert.ok(r.stderr.includes(`${path.join(dir, "main.ts")}:`), `the stack must name main.ts:\n${r.stderr}`);
      assert.match(r.stderr, new RegExp(`tsmpirun: rank ${np - 1} .*exited with code 1`));
      assert.deepEqual(await settledLeftovers(r.marker), []);
    });
  }

  it("reuses the compiled program while its files are unchanged, and recompiles when one changes", async function () {
    const first = await run(["main.ts"]);
    assert.equal(first.code, 0, first.stderr);
    const again = await run(["main.ts"]);
    assert.equal(again.code, 0, again.stderr);
    assert.equal(launcherTrace(again.stderr).cached, true);
    const greet = path.join(dir, "lib", "greet.ts");
    const before = fs.readFileSync(greet, "utf8");
    try {
      fs.writeFileSync(greet, before.replace("hello from rank", "changed greeting from rank"));
      const changed = await run(["main.ts"]);
      assert.equal(changed.code, 0, changed.stderr);
      assert.equal(launcherTrace(changed.stderr).cached, false);
      assert.equal(jsonLines(changed.stdout)[0]?.greeting, "CHANGED GREETING FROM RANK 0");
    } finally {
      fs.writeFileSync(greet, before);
    }
  });

  const unsupported: [string, string, RegExp][] = [
    ["import.meta.resolve", `console.log("resolved", import.meta.resolve("./data.txt").endsWith("/data.txt"));\n`, /import\.meta beyond/],
    [
      "a computed import()",
      `const name = "./lib/twice.mts";\nconst m = await import(name);\nconsole.log("resolved", m.twice(2) === 4);\n`,
      /computed specifier/,
    ],
    ["a syntax error tsx reports", `const x: number = ;\n`, /esbuild: /],
  ];
  for (const [what, text, why] of unsupported) {
    it(`a program with ${what} runs through tsx in every rank, as before`, async function () {
      const file = path.join(dir, `fallback-${what.replace(/\W+/g, "-")}.ts`);
      fs.writeFileSync(file, `import { COMM_WORLD } from "tsmpi";\n${text}`);
      const r = await run(["-n", "2", path.basename(file)]);
      const t = launcherTrace(r.stderr);
      assert.equal(t.file, undefined);
      assert.match(t.fallback ?? "", why);
      if (what.includes("syntax")) {
        assert.notEqual(r.code, 0);
        assert.match(r.stderr, /fallback-a-syntax-error-tsx-reports\.ts/);
      } else {
        assert.equal(r.code, 0, r.stderr);
        assert.deepEqual(r.stdout.trim().split("\n"), ["resolved true", "resolved true"]);
      }
      assert.deepEqual(await settledLeftovers(r.marker), []);
    });
  }
});

describe("the compile cache is private and trusted by content (issue 17)", function () {
  let dir: string;
  let n = 0;
  /** A cache directory of its own for each test. */
  const freshCache = (): string => path.join(dir, `.cache-${++n}`);
  const run = (args: string[], cache: string): Promise<JobResult> =>
    tsmpirun(args, { cwd: dir, env: { TSMPI_CACHE_DIR: cache, TSMPI_TRACE: "startup" }, timeoutMs: 90000 });
  /** The compiled module ranks run (`<key>.mjs`) in `cache`. */
  const stubIn = (cache: string): string => {
    const stubs = fs.readdirSync(cache).filter((f) => f.endsWith(".mjs") && !f.endsWith(".program.mjs"));
    assert.equal(stubs.length, 1, `one compiled program expected in ${cache}: ${stubs.join(", ")}`);
    return path.join(cache, stubs[0]!);
  };

  before(function () {
    dir = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), "tsmpi-ts-")));
    writeProject(dir, FILES);
  });
  after(function () {
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it("creates the cache directory 0700 and its files 0600, whatever the umask", async function () {
    const cache = freshCache();
    const r = await run(["main.ts"], cache);
    assert.equal(r.code, 0, r.stderr);
    assert.ok(launcherTrace(r.stderr).file, r.stderr);
    assert.equal((fs.statSync(cache).mode & 0o777).toString(8), "700");
    for (const f of fs.readdirSync(cache)) assert.equal((fs.statSync(path.join(cache, f)).mode & 0o077).toString(8), "0", f);
  });

  it("recompiles a source changed with the same size and modification time", async function () {
    const cache = freshCache();
    const greet = path.join(dir, "lib", "greet.ts");
    const before = fs.readFileSync(greet, "utf8");
    const when = Math.floor(Date.now() / 1000) - 60;
    try {
      fs.utimesSync(greet, when, when);
      const first = await run(["main.ts"], cache);
      assert.equal(jsonLines(first.stdout)[0]?.greeting, "HELLO FROM RANK 0", first.stderr);
      fs.writeFileSync(greet, before.replace("hello from rank", "howdy from rank"));
      fs.utimesSync(greet, when, when);
      const changed = await run(["main.ts"], cache);
      assert.equal(changed.code, 0, changed.stderr);
      assert.equal(launcherTrace(changed.stderr).cached, false);
      assert.equal(jsonLines(changed.stdout)[0]?.greeting, "HOWDY FROM RANK 0");
    } finally {
      fs.writeFileSync(greet, before);
    }
  });

  it("never runs a compiled file that differs from what was written (checked by content)", async function () {
    const cache = freshCache();
    assert.equal((await run(["main.ts"], cache)).code, 0);
    const stub = stubIn(cache);
    const st = fs.statSync(stub);
    const planted = `console.log("planted");`.padEnd(st.size, " ");
    fs.writeFileSync(stub, planted);
    fs.utimesSync(stub, st.atime, st.mtime);
    const r = await run(["main.ts"], cache);
    assert.equal(r.code, 0, r.stderr);
    assert.doesNotMatch(r.stdout, /planted/);
    assert.equal(launcherTrace(r.stderr).cached, false);
    assert.equal(jsonLines(r.stdout)[0]?.greeting, "HELLO FROM RANK 0");
  });

  it("a cache directory others may write is emptied and made private: what was put there never runs", async function () {
    const cache = freshCache();
    assert.equal((await run(["main.ts"], cache)).code, 0);
    fs.chmodSync(cache, 0o777);
    const manifest = fs.readdirSync(cache).find((f) => f.endsWith(".json"))!;
    const entry = JSON.parse(fs.readFileSync(path.join(cache, manifest), "utf8"));
    // What another user could do in such a directory: a new program and a manifest that vouches for it.
    const stub = stubIn(cache);
    fs.writeFileSync(stub, `console.log("planted");\n`);
    if (entry.outputs)
      for (const o of entry.outputs)
        if (o[0] === stub) o[1] = crypto.createHash("sha256").update(`console.log("planted");\n`).digest("hex");
    fs.writeFileSync(path.join(cache, manifest), JSON.stringify(entry));
    const r = await run(["main.ts"], cache);
    assert.equal(r.code, 0, r.stderr);
    assert.doesNotMatch(r.stdout, /planted/);
    assert.equal(jsonLines(r.stdout)[0]?.greeting, "HELLO FROM RANK 0");
    assert.equal((fs.statSync(cache).mode & 0o777).toString(8), "700");
  });

  it("a cache directory of another user is not used: the program runs through tsx, saying why", async function () {
    if (process.getuid?.() !== 0) {
      console.log("      skipped: only root can make a directory another user's");
      return this.skip();
    }
    const cache = freshCache();
    fs.mkdirSync(cache, { mode: 0o700 });
    fs.chownSync(cache, 65534, 65534);
    const r = await run(["-n", "2", "main.ts"], cache);
    assert.equal(r.code, 0, r.stderr);
    assert.match(launcherTrace(r.stderr).fallback ?? "", /belongs to another user \(uid 65534\)/);
    assert.equal(jsonLines(r.stdout).length, 2);
    assert.deepEqual(fs.readdirSync(cache), []);
  });

  it("a full disk (ENOSPC) while writing the cache leaves no file behind; the program still runs", async function () {
    const cache = freshCache();
    fs.mkdirSync(cache, { mode: 0o700 });
    const mount = spawnSync("mount", ["-t", "tmpfs", "-o", "size=8k,mode=0700", "tmpfs", cache], { encoding: "utf8" });
    if (mount.status !== 0) {
      console.log(`      skipped: cannot mount a small tmpfs here (${(mount.stderr || String(mount.error)).trim()})`);
      return this.skip();
    }
    try {
      const big = path.join(dir, "big.ts");
      fs.writeFileSync(
        big,
        `import { COMM_WORLD } from "tsmpi";\nconst text: string = ${JSON.stringify("x".repeat(100_000))};\nconsole.log("length", text.length, COMM_WORLD.size);\n`,
      );
      const r = await run(["big.ts"], cache);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout.trim(), "length 100000 1");
      assert.match(launcherTrace(r.stderr).fallback ?? "", /cannot write the cache .*ENOSPC/);
      assert.deepEqual(fs.readdirSync(cache), [], "nothing may stay in the cache directory");
    } finally {
      spawnSync("umount", [cache]);
    }
  });
});
