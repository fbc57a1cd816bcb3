#!/usr/bin/env node
// Decides whether the native addon is built with CUDA, for binding.gyp and native/build.mjs.
//
//   node native/detect-cuda.mjs --enabled   prints true or false
//   node native/detect-cuda.mjs --home      prints the CUDA toolkit directory
//   node native/detect-cuda.mjs --libdir    prints the directory holding libcudart_static.a
//   node native/detect-cuda.mjs --gencode   prints nvcc's -gencode flags
//
// CUDA is used when a toolkit with nvcc, cuda_runtime.h and libcudart_static.a is found in
// $CUDA_HOME, $CUDA_PATH, beside the nvcc on PATH, or in /usr/local/cuda. TSMPI_CUDA=0 turns it
// off. TSMPI_CUDA_ARCHS (default "80,90") lists the GPU architectures compiled to machine code;
// PTX for the highest is added so newer GPUs can run the kernels too.
import { accessSync, constants, existsSync, realpathSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const DEFAULT_HOME = "/usr/local/cuda";
const DEFAULT_ARCHS = "80,90";

function nvccOnPath() {
  for (const dir of (process.env.PATH ?? "").split(path.delimiter)) {
    if (!dir) continue;
    const candidate = path.join(dir, "nvcc");
    try {
      accessSync(candidate, constants.X_OK);
      return path.dirname(path.dirname(realpathSync(candidate)));
    } catch {
      // not here
    }
  }
  return undefined;
}

function cudartDir(home) {
  const dirs = [path.join(home, "lib64"), path.join(home, "lib"), path.join(home, "targets", `${process.arch === "arm64" ? "sbsa" : "x86_64"}-linux`, "lib")];
  return dirs.find((dir) => existsSync(path.join(dir, "libcudart_static.a")));
}

function isToolkit(home) {
  try {
    accessSync(path.join(home, "bin", "nvcc"), constants.X_OK);
  } catch {
    return false;
  }
  return existsSync(path.join(home, "include", "cuda_runtime.h")) && cudartDir(home) !== undefined;
}

/**
 * Finds the CUDA toolkit to build with.
 *
 * @returns `{ enabled, home, libdir, archs, reason }`: `reason` says why CUDA is off when it is.
 */
export function detectCuda(env = process.env) {
  const archs = (env.TSMPI_CUDA_ARCHS ?? DEFAULT_ARCHS).split(/[\s,;]+/).filter(Boolean).map((a) => a.replace(/^sm_/, ""));
  if (env.TSMPI_CUDA === "0") return { enabled: false, home: DEFAULT_HOME, libdir: "", archs, reason: "TSMPI_CUDA=0" };
  const candidates = [env.CUDA_HOME, env.CUDA_PATH, nvccOnPath(), DEFAULT_HOME].filter(Boolean);
  const home = candidates.find(isToolkit);
  if (!home) {
    return {
      enabled: false,
      home: candidates[0] ?? DEFAULT_HOME,
      libdir: "",
      archs,
      reason: `no CUDA toolkit (nvcc, cuda_runtime.h, libcudart_static.a) in ${[...new Set(candidates)].join(", ")}`,
    };
  }
  return { enabled: true, home, libdir: cudartDir(home), archs, reason: "" };
}

/** nvcc's -gencode flags: machine code for every listed architecture, PTX for the highest. */
export function gencodeFlags(archs) {
  const flags = archs.flatMap((arch) => ["-gencode", `arch=compute_${arch},code=sm_${arch}`]);
  const highest = archs.reduce((a, b) => (Number(b) > Number(a) ? b : a), archs[0] ?? "80");
  return [...flags, "-gencode", `arch=compute_${highest},code=compute_${highest}`];
}

if (process.argv[1] && fileURLToPath(import.meta.url) === realpathSync(process.argv[1])) {
  const found = detectCuda();
  const flag = process.argv[2] ?? "--enabled";
  const answers = {
    "--enabled": String(found.enabled),
    "--home": found.home,
    "--libdir": found.libdir || path.join(found.home, "lib64"),
    "--gencode": gencodeFlags(found.archs).join(" "),
  };
  if (!(flag in answers)) {
    process.stderr.write(`detect-cuda: unknown flag ${flag} (use ${Object.keys(answers).join(", ")})\n`);
    process.exit(2);
  }
  process.stdout.write(answers[flag] + "\n");
}
