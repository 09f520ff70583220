"""Energy objective of MARLIN's NSGA-II: sum over convolutions of MACs x power(level), with the
per-level power of MARLIN's synthesized multiplier (resources/marlin_mult_power.txt, cited there) for
`marlin`, and for any other scheme its gate-level power proxy (luts/<scheme>/cost.csv, `axx cost`) put
in mW by the one scale that fits marlin's proxy to MARLIN's published figures."""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np
import torch

from emulator.configure import approx_convs

POWER_FILE = Path(__file__).resolve().parent / "resources" / "marlin_mult_power.txt"


def power_per_level(scheme: str = "marlin") -> np.ndarray:
    """mW for levels 0..255: MARLIN's published figures for marlin, the scaled gate-level proxy otherwise."""
    if scheme == "marlin":
        return _marlin_power()
    proxy = _proxy(scheme)
    return proxy * validate_power_proxy(_proxy("marlin"))["scale_mw_per_unit"]


def _proxy(scheme: str) -> np.ndarray:
    import csv

    from lut_build.artifacts import default_lut_root
    p = default_lut_root() / scheme / "cost.csv"
    if not p.is_file():
        raise ValueError(f"{p} is missing: the energy of scheme {scheme!r} needs its cost model and marlin's "
                         f"(`make cost SCHEME={scheme}` and `make cost SCHEME=marlin`)")
    with open(p, newline="") as f:
        rows = {int(r["level"]): float(r["power_proxy"]) for r in csv.DictReader(f)}
    if sorted(rows) != list(range(256)):
        raise ValueError(f"{p}: expected the 256 levels 0..255")
    return np.array([rows[lv] for lv in range(256)])


@lru_cache(maxsize=1)
def _marlin_power() -> np.ndarray:
    """mW for levels 0..255, parsed from the 'APPROX =L' / value pairs."""
    lines = [ln.strip() for ln in POWER_FILE.read_text().splitlines() if ln.strip() and not ln.startswith("#")]
    power = {}
    for tag, value in zip(lines[::2], lines[1::2]):
        if not tag.startswith("APPROX ="):
            raise ValueError(f"{POWER_FILE}: unexpected line {tag!r}")
        power[int(tag.split("=")[1])] = float(value)
    if sorted(power) != list(range(256)):
        raise ValueError(f"{POWER_FILE}: expected the 256 levels 0..255")
    return np.array([power[lv] for lv in range(256)])


def validate_power_proxy(proxy) -> dict:
    """How well a gate-level power proxy of `marlin` (lut_build.cost) tracks MARLIN's 256 published per-level
    power figures: Spearman rank correlation, and the mean relative error after one least-squares scale."""
    from scipy.stats import spearmanr

    p = _marlin_power()
    x = np.asarray(proxy, dtype=float)
    if x.shape != (256,):
        raise ValueError(f"a power proxy has 256 levels, got {x.shape}")
    k = float(x @ p / (x @ x))
    return {"spearman": float(spearmanr(x, p).statistic), "scale_mw_per_unit": k,
            "mean_relative_error": float(np.mean(np.abs(k * x - p) / p)),
            "max_relative_error": float(np.max(np.abs(k * x - p) / p)), "reference": POWER_FILE.name}


def conv_macs(model: torch.nn.Module, image_shape=(3, 32, 32)) -> list[int]:
    """Multiply-accumulates per image of every approximated convolution, in set_levels order."""
    convs = approx_convs(model)
    macs: dict = {}

    def hook(mod, inp, out):
        macs[mod] = int(out.shape[1] * out.shape[2] * out.shape[3] * mod.in_channels
                        * mod.kernel_size[0] * mod.kernel_size[1])

    hooks = [c.register_forward_hook(hook) for c in convs]
    saved = {c: c.exec_type for c in convs}
    try:
        for c in convs:
            c.exec_type = "float"  # shapes only: no calibration or tables needed
        with torch.no_grad():
            model.eval()(torch.zeros(1, *image_shape))
    finally:
        for h in hooks:
            h.remove()
        for c, t in saved.items():
            c.exec_type = t
    return [macs[c] for c in convs]


def energy(macs: list[int], levels, power: np.ndarray | None = None) -> float:
    """sum_l MACs_l x power(level_l), in MAC x mW (a relative figure, as MARLIN uses it); `power`
    defaults to marlin's (power_per_level(scheme) for another scheme)."""
    p = power_per_level() if power is None else power
    lv = np.asarray(levels, dtype=np.int64)
    if lv.shape != (len(macs),):
        raise ValueError(f"{lv.size} levels for {len(macs)} convolutions")
    return float(np.dot(np.asarray(macs, dtype=np.float64), p[lv]))
