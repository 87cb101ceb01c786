// One long-lived watchdog thread per Node environment, for time-limited calls
// into V8. node:vm's `timeout` starts and joins a thread per call (Node's
// src/node_watchdog.cc), which costs more than a small call itself; here a
// call only arms a deadline under a mutex, and the thread wakes only when a
// deadline earlier than the one it already waits for is armed.
//
// `run(fn, timeoutMs)` calls `fn()` and returns 0 (returned), 1 (threw; the
// exception is dropped unread) or 2 (stopped by its deadline). Calls may
// nest: each has its own deadline, and the one whose deadline passed reports
// the timeout. A termination this watchdog did not cause for this call (an
// enclosing call's deadline, node:vm's own watchdog, a stopping worker) is
// left to unwind further, exactly as Node's EvalMachine does.

#include <node.h>
#include <v8.h>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <thread>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

enum Status : int32_t { kReturned = 0, kThrew = 1, kTimedOut = 2 };

class Watchdog {
 public:
  explicit Watchdog(v8::Isolate* isolate) : isolate_(isolate), thread_([this] { Loop(); }) {}

  ~Watchdog() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stopping_ = true;
    }
    wake_.notify_one();
    thread_.join();
  }

  Watchdog(const Watchdog&) = delete;
  Watchdog& operator=(const Watchdog&) = delete;

  uint64_t Arm(Clock::time_point deadline) {
    std::lock_guard<std::mutex> lock(mutex_);
    const uint64_t id = ++last_id_;
    frames_.push_back(Frame{id, deadline, false});
    // Only a deadline earlier than the one the thread sleeps until needs it awake.
    if (deadline < wake_at_) wake_.notify_one();
    return id;
  }

  struct Outcome {
    bool fired;
    bool enclosing_fired;
  };

  Outcome Disarm(uint64_t id) {
    std::lock_guard<std::mutex> lock(mutex_);
    Outcome outcome{false, false};
    // Calls nest, so the frame is the last one; searching keeps a mistake harmless.
    for (size_t i = frames_.size(); i-- > 0;) {
      if (frames_[i].id == id) {
        outcome.fired = frames_[i].fired;
        frames_.erase(frames_.begin() + static_cast<std::ptrdiff_t>(i));
        break;
      }
    }
    for (const Frame& frame : frames_) outcome.enclosing_fired |= frame.fired;
    return outcome;
  }

 private:
  struct Frame {
    uint64_t id;
    Clock::time_point deadline;
    bool fired;
  };

  void Loop() {
    std::unique_lock<std::mutex> lock(mutex_);
    while (!stopping_) {
      const Clock::time_point now = Clock::now();
      Clock::time_point next = Clock::time_point::max();
      bool terminate = false;
      for (Frame& frame : frames_) {
        if (frame.fired) continue;
        if (frame.deadline <= now) {
          frame.fired = true;
          terminate = true;
        } else if (frame.deadline < next) {
          next = frame.deadline;
        }
      }
      // Still under the lock: a call that disarms and finds its frame not
      // fired can never be terminated by this watchdog afterwards.
      if (terminate) isolate_->TerminateExecution();
      wake_at_ = next;
      if (next == Clock::time_point::max()) {
        wake_.wait(lock);
      } else {
        wake_.wait_until(lock, next);
      }
    }
  }

  v8::Isolate* const isolate_;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::vector<Frame> frames_;
  uint64_t last_id_ = 0;
  Clock::time_point wake_at_ = Clock::time_point::min();
  bool stopping_ = false;
  // Last: the thread starts once the fields above are initialised.
  std::thread thread_;
};

void Run(const v8::FunctionCallbackInfo<v8::Value>& args) {
  v8::Isolate* isolate = args.GetIsolate();
  auto* watchdog = static_cast<Watchdog*>(args.Data().As<v8::External>()->Value());
  if (args.Length() < 2 || !args[0]->IsFunction() || !args[1]->IsNumber()) {
    isolate->ThrowException(v8::Exception::TypeError(
        v8::String::NewFromUtf8Literal(isolate, "run(fn, timeoutMs): a function and a number")));
    return;
  }
  const double ms = args[1].As<v8::Number>()->Value();
  if (!(ms > 0) || ms > 1e9) {
    isolate->ThrowException(v8::Exception::RangeError(
        v8::String::NewFromUtf8Literal(isolate, "run(fn, timeoutMs): timeoutMs must be in (0, 1e9]")));
    return;
  }
  v8::Local<v8::Function> fn = args[0].As<v8::Function>();
  v8::Local<v8::Context> context = isolate->GetCurrentContext();
  const auto budget = std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double, std::milli>(ms));

  v8::TryCatch try_catch(isolate);
  const uint64_t id = watchdog->Arm(Clock::now() + budget);
  v8::MaybeLocal<v8::Value> result = fn->Call(context, v8::Undefined(isolate), 0, nullptr);
  const Watchdog::Outcome outcome = watchdog->Disarm(id);

  if (outcome.fired && !outcome.enclosing_fired) {
    // This call's deadline passed: the termination (raised, or still only
    // requested if fn returned just as the deadline passed) is this call's
    // alone, and must not reach any later JavaScript.
    isolate->CancelTerminateExecution();
    try_catch.Reset();
    args.GetReturnValue().Set(static_cast<int32_t>(kTimedOut));
    return;
  }
  if (outcome.fired || try_catch.HasTerminated()) {
    // Someone else's termination (or an enclosing call's too): returning with
    // it pending lets it unwind the frames up to whoever caused it.
    return;
  }
  if (result.IsEmpty() || try_catch.HasCaught()) {
    try_catch.Reset();
    args.GetReturnValue().Set(static_cast<int32_t>(kThrew));
    return;
  }
  args.GetReturnValue().Set(static_cast<int32_t>(kReturned));
}

void Cleanup(void* arg) { delete static_cast<Watchdog*>(arg); }

}  // namespace

NODE_MODULE_INIT(/* exports, module, context */) {
  v8::Isolate* isolate = context->GetIsolate();
  auto* watchdog = new Watchdog(isolate);
  node::AddEnvironmentCleanupHook(isolate, Cleanup, watchdog);
  v8::Local<v8::External> data = v8::External::New(isolate, watchdog);
  v8::Local<v8::Function> run;
  if (!v8::Function::New(context, Run, data, 2).ToLocal(&run)) return;
  exports->Set(context, v8::String::NewFromUtf8Literal(isolate, "run"), run).Check();
}
