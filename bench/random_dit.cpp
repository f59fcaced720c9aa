#include "random_dit.h"

#include <set>
#include <string>

#include "core/torch_random.h"
#include "models/wan/wan_geometry.h"
#include "ops/elementwise.h"
#include "random_checkpoint/random_weights.h"

namespace fastvideo::bench {

Weights random_dit_weights(const WanTransformerConfig& config, Device device) {
  const std::set<std::string> fp32 = wan_transformer_fp32_names(config);
  Weights weights("transformer");
  for (const TensorSpec& spec : wan_transformer_specs(config)) {
    weights.insert(
        spec.name,
        random_weight(spec, /*seed=*/0, fp32.count(spec.name) ? DType::F32 : DType::BF16, device));
  }
  return weights;
}

RandomDitInputs random_dit_inputs(const WanTransformer& dit, const Shape& latent_shape) {
  const Device device = dit.device();
  RandomDitInputs in;
  in.latents = torch_randn(latent_shape, 1).to(device);
  in.text = dit.prepare_text(
      ops::scale(torch_randn({1, WanGeometry::kTextLength, dit.config().text_dim}, 2), 0.2f)
          .to(device)
          .to(DType::BF16));
  return in;
}

}  // namespace fastvideo::bench
