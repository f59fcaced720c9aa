// A benchmark's results written as JSON (--json FILE): a file that cannot be written is an error
// naming it, not results lost with exit status 0.
#pragma once

#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include "fastvideo/error.h"

namespace fastvideo::bench {

inline void write_json_results(const std::string& path, const nlohmann::json& results) {
  std::ofstream out(path);
  out << results.dump(2) << "\n";
  out.close();
  FV_CHECK(out.good(), "--json ", path,
           ": cannot write the results there (a missing folder, a folder, or no permission)");
}

}  // namespace fastvideo::bench
