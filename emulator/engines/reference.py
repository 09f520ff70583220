"""Reference engine: a plain PyTorch LUT gather. Small and obviously correct: the tests' oracle."""
from __future__ import annotations

import torch
import torch.nn.functional as F

from .base import Engine, check_inputs, register


def conv(x: torch.Tensor, w: torch.Tensor, lut: torch.Tensor, stride=1, padding=0) -> torch.Tensor:
    x, w, lut, s, p, (oh, ow) = check_inputs(x, w, lut, stride, padding)
    n, o = x.shape[0], w.shape[0]
    cols = F.unfold(x.float(), w.shape[2:], padding=p, stride=s).long() & 0xFF  # [N, C*KH*KW, L]
    wi = (w.reshape(o, -1).long() & 0xFF)                                        # [O, C*KH*KW]
    flat = lut.reshape(-1).long()
    out = torch.empty(n, o, oh * ow, dtype=torch.int64, device=x.device)
    for i in range(n):  # per image keeps the gathered [O, K, L] tensor small
        idx = wi[:, :, None] * 256 + cols[i][None, :, :]
        out[i] = flat[idx].sum(dim=1)
    return out.to(torch.int32).reshape(n, o, oh, ow)


@register
class ReferenceEngine(Engine):
    """The oracle every other engine is tested against."""
    name = "reference"

    def conv(self, x, w, lut, stride=1, padding=0, prepared=None):
        return conv(x, w, lut, stride, padding)
