#include "io/json_file.h"

#include "io/json_parse.h"
#include "io/text_file.h"

namespace fastvideo {

JsonFile JsonFile::load(const std::filesystem::path& path) {
  const std::string text = read_text_file(path, "a JSON file");
  // nlohmann reported it as "unexpected end of input" at column 4.
  if (text.starts_with("\xEF\xBB\xBF")) {
    fail(path.string(),
         ": starts with a UTF-8 byte-order mark, which JSON text may not have "
         "(Python's json refuses it too); save the file without it");
  }
  try {
    return JsonFile(parse_json(text), path.string());
  } catch (const nlohmann::json::exception& e) {
    // parse_error, or out_of_range for a number beyond double (1e400).
    fail(path.string(), ": malformed JSON: ", e.what());
  }
}

}  // namespace fastvideo
