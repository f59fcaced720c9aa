# fv_embed_file(INPUT OUTPUT SYMBOL): writes OUTPUT (a .cpp) defining
#   extern const unsigned char SYMBOL[]; extern const std::size_t SYMBOL_size;
# with the bytes of INPUT, regenerated whenever INPUT changes.
function(fv_embed_file input output symbol)
  set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS ${input})
  file(READ ${input} hex HEX)
  string(LENGTH "${hex}" hex_length)
  math(EXPR size "${hex_length} / 2")
  string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," bytes "${hex}")
  string(REGEX REPLACE "((0x..,){32})" "\\1\n" bytes "${bytes}")
  file(WRITE ${output}.tmp
       "// Generated from ${input} by cmake/EmbedFile.cmake; do not edit.\n"
       "#include <cstddef>\n"
       "extern const unsigned char ${symbol}[] = {\n${bytes}};\n"
       "extern const std::size_t ${symbol}_size = ${size};\n")
  configure_file(${output}.tmp ${output} COPYONLY)
endfunction()
