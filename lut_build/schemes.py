"""Registry of multiplier schemes: RTL parameters + the matching behavioural model.

A scheme is what a hardware designer adds to study another masking design: the parameters
(and optional defines) that configure hdl/ for it, and a model function written
independently from the RTL. `axx luts --scheme NAME` then sweeps the RTL and proves it
equal to the model on every entry.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import partial
from typing import Callable

import numpy as np

from .model import masked_baugh_wooley

ModelFn = Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray]


@dataclass(frozen=True)
class Scheme:
    name: str
    description: str
    width: int                                   # array width of the RTL (operands sign-extended into it)
    model: ModelFn                               # model(a, b, level) -> signed product (2*width bits)
    rtl_parameters: dict = field(default_factory=dict)
    rtl_defines: dict = field(default_factory=dict)

    def products(self, a, b, level) -> np.ndarray:
        return self.model(a, b, level)


SCHEMES: dict[str, Scheme] = {}


def register(scheme: Scheme) -> Scheme:
    if scheme.name in SCHEMES:
        raise ValueError(f"scheme {scheme.name!r} is already registered")
    SCHEMES[scheme.name] = scheme
    return scheme


def get_scheme(name: str) -> Scheme:
    try:
        return SCHEMES[name]
    except KeyError:
        raise KeyError(f"unknown scheme {name!r}; known schemes: {', '.join(sorted(SCHEMES))}") from None


def _bw(width: int, bias_comp: bool) -> Scheme:
    return partial(masked_baugh_wooley, width=width, bias_comp=bias_comp)  # type: ignore[return-value]


register(Scheme(
    name="marlin",
    description="MARLIN's 9x9 array driven by sign-extended 8-bit operands; masked columns "
                "zeroed with the row-0 bit forced to 1 (c >= 2) as bias compensation",
    width=9,
    model=_bw(9, True),
    rtl_parameters={"WIDTH": 9, "BIAS_COMP": 1},
))
register(Scheme(
    name="bw8",
    description="native 8x8 Baugh-Wooley array: column 7 holds the inverted sign products "
                "(a7&b0, a0&b7), so masking it removes them too; bias compensation as marlin",
    width=8,
    model=_bw(8, True),
    rtl_parameters={"WIDTH": 8, "BIAS_COMP": 1},
))
register(Scheme(
    name="marlin_nocomp",
    description="MARLIN's 9x9 array without bias compensation: every partial product of a "
                "masked column is zero (plain column truncation)",
    width=9,
    model=_bw(9, False),
    rtl_parameters={"WIDTH": 9, "BIAS_COMP": 0},
))
