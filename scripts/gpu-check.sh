#!/usr/bin/env bash
# The GPU check of tsmpi, one script for one short run on a machine with an NVIDIA GPU (an H100
# or H200 with CUDA, nvcc, python3 with CuPy and numpy, but no Node, npm or network):
#
#   1. builds the native addon with CUDA for sm_90 with that machine's nvcc (through
#      native/build.mjs and binding.gyp, as `npm install` does; the build carried from here is
#      kept if that fails, and the log says so),
#   2. `tsmpirun --info -n 2`,
#   3. side by side, interleaved: the built-in Monte Carlo pi per rank against the same
#      Philox-4x32-10 computation in a CuPy RawKernel (scripts/cupy-bench.py), kernel-only and
#      wall time of the awaited call; DeviceArray host<->device copies against cupy.asarray/.get();
#      Allreduce of a 16 MiB DeviceArray (and of a host array) at 2 ranks;
#   4. every example at 1 and 2 ranks,
#   5. the whole test suite, the GPU-only tests included, in the time left of the budget
#      (GPU_CHECK_BUDGET seconds, default 540: give the device command a limit of about 580),
#
# all logged under $OUT (default ./gpu-check-out): gpu-check.log (everything, with a summary at
# the end), one log per step, bench-*.jsonl and bench-summary.txt. It exits non-zero when a
# step failed. Expected: about 2 minutes before the suite on an H200; each step has a time limit.
#
# Steps (for GPU_CHECK_ONLY): environment build info bench-pi bench-copy bench-allreduce
# bench-summary examples tests; in --dry mode paths parse cuda-sources cupy-kernel-counts info
# tests-load examples bench-pi bench-copy bench-allreduce bench-summary.
#
# Modes:
#   scripts/gpu-check.sh --pack   here, before: builds, then packs node, node_modules (the shared
#                                 tools/gpu-pack.sh), npm's node-gyp and the Node-API headers into
#                                 .gpu/; prints what to carry and the command to run there
#   scripts/gpu-check.sh          there (sources .gpu/unpack.sh when node is not on PATH)
#   scripts/gpu-check.sh --dry    here, without a GPU: checks every step is wired (paths, the
#                                 commands parse, the CUDA sources compile with nvcc, the CuPy
#                                 kernel counts what tsmpi counts, the benches run on the CPU
#                                 backend, the test suite loads) in about a minute
set -uo pipefail
export PYTHONDONTWRITEBYTECODE=1 # no __pycache__ in the tree

mode=run
case "${1:-}" in
  --dry) mode=dry ;;
  --pack) mode=pack ;;
  "") ;;
  *) echo "usage: scripts/gpu-check.sh [--dry | --pack]" >&2; exit 2 ;;
esac

top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$top"
PACK_TOOL=${GPU_PACK_TOOL:-$top/../shared/tools/gpu-pack.sh}
[ -f "$PACK_TOOL" ] || PACK_TOOL=/work/shared/tools/gpu-pack.sh

# ---------------------------------------------------------------------------------------------
# --pack: everything a GPU machine without Node needs, into .gpu/ (ignored by git).
if [ "$mode" = pack ]; then
  set -e
  npm run build >/dev/null
  [ -f build/Release/tsmpi_native.node ] || npm run install
  mkdir -p .gpu
  if [ -d .git ]; then
    bash "$PACK_TOOL" | tee .gpu/pack.out
  else
    # A git worktree (.git is a file): the pack tool writes .git/info/exclude, so run it in a
    # scratch checkout that hard-links node_modules.
    stage=.gpu/stage
    rm -rf "$stage" && mkdir -p "$stage" && git -C "$stage" init -q && cp -al node_modules "$stage/"
    cp -p .gpu/node.xz .gpu/node.version "$stage/.gpu/" 2>/dev/null || mkdir -p "$stage/.gpu"
    (cd "$stage" && bash "$PACK_TOOL") | tee .gpu/pack.out
    mv -f "$stage"/.gpu/node.xz "$stage"/.gpu/node.version "$stage"/.gpu/node_modules.tar.xz .gpu/
    rm -rf "$stage"
  fi
  # node-gyp is npm's (its dependencies are npm's too): carry npm whole.
  npm_dir=$(npm root -g)/npm
  tar -C "$(dirname "$npm_dir")" -cf - npm | xz -T0 -6 > .gpu/npm.tar.xz
  # The Node-API headers node-gyp compiles against (--nodedir), no more: the addon uses only Node-API.
  headers=$(node -p 'process.config.variables.node_prefix || "/usr"')/include/node
  [ -f "$headers/node_api.h" ] || headers=$(dirname "$(command -v node)")/../include/node
  rm -rf .gpu/nodedir && mkdir -p .gpu/nodedir/include/node
  cp "$headers"/{common.gypi,config.gypi,node_api.h,node_api_types.h,js_native_api.h,js_native_api_types.h,node_version.h} .gpu/nodedir/include/node/
  tar -C .gpu -cf - nodedir | xz -T0 -6 > .gpu/nodedir.tar.xz && rm -rf .gpu/nodedir
  { tail -1 .gpu/pack.out
    echo 'mkdir -p /tmp/gpunpm && xz -dc .gpu/npm.tar.xz | tar -C /tmp/gpunpm -xf - && xz -dc .gpu/nodedir.tar.xz | tar -C /tmp/gpunpm -xf -;'
  } > .gpu/unpack.sh
  du -ch .gpu/*.xz | tail -1 | sed 's/total/.gpu total/'
  echo "carry: [\".gpu\", \"build\", \"dist\"]   command: bash scripts/gpu-check.sh   (timeout_s 580)"
  exit 0
fi

# ---------------------------------------------------------------------------------------------
OUT=${OUT:-$top/gpu-check-out}
mkdir -p "$OUT"
exec > >(tee "$OUT/gpu-check.log") 2>&1
summary=()
failures=0
started=$(date +%s)

# step NAME SECONDS COMMAND: runs COMMAND (a bash string) under a time limit, logs it to
# $OUT/NAME.log and the main log, and records ok/FAILED in the summary. GPU_CHECK_ONLY=a,b runs
# only the steps named (to rerun part of a check).
step() {
  local name=$1 limit=$2 cmd=$3 t0 rc
  if [ -n "${GPU_CHECK_ONLY:-}" ] && [[ ",$GPU_CHECK_ONLY," != *",$name,"* ]]; then
    summary+=("skipped $name (not in GPU_CHECK_ONLY)")
    return
  fi
  if [ -n "${PARSE_ONLY:-}" ]; then
    if bash -n -c "$cmd"; then summary+=("parsed  run-mode step $name"); else summary+=("FAILED  run-mode step $name does not parse"); failures=$((failures + 1)); fi
    return
  fi
  echo
  echo "=== $name (limit ${limit}s): $cmd"
  t0=$(date +%s%N)
  timeout -k 10 "$limit" bash -c "$cmd" 2>&1 | tee "$OUT/$name.log"
  rc=${PIPESTATUS[0]}
  local took=$(( ($(date +%s%N) - t0) / 100000000 ))
  took="$((took / 10)).$((took % 10))"
  if [ "$rc" = 0 ]; then
    summary+=("ok      $name (${took} s)")
  else
    [ "$rc" = 124 ] && rc="124: ran past ${limit}s"
    summary+=("FAILED  $name (exit $rc, ${took} s)")
    failures=$((failures + 1))
  fi
}

finish() {
  echo
  echo "=== summary ($mode mode, $(( $(date +%s) - started )) s, log in $OUT)"
  printf '%s\n' "${summary[@]}"
  [ -f "$OUT/bench-summary.txt" ] && { echo; cat "$OUT/bench-summary.txt"; }
  echo "$failures step(s) failed"
  exit $(( failures > 0 ? 1 : 0 ))
}

tsmpirun="node dist/launcher/cli.js"
mocha="node node_modules/mocha/bin/mocha.js"
examples=$(ls examples/*.ts | tr '\n' ' ')
PI_SAMPLES=$((2 ** 32))
budget=${GPU_CHECK_BUDGET:-540} # seconds for the whole run mode: the device command's limit, less a margin

# The steps of the run mode (the dry mode parses each command of them).
run_steps() {
  step environment 60 "nvidia-smi -L; nvidia-smi --query-gpu=name,driver_version,memory.total,compute_cap --format=csv; (command -v nvcc || ls /usr/local/cuda/bin/nvcc) && \${CUDA_HOME:-/usr/local/cuda}/bin/nvcc --version | tail -2; node --version; python3 -c 'import cupy, numpy; print(\"cupy\", cupy.__version__, \"numpy\", numpy.__version__, \"CUDA runtime\", cupy.cuda.runtime.runtimeGetVersion())'; command -v g++ make python3"

  # The addon for this GPU: sm_90 with this machine's toolkit; the carried build is the fallback.
  step build 240 "cp build/Release/tsmpi_native.node /tmp/tsmpi_native.carried.node 2>/dev/null;
    export npm_config_node_gyp=/tmp/gpunpm/npm/node_modules/node-gyp/bin/node-gyp.js npm_config_nodedir=/tmp/gpunpm/nodedir TSMPI_CUDA_ARCHS=90;
    [ -f \"\$npm_config_node_gyp\" ] || export npm_config_node_gyp=\$(dirname \$(command -v node))/../lib/node_modules/npm/node_modules/node-gyp/bin/node-gyp.js;
    node native/build.mjs; cat build/tsmpi-native-build.log | grep -E 'nvcc|error|warning' | head -20;
    check='import(\"./dist/lib/gpu/native-info.js\").then((m) => { const i = m.nativeInfo(); console.log(JSON.stringify(i)); process.exit(i.backend === \"cuda\" && i.nvrtc ? 0 : 1); })';
    if node -e \"\$check\"; then echo 'addon built here: CUDA backend and NVRTC usable';
    elif [ -f /tmp/tsmpi_native.carried.node ]; then echo 'the addon built here is not usable on the GPU: back to the carried build';
      mkdir -p build/Release && cp /tmp/tsmpi_native.carried.node build/Release/tsmpi_native.node && node -e \"\$check\";
    else false; fi"
  step info 60 "$tsmpirun --info -n 2"

  # Benchmarks: tsmpi and CuPy interleaved, round by round.
  J=$OUT
  step bench-pi 150 "set -e; for round in 1 2 3; do
      $tsmpirun -n 1 -m tsmpi/bench gpupi -n $PI_SAMPLES -l 5 -s 2 --json | tee -a $J/bench-pi.jsonl;
      python3 scripts/cupy-bench.py pi -n $PI_SAMPLES -l 5 -s 2 --json | tee -a $J/bench-pi.jsonl;
    done;
    $tsmpirun -n 2 -m tsmpi/bench gpupi -n $PI_SAMPLES -l 5 -s 2 --json | tee -a $J/bench-pi.jsonl"
  step bench-copy 150 "set -e; for round in 1 2; do
      $tsmpirun -n 1 -m tsmpi/bench gpucopy -m 1048576 -n 268435456 -l 5 -s 1 --json | tee -a $J/bench-copy.jsonl;
      python3 scripts/cupy-bench.py copy -m 1048576 -n 268435456 -l 5 -s 1 --json | tee -a $J/bench-copy.jsonl;
    done"
  step bench-allreduce 120 "set -e; for round in 1 2 3; do
      $tsmpirun -n 2 -m tsmpi/bench allreduce -m 16777216 -n 16777216 -l 20 -s 3 --device;
      $tsmpirun -n 2 -m tsmpi/bench allreduce -m 16777216 -n 16777216 -l 20 -s 3;
    done"
  step bench-summary 30 "{ node scripts/gpu-compare.mjs $J/bench-pi.jsonl $J/bench-copy.jsonl;
      echo '# Allreduce of 16 MiB at 2 ranks, us per call (median over calls of the slower rank), 3 rounds:';
      grep -B0 -A0 -E '^ +16777216' $OUT/bench-allreduce.log | paste - - | awk '{ print \"DeviceArray \" \$2 \" us   host array \" \$5 \" us\" }'; } > $OUT/bench-summary.txt; cat $OUT/bench-summary.txt"
  step examples 120 "set -e; for f in $examples; do for np in 1 2; do echo \"--- \$f at \$np rank(s)\"; $tsmpirun -n \$np \$f; done; done"
  # The suite last, with the time left of the budget (it is the longest step).
  left=$(( budget - ($(date +%s) - started) - 15 ))
  step tests $(( left > 60 ? left : 60 )) "$mocha 'test/**/*.test.ts'"
}

if [ "$mode" = run ]; then
  if ! command -v node >/dev/null || [ ! -d node_modules ]; then
    [ -f .gpu/unpack.sh ] || { echo "node or node_modules is missing and so is .gpu/unpack.sh: run scripts/gpu-check.sh --pack where Node is, and carry .gpu"; exit 1; }
    echo "=== unpacking node, node_modules, npm's node-gyp and the Node-API headers (.gpu/unpack.sh)"
    source .gpu/unpack.sh || { echo "unpacking failed"; exit 1; }
  fi
  run_steps
  finish
fi

# ---------------------------------------------------------------------------------------------
# --dry: every step above, wired and exercised as far as a machine without a GPU allows.
NVCC=${CUDA_HOME:-/usr/local/cuda}/bin/nvcc
PARSE_ONLY=1 run_steps
step paths 10 "set -e; for p in native/build.mjs native/detect-cuda.mjs binding.gyp dist/launcher/cli.js dist/lib/bench.js dist/lib/bench/gpu.js dist/lib/gpu/native-info.js \
    node_modules/mocha/bin/mocha.js scripts/cupy-bench.py scripts/gpu-compare.mjs $PACK_TOOL $examples; do [ -e \"\$p\" ] || { echo \"missing: \$p\"; exit 1; }; echo \"found \$p\"; done;
    [ -f build/Release/tsmpi_native.node ] && echo 'found build/Release/tsmpi_native.node (the build that travels)';
    ls .gpu/*.xz .gpu/unpack.sh 2>/dev/null || echo 'note: .gpu/ not packed yet (scripts/gpu-check.sh --pack does it)'"
  step parse 30 "set -e; bash -n scripts/gpu-check.sh; bash -n $PACK_TOOL; [ ! -f .gpu/unpack.sh ] || bash -n .gpu/unpack.sh;
    node --check scripts/gpu-compare.mjs; python3 -c 'import py_compile; py_compile.compile(\"scripts/cupy-bench.py\", cfile=\"/tmp/cupy-bench.pyc\", doraise=True)'; echo 'scripts/cupy-bench.py compiles (py_compile)'; python3 scripts/cupy-bench.py --help >/dev/null;
    python3 scripts/cupy-bench.py pi --help >/dev/null; python3 scripts/cupy-bench.py copy --help >/dev/null;
    TSMPI_CUDA_ARCHS=90 node native/detect-cuda.mjs --gencode; echo; echo 'parsed: gpu-check.sh, gpu-pack.sh, gpu-compare.mjs, cupy-bench.py (pi, copy), detect-cuda'"
  # The CUDA C that only a GPU runs, compiled for sm_90: the CuPy kernel and the heat-gpu kernel.
  step cuda-sources 60 "set -e; [ -x $NVCC ] || { echo 'no nvcc here'; exit 1; };
    python3 -c 'import importlib.util as u; s = u.spec_from_file_location(\"b\", \"scripts/cupy-bench.py\"); m = u.module_from_spec(s); s.loader.exec_module(m); print(m.PI_SOURCE)' > /tmp/gpu-check-pi.cu;
    node -e 'const s = require(\"fs\").readFileSync(\"examples/heat-gpu.ts\", \"utf8\"); process.stdout.write(s.match(/String\\.raw\`([\\s\\S]*?)\`;/)[1])' > /tmp/gpu-check-heat.cu;
    $NVCC --ptx -arch=sm_90 -o /tmp/gpu-check-pi.ptx /tmp/gpu-check-pi.cu && echo 'cupy-bench.py pi_count: compiles for sm_90';
    $NVCC --ptx -arch=sm_90 -fmad=false -o /tmp/gpu-check-heat.ptx /tmp/gpu-check-heat.cu && echo 'heat-gpu.ts step: compiles for sm_90'"
  # The CuPy kernel run on the host (one thread, the CUDA intrinsics as plain C++) must count
  # what tsmpi's built-in counts, for odd and even ends, big seeds and streams.
  step cupy-kernel-counts 60 "set -e; { cat <<'CPP'
#include <cstdio>
#include <cstdlib>
#define __device__
#define __forceinline__ inline
#define __global__
struct Dim { unsigned x; };
static Dim gridDim{1}, blockDim{1}, blockIdx{0}, threadIdx{0};
static unsigned __umulhi(unsigned a, unsigned b) { return (unsigned)(((unsigned long long)a * b) >> 32); }
static unsigned long long __shfl_down_sync(unsigned, unsigned long long, int) { return 0; }
static void atomicAdd(unsigned long long* p, unsigned long long v) { *p += v; }
CPP
    cat /tmp/gpu-check-pi.cu
    cat <<'CPP'
int main(int argc, char** argv) {
  unsigned long long seed = strtoull(argv[1], 0, 10), offset = strtoull(argv[3], 0, 10), n = strtoull(argv[4], 0, 10), out = 0;
  pi_count(offset, offset + n - 1, (unsigned)strtoul(argv[2], 0, 10), (unsigned)seed, (unsigned)(seed >> 32), &out);
  printf(\"%llu\\n\", out);
}
CPP
    } > /tmp/gpu-check-pi-host.cc; g++ -O2 -o /tmp/gpu-check-pi-host /tmp/gpu-check-pi-host.cc;
    for c in '2024 0 0 1000000' '2024 1 0 1000001' '7 3 1 999' '18446744073709551615 4294967295 5 77777'; do
      set -- \$c; host=\$(/tmp/gpu-check-pi-host \$1 \$2 \$3 \$4);
      ts=\$(node -e \"import('./dist/lib/gpu/cuda.js').then(async ({ cuda }) => console.log(await cuda.piCount(\$4, { seed: \$1n, stream: \$2, offset: \$3 })))\");
      echo \"seed \$1 stream \$2 offset \$3 n \$4: CuPy kernel \$host, tsmpi \$ts\"; [ \"\$host\" = \"\$ts\" ];
    done"
  step info 60 "$tsmpirun --info -n 2"
  step tests-load 120 "set -e; $mocha --dry-run 'test/**/*.test.ts' > /tmp/gpu-check-dry-run.txt; grep -E '^[0-9]+ passed' /tmp/gpu-check-dry-run.txt | sed 's/ passed.*/ tests load (mocha --dry-run: none executed)/'"
  step examples 90 "set -e; for np in 1 2; do $tsmpirun -n \$np examples/heat-gpu.ts; $tsmpirun -n \$np examples/gpu-pi.ts 200000; done; echo 'examples to run there:' $examples"
  J=$OUT
  rm -f "$J"/bench-*.jsonl
  step bench-pi 90 "set -e; $tsmpirun -n 1 -m tsmpi/bench gpupi -n 1048576 -l 3 -s 1 --json | tee -a $J/bench-pi.jsonl;
    $tsmpirun -n 2 -m tsmpi/bench gpupi -n 1048576 -l 3 -s 1 --json | tee -a $J/bench-pi.jsonl"
  step bench-copy 60 "set -e; $tsmpirun -n 1 -m tsmpi/bench gpucopy -m 1048576 -n 2097152 -l 3 -s 1 --json | tee -a $J/bench-copy.jsonl"
  step bench-allreduce 90 "set -e; $tsmpirun -n 2 -m tsmpi/bench allreduce -m 16777216 -n 16777216 -l 3 -s 1 --device;
    $tsmpirun -n 2 -m tsmpi/bench allreduce -m 16777216 -n 16777216 -l 3 -s 1"
  step bench-summary 30 "node scripts/gpu-compare.mjs $J/bench-pi.jsonl $J/bench-copy.jsonl"
  finish
