// Node-API boundary helpers (see bridge.h).
#include "bridge.h"

#include <optional>
#include <string>

namespace tsmpi {

namespace {

class JobWorker : public Napi::AsyncWorker {
 public:
  JobWorker(Napi::Env env, Job job)
      : Napi::AsyncWorker(env, "tsmpi:native"), deferred_(Napi::Promise::Deferred::New(env)), job_(std::move(job)) {
    for (const Napi::Object& object : job_.keepAlive) kept_.push_back(Napi::Persistent(object));
    job_.keepAlive.clear();
  }
  ~JobWorker() override {
    if (job_.cleanup) job_.cleanup();
  }
  Napi::Promise Promise() const { return deferred_.Promise(); }

 protected:
  void Execute() override {
    try {
      if (job_.work) job_.work();
    } catch (const Failure& failure) {
      failure_ = failure;
    } catch (const std::exception& error) {
      failure_ = Failure("ERR_TSMPI_INTERNAL", error.what());
    }
  }
  void OnOK() override {
    Napi::HandleScope scope(Env());
    if (failure_) {
      deferred_.Reject(MakeError(Env(), *failure_).Value());
      return;
    }
    try {
      deferred_.Resolve(job_.settle ? job_.settle(Env()) : Env().Undefined());
    } catch (const Failure& failure) {
      deferred_.Reject(MakeError(Env(), failure).Value());
    }
  }
  void OnError(const Napi::Error& error) override { deferred_.Reject(error.Value()); }

 private:
  Napi::Promise::Deferred deferred_;
  Job job_;
  std::vector<Napi::ObjectReference> kept_;
  std::optional<Failure> failure_;
};

Napi::Value SetErrorFactory(const Napi::CallbackInfo& info) {
  if (!info[0].IsFunction()) throw Napi::TypeError::New(info.Env(), "setErrorFactory expects a function");
  Data(info.Env()).errorFactory = Napi::Persistent(info[0].As<Napi::Function>());
  return info.Env().Undefined();
}

}  // namespace

AddonData& Data(Napi::Env env) { return *env.GetInstanceData<AddonData>(); }

void InitBridge(Napi::Env env, Napi::Object exports) {
  env.SetInstanceData<AddonData>(new AddonData());
  exports.Set("setErrorFactory", Napi::Function::New(env, SetErrorFactory, "setErrorFactory"));
}

Napi::Error MakeError(Napi::Env env, const Failure& failure) {
  Napi::Value log = failure.log.empty() ? env.Undefined() : Napi::String::New(env, failure.log);
  AddonData& data = Data(env);
  if (!data.errorFactory.IsEmpty()) {
    Napi::Value error =
        data.errorFactory.Call({Napi::String::New(env, failure.code), Napi::String::New(env, failure.what()), log});
    return Napi::Error(env, error);
  }
  Napi::Error error = Napi::Error::New(env, failure.what());
  error.Set("code", failure.code);
  if (!failure.log.empty()) error.Set("log", log);
  return error;
}

Napi::Promise StartJob(Napi::Env env, Job job) {
  auto* worker = new JobWorker(env, std::move(job));
  Napi::Promise promise = worker->Promise();
  worker->Queue();
  return promise;
}

Napi::TypedArray TypedArrayArg(const Napi::CallbackInfo& info, size_t index) {
  if (!info[index].IsTypedArray())
    throw Napi::TypeError::New(info.Env(), "argument " + std::to_string(index) + " must be a typed array");
  return info[index].As<Napi::TypedArray>();
}

uint64_t Uint64Arg(const Napi::CallbackInfo& info, size_t index) {
  if (info[index].IsBigInt()) {
    bool lossless = false;
    const uint64_t value = info[index].As<Napi::BigInt>().Uint64Value(&lossless);
    if (lossless) return value;
  } else if (info[index].IsNumber()) {
    const double value = info[index].As<Napi::Number>().DoubleValue();
    if (value >= 0 && value <= 9007199254740992.0 && value == static_cast<double>(static_cast<uint64_t>(value)))
      return static_cast<uint64_t>(value);
  }
  throw Napi::TypeError::New(info.Env(), "argument " + std::to_string(index) + " must be an integer in [0, 2^64)");
}

double NumberArg(const Napi::CallbackInfo& info, size_t index) {
  if (!info[index].IsNumber())
    throw Napi::TypeError::New(info.Env(), "argument " + std::to_string(index) + " must be a number");
  return info[index].As<Napi::Number>().DoubleValue();
}

std::string StringArg(const Napi::CallbackInfo& info, size_t index) {
  if (!info[index].IsString())
    throw Napi::TypeError::New(info.Env(), "argument " + std::to_string(index) + " must be a string");
  return info[index].As<Napi::String>().Utf8Value();
}

void* ElementsOf(const Napi::TypedArray& array) {
  return static_cast<uint8_t*>(array.ArrayBuffer().Data()) + array.ByteOffset();
}

}  // namespace tsmpi
