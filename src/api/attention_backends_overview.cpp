#include "attention/attention_registry.h"
#include "attention/attention_selection.h"
#include "core/compute_device.h"
#include "core/env.h"
#include "fastvideo/attention_backends.h"

namespace fastvideo {

AttentionBackendsOverview describe_attention_backends(const std::string& device_name,
                                                      const std::string& attention_backend) {
  std::string why_cpu;
  const AttentionDevice device = device_name.empty()
                                     ? this_machine_attention_device(&why_cpu)
                                     : attention_device_for(parse_compute_device(device_name));
  AttentionBackendsOverview o;
  o.gpu = device.is_gpu();
  o.device = device.is_gpu()   ? device.describe()
             : why_cpu.empty() ? std::string("the CPU: no GPU")
                               : str_cat("the CPU: no GPU (", why_cpu, ")");
  for (const AttentionBackend* b : AttentionBackendRegistry::builtin().backends()) {
    const AttentionBackendStatus status = b->status(device);
    o.backends.push_back({std::string(b->name()), std::string(status.kind_name()), status.reason,
                          b->capabilities().describe()});
  }
  const std::optional<std::string> env = env_string(kAttentionBackendEnv);
  o.environment = env ? *env : "(unset)";
  // The transformer's attention as a generation on this device would resolve it.
  const AttentionLayerShape wan{128, device.is_gpu() ? DType::BF16 : DType::F32};
  try {
    o.wan_selection = select_attention_backends(attention_backend, env, device, wan).describe();
  } catch (const Error& e) {
    o.wan_selection = str_cat("error: ", e.what());
  }
  return o;
}

std::string attention_backend_names() { return AttentionBackendRegistry::builtin().valid_names(); }

bool is_attention_backend_name(const std::string& name) {
  return AttentionBackendRegistry::builtin().find(name) != nullptr;
}

}  // namespace fastvideo
