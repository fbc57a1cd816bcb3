/**
 * The arithmetic of the comparison: quantiles, the figure and spread of one row on one system,
 * and Amdahl's law fitted to measured speed-ups.
 */

/** The q-quantile (0..1), interpolated linearly between order statistics (numpy's default, as lib/bench/index.ts). */
export function quantile(xs: readonly number[], q: number): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const h = (s.length - 1) * q;
  const lo = Math.floor(h);
  return lo + 1 < s.length ? s[lo]! + (h - lo) * (s[lo + 1]! - s[lo]!) : s[lo]!;
}

export const median = (xs: readonly number[]): number => quantile(xs, 0.5);

/**
 * One launch's figure for one row: a single value (a wall time, a rate), or the median of many
 * timed iterations inside the launch with their quartiles.
 */
export interface Observation {
  value: number;
  q1?: number;
  q3?: number;
}

/** A row's figure on one system over its launches. */
export interface Summary {
  /** Median over launches of each launch's figure. */
  median: number;
  /** The spread: the interquartile range (see `summarize`). */
  q1: number;
  q3: number;
  /** How many launches. */
  launches: number;
}

/**
 * Launches that timed many iterations each (they carry quartiles): the median of their medians,
 * and the median of their quartiles. Launches with one value each: the median and quartiles of
 * those values.
 */
export function summarize(obs: readonly Observation[]): Summary | undefined {
  if (obs.length === 0) return undefined;
  const values = obs.map((o) => o.value);
  const inner = obs.every((o) => o.q1 !== undefined && o.q3 !== undefined);
  return {
    median: median(values),
    q1: inner ? median(obs.map((o) => o.q1!)) : quantile(values, 0.25),
    q3: inner ? median(obs.map((o) => o.q3!)) : quantile(values, 0.75),
    launches: obs.length,
  };
}

/**
 * Amdahl's law for `p` ranks on a machine with `cores` cores: speed-up `1 / (f + (1 - f) / q)`
 * with `q = min(p, cores)` processors really working (more ranks than cores share them).
 */
export function amdahl(f: number, p: number, cores: number): number {
  const q = Math.min(p, cores);
  return 1 / (f + (1 - f) / q);
}

/**
 * The serial fraction `f` that fits measured speed-ups best: Amdahl's law is linear in `f` for
 * the reciprocal, `1/S - 1/q = f (1 - 1/q)`, so least squares on it has a closed form. Points
 * with `q = 1` carry no information and are skipped; the result is clamped to [0, 1].
 */
export function fitSerialFraction(points: readonly { ranks: number; speedup: number }[], cores: number): number | undefined {
  let num = 0;
  let den = 0;
  for (const { ranks, speedup } of points) {
    const q = Math.min(ranks, cores);
    if (q <= 1 || !(speedup > 0)) continue;
    const x = 1 - 1 / q;
    num += (1 / speedup - 1 / q) * x;
    den += x * x;
  }
  if (den === 0) return undefined;
  return Math.min(1, Math.max(0, num / den));
}
