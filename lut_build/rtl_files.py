"""Where the multiplier's RTL lives and its fingerprint (for manifests and stale checks)."""
from __future__ import annotations

import os
from pathlib import Path

from fileio import sha256_file

# Compile order: cells, then the masking cell, the generated cores, the top.
RTL_SOURCES = ("adders.v", "pp_bit.v", "mult_cores.v", "approx_mult.v")


def hdl_dir() -> Path:
    """The hdl/ folder of this checkout (override with AXX_HDL_DIR)."""
    env = os.environ.get("AXX_HDL_DIR")
    return Path(env) if env else Path(__file__).resolve().parents[1] / "hdl"


def rtl_paths() -> list[Path]:
    d = hdl_dir()
    paths = [d / name for name in RTL_SOURCES]
    missing = [str(p) for p in paths if not p.is_file()]
    if missing:
        raise FileNotFoundError(f"RTL source(s) missing: {', '.join(missing)}")
    return paths


def rtl_hashes() -> dict[str, str]:
    """sha256 of every RTL source, keyed by file name."""
    return {p.name: sha256_file(p) for p in rtl_paths()}


def model_hashes() -> dict[str, str]:
    """sha256 of the behavioural model's sources (a model-built table depends on them)."""
    here = Path(__file__).resolve().parent
    return {name: sha256_file(here / name) for name in ("model.py", "schemes.py")}
