// VideoGenerator from several threads (QA audit of the C++ API): destroying it during another
// thread's generation stops and waits for that run instead of freeing what it uses; a progress
// callback set while a run goes on serves the next run, not the rest of this one; a moved-from
// generator throws instead of crashing; resolve() names the scheduler as the metadata does.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "fastvideo/video_generator.h"
#include "test_util.h"
#include "tiny_model_fixture.h"

namespace fastvideo {
namespace {

VideoGenerator cpu_generator() {
  GeneratorOptions options;
  options.device = "cpu";
  return VideoGenerator::from_pretrained(testing::tiny_model_dir(), options);
}

GenerationRequest fox(int steps) {
  GenerationRequest r = testing::fox_request();
  r.num_inference_steps = steps;
  return r;
}

void wait_until(const std::atomic<int>& value, int at_least) {
  while (value.load() < at_least) std::this_thread::sleep_for(std::chrono::milliseconds(1));
}

void count_step(int, int, double, void* user) { ++*static_cast<std::atomic<int>*>(user); }

TEST(VideoGeneratorThreads, DestroyingItDuringAnotherThreadsRunStopsAndWaitsForIt) {
  auto* generator = new VideoGenerator(cpu_generator());
  std::atomic<int> steps{0};
  generator->set_progress(count_step, &steps);
  std::atomic<bool> cancelled{false}, finished{false};
  std::thread run([&cancelled, &finished, generator] {
    try {
      generator->generate(fox(200));
      finished = true;
    } catch (const Cancelled&) {
      cancelled = true;
    }
  });
  wait_until(steps, 1);
  delete generator;  // must stop the run and wait for it
  run.join();
  EXPECT_TRUE(cancelled) << "the run was not stopped (finished: " << finished << ")";
  EXPECT_LT(steps.load(), 200);
}

struct Seen {
  std::atomic<int> steps{0};
  std::atomic<int> total{0};
};
void record(int, int total, double, void* user) {
  auto* seen = static_cast<Seen*>(user);
  ++seen->steps;
  seen->total = total;
}

TEST(VideoGeneratorThreads, AProgressCallbackSetDuringARunServesTheNextRun) {
  VideoGenerator generator = cpu_generator();
  Seen first, second;
  generator.set_progress(record, &first);
  std::thread run([&] { generator.generate(fox(12)); });
  wait_until(first.steps, 1);
  generator.set_progress(record, &second);  // waits for the run to end
  EXPECT_EQ(first.steps.load(), 12) << "the run's later steps went to the new callback";
  run.join();
  EXPECT_EQ(second.steps.load(), 0);
  generator.generate(fox(3));
  EXPECT_EQ(second.steps.load(), 3);
  EXPECT_EQ(second.total.load(), 3);
}

TEST(VideoGeneratorThreads, AMovedFromGeneratorThrowsAndResolveNamesTheScheduler) {
  VideoGenerator generator = cpu_generator();
  const GenerationResult result = generator.generate(fox(2));
  const auto resolved = generator.resolve(fox(2));
  EXPECT_EQ(resolved, result.parameters) << "resolve() and the metadata differ";
  VideoGenerator moved = std::move(generator);
  EXPECT_TRUE(
      testing::contains(testing::error_of([&] { generator.generate(fox(2)); }), "was moved from"));
  EXPECT_TRUE(
      testing::contains(testing::error_of([&] { generator.resolve(fox(2)); }), "was moved from"));
  generator.request_stop();  // does nothing
  EXPECT_EQ(moved.generate(fox(2)).rgb, result.rgb);
}

}  // namespace
}  // namespace fastvideo
