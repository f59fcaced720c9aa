"""The Python snippets of FastVideo's optimization page (shared/reference/seed-optimizations.txt),
verbatim except the import line: `from fastvideo import VideoGenerator` became
`from fastvideo_cpp import VideoGenerator` (and the two snippets that use VideoGenerator without
importing it got that line)."""

FP4_FLASH_ATTENTION = '''
from fastvideo_cpp import VideoGenerator
gen = VideoGenerator.from_pretrained(
"Wan-AI/Wan2.1-T2V-1.3B-Diffusers",
nvfp4_fa4=True,
num_gpus=1,
use_fsdp_inference=False, # FSDP is incompatible with FP4 pointer path
)
gen.generate_video(prompt="A raccoon in sunflowers", save_video=True)
'''

TORCH_COMPILE = '''
from fastvideo_cpp import VideoGenerator
generator = VideoGenerator.from_pretrained(
"Wan-AI/Wan2.1-T2V-1.3B-Diffusers",
enable_torch_compile=True,
)
'''

TORCH_COMPILE_KWARGS = '''
from fastvideo_cpp import VideoGenerator
VideoGenerator.from_pretrained(
"Wan-AI/Wan2.1-T2V-1.3B-Diffusers",
enable_torch_compile=True,
torch_compile_kwargs={"mode": "reduce-overhead"}, # may error today
)
'''

BENCHMARK_TORCH_COMPILE = '''
import time
from fastvideo_cpp import VideoGenerator
gen = VideoGenerator.from_pretrained("your-model-id", enable_torch_compile=True)
req = {"prompt": "Your prompt", "sampling": {"seed": 1024},
"output": {"save_video": False}}
gen.generate(req) # warmup: graph build, discard
t0 = time.perf_counter()
gen.generate(req) # measured: shapes reused
print(f"compiled steady-state: {time.perf_counter() - t0:.2f}s")
'''

BENCHMARK_BACKENDS = '''
from fastvideo_cpp import VideoGenerator
import os
import time
for backend in ["TORCH_SDPA", "FLASH_ATTN", "SAGE_ATTN"]:
    os.environ["FASTVIDEO_ATTENTION_BACKEND"] = backend
    generator = VideoGenerator.from_pretrained("your-model-id")
    start_time = time.perf_counter()
    generator.generate_video(
        prompt="Your prompt",
        seed=1024,
    )
    elapsed = time.perf_counter() - start_time
    print(f"{backend}: {elapsed:.2f}s")
'''
