"""Static activation scales: the percentile of |input| of each quantized layer over calibration
images (TransAxx/pytorch_quantization's histogram calibration; the thesis: 99.99th, 5,000 images)."""
from __future__ import annotations

from typing import Iterable

import torch
import torch.nn as nn

from .layers import Act, AxConv2d, AxLinear
from .quant import HistogramCalibrator


def _calibrate_inputs(model: nn.Module, layers: list, batches: list, percentile: float) -> None:
    """Set each layer's act_amax to the percentile of |its input| over the batches (two passes:
    range, then a fixed-size histogram). The caller chooses the execution mode it runs in."""
    cals = {m: HistogramCalibrator(percentile) for m in layers}
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            for phase in ("observe_range", "observe"):
                hooks = [m.register_forward_pre_hook(lambda mod, inp, ph=phase: getattr(cals[mod], ph)(inp[0]))
                         for m in layers]
                try:
                    for b in batches:
                        model(b)
                finally:
                    for h in hooks:
                        h.remove()
    finally:
        model.train(was_training)
    for m, c in cals.items():
        m.act_amax.fill_(c.amax())


def _batches(images, batch_size: int) -> list:
    return list(images.split(batch_size)) if isinstance(images, torch.Tensor) else list(images)


def calibrate(model: nn.Module, images: torch.Tensor | Iterable[torch.Tensor], percentile: float = 99.99,
              batch_size: int = 500) -> None:
    """Static activation scales for every quantizer (convolutions, linear layers, ReLU activations'
    quantizers): the `percentile` of |input| over the calibration images ([0, 1]; the thesis: 99.99th
    on 5,000 training images).

    As TransAxx's calibration (pytorch_quantization: quantization off while collecting statistics),
    the model runs in float, so each layer sees the float activations. A PACT model (MARLIN's original
    activation) keeps its clipped, quantized activations while calibrating, as it does when it runs."""
    layers = [m for m in model.modules() if isinstance(m, (AxConv2d, AxLinear, Act)) and hasattr(m, "act_amax")]
    saved = {m: m.exec_type for m in model.modules() if isinstance(m, (AxConv2d, AxLinear, Act))}
    statics = {m: m.static_act_scale for m in saved}
    pact = any(isinstance(m, Act) and m.activation == "pact" for m in saved)
    try:
        for m in saved:
            m.exec_type = "quant" if pact else "float"
            m.static_act_scale = False
        _calibrate_inputs(model, layers, _batches(images, batch_size), percentile)
    finally:
        for m, t in saved.items():
            m.exec_type = t
        for m, st in statics.items():
            m.static_act_scale = st


__all__ = ["calibrate"]
