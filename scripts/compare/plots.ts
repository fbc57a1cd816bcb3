/**
 * The plots of a comparison, as Vega-Lite specifications rendered to SVG by Vega (`View#toSVG`,
 * no browser): latency and bandwidth against message size (log axes), collective time against
 * rank count, start-up time against rank count, and the pi speed-up against rank count over
 * Amdahl's law with the serial fraction fitted from the measurements. One colour per system,
 * the same in every plot.
 */
import fs from "node:fs";
import path from "node:path";
import * as vega from "vega";
import * as vl from "vega-lite";
import { figure, piSpeedups, type Results } from "./report.ts";
import { LABEL, SYSTEMS } from "./runner.ts";
import { amdahl } from "./stats.ts";
import { bytesLabel, type SectionId } from "./workloads.ts";

export interface Plot {
  file: string;
  title: string;
  section: SectionId;
  /** The series the plot draws (legend entries). */
  series: string[];
}

const COLORS = ["#d62728", "#1f77b4", "#2ca02c", "#ff7f0e"];

function colorScale(domain: string[]) {
  return { domain, range: COLORS.slice(0, domain.length) };
}

type Spec = vl.TopLevelSpec;

async function render(spec: Spec, file: string): Promise<void> {
  const view = new vega.View(vega.parse(vl.compile(structuredClone(spec)).spec), { renderer: "none" });
  const svg = await view.toSVG();
  view.finalize();
  fs.writeFileSync(file, svg);
}

const base = {
  $schema: "https://vega.github.io/schema/vega-lite/v6.json",
  background: "white",
  config: { font: "sans-serif", legend: { orient: "bottom" } },
} as const;

/** The error bars (interquartile range) and the median line with points, coloured by system. */
function medianLayers(x: object, y: object, domain: string[], yTitle: string) {
  const color = { field: "system", type: "nominal", title: "system", scale: colorScale(domain) };
  return [
    { mark: { type: "rule", opacity: 0.6 }, encoding: { x, y: { field: "q1", type: "quantitative" }, y2: { field: "q3" }, color } },
    { mark: { type: "line", point: true }, encoding: { x, y: { ...y, field: "median", type: "quantitative", title: yTitle }, color } },
  ];
}

/** Writes every plot the results have data for into `out`; returns them. */
export async function writePlots(results: Results, out: string): Promise<Plot[]> {
  const plots: Plot[] = [];
  const systems = SYSTEMS.map((s) => LABEL[s]);
  const add = async (p: Plot, spec: Spec) => {
    await render(spec, path.join(out, p.file));
    plots.push(p);
  };

  // Ping-pong: latency and bandwidth against size, one panel per tier. 0 B has no place on a log axis (it is in the table).
  const ping = results.rows.filter((r) => r.section === "pingpong" && r.bytes! > 0);
  const pingData = ping.flatMap((r) =>
    SYSTEMS.flatMap((s) => {
      const f = figure(results, r, s);
      return f
        ? [
            {
              system: LABEL[s],
              tier: `${r.tier} tier`,
              bytes: r.bytes!,
              median: f.median,
              q1: f.q1,
              q3: f.q3,
              mbs: r.bytes! / f.median,
              mbsQ1: r.bytes! / f.q3,
              mbsQ3: r.bytes! / f.q1,
            },
          ]
        : [];
    }),
  );
  if (pingData.length > 0) {
    const x = {
      field: "bytes",
      type: "quantitative",
      scale: { type: "log", base: 2 },
      title: "message size [bytes]",
      axis: {
        labelExpr:
          "datum.value >= 1048576 ? datum.value / 1048576 + ' MiB' : datum.value >= 1024 ? datum.value / 1024 + ' KiB' : datum.value + ' B'",
        values: [1, 16, 256, 4096, 65536, 1048576, 16777216],
      },
    };
    const facet = { column: { field: "tier", type: "nominal", title: null } };
    await add(
      { file: "pingpong-latency.svg", title: "Ping-pong one-way latency against message size", section: "pingpong", series: systems },
      {
        ...base,
        title: "Ping-pong: one-way latency (median, bars: interquartile range)",
        data: { values: pingData },
        facet,
        spec: { width: 320, height: 260, layer: medianLayers(x, { scale: { type: "log" } }, systems, "one-way latency [µs]") },
      } as Spec,
    );
    await add({ file: "pingpong-bandwidth.svg", title: "Ping-pong bandwidth against message size", section: "pingpong", series: systems }, {
      ...base,
      title: "Ping-pong: bandwidth = size / one-way latency",
      data: { values: pingData.map((d) => ({ ...d, median: d.mbs, q1: d.mbsQ1, q3: d.mbsQ3 })) },
      facet,
      spec: { width: 320, height: 260, layer: medianLayers(x, { scale: { type: "log" } }, systems, "bandwidth [MB/s]") },
    } as Spec);
  }

  // Collectives (and the 1M-double allreduce): time per call against rank count, one panel per collective and size.
  const coll = results.rows.filter((r) => r.section === "collectives" || r.section === "allreduce");
  const collData = coll.flatMap((r) =>
    SYSTEMS.flatMap((s) => {
      const f = figure(results, r, s);
      const panel = r.collective === "barrier" ? "barrier" : `${r.collective} ${bytesLabel(r.bytes!)}`;
      return f
        ? [
            {
              system: LABEL[s],
              panel,
              ranks: r.np,
              median: f.median,
              q1: f.q1,
              q3: f.q3,
              order: `${r.collective === "barrier" ? 0 : 1}${String(r.bytes).padStart(9, "0")}${r.collective}`,
            },
          ]
        : [];
    }),
  );
  if (collData.length > 0) {
    const panels = [...new Set(collData.sort((a, b) => a.order.localeCompare(b.order)).map((d) => d.panel))];
    // One line of panels per size: as many columns as collectives timed at the smallest size.
    const small = Math.min(...coll.filter((r) => r.collective !== "barrier").map((r) => r.bytes!));
    const columns = Math.max(1, new Set(coll.filter((r) => r.bytes === small && r.collective !== "barrier").map((r) => r.collective)).size);
    const ranks = [...new Set(collData.map((d) => d.ranks))].sort((a, b) => a - b);
    const x = {
      field: "ranks",
      type: "quantitative",
      title: "ranks",
      scale: { domain: [Math.min(...ranks) - 0.5, Math.max(...ranks) + 0.5] },
      axis: { values: ranks, format: "d" },
    };
    await add({ file: "collectives.svg", title: "Collective time per call against rank count", section: "collectives", series: systems }, {
      ...base,
      title: "Collectives: time per call (median of the slowest rank; bars: interquartile range)",
      data: { values: collData },
      facet: { field: "panel", type: "nominal", title: null, sort: panels },
      columns,
      resolve: { scale: { y: "independent" } },
      spec: { width: 170, height: 150, layer: medianLayers(x, { scale: { type: "log" } }, systems, "µs per call") },
    } as Spec);
  }

  // Start-up: wall time of helloworld against rank count.
  const start = results.rows.filter((r) => r.section === "startup");
  const startSeries = ["tsmpi .js", "tsmpi .ts", LABEL["mpi4py-shm"], LABEL["mpi4py-tcp"]];
  const startData = start.flatMap((r) =>
    SYSTEMS.flatMap((s) => {
      const f = figure(results, r, s);
      if (!f) return [];
      const system = s === "tsmpi" ? `tsmpi .${r.key.split("/")[1]}` : LABEL[s];
      if (s !== "tsmpi" && r.key.split("/")[1] === "ts") return []; // the mpi4py figures are shared by the .js and .ts rows
      return [{ system, ranks: r.np, median: f.median, q1: f.q1, q3: f.q3 }];
    }),
  );
  if (startData.length > 0) {
    const ranks = [...new Set(startData.map((d) => d.ranks))].sort((a, b) => a - b);
    const x = {
      field: "ranks",
      type: "quantitative",
      title: "ranks",
      scale: { padding: 24, nice: false },
      axis: { values: ranks, format: "d" },
    };
    await add(
      { file: "startup.svg", title: "Start-up: helloworld wall time against rank count", section: "startup", series: startSeries },
      {
        ...base,
        title: "Start-up: helloworld, wall time of the whole job",
        data: { values: startData },
        width: 420,
        height: 260,
        layer: medianLayers(x, { scale: { zero: true } }, startSeries, "wall time [ms]"),
      } as Spec,
    );
  }

  // Pi: measured speed-up over the Amdahl curve of the fitted serial fraction, per system.
  const sp = piSpeedups(results);
  if (sp.some((s) => s.points.length > 1)) {
    const cores = results.meta.machine.cores;
    const maxRanks = Math.max(...sp.flatMap((s) => s.points.map((p) => p.ranks)));
    const measured = sp.flatMap((s) => s.points.map((p) => ({ system: LABEL[s.system], ranks: p.ranks, speedup: p.speedup })));
    const curves = sp.flatMap((s) =>
      s.serialFraction === undefined
        ? []
        : Array.from({ length: Math.round((maxRanks - 1) * 20) + 1 }, (_, i) => 1 + i / 20).map((p) => ({
            system: LABEL[s.system],
            ranks: p,
            speedup: amdahl(s.serialFraction!, p, cores),
            label: `${LABEL[s.system]}: f = ${s.serialFraction!.toFixed(3)}`,
          })),
    );
    const color = { field: "system", type: "nominal", title: "system", scale: colorScale(systems) };
    const x = {
      field: "ranks",
      type: "quantitative",
      title: "ranks",
      scale: { domain: [1, maxRanks] },
      axis: { values: [...new Set(measured.map((d) => d.ranks))], format: "d" },
    };
    const fits = sp.map((s) => `${LABEL[s.system]} f = ${s.serialFraction?.toFixed(3) ?? "–"}`).join(", ");
    await add(
      { file: "pi-speedup.svg", title: "Monte Carlo pi: speed-up against rank count, over Amdahl's law", section: "pi", series: systems },
      {
        ...base,
        title: {
          text: "Monte Carlo pi: speed-up (points) and Amdahl's law for the fitted serial fraction (dashed)",
          subtitle: `${fits}; processors = min(ranks, ${cores} cores)`,
        },
        width: 420,
        height: 280,
        layer: [
          {
            data: { values: curves },
            mark: { type: "line", strokeDash: [5, 3] },
            encoding: { x, y: { field: "speedup", type: "quantitative", title: "speed-up" }, color },
          },
          {
            data: { values: measured },
            mark: { type: "point", filled: true, size: 70 },
            encoding: { x, y: { field: "speedup", type: "quantitative" }, color },
          },
        ],
      } as Spec,
    );
  }
  return plots;
}
