/**
 * The layout rules of lib/ and launcher/ that a reader relies on to find their way (README,
 * "Development"), checked over the source so that they stay true:
 *
 * - imports run one way: a module never imports from a layer above its own (the layers below);
 * - no file is over 500 lines and no function over 80, unless a `Size:` line in the comment just
 *   above it (the module header for a file) says why.
 *
 * Layers, lowest first. Shared utilities (errors, constants, settings, serializer, ...) are below
 * everything; the transports move bytes; `p2p/` is the protocol and matching above them;
 * collectives and the job runtime (start-up, rendezvous, spawning) are siblings above p2p that
 * never import each other; the API is what a user calls; task pools and benches are built on the
 * API; the launcher is on top. `gpu/` is device memory and kernels: it stands beside the message
 * layers and imports only the utilities, so that the API can take device arrays.
 */
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import ts from "typescript";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const MAX_FILE_LINES = 500;
const MAX_FUNCTION_LINES = 80;

/** Each layer, its rank (imports go to a lower rank or the same layer) and what it holds. */
const LAYERS = {
  util: 0,
  transport: 1,
  gpu: 1,
  p2p: 2,
  collectives: 3,
  job: 3,
  api: 4,
  futures: 5,
  bench: 6,
  launcher: 7,
} as const;
type Layer = keyof typeof LAYERS;

/** The modules at the top of lib/ that are shared utilities rather than API a user calls. */
const UTILITIES = new Set(["errors", "constants", "config", "settings", "serializer", "trace", "validate", "native", "op"]);

function layerOf(file: string): Layer {
  const rel = relative(ROOT, file).split("\\").join("/");
  if (rel.startsWith("launcher/")) return "launcher";
  const [top, sub, ...rest] = rel.split("/");
  assert.equal(top, "lib", `${rel} is outside lib/ and launcher/`);
  if (rest.length > 0 || (sub && !sub.endsWith(".ts"))) {
    if (sub === "topology") return "api";
    if (sub && sub in LAYERS) return sub as Layer;
    throw new Error(`lib/${sub}/ has no layer: add it to test/layout.test.ts and README's Development section`);
  }
  return UTILITIES.has(sub!.replace(/\.ts$/, "")) ? "util" : "api";
}

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const path = join(dir, e.name);
    if (e.isDirectory()) return sources(path);
    return e.name.endsWith(".ts") && !e.name.endsWith(".d.ts") ? [path] : [];
  });
}

const FILES = [...sources(join(ROOT, "lib")), ...sources(join(ROOT, "launcher"))];
const parsed = new Map(FILES.map((f) => [f, ts.createSourceFile(f, readFileSync(f, "utf8"), ts.ScriptTarget.ES2022, true)]));

/** Every relative module a file names: static imports, re-exports and `import(...)` calls. */
function importsOf(src: ts.SourceFile): string[] {
  const found: string[] = [];
  const visit = (node: ts.Node): void => {
    if (
      (ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) &&
      node.moduleSpecifier &&
      ts.isStringLiteral(node.moduleSpecifier)
    ) {
      found.push(node.moduleSpecifier.text);
    } else if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword) {
      const [arg] = node.arguments;
      if (arg && ts.isStringLiteralLike(arg)) found.push(arg.text);
    }
    ts.forEachChild(node, visit);
  };
  visit(src);
  return found.filter((m) => m.startsWith("."));
}

/** The comment text just above `node` (for a file: its header), where a `Size:` reason would be. */
function leadingComment(src: ts.SourceFile, pos: number): string {
  return (ts.getLeadingCommentRanges(src.text, pos) ?? []).map((r) => src.text.slice(r.pos, r.end)).join("\n");
}

function lineCount(src: ts.SourceFile, start: number, end: number): number {
  return src.getLineAndCharacterOfPosition(end).line - src.getLineAndCharacterOfPosition(start).line + 1;
}

describe("layout of lib/ and launcher/", function () {
  it("finds the modules it checks", function () {
    assert.ok(FILES.length > 50, `only ${FILES.length} files found under ${ROOT}`);
  });

  it("imports never go up a layer", function () {
    const upward: string[] = [];
    for (const [file, src] of parsed) {
      const from = layerOf(file);
      for (const spec of importsOf(src)) {
        const target = resolve(dirname(file), spec).replace(/\.js$/, ".ts");
        const to = layerOf(target);
        if (to === from) continue;
        if (LAYERS[to] >= LAYERS[from] || (from === "gpu" && to !== "util")) {
          upward.push(`${relative(ROOT, file)} (${from}) imports ${spec} (${to})`);
        }
      }
    }
    assert.deepEqual(upward, [], `imports against the layers:\n  ${upward.join("\n  ")}`);
  });

  it(`no file is over ${MAX_FILE_LINES} lines without a Size: reason in its header`, function () {
    const long = [...parsed]
      .filter(([, src]) => lineCount(src, 0, src.text.length) > MAX_FILE_LINES && !/\bSize:/.test(leadingComment(src, 0)))
      .map(([file, src]) => `${relative(ROOT, file)}: ${lineCount(src, 0, src.text.length)} lines`);
    assert.deepEqual(long, [], `files over ${MAX_FILE_LINES} lines:\n  ${long.join("\n  ")}`);
  });

  it(`no function is over ${MAX_FUNCTION_LINES} lines without a Size: reason above it`, function () {
    const long: string[] = [];
    for (const [file, src] of parsed) {
      const visit = (node: ts.Node): void => {
        if (ts.isFunctionLike(node) && "body" in node && node.body) {
          const lines = lineCount(src, node.getStart(src), node.end);
          const holder = ts.isVariableDeclaration(node.parent) ? node.parent.parent.parent : node;
          if (lines > MAX_FUNCTION_LINES && !/\bSize:/.test(leadingComment(src, holder.getFullStart()))) {
            const name = "name" in node && node.name ? node.name.getText(src) : "(anonymous)";
            const line = src.getLineAndCharacterOfPosition(node.getStart(src)).line + 1;
            long.push(`${relative(ROOT, file)}:${line} ${name}: ${lines} lines`);
          }
        }
        ts.forEachChild(node, visit);
      };
      visit(src);
    }
    assert.deepEqual(long, [], `functions over ${MAX_FUNCTION_LINES} lines:\n  ${long.join("\n  ")}`);
  });
});
