"""Each Python snippet of FastVideo's optimization page, run as written (only the import changed)
on the tiny model on the CPU: those this machine and engine can run must run; the others must stop
with an error that names the setting and why, before any work."""

import os
import re

import pytest

import snippets
from fastvideo_cpp import FastVideoError


def run(snippet: str) -> None:
    exec(compile(snippet, "<seed snippet>", "exec"), {"__name__": "__snippet__"})


def test_benchmark_loop_over_backends_runs_what_this_machine_runs(in_snippet_folder, capsys):
    try:
        run(snippets.BENCHMARK_BACKENDS)
    except FastVideoError as e:
        # No GPU here: FLASH_ATTN (our kernel, CUDA only) is refused naming the backend.
        assert "FLASH_ATTN" in str(e), str(e)
        printed = capsys.readouterr().out
        assert re.search(r"^TORCH_SDPA: \d+\.\d\ds$", printed, re.M), printed
        return
    finally:
        os.environ.pop("FASTVIDEO_ATTENTION_BACKEND", None)
    printed = capsys.readouterr().out
    for backend in ("TORCH_SDPA", "FLASH_ATTN", "SAGE_ATTN"):
        assert re.search(rf"^{backend}: \d+\.\d\ds$", printed, re.M), printed
    # generate_video's defaults save the video into outputs/, named from the prompt.
    assert (in_snippet_folder / "outputs" / "Your prompt.mp4").is_file()


def test_fp4_flash_attention_is_refused_naming_its_hardware(in_snippet_folder):
    with pytest.raises(FastVideoError, match=r"nvfp4_fa4=True.*Blackwell") as e:
        run(snippets.FP4_FLASH_ATTENTION)
    assert not (in_snippet_folder / "outputs").exists(), e.value


@pytest.mark.parametrize("snippet", ["TORCH_COMPILE", "TORCH_COMPILE_KWARGS",
                                     "BENCHMARK_TORCH_COMPILE"])
def test_torch_compile_runs_on_a_gpu_and_is_refused_by_name_on_the_cpu(in_snippet_folder, capsys,
                                                                         snippet):
    try:
        run(getattr(snippets, snippet))
    except FastVideoError as e:
        # No GPU here: compile mode (CUDA graphs) is refused naming the setting and the device.
        assert re.search(r"enable_torch_compile.*CUDA graphs.*device is cpu", str(e)), str(e)
        return
    if snippet == "BENCHMARK_TORCH_COMPILE":
        assert re.search(r"^compiled steady-state: \d+\.\d\ds$", capsys.readouterr().out, re.M)


def test_compile_benchmark_request_runs_without_compile(in_snippet_folder, tiny_model):
    # The request of the torch.compile benchmark snippet, through generate() as it is written.
    from fastvideo_cpp import VideoGenerator
    gen = VideoGenerator.from_pretrained("your-model-id")
    req = {"prompt": "Your prompt", "sampling": {"seed": 1024}, "output": {"save_video": False}}
    first = gen.generate(req)
    second = gen.generate(req)
    assert first.video_path is None and second.video_path is None
    assert (first.frames == second.frames).all()
    assert not (in_snippet_folder / "outputs").exists()
