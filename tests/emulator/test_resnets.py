"""MARLIN's ResNets in every execution type, cross-loading, levels, calibration, STE gradients,
and approximate() on a user's CNN (the published akamaster ResNet-20, real CIFAR-10)."""
from pathlib import Path

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from emulator import approximate, calibrate, get_levels, load_state, resnet, set_engine
from emulator.engines import get_engine
from emulator.layers import AxConv2d
from emulator.configure import approx_convs

SHARED = Path(__file__).resolve().parents[3] / "shared" / "data"


@pytest.mark.parametrize("depth,n", [(8, 7), (20, 19), (32, 31), (56, 55)])
def test_depths_and_conv_counts(depth, n):
    m = resnet(depth)
    assert len(approx_convs(m)) == n and m.arch == f"resnet{depth}"
    with pytest.raises(ValueError, match=f"level list has 3 entries but the model has {n}"):
        m.set_levels([0, 1, 2])
    with pytest.raises(ValueError, match="outside 0..255"):
        m.set_levels(300)


def test_unknown_depth_and_exec_type():
    with pytest.raises(ValueError, match="choose one of 8, 20, 32, 56"):
        resnet(18)
    with pytest.raises(ValueError, match="choose one of float, quant, approx"):
        resnet(8, "int4")
    assert resnet(8, "transaxx").exec_type == "approx"


@pytest.mark.parametrize("src", ["float", "quant", "approx"])
def test_nine_cross_loading_combinations(src):
    torch.manual_seed(0)
    x = torch.rand(8, 3, 32, 32)
    a = resnet(8, src)
    calibrate(a, x)
    sd = a.state_dict()
    for dst in ("float", "quant", "approx"):
        b = resnet(8, dst)
        b.load_state_dict(sd)  # strict: identical keys in every type
        b.eval()
        with torch.no_grad():
            assert torch.isfinite(b(x)).all()


def test_checkpoint_of_another_depth_refused():
    sd = resnet(20).state_dict()
    with pytest.raises(ValueError, match=r"checkpoint is resnet20 \(19 convolutions\) but the model is resnet32"):
        load_state(resnet(32), sd)
    with pytest.raises(ValueError, match="checkpoint is resnet8 but the model is resnet20"):
        load_state(resnet(20), {"arch": "resnet8", "state_dict": resnet(8).state_dict()})


def _layer_and_input(level, seed=0):
    torch.manual_seed(seed)
    conv = AxConv2d(6, 5, 3, stride=2, padding=1, bias=True, exec_type="approx")
    x = torch.randn(3, 6, 9, 9)
    conv.act_amax.fill_(float(x.abs().max()) * 0.8)  # some clipping, as a percentile gives
    conv.set_level(level)
    return conv, x


@pytest.mark.parametrize("level", [0, 9, 100, 255])
def test_approx_layer_equals_lut_reference(level):
    from emulator.quant import to_int8
    conv, x = _layer_and_input(level)
    xi, sx = to_int8(x, conv.act_amax)
    wi, sw = to_int8(conv.weight.detach(), conv.weight.detach().abs().max())
    acc = get_engine("reference").conv(xi, wi, conv._lut_set().table(level), 2, 1)
    want = acc.float() * (sx * sw) + conv.bias.detach().view(1, -1, 1, 1)
    with torch.no_grad():
        got = conv(x)
    assert torch.equal(got, want)
    if level == 0:  # exact int8
        exact = F.conv2d(xi.double(), wi.double(), stride=2, padding=1).round().int()
        assert torch.equal(acc, exact)


def _want(conv, x, level):
    from emulator.quant import to_int8
    xi, sx = to_int8(x, conv.act_amax)
    wi, sw = to_int8(conv.weight.detach(), conv.weight.detach().abs().max())
    acc = get_engine("reference").conv(xi, wi, conv._lut_set().table(level), 2, 1)
    return acc.float() * (sx * sw) + conv.bias.detach().view(1, -1, 1, 1)


@pytest.mark.parametrize("route", ["int_mm", "float", "onednn", None])
def test_a_layer_recalibrated_or_retrained_in_place_uses_its_new_scales(route, monkeypatch):
    """The fast engine keeps a layer's scales between calls and the layer checks its calibration once: both
    follow in-place writes (a recalibration's fill_, an optimizer's step, a zeroed scale), on every route."""
    if route:
        monkeypatch.setenv("AXX_FAST_ROUTE", route)
    conv, x = _layer_and_input(100)
    x = x.relu()  # every route can run it
    with torch.no_grad():
        assert torch.equal(conv(x), _want(conv, x, 100))
        conv.act_amax.mul_(0.5)
        assert torch.equal(conv(x), _want(conv, x, 100))
        conv.weight.mul_(0.7)
        assert torch.equal(conv(x), _want(conv, x, 100))
        conv.act_amax.zero_()
        with pytest.raises(RuntimeError, match="not calibrated"):
            conv(x)


@pytest.mark.parametrize("route", ["int_mm", "float", "onednn", None])
def test_nan_and_inf_activations_refused_on_every_route(route, monkeypatch):
    if route:
        monkeypatch.setenv("AXX_FAST_ROUTE", route)
    for bad in (float("nan"), float("inf"), float("-inf")):
        conv, x = _layer_and_input(200)
        x = x.relu()
        conv(x)  # scales made, calibration checked: the checks must not be skipped on the next call
        x[1, 2, 3, 4] = bad
        with pytest.raises(ValueError, match="NaN or inf"):
            conv(x)


def test_engine_override_is_bit_identical():
    torch.manual_seed(1)
    x = torch.rand(4, 3, 32, 32)
    m = resnet(8, "approx")
    calibrate(m, x)
    m.eval()
    outs = {}
    for eng in ("fast", "c", "reference"):
        set_engine(m, eng)
        m.set_levels([0, 5, 50, 100, 127, 200, 255])
        with torch.no_grad():
            outs[eng] = m(x)
    assert torch.equal(outs["fast"], outs["c"]) and torch.equal(outs["c"], outs["reference"])
    assert get_levels(m) == [0, 5, 50, 100, 127, 200, 255]


@pytest.mark.parametrize("kernel", ["vnni", "avx2", "onednn"])
def test_fused_planes_route_equals_portable_route(monkeypatch, kernel):
    """With a planes kernel (AVX-512 VNNI; AVX2 for activations >= 0; oneDNN's int8 convolution of the VNNI
    planes) quantization runs in the planes pass and dequantization after the convolution (fused in C for the
    first two); the outputs (and the straight-through gradients) equal the library route bit for bit, for any
    input layout."""
    from emulator.engines import fast
    available = {"vnni": fast.vnni_available, "avx2": fast.avx2_available, "onednn": fast.onednn_available}
    if not available[kernel]():
        pytest.skip(f"this CPU cannot run the {kernel} route")
    torch.manual_seed(2)
    x = torch.rand(3, 3, 32, 32)
    m = resnet(8, "approx").eval()
    calibrate(m, x)
    m.set_levels([0, 3, 50, 100, 128, 200, 255])
    got, calls = {}, []
    name = f"conv_{kernel}"
    real = getattr(fast, name)
    monkeypatch.setattr(fast, name, lambda *a, **k: calls.append(k.get("act_scale")) or real(*a, **k))
    for vnni in (True, False):  # the kernel fused, or the library route
        monkeypatch.setattr(fast, "_VNNI", vnni and kernel == "vnni")
        monkeypatch.setattr(fast, "_AVX2", vnni and kernel == "avx2")
        monkeypatch.setattr(fast, "_ONEDNN", vnni and kernel == "onednn")
        monkeypatch.setenv("AXX_FAST_ROUTE", kernel if vnni else "float")
        xg = x.clone().requires_grad_(True)
        y = m(xg)
        y.square().sum().backward()
        with torch.no_grad():
            got[vnni] = (y.detach(), xg.grad, m(x), m(x.to(memory_format=torch.channels_last)))
        if vnni:  # the fused kernel computed layers (quantizing in C: act_scale given)
            assert calls and all(c is not None for c in calls)
            calls.clear()
    assert not calls  # the library route (forced float32) never called the kernel
    for i, (a, b) in enumerate(zip(got[True], got[False])):
        assert torch.equal(a, b), (i, (a - b).abs().max())
    # the layout of the input changes nothing, and with autograd the output is the same y
    assert torch.equal(got[True][2], got[True][3]) and torch.equal(got[True][0], got[True][2])


@pytest.mark.parametrize("level", [0, 77, 255])
def test_straight_through_gradient(level):
    """Forward, an approx layer gives the LUT convolution's output exactly, with or without autograd (it was
    ste + (y - ste), ULPs from y); backward, the gradient of the exact fake-quantized convolution, bit for bit
    what autograd gives for that convolution (its forward is no longer run)."""
    conv, x = _layer_and_input(level, seed=3)
    x1 = x.clone().requires_grad_(True)
    out = conv(x1)
    out.square().sum().backward()
    g_approx, gw, gb = x1.grad.clone(), conv.weight.grad.clone(), conv.bias.grad.clone()
    with torch.no_grad():
        y_approx = conv(x)
    assert torch.equal(out.detach(), y_approx)
    # the same loss through the quant path with the same static scale, evaluated at the approx output
    from emulator.quant import fake_quant
    x2 = x.clone().requires_grad_(True)
    conv.zero_grad()
    ste = F.conv2d(fake_quant(x2, 8, conv.act_amax), fake_quant(conv.weight, 8), conv.bias, 2, 1)
    (ste * (2 * y_approx)).sum().backward()  # d(y^2)/dy at the approx output, through the exact conv
    assert torch.equal(g_approx, x2.grad) and torch.equal(gw, conv.weight.grad) and torch.equal(gb, conv.bias.grad)
    # frozen weights (an attack): only the input's gradient
    conv.requires_grad_(False)
    x3 = x.clone().requires_grad_(True)
    conv(x3).square().sum().backward()
    assert torch.equal(x3.grad, g_approx)


def test_straight_through_gradient_under_autocast_is_the_lower_precision_conv_s():
    """Under bf16 autocast (`axx train --precision bf16`) the straight-through gradients are those of the bf16
    convolution autocast runs F.conv2d as, returned in the operands' dtypes."""
    from emulator.quant import fake_quant
    conv, x = _layer_and_input(90, seed=4)
    g = torch.randn(3, 5, 5, 5)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        x1 = x.clone().requires_grad_(True)
        out = conv(x1)
    out.backward(g)
    got = (x1.grad.clone(), conv.weight.grad.clone(), conv.bias.grad.clone())
    conv.zero_grad()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        x2 = x.clone().requires_grad_(True)
        ste = F.conv2d(fake_quant(x2, 8, conv.act_amax), fake_quant(conv.weight, 8), conv.bias, 2, 1)
    assert ste.dtype == torch.bfloat16 and out.dtype == torch.float32
    ste.backward(g.to(ste.dtype))
    for a, b in zip(got, (x2.grad, conv.weight.grad, conv.bias.grad)):
        assert a.dtype == torch.float32 and torch.equal(a, b)


def test_uncalibrated_and_nan_inputs_refused():
    m = resnet(8, "approx")
    with pytest.raises(RuntimeError, match="not calibrated"):
        m(torch.rand(1, 3, 32, 32))
    conv, x = _layer_and_input(3)
    x[0, 0, 0, 0] = float("nan")
    with pytest.raises(ValueError, match="NaN or inf"):
        conv(x)
    x[0, 0, 0, 0] = float("-inf")
    with pytest.raises(ValueError, match="NaN or inf"):
        conv(x)


# ---- approximate(): a user's own CNN -------------------------------------------------------

class AkaBlock(nn.Module):
    """akamaster/pytorch_resnet_cifar10 BasicBlock (post-activation, option-A shortcut)."""

    def __init__(self, inp, planes, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(inp, planes, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.pad = planes // 4 if (stride != 1 or inp != planes) else 0

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        sc = F.pad(x[:, :, ::2, ::2], (0, 0, 0, 0, self.pad, self.pad)) if self.pad else x
        return F.relu(out + sc)


class AkaResNet20(nn.Module):
    def __init__(self):
        super().__init__()
        self.register_buffer("mean", torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1))
        self.conv1 = nn.Conv2d(3, 16, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(16)
        layers, inp = [], 16
        for planes, stride in ((16, 1), (32, 2), (64, 2)):
            blocks = []
            for i in range(3):
                blocks.append(AkaBlock(inp, planes, stride if i == 0 else 1))
                inp = planes
            layers.append(nn.Sequential(*blocks))
        self.layer1, self.layer2, self.layer3 = layers
        self.linear = nn.Linear(64, 10)

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1((x - self.mean) / self.std)))
        out = self.layer3(self.layer2(self.layer1(out)))
        return self.linear(F.avg_pool2d(out, out.shape[3]).flatten(1))


@pytest.mark.skipif(not (SHARED / "pretrained" / "akamaster" / "resnet20.th").is_file(), reason="no ../shared/data")
def test_approximate_pretrained_user_cnn():
    from experiments.data import load_cifar10, to_float

    net = AkaResNet20()
    ck = torch.load(SHARED / "pretrained" / "akamaster" / "resnet20.th", map_location="cpu", weights_only=True)
    net.load_state_dict({k.removeprefix("module."): v for k, v in ck["state_dict"].items()}, strict=False)
    net.eval()
    sub = SHARED / "cifar-10-batches-py-first1000"
    xt, yt = load_cifar10("test", sub, download_missing=False, limit=500)
    xc, _ = load_cifar10("train", sub, download_missing=False, limit=500)
    x = to_float(xt)
    with torch.no_grad():
        acc_float = (net(x).argmax(1) == yt).float().mean().item()
    ax = approximate(net, levels=0, calibration=to_float(xc))
    assert len(approx_convs(ax)) == 19 and not approx_convs(net)  # the user's model is untouched
    ax.eval()
    with torch.no_grad():
        acc0 = (ax(x).argmax(1) == yt).float().mean().item()
        ax.set_levels(255)
        acc255 = (ax(x).argmax(1) == yt).float().mean().item()
    assert acc_float > 0.88                      # the published model (91.73 % on the full test set)
    assert abs(acc0 - acc_float) <= 0.02         # int8 with calibrated scales, exact multiplier
    assert acc255 < acc0                         # the most approximate level hurts
    with pytest.raises(ValueError, match="level list has 2 entries but the model has 19"):
        ax.set_levels([1, 2])


def test_scheme_choice():
    from emulator.configure import set_scheme
    m = resnet(8, "approx", scheme="bw8")
    assert {c.scheme for c in approx_convs(m)} == {"bw8"}
    with pytest.raises(KeyError, match="unknown scheme 'booth'"):
        set_scheme(m, "booth")


def test_quant_static_scales_make_outputs_batch_independent():
    """Dynamic per-tensor scales (MARLIN's) couple the images of a batch; static ones do not."""
    torch.manual_seed(7)
    x = torch.rand(6, 3, 32, 32)
    x[3:] *= 0.3  # a different range in the second half of the batch
    dyn = resnet(8, "quant").eval()
    sta = resnet(8, "quant", static_act_scale=True).eval()
    sta.load_state_dict(dyn.state_dict())
    calibrate(sta, x)
    with torch.no_grad():
        assert not torch.allclose(dyn(x)[:3], dyn(x[:3]))
        assert torch.equal(sta(x)[:3], sta(x[:3]))


def test_prepared_weights_cache_is_bounded():
    """A search over 0..255 visits every level: each layer keeps a bounded number of prepared planes,
    and a level evicted and met again is rebuilt to the same output."""
    from emulator.layers import _PREPARED_PER_LAYER
    conv, x = _layer_and_input(0, seed=5)
    with torch.no_grad():
        first = None
        for level in range(_PREPARED_PER_LAYER + 6):
            conv.set_level(level)
            y = conv(x)
            first = y if level == 0 else first
        assert sum(1 for k in conv._cache if k[0] == "p") == _PREPARED_PER_LAYER
        conv.set_level(0)
        assert torch.equal(conv(x), first)


def test_fused_route_overflowing_product_clamps_like_torch(monkeypatch):
    """A finite activation whose product with the scale overflows to inf is clamped (to_int8's
    behaviour), not refused, on both routes."""
    from emulator.engines import fast
    conv = AxConv2d(3, 16, 3, padding=1, exec_type="approx")
    conv.act_amax.fill_(1e-30)
    conv.set_level(20)
    x = torch.randn(2, 3, 5, 5)
    x[0, 0, 0, 0] = 3e38
    outs = []
    for vnni in (fast.vnni_available(), False):
        monkeypatch.setattr(fast, "_VNNI", vnni)
        with torch.no_grad():
            outs.append(conv(x))
    assert torch.equal(outs[0], outs[1])


def test_straight_through_computes_only_the_gradients_asked_for():
    """An attack asks autograd for the images' gradient only, while the weights still require theirs: the
    approx layers then skip the weights' convolution, as autograd's own convolution node does."""
    from torch.utils._python_dispatch import TorchDispatchMode
    conv, x = _layer_and_input(60, seed=5)
    masks = []

    class Masks(TorchDispatchMode):
        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            if func.overloadpacket.__name__ == "convolution_backward":
                masks.append(tuple(args[-1]))
            return func(*args, **(kwargs or {}))

    x1 = x.clone().requires_grad_(True)
    with Masks():
        gx, = torch.autograd.grad(conv(x1).square().sum(), x1)
    assert masks == [(True, False, False)] and conv.weight.grad is None
    masks.clear()
    x2 = x.clone().requires_grad_(True)
    with Masks():
        conv(x2).square().sum().backward()
    assert masks == [(True, True, True)] and torch.equal(x2.grad, gx)
