"""torch.compile for the study's hot loops (training steps, evaluation, attacks) of float and quant models.

quant models spend their time in the quantizers' element-wise work, which the compiler fuses (ResNet-8 training
1.4x, see `make bench-train`). approx models stay eager: their LUT engines run outside torch. Compilation
that fails (a compiler missing, an unsupported op) falls back to eager with one line: the eager model is the
same function. AXX_COMPILE=0 turns it off everywhere.
"""
from __future__ import annotations

import os

import torch


# one process may compile many models (an evaluation matrix of 24 victims x 3 execution types): each new one
# is a recompilation of the same forward, and past dynamo's default limit of 8 it would silently run eagerly
torch._dynamo.config.recompile_limit = max(torch._dynamo.config.recompile_limit, 128)


def compile_enabled() -> bool:
    return os.environ.get("AXX_COMPILE", "1") != "0"


class Compiled(torch.nn.Module):
    """`model` called through torch.compile where that applies, else eagerly. An nn.Module whose only child
    is `model`, so torchattacks and train()/eval() see the model itself."""

    def __init__(self, model: torch.nn.Module, enabled: bool = True, log=print):
        super().__init__()
        self.model, self.log = model, log
        use = enabled and compile_enabled() and getattr(model, "exec_type", None) in ("float", "quant")
        # kept out of the module tree: it wraps the same parameters
        object.__setattr__(self, "_compiled", torch.compile(model) if use else None)

    # The wrapper's mode is its model's: train()/eval() reach the model as a child, and torchattacks, which
    # restores after every batch the mode it read from the module it attacks, reads the model's. (An own flag
    # said training from birth, so attacks left models in eval mode in training mode.)
    @property
    def training(self) -> bool:
        return self._modules["model"].training

    @training.setter
    def training(self, mode: bool) -> None:
        pass  # nn.Module sets it on construction and in train(); the model's own flag is the one that counts

    @property
    def active(self) -> bool:
        return self._compiled is not None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self._compiled is not None:
            try:
                return self._compiled(x)
            except Exception as e:  # noqa: BLE001  (any compiler failure: the eager model is the same function)
                first = (str(e).strip().splitlines() or [""])[0][:200]
                self.log(f"torch.compile failed ({type(e).__name__}: {first}); running eagerly")
                object.__setattr__(self, "_compiled", None)
        return self.model(x)


def compiled(model: torch.nn.Module, log=print) -> torch.nn.Module:
    """The model's Compiled wrapper, made once per model (compiled code is then reused across calls)."""
    c = model.__dict__.get("_axx_compiled")
    if c is None:
        c = Compiled(model, log=log)
        model.__dict__["_axx_compiled"] = c
    return c


__all__ = ["Compiled", "compile_enabled", "compiled"]
