"""The seed-page snippet tests against the pip-installed fastvideo_cpp (scripts/setup.sh installs
it into .venv), not the build tree's: exit status 77 (ctest: skipped) when it is not installed."""

import os
import pathlib
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]

try:
    import fastvideo_cpp
except ImportError as e:
    print(f"fastvideo_cpp is not installed for {sys.executable} ({e}); run scripts/setup.sh")
    sys.exit(77)
where = pathlib.Path(fastvideo_cpp.__file__).resolve()
if ROOT / "build" in where.parents or ROOT / "python" in where.parents:
    sys.exit(f"imported {where}, not the installed package; unset PYTHONPATH")
print(f"testing the installed {where.parent}")
here = pathlib.Path(__file__).parent
sys.exit(pytest.main(["-q", "-p", "no:cacheprovider", f"--rootdir={here}",
                      str(here / "test_seed_snippets.py")] + sys.argv[1:]))
