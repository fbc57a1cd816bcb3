/**
 * How a rank waits for same-host messages: the polling window, chosen per host from the number
 * of ranks on it and the cores this process may use.
 *
 * A rank that waits in a call (a receive, `wait`, a collective round) first polls its
 * shared-memory inbox for a bounded time, then sleeps on its wake-up pipe, which the event loop
 * watches. Polling catches a reply within a fraction of a microsecond; waking a sleeping process
 * costs tens of microseconds. But polling only pays while every rank has a core: with more ranks
 * than cores a poller holds the core that the rank it waits for needs, and the wait lasts a
 * scheduler tick (milliseconds). So:
 *
 * | ranks on the host | mode | |
 * |---|---|---|
 * | at most the cores | `spin` | poll for {@link SPIN_US} (pause instructions between polls, `sched_yield` every few microseconds) |
 * | up to twice the cores | `yield` | poll for {@link SPIN_US}, yielding the core between polls |
 * | more | `sleep` | sleep at once |
 *
 * The cores are the CPUs of this process's affinity mask, capped by its cgroup's CPU quota
 * (`cpu.max` in cgroup v2, `cpu.cfs_quota_us` in v1). `TSMPI_SPIN_US` sets the window (0: never
 * poll); the mode then is `spin` or `yield` by the same rule. The event loop is never held longer
 * than the window.
 *
 * Not supported yet: adapting the window to observed wait times.
 *
 * @module
 */
import fs from "node:fs";
import os from "node:os";
import { numberSetting } from "../config.js";

/** The default polling window, in microseconds (catches nearly every ping-pong reply here). */
export const SPIN_US = 50;

/** How a rank waits. */
export interface WaitPolicy {
  mode: "spin" | "yield" | "sleep";
  /** How long it polls before it sleeps (microseconds). */
  spinUs: number;
  /** The cores this process may use. */
  cores: number;
  /** The ranks of the job on this host. */
  ranksHere: number;
}

/** The cores allowed by a cgroup quota, or Infinity when none applies (or it cannot be read). */
function quotaCores(): number {
  try {
    const line = fs
      .readFileSync("/proc/self/cgroup", "utf8")
      .split("\n")
      .find((l) => l.startsWith("0::"));
    if (line) {
      // cgroup v2: the tightest cpu.max from this cgroup up to the root.
      let best = Infinity;
      for (let dir = line.slice(3).trim(); ; dir = dir.slice(0, dir.lastIndexOf("/")) || "/") {
        try {
          const [quota, period] = fs
            .readFileSync(`/sys/fs/cgroup${dir === "/" ? "" : dir}/cpu.max`, "utf8")
            .trim()
            .split(/\s+/);
          if (quota !== "max" && Number(period) > 0) best = Math.min(best, Number(quota) / Number(period));
        } catch {
          // no cpu controller at this level
        }
        if (dir === "/" || dir === "") break;
      }
      return best;
    }
    const quota = Number(fs.readFileSync("/sys/fs/cgroup/cpu/cpu.cfs_quota_us", "utf8"));
    const period = Number(fs.readFileSync("/sys/fs/cgroup/cpu/cpu.cfs_period_us", "utf8"));
    return quota > 0 && period > 0 ? quota / period : Infinity;
  } catch {
    return Infinity;
  }
}

/** The cores this process may use: its affinity mask, capped by its cgroup quota (at least 1). */
export function usableCores(): number {
  return Math.max(1, Math.floor(Math.min(os.availableParallelism(), quotaCores())));
}

/** The wait policy for a rank of a job with `ranksHere` ranks on this host. */
export function waitPolicy(ranksHere: number, env: NodeJS.ProcessEnv = process.env, cores = usableCores()): WaitPolicy {
  const spinUs = numberSetting("TSMPI_SPIN_US", env) ?? (ranksHere > 2 * cores ? 0 : SPIN_US);
  const mode = spinUs === 0 ? "sleep" : ranksHere <= cores && env.TSMPI_SPIN_MODE !== "yield" ? "spin" : "yield";
  return { mode, spinUs, cores, ranksHere };
}
