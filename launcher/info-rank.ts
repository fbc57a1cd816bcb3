/**
 * Run by `tsmpirun -n N --info` as each rank: which host, local rank and GPU this rank sees.
 *
 * @module
 */
import os from "node:os";
import { nativeInfo } from "../lib/native.js";

const info = nativeInfo();
const gpu = info.backend === "cuda" ? `device ${info.device} of ${info.deviceCount} (${info.devices.find((d) => d.index === info.device)?.name ?? "?"})` : `no GPU: cpu backend${info.gpuReason ? ` (${info.gpuReason})` : ""}`;
process.stdout.write(`rank ${process.env.TSMPI_RANK} on ${os.hostname()}, local rank ${info.localRank}, CUDA_VISIBLE_DEVICES=${info.visibleDevices ?? "(unset)"}: ${gpu}\n`);
