"""RTL vs behavioural model through cocotb, on Icarus and on Verilator."""
import subprocess
import sys

import pytest

from lut_build import SCHEMES, all_tables, compare, get_scheme
from sim import runner
from sim.sweep import sweep


@pytest.mark.parametrize("scheme", sorted(SCHEMES))
def test_directed_and_random(simulator, scheme):
    """Corner cases (0, +-1, -128*-128, 127*-128, every single-bit level, 255), zero gating,
    3000 random 8-bit and 2000 random full-width vectors, each checked against the model."""
    sch = get_scheme(scheme)
    bd = runner.build(simulator, "approx_mult", {**sch.rtl_parameters, "LANES": 1})
    res = runner.run(simulator, "approx_mult", bd, "sim.tb_directed", env={"AXX_SCHEME": scheme, "AXX_SEED": "7"})
    assert res == {"corners": True, "zero_gating": True, "random_8bit": True, "random_full_width": True}


@pytest.mark.parametrize("scheme,level", [("marlin", 0x5A), ("bw8", 0xFF), ("marlin_nocomp", 0x81)])
def test_exhaustive_single_level(simulator, scheme, level):
    """All 65,536 operand pairs at one level, entry by entry."""
    r = sweep(scheme, simulator, levels=[level])
    rep = compare(r.tables, all_tables(get_scheme(scheme).model, levels=[level]), levels=[level])
    assert rep.ok, rep.text()
    assert r.tables.shape == (1, 256, 256)


@pytest.mark.parametrize("scheme", sorted(SCHEMES))
def test_full_sweep_verilator(scheme):
    """The sweep `make luts` runs: all 256 levels x 65,536 pairs (16.7 M products)."""
    r = sweep(scheme, "verilator")
    rep = compare(r.tables, all_tables(get_scheme(scheme).model))
    assert rep.ok, rep.text()
    assert rep.total == 16_777_216


def test_partial_multilevel_sweep_icarus():
    """The Icarus driver with many levels (Gray order, undone on decode) on a slice of weights."""
    levels = [0, 1, 2, 3, 127, 128, 200, 255]
    r = sweep("marlin", "icarus", levels=levels, a_range=(120, 136))
    model = all_tables(get_scheme("marlin").model, levels=levels)[:, 120:136]
    rep = compare(r.tables, model, levels=levels)
    assert rep.ok, rep.text()


@pytest.mark.slow
@pytest.mark.parametrize("scheme", sorted(SCHEMES))
def test_full_sweep_icarus(scheme):
    r = sweep(scheme, "icarus")
    rep = compare(r.tables, all_tables(get_scheme(scheme).model))
    assert rep.ok, rep.text()


def test_mutant_caught_by_partial_sweep_icarus():
    """A broken design (row 1, column 3 partial product dropped) disagrees with the model, and
    the report names the first differing vectors."""
    r = sweep("marlin", "icarus", levels=[0], a_range=(8, 10), defines={"AXX_MUTANT_DROP_PP": 1})
    rep = compare(r.tables, all_tables(get_scheme("marlin").model, levels=[0])[:, 8:10], levels=[0], first_weight=8)
    assert not rep.ok
    lvl, w, x, rtl, model = rep.first[0]
    assert model - rtl == 16 and w & 8 and x & 2  # lost exactly a_3 * b_1, weight 2^(1+3)


def test_mutant_refused_by_axx_luts(tmp_path):
    """`axx luts` on the broken design: exit status 1, a report, and nothing written."""
    out = tmp_path / "luts" / "marlin"
    p = subprocess.run([sys.executable, "-m", "axx.cli", "luts", "--sim", "verilator", "--quiet",
                        "--define", "AXX_MUTANT_DROP_PP", "--out", str(out)], capture_output=True, text=True)
    assert p.returncode == 1, p.stdout + p.stderr
    assert "nothing was written" in p.stderr
    assert "entries differ between RTL and model; first 10" in p.stderr
    assert len([ln for ln in p.stderr.splitlines() if ln.startswith("  ") and ln.split()[0].isdigit()]) == 10
    assert not out.exists() and not any(out.parent.glob(".*")) if out.parent.exists() else True


def test_rtl_that_does_not_compile(tmp_path, monkeypatch):
    """A syntax error in the RTL: the simulator's message is shown and nothing is written."""
    import shutil
    hdl = tmp_path / "hdl"
    shutil.copytree(runner.REPO / "hdl", hdl)
    (hdl / "pp_bit.v").write_text((hdl / "pp_bit.v").read_text().replace("assign pp = bit_in;", "assign pp = bit_in"))
    monkeypatch.setenv("AXX_HDL_DIR", str(hdl))
    with pytest.raises(runner.SimulationError, match="failed to compile"):
        runner.build("icarus", "approx_mult", {"LANES": 1}, build_root=tmp_path / "b")
