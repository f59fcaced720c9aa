#include "random_vae_weights.h"

#include <cmath>
#include <string>

#include "models/wan/vae/wan_vae_specs.h"
#include "ops/elementwise.h"
#include "test_util.h"

namespace fastvideo::testing {

Weights random_vae_weights(const WanVaeConfig& config) {
  Weights w("vae");
  for (const TensorSpec& spec : wan_vae_specs(config)) {
    if (!spec.used) continue;
    const auto ends_with = [&](const std::string& s) {
      return spec.name.size() >= s.size() &&
             spec.name.compare(spec.name.size() - s.size(), s.size(), s) == 0;
    };
    Tensor t;
    if (ends_with(".gamma")) {
      t = ops::add(Tensor::full(spec.shape, 1.0f), randn(spec.shape, 0.1f));
    } else if (ends_with(".bias")) {
      t = randn(spec.shape, 0.05f);
    } else {
      const double fan_in = double(shape_numel(spec.shape)) / double(spec.shape[0]);
      t = randn(spec.shape, float(1.0 / std::sqrt(fan_in)));
    }
    w.insert(spec.name, t);
  }
  return w;
}

}  // namespace fastvideo::testing
