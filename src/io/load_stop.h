// A stop asked for while a model loads (GeneratorOptions::stop_requested): from_pretrained sets the
// caller's request for its thread with LoadStopScope, and the loaders poll it between tensors, so
// a Ctrl-C need not wait for tens of gigabytes to load first. A thread-local rather than a
// parameter: every loader (each model component, each rank's replica) runs on the loading thread.
#pragma once

#include <functional>
#include <string_view>

namespace fastvideo {

class LoadStopScope {
 public:
  explicit LoadStopScope(const std::function<bool()>& stop_requested);
  ~LoadStopScope();
  LoadStopScope(const LoadStopScope&) = delete;
  LoadStopScope& operator=(const LoadStopScope&) = delete;

 private:
  const std::function<bool()>* previous_;
};

// Throws Cancelled ("stopped during loading <what>") when this thread's scope asks to stop.
void check_load_stop(std::string_view what);

}  // namespace fastvideo
