// The native addon and tsmpi/cuda: loading and fallback, the built-in kernels on every backend
// (C++ addon vs JS twins, GPU vs CPU), DeviceArray, user kernels. The "on a GPU" block runs
// only where a CUDA device is usable and says why it skips otherwise.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { CudaCompileError, DeviceArray, cuda, isDeviceArray, nativeInfo, type TypedArrayKind } from "../lib/gpu/cuda.js";
import { TsmpiError, type TsmpiErrorCode } from "../lib/errors.js";
import { parseKernelSignature } from "../lib/gpu/kernel-signature.js";
import { philox4x32 } from "../lib/gpu/kernels/philox.js";
import { piCountJs } from "../lib/gpu/kernels/pi.js";
import { saxpyJs } from "../lib/gpu/kernels/saxpy.js";
import { sumJs } from "../lib/gpu/kernels/sum.js";
import { ABI, bindingStatus, getBinding } from "../lib/native.js";
import { Op } from "../lib/op.js";
import { kindCode, packObject, unpackObject, unserializable, type TypedArray } from "../lib/serializer.js";

const KINDS: TypedArrayKind[] = [
  Float64Array,
  Float32Array,
  Int32Array,
  Uint32Array,
  Int8Array,
  Int16Array,
  Uint8Array,
  Uint16Array,
  BigInt64Array,
  BigUint64Array,
  Uint8ClampedArray,
];

const nativeInfoModule = fileURLToPath(new URL("../lib/gpu/native-info.ts", import.meta.url));
const cudaModule = fileURLToPath(new URL("../lib/gpu/cuda.ts", import.meta.url));

/** Runs an ES module snippet in a child node (with tsx) and parses the JSON it prints last (of the shape `T` the snippet prints). */
function child<T = Record<string, unknown>>(code: string, env: Record<string, string> = {}): T {
  const run = spawnSync(process.execPath, ["--import", "tsx", "--input-type=module", "-e", code], {
    env: { ...process.env, ...env },
    encoding: "utf8",
  });
  assert.equal(run.status, 0, `child failed: ${run.stderr}`);
  return JSON.parse(run.stdout.trim().split("\n").at(-1)!) as T;
}

function hasCode(code: TsmpiErrorCode) {
  return (error: unknown) => {
    assert.ok(error instanceof TsmpiError, `expected a TsmpiError, got ${String(error)}`);
    assert.equal(error.code, code, error.message);
    return true;
  };
}

/** Deterministic test data for any kind (small values so every kind holds them). */
function sample(kind: TypedArrayKind, length: number, salt = 0): TypedArray {
  const out = new kind(length);
  for (let i = 0; i < length; i++) {
    const v = ((i * 37 + salt * 11) % 101) - (kind.name.startsWith("Uint") || kind.name.startsWith("BigUint") ? 0 : 50);
    if (out instanceof BigInt64Array || out instanceof BigUint64Array) out[i] = BigInt(v);
    else out[i] = kind === Float32Array || kind === Float64Array ? v / 8 : v;
  }
  return out;
}

const KAT: [number[], number[]][] = [
  [
    [0, 0, 0, 0, 0, 0],
    [0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8],
  ],
  [
    [0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff],
    [0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd],
  ],
  [
    [0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344, 0xa4093822, 0x299f31d0],
    [0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1],
  ],
];

/** (seed, stream, offset, n) cases: odd/even ends, one sample, offsets near 2^64, big seeds. */
const PI_CASES: [bigint, number, bigint, bigint][] = [
  [0n, 0, 0n, 1n],
  [0n, 0, 1n, 1n],
  [1n, 0, 0n, 1000n],
  [42n, 3, 7n, 999n],
  [2n ** 64n - 1n, 2 ** 32 - 1, 2n ** 64n - 1001n, 1001n],
  [123456789012345n, 1, 2n ** 40n + 3n, 100_001n],
  [7n, 2, 0n, 600_000n],
];

describe("native addon", () => {
  it("loads, or says why not", () => {
    const status = bindingStatus();
    assert.ok(["loaded", "disabled", "missing", "failed"].includes(status.addon));
    if (status.addon === "loaded") assert.equal(getBinding()!.abi, ABI, "the addon built is the surface lib/native.ts declares");
    else assert.match(status.reason ?? "", /\S/);
    console.log(
      `      addon: ${status.addon}${status.reason ? ` (${status.reason})` : ""}; backend ${cuda.backend}${cuda.reason ? ` (${cuda.reason})` : ""}`,
    );
  });

  it("TSMPI_NATIVE=0 turns it off: the child reports 'disabled' and the cpu backend", () => {
    const info = child<ReturnType<typeof nativeInfo> & { reason: string }>(
      `import { nativeInfo } from ${JSON.stringify(nativeInfoModule)}; console.log(JSON.stringify(nativeInfo()))`,
      { TSMPI_NATIVE: "0" },
    );
    assert.equal(info.addon, "disabled");
    assert.equal(info.backend, "cpu");
    assert.equal(info.cudaCompiled, false);
    assert.equal(info.deviceCount, 0);
    assert.match(info.reason, /TSMPI_NATIVE=0/);
  });

  it("TSMPI_CUDA=0 at run time keeps the addon but uses the cpu backend", () => {
    const info = child<ReturnType<typeof nativeInfo> & { gpuReason: string }>(
      `import { nativeInfo } from ${JSON.stringify(nativeInfoModule)}; console.log(JSON.stringify(nativeInfo()))`,
      { TSMPI_CUDA: "0" },
    );
    assert.equal(info.addon, bindingStatus().addon);
    assert.equal(info.backend, "cpu");
    assert.match(info.gpuReason, /TSMPI_CUDA=0/);
  });

  it("nativeInfo() reports the addon, the CUDA build, versions and devices", () => {
    const info = nativeInfo();
    assert.equal(info.addon, bindingStatus().addon);
    assert.equal(info.backend, cuda.backend);
    assert.equal(info.deviceCount, info.devices.length);
    assert.equal(typeof info.cudaCompiled, "boolean");
    for (const v of [info.driverVersion, info.runtimeVersion, info.nvrtc]) assert.ok(v === null || /^\d+\.\d+$/.test(v), String(v));
    for (const d of info.devices) {
      assert.equal(typeof d.name, "string");
      assert.ok(d.totalMemory > 0);
      assert.match(d.computeCapability, /^\d+\.\d+$/);
    }
    if (info.backend === "cpu") {
      assert.equal(info.device, null);
      assert.match(info.gpuReason ?? "", /\S/);
    }
  });

  it("a CUDA build without a usable GPU reports cudaCompiled, the runtime version and why there is no device", function () {
    const info = nativeInfo();
    if (!info.cudaCompiled || info.backend === "cuda") {
      console.log(
        `      skipped: needs an addon built with CUDA on a machine without a usable GPU (cudaCompiled ${info.cudaCompiled}, backend ${info.backend})`,
      );
      this.skip();
    }
    assert.match(info.runtimeVersion ?? "", /^\d+\.\d+$/);
    assert.equal(cuda.deviceCount, 0);
    assert.match(info.gpuReason!, /libcuda\.so\.1 not found|no CUDA device visible|cuda/i);
  });
});

// Stand-ins for libcuda.so.1 (driver 12.4, one "Fake GPU" of compute capability 8.0) and
// libnvrtc (its version from -DMAJOR), so the dlopen probes run on machines without CUDA.
const FAKE_DRIVER = `#include <string.h>
#include <stddef.h>
int cuInit(unsigned f) { (void)f; return 0; }
int cuDriverGetVersion(int* v) { *v = 12040; return 0; }
int cuDeviceGetCount(int* n) { *n = 1; return 0; }
int cuDeviceGet(int* d, int i) { *d = i; return 0; }
int cuDeviceGetName(char* s, int len, int d) { (void)d; strncpy(s, "Fake GPU", len); return 0; }
int cuDeviceTotalMem_v2(size_t* b, int d) { (void)d; *b = (size_t)1 << 30; return 0; }
int cuDeviceGetAttribute(int* v, int a, int d) { (void)d; *v = a == 75 ? 8 : 0; return 0; }
int cuGetErrorName(int e, const char** s) { (void)e; *s = "CUDA_ERROR_FAKE"; return 0; }
int cuGetErrorString(int e, const char** s) { (void)e; *s = "fake"; return 0; }
int cuDevicePrimaryCtxRetain(void) { return 1; } int cuCtxSetCurrent(void) { return 1; }
int cuModuleLoadDataEx(void) { return 1; } int cuModuleGetFunction(void) { return 1; } int cuModuleUnload(void) { return 1; }
int cuFuncSetAttribute(void) { return 1; } int cuLaunchKernel(void) { return 1; }
`;
const FAKE_NVRTC = `int nvrtcVersion(int* a, int* b) { *a = MAJOR; *b = 0; return 0; }
int nvrtcCreateProgram(void) { return 1; } int nvrtcDestroyProgram(void) { return 0; } int nvrtcCompileProgram(void) { return 1; }
int nvrtcGetProgramLogSize(void) { return 1; } int nvrtcGetProgramLog(void) { return 1; } int nvrtcGetPTXSize(void) { return 1; }
int nvrtcGetPTX(void) { return 1; } int nvrtcAddNameExpression(void) { return 1; } int nvrtcGetLoweredName(void) { return 1; }
const char* nvrtcGetErrorString(int e) { (void)e; return "fake"; }
`;

describe("the addon is built where it can be", function () {
  // Every other addon test skips when the addon is missing, so a build broken by a change would
  // pass them all: where a C++ compiler exists and the addon is not turned off, it must load.
  it("loads wherever a C++ compiler exists (CXX, else c++), unless TSMPI_NATIVE=0", function () {
    if (process.env.TSMPI_NATIVE === "0") {
      console.log("      skipped: the addon is turned off with TSMPI_NATIVE=0");
      this.skip();
    }
    const cxx = process.env.CXX || "c++";
    const probe = spawnSync(cxx, ["--version"], { encoding: "utf8" });
    if (probe.status !== 0) {
      console.log(`      skipped: no C++ compiler (${cxx}: ${probe.error?.message ?? probe.stderr.trim()})`);
      this.skip();
    }
    const status = bindingStatus();
    assert.equal(
      status.addon,
      "loaded",
      `${cxx} exists, yet the addon is ${status.addon} (${status.reason}); see build/tsmpi-native-build.log`,
    );
  });
});

describe("driver and NVRTC probes through dlopen (fake libraries)", () => {
  let dir = "";
  before(function () {
    if (!getBinding()) {
      console.log(`      skipped: addon ${bindingStatus().addon}`);
      this.skip();
    }
    dir = mkdtempSync(path.join(tmpdir(), "tsmpi-fake-cuda-"));
    writeFileSync(path.join(dir, "cuda.c"), FAKE_DRIVER);
    writeFileSync(path.join(dir, "nvrtc.c"), FAKE_NVRTC);
    const builds = [
      ["-o", path.join(dir, "libcuda.so.1"), path.join(dir, "cuda.c")],
      ["-DMAJOR=12", "-o", path.join(dir, "libnvrtc.so.12"), path.join(dir, "nvrtc.c")],
      ["-DMAJOR=13", "-o", path.join(dir, "libnvrtc.so.13"), path.join(dir, "nvrtc.c")],
    ];
    for (const args of builds) {
      const cc = spawnSync("cc", ["-shared", "-fPIC", ...args], { encoding: "utf8" });
      if (cc.status !== 0) {
        console.log(`      skipped: no C compiler to build the fake libraries (${cc.error?.message ?? cc.stderr})`);
        this.skip();
      }
    }
  });
  after(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("lists the driver's devices and version, and picks the NVRTC no newer than the driver", () => {
    const script = `import { cuda, nativeInfo } from ${JSON.stringify(cudaModule)};
      let code = null; try { cuda.kernel('extern "C" __global__ void k() {}', "k"); } catch (e) { code = e.code; }
      console.log(JSON.stringify({ info: nativeInfo(), code }));`;
    const { info, code } = child<{ info: ReturnType<typeof nativeInfo>; code: string | null }>(script, {
      LD_LIBRARY_PATH: dir,
      TSMPI_NVRTC: path.join(dir, "libnvrtc.so.13"),
    });
    assert.equal(info.driverVersion, "12.4");
    assert.equal(info.driverLibrary, "libcuda.so.1");
    assert.deepEqual(info.devices, [{ index: 0, name: "Fake GPU", totalMemory: 2 ** 30, computeCapability: "8.0" }]);
    assert.equal(info.deviceCount, 1);
    assert.equal(info.nvrtc, "12.0");
    assert.equal(info.nvrtcLibrary, "libnvrtc.so.12");
    // The fake driver cannot serve the CUDA runtime, so there is still no usable GPU.
    assert.equal(info.backend, "cpu");
    assert.equal(code, "ERR_TSMPI_NO_GPU");
  });
});

describe("Philox-4x32-10 (Random123 known-answer vectors)", () => {
  for (const [input, expected] of KAT) {
    const label = input.map((w) => w.toString(16)).join(" ");
    it(`JS twin: ${label}`, () => {
      assert.deepEqual(philox4x32(...(input as [number, number, number, number, number, number])), expected);
    });
    it(`addon: ${label}`, function () {
      const binding = getBinding();
      if (!binding) {
        console.log(`      skipped: addon ${bindingStatus().addon}`);
        this.skip();
      }
      assert.deepEqual([...binding.philox(...(input as [number, number, number, number, number, number]))], expected);
    });
  }
});

describe("built-in kernels: the addon's C++ against the JS twins", () => {
  before(function () {
    if (!getBinding()) {
      console.log(`      skipped: addon ${bindingStatus().addon} (${bindingStatus().reason})`);
      this.skip();
    }
  });

  for (const [seed, stream, offset, n] of PI_CASES) {
    it(`piCount identical: seed ${seed}, stream ${stream}, offset ${offset}, n ${n}`, async () => {
      const native = await getBinding()!.piCountCpu(seed, stream, offset, n);
      assert.equal(native, await piCountJs(seed, stream, offset, n));
      assert.ok(native >= 0 && native <= Number(n));
    });
  }

  it("piCount splits: count(offset, a + b) = count(offset, a) + count(offset + a, b)", async () => {
    const b = getBinding()!;
    const whole = await b.piCountCpu(9n, 0, 5n, 3_000_001n);
    const parts = (await b.piCountCpu(9n, 0, 5n, 1_234_567n)) + (await b.piCountCpu(9n, 0, 5n + 1_234_567n, 3_000_001n - 1_234_567n));
    assert.equal(whole, parts);
  });

  for (const kind of [Float32Array, Float64Array]) {
    it(`saxpy ${kind.name}: bit-identical`, async () => {
      const x = sample(kind, 1000, 1) as Float32Array | Float64Array;
      const y1 = sample(kind, 1000, 2) as Float32Array | Float64Array;
      const y2 = y1.slice();
      await getBinding()!.saxpyCpu(1.1, x, y1);
      saxpyJs(1.1, x, y2);
      assert.deepEqual(y1, y2);
    });
  }

  for (const kind of KINDS) {
    it(`sum ${kind.name}: identical`, async () => {
      const x = sample(kind, 777, 3);
      assert.equal(await getBinding()!.sumCpu(x), sumJs(x));
    });
  }
});

/** Full-range values of `kind` (wrapping, negative, fractional, huge), from a fixed sequence. */
function wide(kind: TypedArrayKind, length: number, salt: number): TypedArray {
  const out = new kind(length);
  let x = 0x9e3779b9 ^ salt;
  for (let i = 0; i < length; i++) {
    x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
    const big = (BigInt(x) << 32n) | BigInt((x * 7) >>> 0);
    if (out instanceof BigInt64Array) out[i] = BigInt.asIntN(64, big);
    else if (out instanceof BigUint64Array) out[i] = big;
    else if (out instanceof Float32Array || out instanceof Float64Array) out[i] = ((x | 0) / 65536) * (i % 3 === 0 ? 1e30 : 1);
    else (out as Uint32Array)[i] = x; // integer kinds keep their low bits, as typed arrays do
  }
  return out;
}

describe("single-copy reads (process_vm_readv, here on this process's own memory)", () => {
  before(function () {
    if (!getBinding()) {
      console.log(`      skipped: addon ${bindingStatus().addon} (${bindingStatus().reason})`);
      this.skip();
    }
  });

  it("peerRead copies length bytes from an address into the target at an offset", () => {
    const b = getBinding()!;
    const src = Uint8Array.from({ length: 300_000 }, (_, i) => (i * 7) & 0xff);
    const into = new Uint8Array(300_010);
    b.peerRead(process.pid, b.addressOf(src.subarray(5)), 299_995, into, 10);
    assert.deepEqual(into.subarray(10, 10 + 299_995), src.subarray(5));
    assert.deepEqual(into.subarray(0, 10), new Uint8Array(10));
    assert.throws(() => b.peerRead(process.pid, b.addressOf(src), 11, new Uint8Array(10), 0), /too small/);
  });

  it("a read of an address the peer has not mapped is ERR_TSMPI_TRANSPORT naming the errno", () => {
    const b = getBinding()!;
    assert.throws(
      () => b.peerRead(process.pid, 8n, 16, new Uint8Array(16), 0),
      (e: unknown) =>
        e instanceof Error &&
        (e as TsmpiError).code === "ERR_TSMPI_TRANSPORT" &&
        /process_vm_readv from pid \d+: Bad address/.test(e.message),
    );
  });

  for (const kind of KINDS) {
    it(`peerReduce ${kind.name}: SUM, PROD, MAX, MIN equal Op's JavaScript bit for bit, or decline`, () => {
      const b = getBinding()!;
      const n = 40_000; // several bounce buffers' worth
      for (const [code, op] of [
        [0, Op.SUM],
        [1, Op.PROD],
        [2, Op.MAX],
        [3, Op.MIN],
      ] as const) {
        const peer = wide(kind, n, 1);
        const mine = wide(kind, n, 2);
        const want = mine.slice() as TypedArray;
        op.combine(want, mine, peer);
        const got = mine.slice() as TypedArray;
        if (!b.peerReduce(process.pid, b.addressOf(peer), peer.byteLength, got, 0, kindCode(got), code)) {
          assert.ok(kind === Uint8ClampedArray, `${kind.name} ${op.name} declined`); // clamping stays in JavaScript
          continue;
        }
        assert.deepEqual(new Uint8Array(got.buffer), new Uint8Array(want.buffer), `${kind.name} ${op.name}`);
      }
    });
  }
});

describe(`cuda API on the ${cuda.backend} backend`, () => {
  it("cuda.* properties agree with the backend", () => {
    assert.equal(cuda.available, cuda.backend === "cuda");
    assert.equal(cuda.device === null, !cuda.available);
    assert.equal(cuda.deviceCount > 0, cuda.available);
    if (!cuda.available) assert.throws(() => cuda.deviceInfo(), hasCode("ERR_TSMPI_NO_GPU"));
  });

  for (const kind of KINDS) {
    it(`DeviceArray ${kind.name}: from/toHost/copyFrom/stage round trips`, async () => {
      const host = sample(kind, 129, 4);
      const d = DeviceArray.from(host);
      assert.ok(isDeviceArray(d));
      assert.equal(d.kind, kind);
      assert.equal(d.length, 129);
      assert.equal(d.BYTES_PER_ELEMENT, kind.BYTES_PER_ELEMENT);
      assert.equal(d.byteLength, 129 * kind.BYTES_PER_ELEMENT);
      assert.equal(d.backend, cuda.backend);
      assert.deepEqual(d.toHost(), host);
      const out = new kind(129);
      assert.equal(d.toHost(out), out);
      assert.deepEqual(out, host);
      const other = sample(kind, 129, 5);
      d.copyFrom(other);
      assert.deepEqual(await d.stageToHost(), other);
      await d.stageFromHost(host.subarray(0, 10) as typeof host);
      const expected = other.slice();
      expected.set(host.subarray(0, 10) as never);
      assert.deepEqual(d.toHost(), expected);
      d.free();
      assert.ok(d.freed);
    });
  }

  it("cuda.empty / new DeviceArray(kind, n) / cuda.toDevice; empty arrays work", () => {
    const a = cuda.empty(Float32Array, 5);
    assert.equal(a.length, 5);
    assert.deepEqual(new DeviceArray(Int16Array, 0).toHost(), new Int16Array(0));
    assert.deepEqual(cuda.toDevice(new Uint8Array([1, 2])).toHost(), new Uint8Array([1, 2]));
    assert.deepEqual(cuda.toDevice(Buffer.from([3, 4])).toHost(), new Uint8Array([3, 4]));
  });

  it("rejects bad kinds, lengths and host arrays by code", async () => {
    assert.throws(() => new DeviceArray(Object as never, 3), hasCode("ERR_TSMPI_TYPE"));
    assert.throws(() => new DeviceArray(DataView as never, 3), hasCode("ERR_TSMPI_TYPE"));
    assert.throws(() => new DeviceArray(Float32Array, -1), hasCode("ERR_TSMPI_COUNT"));
    assert.throws(() => new DeviceArray(Float32Array, 1.5), hasCode("ERR_TSMPI_COUNT"));
    assert.throws(() => DeviceArray.from([1, 2] as never), hasCode("ERR_TSMPI_TYPE"));
    const d = new DeviceArray(Float32Array, 4);
    assert.throws(() => d.copyFrom(new Float32Array(3)), hasCode("ERR_TSMPI_COUNT"));
    assert.throws(() => d.copyFrom(new Float64Array(4) as never), hasCode("ERR_TSMPI_TYPE"));
    assert.throws(() => d.toHost(new Float32Array(5)), hasCode("ERR_TSMPI_COUNT"));
    assert.throws(() => d.toHost(new Int32Array(4) as never), hasCode("ERR_TSMPI_TYPE"));
    assert.throws(() => new DeviceArray(Uint8Array, 2).copyFrom(new Uint8ClampedArray(2) as never), hasCode("ERR_TSMPI_TYPE"));
    await assert.rejects(d.stageFromHost(new Float32Array(5)), hasCode("ERR_TSMPI_COUNT"));
    try {
      d.copyFrom(new Float32Array(7));
    } catch (error) {
      assert.match((error as Error).message, /4/); // names both lengths
      assert.match((error as Error).message, /7/);
    }
  });

  it("use after free() is ERR_TSMPI_ARG everywhere; free() is idempotent", async () => {
    const d = DeviceArray.from(new Float64Array([1, 2]));
    d.free();
    d.free();
    assert.throws(() => d.toHost(), hasCode("ERR_TSMPI_ARG"));
    assert.throws(() => d.copyFrom(new Float64Array(2)), hasCode("ERR_TSMPI_ARG"));
    await assert.rejects(d.stageToHost(), hasCode("ERR_TSMPI_ARG"));
    await assert.rejects(d.stageFromHost(new Float64Array(2)), hasCode("ERR_TSMPI_ARG"));
    await assert.rejects(cuda.sum(d), hasCode("ERR_TSMPI_ARG"));
    await assert.rejects(cuda.saxpy(1, d, d), hasCode("ERR_TSMPI_ARG"));
  });

  for (const kind of [Float32Array, Float64Array]) {
    it(`saxpy ${kind.name} equals the JS reference bit for bit`, async () => {
      const x = sample(kind, 5000, 6) as Float32Array | Float64Array;
      const y = sample(kind, 5000, 7) as Float32Array | Float64Array;
      const dx = cuda.toDevice(x);
      const dy = cuda.toDevice(y);
      await cuda.saxpy(0.3, dx, dy);
      saxpyJs(0.3, x, y);
      assert.deepEqual(dy.toHost(), y);
    });
  }

  it("saxpy rejects other kinds, mixed kinds, other lengths and what is not an array, naming the argument", async () => {
    const i = cuda.empty(Int32Array, 3);
    const f = cuda.empty(Float32Array, 3);
    await assert.rejects(cuda.saxpy(1, i, i), hasCode("ERR_TSMPI_TYPE"));
    await assert.rejects(cuda.saxpy(1, f, cuda.empty(Float64Array, 3)), hasCode("ERR_TSMPI_TYPE"));
    await assert.rejects(cuda.saxpy(1, f, cuda.empty(Float32Array, 4)), hasCode("ERR_TSMPI_COUNT"));
    await assert.rejects(cuda.saxpy("2" as never, f, f), hasCode("ERR_TSMPI_ARG"));
    // host arrays are checked the same way, alone or mixed with DeviceArrays
    await assert.rejects(cuda.saxpy(1, new Int32Array(3) as never, new Int32Array(3) as never), hasCode("ERR_TSMPI_TYPE"));
    await assert.rejects(
      cuda.saxpy(1, new Float64Array(3), f),
      (e: unknown) => hasCode("ERR_TSMPI_TYPE")(e) && /x Float64Array of 3 and y Float32Array DeviceArray of 3/.test((e as Error).message),
    );
    await assert.rejects(
      cuda.saxpy(1, f, new Float32Array(4)),
      (e: unknown) => hasCode("ERR_TSMPI_COUNT")(e) && /x\.length 3 and y\.length 4/.test((e as Error).message),
    );
    for (const [bad, label] of [
      [[1, 2, 3], "Array(3)"],
      [new DataView(new ArrayBuffer(12)), "DataView"],
      [3, "3"],
      [null, "null"],
    ] as const) {
      await assert.rejects(
        cuda.saxpy(1, bad as never, f),
        (e: unknown) =>
          hasCode("ERR_TSMPI_TYPE")(e) && (e as Error).message.startsWith(`x must be a DeviceArray or a typed array, got ${label}`),
      );
      await assert.rejects(
        cuda.saxpy(1, f, bad as never),
        (e: unknown) =>
          hasCode("ERR_TSMPI_TYPE")(e) && (e as Error).message.startsWith(`y must be a DeviceArray or a typed array, got ${label}`),
      );
    }
  });

  for (const kind of [Float32Array, Float64Array]) {
    it(`saxpy ${kind.name} on host arrays, alone and mixed with DeviceArrays: the result lands in the caller's y, x is untouched`, async () => {
      const x = sample(kind, 3001, 11) as Float32Array | Float64Array;
      const y = sample(kind, 3001, 12) as Float32Array | Float64Array;
      const want = y.slice();
      saxpyJs(1.25, x, want);
      const xBefore = x.slice();
      const hy = y.slice();
      await cuda.saxpy(1.25, x, hy);
      assert.deepEqual(hy, want, "host x, host y");
      assert.deepEqual(x, xBefore, "x is only read");
      const dy = cuda.toDevice(y);
      await cuda.saxpy(1.25, x, dy);
      assert.deepEqual(dy.toHost(), want, "host x, DeviceArray y");
      const hy2 = y.slice();
      await cuda.saxpy(1.25, cuda.toDevice(x), hy2);
      assert.deepEqual(hy2, want, "DeviceArray x, host y");
      // a view into a larger array: only the view is written
      const big = new kind(3001 + 10).fill(-7);
      big.set(y as never, 5);
      const view = big.subarray(5, 5 + 3001);
      await cuda.saxpy(1.25, x, view);
      assert.deepEqual(view, want, "subarray y");
      assert.deepEqual([...big.subarray(0, 5), ...big.subarray(5 + 3001)], new Array(10).fill(-7), "outside the view unchanged");
      // x and y the same array: y = a*y + y
      const same = y.slice();
      const twice = y.slice();
      saxpyJs(1.25, twice.slice(), twice);
      await cuda.saxpy(1.25, same, same);
      assert.deepEqual(same, twice, "x === y");
      await cuda.saxpy(2, new kind(0), new kind(0));
    });
  }

  for (const kind of KINDS) {
    it(`sum ${kind.name}`, async () => {
      const x = sample(kind, 3001, 8);
      const expected = sumJs(x);
      const got = await cuda.sum(cuda.toDevice(x));
      if (cuda.available) assert.ok(Math.abs(got - expected) <= 1e-9 * Math.max(1, Math.abs(expected)), `${got} vs ${expected}`);
      else assert.equal(got, expected);
    });
  }

  it("sum of an empty array is 0; sum rejects what is not an array, naming it", async () => {
    assert.equal(await cuda.sum(cuda.empty(Float64Array, 0)), 0);
    assert.equal(await cuda.sum(new Float64Array(0)), 0);
    for (const bad of [[1, 2], new DataView(new ArrayBuffer(8)), "12", undefined]) {
      await assert.rejects(
        cuda.sum(bad as never),
        (e: unknown) => hasCode("ERR_TSMPI_TYPE")(e) && /^x must be a DeviceArray or a typed array, got /.test((e as Error).message),
      );
    }
  });

  for (const kind of KINDS) {
    it(`sum of a host ${kind.name} equals the sum of the same data in a DeviceArray`, async () => {
      const x = sample(kind, 2999, 13);
      const before = x.slice();
      assert.equal(await cuda.sum(x), await cuda.sum(cuda.toDevice(x)));
      assert.deepEqual(x, before);
      if (!cuda.available) assert.equal(await cuda.sum(x), sumJs(x));
    });
  }

  it("sum of a Buffer and of a subarray view", async () => {
    assert.equal(await cuda.sum(Buffer.from([1, 2, 250])), 253);
    const big = new Float64Array([100, 1, 2, 3, 100]);
    assert.equal(await cuda.sum(big.subarray(1, 4)), 6);
  });

  it("piCount equals the JS twin and estimates pi", async () => {
    const n = 2_000_000;
    const count = await cuda.piCount(n, { seed: 5, stream: 0 });
    assert.equal(count, await piCountJs(5n, 0, 0n, BigInt(n)));
    assert.ok(Math.abs((4 * count) / n - Math.PI) < 0.01, String((4 * count) / n));
    assert.equal(await cuda.piCount(0), 0);
  });

  it("piCount: the default stream is the rank, and streams differ", async () => {
    const rank = Number(process.env.TSMPI_RANK ?? 0);
    assert.equal(await cuda.piCount(10_000, { seed: 1 }), await cuda.piCount(10_000, { seed: 1, stream: rank }));
    const counts = new Set(await Promise.all([0, 1, 2, 3].map((stream) => cuda.piCount(100_000, { seed: 1, stream }))));
    assert.ok(counts.size > 1);
  });

  it("the object tier refuses a DeviceArray through the serializer's generic brand; the serializer imports nothing from lib/gpu", async () => {
    const d = cuda.toDevice(new Float64Array([1, 2]));
    assert.equal(typeof (d as unknown as Record<symbol, unknown>)[unserializable], "function");
    assert.throws(
      () => packObject(d),
      (e: unknown) => hasCode("ERR_TSMPI_TYPE")(e) && /DeviceArray\(Float64Array, 2, \w+\).*buffer-tier call/.test((e as Error).message),
    );
    // any class can carry the brand: the serializer knows nothing of devices
    class Handle {
      [unserializable]() {
        return "a Handle stays in its process";
      }
    }
    assert.throws(
      () => packObject(new Handle()),
      (e: unknown) => hasCode("ERR_TSMPI_TYPE")(e) && (e as Error).message === "a Handle stays in its process",
    );
    assert.deepEqual(unpackObject(packObject(d.toHost())), new Float64Array([1, 2]));
    const source = readFileSync(fileURLToPath(new URL("../lib/serializer.ts", import.meta.url)), "utf8");
    assert.deepEqual(source.match(/from "[^"]*gpu[^"]*"/g), null, "lib/serializer.ts imports from the GPU side");
  });

  it("piCount rejects bad n and options by code", async () => {
    await assert.rejects(cuda.piCount(-1), hasCode("ERR_TSMPI_COUNT"));
    await assert.rejects(cuda.piCount(1.5), hasCode("ERR_TSMPI_COUNT"));
    await assert.rejects(cuda.piCount(2 ** 60), hasCode("ERR_TSMPI_COUNT"));
    await assert.rejects(cuda.piCount(10, { seed: 2n ** 64n }), hasCode("ERR_TSMPI_ARG"));
    await assert.rejects(cuda.piCount(10, { seed: -1 }), hasCode("ERR_TSMPI_ARG"));
    await assert.rejects(cuda.piCount(10, { offset: 2n ** 64n - 5n }), hasCode("ERR_TSMPI_ARG"));
    await assert.rejects(cuda.piCount(10, { stream: 2 ** 32 }), hasCode("ERR_TSMPI_ARG"));
    await assert.rejects(cuda.piCount(10, null as never), hasCode("ERR_TSMPI_ARG"));
  });
});

describe("pure JavaScript fallback (TSMPI_NATIVE=0) in a child process", () => {
  it("gives the same DeviceArray, saxpy, sum and piCount results as this process", async () => {
    const script = `
      import { cuda, DeviceArray } from ${JSON.stringify(cudaModule)};
      const x = DeviceArray.from(new Float32Array([1.5, 2, 3.25]));
      const y = cuda.toDevice(new Float32Array([0.1, 0.2, 0.3]));
      await cuda.saxpy(1.7, x, y);
      const hy = new Float32Array([0.1, 0.2, 0.3]);
      await cuda.saxpy(1.7, new Float32Array([1.5, 2, 3.25]), hy);
      const out = {
        backend: cuda.backend, addon: cuda.info().addon,
        y: Array.from(y.toHost()), sum: await cuda.sum(y), hy: Array.from(hy), hostSum: await cuda.sum(hy),
        pi: await cuda.piCount(300001, { seed: 77, offset: 3, stream: 2 }),
      };
      console.log(JSON.stringify(out));`;
    const js = child(script, { TSMPI_NATIVE: "0" });
    assert.equal(js.backend, "cpu");
    assert.equal(js.addon, "disabled");
    const x = DeviceArray.from(new Float32Array([1.5, 2, 3.25]));
    const y = cuda.toDevice(new Float32Array([0.1, 0.2, 0.3]));
    await cuda.saxpy(1.7, x, y);
    assert.deepEqual(js.y, Array.from(y.toHost()));
    assert.deepEqual(js.hy, js.y, "host arrays give the DeviceArray result");
    assert.equal(js.sum, await cuda.sum(y));
    assert.equal(js.hostSum, js.sum);
    assert.equal(js.pi, await cuda.piCount(300001, { seed: 77, offset: 3, stream: 2 }));
  });
});

describe("user kernels", () => {
  it("typed scalars check their range", () => {
    assert.equal(cuda.f32(2.5).type, "f32");
    assert.equal(cuda.u64(2n ** 64n - 1n).value, 2n ** 64n - 1n);
    assert.throws(() => cuda.i32(1.5), hasCode("ERR_TSMPI_ARG"));
    assert.throws(() => cuda.i32(2 ** 31), hasCode("ERR_TSMPI_ARG"));
    assert.throws(() => cuda.u32(-1), hasCode("ERR_TSMPI_ARG"));
    assert.throws(() => cuda.i64(2n ** 63n), hasCode("ERR_TSMPI_ARG"));
    assert.throws(() => cuda.f64(1n as never), hasCode("ERR_TSMPI_ARG"));
  });

  it("reads kernel signatures from source", () => {
    const src = `
      // a comment mentioning saxpy(
      extern "C" __global__ void saxpy(float* __restrict__ y, const float *x, float a, int n, unsigned long long m, size_t k) {
        int i = blockIdx.x * blockDim.x + threadIdx.x; if (i < n) y[i] = a * x[i] + y[i];
      }
      __global__ void other(double2 v, void* p, unsigned int) {}
      template <typename T> __global__ void tmpl(T* x) {}`;
    const params = parseKernelSignature(src, "saxpy")!;
    assert.deepEqual(
      params.map((p) => (p.kind === "pointer" ? [p.name, p.accepts] : [p.name, p.type])),
      [
        ["y", ["Float32Array"]],
        ["x", ["Float32Array"]],
        ["a", "f32"],
        ["n", "i32"],
        ["m", "u64"],
        ["k", "u64"],
      ],
    );
    const other = parseKernelSignature(src, "other")!;
    assert.deepEqual(
      other.map((p) => (p.kind === "pointer" ? p.accepts : p.type)),
      [null, undefined, "u32"],
    );
    assert.equal(parseKernelSignature(src, "tmpl"), null);
    assert.equal(parseKernelSignature(src, "missing"), null);
    assert.equal(parseKernelSignature(src, "tmpl<float>"), null);
    assert.deepEqual(parseKernelSignature(`__global__ void k(void) {}`, "k"), []);
  });

  it("cuda.kernel without a GPU is ERR_TSMPI_NO_GPU and names what is missing", function () {
    if (cuda.available && nativeInfo().nvrtc !== null) {
      console.log("      skipped: this machine has a GPU and NVRTC");
      this.skip();
    }
    assert.throws(
      () => cuda.kernel(`extern "C" __global__ void k() {}`, "k"),
      (error: unknown) => {
        hasCode("ERR_TSMPI_NO_GPU")(error);
        const message = (error as Error).message;
        assert.match(
          message,
          /libcuda\.so\.1 not found|libnvrtc not found|no CUDA device visible|addon is (disabled|missing|failed)|not compiled|TSMPI_CUDA=0/,
        );
        return true;
      },
    );
  });

  it("timing events: elapsedTime checks its arguments; without a GPU cuda.event() is ERR_TSMPI_NO_GPU", async function () {
    await assert.rejects(
      cuda.elapsedTime("start" as never, "end" as never),
      (e: unknown) => hasCode("ERR_TSMPI_TYPE")(e) && /^start must be a CudaEvent/.test((e as Error).message),
    );
    if (cuda.available) {
      await assert.rejects(
        cuda.elapsedTime(cuda.event(), {} as never),
        (e: unknown) => hasCode("ERR_TSMPI_TYPE")(e) && /^end must be a CudaEvent/.test((e as Error).message),
      );
      return;
    }
    assert.throws(() => cuda.event(), hasCode("ERR_TSMPI_NO_GPU"));
  });

  it("cuda.kernel checks its arguments", () => {
    assert.throws(() => cuda.kernel("", "k"), hasCode("ERR_TSMPI_ARG"));
    assert.throws(() => cuda.kernel("src", 3 as never), hasCode("ERR_TSMPI_ARG"));
    assert.throws(() => cuda.kernel("src", "k", "-O3" as never), hasCode("ERR_TSMPI_ARG"));
  });
});

describe("on a GPU", function () {
  const SAXPY = `extern "C" __global__ void saxpy(float* y, const float* x, float a, int n) {
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) y[i] = __fadd_rn(__fmul_rn(a, x[i]), y[i]);
  }`;

  before(function () {
    const info = nativeInfo();
    if (!cuda.available || info.nvrtc === null) {
      console.log(`      skipped: ${cuda.available ? "NVRTC not found" : `no usable GPU: ${cuda.reason}`}`);
      this.skip();
    }
    console.log(
      `      GPU ${cuda.device}: ${cuda.deviceInfo().name}, CC ${cuda.deviceInfo().computeCapability}, driver ${info.driverVersion}, runtime ${info.runtimeVersion}, NVRTC ${info.nvrtc}`,
    );
  });

  it("a user saxpy kernel from source matches the built-in and the JS reference", async () => {
    const n = 100_000;
    const x = sample(Float32Array, n, 1) as Float32Array;
    const y = sample(Float32Array, n, 2) as Float32Array;
    const dx = cuda.toDevice(x);
    const dy = cuda.toDevice(y);
    const k = cuda.kernel(SAXPY, "saxpy");
    assert.equal(cuda.kernel(SAXPY, "saxpy"), k, "cached");
    await k.launch({ grid: Math.ceil(n / 256), block: 256 }, [dy, dx, 2.5, n]);
    saxpyJs(2.5, x, y);
    assert.deepEqual(dy.toHost(), y);
    await k.launch({ grid: [Math.ceil(n / 128), 1, 1], block: [128] }, [dy, dx, cuda.f32(-2.5), cuda.i32(n)]);
    saxpyJs(-2.5, x, y);
    assert.deepEqual(dy.toHost(), y);
  });

  it("launch checks arguments against the signature", async () => {
    const k = cuda.kernel(SAXPY, "saxpy");
    const f = cuda.empty(Float32Array, 4);
    const cfg = { grid: 1, block: 32 };
    await assert.rejects(k.launch(cfg, [f, f, 1]), hasCode("ERR_TSMPI_COUNT"));
    await assert.rejects(k.launch(cfg, [f, f, cuda.f64(1), 4]), hasCode("ERR_TSMPI_TYPE"));
    await assert.rejects(k.launch(cfg, [f, cuda.empty(Float64Array, 4), 1, 4]), hasCode("ERR_TSMPI_TYPE"));
    await assert.rejects(k.launch(cfg, [f, f, f, 4]), hasCode("ERR_TSMPI_TYPE"));
    await assert.rejects(k.launch(cfg, [f, f, 1, 1.5]), hasCode("ERR_TSMPI_ARG"));
    await assert.rejects(k.launch({ grid: 0, block: 32 }, [f, f, 1, 4]), hasCode("ERR_TSMPI_ARG"));
    await assert.rejects(k.launch({ grid: 1, block: [32, 64] }, [f, f, 1, 4]), hasCode("ERR_TSMPI_ARG"));
  });

  it("a kernel whose signature cannot be read takes typed scalars only", async () => {
    const src = `template <typename T> __global__ void fill(T* x, T v, int n) {
      int i = blockIdx.x * blockDim.x + threadIdx.x; if (i < n) x[i] = v; }`;
    const k = cuda.kernel(src, "fill<double>");
    assert.equal(k.params, null);
    const d = cuda.empty(Float64Array, 100);
    await assert.rejects(k.launch({ grid: 1, block: 128 }, [d, 1.5, 100]), hasCode("ERR_TSMPI_TYPE"));
    await k.launch({ grid: 1, block: 128, sharedMem: 0 }, [d, cuda.f64(1.5), cuda.i32(100)]);
    assert.deepEqual(d.toHost(), new Float64Array(100).fill(1.5));
  });

  it("a compile error is a CudaCompileError (ERR_TSMPI_CUDA) carrying the compiler's log", () => {
    assert.throws(
      () => cuda.kernel(`extern "C" __global__ void broken(float* x) { x[0] = undefined_thing; }`, "broken"),
      (error: unknown) => {
        hasCode("ERR_TSMPI_CUDA")(error);
        assert.ok(error instanceof CudaCompileError);
        assert.match(error.log, /undefined_thing/);
        assert.match(error.message, /undefined_thing/);
        return true;
      },
    );
  });

  it("launch resolves when the kernel has finished, and the event loop keeps running meanwhile", async () => {
    const spin = cuda.kernel(
      `extern "C" __global__ void spin(long long cycles, int* done) {
        long long start = clock64(); while (clock64() - start < cycles) {} if (threadIdx.x == 0) *done = 1; }`,
      "spin",
    );
    const done = cuda.empty(Int32Array, 1);
    done.copyFrom(new Int32Array([0]));
    let ticks = 0;
    const timer = setInterval(() => ticks++, 5);
    await spin.launch({ grid: 1, block: 32 }, [cuda.i64(400_000_000), done]);
    clearInterval(timer);
    assert.deepEqual(done.toHost(), new Int32Array([1]));
    assert.ok(ticks > 0, "the event loop ran while the kernel spun");
  });

  it("timing events bracket GPU work: elapsedTime of a spinning kernel is positive and within the wall time", async () => {
    const spin = cuda.kernel(
      `extern "C" __global__ void spin2(long long cycles) { long long start = clock64(); while (clock64() - start < cycles) {} }`,
      "spin2",
    );
    const t0 = performance.now();
    const start = cuda.event();
    const done = spin.launch({ grid: 1, block: 32 }, [cuda.i64(200_000_000)]);
    const end = cuda.event();
    await done;
    const ms = await cuda.elapsedTime(start, end);
    const wall = performance.now() - t0;
    assert.ok(ms > 1 && ms <= wall + 0.5, `GPU ${ms} ms, wall ${wall} ms`);
    assert.equal(await cuda.elapsedTime(end, end), 0);
    const a = cuda.event();
    const count = cuda.piCount(2 ** 30, { seed: 1 });
    const b = cuda.event();
    assert.ok((await count) > 0);
    assert.ok((await cuda.elapsedTime(a, b)) > 0);
  });

  it("piCount on the GPU equals the addon's CPU count and the JS twin", async () => {
    for (const [seed, stream, offset, n] of PI_CASES) {
      const gpu = await cuda.piCount(Number(n), { seed, stream, offset });
      assert.equal(gpu, await getBinding()!.piCountCpu(seed, stream, offset, n), `seed ${seed} offset ${offset} n ${n}`);
      assert.equal(gpu, await piCountJs(seed, stream, offset, n));
    }
    const big = 2 ** 32 + 12345; // beyond 32-bit counters
    assert.equal(await cuda.piCount(big, { seed: 3, stream: 1 }), await getBinding()!.piCountCpu(3n, 1, 0n, BigInt(big)));
  });

  it("built-ins on host arrays run on the GPU: saxpy and sum give the DeviceArray results bit for bit, write back only y", async () => {
    const n = 1_000_003;
    const x = sample(Float32Array, n, 3) as Float32Array;
    const y = sample(Float32Array, n, 4) as Float32Array;
    const dy = cuda.toDevice(y);
    await cuda.saxpy(0.7, cuda.toDevice(x), dy);
    const xBefore = x.slice();
    await cuda.saxpy(0.7, x, y);
    assert.deepEqual(y, dy.toHost());
    assert.deepEqual(x, xBefore);
    const d = sample(Float64Array, n, 5) as Float64Array;
    assert.equal(await cuda.sum(d), await cuda.sum(cuda.toDevice(d)));
    // many calls in flight at once, each with its own temporaries
    const ys = [0, 1, 2, 3].map((k) => sample(Float64Array, 4097, k) as Float64Array);
    const wants = ys.map((v) => {
      const w = v.slice();
      saxpyJs(3, d.subarray(0, 4097), w);
      return w;
    });
    await Promise.all(ys.map((v) => cuda.saxpy(3, d.subarray(0, 4097), v)));
    assert.deepEqual(ys, wants);
  });

  it("DeviceArrays live in device memory and round-trip every kind, also asynchronously", async () => {
    for (const kind of KINDS) {
      const host = sample(kind, 100_003, 9);
      const d = DeviceArray.from(host);
      assert.equal(d.backend, "cuda");
      assert.deepEqual(await d.stageToHost(), host);
      const again = sample(kind, 100_003, 10);
      await d.stageFromHost(again as typeof host);
      assert.deepEqual(d.toHost(), again);
      d.free();
    }
  });

  it("each rank uses device TSMPI_LOCAL_RANK % deviceCount", () => {
    const count = cuda.deviceCount;
    for (const localRank of [0, 1, 2, 3]) {
      const got = child(
        `import { cuda } from ${JSON.stringify(cudaModule)}; console.log(JSON.stringify({ device: cuda.device, count: cuda.deviceCount }))`,
        {
          TSMPI_LOCAL_RANK: String(localRank),
        },
      );
      assert.deepEqual(got, { device: localRank % count, count });
    }
  });
});
