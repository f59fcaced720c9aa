#include "io/json_file.h"

#include <fstream>
#include <sstream>

#include "io/file_kind.h"
#include "io/json_parse.h"

namespace fastvideo {

JsonFile JsonFile::load(const std::filesystem::path& path) {
  if (const std::string why = why_not_a_file(path); !why.empty()) fail(path.string(), ": ", why);
  std::ifstream in(path, std::ios::binary);
  if (!in) fail(path.string(), ": cannot open (unreadable)");
  std::stringstream ss;
  ss << in.rdbuf();
  try {
    return JsonFile(parse_json(ss.str()), path.string());
  } catch (const nlohmann::json::exception& e) {
    // parse_error, or out_of_range for a number beyond double (1e400).
    fail(path.string(), ": malformed JSON: ", e.what());
  }
}

}  // namespace fastvideo
