// Single-copy transfers between ranks of one host (as Open MPI's CMA): a receiver copies a
// large message straight out of the sender's memory with process_vm_readv, instead of the bytes
// crossing a socket (two kernel copies and a wake-up per chunk). lib/p2p.ts decides when.
//
//   allowPeerAccess(tracer)                let `tracer` and its descendants read this one
//                                          (Yama's ptrace_scope 1 allows only ancestors
//                                          otherwise). Yama keeps one tracer per process, so a
//                                          set of pids is named by their common ancestor, which
//                                          lib/p2p.ts accepts only when it is the job's own
//                                          (tsmpirun or slurmstepd). Without a tracer (or 0) it
//                                          returns false and allows nothing: never "any process
//                                          of the user" (PR_SET_PTRACER_ANY).
//   addressOf(typedArray)                  address of the elements, as a BigInt
//   peerRead(pid, address, length, target, targetByteOffset)
//                                          copies length bytes from pid's address into target
//   peerReduce(pid, address, length, target, targetByteOffset, kind, op)
//                                          target = op(target, pid's elements), fused
#include <sys/prctl.h>
#include <sys/types.h>
#include <sys/uio.h>

#include <cerrno>
#include <algorithm>
#include <cstring>
#include <string>

#include "addon.h"
#include "bridge.h"

namespace tsmpi {
namespace {

Napi::Value AllowPeerAccess(const Napi::CallbackInfo& info) {
#ifdef PR_SET_PTRACER
  const long tracer = info.Length() > 0 && info[0].IsNumber() ? static_cast<long>(info[0].As<Napi::Number>().Int64Value()) : 0;
  if (tracer <= 0) return Napi::Boolean::New(info.Env(), false);
  // EINVAL: no Yama module, and same-user access is the kernel's default anyway.
  const bool ok = prctl(PR_SET_PTRACER, static_cast<unsigned long>(tracer), 0, 0, 0) == 0 || errno == EINVAL;
#else
  const bool ok = true;
#endif
  return Napi::Boolean::New(info.Env(), ok);
}

Napi::Value AddressOf(const Napi::CallbackInfo& info) {
  const Napi::TypedArray array = TypedArrayArg(info, 0);
  return Napi::BigInt::New(info.Env(), static_cast<uint64_t>(reinterpret_cast<uintptr_t>(ElementsOf(array))));
}

// The arguments both reads share: pid, address, length, target, targetByteOffset.
struct PeerRange {
  pid_t pid;
  uint64_t address;
  size_t length;
  uint8_t* into;
};

PeerRange RangeArgs(const Napi::CallbackInfo& info, const char* name) {
  const auto pid = static_cast<pid_t>(NumberArg(info, 0));
  const uint64_t address = Uint64Arg(info, 1);
  const auto length = static_cast<size_t>(NumberArg(info, 2));
  const Napi::TypedArray target = TypedArrayArg(info, 3);
  const auto offset = static_cast<size_t>(NumberArg(info, 4));
  if (offset > target.ByteLength() || length > target.ByteLength() - offset) {
    throw Napi::RangeError::New(info.Env(), std::string(name) + ": the target is too small");
  }
  return {pid, address, length, static_cast<uint8_t*>(ElementsOf(target)) + offset};
}

// Reads up to `length` bytes at the peer's `address` + `done` into `into`; returns how many
// (at least one), or throws ERR_TSMPI_TRANSPORT naming the errno.
size_t ReadSome(Napi::Env env, pid_t pid, uint64_t address, void* into, size_t length) {
  iovec local{into, length};
  iovec remote{reinterpret_cast<void*>(static_cast<uintptr_t>(address)), length};
  const ssize_t n = process_vm_readv(pid, &local, 1, &remote, 1, 0);
  if (n <= 0) {
    const int err = n < 0 ? errno : EIO;
    throw MakeError(env, Failure("ERR_TSMPI_TRANSPORT", std::string("process_vm_readv from pid ") + std::to_string(pid) + ": " + std::strerror(err)));
  }
  return static_cast<size_t>(n);
}

Napi::Value PeerRead(const Napi::CallbackInfo& info) {
  const PeerRange r = RangeArgs(info, "peerRead");
  for (size_t done = 0; done < r.length;) done += ReadSome(info.Env(), r.pid, r.address + done, r.into + done, r.length - done);
  return info.Env().Undefined();
}

// op(target, peer) element-wise, for the predefined ops lib/op.ts can hand over (codes below).
// Integer arithmetic wraps as typed arrays do (done unsigned, then stored); floats in their own
// precision, which rounds a single operation exactly as JavaScript's double then store does.
enum PeerOp { kSum = 0, kProd = 1, kMax = 2, kMin = 3 };

template <typename T, typename U = T>
void Combine(T* out, const T* in, size_t n, int op) {
  switch (op) {
    case kSum:
      for (size_t i = 0; i < n; i++) out[i] = static_cast<T>(static_cast<U>(out[i]) + static_cast<U>(in[i]));
      break;
    case kProd:
      for (size_t i = 0; i < n; i++) out[i] = static_cast<T>(static_cast<U>(out[i]) * static_cast<U>(in[i]));
      break;
    case kMax:
      for (size_t i = 0; i < n; i++) out[i] = in[i] > out[i] ? in[i] : out[i];
      break;
    case kMin:
      for (size_t i = 0; i < n; i++) out[i] = in[i] < out[i] ? in[i] : out[i];
      break;
  }
}

// Element size for lib/serializer.ts's kind codes this file can reduce (0: not supported;
// Uint8Clamped would need clamping).
size_t ElementSize(int kind) {
  switch (kind) {
    case 1: case 2: return 1;   // Int8, Uint8
    case 4: case 5: return 2;   // Int16, Uint16
    case 6: case 7: case 8: return 4;  // Int32, Uint32, Float32
    case 9: case 10: case 11: return 8;  // Float64, BigInt64, BigUint64
    default: return 0;
  }
}

void CombineKind(void* out, const void* in, size_t n, int kind, int op) {
  switch (kind) {
    case 1: Combine<int8_t, uint32_t>(static_cast<int8_t*>(out), static_cast<const int8_t*>(in), n, op); break;
    case 2: Combine<uint8_t, uint32_t>(static_cast<uint8_t*>(out), static_cast<const uint8_t*>(in), n, op); break;
    case 4: Combine<int16_t, uint32_t>(static_cast<int16_t*>(out), static_cast<const int16_t*>(in), n, op); break;
    case 5: Combine<uint16_t, uint32_t>(static_cast<uint16_t*>(out), static_cast<const uint16_t*>(in), n, op); break;
    case 6: Combine<int32_t, uint32_t>(static_cast<int32_t*>(out), static_cast<const int32_t*>(in), n, op); break;
    case 7: Combine<uint32_t>(static_cast<uint32_t*>(out), static_cast<const uint32_t*>(in), n, op); break;
    case 8: Combine<float>(static_cast<float*>(out), static_cast<const float*>(in), n, op); break;
    case 9: Combine<double>(static_cast<double*>(out), static_cast<const double*>(in), n, op); break;
    case 10: Combine<int64_t, uint64_t>(static_cast<int64_t*>(out), static_cast<const int64_t*>(in), n, op); break;
    case 11: Combine<uint64_t>(static_cast<uint64_t*>(out), static_cast<const uint64_t*>(in), n, op); break;
  }
}

// peerReduce(pid, address, length, target, targetByteOffset, kind, op): target = op(target, the
// peer's elements), reading through a cache-sized bounce buffer. False when the kind/op pair is
// not one this file handles (the caller reduces in JavaScript instead).
Napi::Value PeerReduce(const Napi::CallbackInfo& info) {
  const PeerRange r = RangeArgs(info, "peerReduce");
  const int kind = static_cast<int>(NumberArg(info, 5));
  const int op = static_cast<int>(NumberArg(info, 6));
  const size_t size = ElementSize(kind);
  if (size == 0 || op < kSum || op > kMin) return Napi::Boolean::New(info.Env(), false);
  if (r.length % size != 0 || reinterpret_cast<uintptr_t>(r.into) % size != 0) {
    throw Napi::RangeError::New(info.Env(), "peerReduce: the length or target offset is not a whole number of elements");
  }
  // Through a cache-sized bounce buffer (per thread: workers may load the addon too); a short
  // read is used up to its last whole element and the rest read again.
  alignas(64) thread_local uint8_t bounce[64 * 1024];
  for (size_t done = 0; done < r.length;) {
    const size_t got = ReadSome(info.Env(), r.pid, r.address + done, bounce, std::min(r.length - done, sizeof bounce));
    const size_t whole = got - got % size;
    CombineKind(r.into + done, bounce, whole / size, kind, op);
    done += whole;
    if (whole == 0) throw Napi::Error::New(info.Env(), "peerReduce: process_vm_readv returned less than one element");
  }
  return Napi::Boolean::New(info.Env(), true);
}

}  // namespace

void InitPeerMemory(Napi::Env env, Napi::Object exports) {
  exports.Set("allowPeerAccess", Napi::Function::New(env, AllowPeerAccess, "allowPeerAccess"));
  exports.Set("addressOf", Napi::Function::New(env, AddressOf, "addressOf"));
  exports.Set("peerRead", Napi::Function::New(env, PeerRead, "peerRead"));
  exports.Set("peerReduce", Napi::Function::New(env, PeerReduce, "peerReduce"));
}

}  // namespace tsmpi
