/**
 * Where a running job puts the processes it starts (a `PoolExecutor`'s workers, `Comm.Spawn`'s
 * children): the free slots of its MPI universe. One rule for both, kept here, below the API:
 *
 * - hosts given to tsmpirun (`--host`/`--hostfile`, passed to the ranks as `TSMPI_UNIVERSE`,
 *   `host:slots,...`): one entry per slot, in order; the first `worldSize` (as many as the job's
 *   `COMM_WORLD`, which fills the slots first with the default `--map-by slot`) are taken, the rest
 *   are free. What earlier pools or spawns hold is not counted: each starts at the first free slot.
 * - a SLURM allocation: its tasks less `worldSize` are free ({@link freeTasks}); srun places them
 *   (`tsmpirun --launcher slurm --oversubscribe`).
 *
 * @module
 */
import { numberSetting } from "../config.js";

/** The hosts given to tsmpirun (`TSMPI_UNIVERSE`), one entry per slot; none outside such a job. */
export function universeSlots(): string[] {
  const universe = process.env.TSMPI_UNIVERSE;
  if (!universe) return [];
  return universe.split(",").flatMap((item) => {
    const [host, n] = item.split(":");
    return new Array<string>(Math.max(1, Number(n) || 1)).fill(host!);
  });
}

/** The universe's slots less the first `worldSize` (those of the job's own ranks). */
export function freeSlots(worldSize: number): string[] {
  const slots = universeSlots();
  return slots.slice(Math.min(worldSize, slots.length));
}

/**
 * Inside a SLURM allocation, its tasks less `worldSize` (at least 0); outside one, undefined. The
 * allocation's tasks: `TSMPI_UNIVERSE_SIZE` (tsmpirun sets it to them in an allocation, as a rank's
 * `SLURM_NTASKS` counts only its step's), else `SLURM_NTASKS` (a direct srun's).
 */
export function freeTasks(worldSize: number): number | undefined {
  const tasks = numberSetting("TSMPI_UNIVERSE_SIZE") ?? Number(process.env.SLURM_NTASKS);
  if (!process.env.SLURM_JOB_ID || !Number.isInteger(tasks) || tasks < 1) return undefined;
  return Math.max(0, tasks - worldSize);
}

/** tsmpirun's arguments that start processes through srun, anywhere in the allocation. */
export const SRUN_PLACEMENT: readonly string[] = ["--launcher", "slurm", "--oversubscribe"];

/** How many entries of `hosts` name each host, in order of first appearance. */
export function countHosts(hosts: readonly string[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const h of hosts) counts.set(h, (counts.get(h) ?? 0) + 1);
  return counts;
}

/**
 * tsmpirun's `--host` for one process per entry of `hosts`: `["--host", "a:2,b:1"]`, hosts in
 * order of first appearance, each with its entries' count or the slots `slots` gives it.
 */
export function hostArgs(hosts: readonly string[], slots?: ReadonlyMap<string, number>): string[] {
  if (hosts.length === 0) return [];
  return ["--host", [...countHosts(hosts)].map(([h, n]) => `${h}:${slots?.get(h) ?? n}`).join(",")];
}
