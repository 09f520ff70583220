"""The exhaustive sweep: every level x every operand pair through the RTL, split over processes."""
from __future__ import annotations

import os
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from fileio import remove_stale_temporaries, temp_prefix

from lut_build.model import check_level
from lut_build.schemes import get_scheme

from . import runner

# How each simulator is driven (measured on a 2-core machine; `make bench-sweep` prints it):
#   Verilator evaluates the bit-parallel lanes of sweep_top as machine words: 4 activations
#   x 256 levels per evaluation, ~3 s for all 16.7 M products.
#   Icarus evaluates wide vectors bit by bit, so lanes buy it nothing; sweep_seq lets the HDL
#   step one multiplier through Gray-ordered levels (3 us per product instead of 18 us).
METHODS = {"verilator": ("lanes", 4), "icarus": ("sequential", 4)}


@dataclass
class SweepResult:
    tables: np.ndarray         # int64 [n_levels, 2^opw, 2^opw]: [level, weight pattern, activation pattern]
    levels: np.ndarray
    build_s: float
    sweep_s: float
    simulator: str
    method: str


def sweep(scheme: str, sim: str = "verilator", operand_bits: int = 8, levels=None,
          jobs: int | None = None, defines: dict | None = None, method: str | None = None,
          bpv: int | None = None, a_range: tuple[int, int] | None = None,
          show_progress: bool = False) -> SweepResult:
    """Products of the RTL for all operand pairs of `operand_bits` bits (sign-extended into the
    scheme's array) at `levels` (default: all 256). a_range limits the weight patterns covered
    (for partial sweeps in tests); the result then has a_range[1]-a_range[0] weight rows."""
    sch = get_scheme(scheme)
    if not 2 <= operand_bits <= sch.width:
        raise ValueError(f"operand bits must be 2..{sch.width} for scheme {scheme}")
    default_method, default_bpv = METHODS[sim] if sim in METHODS else (None, None)
    runner.check_simulator(sim)
    method = method or default_method
    bpv = bpv or default_bpv
    lv = np.arange(256) if levels is None else check_level(np.asarray(levels)).ravel()
    n = 1 << operand_bits
    if (n // bpv) * bpv != n:
        raise ValueError(f"bpv must divide {n}")
    if method == "lanes":
        top, test = "sweep_top", "sweep_lanes"
        params = {**sch.rtl_parameters, "OPW": operand_bits, "BPV": bpv, "LEVEL_LANES": 1}
        run_levels = np.arange(256)
    elif method == "sequential":
        if sim != "icarus":
            raise ValueError("the sequential sweep needs an event-driven simulator (icarus)")
        top, test = "sweep_seq", "sweep_sequential"
        params = {**sch.rtl_parameters, "OPW": operand_bits, "BPV": bpv, "NLEV": lv.size}
        run_levels = lv
    else:
        raise ValueError(f"unknown sweep method {method!r} (lanes or sequential)")
    t0 = time.perf_counter()
    build_dir = runner.build(sim, top, params, {**sch.rtl_defines, **(defines or {})})
    t1 = time.perf_counter()
    a0, a1 = a_range or (0, n)
    jobs = max(1, min(jobs or min(2, os.cpu_count() or 1), a1 - a0))
    bounds = np.linspace(a0, a1, jobs + 1).astype(int)
    remove_stale_temporaries(build_dir, "sweep")  # parts a killed sweep left
    with tempfile.TemporaryDirectory(prefix=temp_prefix("sweep"), dir=build_dir) as tmp:
        outs = [Path(tmp) / f"part{i}.npy" for i in range(jobs)]
        prog = [Path(tmp) / f"part{i}.progress" for i in range(jobs)]
        env = {"AXX_OPW": str(operand_bits), "AXX_WIDTH": str(sch.width), "AXX_BPV": str(bpv),
               "AXX_LEVELS": ",".join(map(str, run_levels.tolist()))}
        runner.run_parallel([
            dict(sim=sim, top=top, build_dir=build_dir, test_module="sim.tb_sweep", testcase=test,
                 tag=f"sweep{i}",
                 env={**env, "AXX_A0": str(bounds[i]), "AXX_A1": str(bounds[i + 1]), "AXX_OUT": str(outs[i]),
                      "AXX_PROGRESS": str(prog[i])})
            for i in range(jobs)
        ], progress=(prog, a1 - a0, f"{sim} sweep ({scheme})") if show_progress else None)
        tables = np.concatenate([np.load(o, allow_pickle=False) for o in outs], axis=1)
    if method == "lanes" and levels is not None:
        tables = tables[lv]
    t2 = time.perf_counter()
    return SweepResult(tables=tables, levels=lv, build_s=t1 - t0, sweep_s=t2 - t1, simulator=sim, method=method)
