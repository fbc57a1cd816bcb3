// The element kinds of DeviceArray, numbered exactly like Node-API's napi_typedarray_type so a
// host typed array's kind and a device buffer's kind share one code (lib/gpu/device-array.ts
// carries the same numbers). Plain C++: included by the CUDA files too, which never see
// node_api.h.
#pragma once
#include <cstdint>

namespace tsmpi {

enum class ElementKind : int {
  Int8 = 0,
  Uint8 = 1,
  Uint8Clamped = 2,
  Int16 = 3,
  Uint16 = 4,
  Int32 = 5,
  Uint32 = 6,
  Float32 = 7,
  Float64 = 8,
  BigInt64 = 9,
  BigUint64 = 10,
};

inline bool isElementKind(int code) { return code >= 0 && code <= 10; }

// Calls f(T{}) with T the C++ element type of `kind` (an unknown kind counts as Uint8; callers
// check isElementKind first).
template <typename F>
auto withElementType(ElementKind kind, F&& f) {
  switch (kind) {
    case ElementKind::Int8: return f(int8_t{});
    case ElementKind::Int16: return f(int16_t{});
    case ElementKind::Uint16: return f(uint16_t{});
    case ElementKind::Int32: return f(int32_t{});
    case ElementKind::Uint32: return f(uint32_t{});
    case ElementKind::Float32: return f(float{});
    case ElementKind::Float64: return f(double{});
    case ElementKind::BigInt64: return f(int64_t{});
    case ElementKind::BigUint64: return f(uint64_t{});
    default: return f(uint8_t{});
  }
}

}  // namespace tsmpi
