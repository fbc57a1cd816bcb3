// Fuzz target for the shared-memory ring (native/shm_ring.h): the reader, the writer and the
// inbox layout check, against inputs read as a program of operations: write (part of) a
// message as a sender does, drain as the receiver does, or tamper with the ring as a process
// of the same user can (raw bytes, write and read positions, fragment headers, the header a
// peer connects to). Oracles: nothing reads or writes out of bounds (AddressSanitizer) or hits
// undefined behaviour (UndefinedBehaviorSanitizer); an untampered ring delivers exactly the
// messages written, in order, and never reports a violation; a tampered one may report one
// (a Failure), after which it is not used again.
//
// Built by test/fuzz.test.ts, either for libFuzzer
//   clang++ -std=c++17 -g -O1 -fsanitize=fuzzer,address,undefined shm_ring_fuzz.cc
// or, without libFuzzer, with its own seeded random driver (TSMPI_FUZZ_STANDALONE)
//   g++ -std=c++17 -g -O1 -fsanitize=address,undefined -DTSMPI_FUZZ_STANDALONE shm_ring_fuzz.cc
//   ./a.out SEED SECONDS [DIR]   (replays the inputs in DIR first; prints "runs N", exits 0; a crash aborts)
// native/fuzz/regressions/ holds inputs that once crashed it (libFuzzer takes it as a corpus).
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <vector>

#include "../shm_ring.h"

using namespace tsmpi;
using namespace tsmpi::shm;

namespace {

struct Input {
  const uint8_t* p;
  size_t n;
  bool empty() const { return n == 0; }
  uint8_t u8() {
    if (n == 0) return 0;
    n--;
    return *p++;
  }
  uint32_t u16() {
    const uint32_t lo = u8();
    return lo | uint32_t{u8()} << 8;
  }
  uint32_t u32() {
    const uint32_t lo = u16();
    return lo | u16() << 16;
  }
  uint64_t u64() {
    const uint64_t lo = u32();
    return lo | uint64_t{u32()} << 32;
  }
};

[[noreturn]] void Bug(const char* what) {
  std::fprintf(stderr, "shm_ring_fuzz: %s\n", what);
  std::abort();
}

using Message = std::vector<std::vector<uint8_t>>;

struct Harness {
  uint64_t cap;
  uint64_t maxRecord;
  std::vector<uint64_t> control;  // a RingControl, 8-aligned
  std::vector<uint8_t> data;
  RingControl* ring;
  RingWriter writer;
  RingReader reader;
  std::deque<Message> sent;  // written completely, not yet read
  Message writing;           // being written (streams through the ring)
  std::vector<uint32_t> prefix;
  uint64_t offset = 0;
  bool tampered = false;
  bool broken = false;

  Harness(uint64_t ringBytes, uint64_t bound)
      : cap(ringBytes), maxRecord(bound), control(kControlBytes / 8), data(ringBytes), ring(reinterpret_cast<RingControl*>(control.data())) {}

  // Writes on the message in progress, starting one from the input when none is.
  void Write(Input& in) {
    if (writing.empty()) {
      const uint32_t count = 1 + in.u8() % 3;
      uint64_t total = 4 + 4 * uint64_t{count};
      for (uint32_t i = 0; i < count; i++) {
        // Mostly small, sometimes several rings long (streams through while being read).
        uint64_t len = in.u8() % 4 == 0 ? in.u32() % (3 * cap) : in.u8();
        if (total + len > maxRecord) len = maxRecord - total;
        std::vector<uint8_t> frame(len);
        for (uint64_t k = 0; k < len; k++) frame[k] = static_cast<uint8_t>(k * 31 + i);
        total += len;
        writing.push_back(std::move(frame));
      }
      prefix.assign(1, count);
      for (const auto& f : writing) prefix.push_back(static_cast<uint32_t>(f.size()));
      offset = 0;
    }
    std::vector<std::pair<const uint8_t*, size_t>> parts;
    uint64_t total = 4 * uint64_t{prefix.size()};
    for (const auto& f : writing) {
      parts.emplace_back(f.data(), f.size());
      total += f.size();
    }
    const Record rec{prefix.data(), 4 * uint64_t{prefix.size()}, parts.data(), static_cast<uint32_t>(parts.size()), total};
    bool wrote = false;
    offset = WriteRing(writer, ring, data.data(), cap, rec, offset, wrote);
    if (offset == total) {
      sent.push_back(std::move(writing));
      writing.clear();
    }
  }

  void Drain(uint32_t budget) {
    ReadRing(reader, ring, data.data(), cap, maxRecord, budget, [&](const uint8_t* rec, uint64_t size) {
      Message got;
      ParseRecord(
          rec, size, [&](uint32_t n) { got.reserve(n); }, [&](const uint8_t* bytes, uint32_t len) { got.emplace_back(bytes, bytes + len); });
      if (tampered) return;
      if (sent.empty()) Bug("a message arrived that was never sent");
      if (got != sent.front()) Bug("a message arrived changed");
      sent.pop_front();
    });
  }

  void Tamper(Input& in) {
    tampered = true;
    switch (in.u8() % 5) {
      case 0: {  // raw bytes anywhere in the data area
        const uint64_t at = in.u32() % cap;
        for (uint32_t k = in.u8() % 32; k > 0 && !in.empty(); k--) data[(at + k) % cap] = in.u8();
        break;
      }
      case 1:  // the write position: a little or anywhere
        ring->tail = in.u8() % 2 ? reader.head + (in.u16() & ~7u) : in.u64();
        break;
      case 2:  // the read position the writer sees
        ring->head = in.u8() % 2 ? writer.tail - (in.u16() & ~7u) : in.u64();
        break;
      case 3: {  // the next fragment's header
        const uint32_t fragment[2] = {in.u32(), in.u32()};
        RingPut(data.data(), cap, reader.head, reinterpret_cast<const uint8_t*>(fragment), kFragmentHeader);
        break;
      }
      default: {  // a plausible fragment whose record lies
        const uint32_t words[4] = {8, static_cast<uint32_t>(in.u8() % 4), in.u32(), in.u32()};
        RingPut(data.data(), cap, writer.tail, reinterpret_cast<const uint8_t*>(words), sizeof words);
        writer.tail += 16;
        ring->tail = writer.tail;
        break;
      }
    }
  }
};

// A peer's inbox header and size, as connect() sees them: an accepted layout must fit.
void Layout(Input& in) {
  InboxHeader h{};
  h.magic = in.u8() % 4 ? kMagic : in.u32();
  h.slots = in.u8() % 2 ? in.u8() : in.u32();
  h.ringBytes = in.u8() % 2 ? uint64_t{in.u16()} << 12 : in.u64();
  const uint32_t slots = in.u8() % 2 ? h.slots : in.u32();
  const uint64_t fileBytes = in.u8() % 2 ? InboxBytes(h.slots, h.ringBytes) : in.u64();
  if (!LayoutProblem(h, fileBytes, slots).empty()) return;
  // The last ring's end, computed the long way, lies within the file.
  const unsigned __int128 end = kHeaderBytes + static_cast<unsigned __int128>(slots) * (kControlBytes + h.ringBytes);
  if (slots == 0 || end > fileBytes || h.ringBytes < kMinRing) Bug("a layout was accepted whose rings do not fit its file");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* bytes, size_t size) {
  Input in{bytes, size};
  const uint64_t cap = uint64_t{4096} << (in.u8() % 3);
  const uint64_t maxRecord = 16 + in.u32() % (8 * cap);
  Harness h(cap, maxRecord);
  while (!in.empty() && !h.broken) {
    try {
      switch (in.u8() % 8) {
        case 0:
        case 1:
        case 2:
          h.Write(in);
          break;
        case 3:
        case 4:
          h.Drain(1 + in.u8() % 4);
          break;
        case 5:
          Layout(in);
          break;
        default:
          if (in.u8() % 4 == 0) h.Tamper(in);
          break;
      }
    } catch (const Failure& f) {
      if (!h.tampered) {
        std::fprintf(stderr, "shm_ring_fuzz: a violation reported on an untampered ring: %s\n", f.what());
        std::abort();
      }
      h.broken = true;
    }
  }
  // Untampered: whatever was written completely arrives, in order.
  if (!h.tampered && !h.broken) {
    for (int i = 0; i < 1000 && !h.sent.empty(); i++) h.Drain(64);
    if (!h.sent.empty()) Bug("a message written completely never arrived");
  }
  return 0;
}

#ifdef TSMPI_FUZZ_STANDALONE
// The seeded random driver: the inputs in DIR, then inputs of random length and bytes
// (xorshift64*) for SECONDS.
#include <dirent.h>

#include <chrono>
#include <fstream>
#include <iterator>
#include <string>
int main(int argc, char** argv) {
  uint64_t replayed = 0;
  if (argc > 3) {
    if (DIR* dir = opendir(argv[3])) {
      while (const dirent* e = readdir(dir)) {
        if (e->d_name[0] == '.') continue;
        std::ifstream file(std::string(argv[3]) + "/" + e->d_name, std::ios::binary);
        const std::vector<uint8_t> input((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
        LLVMFuzzerTestOneInput(input.data(), input.size());
        replayed++;
      }
      closedir(dir);
    }
  }
  uint64_t state = argc > 1 ? std::strtoull(argv[1], nullptr, 10) * 2654435761u + 1 : 1;
  const double seconds = argc > 2 ? std::strtod(argv[2], nullptr) : 5;
  auto next = [&] {
    state ^= state >> 12;
    state ^= state << 25;
    state ^= state >> 27;
    return state * 0x2545F4914F6CDD1Dull;
  };
  const auto end = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  std::vector<uint8_t> input;
  uint64_t runs = replayed;
  while (std::chrono::steady_clock::now() < end) {
    for (int batch = 0; batch < 64; batch++, runs++) {
      input.resize(next() % 512);
      for (auto& b : input) b = static_cast<uint8_t>(next());
      LLVMFuzzerTestOneInput(input.data(), input.size());
    }
  }
  std::printf("runs %llu\n", static_cast<unsigned long long>(runs));
  return 0;
}
#endif
