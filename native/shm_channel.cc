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
// Nothing read from an inbox is trusted (any process of the same user can write there): the
// inbox is a sealed memfd (its size cannot change under the mappings), and the layout, ring
// positions, fragments and records are checked by shm_ring.h against what each side keeps
// privately. A violation throws ERR_TSMPI_TRANSPORT naming the peer whose ring it is, and the
// channel refuses to read on; lib/transport/shm.ts ends the rank with it.
//
// Wake-ups: a receiver that is about to sleep sets its inbox's `sleeping` word and re-checks its
// rings (arm()); a sender that wrote a fragment and finds the word set clears it and writes one
// byte into the receiver's pipe, which the receiver's event loop watches. A sender that finds a
// ring full sets the ring's `writerWaiting` word; the receiver, once it has freed space, clears it
// and writes into the sender's pipe. Both sides fence (seq_cst) between their store and their
// load, so no wake-up is lost.
//
//   new ShmChannel(slots, mySlot, ringBytes, maxRecord?)
//                                                makes this rank's inbox; .memfd, .wakeWrite, takeWakeRead()
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
#include "shm_ring.h"

namespace tsmpi {
namespace {

using namespace shm;

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

void Wake(int fd) {
  if (fd < 0) return;
  const char byte = 1;
  // EAGAIN: the pipe is full of wake-ups already; the receiver will look anyway.
  (void)!write(fd, &byte, 1);
}

[[noreturn]] void SystemFailure(const std::string& what) {
  throw Failure("ERR_TSMPI_TRANSPORT", what + ": " + std::strerror(errno));
}

// An integer argument in [0, max]; lib/ validates its own numbers, but endpoints (pid, fds)
// come from the address table, which peers fill.
uint64_t IntegerArg(const Napi::CallbackInfo& info, size_t index, double max, const char* what) {
  const double v = NumberArg(info, index);
  if (!(v >= 0 && v <= max) || v != static_cast<double>(static_cast<uint64_t>(v))) {
    throw Failure("ERR_TSMPI_ARG", std::string("ShmChannel: ") + what + " must be an integer in [0, " + std::to_string(static_cast<uint64_t>(max)) + "], got " + std::to_string(v));
  }
  return static_cast<uint64_t>(v);
}

struct Peer {
  uint8_t* base = nullptr;  // the peer's inbox, mapped
  size_t bytes = 0;
  uint64_t ringBytes = 0;   // as accepted at connect time (the header may change since)
  RingWriter writer;        // this rank's write position in its ring there
  int wake = -1;            // the peer's pipe, write end
};

// Seals that keep an inbox's size fixed: a process that could shrink a mapped memfd would make
// every access past its new end a SIGBUS in the ranks that map it.
constexpr int kSeals = F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL;

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

  // new ShmChannel(slots, mySlot, ringBytes, maxRecord?): maxRecord bounds one message's bytes
  // (default 2^31), and so what a sender that never finishes one can make this rank hold.
  explicit ShmChannel(const Napi::CallbackInfo& info) : Napi::ObjectWrap<ShmChannel>(info) {
    Guarded(info.Env(), [&] {
      slots_ = static_cast<uint32_t>(IntegerArg(info, 0, kMaxSlots, "slots"));
      mySlot_ = static_cast<uint32_t>(IntegerArg(info, 1, kMaxSlots, "slot"));
      ringBytes_ = IntegerArg(info, 2, kMaxRing, "ring size");
      maxRecord_ = info.Length() > 3 && !info[3].IsUndefined() ? IntegerArg(info, 3, 9007199254740991.0, "maxRecord") : uint64_t{1} << 31;
      if (slots_ == 0 || mySlot_ >= slots_ || ringBytes_ < kMinRing || ringBytes_ % 4096 != 0 || maxRecord_ < 16) {
        throw Failure("ERR_TSMPI_ARG", "ShmChannel: bad slots, slot, ring size or maxRecord");
      }
      bytes_ = InboxBytes(slots_, ringBytes_);
      memfd_ = static_cast<int>(syscall(SYS_memfd_create, "tsmpi-inbox", unsigned{MFD_CLOEXEC | MFD_ALLOW_SEALING}));
      if (memfd_ < 0) SystemFailure("memfd_create");
      if (ftruncate(memfd_, static_cast<off_t>(bytes_)) != 0) SystemFailure("ftruncate of the shared-memory inbox");
      if (fcntl(memfd_, F_ADD_SEALS, kSeals) != 0) SystemFailure("sealing the shared-memory inbox");
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
      readers_.resize(slots_);
    });
  }

  ~ShmChannel() override { Release(); }

 private:
  uint32_t slots_ = 0, mySlot_ = 0;
  uint64_t ringBytes_ = 0, maxRecord_ = 0;
  size_t bytes_ = 0;
  uint8_t* base_ = nullptr;
  int memfd_ = -1, wakeRead_ = -1, wakeWrite_ = -1;
  std::vector<Peer> peers_;
  std::vector<uint32_t> active_;  // the connected slots: the only rings anyone writes to
  std::vector<RingReader> readers_;  // per sender: read position, message still arriving
  uint32_t next_ = 0;                // round-robin start of the next drain
  std::string broken_;               // the first violation seen: every later receive fails with it

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

  void Activate(uint32_t slot) {
    bool known = false;
    for (const uint32_t s : active_) known = known || s == slot;
    if (!known) active_.push_back(slot);
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
      const auto slot = static_cast<uint32_t>(IntegerArg(info, 0, kMaxSlots, "slot"));
      const auto pid = static_cast<long>(IntegerArg(info, 1, INT32_MAX, "pid"));
      const auto fd = static_cast<long>(IntegerArg(info, 2, INT32_MAX, "memfd"));
      const auto wake = static_cast<long>(IntegerArg(info, 3, INT32_MAX, "wake fd"));
      if (slot >= slots_ || slot == mySlot_) throw Failure("ERR_TSMPI_ARG", "ShmChannel.connect: bad slot");
      const std::string who = "rank " + std::to_string(slot) + " (pid " + std::to_string(pid) + ")";
      const std::string dir = "/proc/" + std::to_string(pid) + "/fd/";
      const int mem = open((dir + std::to_string(fd)).c_str(), O_RDWR | O_CLOEXEC);
      if (mem < 0) SystemFailure("opening the shared-memory inbox of " + who);
      struct stat st;
      const int seals = fcntl(mem, F_GET_SEALS);
      if (fstat(mem, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size < static_cast<off_t>(kHeaderBytes) || seals < 0 || (seals & kSeals) != kSeals) {
        close(mem);
        throw Failure("ERR_TSMPI_TRANSPORT", "the shared-memory inbox of " + who + " is not one (not a sealed memfd of its size)");
      }
      const auto fileBytes = static_cast<uint64_t>(st.st_size);
      void* p = mmap(nullptr, fileBytes, PROT_READ | PROT_WRITE, MAP_SHARED, mem, 0);
      close(mem);
      if (p == MAP_FAILED) SystemFailure("mapping the shared-memory inbox of " + who);
      Peer peer;
      peer.base = static_cast<uint8_t*>(p);
      peer.bytes = fileBytes;
      // One copy of the header, checked and then used: the peer's memory may change meanwhile.
      const uint32_t magic = __atomic_load_n(&reinterpret_cast<const InboxHeader*>(peer.base)->magic, __ATOMIC_ACQUIRE);
      InboxHeader h;
      std::memcpy(&h, peer.base, sizeof h);
      h.magic = magic;
      std::string problem = LayoutProblem(h, fileBytes, slots_);
      if (problem.empty()) {
        peer.ringBytes = h.ringBytes;
        RingControl* ring = ControlOf(peer.base, peer.ringBytes, mySlot_);
        peer.writer.tail = LoadAcquire(&ring->tail);
        const uint64_t head = LoadAcquire(&ring->head);
        if (!Plausible(head, peer.writer.tail, peer.ringBytes)) {
          problem = "its ring for this rank holds impossible positions (read " + std::to_string(head) + ", written " + std::to_string(peer.writer.tail) + ")";
        }
      }
      if (!problem.empty()) {
        munmap(p, peer.bytes);
        throw Failure("ERR_TSMPI_TRANSPORT", "the shared-memory inbox of " + who + " is corrupt: " + problem);
      }
      peer.wake = open((dir + std::to_string(wake)).c_str(), O_WRONLY | O_NONBLOCK | O_CLOEXEC);
      if (peer.wake < 0) {
        munmap(p, peer.bytes);
        SystemFailure("opening the wake-up pipe of " + who);
      }
      Peer& old = peers_[slot];
      if (old.base) munmap(old.base, old.bytes);
      Activate(slot);
      if (old.wake >= 0) close(old.wake);
      old = peer;
      return info.Env().Undefined();
    });
  }

  // watch(slot): reads the ring of the rank in `slot` from now on, whether or not this rank could
  // connect to that rank's own inbox (it may have written here and exited before we tried).
  Napi::Value Watch(const Napi::CallbackInfo& info) {
    CheckOpen(info.Env());
    const auto slot = static_cast<uint32_t>(Guarded(info.Env(), [&] { return IntegerArg(info, 0, kMaxSlots, "slot"); }));
    if (slot >= slots_ || slot == mySlot_) throw Napi::Error::New(info.Env(), "ShmChannel.watch: bad slot");
    Activate(slot);
    return info.Env().Undefined();
  }

  // send(slot, frames, offset): writes what fits of the message from logical byte `offset` on;
  // returns the new offset (the message's logical length once it is all written).
  Napi::Value Send(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    CheckOpen(env);
    const auto slot = static_cast<uint32_t>(Guarded(env, [&] { return IntegerArg(info, 0, kMaxSlots, "slot"); }));
    if (slot >= slots_ || !peers_[slot].base) throw Napi::Error::New(env, "ShmChannel.send: slot not connected");
    if (!info[1].IsArray()) throw Napi::TypeError::New(env, "ShmChannel.send: frames must be an array");
    const Napi::Array list = info[1].As<Napi::Array>();
    const uint64_t offset = Guarded(env, [&] { return IntegerArg(info, 2, 9007199254740991.0, "offset"); });
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
    prefix[0] = count;
    uint64_t total = 4 + 4 * uint64_t{count};
    for (uint32_t i = 0; i < count; i++) {
      Napi::Value v = list.Get(i);
      if (!v.IsTypedArray()) throw Napi::TypeError::New(env, "ShmChannel.send: frames must be Buffers");
      const Napi::TypedArray a = v.As<Napi::TypedArray>();
      if (a.ByteLength() > UINT32_MAX) throw Napi::RangeError::New(env, "ShmChannel.send: a frame is larger than 4 GiB");
      parts[i] = {static_cast<const uint8_t*>(ElementsOf(a)), a.ByteLength()};
      prefix[1 + i] = static_cast<uint32_t>(a.ByteLength());
      total += a.ByteLength();
    }
    const Record rec{prefix, 4 * (uint64_t{count} + 1), parts, count, total};
    Peer& peer = peers_[slot];
    bool wrote = false;
    const uint64_t done = Guarded(env, [&] {
      try {
        return WriteRing(peer.writer, ControlOf(peer.base, peer.ringBytes, mySlot_), DataOf(peer.base, peer.ringBytes, mySlot_), peer.ringBytes, rec, offset, wrote);
      } catch (const Failure& f) {
        throw Failure(f.code, "the shared-memory inbox of rank " + std::to_string(slot) + " is corrupt: " + f.what());
      }
    });
    if (wrote) {
      __atomic_thread_fence(__ATOMIC_SEQ_CST);
      auto* h = reinterpret_cast<InboxHeader*>(peer.base);
      if (__atomic_load_n(&h->sleeping, __ATOMIC_SEQ_CST) != 0 && __atomic_exchange_n(&h->sleeping, 0, __ATOMIC_SEQ_CST) != 0) {
        Wake(peer.wake);
      }
    }
    return Napi::Number::New(env, static_cast<double>(done));
  }

  // Drains up to `budget` messages from the rings into `out`; returns how many. Throws a Failure
  // naming the sender whose ring holds what the protocol never writes.
  uint32_t Drain(Napi::Env env, Napi::Array out, uint32_t budget) {
    if (!broken_.empty()) throw Failure("ERR_TSMPI_TRANSPORT", broken_);
    uint32_t got = 0;
    const auto n = static_cast<uint32_t>(active_.size());
    for (uint32_t k = 0; k < n && got < budget; k++) {
      const uint32_t slot = active_[(next_ + k) % n];
      RingControl* ring = ControlOf(base_, ringBytes_, slot);
      try {
        got += ReadRing(readers_[slot], ring, DataOf(base_, ringBytes_, slot), ringBytes_, maxRecord_, budget - got, [&](const uint8_t* rec, uint64_t size) {
          Napi::Array message;
          uint32_t i = 0;
          ParseRecord(
              rec, size, [&](uint32_t n) { message = Napi::Array::New(env, n); },
              [&](const uint8_t* bytes, uint32_t len) { message.Set(i++, Napi::Buffer<uint8_t>::Copy(env, bytes, len)); });
          out.Set(out.Length(), message);
        });
      } catch (const Failure& f) {
        broken_ = "the shared-memory ring that rank " + std::to_string(slot) + " writes into this rank's inbox is corrupt: " + f.what();
        throw Failure("ERR_TSMPI_TRANSPORT", broken_);
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
    const auto budget = static_cast<uint32_t>(Guarded(env, [&] { return IntegerArg(info, 2, UINT32_MAX, "budget"); }));
    Napi::Array out = Napi::Array::New(env);
    return Guarded(env, [&] {
      if (Drain(env, out, budget) > 0 || !(spinUs > 0)) return out;
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
    });
  }

  // arm(): sets `sleeping`, then true when every ring is empty (false: drain again first).
  Napi::Value Arm(const Napi::CallbackInfo& info) {
    CheckOpen(info.Env());
    __atomic_store_n(&Header()->sleeping, 1, __ATOMIC_SEQ_CST);
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    for (const uint32_t slot : active_) {
      RingControl* ring = ControlOf(base_, ringBytes_, slot);
      if (__atomic_load_n(&ring->tail, __ATOMIC_SEQ_CST) != readers_[slot].head) return Napi::Boolean::New(info.Env(), false);
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
