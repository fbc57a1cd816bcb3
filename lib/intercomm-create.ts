/**
 * `MPI_Intercomm_create`'s agreement, behind `comm.Create_intercomm(local_leader, peer_comm,
 * remote_leader, tag)`: the two leaders exchange a fresh context of each group and the groups'
 * members over `peer_comm`, both derive the intercommunicator's context from the pair (so it
 * differs from every communicator either side has), and each leader tells its group (a
 * broadcast over the local group, which also carries a leader's failure to its whole group).
 * `intercomm.ts` makes the `Intercomm` from what they agreed.
 *
 * Not supported yet: a leader whose own arguments are bad fails its group, but the other leader
 * keeps waiting for it over `peer_comm` (the failing group's error ends the job unless caught).
 *
 * @module
 */
import type { CommInit } from "./comm-base.js";
import { Comm, hashInts } from "./comm.js";
import { TsmpiError, describeValue, type TsmpiErrorCode } from "./errors.js";
import { deriveContext } from "./job/runtime.js";
import { checkRoot, checkSendTag } from "./validate.js";

/**
 * The intercommunicator's context from both groups' fresh contexts and members, the same on
 * both sides whichever calls it. The members take part so that two pairs with the same fresh
 * contexts (groups made alike, e.g. from COMM_SELF) still differ.
 */
function pairContext(a: readonly [number, readonly number[]], b: readonly [number, readonly number[]]): number {
  const [lo, hi] = a[0] < b[0] || (a[0] === b[0] && (a[1][0] ?? 0) < (b[1][0] ?? 0)) ? [a, b] : [b, a];
  const base = deriveContext(lo[0], (hi[0] % 2 ** 32) | 0, Math.floor(hi[0] / 2 ** 32));
  return deriveContext(base, hashInts(lo[1]) | 0, hashInts(hi[1]));
}

/** What leaders exchange over peer_comm: a fresh context and the group's world ranks. */
type Offer = [number, number[]];

function checkOffer(value: unknown): Offer {
  const ok =
    Array.isArray(value) &&
    value.length === 2 &&
    Number.isSafeInteger(value[0]) &&
    Array.isArray(value[1]) &&
    (value[1] as unknown[]).every((w) => Number.isInteger(w) && (w as number) >= 0);
  if (!ok)
    throw new TsmpiError(
      "ERR_TSMPI_ARG",
      `Create_intercomm: the remote leader sent ${describeValue(value)}, not a context and a group (is it calling Create_intercomm with this tag?)`,
    );
  return value as Offer;
}

/**
 * @internal `Create_intercomm`: the leaders swap a fresh context and their group over `peer_comm`,
 * then tell their group; `make` builds the intercommunicator (`intercomm.ts`) from the local
 * group's `init` with the agreed context and the remote group.
 */
export async function createIntercomm<I>(
  local: Comm,
  init: CommInit,
  localLeader: number,
  peerComm: Comm,
  remoteLeader: number,
  tag: number,
  make: (init: CommInit, remote: number[]) => I,
): Promise<I> {
  type Told = { ctx: number; remote: number[] } | { code: TsmpiErrorCode; message: string };
  let told: Told | null = null;
  if (local.rank === localLeader) {
    try {
      if (!(peerComm instanceof Comm) || peerComm.Is_inter())
        throw new TsmpiError("ERR_TSMPI_ARG", `peer_comm must be an intracommunicator, got ${describeValue(peerComm)}`);
      checkRoot(remoteLeader, peerComm.size, "remote_leader");
      checkSendTag(tag);
      const mine: Offer = [init.ctx, [...init.group]];
      const theirs = checkOffer(await peerComm.sendrecv(mine, remoteLeader, tag, remoteLeader, tag));
      const overlap = theirs[1].find((w) => init.group.includes(w));
      if (overlap !== undefined)
        throw new TsmpiError("ERR_TSMPI_ARG", `Create_intercomm: the groups must be disjoint, world rank ${overlap} is in both`);
      told = { ctx: pairContext(mine, theirs), remote: theirs[1] };
    } catch (err) {
      const e = err instanceof TsmpiError ? err : new TsmpiError("ERR_TSMPI_INTERNAL", String(err), { cause: err });
      told = { code: e.code, message: e.message };
    }
  }
  const got = await local.bcast(told, localLeader);
  if (!got || "code" in got)
    throw new TsmpiError(got?.code ?? "ERR_TSMPI_INTERNAL", got?.message ?? "Create_intercomm: the leader sent nothing");
  return make({ rt: init.rt, ctx: got.ctx, rank: init.rank, group: init.group }, got.remote);
}
