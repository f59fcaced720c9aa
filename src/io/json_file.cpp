#include "io/json_file.h"

#include <fstream>
#include <sstream>

namespace fastvideo {

JsonFile JsonFile::load(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail(path.string(), ": cannot open (missing or unreadable)");
  std::stringstream ss;
  ss << in.rdbuf();
  try {
    return JsonFile(nlohmann::json::parse(ss.str()), path.string());
  } catch (const nlohmann::json::exception& e) {
    // parse_error, or out_of_range for a number beyond double (1e400).
    fail(path.string(), ": malformed JSON: ", e.what());
  }
}

}  // namespace fastvideo
