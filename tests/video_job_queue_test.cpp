// The job queue of `fastvideo serve` (src/cli/video_job_queue.h) with a stand-in generator that
// writes a file, fails, or waits until stopped: capacity, order, cancellation of queued and running
// jobs, the generator's leftover stop, expiry and shutdown — and never a file under a final name
// that is not whole, nor one left behind.
#include "video_job_queue.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <fstream>
#include <thread>

#include "fastvideo/error.h"
#include "test_util.h"
#include "tiny_model_fixture.h"

namespace fastvideo::cli {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

// Writes "video <prompt>" to the output, or throws Error for prompt "fail" (and, naming the output,
// "disk full"); prompt "slow" waits
// until stopped, as a long generation would, and then throws Cancelled.
struct StandInGenerator {
  std::atomic<bool> stop_requested{false};
  std::atomic<int> runs{0};
  std::vector<std::string> order;
  std::mutex mutex;

  void generate(const VideoJob& job, const fs::path& output) {
    ++runs;
    {
      std::lock_guard lock(mutex);
      order.push_back(job.request.prompt);
    }
    if (job.request.prompt == "fail") throw Error("the engine refused it");
    if (job.request.prompt == "disk full")
      throw Error(output.string() + ": No space left on device");
    std::ofstream(output) << "partial";
    while (job.request.prompt == "slow" || stop_requested) {
      if (stop_requested.exchange(false)) {
        fs::remove(output);
        throw Cancelled("generation stopped");
      }
      std::this_thread::sleep_for(2ms);
    }
    std::ofstream(output) << "video " << job.request.prompt;
  }
};

GenerationRequest request(const std::string& prompt) {
  GenerationRequest r;
  r.prompt = prompt;
  return r;
}

// The files of `dir` but the work folder, which is there while the folder is locked.
std::vector<std::string> files_in(const fs::path& dir) {
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(dir)) {
    const std::string name = e.path().filename().string();
    if (name != OutputFolderLock::kWorkFolder) names.push_back(name);
  }
  return names;
}

// Polls until the job has ended (or 10 s).
VideoJob wait_for_end(const VideoJobQueue& queue, const std::string& id) {
  for (int i = 0; i < 5000; ++i) {
    auto job = queue.find(id);
    if (!job) return {};
    if (job->status != JobStatus::queued && job->status != JobStatus::in_progress) return *job;
    std::this_thread::sleep_for(2ms);
  }
  ADD_FAILURE() << id << " never ended";
  return {};
}

void wait_for_status(const VideoJobQueue& queue, const std::string& id, JobStatus status) {
  for (int i = 0; i < 5000 && queue.find(id)->status != status; ++i) {
    std::this_thread::sleep_for(2ms);
  }
  ASSERT_EQ(queue.find(id)->status, status) << id;
}

struct QueueTest : ::testing::Test {
  fs::path dir = testing::temp_dir("video_job_queue");
  StandInGenerator engine;
  std::unique_ptr<OutputFolderLock> folder;
  std::unique_ptr<VideoJobQueue> queue;

  void start(size_t capacity, int64_t retention = 3600) {
    folder = std::make_unique<OutputFolderLock>(dir);
    queue = std::make_unique<VideoJobQueue>(
        capacity, retention, *folder,
        [this](const VideoJob& job, const fs::path& out) { engine.generate(job, out); },
        [this] { engine.stop_requested = true; });
  }
  std::string submit(const std::string& prompt) {
    auto [job, refusal] = queue->submit(request(prompt), "1", "64x64");
    EXPECT_EQ(refusal, VideoJobQueue::Refusal::none) << prompt;
    return job ? job->id : "";
  }
};

TEST(VideoId, HasOneFixedFormAndNothingElsePasses) {
  EXPECT_TRUE(is_video_id("video_0123456789abcdef0123456789abcdef"));
  for (const char* bad :
       {"", "video_", "video_0123456789abcdef0123456789abcde",
        "video_0123456789abcdef0123456789abcdef0", "video_0123456789ABCDEF0123456789abcdef",
        "../video_0123456789abcdef0123456789abcd", "video_0123456789abcdef/../../etc/pa",
        "Video_0123456789abcdef0123456789abcdef"}) {
    EXPECT_FALSE(is_video_id(bad)) << bad;
  }
}

TEST_F(QueueTest, CompletedJobsRunInOrderAndEachLeavesOneWholeVideo) {
  start(8);
  std::vector<std::string> ids;
  for (const char* prompt : {"a", "b", "c"}) ids.push_back(submit(prompt));
  for (const std::string& id : ids) {
    const VideoJob job = wait_for_end(*queue, id);
    EXPECT_EQ(job.status, JobStatus::completed) << job.error;
    EXPECT_EQ(job.progress, 100);
    ASSERT_TRUE(job.completed_at && job.expires_at);
    EXPECT_EQ(*job.expires_at, *job.completed_at + 3600);
    std::ifstream in(queue->video_path(id));
    std::string text;
    std::getline(in, text);
    EXPECT_EQ(text, "video " + job.request.prompt);
  }
  EXPECT_EQ(engine.order, (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_EQ(files_in(dir).size(), 3u);
  queue->shutdown();
  EXPECT_TRUE(files_in(dir).empty()) << "shutdown removes the videos";
}

TEST_F(QueueTest, AFullQueueRefusesAndTheRunningJobDoesNotCount) {
  start(2);
  const std::string running = submit("slow");
  wait_for_status(*queue, running, JobStatus::in_progress);
  submit("a");
  submit("b");
  auto [job, refusal] = queue->submit(request("c"), "1", "64x64");
  EXPECT_FALSE(job);
  EXPECT_EQ(refusal, VideoJobQueue::Refusal::full);
  EXPECT_GE(queue->retry_after_seconds(), 1);
  EXPECT_EQ(queue->remove(running)->status, JobStatus::in_progress);
  EXPECT_FALSE(queue->find(running));
}

// Retry-After said 1 s until a job had completed, whatever the queue held (QA audit): it is now
// the running job's time left, from its progress: 25 % after a second leaves about three.
TEST_F(QueueTest, RetryAfterIsTheRunningJobsTimeLeftFromItsProgress) {
  start(1);
  const auto submitted = std::chrono::steady_clock::now();
  const std::string running = submit("slow");
  wait_for_status(*queue, running, JobStatus::in_progress);
  std::this_thread::sleep_for(1s);
  EXPECT_GE(queue->retry_after_seconds(), 1) << "no progress yet: at least the time so far";
  queue->report_progress(25);
  const int seconds = queue->retry_after_seconds();
  const double most =
      3 * std::chrono::duration<double>(std::chrono::steady_clock::now() - submitted).count();
  EXPECT_GE(seconds, 3);
  EXPECT_LE(seconds, int(std::ceil(most)) + 1);
  queue->report_progress(99);
  EXPECT_EQ(queue->retry_after_seconds(), 1);
  queue->remove(running);
}

TEST_F(QueueTest, CancellingAQueuedJobNeverRunsIt) {
  start(8);
  const std::string running = submit("slow");
  const std::string waiting = submit("never");
  wait_for_status(*queue, running, JobStatus::in_progress);
  const auto before = queue->remove(waiting);
  ASSERT_TRUE(before);
  EXPECT_EQ(before->status, JobStatus::queued);
  EXPECT_FALSE(queue->find(waiting)) << "deleted: forgotten at once";
  queue->remove(running);
  queue->shutdown();
  EXPECT_EQ(engine.order, std::vector<std::string>{"slow"});
}

TEST_F(QueueTest, CancellingTheRunningJobWaitsForItAndLeavesNoFile) {
  start(8);
  const std::string id = submit("slow");
  wait_for_status(*queue, id, JobStatus::in_progress);
  // The job is in progress just before the generator opens its output: wait for the file.
  const fs::path work = folder->work_dir();
  for (int i = 0; i < 5000 && files_in(work).empty(); ++i) std::this_thread::sleep_for(2ms);
  ASSERT_EQ(files_in(work).size(), 1u) << "the partial file is being written";
  EXPECT_TRUE(files_in(dir).empty()) << "nothing under a final name";
  // It returns once the job stopped, and the job is forgotten with its partial file.
  const auto before = queue->remove(id);
  ASSERT_TRUE(before);
  EXPECT_EQ(before->status, JobStatus::in_progress);
  EXPECT_FALSE(queue->find(id));
  EXPECT_TRUE(files_in(dir).empty());
  EXPECT_TRUE(files_in(work).empty());
  EXPECT_TRUE(queue->video_path(id).empty());
  EXPECT_FALSE(queue->remove(id));
  // The worker is free: the next job runs and completes.
  EXPECT_EQ(wait_for_end(*queue, submit("after")).status, JobStatus::completed);
}

TEST_F(QueueTest, AFailedJobSaysWhyAndLeavesNoFile) {
  start(8);
  const VideoJob job = wait_for_end(*queue, submit("fail"));
  EXPECT_EQ(job.status, JobStatus::failed);
  EXPECT_NE(job.error.find("the engine refused it"), std::string::npos) << job.error;
  EXPECT_TRUE(files_in(dir).empty());
  // The server's folders stay out of what clients read.
  const VideoJob full = wait_for_end(*queue, submit("disk full"));
  EXPECT_EQ(full.error.find(dir.string()), std::string::npos) << full.error;
  EXPECT_NE(full.error.find("<the server's video folder>/"), std::string::npos) << full.error;
  EXPECT_NE(full.error.find("No space left on device"), std::string::npos) << full.error;
}

// video_generator.h: a stop that arrives after a generation ended is kept for the next one. The
// queue runs that next job again instead of reporting a cancel nobody asked for.
TEST_F(QueueTest, ALeftoverStopDoesNotCancelTheNextJob) {
  start(8);
  engine.stop_requested = true;
  const VideoJob job = wait_for_end(*queue, submit("a"));
  EXPECT_EQ(job.status, JobStatus::completed) << job.error;
  EXPECT_EQ(engine.runs, 2);
}

TEST_F(QueueTest, FinishedJobsAndTheirVideosExpire) {
  start(8, /*retention=*/1);
  const std::string id = submit("a");
  EXPECT_EQ(wait_for_end(*queue, id).status, JobStatus::completed);
  for (int i = 0; i < 400 && queue->find(id); ++i) std::this_thread::sleep_for(10ms);
  EXPECT_FALSE(queue->find(id));
  EXPECT_TRUE(files_in(dir).empty());
}

TEST_F(QueueTest, ShutdownCancelsEverythingRefusesNewJobsAndRemovesEveryFile) {
  start(8);
  const std::string running = submit("slow");
  submit("a");
  wait_for_status(*queue, running, JobStatus::in_progress);
  queue->shutdown();
  EXPECT_TRUE(files_in(dir).empty());
  auto [job, refusal] = queue->submit(request("b"), "1", "64x64");
  EXPECT_FALSE(job);
  EXPECT_EQ(refusal, VideoJobQueue::Refusal::shutting_down);
}

TEST_F(QueueTest, LeftoversOfAKilledServerAreRemovedAtStart) {
  std::ofstream(dir / "video_0123456789abcdef0123456789abcdef.partial.mp4") << "x";
  std::ofstream(dir / "video_0123456789abcdef0123456789abcdef.mp4") << "x";
  std::ofstream(dir / "someone-elses.mp4") << "x";
  fs::create_directories(dir / OutputFolderLock::kWorkFolder / ".fastvideo-abc123");
  std::ofstream(dir / OutputFolderLock::kWorkFolder / ".fastvideo-abc123" / "output") << "x";
  ::testing::internal::CaptureStderr();
  start(8);
  const std::string log = ::testing::internal::GetCapturedStderr();
  EXPECT_EQ(files_in(dir), std::vector<std::string>{"someone-elses.mp4"});
  // Each video removed is said, as one copied there by hand would go too.
  EXPECT_NE(log.find("removed " + (dir / "video_0123456789abcdef0123456789abcdef.mp4").string()),
            std::string::npos)
      << log;
  EXPECT_TRUE(files_in(folder->work_dir()).empty());
}

// A server killed outright left its temporary folder for good: later servers remove the server's
// files from the ones no server holds, and the folder once nothing else is in it; not a folder a
// server holds, a fresh one (a server starting), one without a work folder (a server stopped
// cleanly: whatever is there is someone's), nor one of another name.
TEST(AbandonedServeFolders, OnlyTheServersFilesInOldUnheldServeFoldersGo) {
  const fs::path tmp = testing::temp_dir("abandoned-serve-folders");
  const auto made = [&](const std::string& name, bool old, bool work_folder = true) {
    fs::create_directories(tmp / name);
    if (work_folder) fs::create_directories(tmp / name / OutputFolderLock::kWorkFolder);
    std::ofstream(tmp / name / "video_0123456789abcdef0123456789abcdef.mp4") << "x";
    if (old) fs::last_write_time(tmp / name, fs::file_time_type::clock::now() - 2h);
    return tmp / name;
  };
  const fs::path killed = made("fastvideo-serve-AAAAAA", true);
  const fs::path with_mine = made("fastvideo-serve-DDDDDD", true);
  std::ofstream(with_mine / "mine.txt") << "keep";
  fs::last_write_time(with_mine, fs::file_time_type::clock::now() - 2h);
  const fs::path running = made("fastvideo-serve-BBBBBB", true);
  const fs::path starting = made("fastvideo-serve-CCCCCC", false);
  const fs::path stopped = made("fastvideo-serve-EEEEEE", true, false);
  const fs::path other_shape = made("fastvideo-serve-demo-folder", true);
  const fs::path other = made("someone-elses", true);
  const OutputFolderLock held(running);
  fs::last_write_time(running, fs::file_time_type::clock::now() - 2h);
  EXPECT_EQ(remove_abandoned_serve_folders(tmp, std::chrono::minutes(1)),
            std::vector<fs::path>{killed});
  EXPECT_FALSE(fs::exists(killed));
  EXPECT_TRUE(fs::exists(with_mine / "mine.txt"));
  EXPECT_FALSE(fs::exists(with_mine / "video_0123456789abcdef0123456789abcdef.mp4"));
  for (const fs::path& kept : {running, starting, stopped, other_shape, other}) {
    EXPECT_TRUE(fs::exists(kept / "video_0123456789abcdef0123456789abcdef.mp4")) << kept;
  }
}

// A second server on the folder used to delete the first one's videos as leftovers.
TEST_F(QueueTest, ASecondServerOnTheFolderIsRefusedAndTheFirstKeepsItsVideos) {
  start(8);
  const std::string id = submit("a");
  EXPECT_EQ(wait_for_end(*queue, id).status, JobStatus::completed);
  const std::string e = testing::error_of([&] { OutputFolderLock second(dir); });
  EXPECT_NE(e.find(dir.string() + ": another fastvideo serve uses this folder"), std::string::npos)
      << e;
  EXPECT_TRUE(fs::exists(queue->video_path(id)));
  // Once the first lets go, the folder is free, and its work folder gone.
  queue.reset();
  folder.reset();
  EXPECT_FALSE(fs::exists(dir / OutputFolderLock::kWorkFolder));
  OutputFolderLock next(dir);
  EXPECT_TRUE(fs::is_directory(next.work_dir()));
}

}  // namespace
}  // namespace fastvideo::cli
