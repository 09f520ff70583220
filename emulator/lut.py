"""The multiplier tables as the emulator sees them: checked, as torch tensors, one per level."""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np
import torch

N_LEVELS = 256


class LevelError(TypeError, ValueError):
    """A level that is not an integer (a TypeError, and a ValueError so that callers reporting
    bad input catch it with the rest)."""


def check_level(level) -> int:
    if isinstance(level, bool) or not isinstance(level, (int, np.integer)):
        raise LevelError(f"approximation level must be an integer in 0..255, got {level!r} "
                         f"({type(level).__name__})")
    if not 0 <= int(level) <= N_LEVELS - 1:
        raise ValueError(f"approximation level {level} outside 0..255")
    return int(level)


def check_table(lut: torch.Tensor) -> torch.Tensor:
    """One level's table: int16 or int32 [256, 256], indexed [uint8(weight), uint8(activation)]."""
    if not isinstance(lut, torch.Tensor):
        raise TypeError(f"LUT must be a torch.Tensor, got {type(lut).__name__}")
    if tuple(lut.shape) != (256, 256):
        raise ValueError(f"LUT must have shape (256, 256) [weight, activation], got {tuple(lut.shape)}")
    if lut.dtype not in (torch.int16, torch.int32):
        raise TypeError(f"LUT dtype must be int16 or int32, got {lut.dtype}")
    return lut.contiguous()


class LutSet:
    """All 256 tables of one scheme: int16 [256, 256, 256] indexed [level, uint8(w), uint8(x)]."""

    def __init__(self, tables: np.ndarray | torch.Tensor, scheme: str = "custom", manifest: dict | None = None):
        t = torch.as_tensor(np.asarray(tables)) if not isinstance(tables, torch.Tensor) else tables
        if tuple(t.shape) != (N_LEVELS, 256, 256):
            raise ValueError(f"LUT set must have shape (256, 256, 256) [level, weight, activation], got {tuple(t.shape)}")
        if t.dtype not in (torch.int16, torch.int32):
            raise TypeError(f"LUT set dtype must be int16 or int32, got {t.dtype}")
        self.tables = t.to(torch.int16).contiguous() if t.dtype == torch.int16 or _fits16(t) else t.contiguous()
        self.scheme = scheme
        self.manifest = manifest or {}
        self._device_cache: dict = {}

    def table(self, level: int, device: torch.device | str = "cpu") -> torch.Tensor:
        level = check_level(level)
        device = torch.device(device)
        if device.type == "cpu":
            return self.tables[level]
        key = (level, str(device))
        if key not in self._device_cache:
            self._device_cache[key] = self.tables[level].to(device)
        return self._device_cache[key]


def _fits16(t: torch.Tensor) -> bool:
    return bool(t.min() >= -32768 and t.max() <= 32767)


@lru_cache(maxsize=8)
def load_scheme(scheme: str = "marlin", root: str | None = None, allow_stale: bool = False) -> LutSet:
    """Tables of a registered scheme: luts/<scheme>/ (RTL-built by `make luts`), else built from the
    behavioural model on first use. Stale or tampered tables are refused (see lut_build.load_luts)."""
    from lut_build import ensure_luts, load_luts

    d = ensure_luts(scheme, Path(root) if root else None)
    tables, manifest = load_luts(d, allow_stale=allow_stale)
    return LutSet(tables, scheme=scheme, manifest=manifest)
