"""Convolution engines: all return the same int32 accumulators for int8 operands (see base.py)."""
from __future__ import annotations

ENGINES = ("reference", "c", "cuda", "fast")


def get_engine(name: str):
    if name == "reference":
        from . import reference as m
    elif name == "c":
        from . import c as m
    elif name == "cuda":
        from . import cuda as m
    elif name == "fast":
        from . import fast as m
    else:
        raise ValueError(f"unknown engine {name!r}; choose one of {', '.join(ENGINES)}")
    return m
