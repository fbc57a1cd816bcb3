// The shared-memory inbox's layout and its byte rings, without Node-API: shm_channel.cc drives
// them, native/fuzz/shm_ring_fuzz.cc feeds them garbage.
//
// Everything in the inbox is writable by any process of the same user (it can open the memfd
// through /proc/<pid>/fd), so nothing read from it is trusted: each side keeps the numbers it
// owns privately (the owner its slot count, ring size and read positions; a sender its write
// position and the ring size it accepted at connect time) and checks every size, index and
// offset read from shared memory against them, with arithmetic that cannot wrap. A violation is
// a Failure (ERR_TSMPI_TRANSPORT) saying what was wrong; the caller names the peer.
//
// Ring protocol (one single-producer single-consumer ring per sender): the sender writes
// fragments [u32 length][u32 flags][bytes, padded to 8] at its position `tail` and publishes
// tail; the receiver reads from its position `head` up to tail and publishes head. A message is
// one logical record [u32 count][u32 length x count][bytes of each frame], carried by fragments
// flagged FIRST ... LAST (one fragment may be both).
#pragma once
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "failure.h"

namespace tsmpi {
namespace shm {

constexpr uint32_t kMagic = 0x74736d31;  // "tsm1"
constexpr uint64_t kHeaderBytes = 4096;
constexpr uint64_t kControlBytes = 256;
constexpr uint32_t kFirst = 1;
constexpr uint32_t kLast = 2;
constexpr uint64_t kFragmentHeader = 8;
constexpr uint64_t kMinRing = 4096;
constexpr uint64_t kMaxRing = uint64_t{1} << 30;  // TSMPI_SHM_RING_BYTES's upper bound
constexpr uint32_t kMaxSlots = 65536;

struct InboxHeader {
  uint32_t magic;
  uint32_t slots;
  uint64_t ringBytes;
  uint8_t pad0[48];
  uint32_t sleeping;  // offset 64: set by the owner before it sleeps
};

// One ring's control block; each word on its own cache line.
struct RingControl {
  uint64_t tail;  // written by the sender: bytes written so far
  uint8_t pad0[56];
  uint64_t head;  // written by the receiver: bytes consumed so far
  uint8_t pad1[56];
  uint32_t writerWaiting;  // set by a sender that found the ring full
};
static_assert(sizeof(RingControl) <= kControlBytes, "ring control block too large");

inline uint64_t Round8(uint64_t n) { return (n + 7) & ~uint64_t{7}; }

// Bytes of an inbox of `slots` rings of `ringBytes`, or 0 when that does not fit in 64 bits.
inline uint64_t InboxBytes(uint64_t slots, uint64_t ringBytes) {
  uint64_t perSlot, rings, total;
  if (__builtin_add_overflow(kControlBytes, ringBytes, &perSlot) || __builtin_mul_overflow(slots, perSlot, &rings) ||
      __builtin_add_overflow(kHeaderBytes, rings, &total)) {
    return 0;
  }
  return total;
}

// Offsets below are only computed for slots < the slot count and a ring size whose InboxBytes
// was checked against the mapping's size, so they stay inside it.
inline RingControl* ControlOf(uint8_t* base, uint64_t ringBytes, uint32_t slot) {
  return reinterpret_cast<RingControl*>(base + kHeaderBytes + uint64_t{slot} * (kControlBytes + ringBytes));
}
inline uint8_t* DataOf(uint8_t* base, uint64_t ringBytes, uint32_t slot) {
  return base + kHeaderBytes + uint64_t{slot} * (kControlBytes + ringBytes) + kControlBytes;
}

// Why a peer's inbox header (a copy taken once) cannot be the inbox of a job of `slots` ranks
// mapped with `fileBytes` bytes; empty when it can.
inline std::string LayoutProblem(const InboxHeader& h, uint64_t fileBytes, uint32_t slots) {
  if (h.magic != kMagic) return "no inbox magic";
  if (h.slots == 0 || h.slots > kMaxSlots) return "slot count " + std::to_string(h.slots) + " is not in [1, 65536]";
  if (h.slots != slots) return "it has " + std::to_string(h.slots) + " slots, this job " + std::to_string(slots);
  if (h.ringBytes < kMinRing || h.ringBytes > kMaxRing || h.ringBytes % 4096 != 0) {
    return "ring size " + std::to_string(h.ringBytes) + " is not a multiple of 4096 in [4096, 2^30]";
  }
  const uint64_t want = InboxBytes(h.slots, h.ringBytes);
  if (want == 0 || want != fileBytes) {
    return std::to_string(h.slots) + " rings of " + std::to_string(h.ringBytes) + " bytes do not make its size of " + std::to_string(fileBytes) + " bytes";
  }
  return "";
}

[[noreturn]] inline void Violation(const std::string& what) { throw Failure("ERR_TSMPI_TRANSPORT", what); }

// The published position of the other side is possible: within one ring of ours, in the
// order the protocol keeps (`behind` <= `ahead`), on a fragment boundary.
inline bool Plausible(uint64_t behind, uint64_t ahead, uint64_t cap) {
  return behind <= ahead && ahead - behind <= cap && behind % 8 == 0 && ahead % 8 == 0;
}

inline uint64_t LoadAcquire(const uint64_t* p) { return __atomic_load_n(p, __ATOMIC_ACQUIRE); }
inline void StoreRelease(uint64_t* p, uint64_t v) { __atomic_store_n(p, v, __ATOMIC_RELEASE); }

// Copies n bytes into / out of a ring's data area at logical position pos (wrapping); n <= cap.
// (n == 0 copies nothing: an empty frame's bytes may be a null pointer, which memcpy may not see.)
inline void RingPut(uint8_t* data, uint64_t cap, uint64_t pos, const uint8_t* src, uint64_t n) {
  if (n == 0) return;
  const uint64_t at = pos % cap;
  const uint64_t first = n < cap - at ? n : cap - at;
  std::memcpy(data + at, src, first);
  if (first < n) std::memcpy(data, src + first, n - first);
}
inline void RingGet(const uint8_t* data, uint64_t cap, uint64_t pos, uint8_t* dst, uint64_t n) {
  if (n == 0) return;
  const uint64_t at = pos % cap;
  const uint64_t first = n < cap - at ? n : cap - at;
  std::memcpy(dst, data + at, first);
  if (first < n) std::memcpy(dst + first, data, n - first);
}

// A message to write: its record prefix (count, lengths) and the frames' bytes.
struct Record {
  const uint32_t* prefix;
  uint64_t prefixBytes;
  const std::pair<const uint8_t*, size_t>* parts;
  uint32_t count;
  uint64_t total;  // prefixBytes + the frames' bytes
};

// The sender's side of one ring: its own position, never read back from shared memory.
struct RingWriter {
  uint64_t tail = 0;
};

// Writes what fits of `rec` from logical byte `offset` on into the ring (data, cap), whose
// control block is `ring`; returns the new offset and sets `wrote` when a fragment went in.
// Throws when the receiver's published position is impossible.
inline uint64_t WriteRing(RingWriter& w, RingControl* ring, uint8_t* data, uint64_t cap, const Record& rec, uint64_t offset, bool& wrote) {
  auto headNow = [&](int order) {
    const uint64_t head = __atomic_load_n(&ring->head, order);
    if (!Plausible(head, w.tail, cap)) {
      Violation("its ring's read position " + std::to_string(head) + " is not within the " + std::to_string(cap) + " bytes before this rank's write position " + std::to_string(w.tail));
    }
    return head;
  };
  while (offset < rec.total) {
    const uint64_t room = cap - (w.tail - headNow(__ATOMIC_ACQUIRE));
    const uint64_t remaining = rec.total - offset;
    if (room < kFragmentHeader + (remaining < 64 ? Round8(remaining) : 64)) {
      // Full: ask the receiver to wake us once it freed space, then look once more.
      __atomic_store_n(&ring->writerWaiting, 1, __ATOMIC_SEQ_CST);
      __atomic_thread_fence(__ATOMIC_SEQ_CST);
      if (cap - (w.tail - headNow(__ATOMIC_SEQ_CST)) >= kFragmentHeader + 64) continue;
      break;
    }
    uint64_t len = remaining;
    if (len > room - kFragmentHeader) len = (room - kFragmentHeader) & ~uint64_t{7};
    if (len > cap / 2) len = cap / 2;
    const uint32_t flags = (offset == 0 ? kFirst : 0) | (offset + len == rec.total ? kLast : 0);
    const uint32_t fragment[2] = {static_cast<uint32_t>(len), flags};
    RingPut(data, cap, w.tail, reinterpret_cast<const uint8_t*>(fragment), kFragmentHeader);
    // Copy logical bytes [offset, offset + len) from the prefix and the frames.
    uint64_t pos = w.tail + kFragmentHeader;
    uint64_t from = offset;
    const uint64_t end = offset + len;
    if (from < rec.prefixBytes) {
      const uint64_t n = (end < rec.prefixBytes ? end : rec.prefixBytes) - from;
      RingPut(data, cap, pos, reinterpret_cast<const uint8_t*>(rec.prefix) + from, n);
      pos += n;
      from += n;
    }
    uint64_t base = rec.prefixBytes;
    for (uint32_t i = 0; i < rec.count && from < end; i++) {
      const uint64_t size = rec.parts[i].second;
      if (from < base + size) {
        const uint64_t at = from - base;
        const uint64_t n = (end - from < size - at) ? end - from : size - at;
        RingPut(data, cap, pos, rec.parts[i].first + at, n);
        pos += n;
        from += n;
      }
      base += size;
    }
    w.tail += kFragmentHeader + Round8(len);
    StoreRelease(&ring->tail, w.tail);
    offset += len;
    wrote = true;
  }
  return offset;
}

// Checks a complete record (which may lie in shared memory: each word is read once, into a
// local) and hands over its frames: count(n) once, then frame(bytes, length) for each; nothing
// is handed over unless the whole record parses, and every byte of it belongs to a frame.
template <typename Count, typename Frame>
void ParseRecord(const uint8_t* rec, uint64_t size, Count&& count, Frame&& frame) {
  if (size < 4) Violation("a message of " + std::to_string(size) + " bytes is shorter than its frame count");
  uint32_t n;
  std::memcpy(&n, rec, 4);
  if (n == 0 || n > (size - 4) / 4) Violation("a message of " + std::to_string(size) + " bytes cannot hold " + std::to_string(n) + " frames");
  // Messages have one to three frames: their lengths stay off the heap.
  constexpr uint32_t kInline = 8;
  uint32_t inlineLengths[kInline];
  std::vector<uint32_t> heapLengths;
  if (n > kInline) heapLengths.resize(n);
  uint32_t* lengths = n > kInline ? heapLengths.data() : inlineLengths;
  std::memcpy(lengths, rec + 4, 4 * uint64_t{n});
  uint64_t bytes = 4 + 4 * uint64_t{n};
  for (uint32_t i = 0; i < n; i++) bytes += lengths[i];  // at most 2^32 + 2^32 * 2^32: no wrap
  if (bytes != size) Violation("a message of " + std::to_string(size) + " bytes says its " + std::to_string(n) + " frames and their lengths take " + std::to_string(bytes));
  count(n);
  uint64_t at = 4 + 4 * uint64_t{n};
  for (uint32_t i = 0; i < n; i++) {
    frame(rec + at, lengths[i]);
    at += lengths[i];
  }
}

// The receiver's side of one ring: its read position and the message being assembled.
struct RingReader {
  uint64_t head = 0;
  bool open = false;              // a FIRST fragment came, its LAST not yet
  std::vector<uint8_t> pending;   // the open message's bytes so far (at most maxRecord)
};

// Reads fragments from `r.head` up to the sender's published tail, hands each complete record
// to emit(bytes, size) (the bytes may lie in the ring: emit copies them), stops after `budget`
// records; publishes the read position after each fragment. Messages longer than maxRecord
// bytes are refused, so one that never completes holds at most that much. Throws on anything
// the protocol never writes; the returned count is of records emitted.
template <typename Emit>
uint32_t ReadRing(RingReader& r, RingControl* ring, const uint8_t* data, uint64_t cap, uint64_t maxRecord, uint32_t budget, Emit&& emit) {
  const uint64_t tail = LoadAcquire(&ring->tail);
  if (tail == r.head) return 0;
  if (!Plausible(r.head, tail, cap)) {
    Violation("its write position " + std::to_string(tail) + " is not within the " + std::to_string(cap) + " bytes after this rank's read position " + std::to_string(r.head));
  }
  uint32_t got = 0;
  while (r.head < tail && got < budget) {
    const uint64_t avail = tail - r.head;
    if (avail < kFragmentHeader) Violation("a torn fragment header (" + std::to_string(avail) + " bytes)");
    uint32_t fragment[2];
    RingGet(data, cap, r.head, reinterpret_cast<uint8_t*>(fragment), kFragmentHeader);
    const uint64_t len = fragment[0];
    const uint32_t flags = fragment[1];
    if ((flags & ~(kFirst | kLast)) != 0) Violation("fragment flags " + std::to_string(flags));
    if (kFragmentHeader + Round8(len) > avail) {
      Violation("a fragment of " + std::to_string(len) + " bytes where " + std::to_string(avail - kFragmentHeader) + " were written");
    }
    const bool first = (flags & kFirst) != 0, last = (flags & kLast) != 0;
    if (first && r.open) Violation("a message began before the previous one ended");
    if (!first && !r.open) Violation("a fragment continues no message");
    if (len > maxRecord - r.pending.size()) {
      Violation("a message longer than " + std::to_string(maxRecord) + " bytes (the most a rank sends in one)");
    }
    const uint64_t at0 = (r.head + kFragmentHeader) % cap;
    if (first && last && at0 + len <= cap) {
      // A whole message in one piece that does not wrap: split it straight out of the ring.
      emit(data + at0, len);
      got++;
    } else {
      r.open = true;
      const size_t at = r.pending.size();
      r.pending.resize(at + len);
      RingGet(data, cap, r.head + kFragmentHeader, r.pending.data() + at, len);
      if (last) {
        r.open = false;
        emit(r.pending.data(), r.pending.size());
        if (r.pending.capacity() > (1u << 20)) std::vector<uint8_t>().swap(r.pending);
        else r.pending.clear();
        got++;
      }
    }
    r.head += kFragmentHeader + Round8(len);
    StoreRelease(&ring->head, r.head);
  }
  return got;
}

}  // namespace shm
}  // namespace tsmpi
