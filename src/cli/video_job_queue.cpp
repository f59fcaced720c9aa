#include "video_job_queue.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstring>
#include <random>

#include "fastvideo/error.h"
#include "fastvideo/log.h"

namespace fastvideo::cli {

namespace fs = std::filesystem;

namespace {

constexpr std::string_view kIdPrefix = "video_";
constexpr size_t kIdHexDigits = 32;

int64_t unix_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// 128 random bits: ids cannot be guessed, so one client cannot reach another's videos by
// counting.
std::string new_video_id() {
  static std::mutex mutex;
  static std::random_device device;
  std::lock_guard lock(mutex);
  std::string id(kIdPrefix);
  const char* hex = "0123456789abcdef";
  for (size_t i = 0; i < kIdHexDigits / 8; ++i) {
    const uint32_t bits = device();
    for (int shift = 28; shift >= 0; shift -= 4) id += hex[(bits >> shift) & 0xf];
  }
  return id;
}

// `text` with the folder `dir`, wherever it is named (followed by '/' or the end), as "<the
// server's video folder>".
std::string hide_folder(std::string text, const fs::path& dir) {
  const std::string name = dir.string();
  constexpr std::string_view kShown = "<the server's video folder>";
  for (size_t at = name.empty() ? std::string::npos : text.find(name); at != std::string::npos;
       at = text.find(name, at)) {
    const size_t end = at + name.size();
    if (end < text.size() && text[end] != '/') {
      at = end;
      continue;
    }
    text.replace(at, name.size(), kShown);
    at += kShown.size();
  }
  return text;
}

void remove_quietly(const fs::path& path) {
  std::error_code ignored;
  fs::remove(path, ignored);
}

}  // namespace

const char* status_name(JobStatus status) {
  switch (status) {
    case JobStatus::queued:
      return "queued";
    case JobStatus::in_progress:
      return "in_progress";
    case JobStatus::completed:
      return "completed";
    case JobStatus::failed:
      return "failed";
    case JobStatus::cancelled:
      return "cancelled";
  }
  return "unknown";
}

bool is_video_id(const std::string& id) {
  if (id.size() != kIdPrefix.size() + kIdHexDigits || id.rfind(kIdPrefix, 0) != 0) return false;
  return std::all_of(id.begin() + kIdPrefix.size(), id.end(),
                     [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

OutputFolderLock::OutputFolderLock(fs::path dir) : dir_(std::move(dir)) {
  const fs::path work = work_dir();
  // The server before may remove the work folder between our open and our lock; then the lock is
  // on a folder no one else finds, and we try again.
  while (true) {
    std::error_code ec;
    fs::create_directory(work, ec);
    FV_CHECK(!ec, work.string(), ": cannot create the server's work folder: ", ec.message());
    fd_ = ::open(work.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd_ < 0 && errno == ENOENT) continue;
    FV_CHECK(fd_ >= 0, work.string(),
             ": cannot open the server's work folder: ", std::strerror(errno));
    if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
      const int error = errno;
      ::close(fd_);
      fd_ = -1;
      FV_CHECK(error != EWOULDBLOCK, dir_.string(),
               ": another fastvideo serve uses this folder for its videos (it holds ",
               work.string(), "); give each server its own --output-dir");
      fail(work.string(), ": cannot lock the server's work folder: ", std::strerror(error));
    }
    struct stat held {
    }, named{};
    if (::fstat(fd_, &held) == 0 && ::stat(work.c_str(), &named) == 0 &&
        held.st_dev == named.st_dev && held.st_ino == named.st_ino) {
      return;
    }
    ::close(fd_);
  }
}

OutputFolderLock::~OutputFolderLock() {
  std::error_code ignored;
  fs::remove_all(work_dir(), ignored);  // while the lock is held: no other server is in it
  ::close(fd_);
}

std::vector<fs::path> remove_abandoned_serve_folders(const fs::path& temp_dir,
                                                     std::chrono::seconds min_age) {
  constexpr std::string_view kPrefix = "fastvideo-serve-";  // + mkdtemp's 6 characters
  std::vector<fs::path> removed;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(temp_dir, ec)) {
    const fs::path& path = entry.path();
    const std::string name = path.filename().string();
    struct stat st {};
    if (name.size() != kPrefix.size() + 6 || name.rfind(kPrefix, 0) != 0 ||
        ::lstat(path.c_str(), &st) != 0 || !S_ISDIR(st.st_mode) || st.st_uid != ::getuid() ||
        std::chrono::system_clock::now() - std::chrono::system_clock::from_time_t(st.st_mtime) <
            min_age) {
      continue;
    }
    // A server that stopped cleanly took its work folder with it; a killed one left it.
    if (!fs::is_directory(path / OutputFolderLock::kWorkFolder, ec)) continue;
    try {
      const OutputFolderLock abandoned(path);  // throws while a server holds it
      VideoJobQueue::remove_files(abandoned);
    } catch (const Error&) {
      continue;
    }
    // Only the server's own files went: a folder holding anything else stays.
    if (fs::remove(path, ec)) removed.push_back(path);
  }
  return removed;
}

VideoJobQueue::VideoJobQueue(size_t capacity, int64_t retention_seconds,
                             const OutputFolderLock& folder, Generate generate, Stop stop)
    : capacity_(capacity),
      retention_seconds_(retention_seconds),
      output_dir_(folder.dir()),
      work_dir_(folder.work_dir()),
      generate_(std::move(generate)),
      stop_(std::move(stop)) {
  // What a server killed before it could clean up left here: its jobs are gone with it. Only now,
  // with the folder locked: a running server's videos are never leftovers. Said, as they may
  // have been copied there by hand under a server's name.
  for (const fs::path& video : remove_files(folder)) {
    log::warning("fastvideo serve: removed ", video.string(),
                 ", a video left by a server that did not stop cleanly (files named video_<id>.mp4 "
                 "in the output folder are the server's)");
  }
  worker_ = std::thread([this] { work(); });
}

std::vector<fs::path> VideoJobQueue::remove_files(const OutputFolderLock& folder) {
  std::vector<fs::path> removed;
  std::error_code ec;
  // The work folder first: a video the worker moves out of it meanwhile is then found below.
  for (const auto& entry : fs::directory_iterator(folder.work_dir(), ec)) {
    std::error_code ignored;
    fs::remove_all(entry.path(), ignored);
  }
  for (const auto& entry : fs::directory_iterator(folder.dir(), ec)) {
    const std::string name = entry.path().filename().string();
    const size_t id_size = kIdPrefix.size() + kIdHexDigits;
    const std::string rest = name.size() > id_size ? name.substr(id_size) : "";
    // <id>.partial.mp4: where earlier versions wrote videos in progress.
    if (is_video_id(name.substr(0, id_size)) && (rest == ".mp4" || rest == ".partial.mp4")) {
      remove_quietly(entry.path());
      removed.push_back(entry.path());
    }
  }
  return removed;
}

VideoJobQueue::~VideoJobQueue() { shutdown(); }

fs::path VideoJobQueue::final_path(const std::string& id) const {
  return output_dir_ / (id + ".mp4");
}

fs::path VideoJobQueue::partial_path(const std::string& id) const {
  return work_dir_ / (id + ".mp4");
}

std::pair<std::optional<VideoJob>, VideoJobQueue::Refusal> VideoJobQueue::submit(
    GenerationRequest request, std::string seconds, std::string size) {
  std::lock_guard lock(mutex_);
  if (shutting_down_) return {std::nullopt, Refusal::shutting_down};
  if (waiting_.size() >= capacity_) return {std::nullopt, Refusal::full};
  VideoJob job;
  job.id = new_video_id();
  job.request = std::move(request);
  job.seconds = std::move(seconds);
  job.size = std::move(size);
  job.created_at = unix_now();
  job.sequence = next_sequence_++;
  jobs_[job.id] = job;
  waiting_.push_back(job.id);
  wake_worker_.notify_all();
  return {job, Refusal::none};
}

std::optional<VideoJob> VideoJobQueue::find(const std::string& id) const {
  std::lock_guard lock(mutex_);
  auto it = jobs_.find(id);
  if (it == jobs_.end()) return std::nullopt;
  return it->second;
}

std::vector<VideoJob> VideoJobQueue::jobs() const {
  std::vector<VideoJob> all;
  {
    std::lock_guard lock(mutex_);
    for (const auto& [id, job] : jobs_) all.push_back(job);
  }
  std::sort(all.begin(), all.end(),
            [](const VideoJob& a, const VideoJob& b) { return a.sequence < b.sequence; });
  return all;
}

fs::path VideoJobQueue::video_path(const std::string& id) const {
  std::lock_guard lock(mutex_);
  auto it = jobs_.find(id);
  if (it == jobs_.end() || it->second.status != JobStatus::completed) return {};
  return final_path(id);
}

std::optional<VideoJob> VideoJobQueue::remove(const std::string& id) {
  std::unique_lock lock(mutex_);
  auto it = jobs_.find(id);
  if (it == jobs_.end()) return std::nullopt;
  VideoJob before = it->second;
  switch (before.status) {
    case JobStatus::queued:
      std::erase(waiting_, id);
      break;
    case JobStatus::in_progress:
      cancel_running_ = true;
      stop_();
      // The generator stops at its next step; then the worker has removed the partial file and
      // holds the job no more.
      job_ended_.wait(lock, [&] { return running_ != id; });
      break;
    case JobStatus::completed:
    case JobStatus::failed:
    case JobStatus::cancelled:
      break;
  }
  // Gone, as the reply says ("deleted": true): a GET finds no job left as "cancelled".
  remove_quietly(final_path(id));
  jobs_.erase(id);
  return before;
}

int VideoJobQueue::retry_after_seconds() const {
  std::lock_guard lock(mutex_);
  if (running_.empty()) return 1;
  const double elapsed =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - running_since_).count();
  const int progress = jobs_.at(running_).progress;
  // The progress counts denoising steps only; the decode and writing after them take about what
  // they took the last job, which a completed job's time holds.
  const double by_progress = progress > 0 ? elapsed * (100 - progress) / progress : elapsed;
  const double left =
      last_job_seconds_ ? std::max(by_progress, *last_job_seconds_ - elapsed) : by_progress;
  return std::max(1, int(std::ceil(left)));
}

void VideoJobQueue::report_progress(int percent) {
  std::lock_guard lock(mutex_);
  if (running_.empty()) return;
  jobs_.at(running_).progress = std::clamp(percent, 0, 99);
}

void VideoJobQueue::shutdown() {
  {
    std::lock_guard lock(mutex_);
    shutting_down_ = true;
    for (const std::string& id : waiting_) {
      finish(jobs_.at(id), JobStatus::cancelled, "the server shut down before the job started");
    }
    waiting_.clear();
    if (!running_.empty()) {
      cancel_running_ = true;
      stop_();
    }
  }
  wake_worker_.notify_all();
  if (worker_.joinable()) worker_.join();
  std::lock_guard lock(mutex_);
  for (const auto& [id, job] : jobs_) remove_quietly(final_path(id));
  jobs_.clear();
}

void VideoJobQueue::work() {
  std::unique_lock lock(mutex_);
  while (true) {
    forget_expired();
    if (waiting_.empty()) {
      if (shutting_down_) return;
      // Timed, so that finished jobs expire even while no request comes.
      wake_worker_.wait_for(lock, std::chrono::milliseconds(500));
      continue;
    }
    const std::string id = waiting_.front();
    waiting_.erase(waiting_.begin());
    run(jobs_.at(id), lock);
  }
}

// Called and returns with the lock held; generates without it.
void VideoJobQueue::run(VideoJob& job, std::unique_lock<std::mutex>& lock) {
  running_ = job.id;
  cancel_running_ = false;
  job.status = JobStatus::in_progress;
  const VideoJob snapshot = job;
  const fs::path partial = partial_path(job.id);
  running_since_ = std::chrono::steady_clock::now();
  lock.unlock();
  JobStatus status = JobStatus::completed;
  std::string error;
  for (int attempt = 0;; ++attempt) {
    try {
      generate_(snapshot, partial);
    } catch (const Cancelled& e) {
      lock.lock();
      const bool asked = cancel_running_;
      lock.unlock();
      // A stop that came just after the previous job ended is kept by the generator for its next
      // generation (video_generator.h): this one, which nobody cancelled. It ends at once; run the
      // job again.
      if (!asked && attempt == 0) continue;
      status = JobStatus::cancelled;
      error = e.what();
    } catch (const std::exception& e) {
      status = JobStatus::failed;
      error = e.what();
    }
    break;
  }
  lock.lock();
  if (status == JobStatus::completed && cancel_running_) {
    status = JobStatus::cancelled;  // the stop came after the last step: the video goes anyway
    error = "cancelled by a DELETE request while it ran";
  }
  if (status == JobStatus::completed) {
    std::error_code ec;
    fs::rename(partial, final_path(job.id), ec);
    if (ec) {
      status = JobStatus::failed;
      error = str_cat("cannot move the video into place: ", ec.message());
    }
  }
  if (status != JobStatus::completed) remove_quietly(partial);
  if (status == JobStatus::completed) {
    last_job_seconds_ =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - running_since_).count();
  }
  running_.clear();
  finish(job, status, error);
}

void VideoJobQueue::finish(VideoJob& job, JobStatus status, const std::string& error) {
  job.status = status;
  // Clients see the error: the server's folders are not theirs to know (the full message is in
  // the server's log).
  job.error = hide_folder(hide_folder(error, work_dir_), output_dir_);
  if (status == JobStatus::failed) log::warning("fastvideo serve: ", job.id, " failed: ", error);
  if (status == JobStatus::completed) job.progress = 100;
  job.completed_at = unix_now();
  job.expires_at = *job.completed_at + retention_seconds_;
  job_ended_.notify_all();
}

void VideoJobQueue::forget_expired() {
  const int64_t now = unix_now();
  std::erase_if(jobs_, [&](const auto& entry) {
    const VideoJob& job = entry.second;
    if (!job.expires_at || *job.expires_at > now) return false;
    remove_quietly(final_path(job.id));
    return true;
  });
}

}  // namespace fastvideo::cli
