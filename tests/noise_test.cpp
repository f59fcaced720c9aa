// torch_randn reproduces torch.randn on the CPU generator bit for bit, for both torch kernels.
// Vectors: tests/data/torch_noise_vectors.json, written by tools/reference/torch_noise_vectors.py
// with torch 2.11.0+cu130 on an AVX512 GPU host (the torch FastVideo runs). torch 1.13 writes the
// same bits; only the float64 "sum" field (numpy's summation order) differs in its last digits,
// which is why the sum is compared with a tolerance and the bits through head, tail and hash.
#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <cstring>

#include "core/torch_random.h"
#include "io/json_file.h"
#include "test_util.h"

namespace fastvideo {
namespace {

const JsonFile& vectors() {
  static const JsonFile file =
      JsonFile::load(testing::source_path("tests/data/torch_noise_vectors.json"));
  return file;
}

uint64_t fnv1a64(std::span<const float> values) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (float v : values) {
    const uint32_t bits = std::bit_cast<uint32_t>(v);
    for (int b = 0; b < 4; ++b) {
      h ^= (bits >> (8 * b)) & 0xffu;
      h *= 0x100000001b3ull;
    }
  }
  return h;
}

// Bit equality, so that −0 vs 0 or a last-bit difference both fail.
void expect_same_bits(std::span<const float> got, const nlohmann::json& expected, size_t offset,
                      const std::string& what) {
  for (size_t i = 0; i < expected.size(); ++i) {
    const float want = float(expected[i].get<double>());
    ASSERT_EQ(std::bit_cast<uint32_t>(got[offset + i]), std::bit_cast<uint32_t>(want))
        << what << " element " << offset + i << ": got " << got[offset + i] << ", torch " << want;
  }
}

void check_kernel(const std::string& name, TorchNormalKernel kernel) {
  const auto& cases = vectors().json().at("kernels").at(name).at("cases");
  ASSERT_GT(cases.size(), 0u);
  for (const auto& c : cases) {
    const Shape shape = c.at("shape").get<Shape>();
    const uint64_t seed = c.at("seed").get<uint64_t>();
    const std::string what = str_cat(name, " kernel, seed ", seed, ", shape ", shape_str(shape));
    Tensor x = torch_randn(shape, seed, kernel);
    ASSERT_EQ(x.shape(), shape) << what;
    std::span<const float> v = x.f32();
    ASSERT_EQ(int64_t(v.size()), c.at("numel").get<int64_t>()) << what;
    if (c.contains("values")) {
      expect_same_bits(v, c.at("values"), 0, what);
      continue;
    }
    const auto& tail = c.at("tail");
    expect_same_bits(v, c.at("head"), 0, what + " head");
    expect_same_bits(v, tail, v.size() - tail.size(), what + " tail");
    double sum = 0;
    for (float f : v) sum += f;
    EXPECT_NEAR(sum, c.at("sum").get<double>(), 1e-6 * double(v.size())) << what;
    char hash[17];
    std::snprintf(hash, sizeof hash, "%016llx", static_cast<unsigned long long>(fnv1a64(v)));
    EXPECT_EQ(std::string(hash), c.at("fnv1a64").get<std::string>())
        << what << ": some element between head and tail differs";
  }
}

TEST(TorchRandn, Avx2KernelMatchesTorchBitForBit) { check_kernel("avx2", TorchNormalKernel::Avx2); }

TEST(TorchRandn, ScalarKernelMatchesTorchBitForBit) {
  check_kernel("scalar", TorchNormalKernel::Scalar);
}

TEST(TorchRandn, DefaultKernelIsTheOneAvx512HostsRun) {
  // AVX512 hosts (the GPU machines) fall back to the AVX2 kernel; the vectors record which.
  const auto& matches = vectors().json().at("avx512_matches");
  ASSERT_EQ(matches.size(), 1u);
  EXPECT_EQ(matches[0].get<std::string>(), "avx2");
  const Shape shape{1, 16, 2, 4, 5};
  Tensor a = torch_randn(shape, 7);
  Tensor b = torch_randn(shape, 7, TorchNormalKernel::Avx2);
  EXPECT_EQ(std::memcmp(a.f32().data(), b.f32().data(), a.nbytes()), 0);
}

TEST(TorchRandn, IsStandardNormalAndFinite) {
  Tensor x = torch_randn({1, 16, 21, 30, 52}, 1024);
  double sum = 0, sq = 0;
  for (float v : x.f32()) {
    ASSERT_TRUE(std::isfinite(v));
    sum += v;
    sq += double(v) * v;
  }
  const double n = double(x.numel());
  EXPECT_NEAR(sum / n, 0.0, 5e-3);
  EXPECT_NEAR(sq / n, 1.0, 5e-3);
}

TEST(TorchRandn, OnlyTheLow32BitsOfTheSeedMatter) {
  // torch seeds mt19937 with seed & 0xffffffff.
  Tensor a = torch_randn({40}, 5);
  Tensor b = torch_randn({40}, (uint64_t(3) << 32) | 5);
  EXPECT_EQ(std::memcmp(a.f32().data(), b.f32().data(), a.nbytes()), 0);
}

}  // namespace
}  // namespace fastvideo
