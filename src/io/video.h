// Decoded video frames in memory: 8-bit RGB, frame-major, F×H×W×3. What writers take and readers give.
#pragma once

#include <cstdint>
#include <vector>

namespace fastvideo {

struct Video {
  int frames = 0;
  int height = 0;
  int width = 0;
  double fps = 16.0;
  std::vector<uint8_t> rgb;  // frames·height·width·3 bytes

  const uint8_t* frame(int f) const { return rgb.data() + size_t(f) * height * width * 3; }
  uint8_t* frame(int f) { return rgb.data() + size_t(f) * height * width * 3; }
};

}  // namespace fastvideo
