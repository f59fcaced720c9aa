// fastvideo bench load: how fast a checkpoint's weights reach the device through the real loader
// (load_component with the pipeline's dtypes and keep-lists: transformer bf16 + its f32 keep-list,
// UMT5 bf16, VAE bf16 on a GPU; all f32 on the CPU), per component and for the whole
// VideoGenerator::from_pretrained (text encoder kept, so all three load). Reading is bounded by
// the page cache: every measurement reports the fraction of the weight files resident in it just
// before, and two rounds run, the first as the cache comes (or emptied of these files with
// --evict), the second warm. No anchor: the number to read is GB/s.
#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <set>

#include "bench_commands.h"
#include "core/compute_device.h"
#include "fastvideo/video_generator.h"
#include "io/checkpoint.h"
#include "io/safetensors.h"
#include "json_output.h"
#include "models/umt5/umt5_encoder.h"
#include "models/wan/dit/wan_transformer.h"
#include "models/wan/vae/wan_vae_specs.h"
#include "pipeline/wan_checkpoint.h"

#ifdef FASTVIDEO_HAVE_CUDA
#include "core/cuda/cuda_context.h"
#endif

namespace fastvideo::bench {

namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

struct BenchLoadFlags {
  std::string model, device = "cuda", json;
  int rounds = 2;
  bool evict = false;
};

std::vector<fs::path> weight_files(const fs::path& component_dir) {
  std::vector<fs::path> files;
  for (const auto& entry : fs::directory_iterator(component_dir)) {
    const std::string name = entry.path().filename().string();
    if (name.size() > 12 && name.compare(name.size() - 12, 12, ".safetensors") == 0) {
      files.push_back(entry.path());
    }
  }
  return files;
}

// Fraction of the files' pages in the page cache now (mincore on a fresh mapping).
double resident_fraction(const std::vector<fs::path>& files) {
  const size_t page = size_t(::sysconf(_SC_PAGESIZE));
  uint64_t resident = 0, total = 0;
  for (const auto& f : files) {
    const int fd = ::open(f.c_str(), O_RDONLY);
    if (fd < 0) continue;
    const size_t bytes = size_t(fs::file_size(f));
    void* addr = bytes ? ::mmap(nullptr, bytes, PROT_READ, MAP_SHARED, fd, 0) : MAP_FAILED;
    if (addr != MAP_FAILED) {
      std::vector<unsigned char> vec((bytes + page - 1) / page);
      if (::mincore(addr, bytes, vec.data()) == 0) {
        for (unsigned char v : vec) resident += v & 1;
        total += vec.size();
      }
      ::munmap(addr, bytes);
    }
    ::close(fd);
  }
  return total ? double(resident) / double(total) : 0.0;
}

// Drops the files' pages from the page cache (written back first), so the next read comes from
// the disk. Best effort: resident_fraction says how far it got.
void evict(const std::vector<fs::path>& files) {
  for (const auto& f : files) {
    const int fd = ::open(f.c_str(), O_RDONLY);
    if (fd < 0) continue;
    ::fdatasync(fd);
    ::posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
    ::close(fd);
  }
}

struct Component {
  std::string name;
  std::vector<TensorSpec> specs;
  DType dtype;
  std::set<std::string> keep_f32;
  std::vector<fs::path> files;
  uint64_t bytes = 0;  // stored bytes of the tensors the loader reads
};

uint64_t used_bytes(const std::vector<fs::path>& files, const std::vector<TensorSpec>& specs) {
  std::set<std::string> used;
  for (const auto& s : specs) {
    if (s.used) used.insert(s.name);
  }
  uint64_t bytes = 0;
  for (const auto& f : files) {
    const SafetensorsFile file = SafetensorsFile::open(f);
    for (const auto& name : file.names()) {
      if (used.count(name)) bytes += file.info(name).end - file.info(name).begin;
    }
  }
  return bytes;
}

int run_bench_load(const BenchLoadFlags& f) {
  FV_CHECK(!f.model.empty(), "bench load: --model is required (a checkpoint folder)");
  FV_CHECK(f.rounds >= 1, "bench load: --rounds ", f.rounds, " must be at least 1");
  const Device device = parse_compute_device(f.device);
  const CheckpointFolder checkpoint = open_wan_checkpoint(f.model);
  // The pipeline's dtypes (text_to_video_pipeline.cpp): bf16 on a GPU, f32 on the CPU.
  const DType dtype = device.is_cpu() ? DType::F32 : DType::BF16;
  std::string card = "cpu";
#ifdef FASTVIDEO_HAVE_CUDA
  if (!device.is_cpu()) card = use_cuda_device(device.index).info().name;
#endif

  std::vector<Component> components;
  {
    auto dit = WanTransformerConfig::from_checkpoint(checkpoint);
    components.push_back(
        {"transformer", wan_transformer_specs(dit), dtype, wan_transformer_fp32_names(dit), {}, 0});
    auto umt5 = Umt5Config::from_checkpoint(checkpoint);
    components.push_back({"text_encoder", umt5_encoder_specs(umt5), dtype, {}, {}, 0});
    auto vae = WanVaeConfig::from_checkpoint(checkpoint);
    components.push_back({"vae", wan_vae_specs(vae), dtype, {}, {}, 0});
  }
  std::vector<fs::path> all_files;
  uint64_t all_bytes = 0;
  for (auto& c : components) {
    c.files = weight_files(checkpoint.path(c.name));
    c.bytes = used_bytes(c.files, c.specs);
    all_files.insert(all_files.end(), c.files.begin(), c.files.end());
    all_bytes += c.bytes;
  }

  std::printf("fastvideo bench load: %s onto %s (%s), weights %s (transformer f32 keep-list)\n",
              f.model.c_str(), device.name().c_str(), card.c_str(),
              std::string(dtype_name(dtype)).c_str());
  std::printf("%-7s %-28s %10s %10s %9s %10s\n", "round", "what", "GB read", "seconds", "GB/s",
              "cached");
  nlohmann::ordered_json out;
  out["bench"] = "load";
  out["model"] = f.model;
  out["device"] = device.name();
  out["card"] = card;
  out["weight_dtype"] = std::string(dtype_name(dtype));
  out["evict"] = f.evict;
  auto report = [](int round, const std::string& what, uint64_t bytes, double seconds,
                   double cached) {
    std::printf("%-7d %-28s %10.3f %10.3f %9.2f %9.0f%%\n", round, what.c_str(),
                double(bytes) / 1e9, seconds, double(bytes) / 1e9 / seconds, 100 * cached);
    return nlohmann::ordered_json{{"name", what},
                                  {"bytes", bytes},
                                  {"seconds", seconds},
                                  {"gb_per_s", double(bytes) / 1e9 / seconds},
                                  {"page_cache_resident", cached}};
  };

  for (int round = 1; round <= f.rounds; ++round) {
    const bool evicting = f.evict && round == 1;
    nlohmann::ordered_json r;
    r["round"] = round;
    r["page_cache"] = round == 1 ? (evicting ? "evicted before each load" : "as it came")
                                 : "warm (read by the previous round)";
    for (const auto& c : components) {
      if (evicting) evict(c.files);
      const double cached = resident_fraction(c.files);
      const auto t0 = Clock::now();
      {
        Weights w = load_component(checkpoint.path(c.name), c.specs, c.dtype, device,
                                   c.keep_f32.empty() ? nullptr : &c.keep_f32);
        synchronize_device(device);
        const double s = std::chrono::duration<double>(Clock::now() - t0).count();
        r["components"].push_back(report(round, c.name, c.bytes, s, cached));
      }
    }
    if (evicting) evict(all_files);
    const double cached = resident_fraction(all_files);
    GeneratorOptions options;
    options.device = f.device;
    options.keep_text_encoder = true;  // so from_pretrained loads all three
    const auto t0 = Clock::now();
    {
      VideoGenerator generator = VideoGenerator::from_pretrained(f.model, options);
      synchronize_device(device);
      const double s = std::chrono::duration<double>(Clock::now() - t0).count();
      r["from_pretrained"] = report(round, "from_pretrained (all three)", all_bytes, s, cached);
    }
    out["rounds"].push_back(r);
  }
  if (!f.json.empty()) write_json_results(f.json, out);
  return 0;
}

}  // namespace

Action add_load_bench(CLI::App& bench) {
  auto* load = bench.add_subcommand(
      "load", "Checkpoint load time per component and for from_pretrained: GB/s, cold and warm");
  auto f = std::make_shared<BenchLoadFlags>();
  load->add_option("--model", f->model, "checkpoint folder")->required();
  load->add_option("--device", f->device, "cuda (default), cuda:N or cpu");
  load->add_option("--rounds", f->rounds, "load rounds (default 2: first, then warm)");
  load->add_flag("--evict", f->evict,
                 "drop the weight files from the page cache before each first-round load");
  add_json_option(*load, f->json);
  return [f] { return run_bench_load(*f); };
}

}  // namespace fastvideo::bench
