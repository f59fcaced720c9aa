// The median, minimum and maximum of a benchmark's timed samples (the upper median for an even
// count), as every `fastvideo bench` command reports them.
#pragma once

#include <algorithm>
#include <vector>

#include "fastvideo/error.h"

namespace fastvideo::bench {

struct SampleStats {
  double median, min, max;
};

inline SampleStats sample_stats(std::vector<double> samples) {
  FV_CHECK(!samples.empty(), "no timed samples to summarize");
  std::sort(samples.begin(), samples.end());
  return {samples[samples.size() / 2], samples.front(), samples.back()};
}

}  // namespace fastvideo::bench
