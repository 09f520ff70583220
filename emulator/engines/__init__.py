"""Convolution engines: all return the same int32 accumulators for int8 operands (see base.py).

A new engine is one module with an Engine subclass decorated with @register, plus its import here.
"""
from __future__ import annotations

import torch

from . import reference, c, cuda, fast  # noqa: F401  (each registers its engine)
from .base import REGISTRY, Engine

ENGINES = tuple(REGISTRY)


def get_engine(name: str) -> Engine:
    try:
        return REGISTRY[name]
    except KeyError:
        raise ValueError(f"unknown engine {name!r}; choose one of {', '.join(ENGINES)}") from None


def check_engine_name(name: str) -> str:
    if name != "auto" and name not in REGISTRY:
        raise ValueError(f"unknown engine {name!r}; choose auto or one of {', '.join(ENGINES)}")
    return name


def auto_engine(lut: torch.Tensor, device: torch.device) -> str:
    """fast when the table decomposes exactly, else cuda on a GPU (reference if the CUDA engine
    cannot be built there), else c."""
    if REGISTRY["fast"].accepts(lut, device):
        return "fast"
    if device.type == "cuda":
        return "cuda" if REGISTRY["cuda"].accepts(lut, device) else "reference"
    return "c"


def choose(name: str, lut: torch.Tensor, device: torch.device) -> Engine:
    """The engine a layer runs: `name`, or for 'auto' the choice above."""
    return get_engine(auto_engine(lut, device) if name == "auto" else name)


__all__ = ["ENGINES", "Engine", "auto_engine", "check_engine_name", "choose", "get_engine"]
