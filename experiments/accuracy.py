"""Top-1 accuracy of a model on a set of images."""
from __future__ import annotations

import torch

from .compiled import compiled
from .data import to_float


def evaluate(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, batch_size: int = 100) -> float:
    """Top-1 accuracy of uint8 or [0, 1] images; eval mode, no gradients. The batch size matters for quant
    models (dynamic per-tensor scales): 100 is the thesis's."""
    was = model.training
    model.eval()
    fwd = compiled(model) if getattr(model, "exec_type", None) == "quant" else model  # fused quantizers
    correct = 0
    dev = next(model.parameters()).device  # batches go where the model is (no-op when already there)
    with torch.no_grad():
        for i in range(0, len(x), batch_size):
            xb = x[i:i + batch_size].to(dev)
            xb = to_float(xb) if xb.dtype == torch.uint8 else xb
            correct += int((fwd(xb).argmax(1) == y[i:i + batch_size].to(dev)).sum())
    model.train(was)
    return correct / max(1, len(x))


__all__ = ["evaluate"]
