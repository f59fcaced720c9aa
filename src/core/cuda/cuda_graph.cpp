#include "core/cuda/cuda_graph.h"

#include <chrono>
#include <exception>
#include <memory>
#include <vector>

#include "core/cuda/cuda_check.h"
#include "core/cuda/cuda_context.h"
#include "fastvideo/log.h"

namespace fastvideo {

namespace {

struct GraphDeleter {
  void operator()(cudaGraph_t g) const { cudaGraphDestroy(g); }
};
using GraphPtr = std::unique_ptr<std::remove_pointer_t<cudaGraph_t>, GraphDeleter>;

}  // namespace

CudaGraph::CudaGraph(int device, const std::string& what, const std::function<void()>& work)
    : device_(device), pool_(DevicePool::create(device)) {
  const cudaStream_t stream = use_cuda_device(device).stream();
  // The capture's pool takes fresh device memory; what the shared cache holds (the eager warm-up's
  // activations) goes back to the driver first, since nothing may be freed during the capture.
  // That waits for the work queued before, which is not the capture's cost: timed from here.
  DeviceAllocator::get(device).release_cached();
  const auto t0 = std::chrono::steady_clock::now();
  // Relaxed mode: the pool's cudaMalloc calls (not stream work) are allowed during the capture;
  // the other modes refuse them.
  FV_CUDA_CHECK(cudaStreamBeginCapture(stream, cudaStreamCaptureModeRelaxed));
  std::exception_ptr failure;
  try {
    RouteToPool route(pool_);
    work();
  } catch (...) {
    failure = std::current_exception();
  }
  cudaGraph_t raw = nullptr;
  const cudaError_t ended = cudaStreamEndCapture(stream, &raw);
  const GraphPtr graph(raw);
  (void)cudaGetLastError();  // a call refused during capture leaves its error behind
  if (failure) {
    try {
      std::rethrow_exception(failure);
    } catch (const Cancelled&) {
      throw;
    } catch (const Error& e) {
      e.rethrow_with_context("compile mode: while capturing " + what + " into a CUDA graph");
    }
  }
  if (ended != cudaSuccess || !graph) {
    fail("compile mode: capturing ", what, " into a CUDA graph failed (", cudaGetErrorString(ended),
         "): some call in it synchronises with the host or leaves the compute stream; run without "
         "compile mode (enable_torch_compile off)");
  }
  size_t count = 0;
  FV_CUDA_CHECK(cudaGraphGetNodes(graph.get(), nullptr, &count));
  std::vector<cudaGraphNode_t> nodes(count);
  FV_CUDA_CHECK(cudaGraphGetNodes(graph.get(), nodes.data(), &count));
  for (cudaGraphNode_t node : nodes) {
    cudaGraphNodeType type{};
    FV_CUDA_CHECK(cudaGraphNodeGetType(node, &type));
    kernel_nodes_ += type == cudaGraphNodeTypeKernel;
  }
  FV_CUDA_CHECK(cudaGraphInstantiate(&exec_, graph.get(), 0));
  capture_seconds_ = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  log::info("compile mode: captured ", what, " (", kernel_nodes_, " kernels) in ", capture_seconds_,
            " s; ", pool_->reserved() >> 20, " MiB of graph memory");
}

CudaGraph::~CudaGraph() {
  if (exec_) cudaGraphExecDestroy(exec_);
}

void CudaGraph::replay() const {
  CudaContext& ctx = use_cuda_device(device_);
  FV_CUDA_CHECK(cudaGraphLaunch(exec_, ctx.stream()));
}

}  // namespace fastvideo
