/**
 * TypeScript programs without a compiler in every rank: tsmpirun compiles a `.ts`/`.mts` program
 * once, in the launcher, with esbuild (the compiler tsx itself uses), into one plain ES module
 * with a source map, which every rank runs with plain Node (through a small stub that turns
 * source maps on for the program's own files only, see `stub`). The result is cached under the
 * user's cache directory (`$TSMPI_CACHE_DIR`, else `$XDG_CACHE_HOME/tsmpi`, else
 * `~/.cache/tsmpi`), keyed by the program's path and checked against the content (SHA-256) of
 * every file it was built from and of the compiled files themselves, so an unchanged program
 * starts without loading esbuild at all. The cache directory is private: created 0700; one
 * writable by group or others is emptied and made private again (its entries may be anyone's);
 * one owned by another user, or not a directory, is not used (the program runs through tsx).
 * Entries are written under temporary names and renamed into place; a failed write (a full
 * disk) leaves no file behind.
 *
 * What the program sees is what tsx gives it: relative imports of other `.ts`/`.mts`/`.tsx` files
 * (bundled into the one module), JSON imports, `tsconfig.json` `paths` (esbuild reads them, as
 * tsx does), `import.meta.url`/`dirname`/`filename` of each source file (not of the compiled
 * one), `process.argv[1]` naming the source, and stack traces with the source's files and lines
 * (a source map). Packages are not bundled: each import of one is resolved here, with Node's
 * conditions, to the file Node would load, and imported from there, so a rank shares one copy
 * of every package (tsmpi included) with whatever else loads it.
 *
 * Not supported by this fast path (such programs run through tsx in every rank, as before, and
 * `TSMPI_TRACE=startup` says why): `.cts` files and CommonJS sources (`require()`, `__dirname`,
 * `module.exports`); `import.meta` beyond `url`/`dirname`/`filename`; `import()` of a computed
 * specifier; `new Worker(...)`; a relative JavaScript file that imports TypeScript; TypeScript
 * inside a package (node_modules); imports
 * esbuild cannot resolve; ranks on other hosts (the cache is on this one); `TSMPI_TSX=1`.
 * A change to a file `tsconfig.json` `extends`, or to what a package import resolves to without
 * the resolved file changing, is not noticed (delete the cache directory). Cache files not
 * rewritten for 30 days are removed when another program is compiled.
 *
 * @module
 */
import crypto from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import type { BuildResult, Plugin } from "esbuild";
import { textSetting } from "../lib/config.js";

/** Sources the fast path compiles (bundled into the program's module). */
const BUNDLED = /\.(ts|mts|tsx)$/;
/** JavaScript that stays a file of its own, imported from where it is. */
const JAVASCRIPT = /\.(js|mjs|cjs|jsx)$/;
/** Bumped whenever the compiled form or the manifest changes, so caches of older launchers are not reused. */
const FORMAT = 3;

/** A program compiled for the ranks, or why it runs through tsx instead. */
export type Compiled = { file: string; source: string; cached: boolean; ms: number } | { fallback: string; ms: number };

/** The state of a file the compiled program depends on: `[path, sha256 of its content]`, or `[path]` for one that must stay absent. */
type Stamp = [string, string?];

interface Manifest {
  format: number;
  stamps: Stamp[];
  /** The compiled files, as written (absent for a fallback). */
  outputs?: Stamp[];
  fallback?: string;
}

/** The directory compiled programs are cached in. */
export function cacheDir(env: NodeJS.ProcessEnv = process.env): string {
  const dir = textSetting("TSMPI_CACHE_DIR", env);
  if (dir) return dir;
  const base = env.XDG_CACHE_HOME && path.isAbsolute(env.XDG_CACHE_HOME) ? env.XDG_CACHE_HOME : path.join(os.homedir(), ".cache");
  return path.join(base, "tsmpi");
}

/** Whether `file` is a program the fast path may take (`.ts`, `.mts`, `.tsx`). */
export function compilable(file: string): boolean {
  return BUNDLED.test(file.toLowerCase());
}

function sha256(data: string | Buffer): string {
  return crypto.createHash("sha256").update(data).digest("hex");
}

function stamp(file: string): Stamp {
  try {
    return [file, sha256(fs.readFileSync(file))];
  } catch {
    return [file];
  }
}

function unchanged(stamps: readonly Stamp[]): boolean {
  return stamps.every((s) => stamp(s[0])[1] === s[1]);
}

/**
 * Makes `dir` a private cache directory of this user, or says why it cannot be used: created
 * 0700 when absent; emptied and made 0700 again when group or others may write it (whatever is
 * in it may have been put there by them); made 0700 when others may only read it (caches of
 * earlier versions were created with the umask's mode).
 */
function privateCache(dir: string): string | undefined {
  const uid = process.getuid?.();
  let st: fs.Stats;
  try {
    st = fs.lstatSync(dir);
  } catch {
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
    st = fs.lstatSync(dir);
  }
  if (!st.isDirectory()) return `the cache directory ${dir} is not a directory (a symbolic link?); remove it`;
  if (uid !== undefined && st.uid !== uid)
    return `the cache directory ${dir} belongs to another user (uid ${st.uid}); remove it or set TSMPI_CACHE_DIR`;
  if (st.mode & 0o022) {
    for (const name of fs.readdirSync(dir)) fs.rmSync(path.join(dir, name), { recursive: true, force: true });
  }
  if (st.mode & 0o077) fs.chmodSync(dir, 0o700);
  return undefined;
}

/** The tsconfig.json files esbuild could read for sources in `dirs`: every candidate up to the nearest existing one. */
function tsconfigStamps(dirs: Iterable<string>): Stamp[] {
  const out = new Map<string, Stamp>();
  for (let dir of dirs) {
    for (;;) {
      const file = path.join(dir, "tsconfig.json");
      if (out.has(file)) break;
      const s = stamp(file);
      out.set(file, s);
      if (s.length > 1) break;
      const up = path.dirname(dir);
      if (up === dir) break;
      dir = up;
    }
  }
  return [...out.values()];
}

/** What in a source keeps it off the fast path, or undefined. */
function unsupportedIn(text: string): string | undefined {
  if (/\b(__dirname|__filename)\b/.test(text)) return "uses __dirname/__filename (CommonJS)";
  if (/\bimport\.meta\b(?!\s*\.\s*(url|dirname|filename)\b)/.test(text)) return "uses import.meta beyond url/dirname/filename";
  if (/\bimport\s*\(\s*(?!["'])/.test(text)) return "imports a computed specifier with import()";
  if (/\bnew\s+Worker\s*\(/.test(text)) return "starts a Worker";
  return undefined;
}

/**
 * The compiled form of the TypeScript program `source` (an absolute path), from the cache when
 * nothing it was built from changed. Never throws: anything unexpected means tsx.
 */
export async function compileProgram(source: string, dir = cacheDir()): Promise<Compiled> {
  const t0 = process.uptime();
  const ms = (): number => Math.round((process.uptime() - t0) * 10_000) / 10;
  const launcher = stamp(fileURLToPath(import.meta.url));
  const key = sha256(JSON.stringify([FORMAT, source, process.version, launcher])).slice(0, 32);
  const output = path.join(dir, `${key}.mjs`);
  const bundle = path.join(dir, `${key}.program.mjs`);
  const manifestFile = path.join(dir, `${key}.json`);
  try {
    const refused = privateCache(dir);
    if (refused) return { fallback: refused, ms: ms() };
  } catch (err) {
    return { fallback: `cannot use the cache directory ${dir}: ${(err as Error).message}`, ms: ms() };
  }
  try {
    const m = JSON.parse(fs.readFileSync(manifestFile, "utf8")) as Manifest;
    if (m.format === FORMAT && unchanged(m.stamps)) {
      if (m.fallback) return { fallback: m.fallback, ms: ms() };
      if (m.outputs?.length === 3 && unchanged(m.outputs)) return { file: output, source, cached: true, ms: ms() };
    }
  } catch {
    // no cache entry yet, or an unreadable one: build
  }
  let result: Built | { fallback: string; stamps: Stamp[] };
  try {
    result = await build(source, bundle);
  } catch (err) {
    // esbuild missing or broken: not a reason to remember.
    return { fallback: `esbuild failed: ${(err as Error).message.split("\n")[0]}`, ms: ms() };
  }
  const tmp = `.${process.pid}-${crypto.randomBytes(4).toString("hex")}`;
  const written: string[] = [];
  /** Writes `text` to `file` under a temporary name, then renames it into place. */
  const put = (file: string, text: string): void => {
    written.push(file + tmp);
    fs.writeFileSync(file + tmp, text, { mode: 0o600 });
    fs.renameSync(file + tmp, file);
  };
  try {
    let outputs: Stamp[] | undefined;
    if ("text" in result) {
      const files = [
        [`${bundle}.map`, result.map],
        [bundle, result.text],
        [output, stub(source, bundle, result.imports)],
      ] as const;
      for (const [file, text] of files) put(file, text);
      outputs = files.map(([file, text]) => [file, sha256(text)]);
    }
    // The manifest last: it says the entry is complete, and what its files hold.
    const manifest: Manifest = {
      format: FORMAT,
      stamps: result.stamps,
      ...(outputs ? { outputs } : {}),
      ...("fallback" in result ? { fallback: result.fallback } : {}),
    };
    put(manifestFile, JSON.stringify(manifest));
    prune(dir);
  } catch (err) {
    // A full disk (ENOSPC) and the like: neither a partly written file nor half an entry stays behind.
    for (const file of [...written, `${bundle}.map`, bundle, output, manifestFile]) {
      try {
        fs.rmSync(file, { force: true });
      } catch {
        // nothing more to do
      }
    }
    return { fallback: `cannot write the cache in ${dir}: ${(err as Error).message}`, ms: ms() };
  }
  return "text" in result ? { file: output, source, cached: false, ms: ms() } : { fallback: result.fallback, ms: ms() };
}

/** A compiled program: the module, its source map, and the specifiers it imports statically (packages, builtins), in order. */
interface Built {
  text: string;
  map: string;
  imports: string[];
  stamps: Stamp[];
}

/**
 * The module ranks run: it imports the program's packages first, as the program itself would
 * (ES imports are evaluated before the importing module's code), and only then turns on source
 * maps and imports the program. Node reads the source map of each module it loads while source
 * maps are on: a rank pays for the program's map only, not for tsmpi's, msgpackr's and
 * zeromq's (~8 ms of CPU per rank with `--enable-source-maps`).
 */
function stub(source: string, bundle: string, imports: readonly string[]): string {
  return [
    `// tsmpirun: ${source}, compiled for ranks (see tsmpi's launcher/typescript.ts)`,
    ...imports.map((i) => `import ${JSON.stringify(i)};`),
    "process.setSourceMapsEnabled(true);",
    `process.argv[1] = ${JSON.stringify(source)};`,
    `await import(${JSON.stringify(pathToFileURL(bundle).href)});`,
    "",
  ].join("\n");
}

/** Days an unwritten cache file is kept: entries of moved programs and older launchers go. */
const KEEP_DAYS = 30;

/** Removes cache files older than KEEP_DAYS (on a cache miss only, so a hit costs nothing). */
function prune(dir: string): void {
  const oldest = Date.now() - KEEP_DAYS * 86_400_000;
  for (const name of fs.readdirSync(dir)) {
    const file = path.join(dir, name);
    try {
      if (fs.statSync(file).mtimeMs < oldest) fs.rmSync(file, { force: true });
    } catch {
      // gone already
    }
  }
}

/** What a build saw: the files it bundled, those it left to Node, and why it gave up (the first reason). */
interface BuildState {
  loaded: Set<string>;
  externals: Set<string>;
  refusal?: string;
}

/**
 * The esbuild plugin that decides, import by import, what goes into the bundle (the program's
 * TypeScript and JSON), what stays an import of Node's (packages, JavaScript), and what the
 * compiled path cannot take (then `state.refusal` says why, and the program runs through tsx).
 */
function ranksPlugin(source: string, state: BuildState): Plugin {
  const { loaded, externals } = state;
  const refuse = (why: string): never => {
    state.refusal ??= why;
    throw new Error(why);
  };
  const meta = (file: string): string => {
    const url = pathToFileURL(file).href;
    // One line, so the source's line numbers stay as they are.
    return `const __tsmpi_meta_url = ${JSON.stringify(url)}, __tsmpi_meta_dirname = ${JSON.stringify(path.dirname(file))}, __tsmpi_meta_filename = ${JSON.stringify(file)};`;
  };
  return {
    name: "tsmpi-ranks",
    setup(b) {
      b.onResolve({ filter: /.*/ }, async (args) => {
        if (args.kind === "entry-point" || args.pluginData === "inner") return undefined;
        if (args.kind === "require-call" || args.kind === "require-resolve")
          refuse(`${path.relative(path.dirname(source), args.importer)} calls require()`);
        const r = await b.resolve(args.path, {
          kind: args.kind,
          resolveDir: args.resolveDir,
          importer: args.importer,
          pluginData: "inner",
          with: args.with,
        });
        if (r.errors.length > 0)
          refuse(`cannot resolve ${JSON.stringify(args.path)} from ${path.relative(path.dirname(source), args.importer)}`);
        if (r.external || !path.isAbsolute(r.path)) return { path: r.path, external: true };
        const inPackage = r.path.split(path.sep).includes("node_modules");
        if (/\.(cts|cjs)$/.test(r.path) && !inPackage) refuse(`imports CommonJS ${path.basename(r.path)}`);
        if (BUNDLED.test(r.path)) {
          if (inPackage) refuse(`imports TypeScript from a package: ${r.path}`);
          return { path: r.path };
        }
        if (r.path.endsWith(".json")) {
          loaded.add(r.path);
          return { path: r.path };
        }
        externals.add(r.path);
        if (!inPackage && JAVASCRIPT.test(r.path) && /\.(c|m)?tsx?["'`]/.test(fs.readFileSync(r.path, "utf8"))) {
          refuse(`${path.basename(r.path)} (JavaScript) imports TypeScript`);
        }
        return { path: pathToFileURL(r.path).href, external: true };
      });
      b.onLoad({ filter: BUNDLED }, (args) => {
        loaded.add(args.path);
        let text = fs.readFileSync(args.path, "utf8");
        const why = unsupportedIn(text);
        if (why) refuse(`${path.relative(path.dirname(source), args.path) || path.basename(args.path)} ${why}`);
        if (text.startsWith("#!")) text = `//${text.slice(2)}`;
        return { contents: meta(args.path) + text, loader: args.path.endsWith(".tsx") ? "tsx" : "ts" };
      });
    },
  };
}

/** Bundles `source`'s TypeScript into one module written (by the caller) to `output`. */
async function build(source: string, output: string): Promise<Built | { fallback: string; stamps: Stamp[] }> {
  const { build: esbuild } = await import("esbuild");
  const state: BuildState = { loaded: new Set(), externals: new Set() };
  const { loaded, externals } = state;
  let out: BuildResult;
  try {
    out = await esbuild({
      entryPoints: [source],
      absWorkingDir: path.dirname(source),
      bundle: true,
      write: false,
      outfile: output,
      format: "esm",
      platform: "node",
      target: `node${process.versions.node}`,
      // Node's own resolution: the import/node/default conditions and `main` only.
      conditions: [],
      mainFields: ["main"],
      sourcemap: "linked",
      sourcesContent: false,
      keepNames: true,
      logLevel: "silent",
      define: {
        "import.meta.url": "__tsmpi_meta_url",
        "import.meta.dirname": "__tsmpi_meta_dirname",
        "import.meta.filename": "__tsmpi_meta_filename",
      },
      plugins: [ranksPlugin(source, state)],
      metafile: true,
    });
  } catch (err) {
    const stamps = [...loaded, ...externals].map(stamp);
    if (state.refusal) return { fallback: state.refusal, stamps: [...stamps, ...tsconfigStamps([...loaded].map((f) => path.dirname(f)))] };
    // A syntax error and the like: tsx reports it in every rank, as without the fast path.
    const first = (err as { errors?: { text: string }[] }).errors?.[0]?.text ?? (err as Error).message;
    return { fallback: `esbuild: ${first}`, stamps: [...stamps, ...tsconfigStamps([...loaded].map((f) => path.dirname(f)))] };
  }
  for (const [file, input] of Object.entries(out.metafile!.inputs)) {
    if (input.format === "cjs") {
      return { fallback: `${file} is CommonJS`, stamps: [...loaded, ...externals].map(stamp) };
    }
  }
  const text = out.outputFiles!.find((f) => f.path === output)!.text;
  const map = out.outputFiles!.find((f) => f.path === `${output}.map`)!.text;
  const outputMeta = Object.values(out.metafile!.outputs).find((o) => o.entryPoint !== undefined);
  const imports = (outputMeta?.imports ?? []).filter((i) => i.external && i.kind === "import-statement").map((i) => i.path);
  const stamps = [...loaded, ...externals].map(stamp).concat(tsconfigStamps([...loaded].map((f) => path.dirname(f))));
  return { text, map, imports: [...new Set(imports)], stamps };
}
