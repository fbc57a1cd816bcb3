/**
 * Where a job's ranks run: on this host, on hosts reached over ssh (`--host`, `--hostfile`),
 * or through `srun` inside a SLURM allocation (`SLURM_JOB_ID` set, not already an srun task).
 * The plan also gives each rank its local rank among the ranks of its host.
 *
 * An MPMD job (`a.js : b.js`, `parts.ts`) is placed part after part, as Open MPI places its
 * application contexts: the hosts are the hostfile's and every part's `--host` (a host named in
 * several places has the most slots any gives it); a part with hosts of its own runs on those,
 * else on all; each part takes the slots the parts before it left free (filled by `--map-by`),
 * and more only with `--oversubscribe`.
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

/** How the job is started; `parts`: an MPMD job's ranks per part, in rank order. */
export type Plan = (
  | { mode: "local"; np: number; placements: Placement[]; universe?: HostSlots[] }
  | { mode: "ssh"; np: number; placements: Placement[]; remoteHosts: string[]; universe?: HostSlots[] }
  | { mode: "slurm"; np: number; nodes: string[]; ppn?: number }
) & { parts?: number[] };

/** One part of an MPMD command line, as placement sees it: its `-n` (if given) and `--host` values. */
export interface PartHosts {
  np: number | undefined;
  hosts: string[];
}

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
  /** An MPMD job's parts (then `np` and `hosts` are unused: each part has its own). */
  parts?: PartHosts[];
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

/** The hosts of `--hostfile`, or none. */
function hostfileSlots(hostfile: string | undefined): HostSlots[] {
  if (!hostfile) return [];
  let text: string;
  try {
    text = fs.readFileSync(hostfile, "utf8");
  } catch (err) {
    throw new TsmpiError("ERR_TSMPI_ARG", `--hostfile ${JSON.stringify(hostfile)} cannot be read: ${(err as Error).message}`);
  }
  return parseHostfile(text);
}

/** How the ranks are started: `--launcher`, else ssh with hosts, srun inside an allocation, else here. */
function modeOf(opts: PlanOptions, slots: readonly HostSlots[]): "local" | "ssh" | "slurm" {
  const inAllocation = process.env.SLURM_JOB_ID !== undefined && process.env.SLURM_STEP_ID === undefined;
  const mode = opts.launcher !== "auto" ? opts.launcher : slots.length > 0 ? "ssh" : inAllocation ? "slurm" : "local";
  if (mode === "slurm" && process.env.SLURM_JOB_ID === undefined)
    throw new TsmpiError("ERR_TSMPI_ARG", "--launcher slurm needs a SLURM allocation (run inside sbatch or salloc)");
  return mode;
}

/** The allocation's tasks (the default `-n` inside one), or undefined. */
function allocatedTasks(): number | undefined {
  const allocated = Number(process.env.SLURM_NTASKS ?? process.env.SLURM_NPROCS ?? NaN);
  return Number.isInteger(allocated) && allocated > 0 ? allocated : undefined;
}

function slurmNodes(): string[] {
  return expandHostlist(process.env.SLURM_JOB_NODELIST ?? process.env.SLURM_NODELIST ?? os.hostname());
}

/** The plan of ranks placed on `hosts` (by rank), over ssh where a host is not this one. */
async function placed(hosts: readonly string[], slots: readonly HostSlots[]): Promise<Plan> {
  const local = new Map<string, boolean>();
  for (const h of new Set(hosts)) local.set(h, await isThisHost(h));
  const placements = withLocalRanks(hosts, local);
  const remoteHosts = [...local].filter(([, l]) => !l).map(([h]) => h);
  // The hosts and slots given (the MPI universe), for processes that start more ranks (tsmpi/futures).
  const universe = slots.map((s) => ({ ...s }));
  if (remoteHosts.length === 0) return { mode: "local", np: hosts.length, placements, universe };
  return { mode: "ssh", np: hosts.length, placements, remoteHosts, universe };
}

/** `np` ranks, all on this host. */
function here(np: number): Plan {
  return { mode: "local", np, placements: withLocalRanks(new Array<string>(np).fill(os.hostname()), new Map([[os.hostname(), true]])) };
}

/**
 * Decides where the ranks run.
 * @throws TsmpiError `ERR_TSMPI_ARG` for bad host specifications or more ranks than slots.
 */
export async function planJob(opts: PlanOptions): Promise<Plan> {
  if (opts.parts) return planParts(opts, opts.parts);
  const slots: HostSlots[] = [...opts.hosts.flatMap((h) => parseHostSpec(h)), ...hostfileSlots(opts.hostfile)];
  const mode = modeOf(opts, slots);
  if (mode === "slurm") return { mode, np: opts.np ?? allocatedTasks() ?? 1, nodes: slurmNodes(), ppn: opts.ppn };
  const np = opts.np ?? (slots.length > 0 ? slots.reduce((a, s) => a + s.slots, 0) : 1);
  if (mode === "local" || slots.length === 0) return here(np);
  return placed(mapRanks(slots, np, { ppn: opts.ppn, mapBy: opts.mapBy, oversubscribe: opts.oversubscribe }), slots);
}

/** Hosts named in several places (the hostfile, parts' `--host`) as one entry each, with the most slots any gives. */
function mergeSlots(lists: readonly HostSlots[][]): HostSlots[] {
  const merged = new Map<string, number>();
  for (const list of lists) for (const s of list) merged.set(s.host, Math.max(merged.get(s.host) ?? 0, s.slots));
  return [...merged].map(([host, slots]) => ({ host, slots }));
}

/** An MPMD job's plan: its parts' sizes (a part without `-n`: its hosts' slots, the allocation's tasks, or 1), placed part after part. */
async function planParts(opts: PlanOptions, parts: readonly PartHosts[]): Promise<Plan> {
  const own = parts.map((p) => p.hosts.flatMap((h) => parseHostSpec(h)));
  const pool = mergeSlots([hostfileSlots(opts.hostfile), ...own]);
  const mode = modeOf(opts, pool);
  const sum = (list: readonly HostSlots[]): number => list.reduce((a, s) => a + s.slots, 0);
  const sizes = parts.map(
    (p, k) => p.np ?? (own[k]!.length > 0 ? sum(own[k]!) : pool.length > 0 ? sum(pool) : mode === "slurm" ? (allocatedTasks() ?? 1) : 1),
  );
  const np = sizes.reduce((a, b) => a + b, 0);
  if (mode === "slurm") return { mode, np, nodes: slurmNodes(), ppn: opts.ppn, parts: sizes };
  if (mode === "local" || pool.length === 0) return { ...here(np), parts: sizes };
  return { ...(await placed(placeParts(pool, own, sizes, opts), pool)), parts: sizes };
}

/**
 * The host of each rank of an MPMD job, part after part: a part runs on its own hosts, else on
 * all of `pool`, in the slots the parts before it left free; past them only with --oversubscribe.
 */
function placeParts(pool: readonly HostSlots[], own: readonly HostSlots[][], sizes: readonly number[], opts: PlanOptions): string[] {
  const capacity = new Map(pool.map((s) => [s.host, opts.ppn ?? s.slots]));
  const used = new Map<string, number>();
  const hosts: string[] = [];
  sizes.forEach((np, k) => {
    const names = own[k]!.length > 0 ? own[k]!.map((s) => s.host) : pool.map((s) => s.host);
    const free = names.map((host) => ({ host, slots: capacity.get(host)! - (used.get(host) ?? 0) })).filter((s) => s.slots > 0);
    const room = free.reduce((a, s) => a + s.slots, 0);
    if (np > room && !opts.oversubscribe) {
      const shown = names.map((h) => `${h}:${capacity.get(h)! - (used.get(h) ?? 0)}`).join(", ");
      throw new TsmpiError(
        "ERR_TSMPI_ARG",
        `part ${k + 1}: ${np} ranks requested but its hosts have ${room} free slots (${shown}); use --oversubscribe to allow it`,
      );
    }
    const mine = room > 0 ? mapRanks(free, Math.min(np, room), { mapBy: opts.mapBy, oversubscribe: false }) : [];
    if (np > room)
      mine.push(
        ...mapRanks(
          names.map((host) => ({ host, slots: capacity.get(host)! })),
          np - room,
          { mapBy: opts.mapBy, oversubscribe: true },
        ),
      );
    for (const h of mine) used.set(h, (used.get(h) ?? 0) + 1);
    hosts.push(...mine);
  });
  return hosts;
}
