// What `fastvideo backends` shows: every attention backend by its FastVideo name (DESIGN §4) with
// its status on a device and why, what it supports, and what selection gives a Wan2.1 transformer
// there.
#pragma once

#include <string>
#include <vector>

namespace fastvideo {

struct AttentionBackendReport {
  std::string name;      // FastVideo's name: TORCH_SDPA, FLASH_ATTN, ...
  std::string status;    // "available", "not in this version", "unsupported hardware"
  std::string reason;    // why, on this device
  std::string supports;  // dtypes, head dims, self/cross, extra weights, hardware
};

struct AttentionBackendsOverview {
  bool gpu = false;
  std::string device;  // "NVIDIA H200 (cuda:0, sm_90)", or "the CPU: no GPU (why)"
  std::vector<AttentionBackendReport> backends;
  std::string environment;  // FASTVIDEO_ATTENTION_BACKEND's value, "(unset)" when it is not set
  // The Wan2.1 transformer's resolved backends here ("self FLASH_ATTN (automatic), cross ..."), or
  // "error: ..." when selection refuses the request.
  std::string wan_selection;
};

// device: "cpu", "cuda", "cuda:N", or empty for GPU 0 when it is usable (else the CPU).
// attention_backend: the name to resolve as --attention-backend would; empty for the environment
// variable, then automatic.
AttentionBackendsOverview describe_attention_backends(const std::string& device,
                                                      const std::string& attention_backend);

// Every attention backend's FastVideo name, comma-separated ("TORCH_SDPA, FLASH_ATTN, ..."), and
// whether `name` is one of them (in any case, as --attention-backend matches them).
std::string attention_backend_names();
bool is_attention_backend_name(const std::string& name);

}  // namespace fastvideo
