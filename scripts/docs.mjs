#!/usr/bin/env node
// `npm run docs`: HTML API docs from the TSDoc comments, with TypeDoc, into dist/docs/ (open
// dist/docs/index.html). The entry points are the package's exports that have a TypeScript
// source (the "tsmpi-source" condition of package.json#exports: tsmpi, tsmpi/bench,
// tsmpi/cuda, ...), each documented under its import name. The README is the front page (its
// examples included). Any warning fails the build (CI runs it: .ci/run).
import { readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { Application, Converter, ReferenceType, ReflectionFlag, ReflectionKind } from "typedoc";

const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const pkg = JSON.parse(readFileSync(path.join(root, "package.json"), "utf8"));

/** Import name -> source file, from package.json#exports. */
const entries = new Map();
for (const [subpath, target] of Object.entries(pkg.exports)) {
  const source = typeof target === "object" && target !== null ? target["tsmpi-source"] : undefined;
  if (source) entries.set(subpath === "." ? pkg.name : `${pkg.name}/${subpath.replace(/^\.\//, "")}`, path.resolve(root, source));
}
const nameOf = new Map([...entries].map(([name, file]) => [file, name]));

const app = await Application.bootstrapWithPlugins({
  name: pkg.name,
  entryPoints: [...entries.values()],
  tsconfig: path.join(root, "tsconfig.json"),
  readme: path.join(root, "README.md"),
  out: path.join(root, "dist", "docs"),
  excludeInternal: true,
  // The serializer's brand, which DeviceArray carries so that the object tier refuses it: not user API.
  intentionallyNotExported: ["Unserializable"],
  excludePrivate: true,
  treatWarningsAsErrors: true,
  disableSources: true, // source links need a hosted git remote, which a clone of this repository may not have
  githubPages: false,
  logLevel: "Info",
});

// Modules are named after their path ("index", "gpu/cuda"); users import them as "tsmpi", "tsmpi/cuda".
app.converter.on(Converter.EVENT_CREATE_DECLARATION, (context, reflection) => {
  if (!reflection.kindOf(ReflectionKind.Module)) return;
  const file = context.getSymbolFromReflection(reflection)?.declarations?.[0]?.getSourceFile().fileName;
  const name = file && nameOf.get(path.resolve(file));
  if (name) reflection.name = name;
});

// A documented class whose base class is this package's and not exported (`Comm`, built as a chain
// of one class per MPI chapter, see lib/comm-base.ts) is documented as one class, as it was
// written before the split: the members it inherits from that chain are its own (no hierarchy
// above it, no "Inherited from CommP2P.send"), and a `{@link}` in their comments to another
// member of the chain links to that member of the class, not of the page's class. (A subclass's
// "Inherited from"/"Overrides" then name the class, as they did.) Runs before TypeDoc resolves
// inheritance and links, both at the end of the resolve step.
const declared = new Map(); // member reflection -> where its symbol is declared (file and qualified name)
const whereKey = (id) => `${id.packagePath}\0${id.qualifiedName}`;
app.converter.on(Converter.EVENT_CREATE_DECLARATION, (context, reflection) => {
  if (!reflection.kindOf(ReflectionKind.SomeMember) || !reflection.parent?.kindOf(ReflectionKind.Class)) return;
  const symbol = context.getSymbolFromReflection(reflection);
  if (symbol) declared.set(reflection, whereKey(context.createSymbolId(symbol)));
});
app.converter.on(Converter.EVENT_RESOLVE_BEGIN, (context) => {
  const project = context.project;
  const absorbed = new Map(); // where a chain member is declared -> the documented class's member
  for (const cls of project.getReflectionsByKind(ReflectionKind.Class)) {
    const base = cls.extendedTypes?.[0];
    if (!(base instanceof ReferenceType) || base.reflection || base.symbolId?.packageName !== pkg.name) continue;
    delete cls.extendedTypes;
    for (const member of cls.children ?? []) {
      if (!member.flags.isInherited) continue;
      if (declared.has(member)) absorbed.set(declared.get(member), member);
      for (const r of [member, ...member.getAllSignatures()]) {
        delete r.inheritedFrom;
        r.setFlag(ReflectionFlag.Inherited, false);
      }
    }
  }
  for (const r of Object.values(project.reflections)) {
    for (const part of [r.comment?.summary, ...(r.comment?.blockTags ?? []).map((t) => t.content)].flat()) {
      if (part?.kind !== "inline-tag" || !part.target?.qualifiedName) continue;
      const to = absorbed.get(whereKey(part.target));
      if (to) part.target = to;
    }
  }
});

const project = await app.convert();
if (!project) process.exit(1);
app.validate(project);
if (app.logger.hasErrors() || app.logger.hasWarnings()) process.exit(1);
await app.generateOutputs(project);
if (app.logger.hasErrors() || app.logger.hasWarnings()) process.exit(1);
process.stdout.write(
  `docs: ${[...entries.keys()].join(", ")} -> ${path.relative(process.cwd(), path.join(root, "dist", "docs", "index.html"))}\n`,
);
