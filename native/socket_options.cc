// TCP options Node cannot set: libuv's keepalive fixes the probe interval at 1 s and the count at
// 10, so a peer that vanished (its host crashed, the link dropped: no FIN, no RST) is noticed no
// sooner than 11 s after the connection went idle, and a connection with unacknowledged data not
// for about 15 minutes. lib/job/rendezvous.ts uses this on the coordinator connection, so that a
// rank whose launcher is gone exits within TSMPI_HEARTBEAT_TIMEOUT.
//
//   tcpKeepalive(fd, idleS, intervalS, count, userTimeoutMs) -> bool
//       SO_KEEPALIVE on, TCP_KEEPIDLE/TCP_KEEPINTVL/TCP_KEEPCNT as given, and TCP_USER_TIMEOUT
//       (unacknowledged data, and keepalive probes, time out after that many ms); false when
//       the system refused one of them.
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include "addon.h"
#include "bridge.h"

namespace tsmpi {

namespace {

Napi::Value TcpKeepalive(const Napi::CallbackInfo& info) {
  const int fd = static_cast<int>(NumberArg(info, 0));
  const int idle = static_cast<int>(NumberArg(info, 1));
  const int interval = static_cast<int>(NumberArg(info, 2));
  const int count = static_cast<int>(NumberArg(info, 3));
  const unsigned userTimeout = static_cast<unsigned>(NumberArg(info, 4));
  const int on = 1;
  const bool ok = setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &on, sizeof on) == 0 &&
                  setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof idle) == 0 &&
                  setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &interval, sizeof interval) == 0 &&
                  setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &count, sizeof count) == 0 &&
                  setsockopt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &userTimeout, sizeof userTimeout) == 0;
  return Napi::Boolean::New(info.Env(), ok);
}

}  // namespace

void InitSocketOptions(Napi::Env env, Napi::Object exports) {
  exports.Set("tcpKeepalive", Napi::Function::New(env, TcpKeepalive, "tcpKeepalive"));
}

}  // namespace tsmpi
