"""Settings of a model's approximate layers: per-layer levels, execution type, scheme, engine,
static or dynamic activation scales. Configuration, not state: none of it is in a state_dict."""
from __future__ import annotations

import numpy as np
import torch
import torch.nn as nn

from .engines import check_engine_name
from .layers import Act, AxConv2d, AxLinear, check_exec_type
from .lut import check_level


def set_static_act_scale(model: nn.Module, static: bool = True) -> None:
    """quant layers: calibrated static activation scales (True) or dynamic per-tensor ones (False)."""
    for m in model.modules():
        if isinstance(m, (AxConv2d, AxLinear, Act)):
            m.static_act_scale = bool(static)


def approx_convs(model: nn.Module) -> list[AxConv2d]:
    return [m for m in model.modules() if isinstance(m, AxConv2d)]


def set_levels(model: nn.Module, levels) -> None:
    """One level for every approximated convolution, or a list with one level per convolution
    (model order: 7/19/31/55 for ResNet-8/20/32/56). The final linear layer stays exact."""
    convs = approx_convs(model)
    if isinstance(levels, torch.Tensor):
        levels = levels.tolist()  # an integer tensor gives ints; a float one is refused below, not truncated
    if isinstance(levels, np.ndarray):
        levels = levels.tolist()
    if isinstance(levels, (list, tuple)):
        levels = list(levels)
        if len(levels) != len(convs):
            raise ValueError(f"level list has {len(levels)} entries but the model has {len(convs)} "
                             "approximated convolutions (one level per convolution, the final linear layer is exact)")
    else:
        levels = [levels] * len(convs)
    checked = [check_level(v) for v in levels]
    for conv, lv in zip(convs, checked):
        conv.set_level(lv)


def get_levels(model: nn.Module) -> list[int]:
    return [c.level for c in approx_convs(model)]


def set_exec_type(model: nn.Module, exec_type: str) -> None:
    exec_type = check_exec_type(exec_type)
    for m in model.modules():
        if isinstance(m, (AxConv2d, AxLinear, Act)):
            m.exec_type = exec_type


def set_scheme(model: nn.Module, scheme: str = "marlin", luts=None) -> None:
    """Which multiplier's tables the approx layers use: a registered scheme (loaded lazily on the
    first approx forward) or an explicit LutSet."""
    from lut_build import get_scheme
    get_scheme(scheme)  # unknown names fail here, not at the first forward
    for c in approx_convs(model):
        c.scheme, c.luts = scheme, luts


def set_engine(model: nn.Module, engine: str = "auto") -> None:
    check_engine_name(engine)
    for c in approx_convs(model):
        c.engine = engine


__all__ = ["approx_convs", "get_levels", "set_engine", "set_exec_type", "set_levels", "set_scheme",
           "set_static_act_scale"]
