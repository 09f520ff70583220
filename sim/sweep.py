"""The exhaustive sweep: every level x every operand pair through the RTL, split over processes."""
from __future__ import annotations

import os
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from lut_build.schemes import get_scheme

from . import runner

# Activation values per round trip. Verilator evaluates lanes as machine words, so wider
# is cheaper per product; Icarus evaluates vectors bit by bit, so lanes buy it nothing
# and one activation per round trip keeps its vectors shortest (measured: `make bench-sweep`).
BPV = {"verilator": 4, "icarus": 1}


@dataclass
class SweepResult:
    tables: np.ndarray         # int64 [n_levels, 2^opw, 2^opw]: [level, weight pattern, activation pattern]
    levels: np.ndarray
    build_s: float
    sweep_s: float
    simulator: str


def sweep(scheme: str, sim: str = "verilator", operand_bits: int = 8, levels=None,
          jobs: int | None = None, defines: dict | None = None, bpv: int | None = None) -> SweepResult:
    """Run the RTL over all operand pairs of `operand_bits` bits (sign-extended into the
    scheme's array) at all 256 levels (levels=None: levels ride in the bit-parallel lanes) or at
    the given levels (one level per pass, activations in the lanes)."""
    sch = get_scheme(scheme)
    if operand_bits < 2 or operand_bits > sch.width:
        raise ValueError(f"operand bits must be 2..{sch.width} for scheme {scheme}")
    jobs = jobs or min(2, os.cpu_count() or 1)
    level_lanes = levels is None
    bpv = bpv or (BPV[sim] if level_lanes else 1 << operand_bits)
    params = {**sch.rtl_parameters, "OPW": operand_bits, "BPV": bpv, "LEVEL_LANES": int(level_lanes)}
    t0 = time.perf_counter()
    build_dir = runner.build(sim, "sweep_top", params, {**sch.rtl_defines, **(defines or {})})
    t1 = time.perf_counter()
    n = 1 << operand_bits
    lv = np.arange(256) if level_lanes else np.asarray(levels, dtype=np.int64).ravel()
    bounds = np.linspace(0, n, jobs + 1).astype(int)
    with tempfile.TemporaryDirectory(dir=build_dir) as tmp:
        outs = [Path(tmp) / f"part{i}.npy" for i in range(jobs)]
        env_common = {"AXX_OPW": str(operand_bits), "AXX_WIDTH": str(sch.width), "AXX_BPV": str(bpv),
                      "AXX_LEVEL_LANES": str(int(level_lanes)), "AXX_LEVELS": ",".join(map(str, lv.tolist()))}
        runner.run_parallel([
            dict(sim=sim, top="sweep_top", build_dir=build_dir, test_module="sim.tb_sweep", tag=f"sweep{i}",
                 env={**env_common, "AXX_A0": str(bounds[i]), "AXX_A1": str(bounds[i + 1]), "AXX_OUT": str(outs[i])})
            for i in range(jobs)
        ])
        tables = np.concatenate([np.load(o) for o in outs], axis=1)
    t2 = time.perf_counter()
    return SweepResult(tables=tables, levels=lv, build_s=t1 - t0, sweep_s=t2 - t1, simulator=sim)
