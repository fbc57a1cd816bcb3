// Writes the README's tables of TSMPI_* settings from their one declaration (lib/config.ts):
// each table sits between `<!-- settings-table:NAME -->` and `<!-- /settings-table -->` and
// lists the user settings whose `table` is NAME, in the registry's order.
//
//   npm run settings-table            rewrites README.md
//   npm run settings-table -- --check exits 1 (saying which table) when README.md disagrees
//
// Run with tsx (the npm script does), which loads the TypeScript registry itself.
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { SETTINGS } from "../lib/config.ts";

const README = path.join(path.dirname(fileURLToPath(import.meta.url)), "..", "README.md");
const MARKED = /(<!-- settings-table:([a-z]+) -->\n\n)[\s\S]*?(<!-- \/settings-table -->)/g;

/** The markdown table of the settings of `table`. */
function render(table) {
  const rows = SETTINGS.filter((s) => s.table === table && !s.internal).map((s) => {
    const shown = s.shown ?? (s.default === undefined ? "" : String(s.default));
    return `| \`${s.name}\` | ${shown ? `${shown} ` : ""}| ${s.meaning} |`;
  });
  if (rows.length === 0) throw new Error(`no setting is declared for the table ${JSON.stringify(table)}`);
  return ["| variable | default | meaning |", "|---|---|---|", ...rows, "", ""].join("\n");
}

const text = fs.readFileSync(README, "utf8");
const tables = [];
const next = text.replace(MARKED, (_all, open, table, close) => {
  tables.push(table);
  return open + render(table) + close;
});
const declared = new Set(SETTINGS.filter((s) => !s.internal).map((s) => s.table));
for (const table of declared) {
  if (!tables.includes(table)) {
    process.stderr.write(`README.md has no <!-- settings-table:${table} --> marker\n`);
    process.exit(1);
  }
}
if (process.argv.includes("--check")) {
  if (next !== text) {
    process.stderr.write("README.md's settings tables differ from lib/config.ts: run npm run settings-table\n");
    process.exit(1);
  }
} else if (next !== text) {
  fs.writeFileSync(README, next);
  process.stdout.write(`README.md: rewrote the settings tables (${tables.join(", ")})\n`);
}
