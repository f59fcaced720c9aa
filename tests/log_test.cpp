// The log as a program embedding the engine controls it (QA audit of the C++ API: the level came
// only from FASTVIDEO_LOG_LEVEL and lines only went to stderr): set_threshold and set_sink.
#include "fastvideo/log.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace fastvideo {
namespace {

void collect(log::Level level, const std::string& message, void* user) {
  static_cast<std::vector<std::string>*>(user)->push_back(std::to_string(int(level)) + " " +
                                                          message);
}

TEST(Log, AProgramSetsTheLevelAndWhereLinesGo) {
  std::vector<std::string> lines;
  log::set_sink(collect, &lines);
  log::set_threshold(log::Level::Warning);
  log::info("hidden ", 1);
  log::warning("shown ", 2);
  log::error("always ", 3);
  log::set_threshold(log::Level::Debug);
  log::debug("now shown");
  log::set_sink(nullptr, nullptr);
  log::info("to stderr, not the sink");
  EXPECT_EQ(lines, (std::vector<std::string>{"2 shown 2", "3 always 3", "0 now shown"}));
  EXPECT_EQ(log::threshold(), log::Level::Debug);
}

}  // namespace
}  // namespace fastvideo
