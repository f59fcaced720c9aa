"""Shared fixtures: the tiny Wan2.1 model (docs/tiny-model.md), written once per session, and a
working folder where the seed page's model ids name it, so its snippets run unchanged."""

from __future__ import annotations

import os
import pathlib

import pytest

from fastvideo_cpp import _fastvideo_cpp

# The model ids the seed page's snippets load (seed-optimizations.txt).
SNIPPET_MODEL_IDS = ("Wan-AI/Wan2.1-T2V-1.3B-Diffusers", "your-model-id")


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory) -> str:
    path = tmp_path_factory.mktemp("model") / "tiny"
    _fastvideo_cpp.write_tiny_model(str(path), 0)
    return str(path)


@pytest.fixture
def in_snippet_folder(tmp_path, tiny_model, monkeypatch) -> pathlib.Path:
    """cwd = a fresh folder where every snippet model id is a link to the tiny model."""
    for model_id in SNIPPET_MODEL_IDS:
        link = tmp_path / model_id
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to(tiny_model, target_is_directory=True)
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("FASTVIDEO_ATTENTION_BACKEND", raising=False)
    return tmp_path


@pytest.fixture(autouse=True)
def quiet_engine(monkeypatch):
    monkeypatch.setenv("FASTVIDEO_LOG_LEVEL", os.environ.get("FASTVIDEO_TEST_LOG_LEVEL", "warning"))
