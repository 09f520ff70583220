"""The RTL sources themselves: generated file in sync, Verilator -Wall clean, Icarus accepts them."""
import subprocess
import sys
from pathlib import Path

import pytest

from lut_build.rtl_files import hdl_dir, rtl_paths
from sim.runner import TB_RTL, check_simulator

REPO = Path(__file__).resolve().parents[2]


def test_generated_cores_in_sync():
    out = subprocess.run([sys.executable, str(hdl_dir() / "gen_cores.py")], capture_output=True, text=True, check=True)
    assert out.stdout == (hdl_dir() / "mult_cores.v").read_text(), \
        "hdl/mult_cores.v differs from hdl/gen_cores.py's output: run `make hdl`"


@pytest.mark.parametrize("top,params", [
    ("approx_mult", {"WIDTH": w, "BIAS_COMP": c, "LANES": l}) for w in (8, 9, 10, 11, 12) for c in (0, 1) for l in (1, 64)
] + [
    ("sweep_top", {"LEVEL_LANES": ll, "BPV": b}) for ll in (0, 1) for b in (1, 4)
] + [("sweep_seq", {"BPV": 4, "NLEV": 256})])
def test_verilator_lint_clean(top, params):
    exe = check_simulator("verilator")
    srcs = [str(p) for p in rtl_paths()] + [str(TB_RTL / "sweep_top.v"), str(TB_RTL / "sweep_seq.v")]
    cmd = [exe, "--lint-only", "-Wall", "--timing", "--top-module", top] + [f"-G{k}={v}" for k, v in params.items()] + srcs
    r = subprocess.run(cmd, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr


def test_icarus_compiles(tmp_path):
    check_simulator("icarus")
    for top in ("approx_mult", "sweep_top", "sweep_seq"):
        r = subprocess.run(["iverilog", "-g2005", "-o", str(tmp_path / "x.vvp"), "-s", top]
                           + [str(p) for p in rtl_paths()] + [str(TB_RTL / "sweep_top.v"), str(TB_RTL / "sweep_seq.v")],
                           capture_output=True, text=True)
        assert r.returncode == 0, r.stderr
