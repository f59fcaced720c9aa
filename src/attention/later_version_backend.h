// A backend FastVideo has and this version does not build (SAGE_ATTN_THREE, nvfp4_fa4: both
// Blackwell-only): registered with its capabilities so that `fastvideo backends` lists it and
// asking for it is a clear error, never a silent fallback (DESIGN §4).
#pragma once

#include <string>

#include "attention/attention_backend.h"

namespace fastvideo {

class LaterVersionBackend final : public AttentionBackend {
 public:
  LaterVersionBackend(std::string name, AttentionCapabilities capabilities);

  std::string_view name() const override { return name_; }
  const AttentionCapabilities& capabilities() const override { return capabilities_; }
  // NotInThisVersion, except that a Blackwell-only backend (minimum compute capability 10.0) on
  // any other device is UnsupportedHardware: that requirement holds in every version, so it is
  // the more useful message (the reason adds that the backend is not in this version either).
  AttentionBackendStatus status(const AttentionDevice& device) const override;

 protected:
  Tensor forward(const Tensor& q, const Tensor& k, const Tensor& v, float scale,
                 const AttentionMetadata* metadata, const AttentionExtras& extras) const override;

 private:
  std::string not_in_this_version() const;

  std::string name_;
  AttentionCapabilities capabilities_;
};

}  // namespace fastvideo
