/**
 * Host specifications as mpiexec users write them — `-H node1:2,node2`, Open MPI and Hydra
 * hostfiles — and the mapping of ranks onto those hosts (`--map-by slot|node`, `-ppn`).
 *
 * Not supported:
 * - Host names that are not plain DNS-style names (letters, digits, `.`, `-`, `_`): IPv6
 *   addresses, `user@host`, and hostlist expressions such as `node[1-4]` in `-H` or in a
 *   hostfile (expand those with `expandHostlist` from `./hostlist.js` first).
 * - Open MPI hostfile keys other than `slots=` and `max_slots=` (`max_slots` is checked and
 *   ignored; no limit is enforced from it), and Hydra per-host options after `host:N`
 *   (`ifhn=`, `env=`).
 * - Open MPI's other mappers (`ppr:N:socket`, `--rank-by`, rankfiles) and binding.
 *
 * @module
 */

import { TsmpiError, describeValue } from "../lib/errors.js";

/** A host and how many ranks it takes before it counts as oversubscribed. */
export interface HostSlots {
  /** Host name as written (not resolved, not lower-cased). */
  host: string;
  /** Number of slots, a positive integer. */
  slots: number;
}

/** Options of {@link mapRanks}. */
export interface MapOptions {
  /**
   * Ranks per host (Hydra/Intel `-ppn`). When given it replaces every host's slot count as
   * the number of ranks the host takes per pass.
   */
  ppn?: number;
  /** `slot`: fill each host's slots before the next host; `node`: deal ranks round-robin. */
  mapBy: "slot" | "node";
  /** Allow more ranks than slots; the placement pattern then repeats from the first host. */
  oversubscribe: boolean;
}

const HOST_NAME = /^[A-Za-z0-9_][A-Za-z0-9_.-]*$/;

function argError(message: string): TsmpiError {
  return new TsmpiError("ERR_TSMPI_ARG", message);
}

/** Parses a slot count; `where` prefixes the error message. */
function parseSlots(where: string, text: string, key = "slots"): number {
  if (!/^\d+$/.test(text) || !(Number(text) >= 1) || !Number.isSafeInteger(Number(text))) {
    throw argError(`${where}: ${key} must be a positive integer, got ${describeValue(text)}`);
  }
  return Number(text);
}

function checkHost(where: string, host: string): string {
  if (!HOST_NAME.test(host)) {
    throw argError(`${where}: host name must be letters, digits, ".", "-" or "_", got ${describeValue(host)}`);
  }
  return host;
}

/** Merges repeated hosts (slots add), keeping the position of each host's first occurrence. */
function merge(entries: HostSlots[]): HostSlots[] {
  const byHost = new Map<string, HostSlots>();
  for (const { host, slots } of entries) {
    const seen = byHost.get(host);
    if (seen) seen.slots += slots;
    else byHost.set(host, { host, slots });
  }
  return [...byHost.values()];
}

/**
 * Parses a `-H`/`--host` value: comma-separated `host` or `host:slots` items. A host without a
 * count has 1 slot; a repeated host adds its slots (Open MPI: `-H a,a` is `a` with 2 slots).
 *
 * @param spec - e.g. `node1:2,node2:2` or `node1,node1,node2`.
 * @returns the hosts in order of first appearance, with their total slots.
 * @throws {@link TsmpiError} `ERR_TSMPI_ARG` for an empty spec or item, a bad host name, or a
 *   slot count that is not a positive integer; the message names the item:
 *   `--host item 2 "node2:x": slots must be a positive integer, got "x"`.
 *
 * @example
 * ```ts
 * parseHostSpec("node1:2,node2,node2"); // [{ host: "node1", slots: 2 }, { host: "node2", slots: 2 }]
 * ```
 */
export function parseHostSpec(spec: string): HostSlots[] {
  if (typeof spec !== "string" || spec.trim() === "") {
    throw argError(`--host must be a non-empty list like "node1:2,node2", got ${describeValue(spec)}`);
  }
  return merge(
    spec.split(",").map((raw, i) => {
      const item = raw.trim();
      const where = `--host item ${i + 1} ${describeValue(item)}`;
      if (item === "") throw argError(`${where}: empty host`);
      const colon = item.indexOf(":");
      if (colon < 0) return { host: checkHost(where, item), slots: 1 };
      return { host: checkHost(where, item.slice(0, colon)), slots: parseSlots(where, item.slice(colon + 1)) };
    }),
  );
}

/** Parses one non-blank, comment-free hostfile line. */
function parseHostfileLine(where: string, line: string): HostSlots {
  const [first, ...rest] = line.split(/\s+/) as [string, ...string[]];
  const colon = first.indexOf(":");
  if (colon >= 0) {
    // Hydra: host:N, nothing after it.
    if (rest.length > 0) throw argError(`${where}: expected "host:N" alone, got more after it`);
    return { host: checkHost(where, first.slice(0, colon)), slots: parseSlots(where, first.slice(colon + 1)) };
  }
  // Open MPI: host [slots=N] [max_slots=M]; bare host = 1 slot.
  const host = checkHost(where, first);
  let slots: number | undefined;
  for (const kv of rest) {
    const eq = kv.indexOf("=");
    const key = eq < 0 ? kv : kv.slice(0, eq);
    const value = eq < 0 ? "" : kv.slice(eq + 1);
    if (key === "slots") {
      if (slots !== undefined) throw argError(`${where}: slots given twice`);
      slots = parseSlots(where, value);
    } else if (key === "max_slots" || key === "max-slots") {
      parseSlots(where, value, key);
    } else {
      throw argError(`${where}: unknown key ${describeValue(key)} (expected slots= or max_slots=)`);
    }
  }
  return { host, slots: slots ?? 1 };
}

/**
 * Parses a hostfile. Each line is one of
 * - Open MPI: `node1 slots=4` (optional `max_slots=N`, checked and ignored);
 * - Hydra (MPICH, Intel MPI): `node1:4`;
 * - a bare host name: 1 slot;
 * - blank, or a `#` comment (whole-line or trailing).
 *
 * Repeated hosts are merged, their slots added, at the position of the first occurrence.
 *
 * @param text - the file's contents (`\n` or `\r\n` line ends).
 * @returns the hosts in file order with their slots; empty when the file lists no host.
 * @throws {@link TsmpiError} `ERR_TSMPI_ARG` naming the 1-based line number and its content,
 *   e.g. `hostfile line 3 "node3 slots=x": slots must be a positive integer, got "x"`.
 *
 * @example
 * ```ts
 * parseHostfile("# cluster\nnode1 slots=2\nnode2:2\nnode3\n");
 * // [{ host: "node1", slots: 2 }, { host: "node2", slots: 2 }, { host: "node3", slots: 1 }]
 * ```
 */
export function parseHostfile(text: string): HostSlots[] {
  if (typeof text !== "string") throw argError(`hostfile text must be a string, got ${describeValue(text)}`);
  const entries: HostSlots[] = [];
  text.split(/\r?\n/).forEach((raw, i) => {
    const hash = raw.indexOf("#");
    const line = (hash < 0 ? raw : raw.slice(0, hash)).trim();
    if (line !== "") entries.push(parseHostfileLine(`hostfile line ${i + 1} ${describeValue(raw.trim())}`, line));
  });
  return merge(entries);
}

function checkPositiveInteger(name: string, value: unknown): number {
  if (typeof value !== "number" || !Number.isSafeInteger(value) || value < 1) {
    throw argError(`${name} must be a positive integer, got ${describeValue(value)}`);
  }
  return value;
}

/**
 * The first `limit` entries of one pass of placement (host indexes): each host takes
 * `capacity[h]` ranks, in the order of `mapBy`. Stops early so huge slot counts cost nothing.
 */
function onePass(capacity: number[], mapBy: "slot" | "node", limit: number): number[] {
  const pass: number[] = [];
  if (mapBy === "slot") {
    for (let h = 0; h < capacity.length && pass.length < limit; h++) {
      for (let k = 0; k < capacity[h]! && pass.length < limit; k++) pass.push(h);
    }
  } else {
    const most = capacity.reduce((a, b) => Math.max(a, b), 0);
    for (let round = 0; round < most && pass.length < limit; round++) {
      for (let h = 0; h < capacity.length && pass.length < limit; h++) {
        if (round < capacity[h]!) pass.push(h);
      }
    }
  }
  return pass;
}

/**
 * Assigns each of `np` ranks a host. Each host has a capacity: its slots, or `ppn` when given.
 * One *pass* places as many ranks as the capacities add up to:
 * - `mapBy: "slot"` (Open MPI's default, `--map-by slot`; with `ppn`, Hydra's `-ppn` blocks):
 *   host 0 takes ranks 0..c0-1, host 1 the next c1 ranks, and so on.
 * - `mapBy: "node"` (Open MPI `--map-by node`): ranks are dealt one at a time round-robin over
 *   the hosts, skipping a host once it has its capacity.
 *
 * Ranks are placed in as much of the first pass as needed. If `np` exceeds the total capacity,
 * it is an error unless `oversubscribe`; then further passes repeat the same pattern from the
 * first host (host 0 gets its next c0 ranks, …).
 *
 * @param hosts - hosts with slots, as from {@link parseHostSpec} or {@link parseHostfile}.
 * @param np - number of ranks, a positive integer.
 * @param options - see {@link MapOptions}.
 * @returns an array of length `np`: element `r` is the host name of rank `r`.
 * @throws {@link TsmpiError} `ERR_TSMPI_ARG` for no hosts, a bad `np`, `ppn`, `mapBy` or slot
 *   count, or too few slots without `oversubscribe`:
 *   `5 ranks requested but the hosts provide 4 slots (node1:2, node2:2); use --oversubscribe to allow it`.
 *
 * @example
 * ```ts
 * const hosts = [{ host: "a", slots: 2 }, { host: "b", slots: 2 }];
 * mapRanks(hosts, 4, { mapBy: "slot", oversubscribe: false });          // ["a", "a", "b", "b"]
 * mapRanks(hosts, 4, { mapBy: "node", oversubscribe: false });          // ["a", "b", "a", "b"]
 * mapRanks(hosts, 6, { mapBy: "slot", ppn: 1, oversubscribe: true });   // ["a", "b", "a", "b", "a", "b"]
 * ```
 */
export function mapRanks(hosts: readonly HostSlots[], np: number, options: MapOptions): string[] {
  if (!Array.isArray(hosts) || hosts.length === 0) {
    throw argError(`hosts must list at least one host, got ${describeValue(hosts)}`);
  }
  checkPositiveInteger("np", np);
  if (typeof options !== "object" || options === null) {
    throw argError(`options must be an object { mapBy, oversubscribe, ppn? }, got ${describeValue(options)}`);
  }
  const { ppn, mapBy, oversubscribe } = options;
  if (typeof oversubscribe !== "boolean") {
    throw argError(`oversubscribe must be a boolean, got ${describeValue(oversubscribe)}`);
  }
  if (mapBy !== "slot" && mapBy !== "node") {
    throw argError(`mapBy must be "slot" or "node", got ${describeValue(mapBy)}`);
  }
  if (ppn !== undefined) checkPositiveInteger("ppn", ppn);
  const capacity = hosts.map((h, i) => ppn ?? checkPositiveInteger(`hosts[${i}].slots`, h.slots));
  const total = capacity.reduce((a, b) => a + b, 0);
  if (np > total && !oversubscribe) {
    const shown = hosts.slice(0, 8).map((h, i) => `${h.host}:${capacity[i]}`);
    if (hosts.length > 8) shown.push(`… ${hosts.length - 8} more`);
    throw argError(
      `${np} ranks requested but the hosts provide ${total} slots (${shown.join(", ")}` +
        `${ppn !== undefined ? `, ppn ${ppn}` : ""}); use --oversubscribe to allow it`,
    );
  }
  // With np > total the pass is complete (total entries) and repeats; else it has np entries.
  const pass = onePass(capacity, mapBy, np);
  return Array.from({ length: np }, (_, rank) => hosts[pass[rank % pass.length]!]!.host);
}
