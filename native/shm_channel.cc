// Messages between ranks of one host through shared memory (lib/transport/shm.ts drives it).
//
// Each rank owns an inbox: one memfd holding a single-producer single-consumer byte ring per
// sender slot (the host's ranks are slots 0..n-1), and a wake pipe. A sender opens the inbox and
// the pipe of each peer through /proc/<pid>/fd/<n> (memfds and pipes reopen that way; the kernel
// allows it to processes of the same user that may ptrace-read the owner), so nothing is ever
// named in /dev/shm or on disk: the memory goes away with the last process that maps it,
// whatever the ending.
//
// A message is a list of frames, laid out as one logical record [u32 count][u32 length x count]
// [bytes of each frame], and written into the ring as fragments [u32 length][u32 flags]
// [bytes, padded to 8]: as much as fits, so a message larger than the ring streams through it
// while the receiver drains it (the sender resumes from the offset send() returns).
//
// Wake-ups: a receiver that is about to sleep sets its inbox's `sleeping` word and re-checks its
// rings (arm()); a sender that wrote a fragment and finds the word set clears it and writes one
// byte into the receiver's pipe, which the receiver's event loop watches. A sender that finds a
// ring full sets the ring's `writerWaiting` word; the receiver, once it has freed space, clears it
// and writes into the sender's pipe. Both sides fence (seq_cst) between their store and their
// load, so no wake-up is lost.
//
//   new ShmChannel(slots, mySlot, ringBytes)    makes this rank's inbox; .memfd, .wakeWrite, takeWakeRead()
//   connect(slot, pid, memfd, wakeWrite)         maps the inbox of the rank in `slot`, opens its pipe
//   watch(slot)                                  reads that rank's ring here (without connecting)
//   send(slot, frames, offset) -> offset         writes what fits of a message; done when == total
//   receive(spinUs, yieldBetween, budget)        messages (arrays of Buffers) that arrived, polling
//                                                up to spinUs for the first one
//   arm() -> bool                                true: rings empty and `sleeping` set
//   close()
//   bindThread(index)                            pins this thread to one CPU (see below)
//   keepHeap(mmapThreshold, trimThreshold)       fixes malloc's thresholds (see below)
#include <fcntl.h>
#include <malloc.h>
#include <sched.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <ctime>
#include <string>
#include <vector>

#include "addon.h"
#include "bridge.h"

namespace tsmpi {
namespace {

constexpr uint32_t kMagic = 0x74736d31;  // "tsm1"
constexpr size_t kHeaderBytes = 4096;
constexpr size_t kControlBytes = 256;
constexpr uint32_t kFirst = 1;
constexpr uint32_t kLast = 2;
constexpr size_t kFragmentHeader = 8;

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

size_t InboxBytes(uint32_t slots, uint64_t ringBytes) { return kHeaderBytes + slots * (kControlBytes + ringBytes); }

RingControl* ControlOf(uint8_t* base, uint64_t ringBytes, uint32_t slot) {
  return reinterpret_cast<RingControl*>(base + kHeaderBytes + slot * (kControlBytes + ringBytes));
}
uint8_t* DataOf(uint8_t* base, uint64_t ringBytes, uint32_t slot) {
  return base + kHeaderBytes + slot * (kControlBytes + ringBytes) + kControlBytes;
}

uint64_t Round8(uint64_t n) { return (n + 7) & ~uint64_t{7}; }

inline void CpuRelax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  asm volatile("yield");
#endif
}

int64_t NowNs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return int64_t{ts.tv_sec} * 1000000000 + ts.tv_nsec;
}

// Copies n bytes into / out of a ring's data area at logical position pos (wrapping).
void RingPut(uint8_t* data, uint64_t cap, uint64_t pos, const uint8_t* src, size_t n) {
  const size_t at = pos % cap;
  const size_t first = n < cap - at ? n : cap - at;
  std::memcpy(data + at, src, first);
  if (first < n) std::memcpy(data, src + first, n - first);
}
void RingGet(const uint8_t* data, uint64_t cap, uint64_t pos, uint8_t* dst, size_t n) {
  const size_t at = pos % cap;
  const size_t first = n < cap - at ? n : cap - at;
  std::memcpy(dst, data + at, first);
  if (first < n) std::memcpy(dst + first, data, n - first);
}

void Wake(int fd) {
  if (fd < 0) return;
  const char byte = 1;
  // EAGAIN: the pipe is full of wake-ups already; the receiver will look anyway.
  (void)!write(fd, &byte, 1);
}

[[noreturn]] void SystemFailure(const std::string& what) {
  throw Failure("ERR_TSMPI_TRANSPORT", what + ": " + std::strerror(errno));
}

struct Peer {
  uint8_t* base = nullptr;  // the peer's inbox, mapped
  size_t bytes = 0;
  uint64_t ringBytes = 0;
  int wake = -1;  // the peer's pipe, write end
};

class ShmChannel : public Napi::ObjectWrap<ShmChannel> {
 public:
  static void Init(Napi::Env env, Napi::Object exports) {
    exports.Set("ShmChannel", DefineClass(env, "ShmChannel",
                                          {
                                              InstanceMethod("connect", &ShmChannel::Connect),
                                              InstanceMethod("watch", &ShmChannel::Watch),
                                              InstanceMethod("send", &ShmChannel::Send),
                                              InstanceMethod("receive", &ShmChannel::Receive),
                                              InstanceMethod("arm", &ShmChannel::Arm),
                                              InstanceMethod("close", &ShmChannel::Close),
                                              InstanceAccessor("memfd", &ShmChannel::Memfd, nullptr),
                                              InstanceMethod("takeWakeRead", &ShmChannel::TakeWakeRead),
                                              InstanceAccessor("wakeWrite", &ShmChannel::WakeWrite, nullptr),
                                          }));
  }

  explicit ShmChannel(const Napi::CallbackInfo& info) : Napi::ObjectWrap<ShmChannel>(info) {
    Guarded(info.Env(), [&] {
      slots_ = static_cast<uint32_t>(NumberArg(info, 0));
      mySlot_ = static_cast<uint32_t>(NumberArg(info, 1));
      ringBytes_ = static_cast<uint64_t>(NumberArg(info, 2));
      if (slots_ == 0 || slots_ > 65536 || mySlot_ >= slots_ || ringBytes_ < 4096 || ringBytes_ % 4096 != 0) {
        throw Failure("ERR_TSMPI_ARG", "ShmChannel: bad slots, slot or ring size");
      }
      bytes_ = InboxBytes(slots_, ringBytes_);
      memfd_ = static_cast<int>(syscall(SYS_memfd_create, "tsmpi-inbox", 1u /* MFD_CLOEXEC */));
      if (memfd_ < 0) SystemFailure("memfd_create");
      if (ftruncate(memfd_, static_cast<off_t>(bytes_)) != 0) SystemFailure("ftruncate of the shared-memory inbox");
      void* p = mmap(nullptr, bytes_, PROT_READ | PROT_WRITE, MAP_SHARED, memfd_, 0);
      if (p == MAP_FAILED) SystemFailure("mmap of the shared-memory inbox");
      base_ = static_cast<uint8_t*>(p);
      auto* h = reinterpret_cast<InboxHeader*>(base_);
      h->slots = slots_;
      h->ringBytes = ringBytes_;
      __atomic_store_n(&h->magic, kMagic, __ATOMIC_RELEASE);
      int fds[2];
      if (pipe2(fds, O_CLOEXEC | O_NONBLOCK) != 0) SystemFailure("pipe2");
      wakeRead_ = fds[0];
      wakeWrite_ = fds[1];
      peers_.resize(slots_);
      assembly_.resize(slots_);
    });
  }

  ~ShmChannel() override { Release(); }

 private:
  uint32_t slots_ = 0, mySlot_ = 0;
  uint64_t ringBytes_ = 0;
  size_t bytes_ = 0;
  uint8_t* base_ = nullptr;
  int memfd_ = -1, wakeRead_ = -1, wakeWrite_ = -1;
  std::vector<Peer> peers_;
  std::vector<uint32_t> active_;  // the connected slots: the only rings anyone writes to
  std::vector<std::vector<uint8_t>> assembly_;  // fragments of a message still arriving, per sender
  uint32_t next_ = 0;                           // round-robin start of the next drain

  void Release() {
    for (Peer& p : peers_) {
      if (p.base) munmap(p.base, p.bytes);
      if (p.wake >= 0) close(p.wake);
      p = Peer{};
    }
    active_.clear();
    if (base_) munmap(base_, bytes_);
    base_ = nullptr;
    for (int* fd : {&memfd_, &wakeRead_, &wakeWrite_}) {
      if (*fd >= 0) close(*fd);
      *fd = -1;
    }
  }

  InboxHeader* Header() { return reinterpret_cast<InboxHeader*>(base_); }

  void CheckOpen(Napi::Env env) {
    if (!base_) throw Napi::Error::New(env, "ShmChannel: closed");
  }

  Napi::Value Memfd(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), memfd_); }
  // The read end of the wake pipe, handed to the event loop (which closes it from then on).
  Napi::Value TakeWakeRead(const Napi::CallbackInfo& info) {
    const int fd = wakeRead_;
    wakeRead_ = -1;
    return Napi::Number::New(info.Env(), fd);
  }
  Napi::Value WakeWrite(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), wakeWrite_); }

  // connect(slot, pid, memfd, wakeWrite): maps that rank's inbox and opens its wake pipe.
  Napi::Value Connect(const Napi::CallbackInfo& info) {
    CheckOpen(info.Env());
    return Guarded(info.Env(), [&] {
      const auto slot = static_cast<uint32_t>(NumberArg(info, 0));
      const auto pid = static_cast<long>(NumberArg(info, 1));
      const auto fd = static_cast<long>(NumberArg(info, 2));
      const auto wake = static_cast<long>(NumberArg(info, 3));
      if (slot >= slots_ || slot == mySlot_) throw Failure("ERR_TSMPI_ARG", "ShmChannel.connect: bad slot");
      const std::string dir = "/proc/" + std::to_string(pid) + "/fd/";
      const int mem = open((dir + std::to_string(fd)).c_str(), O_RDWR | O_CLOEXEC);
      if (mem < 0) SystemFailure("opening the shared-memory inbox of pid " + std::to_string(pid));
      struct stat st;
      if (fstat(mem, &st) != 0 || st.st_size < static_cast<off_t>(kHeaderBytes)) {
        close(mem);
        throw Failure("ERR_TSMPI_TRANSPORT", "the shared-memory inbox of pid " + std::to_string(pid) + " is not one");
      }
      void* p = mmap(nullptr, static_cast<size_t>(st.st_size), PROT_READ | PROT_WRITE, MAP_SHARED, mem, 0);
      close(mem);
      if (p == MAP_FAILED) SystemFailure("mapping the shared-memory inbox of pid " + std::to_string(pid));
      Peer peer;
      peer.base = static_cast<uint8_t*>(p);
      peer.bytes = static_cast<size_t>(st.st_size);
      const auto* h = reinterpret_cast<const InboxHeader*>(peer.base);
      peer.ringBytes = h->ringBytes;
      if (__atomic_load_n(&h->magic, __ATOMIC_ACQUIRE) != kMagic || h->slots != slots_ || peer.ringBytes < 4096 ||
          InboxBytes(h->slots, peer.ringBytes) != peer.bytes) {
        munmap(p, peer.bytes);
        throw Failure("ERR_TSMPI_TRANSPORT", "the shared-memory inbox of pid " + std::to_string(pid) + " has another layout");
      }
      peer.wake = open((dir + std::to_string(wake)).c_str(), O_WRONLY | O_NONBLOCK | O_CLOEXEC);
      if (peer.wake < 0) {
        munmap(p, peer.bytes);
        SystemFailure("opening the wake-up pipe of pid " + std::to_string(pid));
      }
      Peer& old = peers_[slot];
      if (old.base) munmap(old.base, old.bytes);
      bool known = false;
      for (const uint32_t s : active_) known = known || s == slot;
      if (!known) active_.push_back(slot);
      if (old.wake >= 0) close(old.wake);
      old = peer;
      return info.Env().Undefined();
    });
  }

  // watch(slot): reads the ring of the rank in `slot` from now on, whether or not this rank could
  // connect to that rank's own inbox (it may have written here and exited before we tried).
  Napi::Value Watch(const Napi::CallbackInfo& info) {
    CheckOpen(info.Env());
    const auto slot = static_cast<uint32_t>(NumberArg(info, 0));
    if (slot >= slots_ || slot == mySlot_) throw Napi::Error::New(info.Env(), "ShmChannel.watch: bad slot");
    bool known = false;
    for (const uint32_t s : active_) known = known || s == slot;
    if (!known) active_.push_back(slot);
    return info.Env().Undefined();
  }

  // send(slot, frames, offset): writes what fits of the message from logical byte `offset` on;
  // returns the new offset (the message's logical length once it is all written).
  Napi::Value Send(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    CheckOpen(env);
    const auto slot = static_cast<uint32_t>(NumberArg(info, 0));
    if (slot >= slots_ || !peers_[slot].base) throw Napi::Error::New(env, "ShmChannel.send: slot not connected");
    if (!info[1].IsArray()) throw Napi::TypeError::New(env, "ShmChannel.send: frames must be an array");
    const Napi::Array list = info[1].As<Napi::Array>();
    uint64_t offset = static_cast<uint64_t>(NumberArg(info, 2));
    const uint32_t count = list.Length();
    // The logical record: prefix (count and lengths), then the frames' bytes. (Messages have
    // one to three frames; more go to the heap.)
    constexpr uint32_t kInline = 8;
    uint32_t prefixInline[1 + kInline];
    std::pair<const uint8_t*, size_t> partsInline[kInline];
    std::vector<uint32_t> prefixHeap;
    std::vector<std::pair<const uint8_t*, size_t>> partsHeap;
    if (count > kInline) {
      prefixHeap.resize(1 + count);
      partsHeap.resize(count);
    }
    uint32_t* prefix = count > kInline ? prefixHeap.data() : prefixInline;
    auto* parts = count > kInline ? partsHeap.data() : partsInline;
    const uint64_t prefixBytes = 4 * (uint64_t{count} + 1);
    prefix[0] = count;
    uint64_t total = 4 + 4 * uint64_t{count};
    for (uint32_t i = 0; i < count; i++) {
      Napi::Value v = list.Get(i);
      if (!v.IsTypedArray()) throw Napi::TypeError::New(env, "ShmChannel.send: frames must be Buffers");
      const Napi::TypedArray a = v.As<Napi::TypedArray>();
      parts[i] = {static_cast<const uint8_t*>(ElementsOf(a)), a.ByteLength()};
      prefix[1 + i] = static_cast<uint32_t>(a.ByteLength());
      total += a.ByteLength();
    }
    Peer& peer = peers_[slot];
    RingControl* ring = ControlOf(peer.base, peer.ringBytes, mySlot_);
    uint8_t* data = DataOf(peer.base, peer.ringBytes, mySlot_);
    const uint64_t cap = peer.ringBytes;
    uint64_t tail = __atomic_load_n(&ring->tail, __ATOMIC_RELAXED);
    bool wrote = false;
    while (offset < total) {
      const uint64_t head = __atomic_load_n(&ring->head, __ATOMIC_ACQUIRE);
      const uint64_t room = cap - (tail - head);
      const uint64_t remaining = total - offset;
      if (room < kFragmentHeader + (remaining < 64 ? Round8(remaining) : 64)) {
        // Full: ask the receiver to wake us once it freed space, then look once more.
        __atomic_store_n(&ring->writerWaiting, 1, __ATOMIC_SEQ_CST);
        __atomic_thread_fence(__ATOMIC_SEQ_CST);
        if (cap - (tail - __atomic_load_n(&ring->head, __ATOMIC_SEQ_CST)) >= kFragmentHeader + 64) continue;
        break;
      }
      uint64_t len = remaining;
      if (len > room - kFragmentHeader) len = (room - kFragmentHeader) & ~uint64_t{7};
      if (len > cap / 2) len = cap / 2;
      const uint32_t flags = (offset == 0 ? kFirst : 0) | (offset + len == total ? kLast : 0);
      const uint32_t fragment[2] = {static_cast<uint32_t>(len), flags};
      RingPut(data, cap, tail, reinterpret_cast<const uint8_t*>(fragment), kFragmentHeader);
      // Copy logical bytes [offset, offset + len) from the prefix and the frames.
      uint64_t pos = tail + kFragmentHeader;
      uint64_t from = offset, end = offset + len, base = 0;
      if (from < prefixBytes) {
        const uint64_t n = (end < prefixBytes ? end : prefixBytes) - from;
        RingPut(data, cap, pos, reinterpret_cast<const uint8_t*>(prefix) + from, n);
        pos += n;
        from += n;
      }
      base = prefixBytes;
      for (uint32_t i = 0; i < count && from < end; i++) {
        const uint64_t size = parts[i].second;
        if (from < base + size) {
          const uint64_t at = from - base;
          const uint64_t n = (end - from < size - at) ? end - from : size - at;
          RingPut(data, cap, pos, parts[i].first + at, n);
          pos += n;
          from += n;
        }
        base += size;
      }
      tail += kFragmentHeader + Round8(len);
      __atomic_store_n(&ring->tail, tail, __ATOMIC_RELEASE);
      offset += len;
      wrote = true;
    }
    if (wrote) {
      __atomic_thread_fence(__ATOMIC_SEQ_CST);
      auto* h = reinterpret_cast<InboxHeader*>(peer.base);
      if (__atomic_load_n(&h->sleeping, __ATOMIC_SEQ_CST) != 0 && __atomic_exchange_n(&h->sleeping, 0, __ATOMIC_SEQ_CST) != 0) {
        Wake(peer.wake);
      }
    }
    return Napi::Number::New(env, static_cast<double>(offset));
  }

  // Splits a complete logical record into Buffers; throws on a record that does not parse.
  static Napi::Array Parse(Napi::Env env, const uint8_t* rec, size_t size) {
    uint32_t count;
    if (size < 4) throw Napi::Error::New(env, "corrupt shared-memory message (short record)");
    std::memcpy(&count, rec, 4);
    if (count > (size - 4) / 4) throw Napi::Error::New(env, "corrupt shared-memory message (frame count)");
    size_t at = 4 + 4 * size_t{count};
    Napi::Array frames = Napi::Array::New(env, count);
    for (uint32_t i = 0; i < count; i++) {
      uint32_t len;
      std::memcpy(&len, rec + 4 + 4 * i, 4);
      if (len > size - at) throw Napi::Error::New(env, "corrupt shared-memory message (frame length)");
      frames.Set(i, Napi::Buffer<uint8_t>::Copy(env, rec + at, len));
      at += len;
    }
    return frames;
  }

  // Drains up to `budget` messages from the rings into `out`; returns how many.
  uint32_t Drain(Napi::Env env, Napi::Array out, uint32_t budget) {
    uint32_t got = 0;
    const auto n = static_cast<uint32_t>(active_.size());
    for (uint32_t k = 0; k < n && got < budget; k++) {
      const uint32_t slot = active_[(next_ + k) % n];
      RingControl* ring = ControlOf(base_, ringBytes_, slot);
      const uint8_t* data = DataOf(base_, ringBytes_, slot);
      uint64_t head = __atomic_load_n(&ring->head, __ATOMIC_RELAXED);
      const uint64_t tail = __atomic_load_n(&ring->tail, __ATOMIC_ACQUIRE);
      if (head == tail) continue;
      std::vector<uint8_t>& pending = assembly_[slot];
      while (head < tail && got < budget) {
        uint32_t fragment[2];
        if (tail - head < kFragmentHeader) throw Napi::Error::New(env, "corrupt shared-memory ring (torn fragment)");
        RingGet(data, ringBytes_, head, reinterpret_cast<uint8_t*>(fragment), kFragmentHeader);
        const uint64_t len = fragment[0];
        const uint32_t flags = fragment[1];
        if (kFragmentHeader + Round8(len) > tail - head) throw Napi::Error::New(env, "corrupt shared-memory ring (fragment length)");
        if ((flags & kFirst) != 0) pending.clear();
        const uint64_t at0 = (head + kFragmentHeader) % ringBytes_;
        if ((flags & kFirst) != 0 && (flags & kLast) != 0 && at0 + len <= ringBytes_) {
          // A whole message in one piece that does not wrap: split it straight out of the ring.
          out.Set(out.Length(), Parse(env, data + at0, len));
          head += kFragmentHeader + Round8(len);
          __atomic_store_n(&ring->head, head, __ATOMIC_RELEASE);
          got++;
          continue;
        }
        const size_t at = pending.size();
        pending.resize(at + len);
        RingGet(data, ringBytes_, head + kFragmentHeader, pending.data() + at, len);
        head += kFragmentHeader + Round8(len);
        __atomic_store_n(&ring->head, head, __ATOMIC_RELEASE);
        if ((flags & kLast) != 0) {
          out.Set(out.Length(), Parse(env, pending.data(), pending.size()));
          if (pending.capacity() > (1u << 20)) std::vector<uint8_t>().swap(pending);
          else pending.clear();
          got++;
        }
      }
      __atomic_thread_fence(__ATOMIC_SEQ_CST);
      if (__atomic_load_n(&ring->writerWaiting, __ATOMIC_SEQ_CST) != 0 && __atomic_exchange_n(&ring->writerWaiting, 0, __ATOMIC_SEQ_CST) != 0) {
        Wake(peers_[slot].wake);
      }
    }
    if (n > 0) next_ = (next_ + 1) % n;
    return got;
  }

  // receive(spinUs, yieldBetween, budget): the messages that have arrived (at most `budget`),
  // polling up to spinUs microseconds for the first when none has.
  Napi::Value Receive(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    CheckOpen(env);
    const double spinUs = NumberArg(info, 0);
    const bool yieldBetween = info[1].ToBoolean();
    const auto budget = static_cast<uint32_t>(NumberArg(info, 2));
    Napi::Array out = Napi::Array::New(env);
    if (Drain(env, out, budget) > 0 || spinUs <= 0) return out;
    const int64_t deadline = NowNs() + static_cast<int64_t>(spinUs * 1000);
    for (uint32_t i = 0;; i++) {
      // Between polls: pause, and now and then (always, when yielding) give the core away, in
      // case the rank we wait for is runnable on this core (else it waits for the next tick).
      if (yieldBetween || (i & 7) == 7) sched_yield();
      else for (int j = 0; j < 16; j++) CpuRelax();
      if (Drain(env, out, budget) > 0) break;
      if ((i & 7) == 7 && NowNs() >= deadline) break;
    }
    return out;
  }

  // arm(): sets `sleeping`, then true when every ring is empty (false: drain again first).
  Napi::Value Arm(const Napi::CallbackInfo& info) {
    CheckOpen(info.Env());
    __atomic_store_n(&Header()->sleeping, 1, __ATOMIC_SEQ_CST);
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    for (const uint32_t slot : active_) {
      RingControl* ring = ControlOf(base_, ringBytes_, slot);
      if (__atomic_load_n(&ring->tail, __ATOMIC_SEQ_CST) != __atomic_load_n(&ring->head, __ATOMIC_RELAXED)) {
        return Napi::Boolean::New(info.Env(), false);
      }
    }
    return Napi::Boolean::New(info.Env(), true);
  }

  Napi::Value Close(const Napi::CallbackInfo& info) {
    Release();
    return info.Env().Undefined();
  }
};

}  // namespace

// bindThread(index): pins the calling thread to the index-th CPU of its affinity mask (modulo
// its size), as Open MPI binds a rank to a core; returns that CPU's number, or -1 when refused.
// Threads started earlier (V8's, libuv's, ZeroMQ's) keep their masks.
Napi::Value BindThread(const Napi::CallbackInfo& info) {
  const auto index = static_cast<int>(NumberArg(info, 0));
  cpu_set_t mask;
  if (sched_getaffinity(0, sizeof mask, &mask) != 0) return Napi::Number::New(info.Env(), -1);
  const int count = CPU_COUNT(&mask);
  if (count == 0) return Napi::Number::New(info.Env(), -1);
  int want = index % count, cpu = -1;
  for (int c = 0; c < CPU_SETSIZE; c++) {
    if (CPU_ISSET(c, &mask) && want-- == 0) {
      cpu = c;
      break;
    }
  }
  cpu_set_t one;
  CPU_ZERO(&one);
  CPU_SET(cpu, &one);
  if (sched_setaffinity(0, sizeof one, &one) != 0) return Napi::Number::New(info.Env(), -1);
  return Napi::Number::New(info.Env(), cpu);
}

// keepHeap(mmapThreshold, trimThreshold): fixes glibc malloc's thresholds (what its dynamic rule
// reaches at most: 32 MiB and twice that) so that buffers of tens of KiB, which each received
// message allocates and the garbage collector frees in bulk, are reused from the heap instead of
// the heap being trimmed and every new one faulting its pages in again (64 KiB ping-pong: 19-29
// -> 6-7 us). Returns false where malloc is not glibc's or refuses.
Napi::Value KeepHeap(const Napi::CallbackInfo& info) {
#ifdef __GLIBC__
  const int mmapThreshold = static_cast<int>(NumberArg(info, 0));
  const int trimThreshold = static_cast<int>(NumberArg(info, 1));
  const bool ok = mallopt(M_MMAP_THRESHOLD, mmapThreshold) == 1 && mallopt(M_TRIM_THRESHOLD, trimThreshold) == 1;
  return Napi::Boolean::New(info.Env(), ok);
#else
  return Napi::Boolean::New(info.Env(), false);
#endif
}

void InitShmChannel(Napi::Env env, Napi::Object exports) {
  ShmChannel::Init(env, exports);
  exports.Set("bindThread", Napi::Function::New(env, BindThread, "bindThread"));
  exports.Set("keepHeap", Napi::Function::New(env, KeepHeap, "keepHeap"));
}

}  // namespace tsmpi
