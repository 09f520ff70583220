"""Layers whose execution type is a switch: float, quant (MARLIN fake quantization, thesis eq. 4.1/4.2)
or approx (the thesis's transaxx: int8 operands, every convolution multiply through the multiplier's
LUT at this layer's level).

All types share parameter and buffer names, so any state_dict loads into any type (the thesis's
9 combinations per architecture; for one activation, relu or pact). The approximation level is configuration, not state: it is
not saved in state_dict.
"""
from __future__ import annotations

import weakref

import torch
import torch.nn as nn
import torch.nn.functional as F

from .engines import choose
from .engines.tensor_cache import owner, still_owned, tensor_key
from .lut import LutSet, check_level, load_scheme
from .quant import fake_quant, pact_relu, to_int8

EXEC_TYPES = ("float", "quant", "approx")
_PREPARED_PER_LAYER = 64  # weight planes kept per layer, one per (level, device): up to ~0.3 MB each
_ALIASES = {"transaxx": "approx"}


def check_exec_type(name: str) -> str:
    name = _ALIASES.get(name, name)
    if name not in EXEC_TYPES:
        raise ValueError(f"unknown execution type {name!r}; choose one of float, quant, approx (alias transaxx)")
    return name


ACTIVATIONS = ("relu", "pact")
BIAS_BITS = 32  # biases are fake-quantized to 32 bits (thesis 4.1; the author's --bias-bit default)


def check_activation(name: str) -> str:
    if name not in ACTIVATIONS:
        raise ValueError(f"unknown activation {name!r}; choose relu (the thesis's) or pact (MARLIN's original)")
    return name


class Act(nn.Module):
    """The activation after each BatchNorm.

    relu (the thesis's, default; mik300/thesis neural_networks/custom_layers.py `Act`): float: ReLU;
    quant: ReLU of the input fake-quantized per tensor (8 bits, scale 127 / max|x| of that tensor, or
    the calibrated act_amax with static scales); approx: plain float ReLU (TransAxx quantizes at the
    convolution's input).
    pact (MARLIN's original, an option): ReLU in float; in quant and approx PACT (a learnable clip
    alpha from 10, 127 levels). The two hold different state (act_amax or alpha), so a checkpoint
    of one does not load into the other.
    """

    def __init__(self, exec_type: str = "float", activation: str = "relu", alpha: float = 10.0, bits: int = 8):
        super().__init__()
        self.exec_type = check_exec_type(exec_type)
        self.activation = check_activation(activation)
        self.bits = bits
        self.static_act_scale = False
        if self.activation == "pact":
            self.alpha = nn.Parameter(torch.tensor(float(alpha)))
        else:
            self.register_buffer("act_amax", torch.tensor(0.0))

    def extra_repr(self) -> str:
        return f"exec_type={self.exec_type}, activation={self.activation}"

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.exec_type == "float":
            return F.relu(x)
        if self.activation == "pact":
            return pact_relu(x, self.alpha)
        if self.exec_type == "approx":
            return F.relu(x)
        amax = None
        if self.static_act_scale:
            _check_calibrated(self.act_amax)
            amax = self.act_amax
        return F.relu(fake_quant(x, self.bits, amax))


def _check_calibrated(amax: torch.Tensor) -> None:
    if float(amax) <= 0:
        raise RuntimeError("layer is not calibrated: call calibrate(model, images) first")


def _conv_layout(x: torch.Tensor, w: torch.Tensor) -> torch.memory_format:
    def cl(t: torch.Tensor) -> bool:
        return t.is_contiguous(memory_format=torch.channels_last) and not t.is_contiguous()
    return torch.channels_last if cl(x) or cl(w) else torch.contiguous_format


def _wanted(ctx, i: int) -> bool:
    """Whether this backward pass needs the gradient of input i: an attack asks for the images' gradient only
    (torch.autograd.grad), and the weights' would cost another convolution per layer (autograd's own
    convolution node skips it; a custom node must ask the engine, through the hook API's helper)."""
    if not ctx.needs_input_grad[i]:
        return False
    try:
        node = ctx.next_functions[i][0]
        return node is not None and bool(torch._C._will_engine_execute_node(node))
    except (AttributeError, RuntimeError, TypeError):  # the private helper changed: compute it
        return True


class _StraightThrough(torch.autograd.Function):
    """An approx layer's output: the LUT convolution's y forward; backward, the gradients of the exact
    convolution of the fake-quantized operands (the straight-through estimator), computed from the operands
    alone, so that convolution's forward is never run (it was only there for its graph: 9-12 % of an approx
    ResNet-20 training step, one thread on a loaded 2-core EPYC)."""

    @staticmethod
    def forward(ctx, xq, wq, bias, y, stride, padding):
        # under autocast F.conv2d would have run in its lower precision: so does its backward here, and the
        # gradients go back in the operands' own dtypes (as autocast's casts give them)
        dev = xq.device.type
        low = torch.get_autocast_dtype(dev) if torch.is_autocast_enabled(dev) else None
        ctx.dtypes = (xq.dtype, wq.dtype, None if bias is None else bias.dtype)
        ctx.save_for_backward(xq.to(low) if low else xq, wq.to(low) if low else wq)
        # the layout F.conv2d(xq, wq) gives (channels-last when either operand is), whatever the engine's
        # route wrote: what follows (batch norm's sums, this backward) then runs the same on every route
        ctx.conf = (stride, padding, bias is not None, _conv_layout(xq, wq))
        return y.contiguous(memory_format=ctx.conf[3])

    @staticmethod
    def backward(ctx, g):
        xq, wq = ctx.saved_tensors
        stride, padding, has_bias, layout = ctx.conf
        g = g.to(xq.dtype).contiguous(memory_format=layout)
        # what autograd's ConvolutionBackward0 calls for F.conv2d(xq, wq, bias, stride, padding)
        grads = torch.ops.aten.convolution_backward(
            g, xq, wq, [wq.shape[0]] if has_bias else None, list(stride), list(padding), [1, 1], False, [0, 0], 1,
            [_wanted(ctx, 0), _wanted(ctx, 1), has_bias and _wanted(ctx, 2)])
        gx, gw, gb = (None if t is None else t.to(d) for t, d in zip(grads, ctx.dtypes))
        return gx, gw, gb, None, None, None


class AxConv2d(nn.Conv2d):
    """Conv2d with float / quant / approx execution.

    approx: activations -> int8 with the static calibrated scale (buffer act_amax), weights -> int8
    per tensor, int32 accumulation through the engine (LUT of `level`), dequantization by
    s_act * s_w, float bias. Backward: the gradient of the exact fake-quantized convolution
    (straight-through), so attacks and fine-tuning differentiate through approx models.
    quant: fake-quantized weights, bias and activations (dynamic per-tensor scales unless
    static_act_scale, then act_amax).
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1, padding=0, bias: bool = False,
                 exec_type: str = "float", bits: int = 8):
        super().__init__(in_channels, out_channels, kernel_size, stride=stride, padding=padding, bias=bias)
        self.exec_type = check_exec_type(exec_type)
        self.bits = bits
        self.register_buffer("act_amax", torch.tensor(0.0))
        self.level = 0
        self.engine = "auto"
        self.static_act_scale = False
        self.scheme = "marlin"
        self.luts: LutSet | None = None   # explicit tables; else those of `scheme`
        self._cache: dict = {}

    def extra_repr(self) -> str:
        return super().extra_repr() + f", exec_type={self.exec_type}, level={self.level}"

    def set_level(self, level: int) -> None:
        self.level = check_level(level)

    def _lut_set(self) -> LutSet:
        if self.luts is None:
            self.luts = load_scheme(self.scheme)
        return self.luts

    def _int_weights(self):
        key = tensor_key(self.weight)
        hit = self._cache.get("w")
        if hit is None or hit[0] != key or not still_owned(hit[3], self.weight):  # a new Parameter may reuse the memory
            w = self.weight.detach()
            wi, sw = to_int8(w, w.abs().max())
            self._cache = {"w": (key, wi, sw, weakref.ref(owner(self.weight)))}  # new weights: new planes
            return wi, sw
        return hit[1], hit[2]

    def _prepared(self, engine, wi: torch.Tensor, lut: torch.Tensor, device: torch.device):
        """The engine's weight side for this level and device, kept per layer (LRU)."""
        pkey = ("p", engine.name, self.level, str(device))
        prep = self._cache.pop(pkey, None)
        if prep is None:
            prep = engine.prepare(wi, lut)
            if prep is None:
                return None
            planes = [k for k in self._cache if k[0] == "p"]
            if len(planes) >= _PREPARED_PER_LAYER:  # a wide search visits every level: bound the memory
                del self._cache[planes[0]]
        self._cache[pkey] = prep  # re-inserted: the oldest entry is the least recently used
        return prep

    def _check_calibrated_once(self) -> None:
        """_check_calibrated, again only when act_amax has changed (on a GPU each look waits for the device)."""
        a = self.act_amax
        key, hit = tensor_key(a), getattr(self, "_calibrated", None)
        if hit is None or hit[0] != key or not still_owned(hit[1], a):
            _check_calibrated(a)
            self._calibrated = (key, weakref.ref(owner(a)))

    def approx_output(self, x: torch.Tensor, tail=None):
        """Dequantized output of the LUT convolution, through the engine (which picks its own route); with an
        eval tail (engines/tail.py: emulator/fusion.py's forward, no gradients), its (z, u) instead."""
        self._check_calibrated_once()
        wi, sw = self._int_weights()
        lut = self._lut_set().table(self.level, x.device)
        engine = choose(self.engine, lut, x.device)
        wi = wi.to(x.device)
        return engine.conv_float(x.detach(), self.act_amax, wi, sw, lut, self.stride, self.padding, self.bias,
                                 self._prepared(engine, wi, lut, x.device), tail=tail)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.exec_type == "float":
            return F.conv2d(x, self.weight, self.bias, self.stride, self.padding)
        amax = self.act_amax if (self.exec_type == "approx" or self.static_act_scale) else None
        b = fake_quant(self.bias, BIAS_BITS) if (self.bias is not None and self.exec_type == "quant") else self.bias
        if self.exec_type == "quant":
            return F.conv2d(fake_quant(x, self.bits, amax), fake_quant(self.weight, self.bits), b,
                            self.stride, self.padding)
        y = self.approx_output(x)
        needs = (x.requires_grad or self.weight.requires_grad or (b is not None and b.requires_grad))
        if not (torch.is_grad_enabled() and needs):
            return y
        return _StraightThrough.apply(fake_quant(x, self.bits, amax), fake_quant(self.weight, self.bits), b, y,
                                      self.stride, self.padding)


class AxLinear(nn.Linear):
    """The final classifier, always exact: float in float and approx (the thesis's transaxx models keep
    torch's nn.Linear: mik300/thesis neural_networks/CIFAR10/resnet.py, utils.py `replace_linear =
    False`); in quant fake-quantized with an exact multiplier (8-bit input and weights, 32-bit bias;
    dynamic input scale, or the calibrated act_amax with static scales)."""

    def __init__(self, in_features: int, out_features: int, bias: bool = True, exec_type: str = "float", bits: int = 8):
        super().__init__(in_features, out_features, bias=bias)
        self.exec_type = check_exec_type(exec_type)
        self.bits = bits
        self.register_buffer("act_amax", torch.tensor(0.0))
        self.static_act_scale = False

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.exec_type in ("float", "approx"):
            return F.linear(x, self.weight, self.bias)
        amax = None
        if self.static_act_scale:
            _check_calibrated(self.act_amax)
            amax = self.act_amax
        b = fake_quant(self.bias, BIAS_BITS) if self.bias is not None else None
        return F.linear(fake_quant(x, self.bits, amax), fake_quant(self.weight, self.bits), b)
