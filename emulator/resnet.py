"""MARLIN's CIFAR-10 ResNets (pre-activation blocks, option-A shortcuts) from one factory, and
loading a state_dict into one (any execution type's parameters fit any type)."""
from __future__ import annotations

from pathlib import Path

import torch
import torch.nn as nn
import torch.nn.functional as F

from . import fusion
from .configure import approx_convs, set_exec_type, set_levels, set_scheme, set_static_act_scale
from .layers import Act, AxConv2d, AxLinear, check_activation, check_exec_type
from .safe_load import load_plain

DEPTHS = {8: 1, 20: 3, 32: 5, 56: 9}
CIFAR_MEAN = (0.4914, 0.4822, 0.4465)
CIFAR_STD = (0.2470, 0.2435, 0.2616)


class Normalize(nn.Module):
    """First step of every model, so attacks see [0, 1] images."""

    def __init__(self, mean=CIFAR_MEAN, std=CIFAR_STD):
        super().__init__()
        self.register_buffer("mean", torch.tensor(mean).view(1, -1, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(std).view(1, -1, 1, 1), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_images(x)
        return (x - self.mean) / self.std


def check_images(x: torch.Tensor) -> None:
    """The models were trained on float RGB images in [0, 1]: anything else would be misread
    silently (uint8 pixels as values up to 255, normalized inputs, grayscale), so it is refused."""
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"images must be a torch.Tensor, got {type(x).__name__}")
    if x.dim() != 4 or x.shape[1] != 3:
        raise ValueError(f"images must be [N, 3, H, W] (RGB), got shape {tuple(x.shape)}")
    if not x.is_floating_point():
        raise ValueError(f"images must be floating point in [0, 1], got {x.dtype} (uint8 pixels: divide by 255, "
                         "e.g. experiments.data.to_float)")
    # a value check costs a reduction and would split a compiled graph: eager calls only
    if not torch.compiler.is_compiling() and x.numel() and x.device.type != "meta":
        lo, hi = (float(v) for v in torch.aminmax(x.detach()))
        if lo < -1e-4 or hi > 1 + 1e-4:
            raise ValueError(f"images must lie in [0, 1] (the model normalizes them itself), got values in "
                             f"[{lo:.3g}, {hi:.3g}]")


class ShortcutA(nn.Module):
    """Option A: stride-2 subsampling and zero channel padding (no parameters)."""

    def __init__(self, in_planes: int, planes: int, stride: int):
        super().__init__()
        self.stride, self.pad = stride, planes - in_planes

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.stride != 1:
            x = x[:, :, ::self.stride, ::self.stride]
        if self.pad:
            x = F.pad(x, (0, 0, 0, 0, self.pad // 2, self.pad - self.pad // 2))
        return x


class PreActBlock(nn.Module):
    def __init__(self, in_planes: int, planes: int, stride: int, exec_type: str, activation: str):
        super().__init__()
        self.bn1 = nn.BatchNorm2d(in_planes)
        self.act1 = Act(exec_type, activation)
        self.conv1 = AxConv2d(in_planes, planes, 3, stride, 1, exec_type=exec_type)
        self.bn2 = nn.BatchNorm2d(planes)
        self.act2 = Act(exec_type, activation)
        self.conv2 = AxConv2d(planes, planes, 3, 1, 1, exec_type=exec_type)
        self.shortcut = ShortcutA(in_planes, planes, stride) if (stride != 1 or in_planes != planes) else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.conv1(self.act1(self.bn1(x)))
        out = self.conv2(self.act2(self.bn2(out)))
        return out + self.shortcut(x)


class CifarResNet(nn.Module):
    def __init__(self, depth: int, exec_type: str = "float", num_classes: int = 10, activation: str = "relu"):
        super().__init__()
        if depth not in DEPTHS:
            raise ValueError(f"unknown ResNet depth {depth}; choose one of {', '.join(map(str, DEPTHS))}")
        exec_type = check_exec_type(exec_type)
        self.activation = check_activation(activation)
        self.depth, n = depth, DEPTHS[depth]
        self.normalize = Normalize()
        self.conv1 = AxConv2d(3, 16, 3, 1, 1, exec_type=exec_type)
        layers, in_planes = [], 16
        for planes, stride in ((16, 1), (32, 2), (64, 2)):
            blocks = []
            for i in range(n):
                blocks.append(PreActBlock(in_planes, planes, stride if i == 0 else 1, exec_type, activation))
                in_planes = planes
            layers.append(nn.Sequential(*blocks))
        self.layer1, self.layer2, self.layer3 = layers
        self.bn = nn.BatchNorm2d(64)
        self.act = Act(exec_type, activation)
        self.linear = AxLinear(64, num_classes, exec_type=exec_type)

    @property
    def arch(self) -> str:
        return f"resnet{self.depth}"

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if fusion.applies(self, x):  # an approx evaluation on the CPU: the same values, fewer passes
            return fusion.forward(self, x)
        out = self.conv1(self.normalize(x))
        out = self.layer3(self.layer2(self.layer1(out)))
        out = self.act(self.bn(out))
        out = F.avg_pool2d(out, out.shape[-1]).flatten(1)
        return self.linear(out)

    def set_levels(self, levels) -> None:
        set_levels(self, levels)

    def set_exec_type(self, exec_type: str) -> None:
        set_exec_type(self, exec_type)

    @property
    def exec_type(self) -> str:
        return self.conv1.exec_type


def resnet(depth: int, exec_type: str = "float", levels=0, scheme: str = "marlin",
           static_act_scale: bool = False, activation: str = "relu") -> CifarResNet:
    """MARLIN's CIFAR ResNet-8/20/32/56 of the given execution type (float, quant, approx/transaxx).

    activation: relu (the thesis's: ReLU of the fake-quantized input in quant, plain ReLU in approx)
    or pact (MARLIN's original learnable clip; see layers.Act).

    static_act_scale: quant layers use the calibrated activation scales (calibrate()) instead of
    MARLIN's dynamic per-tensor ones, so an image's output no longer depends on its batch."""
    m = CifarResNet(depth, exec_type, activation=activation)
    set_scheme(m, scheme)
    set_static_act_scale(m, static_act_scale)
    m.set_levels(levels)
    return m


def checkpoint_activation(sd: dict) -> str:
    """Which activation a state_dict was trained with: PACT layers hold a learnable alpha."""
    return "pact" if any(k.endswith(".alpha") for k in sd) else "relu"


def load_state(model: CifarResNet, state: dict | str | Path) -> None:
    """Load a checkpoint (path, {'state_dict': ...} or a state_dict) into any execution type;
    a checkpoint of another depth or another activation is refused with a message naming both."""
    where = "checkpoint"
    if isinstance(state, (str, Path)):
        where = f"{where} {state}"
        state = load_plain(state)
    if not isinstance(state, dict):
        raise ValueError(f"{where} is not a dict of tensors but a {type(state).__name__}")
    meta_arch = state.get("arch") if isinstance(state, dict) else None
    sd = state.get("state_dict", state)
    if not isinstance(sd, dict) or not all(isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in sd.items()):
        raise ValueError(f"{where} holds no state_dict of named tensors")
    if meta_arch and meta_arch != model.arch:
        raise ValueError(f"{where} is {meta_arch} but the model is {model.arch}")
    n_convs = len({k.rsplit(".", 1)[0] for k in sd if k.endswith(".weight") and sd[k].dim() == 4})
    mine = len(approx_convs(model))
    if n_convs != mine:
        guess = {v * 6 + 1: d for d, v in DEPTHS.items()}.get(n_convs)
        what = f"resnet{guess}" if guess else f"a model with {n_convs} convolutions"
        raise ValueError(f"{where} is {what} ({n_convs} convolutions) but the model is {model.arch} ({mine})")
    act = state.get("activation") if isinstance(state.get("activation"), str) else checkpoint_activation(sd)
    if act != model.activation:
        raise ValueError(f"{where} was trained with the {act} activation but the model uses {model.activation}; "
                         f"build the model with activation={act!r} (axx: --activation {act})")
    missing, unexpected = model.load_state_dict(sd, strict=False)
    if missing or unexpected:
        raise ValueError(f"{where} does not fit {model.arch}: missing {missing[:5]}, unexpected {unexpected[:5]}")


__all__ = ["CifarResNet", "DEPTHS", "checkpoint_activation", "load_state", "resnet"]
