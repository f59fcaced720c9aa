// fastvideo serve: OpenAI's video job API (POST/GET/DELETE /v1/videos, GET /v1/videos/{id}/content,
// GET /v1/models[/{model}]) and GET /health over HTTP (cpp-httplib), on one model loaded at start.
// Jobs run one at a time in a bounded queue (video_job_queue.h); bodies are checked before a job is
// queued (video_request.h); every error is OpenAI's error object (api_error.h). SIGINT/SIGTERM stop
// the listener, cancel the running job and remove every file the server made, then exit 0.
#include <arpa/inet.h>
#include <httplib.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <deque>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <optional>
#include <regex>
#include <set>
#include <utility>

#include "api_error.h"
#include "commands.h"
#include "fastvideo/json_depth.h"
#include "fastvideo/log.h"
#include "fastvideo/made_folders.h"
#include "fastvideo/run_config.h"
#include "fastvideo/video_generator.h"
#include "serve_signals.h"
#include "video_job_queue.h"
#include "video_request.h"

namespace fastvideo::cli {

namespace {

namespace fs = std::filesystem;
using nlohmann::ordered_json;

// Debian's cpp-httplib listens with a backlog of 5 (CPPHTTPLIB_LISTEN_BACKLOG, compiled into the
// library): a burst of clients past it overflowed the accept queue, and some of their connections
// were reset unanswered. Listening again on the bound socket (Linux updates the backlog) gives a
// burst the system's full queue.
class HttpServer : public httplib::Server {
 public:
  void deepen_listen_backlog() { ::listen(svr_sock_, SOMAXCONN); }
};

// httplib's default socket options add SO_REUSEPORT (Debian's 0.11.4), with which a second server
// binds the same port and takes a share of its connections. SO_REUSEADDR alone only lets a
// restarted server bind while the old one's connections linger in TIME_WAIT.
void reuse_address_only(socket_t sock) {
  const int yes = 1;
  ::setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
}

// Why bind() failed, from the errno it left (httplib reports only false).
std::string why_not_listening(int error) {
  switch (error) {
    case EADDRINUSE:
      return "address in use";
    case EADDRNOTAVAIL:
      return "not an address of this machine";
    case EACCES:
      return "permission denied: ports below 1024 need privileges";
    case 0:
      return "the host name does not resolve";
    default:
      return std::strerror(error);
  }
}

// Shuts down the reading side of every TCP connection this process accepted on `port`: a blocked
// read returns at once, while an answer being written still goes out. Found through the process's
// descriptors, since httplib keeps its connections to itself.
void shut_down_reading_of_connections(int port) {
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator("/proc/self/fd", ec)) {
    int fd = -1;
    const std::string name = entry.path().filename().string();
    if (std::from_chars(name.data(), name.data() + name.size(), fd).ec != std::errc()) continue;
    sockaddr_storage local{}, peer{};
    socklen_t local_size = sizeof local, peer_size = sizeof peer;
    if (::getsockname(fd, reinterpret_cast<sockaddr*>(&local), &local_size) != 0 ||
        ::getpeername(fd, reinterpret_cast<sockaddr*>(&peer), &peer_size) != 0) {
      continue;  // not a socket, or not a connection
    }
    const int local_port =
        local.ss_family == AF_INET    ? ntohs(reinterpret_cast<sockaddr_in*>(&local)->sin_port)
        : local.ss_family == AF_INET6 ? ntohs(reinterpret_cast<sockaddr_in6*>(&local)->sin6_port)
                                      : -1;
    if (local_port == port) ::shutdown(fd, SHUT_RD);
  }
}

// The threads that serve connections, one per open connection up to kMaxThreads, made as
// connections need them and kept for the next. httplib's own pool has max(8, cores - 1): eight
// idle keep-alive connections, or a few clients sending headers slowly, held every thread and
// stalled /health. When the listener closes (shutdown), open connections get a moment to finish,
// then their reading side is shut down, so a client trickling header bytes cannot hold the exit.
class ConnectionThreads : public httplib::TaskQueue {
 public:
  static constexpr size_t kMaxThreads = 256;

  explicit ConnectionThreads(int port) : port_(port) {}
  ~ConnectionThreads() override { ConnectionThreads::shutdown(); }

  void enqueue(std::function<void()> connection) override {
    std::lock_guard lock(mutex_);
    connections_.push_back(std::move(connection));
    if (connections_.size() > free_ && threads_.size() < kMaxThreads) {
      threads_.emplace_back([this] { work(); });
      ++free_;
    }
    wake_.notify_one();
  }

  void shutdown() override {
    {
      std::unique_lock lock(mutex_);
      if (threads_.empty()) return;
      stopping_ = true;
      wake_.notify_all();
      if (!idle_.wait_for(lock, std::chrono::seconds(1),
                          [this] { return connections_.empty() && free_ == threads_.size(); })) {
        shut_down_reading_of_connections(port_);
      }
    }
    for (std::thread& thread : threads_) thread.join();
    threads_.clear();
  }

 private:
  void work() {
    std::unique_lock lock(mutex_);
    while (true) {
      wake_.wait(lock, [this] { return stopping_ || !connections_.empty(); });
      if (connections_.empty()) return;  // stopping
      std::function<void()> connection = std::move(connections_.front());
      connections_.pop_front();
      --free_;
      lock.unlock();
      connection();
      lock.lock();
      ++free_;
      idle_.notify_all();
    }
  }

  const int port_;
  std::mutex mutex_;
  std::condition_variable wake_, idle_;
  std::deque<std::function<void()>> connections_;
  std::vector<std::thread> threads_;
  size_t free_ = 0;  // threads not serving a connection
  bool stopping_ = false;
};

struct ServeFlags {
  std::string config_path, host = "127.0.0.1";
  std::optional<std::string> model, attention_backend, device, api_key;
  int port = 8000;
  size_t queue_size = 8;
  int64_t retention = 3600;
  std::optional<std::string> output_dir;
  size_t max_body_bytes = 1 << 20;
  JobCaps caps;
  bool enable_torch_compile = false;
  std::string transformer_quant;
  // Several GPUs for every job (issue 15), as generate's flags of the same names.
  std::optional<std::string> num_gpus, sp_size, use_fsdp_inference, dist_timeout;
};

// serve takes each video's request from its POST; a request section in --config would be ignored,
// so it is refused.
void refuse_request_section(const RunConfig& config, const std::string& config_path) {
  const GenerationRequest& r = config.request;
  const GenerationRequest unset;
  const char* key = !r.prompt.empty() || !config.prompt_list.empty() ? "request.prompt"
                    : r.negative_prompt                              ? "request.negative_prompt"
                    : r.seed                                         ? "request.sampling.seed"
                    : r.num_frames                                   ? "request.sampling.num_frames"
                    : r.height                                       ? "request.sampling.height"
                    : r.width                                        ? "request.sampling.width"
                    : r.num_inference_steps ? "request.sampling.num_inference_steps"
                    : r.guidance_scale      ? "request.sampling.guidance_scale"
                    : r.fps                 ? "request.sampling.fps"
                    : r.cfg_gate_step       ? "request.sampling.cfg_gate_step"
                    : r.max_sequence_length != unset.max_sequence_length
                        ? "request.sampling.max_sequence_length"
                    : config.prompt_path       ? "request.inputs.prompt_path"
                    : config.output_path       ? "request.output.output_path"
                    : config.output_video_name ? "request.output.output_video_name"
                    : !config.save_video       ? "request.output.save_video"
                    : r.overwrite              ? "request.output.overwrite"
                                               : nullptr;
  FV_CHECK(key == nullptr, config_path, ": ", key,
           " is set in --config; fastvideo serve takes every video's request from POST /v1/videos "
           "(keep only the generator section)");
}

RunConfig run_config_from(const ServeFlags& f) {
  RunConfig config;
  if (!f.config_path.empty()) apply_config_file(f.config_path, config);
  refuse_request_section(config, f.config_path);
  const std::pair<const char*, const std::optional<std::string>*> flags[] = {
      {"generator.model_path", &f.model},
      {"generator.pipeline.experimental.attention_backend", &f.attention_backend},
      {"generator.engine.device", &f.device},
      {"generator.engine.num_gpus", &f.num_gpus},
      {"generator.engine.parallelism.sp_size", &f.sp_size},
      {"generator.engine.use_fsdp_inference", &f.use_fsdp_inference},
      {"generator.engine.parallelism.dist_timeout", &f.dist_timeout}};
  for (const auto& [key, value] : flags) {
    if (*value) apply_setting(key, **value, config);
  }
  if (f.enable_torch_compile) config.options.enable_torch_compile = true;
  if (!f.transformer_quant.empty()) config.options.transformer_quant = f.transformer_quant;
  FV_CHECK(config.model_path, "no model: pass --model DIR or generator.model_path in --config");
  return config;
}

std::string parameter(const std::vector<std::pair<std::string, std::string>>& parameters,
                      const std::string& name) {
  for (const auto& [key, value] : parameters) {
    if (key == name) return value;
  }
  fail("the engine's resolved request has no '", name, "'");
}

std::string dump(const ordered_json& j) {
  // Invalid UTF-8 never gets this far (the engine refuses it), but a dump must not throw.
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

ordered_json video_object(const VideoJob& job, const std::string& model) {
  ordered_json j = {{"id", job.id},
                    {"object", "video"},
                    {"model", model},
                    {"status", status_name(job.status)},
                    {"progress", job.progress},
                    {"created_at", job.created_at},
                    {"completed_at", nullptr},
                    {"expires_at", nullptr},
                    {"prompt", job.request.prompt},
                    {"seconds", job.seconds},
                    {"size", job.size},
                    {"seed", job.request.seed ? ordered_json(*job.request.seed) : nullptr},
                    {"remixed_from_video_id", nullptr},
                    {"error", nullptr}};
  if (job.completed_at) j["completed_at"] = *job.completed_at;
  if (job.expires_at) j["expires_at"] = *job.expires_at;
  if (job.status == JobStatus::failed || job.status == JobStatus::cancelled) {
    j["error"] = {{"code", job.status == JobStatus::failed ? "generation_failed" : "cancelled"},
                  {"message", job.error}};
  }
  return j;
}

void reply(httplib::Response& res, const ordered_json& body, int status = 200) {
  res.status = status;
  res.set_content(dump(body), "application/json");
}

void reply(httplib::Response& res, const ApiError& e) {
  res.status = e.status();
  res.set_content(e.json(), "application/json");
}

// Query parameters outside `allowed` are refused, not ignored.
void check_query(const httplib::Request& req, std::initializer_list<std::string> allowed) {
  for (const auto& [name, value] : req.params) {
    if (std::find(allowed.begin(), allowed.end(), name) == allowed.end()) {
      throw invalid_field(name, str_cat("unknown query parameter '", name.substr(0, 80), "'"),
                          "unknown_parameter");
    }
    if (req.get_param_value_count(name) > 1) {
      throw invalid_field(name, str_cat("query parameter '", name, "' is given twice"));
    }
  }
}

// The {id} of the path. Ids have one fixed form, so anything else (a path, "../x") is an unknown
// video and never reaches the filesystem.
std::string video_id(const httplib::Request& req) {
  const std::string id = req.matches[1];
  if (!is_video_id(id)) {
    throw ApiError(404, "not_found",
                   str_cat("no video '", id.substr(0, 80),
                           "' (video ids are 'video_' and 32 hexadecimal digits)"),
                   "video_id");
  }
  return id;
}

ApiError unknown_video(const std::string& id) {
  return ApiError(404, "not_found", str_cat("no video '", id, "' (unknown, deleted or expired)"),
                  "video_id");
}

// A Range header's ranges (httplib's parse: -1 where a number is absent) against a body of `size`
// bytes, by RFC 7233 §2.1: each as first and last byte within the body (a suffix range counts
// from the end, a last byte past the end is the end), without those that start past the end or
// ask for the last 0 bytes. Empty when no range is satisfiable.
httplib::Ranges satisfiable_ranges(const httplib::Ranges& asked, size_t size) {
  const auto end = static_cast<ssize_t>(size);
  httplib::Ranges ranges;
  for (auto [first, last] : asked) {
    if (first == -1 && last == -1) {  // "bytes=-", which httplib takes for the whole body
      first = 0;
    } else if (first == -1) {  // the last `last` bytes
      if (last == 0) continue;
      first = std::max<ssize_t>(0, end - last);
      last = -1;
    }
    if (first >= end) continue;
    ranges.emplace_back(first, last == -1 ? end - 1 : std::min(last, end - 1));
  }
  return ranges;
}

// httplib cuts every answer to the request's Range, error answers included (a 401 went out as 4
// bytes of its JSON). Only a video's content is served in ranges; an error goes out whole.
void answer_whole(const httplib::Request& req) {
  const_cast<httplib::Request&>(req).ranges.clear();  // httplib's own Request, not const
}

std::string lowercase(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

// The body's media type without its parameters, lowercased: media types are case-insensitive
// (RFC 9110 §8.3.1), "APPLICATION/JSON; charset=utf-8" is application/json.
std::string media_type(const httplib::Request& req) {
  std::string type = req.get_header_value("Content-Type");
  type = type.substr(0, type.find(';'));
  const size_t first = type.find_first_not_of(" \t"), last = type.find_last_not_of(" \t");
  return first == std::string::npos ? "" : lowercase(type.substr(first, last - first + 1));
}

// Checked before anything else of a POST: a form-urlencoded body (curl -d's default) fills the
// query parameters with its fields, which would otherwise be refused as unknown parameters.
void check_media_type(const httplib::Request& req) {
  const std::string type = media_type(req);
  const std::string given = req.get_header_value("Content-Type").substr(0, 80);
  if (type == "multipart/form-data" && !req.is_multipart_form_data()) {
    // httplib reads a form's parts only under this exact spelling.
    throw ApiError(415, "unsupported_media_type",
                   str_cat("Content-Type '", given,
                           "': send multipart/form-data in lowercase, or application/json"));
  }
  if (type != "application/json" && type != "multipart/form-data") {
    throw ApiError(415, "unsupported_media_type",
                   str_cat("Content-Type '", given,
                           "' is not accepted; send application/json or multipart/form-data"));
  }
}

// The POST body as one JSON object, from JSON or from a form (check_media_type passed).
std::pair<nlohmann::json, bool> body_fields(const httplib::Request& req) {
  if (req.is_multipart_form_data()) {
    nlohmann::json fields = nlohmann::json::object();
    for (const auto& [name, part] : req.files) {
      if (!part.filename.empty()) {
        throw invalid_field(name,
                            str_cat("field '", name.substr(0, 80),
                                    "' is a file upload; this server takes text fields only"),
                            "unsupported_parameter");
      }
      if (fields.contains(name)) {
        throw invalid_field(name, str_cat("field '", name.substr(0, 80), "' is given twice"));
      }
      fields[name] = part.content;
    }
    return {fields, true};
  }
  // nlohmann keeps the last of two equal keys; a field given twice is refused instead.
  std::vector<std::set<std::string>> keys;  // of each object being read, innermost last
  std::string field;                        // the last key read: the field a value belongs to
  auto refuse_duplicates = [&keys, &field](int, nlohmann::json::parse_event_t event,
                                           nlohmann::json& parsed) {
    using Event = nlohmann::json::parse_event_t;
    if (event == Event::object_start) keys.emplace_back();
    if (event == Event::object_end) keys.pop_back();
    if (event == Event::key) {
      field = parsed.get<std::string>();
      if (!keys.back().insert(field).second) {
        throw invalid_field(field, str_cat("field '", field.substr(0, 80), "' is given twice"));
      }
    }
    return true;
  };
  if (const long at = json_too_deep_at(req.body); at >= 0) {
    throw ApiError(
        400, "invalid_json",
        str_cat("the body nests arrays and objects deeper than ", kMaxJsonDepth,
                " levels (at byte ", at + 1, "); a request's fields are text and numbers"));
  }
  try {
    return {nlohmann::json::parse(req.body, refuse_duplicates), false};
  } catch (const nlohmann::json::parse_error& e) {
    throw ApiError(400, "invalid_json", str_cat("the body is not valid JSON: ", e.what()));
  } catch (const nlohmann::json::out_of_range& e) {
    // A number past a double's range (1e999) is refused while parsing.
    const std::string what = e.what();
    const std::string why =
        what.substr(what.find("] ") == std::string::npos ? 0 : what.find("] ") + 2);
    if (field.empty()) throw ApiError(400, "invalid_value", str_cat("the body holds ", why));
    throw invalid_field(field, str_cat(field.substr(0, 80), " is out of range: ", why));
  }
}

ordered_json list_page(const std::vector<VideoJob>& all, const httplib::Request& req,
                       const std::string& model) {
  check_query(req, {"limit", "after", "order"});
  int limit = 20;
  if (req.has_param("limit")) {
    const std::string s = req.get_param_value("limit");
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), limit);
    if (ec != std::errc() || end != s.data() + s.size() || limit < 1 || limit > 100) {
      throw invalid_field("limit",
                          str_cat("limit='", s.substr(0, 80), "' must be an integer in [1, 100]"));
    }
  }
  const std::string order = req.has_param("order") ? req.get_param_value("order") : "desc";
  if (order != "asc" && order != "desc") {
    throw invalid_field("order", str_cat("order='", order.substr(0, 80), "' must be asc or desc"));
  }
  std::vector<const VideoJob*> ordered;
  for (const VideoJob& job : all) ordered.push_back(&job);
  if (order == "desc") std::reverse(ordered.begin(), ordered.end());
  size_t start = 0;
  if (req.has_param("after")) {
    const std::string after = req.get_param_value("after");
    auto it = std::find_if(ordered.begin(), ordered.end(),
                           [&](const VideoJob* job) { return job->id == after; });
    if (it == ordered.end()) {
      throw invalid_field("after", str_cat("after='", after.substr(0, 80),
                                           "' is not the id of a video this server holds"));
    }
    start = size_t(it - ordered.begin()) + 1;
  }
  ordered_json page = {{"object", "list"}, {"data", ordered_json::array()}};
  const size_t end = std::min(ordered.size(), start + size_t(limit));
  for (size_t i = start; i < end; ++i) page["data"].push_back(video_object(*ordered[i], model));
  page["first_id"] = end > start ? ordered_json(ordered[start]->id) : ordered_json(nullptr);
  page["last_id"] = end > start ? ordered_json(ordered[end - 1]->id) : ordered_json(nullptr);
  page["has_more"] = end < ordered.size();
  return page;
}

// The methods of each route serve_routes registers (HEAD answers as GET does), for 405's Allow.
const char* allowed_methods(const std::string& path) {
  static const std::pair<std::regex, const char*> routes[] = {
      {std::regex("/health"), "GET, HEAD"},
      {std::regex("/v1/models"), "GET, HEAD"},
      {std::regex("/v1/models/[^/]+"), "GET, HEAD"},
      {std::regex("/v1/videos"), "GET, HEAD, POST"},
      {std::regex("/v1/videos/[^/]+"), "GET, HEAD, DELETE"},
      {std::regex("/v1/videos/[^/]+/content"), "GET, HEAD"}};
  for (const auto& [route, methods] : routes) {
    if (std::regex_match(path, route)) return methods;
  }
  return nullptr;
}

bool contains_method(const std::string& allowed, const std::string& method) {
  return !method.empty() && (", " + allowed + ",").find(" " + method + ",") != std::string::npos;
}

std::string default_message(int status) {
  switch (status) {
    case 400:
      return "malformed HTTP request";
    case 404:
      return "no such route";
    case 413:
      return "the request body is larger than this server accepts (--max-body-bytes)";
    default:
      return str_cat("HTTP ", status);
  }
}

// The folder the videos go in: --output-dir (made if missing), else a fresh temporary folder that
// goes when the server stops.
struct OutputDir {
  fs::path path;
  bool temporary = false;
  ~OutputDir() {
    std::error_code ignored;
    if (temporary) fs::remove_all(path, ignored);
  }
};

// How a request's body is framed, checked before it is read: httplib (Debian's 0.11.4) holds
// --max-body-bytes only against a Content-Length, so a chunked or compressed body could grow past
// it in memory without bound. Bodies here are small JSON or form fields, so such framings are
// refused, as is a Content-Length given twice or not as a byte count (RFC 9112 §6.3), and a POST
// without one. Null: the framing is acceptable.
std::optional<ApiError> refuse_body_framing(const httplib::Request& req) {
  if (req.has_header("Transfer-Encoding")) {
    return ApiError(
        411, "length_required",
        str_cat("Transfer-Encoding '", req.get_header_value("Transfer-Encoding").substr(0, 40),
                "' is not accepted; send the body with a Content-Length"));
  }
  for (size_t i = 0; i < req.get_header_value_count("Content-Encoding"); ++i) {
    const std::string coding = lowercase(req.get_header_value("Content-Encoding", i));
    if (coding != "identity") {
      return ApiError(415, "unsupported_media_type",
                      str_cat("Content-Encoding '", coding.substr(0, 40),
                              "' is not accepted; send the body uncompressed"));
    }
  }
  const size_t lengths = req.get_header_value_count("Content-Length");
  if (lengths > 1) {
    return ApiError(400, "invalid_request", "Content-Length is given more than once");
  }
  if (lengths == 0) {
    if (req.method != "POST") return std::nullopt;
    return ApiError(411, "length_required", "a POST needs a Content-Length header");
  }
  const std::string length = req.get_header_value("Content-Length");
  if (length.empty() || length.size() > 19 ||
      length.find_first_not_of("0123456789") != std::string::npos) {
    return ApiError(
        400, "invalid_request",
        str_cat("Content-Length '", length.substr(0, 40), "' is not a number of bytes"));
  }
  return std::nullopt;
}

// A missing or wrong API key (401). /health stays open: a load balancer's probe learns nothing
// about anyone's videos from it.
std::optional<ApiError> refuse_key(const httplib::Request& req,
                                   const std::optional<std::string>& api_key) {
  if (!api_key || req.path == "/health") return std::nullopt;
  const std::string given = req.get_header_value("Authorization");
  // "Bearer KEY"; the scheme is case-insensitive (RFC 9110 §11.1).
  const size_t space = given.find(' ');
  const bool bearer = space != std::string::npos && lowercase(given.substr(0, space)) == "bearer";
  const std::string key =
      bearer ? given.substr(std::min(given.find_first_not_of(' ', space), given.size())) : "";
  const std::string& expected = *api_key;
  // Compared in constant time: the time of a refusal says nothing about the key.
  unsigned char differ = !bearer || key.size() != expected.size();
  for (size_t i = 0; i < expected.size(); ++i) {
    differ |= (i < key.size() ? key[i] : 0) ^ expected[i];
  }
  if (differ == 0) return std::nullopt;
  return ApiError(401, "invalid_api_key",
                  given.empty() ? "no API key: send the header 'Authorization: Bearer KEY'"
                                : "the API key in the Authorization header is not valid");
}

// A 401 names the scheme it wants (RFC 9110 §11.6.1).
void challenge_if_unauthorized(httplib::Response& res, const ApiError& e) {
  if (e.status() == 401) res.set_header("WWW-Authenticate", "Bearer");
}

void reply_refusal(httplib::Response& res, const ApiError& e) {
  reply(res, e);
  challenge_if_unauthorized(res, e);
}

// The answer to a request whose body will not be read, after which the connection closes:
// httplib (0.11.4) would read the unread body as the next request, and it closes a connection
// only when the request asks to, or when an answer fails to go out. So the body is written by a
// provider that then reports a failure. Only for bodies that must not be read at all (their size
// unbounded): closing with unread bytes queued may reset the connection before the answer
// arrives.
void answer_and_close(httplib::Response& res, const ApiError& e) {
  res.status = e.status();
  challenge_if_unauthorized(res, e);
  res.set_header("Connection", "close");
  auto body = std::make_shared<const std::string>(e.json());
  res.set_content_provider(body->size(), "application/json",
                           [body](size_t offset, size_t length, httplib::DataSink& sink) {
                             // httplib passes a Range header's numbers unchecked.
                             if (offset < body->size()) {
                               sink.write(body->data() + offset,
                                          std::min(length, body->size() - offset));
                             }
                             return false;
                           });
}

void serve_routes(HttpServer& server, VideoJobQueue& queue, const ServedModel& model,
                  const VideoGenerator& generator, const ServeFlags& f, int64_t started_at) {
  server.set_payload_max_length(f.max_body_bytes);
  // A body of unbounded size is refused before it is read, and the connection closes. A wrong key
  // is refused before the body is read when there is none, or when the client waits for the
  // go-ahead (Expect: 100-continue); otherwise after the route has read the body (its size
  // bounded by --max-body-bytes), so that the connection can stay open and the answer arrives.
  server.set_pre_routing_handler([&f](const httplib::Request& req, httplib::Response& res) {
    if (auto refusal = refuse_body_framing(req)) {
      answer_whole(req);
      answer_and_close(res, *refusal);
      return httplib::Server::HandlerResponse::Handled;
    }
    // refuse_body_framing let only a number of digits through.
    const bool body =
        req.has_header("Content-Length") && std::stoull(req.get_header_value("Content-Length")) > 0;
    if (auto refusal = refuse_key(req, f.api_key); refusal && !body) {
      answer_whole(req);
      reply_refusal(res, *refusal);
      return httplib::Server::HandlerResponse::Handled;
    }
    return httplib::Server::HandlerResponse::Unhandled;
  });
  server.set_expect_100_continue_handler([&f](const httplib::Request& req, httplib::Response& res) {
    auto refusal = refuse_body_framing(req);
    if (!refusal) refusal = refuse_key(req, f.api_key);
    if (!refusal) return 100;
    answer_and_close(res, *refusal);  // nothing of the body was sent
    return refusal->status();
  });
  server.set_error_handler([](const httplib::Request& req, httplib::Response& res) {
    answer_whole(req);
    if (!res.body.empty() || res.content_length_ > 0) return;  // answered already
    // httplib answers a known path asked with another method as an unknown route.
    if (res.status == 404 || res.status == 400) {
      if (const char* allowed = allowed_methods(req.path);
          allowed && !contains_method(allowed, req.method)) {
        res.set_header("Allow", allowed);
        reply(res, ApiError(405, "method_not_allowed",
                            str_cat(req.method.substr(0, 20), " ", req.path.substr(0, 80),
                                    " is not served; this route takes ", allowed)));
        return;
      }
    }
    const int status = res.status;
    reply(res, ApiError(status,
                        status == 404   ? "not_found"
                        : status == 413 ? "request_too_large"
                                        : "invalid_request",
                        default_message(status)));
  });
  server.set_exception_handler(
      [](const httplib::Request& req, httplib::Response& res, std::exception_ptr ep) {
        answer_whole(req);
        std::string what = "unknown error";
        try {
          std::rethrow_exception(ep);
        } catch (const std::exception& e) {
          what = e.what();
        } catch (...) {
        }
        reply(res, ApiError(500, "internal_error", "internal error: " + what));
      });
  // Every route answers an ApiError as OpenAI's error object.
  auto route = [&f](auto handler) {
    return [handler, &f](const httplib::Request& req, httplib::Response& res) {
      if (auto refusal = refuse_key(req, f.api_key)) {
        answer_whole(req);
        return reply_refusal(res, *refusal);
      }
      try {
        handler(req, res);
      } catch (const ApiError& e) {
        answer_whole(req);
        reply(res, e);
      }
    };
  };

  server.Get("/health", route([&](const httplib::Request& req, httplib::Response& res) {
               check_query(req, {});
               reply(res, {{"status", "ok"}});
             }));
  const ordered_json model_object = {{"id", model.id},
                                     {"object", "model"},
                                     {"created", started_at},
                                     {"owned_by", "fastvideo-cpp"}};
  server.Get("/v1/models",
             route([&, model_object](const httplib::Request& req, httplib::Response& res) {
               check_query(req, {});
               reply(res, {{"object", "list"}, {"data", {model_object}}});
             }));
  // OpenAI's retrieve-model route: the one model this server holds, or 404 naming the ones it has.
  server.Get(R"(/v1/models/([^/]+))",
             route([&, model_object](const httplib::Request& req, httplib::Response& res) {
               check_query(req, {});
               const std::string asked = req.matches[1];
               if (asked != model.id) {
                 throw ApiError(404, "model_not_found",
                                str_cat("no model '", asked.substr(0, 80), "': this server holds '",
                                        model.id, "' only (GET /v1/models)"),
                                "model");
               }
               reply(res, model_object);
             }));
  server.Post("/v1/videos", route([&](const httplib::Request& req, httplib::Response& res) {
                check_media_type(req);
                check_query(req, {});
                const auto [fields, text_form] = body_fields(req);
                VideoRequest request = parse_video_request(fields, text_form, model, generator);
                auto [job, refusal] =
                    queue.submit(std::move(request.generation), request.seconds, request.size);
                if (refusal == VideoJobQueue::Refusal::full) {
                  res.set_header("Retry-After", std::to_string(queue.retry_after_seconds()));
                  throw ApiError(429, "queue_full",
                                 str_cat("the job queue is full (", f.queue_size,
                                         " waiting, --queue-size); retry later"));
                }
                if (refusal == VideoJobQueue::Refusal::shutting_down) {
                  throw ApiError(503, "shutting_down", "the server is shutting down");
                }
                reply(res, video_object(*job, model.id));
              }));
  server.Get("/v1/videos", route([&](const httplib::Request& req, httplib::Response& res) {
               reply(res, list_page(queue.jobs(), req, model.id));
             }));
  server.Get(R"(/v1/videos/([^/]+))",
             route([&](const httplib::Request& req, httplib::Response& res) {
               check_query(req, {});
               const std::string id = video_id(req);
               const std::optional<VideoJob> job = queue.find(id);
               if (!job) throw unknown_video(id);
               reply(res, video_object(*job, model.id));
             }));
  server.Get(
      R"(/v1/videos/([^/]+)/content)",
      route([&](const httplib::Request& req, httplib::Response& res) {
        // httplib (0.11.4) cuts whatever a route answers to the request's Range, error
        // answers included, and trusts the numbers: a last byte past the end went into
        // Content-Range as asked, and a range past the end became a 416 naming that range,
        // where RFC 7233 §4.4 wants "bytes */SIZE". So this route takes the ranges over,
        // and hands httplib only those it checked against the video. (The Request is
        // httplib's own, not const; routes are given it const.)
        httplib::Ranges& ranges = const_cast<httplib::Request&>(req).ranges;
        const httplib::Ranges asked = std::exchange(ranges, {});
        check_query(req, {"variant"});
        const std::string id = video_id(req);
        if (req.has_param("variant") && req.get_param_value("variant") != "video") {
          throw invalid_field("variant",
                              str_cat("variant '", req.get_param_value("variant").substr(0, 80),
                                      "' is not made here; only 'video' (the MP4) is"));
        }
        const std::optional<VideoJob> job = queue.find(id);
        if (!job) throw unknown_video(id);
        const fs::path path = queue.video_path(id);
        // An open file stays readable if the video expires or is deleted meanwhile.
        std::ifstream file(path, std::ios::binary);
        if (job->status == JobStatus::completed && !path.empty() && !file) {
          throw ApiError(410, "video_gone",
                         str_cat("video '", id, "' was completed, but its file ", path.string(),
                                 " is gone from the server's folder (removed outside the "
                                 "server); generate it again"),
                         "video_id");
        }
        if (path.empty() || !file) {
          throw ApiError(
              409, "video_not_ready",
              str_cat("video '", id, "' is ", status_name(job->status),
                      job->status == JobStatus::queued || job->status == JobStatus::in_progress
                          ? "; its content exists once it is completed"
                          : "; it has no content"),
              "video_id");
        }
        std::string bytes((std::istreambuf_iterator<char>(file)), {});
        ranges = satisfiable_ranges(asked, bytes.size());
        if (!asked.empty() && ranges.empty()) {
          res.set_header("Content-Range", str_cat("bytes */", bytes.size()));
          throw ApiError(416, "range_not_satisfiable",
                         str_cat("Range '", req.get_header_value("Range").substr(0, 80),
                                 "' asks for no byte of video '", id, "', which has ", bytes.size(),
                                 " bytes"));
        }
        res.set_content(std::move(bytes), "video/mp4");
      }));
  server.Delete(R"(/v1/videos/([^/]+))",
                route([&](const httplib::Request& req, httplib::Response& res) {
                  check_query(req, {});
                  const std::string id = video_id(req);
                  if (!queue.remove(id)) throw unknown_video(id);
                  reply(res, {{"id", id}, {"object", "video.deleted"}, {"deleted", true}});
                }));
}

void report_progress(int step, int total, double, void* queue) {
  static_cast<VideoJobQueue*>(queue)->report_progress(total > 0 ? 100 * step / total : 0);
}

int run_serve(const ServeFlags& f) {
  // CLI11 ignores an empty variable; an empty key would serve without one, unnoticed.
  const char* env_key = std::getenv("FASTVIDEO_API_KEY");
  FV_CHECK(!f.api_key || !f.api_key->empty(),
           "--api-key is empty; pass a key, or leave the flag out to serve without one");
  FV_CHECK(f.api_key || env_key == nullptr || *env_key != '\0',
           "FASTVIDEO_API_KEY is set but empty; set a key, or unset it to serve without one");
  const RunConfig config = run_config_from(f);

  OutputDir output;
  // --output-dir's missing folders: gone again if the server fails to start, and at exit once its
  // videos are removed (QA: the folders it made stayed, empty, after a clean exit).
  MadeFolders made;
  if (f.output_dir) {
    // Absolute, without a trailing '/': failed jobs' errors hide it (VideoJobQueue::finish).
    output.path = fs::absolute(*f.output_dir).lexically_normal();
    if (!output.path.has_filename()) output.path = output.path.parent_path();
    made = MadeFolders(output.path, "--output-dir");
    const std::string why = why_no_new_files(output.path);
    FV_CHECK(why.empty(), output.path.string(), ": --output-dir takes no new files (", why, ")");
  } else {
    for (const fs::path& left :
         remove_abandoned_serve_folders(fs::temp_directory_path(), std::chrono::minutes(1))) {
      log::info("fastvideo serve: removed ", left.string(), ", left by a server that was killed");
    }
    std::string pattern = (fs::temp_directory_path() / "fastvideo-serve-XXXXXX").string();
    FV_CHECK(::mkdtemp(pattern.data()) != nullptr, "cannot create a temporary folder in ",
             fs::temp_directory_path().string());
    output.path = pattern;
    output.temporary = true;
  }
  // Before the model loads: a folder another server uses is refused at once.
  const OutputFolderLock folder(output.path);

  // Each connection holds a descriptor, also while it waits for a thread: at the usual soft limit
  // of 1024, a few hundred slow clients left the running job unable to open its video file.
  if (rlimit files{}; ::getrlimit(RLIMIT_NOFILE, &files) == 0 && files.rlim_cur < files.rlim_max) {
    files.rlim_cur = files.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &files);
  }

  HttpServer server;
  ServeSignals signals([&server] { server.stop(); },
                       [&folder, &output] {
                         // A second signal: no waiting for the running job or the connections.
                         // The folder is locked, so every video file in it is this server's.
                         VideoJobQueue::remove_files(folder);
                         std::error_code ignored;
                         fs::remove_all(folder.work_dir(), ignored);
                         if (output.temporary) fs::remove_all(output.path, ignored);
                       });

  // Bound before the model loads, so that a busy port is reported at once, not after a load
  // of minutes; connections made while it loads wait in the backlog.
  server.set_socket_options(reuse_address_only);
  // Short, so that an idle or slow connection lets go of its thread within seconds.
  server.set_keep_alive_timeout(2);
  server.set_read_timeout(3);
  server.set_write_timeout(3);
  errno = 0;
  const int port = f.port == 0 ? server.bind_to_any_port(f.host)
                               : (server.bind_to_port(f.host, f.port) ? f.port : -1);
  FV_CHECK(port > 0, "cannot listen on ", f.host, ":", f.port, " (", why_not_listening(errno), ")");
  server.deepen_listen_backlog();

  GeneratorOptions options = config.options;
  options.stop_requested = [&signals] { return signals.received(); };
  std::optional<VideoGenerator> loaded;
  try {
    loaded.emplace(VideoGenerator::from_pretrained(*config.model_path, options));
  } catch (const Cancelled&) {
    if (!signals.received()) throw;
    signals.finished();
    log::info("fastvideo serve: stopped while loading the model; nothing served");
    return 0;
  }
  VideoGenerator& generator = *loaded;
  GenerationRequest probe;
  probe.prompt = "probe";
  const auto parameters = generator.resolve(probe);
  const ServedModel model{parameter(parameters, "model"),
                          parameter(parameters, "attention_backend_self"),
                          config.request.flow_shift, f.caps};
  // A job that leaves seconds, size or steps out gets the model's default: a cap below it would
  // refuse every such job.
  if (const auto over = exceeded_cap(parameters, f.caps)) {
    fail("fastvideo serve: a job without ", over->field, " gets the model's default, and ",
         over->message, ": every such job would be refused; raise the cap");
  }
  VideoJobQueue queue(
      f.queue_size, f.retention, folder,
      [&generator](const VideoJob& job, const fs::path& path) {
        GenerationRequest request = job.request;
        request.output_path = path;
        generator.generate(request);
      },
      [&generator] { generator.request_stop(); });
  generator.set_progress(report_progress, &queue);

  const int64_t started_at = std::chrono::duration_cast<std::chrono::seconds>(
                                 std::chrono::system_clock::now().time_since_epoch())
                                 .count();
  serve_routes(server, queue, model, generator, f, started_at);
  server.new_task_queue = [port] { return new ConnectionThreads(port); };
  if (!signals.received()) {
    // An IPv6 address goes in brackets in a URL (RFC 3986 §3.2.2).
    const std::string host = f.host.find(':') == std::string::npos ? f.host : "[" + f.host + "]";
    std::printf("fastvideo serve: listening on http://%s:%d (model %s, %s, videos in %s)\n",
                host.c_str(), port, model.id.c_str(), model.attention_backend.c_str(),
                output.path.c_str());
    std::fflush(stdout);
    server.listen_after_bind();
  }
  signals.finished();
  queue.shutdown();
  log::info("fastvideo serve: stopped; no files left in ", output.path.string());
  return 0;
}

}  // namespace

// A check of an integer flag's text, before CLI11 converts it: CLI11 wraps "-1" into a huge
// size_t and saturates 99999999999999999999 to the type's largest value.
CLI::Validator integer_in(int64_t min, int64_t max) {
  return CLI::Validator(
      [min, max](std::string& text) -> std::string {
        int64_t value = 0;
        const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
        if (ec == std::errc() && end == text.data() + text.size() && value >= min && value <= max) {
          return "";
        }
        return str_cat("'", text.substr(0, 40), "' is not an integer in [", min, ", ", max, "]");
      },
      str_cat("INT in [", min, ", ", max, "]"));
}

Action add_serve_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("serve", "Serve OpenAI's video API (/v1/videos) over HTTP");
  auto f = std::make_shared<ServeFlags>();
  cmd->add_option("--model", f->model, "diffusers checkpoint folder (or generator.model_path)");
  cmd->add_option("--config", f->config_path,
                  "run.yaml: its generator section (FastVideo's schema); no request section")
      ->check(non_empty("name a run file, or leave the flag out"));
  cmd->add_option("--host", f->host, "address to listen on (default 127.0.0.1)")
      ->check(non_empty("name an address such as 127.0.0.1 or 0.0.0.0"));
  cmd->add_option("--port", f->port, "port (default 8000; 0: any free port, printed)")
      ->check(integer_in(0, 65535));
  cmd->add_option("--api-key", f->api_key,
                  "require 'Authorization: Bearer KEY' on every route but /health (or "
                  "FASTVIDEO_API_KEY, which keeps the key out of the process list)")
      ->envname("FASTVIDEO_API_KEY");
  cmd->add_option("--queue-size", f->queue_size, "jobs that may wait besides the running one (8)")
      ->check(integer_in(1, 100000));
  cmd->add_option("--retention", f->retention,
                  "seconds a finished job and its video are kept (default 3600; at most 10 years)")
      ->check(integer_in(1, 315360000));
  cmd->add_option("--output-dir", f->output_dir,
                  "folder for the videos (default: a temporary folder removed at exit); files "
                  "named video_<32 hex>.mp4 in it are the server's: removed at exit, and at "
                  "start as a killed server's leftovers")
      ->check(non_empty("name a folder, or leave the flag out for a temporary one"));
  cmd->add_option("--max-body-bytes", f->max_body_bytes,
                  "largest request body accepted, in bytes (default 1 MiB, 1024 .. 1 GiB); larger "
                  "gets 413")
      ->check(integer_in(1024, int64_t(1) << 30));
  cmd->add_option("--max-frames", f->caps.max_frames,
                  "most frames a job may ask for (via seconds; default: no cap below the model's)")
      ->check(integer_in(1, 1000000));
  cmd->add_option("--max-pixels", f->caps.max_pixels,
                  "most pixels a frame (width x height) a job may ask for (default: no cap)")
      ->check(integer_in(1, int64_t(1) << 40));
  cmd->add_option("--max-steps", f->caps.max_steps,
                  "most denoising steps a job may ask for (default: no cap below 1000)")
      ->check(integer_in(1, 1000));
  cmd->add_option("--attention-backend", f->attention_backend,
                  "self-attention backend for every job (default: FASTVIDEO_ATTENTION_BACKEND, "
                  "else automatic)")
      ->check(non_empty("name a backend (`fastvideo backends`), or leave the flag out"));
  cmd->add_option("--device", f->device, "auto (default), cpu, cuda or cuda:N");
  cmd->add_option("--num-gpus", f->num_gpus,
                  "GPUs for each job from --device's index on (FastVideo's num_gpus; default 1)");
  cmd->add_option("--sp-size", f->sp_size, "sequence-parallel ranks: -1 (default) for num_gpus");
  cmd->add_option("--use-fsdp-inference", f->use_fsdp_inference,
                  "true or false (default): each GPU keeps 1/sp_size of every transformer block");
  cmd->add_option("--dist-timeout", f->dist_timeout,
                  "seconds a collective between GPUs may take before the job ends as hung "
                  "(default 300)");
  add_enable_torch_compile_flag(*cmd, f->enable_torch_compile);
  add_transformer_quant_option(*cmd, f->transformer_quant);
  return [f] { return run_serve(*f); };
}

}  // namespace fastvideo::cli
