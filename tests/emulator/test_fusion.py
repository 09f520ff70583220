"""The fused eval tail of approx ResNets (emulator/fusion.py): bit for bit the plain forward's values, and only
where nothing could tell the two apart."""
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings, strategies as st

from emulator import calibrate, fusion, resnet


def _model(depth: int, seed: int, level) -> torch.nn.Module:
    """A trained-looking approx ResNet: random weights and batch-norm statistics (so every affine term matters),
    calibrated on random images."""
    g = torch.Generator().manual_seed(seed)
    m = resnet(depth, "approx")
    with torch.no_grad():
        for mod in m.modules():
            if isinstance(mod, torch.nn.BatchNorm2d):
                c = mod.num_features
                mod.weight.copy_(torch.rand(c, generator=g) + 0.5)
                mod.bias.copy_(torch.randn(c, generator=g) * 0.3)
                mod.running_mean.copy_(torch.randn(c, generator=g) * 0.5)
                mod.running_var.copy_(torch.rand(c, generator=g) + 0.05)
    calibrate(m, torch.rand(32, 3, 32, 32, generator=g))
    m.set_levels(level)
    return m.eval()


def _both(m, x, monkeypatch):
    with torch.no_grad():
        monkeypatch.setenv("AXX_FUSE", "0")
        plain = m(x)
        monkeypatch.setenv("AXX_FUSE", "1")
        assert fusion.applies(m, x)
        fused = m(x)
    return plain, fused


def _bits(t: torch.Tensor) -> torch.Tensor:
    return t.contiguous().view(torch.int32)


@settings(max_examples=6, deadline=None)
@given(depth=st.sampled_from([8, 20]), seed=st.integers(0, 2 ** 16), batch=st.sampled_from([1, 3, 17]),
       level=st.one_of(st.sampled_from([0, 255]), st.integers(0, 255), st.lists(st.integers(0, 255), min_size=7,
                                                                                   max_size=7)))
def test_fused_forward_equals_the_plain_forward_bit_for_bit(depth, seed, batch, level):
    if isinstance(level, list) and depth != 8:
        level = level[0]
    mp = pytest.MonkeyPatch()
    try:
        m = _model(depth, seed, level)
        x = torch.rand(batch, 3, 32, 32, generator=torch.Generator().manual_seed(seed + 1))
        plain, fused = _both(m, x, mp)
        assert torch.equal(_bits(plain), _bits(fused))
        # and it was the C tail that made them: each batch norm's rounding was found
        assert all(fusion._bn_terms(b) is not None for b in m.modules() if isinstance(b, torch.nn.BatchNorm2d))
    finally:
        mp.undo()


@pytest.mark.parametrize("route", ["onednn", "vnni", "avx2", "int_mm"])
def test_fused_forward_on_every_route_and_two_threads(monkeypatch, route):
    """oneDNN's route applies the tail in its epilogue's pass, the others after; the library route's outputs
    are not channels-last (torch's operations then). A route this CPU lacks: the engine's own choice."""
    from emulator.engines import fast
    monkeypatch.setenv("AXX_FAST_ROUTE", route)
    m = _model(8, 3, 77)
    x = torch.rand(9, 3, 32, 32, generator=torch.Generator().manual_seed(4))
    threads = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        plain, fused = _both(m, x, monkeypatch)
        assert torch.equal(_bits(plain), _bits(fused))
    finally:
        torch.set_num_threads(threads)
    if route == "onednn" and fast.onednn_available():
        calls = []
        orig = fusion.Tail.apply
        monkeypatch.setattr(fusion.Tail, "apply", lambda self, y: calls.append(1) or orig(self, y))
        with torch.no_grad():
            assert torch.equal(_bits(m(x)), _bits(plain))
        assert len(calls) <= 1, calls  # the tails went through the epilogue (a network's first layer may not)


def test_a_batch_norm_whose_check_fails_runs_through_torch(monkeypatch):
    m = _model(8, 5, 100)
    bad = m.layer1[0].bn2
    orig = fusion._alphas

    def wrong(w, var, eps):  # no way of making alpha matches torch for this module
        for a in orig(w, var, eps):
            yield a * (1 + 2 ** -20) if w is not None and w.data_ptr() == bad.weight.data_ptr() else a
    monkeypatch.setattr(fusion, "_alphas", wrong)
    x = torch.rand(4, 3, 32, 32, generator=torch.Generator().manual_seed(6))
    plain, fused = _both(m, x, monkeypatch)
    assert fusion._bn_terms(bad) is None and fusion._bn_terms(m.layer1[0].bn1) is not None
    assert torch.equal(_bits(plain), _bits(fused))


def test_batch_norm_terms_follow_new_statistics():
    m = _model(8, 7, 0)
    bn = m.layer2[0].bn1
    first = fusion._bn_terms(bn)
    with torch.no_grad():
        bn.running_var.mul_(2)
    second = fusion._bn_terms(bn)
    assert not torch.equal(first[0], second[0])
    with torch.no_grad():
        x = torch.randn(2, bn.num_features, 4, 4).contiguous(memory_format=torch.channels_last)
        _, u = fusion.tail(x.clone(), None, bn, keep=True)
        assert torch.equal(_bits(u), _bits(F.relu(bn(x))))


def test_fusion_only_where_nothing_could_tell(monkeypatch):
    m = _model(8, 8, 30)
    x = torch.rand(2, 3, 32, 32)
    assert not fusion.applies(m, x)  # parameters want gradients: the forward builds autograd's graph
    with torch.no_grad():
        assert fusion.applies(m, x)
        m.train()
        assert not fusion.applies(m, x)
        m.eval()
        h = m.layer1[0].act1.register_forward_hook(lambda *a: None)
        assert not fusion.applies(m, x)  # a hook would miss its module's call
        h.remove()
        m.layer2[0].bn2.train()  # batch statistics in one module
        assert not fusion.applies(m, x)
        m.layer2[0].bn2.eval()
        assert fusion.applies(m, x)
        old = m.layer1[0].act1
        new = type(old)("approx", "relu")
        new.register_forward_pre_hook(lambda *a: None)
        m.layer1[0].act1 = new  # a module put in after the last look: the cached module list is remade
        assert not fusion.applies(m, x)
        m.layer1[0].act1 = old
        assert fusion.applies(m, x)
        assert not fusion.applies(m, x.double())
        with torch.autocast("cpu", torch.bfloat16):
            assert not fusion.applies(m, x)
        monkeypatch.setenv("AXX_FUSE", "0")
        assert not fusion.applies(m, x)
        monkeypatch.delenv("AXX_FUSE")
        m.set_exec_type("quant")
        assert not fusion.applies(m, x)
    m.set_exec_type("approx")
    for p in m.parameters():
        p.requires_grad_(False)
    assert fusion.applies(m, x)
    assert not fusion.applies(m, x.requires_grad_())  # an attack's input


@pytest.mark.parametrize("c", [3, 16, 17, 64, 300])
def test_the_c_tail_is_torchs_add_batch_norm_and_relu(c):
    g = torch.Generator().manual_seed(c)
    bn = torch.nn.BatchNorm2d(c).eval()
    with torch.no_grad():
        bn.weight.copy_(torch.randn(c, generator=g))
        bn.bias.copy_(torch.randn(c, generator=g))
        bn.running_mean.copy_(torch.randn(c, generator=g))
        bn.running_var.copy_(torch.rand(c, generator=g) + 0.01)
        y = (torch.randn(5, c, 3, 7, generator=g) * 3).contiguous(memory_format=torch.channels_last)
        y[0, 0, 0, :3] = torch.tensor([-0.0, float("nan"), 0.0])  # torch's ReLU keeps -0 and NaN
        r = torch.randn(5, c, 3, 7, generator=g).contiguous(memory_format=torch.channels_last)
        for res in (None, r):
            z_want = y if res is None else y + res
            u_want = F.relu(bn(z_want))
            terms = fusion._bn_terms(bn)
            if terms is None:  # a channel count torch handles apart (its vector tail): tail() uses torch's ops
                assert c % 16
            z, u = fusion.tail(y.clone(), res, bn, keep=True)
            assert torch.equal(_bits(z), _bits(z_want)) and torch.equal(_bits(u), _bits(u_want))
            z, u = fusion.tail(y.clone(), res, bn, keep=False)
            assert z is None and torch.equal(_bits(u), _bits(u_want))
            z, u = fusion.tail(y.clone(), res, None, keep=True)
            assert u is None and torch.equal(_bits(z), _bits(z_want))
