// The jobs of `fastvideo serve`: a bounded FIFO in front of one worker thread that generates one
// video at a time, the record of every job until it expires, and the files. The output folder
// belongs to one server at a time (OutputFolderLock). Each video is written in the server's work
// folder, <output-dir>/.fastvideo-serve/, and moved to <output-dir>/<id>.mp4 when it is complete,
// so a file under its final name is always whole; a cancelled or failed job leaves no file. Jobs
// that ended (completed, failed, cancelled) are forgotten, with their files, `retention` after
// they ended.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "fastvideo/video_generator.h"

namespace fastvideo::cli {

enum class JobStatus { queued, in_progress, completed, failed, cancelled };

// OpenAI's names: "queued", "in_progress", "completed", "failed"; and "cancelled".
const char* status_name(JobStatus status);

struct VideoJob {
  std::string id;  // "video_" and 32 hex digits (is_video_id)
  GenerationRequest request;
  std::string seconds, size;  // as the job object reports them
  JobStatus status = JobStatus::queued;
  int progress = 0;  // percent
  int64_t created_at = 0;
  std::optional<int64_t> completed_at, expires_at;  // set when the job ends
  std::string error;                                // why it failed
  uint64_t sequence = 0;                            // submission order
};

bool is_video_id(const std::string& id);

// One server's hold on its output folder, for the server's lifetime: the work folder
// <dir>/.fastvideo-serve, made if missing and locked (flock) while this lives. A second server on
// the folder would have deleted the first one's videos as leftovers; it is refused instead. The
// destructor removes the work folder and lets go.
class OutputFolderLock {
 public:
  static constexpr const char* kWorkFolder = ".fastvideo-serve";

  // `dir` must exist. Throws an Error naming it when another server holds it.
  explicit OutputFolderLock(std::filesystem::path dir);
  ~OutputFolderLock();
  OutputFolderLock(const OutputFolderLock&) = delete;
  OutputFolderLock& operator=(const OutputFolderLock&) = delete;

  const std::filesystem::path& dir() const { return dir_; }
  std::filesystem::path work_dir() const { return dir_ / kWorkFolder; }

 private:
  std::filesystem::path dir_;
  int fd_ = -1;  // the work folder, flock'ed
};

// The temporary folders (`temp_dir`/fastvideo-serve-*) that servers killed outright (SIGKILL, the
// kernel's out-of-memory killer) left: this user's, older than `min_age` (a server that is
// starting makes its folder and locks it a moment later) and held by no server. Removes them and
// returns their paths.
std::vector<std::filesystem::path> remove_abandoned_serve_folders(
    const std::filesystem::path& temp_dir, std::chrono::seconds min_age);

class VideoJobQueue {
 public:
  // Generates `job` into `output` (an .mp4 path). Throws Cancelled once `stop` was called during
  // it, anything else on failure; either way it leaves no file at `output`.
  using Generate = std::function<void(const VideoJob& job, const std::filesystem::path& output)>;
  using Stop = std::function<void()>;

  // capacity: the jobs that may wait besides the one running. The videos go in folder.dir(); what
  // a killed server left there (videos, work files) is removed first. `folder` must outlive the
  // queue.
  VideoJobQueue(size_t capacity, int64_t retention_seconds, const OutputFolderLock& folder,
                Generate generate, Stop stop);
  // Same as shutdown().
  ~VideoJobQueue();
  VideoJobQueue(const VideoJobQueue&) = delete;
  VideoJobQueue& operator=(const VideoJobQueue&) = delete;

  enum class Refusal { none, full, shutting_down };
  // Queues a job for `request`; the job as queued, or why not.
  std::pair<std::optional<VideoJob>, Refusal> submit(GenerationRequest request, std::string seconds,
                                                     std::string size);

  std::optional<VideoJob> find(const std::string& id) const;
  // Every job the queue remembers, in submission order.
  std::vector<VideoJob> jobs() const;
  // The finished video of a completed job (empty otherwise).
  std::filesystem::path video_path(const std::string& id) const;

  // Forgets the job at once, with its file: a queued job is taken off the queue, a running one
  // stopped first (it waits until the worker let go of it). Returns the job as it was before, or
  // nothing when the id is unknown.
  std::optional<VideoJob> remove(const std::string& id);

  // Seconds a refused client should wait: until the running job ends and frees a place, estimated
  // from its progress so far, else from the last completed job's time; at least 1.
  int retry_after_seconds() const;

  // Progress of the running job, in percent (kept below 100 until it completes).
  void report_progress(int percent);

  // Refuses new jobs, cancels the queued ones and stops the running one, waits for the worker,
  // then deletes every file this queue made (their records go with the process).
  void shutdown();

  // Deletes every file a queue makes in `folder` (<id>.mp4 and the work folder's contents), with
  // no lock taken: what a killed server left, or what a server quitting at once leaves. Returns
  // the videos it deleted.
  static std::vector<std::filesystem::path> remove_files(const OutputFolderLock& folder);

 private:
  void work();
  void run(VideoJob& job, std::unique_lock<std::mutex>& lock);
  void finish(VideoJob& job, JobStatus status, const std::string& error);
  void forget_expired();
  std::filesystem::path final_path(const std::string& id) const;
  std::filesystem::path partial_path(const std::string& id) const;

  const size_t capacity_;
  const int64_t retention_seconds_;
  const std::filesystem::path output_dir_, work_dir_;
  const Generate generate_;
  const Stop stop_;

  mutable std::mutex mutex_;
  std::condition_variable wake_worker_, job_ended_;
  std::map<std::string, VideoJob> jobs_;
  std::vector<std::string> waiting_;  // queued ids, oldest first
  std::string running_;               // id of the job being generated, empty when none
  bool cancel_running_ = false;       // the running job was cancelled (remove, shutdown)
  bool shutting_down_ = false;
  uint64_t next_sequence_ = 0;
  std::chrono::steady_clock::time_point running_since_;
  std::optional<double> last_job_seconds_;  // of the last completed job
  std::thread worker_;
};

}  // namespace fastvideo::cli
