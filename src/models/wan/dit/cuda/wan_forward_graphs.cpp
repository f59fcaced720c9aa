#include "models/wan/dit/cuda/wan_forward_graphs.h"

#include "core/graph_cache_eviction.h"

namespace fastvideo {

namespace {

// A context with tensors of its own holding `from`'s values, or `from`'s values copied into
// `into`'s tensors.
WanTransformer::TextContext copy_of(const WanTransformer::TextContext& from) {
  WanTransformer::TextContext out;
  out.text = from.text.clone();
  for (const auto& block : from.blocks) out.blocks.push_back({block.k.clone(), block.v.clone()});
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
  e.latents = latents.clone();
  e.sinusoid = sinusoid.clone();
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
    make_room_for_a_graph(entries_, kMaxGraphs, stats_);
    Entry entry = capture(latents, sinusoid, text,
                          "the transformer forward on latents " + latents.describe(), eager);
    stats_.captured(entry.graph->capture_seconds(), entry.graph->pool_bytes());
    entry.last_use = ++uses_;
    entries_.emplace(full_key, std::move(entry));
    return out;
  }
  Entry& e = it->second;
  e.last_use = ++uses_;
  e.latents.copy_from(latents);
  e.sinusoid.copy_from(sinusoid);
  // id 0: a context not from prepare_text, whose contents nothing vouches for.
  if (text.id == 0 || e.text.id != text.id) copy_into(e.text, text);
  e.graph->replay();
  stats_.replays += 1;
  return e.output.clone();
}

WanTransformer::CompileStats WanForwardGraphs::stats() const {
  std::lock_guard lock(mu_);
  return stats_;
}

}  // namespace fastvideo
