/**
 * The Markdown report of a comparison: where and when it ran, how to read it, and per section
 * a table (per row: each system's median with its interquartile range, and tsmpi's ratio to each
 * mpi4py transport) under the section's plots.
 */
import fs from "node:fs";
import path from "node:path";
import type { Plot } from "./plots.ts";
import { LABEL, MPI4PY, SYSTEMS, type SystemId } from "./runner.ts";
import { fitSerialFraction, summarize, type Observation, type Summary } from "./stats.ts";
import { SECTION_TITLE, SECTIONS, type Row, type SectionId } from "./workloads.ts";

/** Everything a run measured (results.json). */
export interface Results {
  meta: {
    date: string;
    quick: boolean;
    command: string;
    commit: string;
    openmpi: string;
    mpi4py: string;
    machine: { host: string; cpu: string; cores: number; memoryGiB: number; kernel: string; node: string; python: string };
    loadBefore: number[];
    loadAfter: number[];
    seconds: number;
    /** Of `seconds`, how long the run waited for other benches to release the bench lock. */
    lockWaitSeconds?: number;
    /** Stopped by Ctrl-C before every launch ran. */
    interrupted?: boolean;
  };
  sections: SectionId[];
  settings: Record<SectionId, string>;
  rows: Row[];
  /** Row key -> system -> one observation per launch. */
  observations: Record<string, Partial<Record<SystemId, Observation[]>>>;
  failures: { what: string; error: string }[];
  skipped: Partial<Record<SectionId, string>>;
}

/** A row's summary on a system (mpi4py's figures of a row may live under its `refKey`). */
export function figure(results: Results, row: Row, system: SystemId): Summary | undefined {
  const key = system !== "tsmpi" && row.refKey ? row.refKey : row.key;
  return summarize(results.observations[key]?.[system] ?? []);
}

/** How many times slower tsmpi is than `ref` on a row (time ratio; for rates, the inverse). */
export function ratio(results: Results, row: Row, ref: SystemId): number | undefined {
  const t = figure(results, row, "tsmpi");
  const r = figure(results, row, ref);
  if (!t || !r || !(t.median > 0) || !(r.median > 0)) return undefined;
  return row.higherIsBetter ? r.median / t.median : t.median / r.median;
}

/** Speed-up per system and rank count (time on 1 rank / time on N), and the fitted serial fraction. */
export function piSpeedups(
  results: Results,
): { system: SystemId; points: { ranks: number; speedup: number }[]; serialFraction?: number }[] {
  const rows = results.rows.filter((r) => r.section === "pi").sort((a, b) => a.np - b.np);
  const one = rows.find((r) => r.np === 1);
  if (!one) return [];
  return SYSTEMS.flatMap((system) => {
    const base = figure(results, one, system)?.median;
    if (!base) return [];
    const points = rows.flatMap((r) => {
      const t = figure(results, r, system)?.median;
      return t ? [{ ranks: r.np, speedup: base / t }] : [];
    });
    return [{ system, points, serialFraction: fitSerialFraction(points, results.meta.machine.cores) }];
  });
}

const sig = (x: number) => (x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x.toFixed(2));

/** A value in the row's unit, scaled to a readable unit. */
function amount(x: number, unit: Row["unit"]): [string, string] {
  if (unit === "tasks/s") return [x >= 1000 ? `${(x / 1000).toFixed(1)}k` : sig(x), "tasks/s"];
  const us = unit === "us" ? x : unit === "ms" ? x * 1e3 : x * 1e6;
  if (us < 1000) return [sig(us), "µs"];
  if (us < 1e6) return [sig(us / 1e3), "ms"];
  return [sig(us / 1e6), "s"];
}

function cell(s: Summary | undefined, unit: Row["unit"]): string {
  if (!s) return "–";
  const [m, u] = amount(s.median, unit);
  // The quartiles in the median's unit.
  const scale = (x: number) => {
    if (unit === "tasks/s") return amount(x, unit)[0];
    const base = unit === "us" ? 1 : unit === "ms" ? 1e3 : 1e6;
    const div = u === "µs" ? 1 : u === "ms" ? 1e3 : 1e6;
    return sig((x * base) / div);
  };
  return `${m} ${u} [${scale(s.q1)}–${scale(s.q3)}]`;
}

const times = (x: number | undefined) => (x === undefined ? "–" : `${x >= 10 ? x.toFixed(0) : x.toFixed(2)}×`);

function rowOrder(a: Row, b: Row): number {
  return (
    a.table.localeCompare(b.table) ||
    (a.order ?? 0) - (b.order ?? 0) ||
    (a.collective ?? "").localeCompare(b.collective ?? "") ||
    a.np - b.np ||
    (a.bytes ?? 0) - (b.bytes ?? 0) ||
    a.key.localeCompare(b.key)
  );
}

function table(results: Results, rows: Row[]): string[] {
  const ping = rows.some((r) => r.section === "pingpong");
  const head = ["", ...SYSTEMS.map((s) => LABEL[s]), ...MPI4PY.map((s) => `tsmpi / ${LABEL[s]}`)];
  if (ping) head.push(...SYSTEMS.map((s) => `${LABEL[s]} MB/s`));
  const lines = [`| ${head.join(" | ")} |`, `|${head.map((_, i) => (i === 0 ? " --- " : " ---: ")).join("|")}|`];
  for (const row of rows) {
    const cols = [
      row.label,
      ...SYSTEMS.map((s) => cell(figure(results, row, s), row.unit)),
      ...MPI4PY.map((s) => times(ratio(results, row, s))),
    ];
    if (ping)
      cols.push(
        ...SYSTEMS.map((s) =>
          row.bytes
            ? figure(results, row, s)
              ? (row.bytes / figure(results, row, s)!.median).toFixed(row.bytes / figure(results, row, s)!.median >= 10 ? 0 : 2)
              : "–"
            : "–",
        ),
      );
    lines.push(`| ${cols.join(" | ")} |`);
  }
  return lines;
}

/** Writes report.md into `out`; returns its path. */
export function writeReport(results: Results, plots: Plot[], out: string): string {
  const m = results.meta;
  const mc = m.machine;
  const load = (l: number[]) => l.map((x) => x.toFixed(2)).join(", ");
  const md: string[] = [
    `# tsmpi and mpi4py side by side${m.quick ? " (quick run)" : ""}`,
    "",
    ...(m.interrupted
      ? ["**Interrupted**: the run was stopped before every launch ran; rows may have fewer launches than planned, or none.", ""]
      : []),
    `Measured ${m.date.replace("T", " ").slice(0, 16)} UTC on \`${mc.host}\`: ${mc.cpu}, ${mc.cores} cores, ${mc.memoryGiB} GiB, ${mc.kernel}. ` +
      `Node ${mc.node}, tsmpi at commit ${m.commit}; ${mc.python}, mpi4py ${m.mpi4py}, Open MPI ${m.openmpi}. ` +
      `Load average (1, 5, 15 min) ${load(m.loadBefore)} before and ${load(m.loadAfter)} after; the run took ${m.seconds} s${m.lockWaitSeconds ? ` (${m.lockWaitSeconds} s of it waiting for other benchmarks to release the bench lock)` : ""}. Command: \`${m.command}\`.`,
    "",
    "How to read it:",
    "",
    "- **tsmpi** runs under `tsmpirun` (`node dist/launcher/cli.js -n N`); **mpi4py shm** is `mpiexec -n N --oversubscribe --mca btl self,vader /usr/bin/python3` " +
      "(Open MPI's shared-memory transport), **mpi4py tcp** the same with `--mca btl self,tcp --mca btl_tcp_if_include lo` (TCP over loopback).",
    "- Each cell is the median and, in brackets, the interquartile range. Where a launch times many iterations (ping-pong, collectives), " +
      "each launch gives its median and quartiles and the cell shows the median of those over the launches; where a launch gives one figure " +
      "(start-up, ring test, pi, task pool), the cell is the median and quartiles of the launches.",
    "- The ratio is how many times longer tsmpi takes (above 1: tsmpi is slower; for rates, mpi4py's rate over tsmpi's).",
    "- The systems are interleaved: each round runs one launch of every system back to back (the order rotating between repetitions), " +
      "rounds repeat, and the bench lock keeps other benchmarks on the machine out of a round, so noise falls on all systems alike.",
    `- More ranks than the ${mc.cores} cores share them: speed-ups and collectives above ${mc.cores} ranks measure oversubscription too.`,
    "",
  ];
  for (const section of results.sections) {
    md.push(`## ${SECTION_TITLE[section]}`, "");
    const skipped = results.skipped[section];
    if (skipped) {
      md.push(`Skipped: ${skipped}.`, "");
      continue;
    }
    md.push(`${results.settings[section]}.`, "");
    for (const p of plots.filter((p) => p.section === section)) md.push(`![${p.title}](${p.file})`, "");
    const rows = results.rows.filter((r) => r.section === section).sort(rowOrder);
    if (rows.length === 0) {
      md.push("No measurements (every launch failed; see below).", "");
      continue;
    }
    const tables = [...new Set(rows.map((r) => r.table))];
    for (const t of tables) {
      if (t) md.push(`**${t}**`, "");
      md.push(
        ...table(
          results,
          rows.filter((r) => r.table === t),
        ),
        "",
      );
    }
    if (section === "pi") {
      const sp = piSpeedups(results);
      const ranks = [...new Set(sp.flatMap((s) => s.points.map((p) => p.ranks)))].sort((a, b) => a - b);
      md.push(
        `Speed-up (time on 1 rank / time on N ranks) and the serial fraction f of Amdahl's law fitted to it (least squares on 1/S, with min(N, ${mc.cores} cores) processors):`,
        "",
      );
      md.push(`| ranks | ${sp.map((s) => LABEL[s.system]).join(" | ")} |`, `| ---: |${sp.map(() => " ---: ").join("|")}|`);
      for (const n of ranks)
        md.push(`| ${n} | ${sp.map((s) => s.points.find((p) => p.ranks === n)?.speedup.toFixed(2) ?? "–").join(" | ")} |`);
      md.push(`| f | ${sp.map((s) => (s.serialFraction === undefined ? "–" : s.serialFraction.toFixed(3))).join(" | ")} |`, "");
    }
  }
  const measured = results.rows
    .filter((r) => ratio(results, r, "mpi4py-tcp") !== undefined)
    .sort((a, b) => SECTIONS.indexOf(a.section) - SECTIONS.indexOf(b.section) || rowOrder(a, b));
  const slower = measured.filter((r) => ratio(results, r, "mpi4py-tcp")! > 1);
  md.push("## Where tsmpi is slower than Open MPI over TCP", "");
  if (slower.length === 0) md.push(`On none of the ${measured.length} rows measured on both.`, "");
  else {
    md.push(
      `On ${slower.length} of the ${measured.length} rows measured on both:`,
      "",
      "| section | rows where tsmpi is slower | tsmpi / mpi4py tcp there |",
      "| --- | --- | ---: |",
    );
    const groups = new Map<string, Row[]>();
    for (const r of measured) {
      const g = `${SECTION_TITLE[r.section].split(":")[0]}${r.table ? `, ${r.table}` : ""}`;
      groups.set(g, [...(groups.get(g) ?? []), r]);
    }
    for (const [g, rows] of groups) {
      const worse = rows.filter((r) => ratio(results, r, "mpi4py-tcp")! > 1);
      if (worse.length === 0) continue;
      const rs = worse.map((r) => ratio(results, r, "mpi4py-tcp")!);
      const which =
        worse.length <= 4
          ? worse.map((r) => r.label).join("; ")
          : `${worse.length} of ${rows.length} (${worse[0]!.label} … ${worse.at(-1)!.label})`;
      md.push(`| ${g} | ${which} | ${rs.length > 1 ? `${times(Math.min(...rs))} – ${times(Math.max(...rs))}` : times(rs[0])} |`);
    }
    md.push("");
  }
  if (results.failures.length > 0) {
    md.push("## Failed launches", "", ...results.failures.map((f) => `- ${f.what}: \`${f.error.replace(/`/g, "'")}\``), "");
  }
  const file = path.join(out, "report.md");
  fs.writeFileSync(file, md.join("\n"));
  return file;
}
