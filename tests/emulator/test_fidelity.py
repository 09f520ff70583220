"""The execution types as the thesis defines them (thesis 4.1-4.2, the author's code), each point
checked against its definition: quant activations, 32-bit biases, the exact float classifier of
approx models, calibration on float activations, and PACT kept as an option apart."""
import pytest
import torch
import torch.nn.functional as F

from emulator import calibrate, load_state, resnet
from emulator.configure import approx_convs
from emulator.layers import Act, AxLinear
from emulator.quant import fake_quant


def test_quant_activation_is_relu_of_the_dynamically_fake_quantized_input():
    torch.manual_seed(0)
    x = torch.randn(4, 8, 5, 5) * 3
    act = Act("quant")
    s = 127 / x.abs().max()
    want = F.relu(torch.clamp(torch.round(x * s), -128, 127) / s)
    assert torch.equal(act(x), want)
    assert not list(act.parameters())  # no learnable clip
    assert not any(k.endswith(".alpha") for k in resnet(8, "quant").state_dict())


def test_approx_activation_is_plain_relu_and_the_classifier_exact_float():
    torch.manual_seed(1)
    x = torch.randn(6, 64)
    assert torch.equal(Act("approx")(x.view(6, 64, 1, 1)), F.relu(x.view(6, 64, 1, 1)))
    lin = AxLinear(64, 10, exec_type="approx")  # no calibration needed: nothing is quantized
    assert torch.equal(lin(x), F.linear(x, lin.weight, lin.bias))


def test_quant_linear_bias_is_fake_quantized_to_32_bits():
    torch.manual_seed(2)
    lin = AxLinear(64, 10, exec_type="quant")
    lin.bias.data = torch.randn(10) * 0.37
    x = torch.randn(5, 64)
    want = F.linear(fake_quant(x, 8), fake_quant(lin.weight, 8), fake_quant(lin.bias, 32))
    assert torch.equal(lin(x), want)
    assert not torch.equal(lin(x), F.linear(fake_quant(x, 8), fake_quant(lin.weight, 8), fake_quant(lin.bias, 8)))


def test_calibration_observes_the_float_activations():
    """Each conv's static scale is the 99.99th percentile of |its input| in the float model (within one
    histogram bin), not of PACT-clipped or fake-quantized inputs."""
    torch.manual_seed(3)
    x = torch.rand(64, 3, 32, 32)
    m = resnet(8, "approx")
    with torch.no_grad():
        for bn in (mod for mod in m.modules() if isinstance(mod, torch.nn.BatchNorm2d)):
            bn.running_mean.uniform_(-0.5, 0.5)  # some negative inputs: ReLU changes what convs see
    calibrate(m, x)
    fl = resnet(8, "float")
    fl.load_state_dict(m.state_dict())
    fl.eval()
    seen = {}
    hooks = [c.register_forward_pre_hook(lambda mod, inp: seen.update({mod: inp[0].abs().flatten()}))
             for c in approx_convs(fl)]
    with torch.no_grad():
        fl(x)
    for h in hooks:
        h.remove()
    for ca, cf in zip(approx_convs(m), approx_convs(fl)):
        v = seen[cf]
        want = float(torch.quantile(v, 0.9999))
        assert abs(float(ca.act_amax) - want) <= 2 * float(v.max()) / 2048  # two histogram bins


def test_pact_is_an_option_and_checkpoints_do_not_cross():
    p = resnet(8, "quant", activation="pact")
    assert sum(k.endswith(".alpha") for k in p.state_dict()) == 7  # 2 per block + the final one
    with pytest.raises(ValueError, match="trained with the pact activation but the model uses relu"):
        load_state(resnet(8, "quant"), p.state_dict())
    with pytest.raises(ValueError, match="trained with the relu activation but the model uses pact"):
        load_state(resnet(8, "approx", activation="pact"), {"arch": "resnet8", "activation": "relu",
                                                            "state_dict": resnet(8).state_dict()})
    with pytest.raises(ValueError, match="unknown activation 'gelu'"):
        resnet(8, activation="gelu")
