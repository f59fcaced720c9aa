#include "core/cuda/cuda_graph.h"

#include <exception>
#include <vector>

#include "core/cuda/cuda_check.h"
#include "core/cuda/cuda_context.h"

namespace fastvideo {

CudaGraph::CudaGraph(int device, std::string what, const std::function<void()>& work)
    : device_(device), what_(std::move(what)), pool_(DevicePool::create(device)) {
  const cudaStream_t stream = use_cuda_device(device).stream();
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
  cudaGraph_t graph = nullptr;
  const cudaError_t ended = cudaStreamEndCapture(stream, &graph);
  (void)cudaGetLastError();  // a call refused during capture leaves its error behind
  if (failure) {
    if (graph) cudaGraphDestroy(graph);
    try {
      std::rethrow_exception(failure);
    } catch (const Cancelled&) {
      throw;
    } catch (const Error& e) {
      throw e.with_context("compile mode: while capturing " + what_ + " into a CUDA graph");
    }
  }
  if (ended != cudaSuccess || !graph) {
    fail("compile mode: capturing ", what_, " into a CUDA graph failed (", cudaGetErrorString(ended),
         "): some call in it synchronises with the host or leaves the compute stream; run without "
         "compile mode (enable_torch_compile off)");
  }
  FV_CUDA_CHECK(cudaGraphGetNodes(graph, nullptr, &nodes_));
  std::vector<cudaGraphNode_t> nodes(nodes_);
  FV_CUDA_CHECK(cudaGraphGetNodes(graph, nodes.data(), &nodes_));
  for (cudaGraphNode_t node : nodes) {
    cudaGraphNodeType type{};
    FV_CUDA_CHECK(cudaGraphNodeGetType(node, &type));
    kernel_nodes_ += type == cudaGraphNodeTypeKernel;
  }
  const cudaError_t instantiated = cudaGraphInstantiate(&exec_, graph, 0);
  cudaGraphDestroy(graph);
  FV_CUDA_CHECK(instantiated);
}

CudaGraph::~CudaGraph() {
  if (exec_) cudaGraphExecDestroy(exec_);
}

void CudaGraph::replay() const {
  CudaContext& ctx = use_cuda_device(device_);
  FV_CUDA_CHECK(cudaGraphLaunch(exec_, ctx.stream()));
}

}  // namespace fastvideo
