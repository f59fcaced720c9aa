#include "tokenizer/charsmap_check.h"

#include <cstdint>
#include <cstring>
#include <vector>

#include "fastvideo/error.h"

namespace fastvideo {

namespace {

// Protocol-buffer wire format, just enough to find one length-delimited field.
bool read_varint(std::string_view data, size_t& at, uint64_t& value) {
  value = 0;
  for (int shift = 0; shift < 64 && at < data.size(); shift += 7) {
    const auto byte = static_cast<unsigned char>(data[at++]);
    value |= uint64_t(byte & 0x7F) << shift;
    if (byte < 0x80) return true;
  }
  return false;
}

// The first length-delimited field `field` of the message `data`, as [offset, size) into it.
std::optional<CharsMapSpan> find_field(std::string_view data, uint64_t field) {
  size_t at = 0;
  while (at < data.size()) {
    uint64_t tag = 0, value = 0;
    if (!read_varint(data, at, tag)) return std::nullopt;
    switch (tag & 7) {
      case 0:
        if (!read_varint(data, at, value)) return std::nullopt;
        break;
      case 1:
        at += 8;
        break;
      case 5:
        at += 4;
        break;
      case 2:
        if (!read_varint(data, at, value) || value > data.size() - at) return std::nullopt;
        if ((tag >> 3) == field) return CharsMapSpan{at, size_t(value)};
        at += size_t(value);
        break;
      default:
        return std::nullopt;
    }
  }
  return std::nullopt;
}

uint32_t le32(const char* p) {
  uint32_t v = 0;
  std::memcpy(&v, p, 4);
  return v;  // little-endian hosts only, as SentencePiece itself assumes
}

}  // namespace

std::optional<CharsMapSpan> find_precompiled_charsmap(std::string_view model_proto) {
  const auto spec = find_field(model_proto, 3);  // ModelProto.normalizer_spec
  if (!spec) return std::nullopt;
  const auto map = find_field(model_proto.substr(spec->offset, spec->size), 2);
  if (!map || map->size == 0) return std::nullopt;  // NormalizerSpec.precompiled_charsmap
  return CharsMapSpan{spec->offset + map->offset, map->size};
}

std::string precompiled_charsmap_problem(std::string_view model_proto) {
  const auto span = find_precompiled_charsmap(model_proto);
  if (!span) return "";
  const std::string_view blob = model_proto.substr(span->offset, span->size);
  // Layout (SentencePiece's DecodePrecompiledCharsMap): trie size, trie units, strings.
  if (blob.size() < 4) return "it is shorter than its 4-byte header";
  const uint32_t trie_bytes = le32(blob.data());
  if (trie_bytes % 4 != 0 || trie_bytes == 0 || trie_bytes > blob.size() - 4) {
    return str_cat("its trie size ", trie_bytes, " does not fit its ", blob.size(), " bytes");
  }
  const char* trie = blob.data() + 4;
  const size_t units = trie_bytes / 4;
  const std::string_view strings = blob.substr(4 + trie_bytes);
  const auto unit = [&](size_t i) { return le32(trie + 4 * i); };
  // Darts-clone's unit: offset (bits 10..31, scaled by bit 9), leaf flag (bit 8), label (low byte
  // and bit 31), value (bits 0..30, in a leaf unit).
  const auto offset = [](uint32_t u) { return size_t((u >> 10) << ((u & (1u << 9)) >> 6)); };
  // A lookup goes from a node's base b to b ^ c for each input byte c, reading that unit before
  // its label: every base must keep all 256 of those inside the trie.
  std::vector<bool> seen(units, false);
  std::vector<size_t> bases = {offset(unit(0))};
  while (!bases.empty()) {
    const size_t base = bases.back();
    bases.pop_back();
    if ((base | 0xFF) >= units) {
      return str_cat("a trie node's children lie at unit ", base, ", past its ", units);
    }
    if (seen[base]) continue;
    seen[base] = true;
    for (uint32_t c = 1; c < 256; ++c) {
      const uint32_t u = unit(base ^ c);
      if ((u & (0x80000000u | 0xFF)) != c) continue;  // not a child of this node
      const size_t child = (base ^ c) ^ offset(u);
      if (child >= units)
        return str_cat("a trie node points to unit ", child, ", past its ", units);
      if ((u >> 8) & 1) {  // a leaf: the replacement string at its value, NUL-terminated
        const size_t at = unit(child) & 0x7FFFFFFFu;
        if (at >= strings.size() || strings.find('\0', at) == std::string_view::npos) {
          return str_cat("a leaf points to byte ", at, " of its ", strings.size(),
                         " bytes of strings");
        }
      }
      bases.push_back(child);
    }
  }
  return "";
}

}  // namespace fastvideo
