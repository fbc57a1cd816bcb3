/**
 * Where a job's ranks run: on this host, on hosts reached over ssh (`--host`, `--hostfile`),
 * or through `srun` inside a SLURM allocation (`SLURM_JOB_ID` set, not already an srun task).
 * The plan also gives each rank its local rank among the ranks of its host.
 *
 * Not supported yet: mixing srun with `--host`; rank files; binding ranks to cores.
 *
 * @module
 */
import dns from "node:dns/promises";
import fs from "node:fs";
import os from "node:os";
import { TsmpiError } from "../lib/errors.js";
import { isLoopback } from "../lib/job/network.js";
import { mapRanks, parseHostfile, parseHostSpec, type HostSlots } from "./hostfile.js";
import { expandHostlist } from "../lib/job/hostlist.js";

/** One rank's place. */
export interface Placement {
  rank: number;
  host: string;
  /** Whether `host` is this machine (the rank is started directly, not over ssh). */
  local: boolean;
  localRank: number;
  localSize: number;
}

/** How the job is started. */
export type Plan =
  | { mode: "local"; np: number; placements: Placement[]; universe?: HostSlots[] }
  | { mode: "ssh"; np: number; placements: Placement[]; remoteHosts: string[]; universe?: HostSlots[] }
  | { mode: "slurm"; np: number; nodes: string[]; ppn?: number };

/** What the command line says about placement. */
export interface PlanOptions {
  /** `-n`, or undefined when not given. */
  np: number | undefined;
  hosts: string[];
  hostfile?: string;
  ppn?: number;
  mapBy: "slot" | "node";
  oversubscribe: boolean;
  /** `--launcher`: force a mode ("auto" decides). */
  launcher: "auto" | "local" | "ssh" | "slurm";
}

/** Whether `host` names this machine: its host name, localhost, a loopback or a local interface address. */
export async function isThisHost(host: string): Promise<boolean> {
  const me = os.hostname();
  if (host === me || host === me.split(".")[0] || host === "localhost" || isLoopback(host)) return true;
  const local = new Set(Object.values(os.networkInterfaces()).flatMap((list) => (list ?? []).map((a) => a.address)));
  try {
    const all = await dns.lookup(host, { all: true });
    return all.some((a) => local.has(a.address) || isLoopback(a.address));
  } catch {
    return false;
  }
}

function withLocalRanks(hosts: readonly string[], local: ReadonlyMap<string, boolean>): Placement[] {
  const counts = new Map<string, number>();
  for (const h of hosts) counts.set(h, (counts.get(h) ?? 0) + 1);
  const seen = new Map<string, number>();
  return hosts.map((host, rank) => {
    const localRank = seen.get(host) ?? 0;
    seen.set(host, localRank + 1);
    return { rank, host, local: local.get(host) ?? false, localRank, localSize: counts.get(host)! };
  });
}

/**
 * Decides where the ranks run.
 * @throws TsmpiError `ERR_TSMPI_ARG` for bad host specifications or more ranks than slots.
 */
export async function planJob(opts: PlanOptions): Promise<Plan> {
  const slots: HostSlots[] = opts.hosts.flatMap((h) => parseHostSpec(h));
  if (opts.hostfile) {
    let text: string;
    try {
      text = fs.readFileSync(opts.hostfile, "utf8");
    } catch (err) {
      throw new TsmpiError("ERR_TSMPI_ARG", `--hostfile ${JSON.stringify(opts.hostfile)} cannot be read: ${(err as Error).message}`);
    }
    slots.push(...parseHostfile(text));
  }
  const inAllocation = process.env.SLURM_JOB_ID !== undefined && process.env.SLURM_STEP_ID === undefined;
  const mode = opts.launcher !== "auto" ? opts.launcher : slots.length > 0 ? "ssh" : inAllocation ? "slurm" : "local";

  if (mode === "slurm") {
    if (process.env.SLURM_JOB_ID === undefined) throw new TsmpiError("ERR_TSMPI_ARG", "--launcher slurm needs a SLURM allocation (run inside sbatch or salloc)");
    const allocated = Number(process.env.SLURM_NTASKS ?? process.env.SLURM_NPROCS ?? NaN);
    const np = opts.np ?? (Number.isInteger(allocated) && allocated > 0 ? allocated : 1);
    const nodes = expandHostlist(process.env.SLURM_JOB_NODELIST ?? process.env.SLURM_NODELIST ?? os.hostname());
    return { mode, np, nodes, ppn: opts.ppn };
  }

  const np = opts.np ?? (slots.length > 0 ? slots.reduce((a, s) => a + s.slots, 0) : 1);
  if (mode === "local" || slots.length === 0) {
    return { mode: "local", np, placements: withLocalRanks(new Array<string>(np).fill(os.hostname()), new Map([[os.hostname(), true]])) };
  }
  const hosts = mapRanks(slots, np, { ppn: opts.ppn, mapBy: opts.mapBy, oversubscribe: opts.oversubscribe });
  const local = new Map<string, boolean>();
  for (const h of new Set(hosts)) local.set(h, await isThisHost(h));
  const placements = withLocalRanks(hosts, local);
  const remoteHosts = [...local].filter(([, l]) => !l).map(([h]) => h);
  // The hosts and slots given (the MPI universe), for processes that start more ranks (tsmpi/futures).
  const universe = slots.map((s) => ({ ...s }));
  if (remoteHosts.length === 0) return { mode: "local", np, placements, universe };
  return { mode: "ssh", np, placements, remoteHosts, universe };
}
