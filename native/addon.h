// The parts of the addon's exports, each set up by its own file; addon.cc calls them all.
#pragma once
#include <napi.h>

namespace tsmpi {

void InitBuiltins(Napi::Env env, Napi::Object exports);     // builtins.cc
void InitUserKernels(Napi::Env env, Napi::Object exports);  // user_kernels.cc
void InitProbe(Napi::Env env, Napi::Object exports);        // probe.cc
void InitPeerMemory(Napi::Env env, Napi::Object exports);   // peer_memory.cc
void InitShmChannel(Napi::Env env, Napi::Object exports);   // shm_channel.cc
void InitSocketOptions(Napi::Env env, Napi::Object exports);  // socket_options.cc

}  // namespace tsmpi
