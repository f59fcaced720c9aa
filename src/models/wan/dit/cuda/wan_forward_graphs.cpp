#include "models/wan/dit/cuda/wan_forward_graphs.h"

#include <chrono>

#include "fastvideo/log.h"

namespace fastvideo {

namespace {

// A tensor of the same shape and dtype with its own storage, holding t's values.
Tensor copy_of(const Tensor& t) {
  Tensor out = Tensor::empty(t.shape(), t.dtype(), t.device());
  out.copy_from(t);
  return out;
}

// A context with tensors of its own holding `from`'s values, or `from`'s values copied into
// `into`'s tensors.
WanTransformer::TextContext copy_of(const WanTransformer::TextContext& from) {
  WanTransformer::TextContext out;
  out.text = copy_of(from.text);
  for (const auto& block : from.blocks) out.blocks.push_back({copy_of(block.k), copy_of(block.v)});
  out.id = from.id;
  return out;
}
void copy_into(WanTransformer::TextContext& into, const WanTransformer::TextContext& from) {
  into.text.copy_from(from.text);
  for (size_t i = 0; i < from.blocks.size(); ++i) {
    into.blocks[i].k.copy_from(from.blocks[i].k);
    into.blocks[i].v.copy_from(from.blocks[i].v);
  }
  into.id = from.id;
}

}  // namespace

WanForwardGraphs::Entry WanForwardGraphs::capture(const Tensor& latents, const Tensor& sinusoid,
                                                  const WanTransformer::TextContext& text,
                                                  const std::string& what, const Eager& eager) {
  Entry e;
  e.latents = copy_of(latents);
  e.sinusoid = copy_of(sinusoid);
  e.text = copy_of(text);
  e.graph = std::make_unique<CudaGraph>(latents.device().index, what,
                                        [&] { e.output = eager(e.latents, e.sinusoid, e.text); });
  return e;
}

Tensor WanForwardGraphs::forward(const Tensor& latents, const Tensor& sinusoid,
                                 const WanTransformer::TextContext& text, const std::string& key,
                                 const Eager& eager) {
  std::lock_guard lock(mu_);
  const std::string full_key = str_cat(latents.describe(), " ", text.text.describe(), " ", key);
  auto it = entries_.find(full_key);
  if (it == entries_.end()) {
    // The first forward of this shape runs eagerly: it is the warm-up that builds every plan,
    // table and cache the capture relies on, and its result is this call's.
    Tensor out = eager(latents, sinusoid, text);
    const auto t0 = std::chrono::steady_clock::now();
    const std::string what = "the transformer forward on latents " + latents.describe();
    Entry entry = capture(latents, sinusoid, text, what, eager);
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    stats_.graphs += 1;
    stats_.capture_seconds += seconds;
    stats_.graph_memory_bytes += entry.graph->pool_bytes();
    log::info("compile mode: captured ", what, " (", entry.graph->kernel_nodes(), " kernels) in ",
              seconds, " s; ", entry.graph->pool_bytes() >> 20, " MiB of graph memory");
    entries_.emplace(full_key, std::move(entry));
    return out;
  }
  Entry& e = it->second;
  e.latents.copy_from(latents);
  e.sinusoid.copy_from(sinusoid);
  // id 0: a context not from prepare_text, whose contents nothing vouches for.
  if (text.id == 0 || e.text.id != text.id) copy_into(e.text, text);
  e.graph->replay();
  stats_.replays += 1;
  return copy_of(e.output);
}

WanTransformer::CompileStats WanForwardGraphs::stats() const {
  std::lock_guard lock(mu_);
  return stats_;
}

}  // namespace fastvideo
