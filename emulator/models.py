"""MARLIN's CIFAR-10 ResNets (pre-activation blocks, option-A shortcuts) from one factory, the
generic `approximate()` for any user's CNN, calibration and per-layer levels."""
from __future__ import annotations

import types
from typing import Iterable

import torch
import torch.nn as nn
import torch.nn.functional as F

from .layers import Act, AxConv2d, AxLinear, check_exec_type
from .lut import check_level
from .quant import HistogramCalibrator

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
        return (x - self.mean) / self.std


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
    def __init__(self, in_planes: int, planes: int, stride: int, exec_type: str):
        super().__init__()
        self.bn1 = nn.BatchNorm2d(in_planes)
        self.act1 = Act(exec_type)
        self.conv1 = AxConv2d(in_planes, planes, 3, stride, 1, exec_type=exec_type)
        self.bn2 = nn.BatchNorm2d(planes)
        self.act2 = Act(exec_type)
        self.conv2 = AxConv2d(planes, planes, 3, 1, 1, exec_type=exec_type)
        self.shortcut = ShortcutA(in_planes, planes, stride) if (stride != 1 or in_planes != planes) else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.conv1(self.act1(self.bn1(x)))
        out = self.conv2(self.act2(self.bn2(out)))
        return out + self.shortcut(x)


class CifarResNet(nn.Module):
    def __init__(self, depth: int, exec_type: str = "float", num_classes: int = 10):
        super().__init__()
        if depth not in DEPTHS:
            raise ValueError(f"unknown ResNet depth {depth}; choose one of {', '.join(map(str, DEPTHS))}")
        exec_type = check_exec_type(exec_type)
        self.depth, n = depth, DEPTHS[depth]
        self.normalize = Normalize()
        self.conv1 = AxConv2d(3, 16, 3, 1, 1, exec_type=exec_type)
        layers, in_planes = [], 16
        for planes, stride in ((16, 1), (32, 2), (64, 2)):
            blocks = []
            for i in range(n):
                blocks.append(PreActBlock(in_planes, planes, stride if i == 0 else 1, exec_type))
                in_planes = planes
            layers.append(nn.Sequential(*blocks))
        self.layer1, self.layer2, self.layer3 = layers
        self.bn = nn.BatchNorm2d(64)
        self.act = Act(exec_type)
        self.linear = AxLinear(64, num_classes, exec_type=exec_type)

    @property
    def arch(self) -> str:
        return f"resnet{self.depth}"

    def forward(self, x: torch.Tensor) -> torch.Tensor:
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
           static_act_scale: bool = False) -> CifarResNet:
    """MARLIN's CIFAR ResNet-8/20/32/56 of the given execution type (float, quant, approx/transaxx).

    static_act_scale: quant layers use the calibrated activation scales (calibrate()) instead of
    MARLIN's dynamic per-tensor ones, so an image's output no longer depends on its batch."""
    m = CifarResNet(depth, exec_type)
    set_scheme(m, scheme)
    set_static_act_scale(m, static_act_scale)
    m.set_levels(levels)
    return m


def set_static_act_scale(model: nn.Module, static: bool = True) -> None:
    """quant layers: calibrated static activation scales (True) or dynamic per-tensor ones (False)."""
    for m in model.modules():
        if isinstance(m, (AxConv2d, AxLinear)):
            m.static_act_scale = bool(static)


def approx_convs(model: nn.Module) -> list[AxConv2d]:
    return [m for m in model.modules() if isinstance(m, AxConv2d)]


def set_levels(model: nn.Module, levels) -> None:
    """One level for every approximated convolution, or a list with one level per convolution
    (model order: 7/19/31/55 for ResNet-8/20/32/56). The final linear layer stays exact."""
    convs = approx_convs(model)
    if isinstance(levels, (list, tuple)) or (isinstance(levels, torch.Tensor) and levels.dim() == 1):
        levels = [int(v) for v in levels]
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
    from .engines import ENGINES
    if engine != "auto" and engine not in ENGINES:
        raise ValueError(f"unknown engine {engine!r}; choose auto or one of {', '.join(ENGINES)}")
    for c in approx_convs(model):
        c.engine = engine


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
    """Static activation scales for every quantized layer: the `percentile` of |input| over the
    calibration images ([0, 1], e.g. 5000 training images as in the thesis), measured with the
    activations the quant/approx model produces (PACT, fake-quantized dynamic)."""
    layers = [m for m in model.modules() if isinstance(m, (AxConv2d, AxLinear))]
    saved = {m: m.exec_type for m in model.modules() if isinstance(m, (AxConv2d, AxLinear, Act))}
    statics = {m: m.static_act_scale for m in layers}
    try:
        for m in saved:
            m.exec_type = "quant"
        for m in layers:
            m.static_act_scale = False
        _calibrate_inputs(model, layers, _batches(images, batch_size), percentile)
    finally:
        for m, t in saved.items():
            m.exec_type = t
        for m, st in statics.items():
            m.static_act_scale = st


def approximate(model: nn.Module, levels=0, calibration: torch.Tensor | None = None, scheme: str = "marlin",
                percentile: float = 99.99) -> nn.Module:
    """An approx version of any torch CNN: every nn.Conv2d becomes an AxConv2d (TransAxx-style:
    weights kept, BatchNorm and everything else untouched). `calibration`: a batch of [0, 1]
    images (the model's own input convention) to calibrate the activation scales. The returned
    model (a copy) has set_levels(int_or_list)."""
    import copy

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


def load_state(model: CifarResNet, state: dict | str) -> None:
    """Load a checkpoint (path, {'state_dict': ...} or a state_dict) into any execution type;
    a checkpoint of another depth is refused with a message naming both."""
    if isinstance(state, str):
        state = torch.load(state, map_location="cpu", weights_only=True)
    meta_arch = state.get("arch") if isinstance(state, dict) else None
    sd = state.get("state_dict", state)
    if meta_arch and meta_arch != model.arch:
        raise ValueError(f"checkpoint is {meta_arch} but the model is {model.arch}")
    n_convs = len({k.rsplit(".", 1)[0] for k in sd if k.endswith(".weight") and sd[k].dim() == 4})
    mine = len(approx_convs(model))
    if n_convs != mine:
        guess = {v * 6 + 1: d for d, v in DEPTHS.items()}.get(n_convs)
        what = f"resnet{guess}" if guess else f"a model with {n_convs} convolutions"
        raise ValueError(f"checkpoint is {what} ({n_convs} convolutions) but the model is {model.arch} ({mine})")
    missing, unexpected = model.load_state_dict(sd, strict=False)
    if missing or unexpected:
        raise ValueError(f"checkpoint does not fit {model.arch}: missing {missing[:5]}, unexpected {unexpected[:5]}")


__all__ = ["resnet", "approximate", "calibrate", "set_levels", "get_levels", "set_exec_type", "set_engine",
           "set_static_act_scale",
           "set_scheme", "load_state", "CifarResNet", "DEPTHS"]
