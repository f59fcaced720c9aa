// A CUDA injection library that records the start and end on the GPU of every kernel, memset and
// memcpy (CUPTI's activity API) and writes them as CSV at exit: the GPU rows of an Nsight Systems
// timeline, where the device machines have no nsys. ncu times each kernel alone, with the GPU idle
// around it and its clock fixed or rested; this records them in sequence, at the clock the card
// holds under load. Build and use: tools/bench/kernel_timeline.sh.
#include <cupti.h>
#include <cxxabi.h>

#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <string>
#include <vector>

namespace {

struct Span {
  unsigned long long start, end;  // ns, the GPU's timestamps
  std::string name;
};
// Leaked: buffers may complete during exit, after static destructors.
auto* spans = new std::vector<Span>();
size_t dropped_records = 0;
std::mutex spans_mutex;

// An incomplete record (end 0) is left out rather than written with a wrapped duration.
void add_span(unsigned long long start, unsigned long long end, std::string name) {
  if (end >= start && start > 0) spans->push_back({start, end, std::move(name)});
}

void CUPTIAPI buffer_requested(uint8_t** buffer, size_t* size, size_t* max_records) {
  *size = size_t(8) << 20;
  *buffer = static_cast<uint8_t*>(aligned_alloc(8, *size));
  *max_records = 0;
}

void CUPTIAPI buffer_completed(CUcontext context, uint32_t stream, uint8_t* buffer, size_t,
                               size_t valid) {
  std::lock_guard lock(spans_mutex);
  CUpti_Activity* record = nullptr;
  while (cuptiActivityGetNextRecord(buffer, valid, &record) == CUPTI_SUCCESS) {
    if (record->kind == CUPTI_ACTIVITY_KIND_CONCURRENT_KERNEL) {
      const auto* kernel = reinterpret_cast<const CUpti_ActivityKernel10*>(record);
      const char* name = kernel->name ? kernel->name : "(unnamed kernel)";
      int status = 0;
      char* demangled = abi::__cxa_demangle(name, nullptr, nullptr, &status);
      add_span(kernel->start, kernel->end, status == 0 ? demangled : name);
      free(demangled);
    } else if (record->kind == CUPTI_ACTIVITY_KIND_MEMSET) {
      const auto* memset = reinterpret_cast<const CUpti_ActivityMemset4*>(record);
      add_span(memset->start, memset->end, "[CUDA memset]");
    } else if (record->kind == CUPTI_ACTIVITY_KIND_MEMCPY) {
      const auto* memcpy = reinterpret_cast<const CUpti_ActivityMemcpy6*>(record);
      add_span(memcpy->start, memcpy->end, "[CUDA memcpy]");
    }
  }
  size_t dropped = 0;
  if (cuptiActivityGetNumDroppedRecords(context, stream, &dropped) == CUPTI_SUCCESS)
    dropped_records += dropped;
  free(buffer);
}

// $FV_TIMELINE (default kernel_timeline.csv): Start (ns), Duration (ns), Name; commas and quotes
// in names become spaces.
void write_timeline() {
  cuptiActivityFlushAll(1);
  const char* path = getenv("FV_TIMELINE");
  FILE* f = fopen(path ? path : "kernel_timeline.csv", "w");
  if (!f) {
    fprintf(stderr, "kernel_timeline: cannot write %s\n", path ? path : "kernel_timeline.csv");
    return;
  }
  fprintf(f, "\"Start (ns)\",\"Duration (ns)\",\"Name\"\n");
  std::lock_guard lock(spans_mutex);
  for (const Span& s : *spans) {
    std::string name = s.name;
    for (char& c : name)
      if (c == '"' || c == ',') c = ' ';
    fprintf(f, "%llu,%llu,\"%s\"\n", s.start, s.end - s.start, name.c_str());
  }
  fclose(f);
  if (dropped_records > 0)
    fprintf(stderr, "kernel_timeline: CUPTI dropped %zu records; the timeline has gaps\n",
            dropped_records);
}

}  // namespace

// Called by the CUDA driver when CUDA_INJECTION64_PATH names this library.
extern "C" int InitializeInjection() {
  if (cuptiActivityRegisterCallbacks(buffer_requested, buffer_completed) != CUPTI_SUCCESS ||
      cuptiActivityEnable(CUPTI_ACTIVITY_KIND_CONCURRENT_KERNEL) != CUPTI_SUCCESS ||
      cuptiActivityEnable(CUPTI_ACTIVITY_KIND_MEMSET) != CUPTI_SUCCESS ||
      cuptiActivityEnable(CUPTI_ACTIVITY_KIND_MEMCPY) != CUPTI_SUCCESS) {
    fprintf(stderr,
            "kernel_timeline: CUPTI refused the kernel, memset or memcpy activity; no "
            "timeline\n");
    return 0;
  }
  atexit(write_timeline);
  return 1;
}
