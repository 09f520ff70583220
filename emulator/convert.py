"""approximate(): any torch CNN with its convolutions swapped for approximate ones (TransAxx-style)."""
from __future__ import annotations

import copy
import types

import torch
import torch.nn as nn

from .calibration import _batches, _calibrate_inputs
from .configure import approx_convs, set_levels, set_scheme
from .layers import AxConv2d


def approximate(model: nn.Module, levels=0, calibration: torch.Tensor | None = None, scheme: str = "marlin",
                percentile: float = 99.99) -> nn.Module:
    """An approx version of any torch CNN: every nn.Conv2d becomes an AxConv2d (TransAxx-style:
    weights kept, BatchNorm and everything else untouched). `calibration`: a batch of [0, 1]
    images (the model's own input convention) to calibrate the activation scales. The returned
    model (a copy) has set_levels(int_or_list)."""
    model = copy.deepcopy(model)

    def swap(parent: nn.Module) -> None:
        for name, child in parent.named_children():
            if isinstance(child, nn.Conv2d) and not isinstance(child, AxConv2d):
                if child.groups != 1 or child.dilation not in ((1, 1), 1) or child.padding_mode != "zeros":
                    raise ValueError(f"{name}: only plain convolutions (groups=1, dilation=1, zero padding) "
                                     "can be approximated")
                if isinstance(child.padding, str):
                    raise ValueError(f"{name}: string padding {child.padding!r} is not supported; use integers")
                new = AxConv2d(child.in_channels, child.out_channels, child.kernel_size, child.stride, child.padding,
                               bias=child.bias is not None, exec_type="approx")
                new.weight.data.copy_(child.weight.data)
                if child.bias is not None:
                    new.bias.data.copy_(child.bias.data)
                new.to(child.weight.device)
                setattr(parent, name, new)
            else:
                swap(child)

    swap(model)
    if not approx_convs(model):
        raise ValueError("the model has no nn.Conv2d to approximate")
    set_scheme(model, scheme)
    model.set_levels = types.MethodType(set_levels, model)
    if calibration is not None:
        # user models have no PACT: calibrate on their own (float) activations
        convs = approx_convs(model)
        for m in convs:
            m.exec_type = "float"
        try:
            _calibrate_inputs(model, convs, _batches(calibration, 500), percentile)
        finally:
            for m in convs:
                m.exec_type = "approx"
    set_levels(model, levels)
    return model


__all__ = ["approximate"]
