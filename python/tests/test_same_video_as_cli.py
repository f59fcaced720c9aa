"""The same request and seed through the Python API and through `fastvideo generate` make
byte-identical video files."""

import os
import pathlib
import subprocess

import pytest

from fastvideo_cpp import VideoGenerator

ROOT = pathlib.Path(__file__).resolve().parents[2]


def cli_path() -> str:
    # ctest passes the CLI it built (tests/CMakeLists.txt); by hand, build/fastvideo.
    path = os.environ.get("FASTVIDEO_CLI") or str(ROOT / "build" / "fastvideo")
    if not os.access(path, os.X_OK):
        pytest.skip(f"no fastvideo CLI at {path} (set FASTVIDEO_CLI)")
    return path


@pytest.mark.parametrize("suffix", [".mp4", ".y4m"])
def test_python_and_cli_write_the_same_bytes(tiny_model, tmp_path, suffix):
    prompt = "A red fox runs through fresh snow at dawn."
    from_cli = tmp_path / "cli" / f"fox{suffix}"
    from_python = tmp_path / "python" / f"fox{suffix}"
    from_cli.parent.mkdir()
    from_python.parent.mkdir()
    subprocess.run([cli_path(), "generate", "--model", tiny_model, "--prompt", prompt,
                    "--seed", "42", "--num-inference-steps", "3", "--output", str(from_cli)],
                   check=True, capture_output=True)
    gen = VideoGenerator.from_pretrained(tiny_model)
    video = gen.generate_video(prompt, seed=42, num_inference_steps=3,
                               output_path=str(from_python))
    assert video["video_path"] == str(from_python)
    assert from_cli.read_bytes() == from_python.read_bytes()
