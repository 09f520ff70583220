"""Our checkpoints: reading and validating them, and models built from them (in their own or
another execution type, calibrated when an approx model needs scales its parameters lack)."""
from __future__ import annotations

import functools
from pathlib import Path

import torch

from emulator import calibrate, load_state, resnet
from emulator.configure import approx_convs
from emulator.resnet import checkpoint_activation
from emulator.safe_load import load_plain

from .data import load_cifar10, to_float
from .machine import resolve_device
from .parsing import parse_arch


def read_checkpoint(ckpt: str | Path) -> dict:
    """One of our checkpoints ({'arch', 'exec_type', 'at', 'state_dict', ...}), or a clear error."""
    st = load_plain(ckpt)
    if not isinstance(st, dict) or not isinstance(st.get("state_dict"), dict) or not isinstance(st.get("arch"), str):
        raise ValueError(f"{ckpt} is not an axx checkpoint (made by `axx train`)")
    if not all(isinstance(v, torch.Tensor) for v in st["state_dict"].values()):
        raise ValueError(f"{ckpt}: its state_dict holds values other than tensors")
    return st


def load_model(ckpt: str | Path, exec_type: str | None = None, arch: str | None = None) -> torch.nn.Module:
    """A model from one of our checkpoints, in its own or another execution type."""
    st = read_checkpoint(ckpt)
    if arch is not None and f"resnet{parse_arch(arch)}" != st["arch"]:
        raise ValueError(f"{ckpt} is {st['arch']}, not {arch}")
    model = resnet(parse_arch(st["arch"]), exec_type or st["exec_type"],
                   activation=st.get("activation") or checkpoint_activation(st["state_dict"]))
    load_state(model, st)
    model.eval()
    return model


def checkpoint_bytes(arch: str) -> int:
    """About the size of one checkpoint of `arch` on disk (its tensors)."""
    sd = resnet(parse_arch(arch)).state_dict()
    return sum(t.numel() * t.element_size() for t in sd.values()) + 64_000


@functools.lru_cache(maxsize=None)
def conv_macs(arch: str) -> int:
    """Multiply-accumulates of `arch`'s convolutions and linear layer for one 32x32 image: what a training's
    per-image cost scales with from one depth to another."""
    model, total = resnet(parse_arch(arch)).eval(), 0

    def count(m, inp, out):
        nonlocal total
        w = m.weight
        total += out[0].numel() * (w[0].numel())  # per output value: one weight row of MACs

    hooks = [m.register_forward_hook(count) for m in model.modules()
             if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear))]
    with torch.no_grad():
        model(torch.zeros(1, 3, 32, 32))
    for h in hooks:
        h.remove()
    return total


def ckpt_meta(ckpt: str | Path) -> dict:
    st = read_checkpoint(ckpt)
    return {"arch": st["arch"], "params": st["exec_type"], "at": bool(st.get("at")), "at_eps": st.get("at_eps"),
            "activation": st.get("activation") or checkpoint_activation(st["state_dict"])}


def prepare_model(ckpt: str | Path, exec_type: str, levels=0, data_dir: str | None = None,
                  calib_images: int = 5000, device: str = "cpu") -> torch.nn.Module:
    """A checkpoint in an execution type on `device` (auto: a CUDA GPU when torch sees one); approx models whose
    checkpoint carries no calibration (float/quant parameters) are calibrated first, on the CPU, on the first
    `calib_images` training images."""
    model = load_model(ckpt, exec_type)
    if model.exec_type == "approx" and any(float(c.act_amax) <= 0 for c in approx_convs(model)):
        xc, _ = load_cifar10("train", data_dir, limit=calib_images)
        calibrate(model, to_float(xc))
    model.set_levels(levels)
    model.eval()
    return model.to(resolve_device(device))


__all__ = ["checkpoint_bytes", "ckpt_meta", "conv_macs", "load_model", "prepare_model", "read_checkpoint"]
