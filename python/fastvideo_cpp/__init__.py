"""fastvideo_cpp: FastVideo's VideoGenerator API over the fastvideo-cpp C++/CUDA engine.

    from fastvideo_cpp import VideoGenerator
    generator = VideoGenerator.from_pretrained("Wan2.1-T2V-1.3B-Diffusers")
    video = generator.generate_video("A red fox runs through fresh snow at dawn.", seed=1024)
    video["frames"]  # (F, H, W, 3) uint8 NumPy array

No PyTorch: the engine is C++; this package maps FastVideo's keyword names and request mappings
onto it, and refuses by name the settings it does not implement.
"""

import os as _os
import sys as _sys

# cuDNN 9 opens its sub-libraries at cudnnCreate and looks their entry points up in the global
# symbol scope; Python loads extension modules RTLD_LOCAL, which hides them (the call then jumps to
# null: a segfault on the first GPU generation). Loaded RTLD_GLOBAL, as the CLI's libraries are.
_flags = _sys.getdlopenflags()
_sys.setdlopenflags(_flags | _os.RTLD_GLOBAL)
try:
    from ._fastvideo_cpp import Cancelled, FastVideoError, OutOfDeviceMemory
finally:
    _sys.setdlopenflags(_flags)
from .result import GenerationResult
from .sampling_param import SamplingParam
from .video_generator import VideoGenerator

__all__ = [
    "Cancelled",
    "FastVideoError",
    "GenerationResult",
    "OutOfDeviceMemory",
    "SamplingParam",
    "VideoGenerator",
]
