"""Eval-time fusion for approx ResNets on the CPU: the batch norm + ReLU after each convolution and the residual
add run in the convolution's own output pass (engines/tail.py: oneDNN's epilogue, else one C pass after) instead
of torch's pass per operation (batch norm, ReLU and the residual add took ~17 % of an approx ResNet-20
evaluation on one thread).

The values are torch's, bit for bit: the same float operations in the same order, and each batch norm is
checked once (per parameter values) against torch's own on a probe, in the rounding torch used (fused
multiply-add in its vectorised kernel); a module whose check fails runs through torch. Only where nothing
could notice the difference: eval mode, no gradient wanted, no hooks, approx execution with ReLU, float32 on
the CPU, no autocast. AXX_FUSE=0 turns it off (tests compare the two).
"""
from __future__ import annotations

import itertools
import os

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.nn.modules import module as M

from .engines.tail import Tail

_BN_PROBE = (2, 3, 3)  # probe images x height x width per channel: enough values to tell the roundings apart


def _lib():
    try:
        from .engines.build import load
        return load()
    except Exception:  # no compiler: torch's operations
        return None


_STRUCTURE = [0]  # bumped whenever any module anywhere gains a submodule: cached module lists are then remade


def _structure_changed(module, name, submodule):
    _STRUCTURE[0] += 1


_MODULE_HOOK = M.register_module_module_registration_hook(_structure_changed)


def _modules(model: nn.Module) -> list:
    """model.modules() as a list, kept until some module gains a submodule (a batch-1 query, as Square's, spent
    ~4 % of its forward walking the tree)."""
    hit = model.__dict__.get("_axx_modules")
    if hit is None or hit[0] != _STRUCTURE[0]:
        hit = (_STRUCTURE[0], list(model.modules()))
        model.__dict__["_axx_modules"] = hit
    return hit[1]


def applies(model: nn.Module, x: torch.Tensor) -> bool:
    """Whether model(x) may run fused: nothing could tell it from the plain forward."""
    if os.environ.get("AXX_FUSE", "1") == "0" or model.training or torch.compiler.is_compiling():
        return False
    if x.device.type != "cpu" or x.dtype != torch.float32 or model.__dict__.get("activation") != "relu":
        return False
    if torch.is_grad_enabled() and (x.requires_grad or any(p.requires_grad for p in model.parameters())):
        return False
    if M._global_forward_hooks or M._global_forward_pre_hooks or M._global_backward_hooks:
        return False
    if torch.is_autocast_enabled("cpu"):  # its casts would be the plain forward's to make: not worth the risk
        return False
    for m in _modules(model):
        d = m.__dict__
        if m._forward_hooks or m._forward_pre_hooks or m._backward_hooks or m._backward_pre_hooks:
            return False
        if d.get("exec_type", "approx") != "approx":
            return False
        if isinstance(m, nn.BatchNorm2d) and (m.training or m.running_mean is None or not m.affine):
            return False  # batch statistics, or none to fold
    return _lib() is not None


def _alphas(w: torch.Tensor, var: torch.Tensor, eps: float):
    """The ways torch may compute batch norm's scale weight / sqrt(var + eps) (its CPU kernel of torch 2.13:
    rsqrt, vectorised), most likely first."""
    yield (torch.rsqrt(var + eps) * w).contiguous()
    yield (1 / torch.sqrt(var + eps) * w).contiguous()


def _bn_terms(bn: nn.BatchNorm2d) -> tuple | None:
    """(alpha, beta, fused) with which eval batch norm computes z * alpha + beta as torch does, or None where
    the probe disagrees with torch. beta is read back from torch (its output for z = 0), so however torch rounds
    mean * alpha into it does not matter; the ways of making alpha (_alphas) and both roundings of the
    multiply-add are tried on a probe against F.batch_norm."""
    params = (bn.weight, bn.bias, bn.running_mean, bn.running_var)
    # the same tensors (held here, so no other can take their place) at the same writes, the same eps
    key = tuple((t.data_ptr(), t._version) for t in params) + (bn.eps,)
    hit = bn.__dict__.get("_axx_post")
    if hit is not None and hit[0] == key and all(a is b for a, b in zip(hit[1], params)):
        return hit[2]
    with torch.no_grad():
        c = bn.num_features
        w, b, mean, var = (t.detach() for t in params)
        beta = F.batch_norm(torch.zeros(1, c, 1, 1), mean, var, w, b, False, 0.0, bn.eps).reshape(c).contiguous()
        g = torch.Generator().manual_seed(c)
        probe = (torch.randn((_BN_PROBE[0], c) + _BN_PROBE[1:], generator=g) * 4
                 ).contiguous(memory_format=torch.channels_last)
        want = F.relu(F.batch_norm(probe, mean, var, w, b, False, 0.0, bn.eps))
        want = want.contiguous(memory_format=torch.channels_last).view(torch.int32)
        terms = None
        for alpha, fused in itertools.product(_alphas(w, var, bn.eps), (1, 0)):
            _, got = _terms_tail((alpha, beta, fused), keep=False).apply(probe.clone())
            if torch.equal(got.view(torch.int32), want):
                terms = (alpha, beta, fused)
                break
    bn.__dict__["_axx_post"] = (key, params, terms)
    return terms


def _terms_tail(terms: tuple, keep: bool, torch_ops=None, res: torch.Tensor | None = None) -> Tail:
    alpha, beta, fused = terms
    return Tail(res, alpha, beta, fused, keep, torch_ops)


def make_tail(res: torch.Tensor | None, bn: nn.BatchNorm2d | None, keep: bool) -> Tail:
    """The tail z = y (+ res), u = relu(bn(z)) of one convolution (see engines/tail.py): in C where bn's
    rounding was found, else through torch's operations."""
    def torch_ops(y: torch.Tensor) -> tuple:  # as the plain forward runs them
        z = y if res is None else y + res
        if bn is None:
            return z, None
        return (z if keep else None), F.relu(bn(z))

    if res is not None and not res.is_contiguous(memory_format=torch.channels_last):
        res = res.contiguous(memory_format=torch.channels_last)
    terms = None if bn is None else _bn_terms(bn)
    if bn is not None and terms is None:
        return Tail(None, None, None, 0, keep, torch_ops, torch_only=True)
    if bn is None:
        return Tail(res, None, None, 0, keep, torch_ops)
    return _terms_tail(terms, keep, torch_ops, res)


def tail(y: torch.Tensor, res: torch.Tensor | None, bn: nn.BatchNorm2d | None, keep: bool) -> tuple:
    """(z, u): z = y (+ res), the block's output (y itself, written in place; None unless keep), and
    u = relu(bn(z)), the next convolution's input (y's memory when z is not kept). bn None: u is None."""
    return make_tail(res, bn, keep).apply(y)


def forward(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """CifarResNet.forward with each convolution's tail fused (see the module's doc)."""
    blocks = [b for layer in (model.layer1, model.layer2, model.layer3) for b in layer]
    h, a = model.conv1.approx_output(model.normalize(x), make_tail(None, blocks[0].bn1, keep=True))
    for i, b in enumerate(blocks):
        _, t = b.conv1.approx_output(a, make_tail(None, b.bn2, keep=False))
        last = i + 1 == len(blocks)
        h, a = b.conv2.approx_output(t, make_tail(b.shortcut(h), model.bn if last else blocks[i + 1].bn1,
                                                  keep=not last))
    out = F.avg_pool2d(a, a.shape[-1]).flatten(1)
    return model.linear(out)


__all__ = ["applies", "forward", "make_tail", "tail"]
