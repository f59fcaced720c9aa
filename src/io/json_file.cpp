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
  } catch (const nlohmann::json::parse_error& e) {
    fail(path.string(), ": malformed JSON: ", e.what());
  }
}

}  // namespace fastvideo
