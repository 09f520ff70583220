"""Quantizers, kept apart from the layers that use them (as brevitas does).

- fake_quant: MARLIN's symmetric per-tensor fake quantization, scale = max_v / max|x| computed
  on the tensor itself (or from a given static amax), clamp, round, divide; straight-through
  gradient. With dynamic scales one image's output depends on the rest of its batch (the
  tensor max is over the batch): results must state the evaluation batch size, or use static
  calibrated scales (calibrate()).
- pact_relu: PACT, a ReLU clipped at a learnable alpha (initialised at 10), quantized to 127 levels.
- HistogramCalibrator: the amax at a percentile (99.99 by default) of |x| over a calibration set,
  as TransAxx/pytorch_quantization's histogram calibration.
"""
from __future__ import annotations

import torch


class _RoundSTE(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        return torch.round(x)

    @staticmethod
    def backward(ctx, g):
        return g


def quant_scale(x: torch.Tensor, bits: int = 8, amax: torch.Tensor | float | None = None) -> torch.Tensor:
    """scale = max_v / amax (amax = max|x| of the tensor unless given); 1 where amax is 0."""
    max_v = 2 ** (bits - 1) - 1
    a = x.detach().abs().max() if amax is None else torch.as_tensor(amax, dtype=x.dtype, device=x.device)
    return torch.where(a > 0, max_v / a.clamp_min(1e-30), torch.ones_like(a))


def fake_quant(x: torch.Tensor, bits: int = 8, amax: torch.Tensor | float | None = None) -> torch.Tensor:
    """clamp(round(scale * x), min_v, max_v) / scale, straight-through in the backward pass."""
    s = quant_scale(x, bits, amax)
    max_v = 2 ** (bits - 1) - 1
    q = torch.clamp(_RoundSTE.apply(x * s), -max_v - 1, max_v)
    return q / s


def to_int8(x: torch.Tensor, amax: torch.Tensor | float) -> tuple[torch.Tensor, torch.Tensor]:
    """Integer operands for the multiplier: (int8 values, scale s) with x ~ s * q."""
    if not torch.isfinite(x).all():
        raise ValueError("activations contain NaN or inf: cannot quantize them for the multiplier")
    s = quant_scale(x, 8, amax)
    q = torch.clamp(torch.round(x * s), -128, 127).to(torch.int8)
    return q, 1.0 / s


def pact_relu(x: torch.Tensor, alpha: torch.Tensor, levels: int = 127) -> torch.Tensor:
    """PACT: clip to [0, alpha] (alpha learns through the clip), quantize to `levels` steps."""
    y = torch.clamp(x, min=0)
    y = torch.where(y < alpha, y, alpha.expand_as(y)) if alpha.dim() else torch.minimum(y, alpha)
    scale = levels / alpha
    return _RoundSTE.apply(y * scale) / scale


class HistogramCalibrator:
    """Percentile of |x| over many batches with a fixed-size histogram (2 passes: range, then bins)."""

    def __init__(self, percentile: float = 99.99, bins: int = 2048):
        if not 0 < percentile <= 100:
            raise ValueError(f"percentile must be in (0, 100], got {percentile}")
        self.percentile, self.bins = percentile, bins
        self.max = 0.0
        self.hist: torch.Tensor | None = None

    def observe_range(self, x: torch.Tensor) -> None:
        self.max = max(self.max, float(x.detach().abs().max()))

    def observe(self, x: torch.Tensor) -> None:
        if self.max <= 0:
            return
        h = torch.histc(x.detach().abs().float().flatten(), bins=self.bins, min=0.0, max=self.max)
        self.hist = h if self.hist is None else self.hist + h

    def amax(self) -> float:
        if self.hist is None or self.hist.sum() == 0:
            return self.max
        c = torch.cumsum(self.hist.double(), 0)
        idx = int(torch.searchsorted(c, c[-1] * self.percentile / 100.0))
        return float((idx + 1) * self.max / self.bins)
