/**
 * `npm run compare -- --quick`: runs the comparison with mpi4py for real (it is skipped, with the
 * command's own reason, where Open MPI or mpi4py is missing) and checks that the report and
 * every plot are produced and well formed: the SVGs parse as XML, have an x and a y axis, and
 * draw one series per system, named in the legend.
 */
import { strict as assert } from "node:assert";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { XMLParser, XMLValidator } from "fast-xml-parser";
import { runProgram, settledLeftovers, type JobResult } from "./helpers/launch.js";

const SYSTEMS = ["tsmpi", "mpi4py shm", "mpi4py tcp"];
/** Every plot a quick run makes, and the series each draws. */
const PLOTS: Record<string, string[]> = {
  "pingpong-latency.svg": SYSTEMS,
  "pingpong-bandwidth.svg": SYSTEMS,
  "collectives.svg": SYSTEMS,
  "startup.svg": ["tsmpi .js", "tsmpi .ts", "mpi4py shm", "mpi4py tcp"],
  "pi-speedup.svg": SYSTEMS,
};
const SECTION_HEADINGS = [
  "## Start-up",
  "## Ping-pong",
  "## Ring test",
  "## Collectives",
  "## Allreduce of 1M doubles",
  "## Monte Carlo pi",
  "## Task pool",
];

interface XmlNode {
  name: string;
  attrs: Record<string, string>;
  children: XmlNode[];
  text: string;
}

/** The SVG as a tree (fast-xml-parser's ordered output, reshaped). */
function parseXml(xml: string): XmlNode {
  const valid = XMLValidator.validate(xml);
  assert.equal(valid, true, `not well-formed XML: ${JSON.stringify(valid)}`);
  const ordered = new XMLParser({ preserveOrder: true, ignoreAttributes: false, attributeNamePrefix: "", trimValues: false }).parse(
    xml,
  ) as Record<string, unknown>[];
  const convert = (item: Record<string, unknown>): XmlNode | null => {
    const name = Object.keys(item).find((k) => k !== ":@");
    if (!name || name === "#text") return null;
    const kids = (item[name] as Record<string, unknown>[]).map(convert).filter((n): n is XmlNode => n !== null);
    const text = (item[name] as Record<string, unknown>[]).map((c) => (c["#text"] === undefined ? "" : String(c["#text"]))).join("");
    return { name, attrs: (item[":@"] as Record<string, string>) ?? {}, children: kids, text };
  };
  const roots = ordered.map(convert).filter((n): n is XmlNode => n !== null);
  assert.equal(roots.length, 1, "one root element");
  return roots[0]!;
}

function* walk(n: XmlNode): Generator<XmlNode> {
  yield n;
  for (const c of n.children) yield* walk(c);
}

const hasClass = (n: XmlNode, c: string) => (n.attrs.class ?? "").split(/\s+/).includes(c);

function checkSvg(file: string, series: string[]): void {
  const root = parseXml(fs.readFileSync(file, "utf8"));
  assert.equal(root.name, "svg", `${file}: root element`);
  assert.ok(Number(root.attrs.width) > 0 && Number(root.attrs.height) > 0, `${file}: width and height`);
  const nodes = [...walk(root)];
  const axes = nodes.filter((n) => n.attrs["aria-label"]?.match(/^[XY]-axis titled/));
  for (const xy of ["X", "Y"])
    assert.ok(
      axes.some((a) => a.attrs["aria-label"]!.startsWith(`${xy}-axis`)),
      `${file}: an ${xy} axis with a title`,
    );
  assert.ok(nodes.filter((n) => hasClass(n, "role-axis-label")).length >= 2, `${file}: axis tick labels`);
  // The legend names each series once.
  const legend = nodes
    .filter((n) => hasClass(n, "role-legend-label"))
    .flatMap((g) => g.children.filter((c) => c.name === "text").map((t) => t.text));
  assert.deepEqual([...legend].sort(), [...series].sort(), `${file}: legend entries`);
  // Data marks: every series has points of its own (each point's aria-label ends with its system).
  const drawn = new Set(nodes.map((n) => /; system: (.+)$/.exec(n.attrs["aria-label"] ?? "")?.[1]).filter(Boolean));
  assert.deepEqual([...drawn].sort(), [...series].sort(), `${file}: series drawn`);
  assert.ok(
    nodes.some((n) => hasClass(n, "mark-line") || hasClass(n, "mark-symbol")),
    `${file}: line or point marks`,
  );
}

function npmCompare(args: string[], timeoutMs: number): Promise<JobResult> {
  return runProgram("npm", ["run", "--silent", "compare", "--", ...args], { timeoutMs });
}

describe("npm run compare (tsmpi against mpi4py)", function () {
  this.timeout(12 * 60_000);
  let out: string;
  before(() => (out = fs.mkdtempSync(path.join(os.tmpdir(), "tsmpi-compare-"))));
  after(() => fs.rmSync(out, { recursive: true, force: true }));

  it("rejects a bad --only with the allowed sections", async function () {
    const r = await npmCompare(["--only", "pingpong,nonsense", "--out", out], 60_000);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /--only must be a comma-separated list of startup, pingpong, .*got "pingpong,nonsense"/);
  });

  it("--quick writes the report and every plot, well formed, and leaves no process", async function () {
    const r = await npmCompare(["--quick", "--out", out], 10 * 60_000);
    if (r.code === 3 && /mpi4py on Open MPI is needed/.test(r.stderr)) {
      console.log(`      skipped: ${r.stderr.trim().replace(/^compare: /, "")}`);
      this.skip();
    }
    assert.equal(r.code, 0, `exit ${r.code ?? r.signal}\n${r.stdout.slice(-3000)}\n${r.stderr.slice(-3000)}`);
    assert.deepEqual(await settledLeftovers(r.marker), [], "no process of the run is left");

    const results = JSON.parse(fs.readFileSync(path.join(out, "results.json"), "utf8"));
    assert.deepEqual(results.failures, []);
    assert.ok(results.rows.length >= 30, `rows: ${results.rows.length}`);
    for (const row of results.rows) {
      const obs = results.observations[row.refKey ?? row.key] ?? {};
      for (const s of ["mpi4py-shm", "mpi4py-tcp"]) assert.ok(obs[s]?.length > 0, `${row.key}: measured on ${s}`);
      assert.ok(results.observations[row.key]?.tsmpi?.length > 0, `${row.key}: measured on tsmpi`);
    }

    const report = fs.readFileSync(path.join(out, "report.md"), "utf8");
    assert.match(report, /^# tsmpi and mpi4py side by side \(quick run\)/);
    assert.match(report, /Measured \d{4}-\d\d-\d\d \d\d:\d\d UTC on `[^`]+`: .+, \d+ cores/);
    for (const h of SECTION_HEADINGS) assert.ok(report.includes(h), `report section ${h}`);
    // The futures section either ran or says why not.
    assert.ok(/## Task pool[^\n]*\n\n(Skipped: .+|.*tsmpi\/futures)/.test(report), "the task pool section ran or gives its reason");
    // Table rows: a label, three figures with their spread, two ratios.
    const figure = String.raw`[\d.]+ (µs|ms|s) \[[\d.]+–[\d.]+\]`;
    const rows = report
      .split("\n")
      .filter((l) => new RegExp(String.raw`^\| [^|]+ \| ${figure} \| ${figure} \| ${figure} \| [\d.]+× \| [\d.]+× \|`).test(l));
    assert.ok(rows.length >= 30, `table rows with medians, spreads and ratios: ${rows.length}\n${report}`);
    for (const [file, series] of Object.entries(PLOTS)) {
      assert.ok(report.includes(`](${file})`), `report links ${file}`);
      checkSvg(path.join(out, file), series);
    }
  });
});
