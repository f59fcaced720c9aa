#include "attention/later_version_backend.h"

#include "fastvideo/error.h"

namespace fastvideo {

LaterVersionBackend::LaterVersionBackend(std::string name, AttentionCapabilities capabilities)
    : name_(std::move(name)), capabilities_(std::move(capabilities)) {}

std::string LaterVersionBackend::not_in_this_version() const {
  return str_cat(name_, " is not available in this version of fastvideo-cpp (a later version ",
                 "builds it)");
}

AttentionBackendStatus LaterVersionBackend::status(const AttentionDevice& device) const {
  using Kind = AttentionBackendStatus::Kind;
  const bool blackwell_only = ComputeCapability{10, 0} <= capabilities_.min_compute;
  if (blackwell_only) {
    AttentionBackendStatus hardware = hardware_status(name_, capabilities_, device);
    if (!hardware.available()) {
      hardware.reason += "; it is not in this version of fastvideo-cpp either";
      return hardware;
    }
  }
  return {Kind::NotInThisVersion, not_in_this_version()};
}

Tensor LaterVersionBackend::forward(const Tensor&, const Tensor&, const Tensor&, float,
                                    const AttentionMetadata*, const AttentionExtras&) const {
  fail("attention backend ", not_in_this_version());
}

}  // namespace fastvideo
