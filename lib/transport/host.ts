/**
 * Host identity read from `/proc`: which processes share this rank's memory domain (kernel boot
 * and pid namespace, so that a pid names the same process), and which ancestor process may read
 * this rank's memory. The choice of path per peer (`path.ts`) and single-copy transfers
 * (`p2p/protocol.ts`) decide from it. Linux only: elsewhere every answer is "unknown", and the
 * paths that need it stay off.
 *
 * @module
 */
import { readFileSync, readlinkSync } from "node:fs";

/**
 * Names the kernel boot and process namespace this process runs in: two ranks may exchange
 * single-copy messages only when theirs agree, as only then does a pid name the same process
 * (containers or hosts that share a hostname do not). "" when it cannot be read (not Linux).
 */
export function memoryDomain(): string {
  try {
    const boot = readFileSync("/proc/sys/kernel/random/boot_id", "utf8").trim();
    return `${boot}/${readlinkSync("/proc/self/ns/pid")}`;
  } catch {
    return "";
  }
}

/** The parent pid of `pid` (from /proc), or 0 when it cannot be read. */
function parentOf(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "latin1");
    return Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]) || 0;
  } catch {
    return 0;
  }
}

/**
 * The nearest process that is an ancestor of `self` and of every pid in `peers` (not `self`
 * itself, not init), or undefined when there is none (or a chain cannot be read).
 */
export function commonAncestor(self: number, peers: readonly number[]): number | undefined {
  const others = peers.map((p) => new Set(lineage(p).slice(1)));
  return lineage(self)
    .slice(1)
    .find((a) => others.every((s) => s.has(a)));
}

/** `pid` and its ancestors below init, nearest first (as far as /proc can be read). */
function lineage(pid: number): number[] {
  const out = [pid];
  for (let p = parentOf(pid); p > 1 && out.length < 4096; p = parentOf(p)) out.push(p);
  return out;
}

/** The command name of `pid` (`/proc/<pid>/comm`), or "" when it cannot be read. */
function commandOf(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/comm`, "latin1").trim();
  } catch {
    return "";
  }
}

/**
 * The process this rank names under Yama as the one (with its descendants) that may read its
 * memory: the nearest process that is `self` or an ancestor of it and is `peers`' ancestor or
 * one of them, accepted only when it belongs to the job: the tsmpirun that started this host's
 * ranks (`launcherPid`, from `TSMPI_LAUNCHER_PID`), a `slurmstepd` (srun), or a rank of the job
 * (a PoolExecutor's parent, whose workers descend from it). Anything else gives undefined, and
 * single-copy reads stay off: ranks started over ssh have the system's sshd as their nearest
 * common ancestor, and naming it would let every ssh session of the user read them.
 */
export function peerTracer(
  self: number,
  peers: readonly number[],
  launcherPid = Number(process.env.TSMPI_LAUNCHER_PID) || 0,
): number | undefined {
  const others = peers.map((p) => new Set(lineage(p)));
  const nearest = lineage(self).find((a) => others.every((s) => s.has(a)));
  if (nearest === undefined) return undefined;
  const ofJob = nearest === launcherPid || nearest === self || peers.includes(nearest) || commandOf(nearest) === "slurmstepd";
  return ofJob ? nearest : undefined;
}
