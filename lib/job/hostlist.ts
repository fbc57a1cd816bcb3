/**
 * SLURM hostlist expressions: `node[01-04,07]`, `r[1-2]n[1-2]`, `a,b c` — and the compressed
 * count lists of `SLURM_TASKS_PER_NODE` (`2(x3),1`).
 *
 * The expansion follows Slurm 22.05's `hostlist_create()` (checked against
 * `scontrol show hostnames` in `test/hostlist.test.ts`):
 *
 * - Items are separated by `,`, space or tab outside brackets; runs of separators and leading or
 *   trailing separators are ignored (`a,,b` is `a b`). Duplicates are kept, order is kept.
 * - A bracket group holds a comma-separated list of `N` or `N-M` (decimal digits only). Each
 *   number is zero-padded to the width of the text of its low end: `[08-10]` → `08 09 10`,
 *   `[1-003]` → `1 2 3`.
 * - With several bracket groups in one name, Slurm's order is kept: the last group varies
 *   fastest, then the first, the second, … up to the next-to-last, which varies slowest. For two
 *   groups that is the plain order (`r[1-2]n[1-2]` → `r1n1 r1n2 r2n1 r2n2`); for three it is
 *   `a[1-2]b[1-2]c[1-2]` → `a1b1c1 a1b1c2 a2b1c1 a2b1c2 a1b2c1 …`.
 *
 * Not supported (each throws `ERR_TSMPI_ARG` where Slurm would accept or mangle it):
 * - Slurm's lenient readings of malformed input: an unclosed `[` (Slurm appends a `]`), a stray
 *   `]`, an open range `n[1-]` (Slurm reads `n1`), whitespace or `+` inside brackets.
 * - Multi-dimensional (Cray/BlueGene) box notation `[000x133]` and base-36 coordinates.
 * - An empty expression: it names no host, which is never what a caller means.
 *
 * Deliberate extension: text after the last bracket group (`n[1-2]-ib` → `n1-ib n2-ib`) is
 * accepted; Slurm 22.05 rejects it with "Invalid hostlist".
 *
 * @module
 */

import { TsmpiError, describeValue } from "../errors.js";

/** The most hosts one `lo-hi` range may name; larger ranges are taken as typos (as Slurm does). */
export const MAX_RANGE_HOSTS = 65536;

/** The most hosts one expression may expand to (guards against `a[1-60000]b[1-60000]`). */
export const MAX_HOSTLIST_HOSTS = 1 << 20;

/** One `N` or `N-M` item inside brackets. `width` is the length of the text of `N`. */
interface NumberRange {
  lo: bigint;
  hi: bigint;
  width: number;
}

/** A host name pattern: `texts[0] group[0] texts[1] group[1] … texts[n]`. */
interface NamePattern {
  texts: string[];
  groups: NumberRange[][];
}

function argError(expr: string, detail: string): TsmpiError {
  return new TsmpiError("ERR_TSMPI_ARG", `hostlist ${describeValue(expr)}: ${detail}`);
}

/** Splits at top-level `,`/space/tab; checks that brackets pair up and do not nest. */
function splitItems(expr: string): string[] {
  const items: string[] = [];
  let current = "";
  let open = -1; // index of the unclosed "[", or -1
  for (let i = 0; i < expr.length; i++) {
    const c = expr[i]!;
    if (c === "[") {
      if (open >= 0) throw argError(expr, `nested "[" at offset ${i}`);
      open = i;
    } else if (c === "]") {
      if (open < 0) throw argError(expr, `"]" at offset ${i} has no matching "["`);
      open = -1;
    } else if (open < 0 && (c === "," || c === " " || c === "\t")) {
      if (current !== "") items.push(current);
      current = "";
      continue;
    } else if (c < " " || c === "\x7f") {
      throw argError(expr, `control character ${JSON.stringify(c)} at offset ${i}`);
    }
    current += c;
  }
  if (open >= 0) throw argError(expr, `"[" at offset ${open} is never closed`);
  if (current !== "") items.push(current);
  return items;
}

function parseRange(expr: string, text: string): NumberRange {
  const m = /^(\d+)(?:-(\d+))?$/.exec(text);
  if (!m) throw argError(expr, `range ${describeValue(text)} is not N or N-M with decimal digits`);
  const lo = BigInt(m[1]!);
  const hi = m[2] === undefined ? lo : BigInt(m[2]);
  if (lo > hi) throw argError(expr, `range ${text} is reversed`);
  if (hi - lo + 1n > BigInt(MAX_RANGE_HOSTS)) {
    throw argError(expr, `range ${text} names ${hi - lo + 1n} hosts, more than ${MAX_RANGE_HOSTS}`);
  }
  return { lo, hi, width: m[1]!.length };
}

function parseItem(expr: string, item: string): NamePattern {
  const texts: string[] = [];
  const groups: NumberRange[][] = [];
  const re = /\[([^\]]*)\]/g;
  let last = 0;
  for (let m = re.exec(item); m; m = re.exec(item)) {
    texts.push(item.slice(last, m.index));
    groups.push(m[1]!.split(",").map((r) => parseRange(expr, r)));
    last = re.lastIndex;
  }
  texts.push(item.slice(last));
  return { texts, groups };
}

function countOf(group: NumberRange[]): bigint {
  return group.reduce((n, r) => n + (r.hi - r.lo + 1n), 0n);
}

function valuesOf(group: NumberRange[]): string[] {
  const out: string[] = [];
  for (const r of group) {
    for (let v = r.lo; v <= r.hi; v++) out.push(v.toString().padStart(r.width, "0"));
  }
  return out;
}

/** Slurm's loop nesting, outermost first: groups n-2, n-3, …, 0, then n-1 innermost. */
function slurmGroupOrder(n: number): number[] {
  if (n === 0) return [];
  const order: number[] = [];
  for (let g = n - 2; g >= 0; g--) order.push(g);
  order.push(n - 1);
  return order;
}

function expandPattern(p: NamePattern, out: string[]): void {
  const values = p.groups.map(valuesOf);
  const order = slurmGroupOrder(p.groups.length);
  const chosen: string[] = new Array<string>(p.groups.length).fill("");
  const visit = (depth: number): void => {
    if (depth === order.length) {
      let name = p.texts[0]!;
      for (let g = 0; g < chosen.length; g++) name += chosen[g]! + p.texts[g + 1]!;
      out.push(name);
      return;
    }
    const g = order[depth]!;
    for (const v of values[g]!) {
      chosen[g] = v;
      visit(depth + 1);
    }
  };
  visit(0);
}

/**
 * Expands a SLURM hostlist expression (as in `SLURM_JOB_NODELIST`) into host names, in Slurm's
 * order, duplicates kept.
 *
 * @param expr - the expression, e.g. `node[01-04,07]`, `r[1-2]n[1-2]`, `login1,node[1-2]`.
 * @returns the host names, at least one.
 * @throws {@link TsmpiError} `ERR_TSMPI_ARG` for an empty expression, unbalanced or nested
 *   brackets, an empty, non-numeric or reversed range (`node[5-2]`), a range of more than
 *   {@link MAX_RANGE_HOSTS} hosts, or more than {@link MAX_HOSTLIST_HOSTS} hosts in all. The
 *   message names the expression: `hostlist "node[5-2]": range 5-2 is reversed`.
 *
 * @example
 * ```ts
 * expandHostlist("node[01-03,07]"); // ["node01", "node02", "node03", "node07"]
 * expandHostlist("r[1-2]n[1-2]");   // ["r1n1", "r1n2", "r2n1", "r2n2"]
 * ```
 */
export function expandHostlist(expr: string): string[] {
  if (typeof expr !== "string") {
    throw new TsmpiError("ERR_TSMPI_ARG", `hostlist must be a string, got ${describeValue(expr)}`);
  }
  const patterns = splitItems(expr).map((item) => parseItem(expr, item));
  if (patterns.length === 0) throw argError(expr, "names no host");
  let total = 0n;
  for (const p of patterns) {
    total += p.groups.reduce((n, g) => n * countOf(g), 1n);
    if (total > BigInt(MAX_HOSTLIST_HOSTS)) {
      throw argError(expr, `expands to more than ${MAX_HOSTLIST_HOSTS} hosts`);
    }
  }
  const out: string[] = [];
  for (const p of patterns) expandPattern(p, out);
  return out;
}

/**
 * Expands a SLURM count list such as `SLURM_TASKS_PER_NODE` or `SLURM_JOB_CPUS_PER_NODE`:
 * comma-separated items `N` or `N(xM)` (N repeated M times).
 *
 * @param expr - the list, e.g. `2(x3),1`.
 * @returns one count per node, in node order (the order of {@link expandHostlist} on the
 *   matching node list).
 * @throws {@link TsmpiError} `ERR_TSMPI_ARG` for an empty list, an item not of the form `N` or
 *   `N(xM)`, a repeat `M` of 0, or more than {@link MAX_HOSTLIST_HOSTS} entries in all.
 *
 * @example
 * ```ts
 * expandTasksPerNode("2(x3),1"); // [2, 2, 2, 1]
 * ```
 */
export function expandTasksPerNode(expr: string): number[] {
  const fail = (detail: string): TsmpiError => new TsmpiError("ERR_TSMPI_ARG", `tasks per node ${describeValue(expr)}: ${detail}`);
  if (typeof expr !== "string") {
    throw new TsmpiError("ERR_TSMPI_ARG", `tasks per node must be a string, got ${describeValue(expr)}`);
  }
  if (expr === "") throw fail("is empty");
  const out: number[] = [];
  for (const item of expr.split(",")) {
    const m = /^(\d+)(?:\(x(\d+)\))?$/.exec(item);
    if (!m) throw fail(`item ${describeValue(item)} is not N or N(xM)`);
    const count = Number(m[1]);
    const repeat = m[2] === undefined ? 1 : Number(m[2]);
    if (repeat < 1) throw fail(`item ${describeValue(item)} repeats 0 times`);
    if (out.length + repeat > MAX_HOSTLIST_HOSTS || !Number.isSafeInteger(count)) {
      throw fail(`item ${describeValue(item)} is too large`);
    }
    for (let k = 0; k < repeat; k++) out.push(count);
  }
  return out;
}

/**
 * Compresses host names into a hostlist expression, the inverse of {@link expandHostlist}:
 * `expandHostlist(compressHostlist(hosts))` gives `hosts` back, same order, duplicates kept.
 * Like `scontrol show hostlist`, only neighbours are merged: consecutive names that share a
 * prefix and end in digits go into one bracket group, and runs of consecutive numbers of the
 * same zero-padding become `N-M` (`n3,n1,n2` → `n[3,1-2]`). The order is never changed.
 *
 * @param hosts - host names; none may be empty or contain `[`, `]`, `,`, whitespace or control
 *   characters.
 * @returns the expression.
 * @throws {@link TsmpiError} `ERR_TSMPI_ARG` for an empty array or a name that cannot appear
 *   in a hostlist.
 *
 * @example
 * ```ts
 * compressHostlist(["node01", "node02", "node03", "node07", "login"]); // "node[01-03,07],login"
 * ```
 */
export function compressHostlist(hosts: readonly string[]): string {
  if (!Array.isArray(hosts) || hosts.length === 0) {
    throw new TsmpiError("ERR_TSMPI_ARG", `hosts must be a non-empty array of names, got ${describeValue(hosts)}`);
  }
  // Groups of neighbours with the same prefix; each group is a list of runs [lo, hi] by text.
  const items: { prefix: string; runs: { lo: string; hi: string; next: bigint }[] }[] = [];
  hosts.forEach((host, i) => {
    // biome-ignore lint/suspicious/noControlCharactersInRegex: the class names the control characters a hostlist must not hold, to reject them
    if (typeof host !== "string" || !/^[^\s,[\]\x00-\x1f\x7f]+$/.test(host)) {
      throw new TsmpiError("ERR_TSMPI_ARG", `hosts[${i}] cannot appear in a hostlist, got ${describeValue(host)}`);
    }
    const m = /^(.*?)(\d+)$/.exec(host);
    if (!m) {
      items.push({ prefix: host, runs: [] });
      return;
    }
    const [, prefix, digits] = m as unknown as [string, string, string];
    const last = items[items.length - 1];
    const run = last?.prefix === prefix ? last.runs[last.runs.length - 1] : undefined;
    const value = BigInt(digits);
    if (run && value === run.next && value.toString().padStart(run.lo.length, "0") === digits) {
      run.hi = digits;
      run.next = value + 1n;
    } else if (last && run) {
      last.runs.push({ lo: digits, hi: digits, next: value + 1n });
    } else {
      items.push({ prefix, runs: [{ lo: digits, hi: digits, next: value + 1n }] });
    }
  });
  return items
    .map(({ prefix, runs }) => {
      if (runs.length === 0) return prefix;
      if (runs.length === 1 && runs[0]!.lo === runs[0]!.hi) return prefix + runs[0]!.lo;
      return `${prefix}[${runs.map((r) => (r.lo === r.hi ? r.lo : `${r.lo}-${r.hi}`)).join(",")}]`;
    })
    .join(",");
}
