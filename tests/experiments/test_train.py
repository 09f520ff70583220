"""Training: loss goes down in every execution type, FGSM-RS semantics, resume == uninterrupted,
skip when the artifact matches, bad input."""
import json

import pytest
import torch

from experiments.checkpoints import load_model
from experiments.train import TrainConfig, augment, lr_at, train
from helpers import learnable_cifar


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return str(learnable_cifar(tmp_path_factory.mktemp("cifar"), n=60))


@pytest.mark.parametrize("exec_type", ["float", "quant", "approx"])
def test_loss_goes_down(data, tmp_path, exec_type):
    cfg = TrainConfig(arch="resnet8", exec_type=exec_type, epochs=4, lr=0.05, batch_size=50, subset=200,
                      data_dir=data, calib_images=100)
    meta = train(cfg, tmp_path / "m.pt", progress=False, log=lambda *a: None)
    losses = [h["train_loss"] for h in meta["history"]]
    assert losses[-1] < losses[0], losses
    side = json.loads((tmp_path / "m.pt.json").read_text())
    assert side["config"]["exec_type"] == exec_type and side["code_version"] and "test_accuracy" in side
    assert not (tmp_path / "m.pt.state").exists()
    m = load_model(tmp_path / "m.pt", exec_type="float")  # any execution type loads it
    assert m.exec_type == "float"


def test_fgsm_rs_step_semantics():
    """FGSM-RS as used for AT: uniform start u in [-eps, eps], one signed-gradient step of 1.25 eps
    taken at the start point, projection onto the eps-ball around x and onto [0, 1]. Replayed here
    from the same RNG state, the result must be identical; along the step's sign each coordinate
    then ends at clamp(u*g + 1.25 eps, -eps, eps): at +eps for 5/8 of them, never below eps/4."""
    import torchattacks
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(3 * 32 * 32, 10))
    x = torch.rand(16, 3, 32, 32) * 0.8 + 0.1
    y = torch.randint(0, 10, (16,))
    eps = 4 / 255
    state = torch.get_rng_state()
    adv = torchattacks.FFGSM(model, eps=eps, alpha=1.25 * eps)(x, y)
    torch.set_rng_state(state)
    start = torch.clamp(x + torch.randn_like(x).uniform_(-eps, eps), 0, 1).requires_grad_(True)
    g = torch.autograd.grad(torch.nn.functional.cross_entropy(model(start), y), start)[0].sign()
    want = torch.clamp(x + torch.clamp(start.detach() + 1.25 * eps * g - x, -eps, eps), 0, 1)
    assert torch.equal(adv, want)
    d = (adv - x) * g
    assert float(((d - eps).abs() < 1e-6).float().mean()) == pytest.approx(5 / 8, abs=0.02)
    assert bool((d >= eps / 4 - 1e-6).all())


def test_resume_equals_uninterrupted(data, tmp_path, monkeypatch):
    cfg = TrainConfig(arch="resnet8", exec_type="quant", epochs=2, lr=0.05, batch_size=50, subset=100,
                      at_eps=2 / 255, data_dir=data)
    full = train(cfg, tmp_path / "a.pt", progress=False, log=lambda *a: None)
    # the same run killed after its first epoch: the validation of epoch 2 raises
    import experiments.train as tr
    real = tr.evaluate
    calls = {"n": 0}

    def dying(*a, **k):
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt
        return real(*a, **k)

    monkeypatch.setattr(tr, "evaluate", dying)
    with pytest.raises(KeyboardInterrupt):
        train(cfg, tmp_path / "b.pt", progress=False, log=lambda *a: None)
    assert (tmp_path / "b.pt.state").is_file() and not (tmp_path / "b.pt").exists()
    monkeypatch.setattr(tr, "evaluate", real)
    resumed = train(cfg, tmp_path / "b.pt", resume=True, progress=False, log=lambda *a: None)
    assert resumed["history"] == full["history"]
    a = torch.load(tmp_path / "a.pt", weights_only=False)["state_dict"]
    b = torch.load(tmp_path / "b.pt", weights_only=False)["state_dict"]
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_skip_when_artifact_matches(data, tmp_path):
    cfg = TrainConfig(arch="resnet8", epochs=1, lr=0.05, batch_size=50, subset=50, data_dir=data)
    train(cfg, tmp_path / "m.pt", progress=False, log=lambda *a: None)
    said = []
    train(cfg, tmp_path / "m.pt", progress=False, log=said.append)
    assert said and "skipped" in said[0]


def test_schedules_and_augment():
    c = TrainConfig(arch="resnet8", epochs=100).resolved()
    assert [lr_at(c, e, 0, 10) for e in (0, 50, 75, 90, 99)] == pytest.approx([0.1, 0.01, 0.001, 1e-4, 1e-4])
    cy = TrainConfig(arch="resnet8", epochs=10, schedule="cyclic").resolved()
    assert lr_at(cy, 5, 0, 10) == pytest.approx(0.1) and lr_at(cy, 0, 0, 10) == pytest.approx(1e-4)
    ft = TrainConfig(arch="resnet20", init="x.pt").resolved()
    assert (ft.epochs, ft.lr) == (2, 5e-4)
    x = torch.rand(8, 3, 32, 32)
    a = augment(x, torch.Generator().manual_seed(0))
    assert a.shape == x.shape and not torch.equal(a, x)


@pytest.mark.parametrize("kw,msg", [
    ({"arch": "resnet18"}, "choose one of resnet8, resnet20, resnet32, resnet56"),
    ({"arch": "resnet8", "exec_type": "int4"}, "choose one of float, quant, approx"),
    ({"arch": "resnet8", "at_eps": 2.0}, r"--at-eps must be in \(0, 1\]"),
])
def test_bad_config(kw, msg):
    with pytest.raises(ValueError, match=msg):
        TrainConfig(**kw).resolved()


def test_checkpoint_of_another_arch(data, tmp_path):
    cfg = TrainConfig(arch="resnet8", epochs=1, lr=0.05, batch_size=50, subset=50, data_dir=data)
    train(cfg, tmp_path / "m.pt", progress=False, log=lambda *a: None)
    with pytest.raises(ValueError, match="is resnet8, not resnet20"):
        load_model(tmp_path / "m.pt", arch="resnet20")
    with pytest.raises(ValueError, match="checkpoint is resnet8 but the model is resnet20"):
        train(TrainConfig(arch="resnet20", init=str(tmp_path / "m.pt"), epochs=1, subset=50, data_dir=data),
              tmp_path / "n.pt", progress=False, log=lambda *a: None)
