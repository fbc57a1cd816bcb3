/**
 * Run by `tsmpirun -n N --info` as each rank: which host, local rank and GPU this rank sees, the
 * path it uses to each peer and how it waits. The ranks join the job and print in rank order.
 *
 * @module
 */
import os from "node:os";
import { COMM_WORLD as comm, transportInfo } from "../lib/index.js";
import { nativeInfo } from "../lib/gpu/native-info.js";

// Every rank has joined and chosen its paths once the barrier completes (a rank that finished
// first cannot make a slower one miss its inbox).
await comm.barrier();
const info = nativeInfo();
const gpu =
  info.backend === "cuda"
    ? `device ${info.device} of ${info.deviceCount} (${info.devices.find((d) => d.index === info.device)?.name ?? "?"})`
    : `no GPU: cpu backend${info.gpuReason ? ` (${info.gpuReason})` : ""}`;
const t = transportInfo();
const peers = t.paths.flatMap((p, r) => (p === "self" ? [] : [`${r} ${p}`])).join(", ") || "none";
const wait = t.wait
  ? `${t.wait.mode}${t.wait.mode === "sleep" ? "" : ` ${t.wait.spinUs} us`} (${t.wait.ranksHere} ranks here, ${t.wait.cores} cores)`
  : "no shared memory";
const refused = Object.entries(t.refused)
  .map(([r, why]) => `; rank ${r} not on shared memory: ${why}`)
  .join("");
const token = new Uint8Array(0);
if (comm.rank > 0) await comm.Recv(token, comm.rank - 1);
process.stdout.write(
  `rank ${comm.rank} on ${os.hostname()}, local rank ${info.localRank}, CUDA_VISIBLE_DEVICES=${info.visibleDevices ?? "(unset)"}: ${gpu}; peers: ${peers}; waits: ${wait}${refused}\n`,
);
if (comm.rank < comm.size - 1) await comm.Send(token, comm.rank + 1);
