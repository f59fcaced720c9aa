// Generation parameters recorded with a saved video (DESIGN §7: "generation parameters recorded
// in the file's metadata"): prompt, seed, steps, guidance, scheduler, backend, model, ...
#pragma once

#include <map>
#include <string>

namespace fastvideo {

struct VideoMetadata {
  std::map<std::string, std::string> entries;

  // One flat JSON object {"key": "value", ...}; how every format stores the entries.
  std::string to_json() const;
  // Inverse of to_json; `origin` names the file in errors. Non-string values are kept as their
  // JSON text so metadata written by other tools still reads.
  static VideoMetadata from_json(const std::string& text, const std::string& origin);
};

}  // namespace fastvideo
