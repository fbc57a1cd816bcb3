/**
 * `tsmpirun --info`: versions and capabilities, for bug reports and for checking an install.
 * With `-n N` each of N ranks also reports the GPU it would use (`info-rank.ts`).
 *
 * @module
 */
import fs from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { nativeInfo, type NativeInfo } from "../lib/gpu/native-info.js";
import { msgpackrNative } from "../lib/serializer.js";
import { loadZmq } from "../lib/transport/zmq.js";

const require = createRequire(import.meta.url);

/** The version of an installed package, found from its entry point (its `exports` may hide package.json). */
function packageVersion(name: string): string {
  try {
    let dir = path.dirname(require.resolve(name));
    for (;;) {
      const file = path.join(dir, "package.json");
      if (fs.existsSync(file)) {
        const pkg = JSON.parse(fs.readFileSync(file, "utf8")) as { name?: string; version?: string };
        if (pkg.name === name) return pkg.version ?? "unknown";
      }
      const up = path.dirname(dir);
      if (up === dir) return "unknown";
      dir = up;
    }
  } catch {
    return "not found";
  }
}

/** The lines describing the native addon and the CUDA stack this process sees. */
export function nativeLines(info: NativeInfo): [string, string][] {
  const addon = info.addon === "loaded" ? "loaded" : `${info.addon}${info.reason ? ` (${info.reason})` : ""}; JavaScript fallback in use`;
  const devices = info.devices.map(
    (d) => `${d.index}: ${d.name}, ${(d.totalMemory / 2 ** 30).toFixed(1)} GiB, compute ${d.computeCapability}`,
  );
  return [
    ["native addon", addon],
    ["cuda compiled in", info.cudaCompiled ? `yes (runtime ${info.runtimeVersion ?? "unknown"})` : "no"],
    ["cuda driver", info.driverVersion ? `${info.driverVersion} (${info.driverLibrary})` : "not found"],
    ["nvrtc", info.nvrtc ? `${info.nvrtc} (${info.nvrtcLibrary})` : "not found"],
    ["CUDA_VISIBLE_DEVICES", info.visibleDevices ?? "(unset)"],
    ["devices", devices.length ? `${devices.length}: ${devices.join("; ")}` : "0"],
    [
      "gpu backend",
      info.backend === "cuda"
        ? `cuda (device ${info.device} for local rank ${info.localRank})`
        : `cpu${info.gpuReason ? ` (${info.gpuReason})` : ""}`,
    ],
  ];
}

/** Prints one `name: value` line per fact. */
export async function printInfo(): Promise<void> {
  const zmq = loadZmq();
  const lines: [string, string][] = [
    ["tsmpi", packageVersion("tsmpi")],
    ["node", process.version],
    ["zeromq.js", packageVersion("zeromq")],
    ["libzmq", zmq.version],
    [
      "zeromq capabilities",
      Object.entries(zmq.capability)
        .filter(([, on]) => on)
        .map(([k]) => k)
        .join(" "),
    ],
    ["msgpackr", `${packageVersion("msgpackr")} (native acceleration: ${msgpackrNative() ? "yes" : "no"})`],
    ...nativeLines(nativeInfo()),
  ];
  for (const [k, v] of lines) process.stdout.write(`${k}: ${v}\n`);
}
