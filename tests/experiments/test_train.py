"""Training: loss goes down in every execution type, the thesis's recipe (schedule, split, best-validation
checkpoint, sidecar), FGSM-RS semantics, resume == uninterrupted, compiled == eager, skip when the
artifact matches, bad input."""
import json

import pytest
import torch

from experiments.checkpoints import load_model
from experiments.train import TrainConfig, augment, lr_at, split, train
from helpers import die_at_second_validation, learnable_cifar

QUIET = dict(progress=False, log=lambda *a: None)
SMALL = dict(batch_size=50, val_images=50, route="eager")  # tiny data; compiling costs more than it saves here


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return str(learnable_cifar(tmp_path_factory.mktemp("cifar"), n=60))


@pytest.fixture(scope="module")
def base(data, tmp_path_factory):
    """Standard float parameters, the start of every fine-tune and adversarial training."""
    out = tmp_path_factory.mktemp("base") / "f.pt"
    train(TrainConfig(arch="resnet8", epochs=1, lr=0.05, subset=100, data_dir=data, **SMALL), out, **QUIET)
    return str(out)


@pytest.mark.parametrize("exec_type", ["float", "quant", "approx"])
def test_loss_goes_down(data, tmp_path, exec_type):
    cfg = TrainConfig(arch="resnet8", exec_type=exec_type, epochs=4, lr=0.05, subset=200, data_dir=data,
                      calib_images=100, **SMALL)
    meta = train(cfg, tmp_path / "m.pt", progress=False, log=lambda *a: None)
    losses = [h["train_loss"] for h in meta["history"]]
    assert losses[-1] < losses[0], losses
    side = json.loads((tmp_path / "m.pt.json").read_text())
    assert side["config"]["exec_type"] == exec_type and side["code_version"] and "test_accuracy" in side
    # the whole recipe, the seed, the hardware and the wall time
    rec = side["config"]
    assert (rec["epochs"], rec["lr"], rec["schedule"], rec["momentum"], rec["weight_decay"], rec["seed"]) == \
        (4, 0.05, "multistep", 0.9, 5e-4, 42)
    assert side["hardware"]["cpu"] and side["wall_time_s"] > 0 and side["val_images"] == 50
    assert side["train_images"] == 200 and side["test_images"] == 60 and side["activation"] == "relu"
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


def test_resume_equals_uninterrupted(data, base, tmp_path, monkeypatch):
    cfg = TrainConfig(arch="resnet8", exec_type="quant", epochs=2, lr=0.05, subset=100, at_eps=2 / 255, init=base,
                      data_dir=data, **SMALL)
    full = train(cfg, tmp_path / "a.pt", progress=False, log=lambda *a: None)
    # the same run killed after its first epoch
    die_at_second_validation(monkeypatch)
    with pytest.raises(KeyboardInterrupt):
        train(cfg, tmp_path / "b.pt", progress=False, log=lambda *a: None)
    assert (tmp_path / "b.pt.state").is_file() and not (tmp_path / "b.pt").exists()
    from experiments.machine import pace_key
    pace = torch.load(tmp_path / "b.pt.state", weights_only=True)["pace"]
    assert pace["machine"] == pace_key("cpu") and pace["epochs"] == 1 and pace["seconds"] > 0
    assert pace["latest"] == [pace["seconds"]]  # the epochs' own times, for projections
    # and the processor time each got (how much of it other jobs took): positive, at most the threads' time
    assert len(pace["latest_cpu"]) == 1 and 0 < pace["latest_cpu"][0] <= pace["seconds"] * torch.get_num_threads() + 1
    monkeypatch.undo()
    resumed = train(cfg, tmp_path / "b.pt", resume=True, progress=False, log=lambda *a: None)
    assert resumed["history"] == full["history"]
    a = torch.load(tmp_path / "a.pt", weights_only=True)["state_dict"]
    b = torch.load(tmp_path / "b.pt", weights_only=True)["state_dict"]
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_resume_keeps_the_route_only_where_it_was_timed_the_same_way(data, tmp_path, monkeypatch):
    """A resumed training on the same machine reuses its state's route unless that route was timed with another
    clock (or before states recorded it): two zoo trainings beside each other once chose eager under each other's
    load, and every restart kept it."""
    import experiments.train as tr

    cfg = TrainConfig(arch="resnet8", epochs=3, lr=0.05, subset=50, data_dir=data, **SMALL)
    timed = []

    def spy(model, c, x, y, log):
        timed.append(tr.route_clock(x.device))
        return "eager"

    def run(**kw):
        monkeypatch.undo()
        monkeypatch.setattr(tr, "choose_route", spy)
        if kw.pop("die", False):
            die_at_second_validation(monkeypatch)
            with pytest.raises(KeyboardInterrupt):
                train(cfg, tmp_path / "m.pt", progress=False, log=lambda *a: None, **kw)
        else:
            train(cfg, tmp_path / "m.pt", progress=False, log=lambda *a: None, **kw)

    run(die=True)                 # epoch 1, then killed
    assert len(timed) == 1 and torch.load(tmp_path / "m.pt.state", weights_only=True)["route_clock"] == timed[0]
    run(die=True, resume=True)    # epoch 2 on the same machine, the same clock: the state's route
    assert len(timed) == 1
    monkeypatch.undo()
    monkeypatch.setattr(tr, "choose_route", spy)
    monkeypatch.setattr(tr, "route_clock", lambda dev: "another")
    train(cfg, tmp_path / "m.pt", resume=True, progress=False, log=lambda *a: None)
    assert timed == [timed[0], "another"]  # timed otherwise: timed again


def test_skip_when_artifact_matches(data, tmp_path):
    cfg = TrainConfig(arch="resnet8", epochs=1, lr=0.05, subset=50, data_dir=data, **SMALL)
    train(cfg, tmp_path / "m.pt", progress=False, log=lambda *a: None)
    said = []
    train(cfg, tmp_path / "m.pt", progress=False, log=said.append)
    assert said and "skipped" in said[0]


def test_recipe_defaults_and_schedules():
    """The author's recipe from scratch: 128 epochs, batch 128, SGD 0.1 / 0.9 / 5e-4, x0.1 at epochs 64 and
    96, best validation kept; fine-tune and AT: 2 epochs at 5e-4 (AT with the step scheduler), last epoch kept."""
    c = TrainConfig(arch="resnet8").resolved()
    assert (c.epochs, c.batch_size, c.lr, c.momentum, c.weight_decay, c.keep, c.val_images) == \
        (128, 128, 0.1, 0.9, 5e-4, "best", 5000)
    assert [lr_at(c, e, 0, 10) for e in (0, 63, 64, 95, 96, 127)] == pytest.approx([0.1, 0.1, 0.01, 0.01, 1e-3, 1e-3])
    # by step, as the author's per-batch MultiStepLR: mid-epoch where 75 % of the steps falls inside one
    m2 = TrainConfig(arch="resnet8", epochs=2, schedule="multistep").resolved()
    assert [lr_at(m2, e, s, 10) for e, s in ((0, 9), (1, 0), (1, 4), (1, 5))] == pytest.approx([0.1, 0.01, 0.01, 1e-3])
    m3 = TrainConfig(arch="resnet8", epochs=100, schedule="multistep3").resolved()
    assert [lr_at(m3, e, 0, 10) for e in (0, 50, 75, 90, 99)] == pytest.approx([0.1, 0.01, 0.001, 1e-4, 1e-4])
    cy = TrainConfig(arch="resnet8", epochs=10, schedule="cyclic").resolved()
    assert lr_at(cy, 5, 0, 10) == pytest.approx(0.1) and lr_at(cy, 0, 0, 10) == pytest.approx(1e-4)
    for ft in (TrainConfig(arch="resnet20", init="x.pt").resolved(),
               TrainConfig(arch="resnet20", init="x.pt", at_eps=1 / 255).resolved()):
        assert (ft.epochs, ft.lr, ft.keep) == (2, 5e-4, "last")
    ft = TrainConfig(arch="resnet20", init="x.pt").resolved()
    assert [lr_at(ft, e, s, 10) for e in (0, 1) for s in (0, 9)] == [5e-4] * 4  # fine-tune: constant
    # AT: thesis 4.3.2's "step scheduler" (fast_adversarial's per-batch MultiStepLR at 50 % and 75 % of the steps)
    at = TrainConfig(arch="resnet20", init="x.pt", at_eps=1 / 255).resolved()
    assert at.schedule == "multistep"
    assert [lr_at(at, e, s, 10) for e, s in ((0, 9), (1, 0), (1, 5))] == pytest.approx([5e-4, 5e-5, 5e-6])


def test_fixed_train_validation_split():
    tr, val = split(50_000, 5_000)
    assert len(tr) == 45_000 and len(val) == 5_000 and len(set(tr.tolist()) | set(val.tolist())) == 50_000
    torch.manual_seed(123)  # the training seed does not move it
    tr2, val2 = split(50_000, 5_000)
    assert torch.equal(val, val2) and torch.equal(tr, tr2)
    with pytest.raises(ValueError, match="leaves no training images"):
        split(100, 100)


def test_augment_on_uint8_batches():
    x = torch.randint(0, 256, (8, 3, 32, 32), dtype=torch.uint8)
    a = augment(x, torch.Generator().manual_seed(0))
    assert a.dtype == torch.uint8 and a.shape == x.shape and not torch.equal(a, x)
    # every output is a 32x32 window of the zero-padded image, maybe mirrored
    padded = torch.nn.functional.pad(x, (4, 4, 4, 4))
    for i in range(8):
        wins = [padded[i, :, dy:dy + 32, dx:dx + 32] for dy in range(9) for dx in range(9)]
        assert any(torch.equal(a[i], w) or torch.equal(a[i], w.flip(2)) for w in wins)
    # the same as on float images
    assert torch.equal(augment(x.float(), torch.Generator().manual_seed(0)), a.float())


def test_best_validation_checkpoint_is_kept(data, tmp_path, monkeypatch):
    import copy

    import experiments.train as tr
    real, seen, scores = tr.evaluate, [], iter([0.5, 0.9, 0.7])

    def scripted(model, x, y, batch_size):
        if len(x) == 50:  # the validation split: remember the weights, report a scripted accuracy
            seen.append(copy.deepcopy(model.state_dict()))
            return next(scores)
        return real(model, x, y, batch_size)

    monkeypatch.setattr(tr, "evaluate", scripted)
    meta = train(TrainConfig(arch="resnet8", epochs=3, lr=0.05, subset=100, data_dir=data, **SMALL), tmp_path / "m.pt",
                 **QUIET)
    assert meta["kept_epoch"] == 2 and meta["val_accuracy"] == 0.9
    got = torch.load(tmp_path / "m.pt", weights_only=True)["state_dict"]
    assert all(torch.equal(got[k], seen[1][k]) for k in got) and not all(torch.equal(got[k], seen[2][k]) for k in got)


def test_fgsm_rs_perturbation_uses_batch_statistics():
    """Wong et al. compute the perturbation with the model in training mode, BatchNorm included."""
    from emulator import resnet
    from experiments.compiled import Compiled
    from experiments.train import _fgsm_rs

    model = resnet(8, "quant").train()
    modes = []
    for bn in (m for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d)):
        bn.register_forward_pre_hook(lambda mod, inp: modes.append(mod.training))
    attack = _fgsm_rs(Compiled(model, enabled=False), 2 / 255)
    x, y = torch.rand(4, 3, 32, 32), torch.randint(0, 10, (4,))
    adv = attack(x, y)
    assert modes and all(modes) and model.training
    assert float((adv - x).abs().max()) <= 2 / 255 + 1e-6 and not torch.equal(adv, x)


@pytest.mark.parametrize("device", ["cpu", pytest.param("cuda", marks=pytest.mark.skipif(
    not torch.cuda.is_available(), reason="no GPU on this machine"))])
@pytest.mark.parametrize("exec_type", ["float", "quant"])
def test_compiled_equals_eager(exec_type, device, monkeypatch):
    """torch.compile changes the arithmetic's order only: the loss and the gradients differ from eager's by no
    more than float tolerance or eager float32's from float64's (a quant network's rounding makes both sensitive
    to the last bit of any reordering: on an H200 the quant loss moved by 1.3e-4 of itself, and eager float32's
    is 3.7e-4 from float64's on a CPU)."""
    from emulator import resnet
    from experiments.compiled import Compiled

    monkeypatch.setenv("AXX_COMPILE", "1")
    monkeypatch.setattr(torch.backends.cudnn, "allow_tf32", False)  # compare the functions, not TF32's rounding
    torch.manual_seed(0)
    model = resnet(8, exec_type).train().to(device)
    x, y = torch.rand(16, 3, 32, 32, device=device), torch.randint(0, 10, (16,), device=device)
    said = []
    assert Compiled(model).active

    def run(fn, xb):
        model.zero_grad()
        loss = torch.nn.functional.cross_entropy(fn(xb), y)
        loss.backward()
        return loss.detach().double(), [p.grad.detach().double().clone() for p in model.parameters()]

    eager = run(Compiled(model, False, said.append), x)
    compiled = run(Compiled(model, True, said.append), x)
    model.double()
    exact = run(model, x.double())
    model.float()
    assert not said  # compiled without falling back to eager

    def rel(a, b):
        return max(float((p - q).norm() / q.norm()) for p, q in zip(a[1], b[1]))

    assert abs(compiled[0] - eager[0]) <= max(1e-4 * abs(eager[0]), 2 * abs(eager[0] - exact[0]))
    assert rel(compiled, eager) <= max(1e-4, 2 * rel(eager, exact))


@pytest.mark.parametrize("kw,msg", [
    ({"arch": "resnet18"}, "choose one of resnet8, resnet20, resnet32, resnet56"),
    ({"arch": "resnet8", "exec_type": "int4"}, "choose one of float, quant, approx"),
    ({"arch": "resnet8", "init": "x.pt", "at_eps": 2.0}, r"--at-eps must be in \(0, 1\]"),
    ({"arch": "resnet8", "at_eps": 1 / 255}, "--at-eps needs --init"),
    ({"arch": "resnet8", "init": "x.pt", "at_alpha": 1 / 255}, "--at-alpha needs --at-eps"),
    ({"arch": "resnet8", "init": "x.pt", "at_eps": 1 / 255, "at_alpha": 0}, r"--at-alpha must be in \(0, 1\]"),
    ({"arch": "resnet8", "batch_size": 0}, "batch size must be >= 1"),
    ({"arch": "resnet8", "schedule": "cosine"}, "unknown schedule 'cosine'"),
    ({"arch": "resnet8", "activation": "gelu"}, "unknown activation 'gelu'"),
])
def test_bad_config(kw, msg):
    with pytest.raises(ValueError, match=msg):
        TrainConfig(**kw).resolved()


def test_checkpoint_of_another_arch(data, tmp_path):
    cfg = TrainConfig(arch="resnet8", epochs=1, lr=0.05, subset=50, data_dir=data, **SMALL)
    train(cfg, tmp_path / "m.pt", progress=False, log=lambda *a: None)
    with pytest.raises(ValueError, match="is resnet8, not resnet20"):
        load_model(tmp_path / "m.pt", arch="resnet20")
    with pytest.raises(ValueError, match="checkpoint .*m.pt is resnet8 but the model is resnet20"):
        train(TrainConfig(arch="resnet20", init=str(tmp_path / "m.pt"), epochs=1, subset=50, data_dir=data, **SMALL),
              tmp_path / "n.pt", progress=False, log=lambda *a: None)
    with pytest.raises(ValueError, match="trained with the relu activation but the model uses pact"):
        train(TrainConfig(arch="resnet8", init=str(tmp_path / "m.pt"), activation="pact", epochs=1, subset=50,
                          data_dir=data, **SMALL), tmp_path / "p.pt", progress=False, log=lambda *a: None)
    assert not (tmp_path / "p.pt").exists()


def test_bf16_needs_a_cpu_with_native_bf16():
    from experiments.machine import native_bf16
    if native_bf16():
        assert TrainConfig(arch="resnet8", precision="bf16").resolved().precision == "bf16"
    else:
        with pytest.raises(ValueError, match="needs a CPU with native bf16"):
            TrainConfig(arch="resnet8", precision="bf16").resolved()


def test_quant_evaluation_and_attacks_run_compiled(monkeypatch):
    """evaluate() and the attacks call quant models through torch.compile: the same predictions as eager
    (up to the rare image whose logits a reordered rounding can swap) and the same perturbation budget."""
    from emulator import resnet
    from experiments.accuracy import evaluate
    from experiments.attacks import generate
    from experiments.compiled import compiled

    monkeypatch.setenv("AXX_COMPILE", "1")
    torch.manual_seed(0)
    model = resnet(8, "quant").eval()
    x = torch.rand(200, 3, 32, 32)
    with torch.no_grad():
        eager = model(x[:100]).argmax(1)
        y = eager.clone()
        assert compiled(model).active and compiled(model) is compiled(model)
        agree = float((compiled(model)(x[:100]).argmax(1) == eager).float().mean())
    assert agree >= 0.98
    assert evaluate(model, x[:100], y) >= 0.98
    adv = generate(model, x[:8], y[:8], "fgsm", batch_size=8, progress=False, eps=4 / 255)
    assert float((adv - x[:8]).abs().max()) <= 4 / 255 + 1e-6 and not torch.equal(adv, x[:8])


def test_route_auto_is_the_fastest_timed_here_and_leaves_the_model_as_it_was(monkeypatch):
    """...and load that came and went while the routes were timed does not decide: here every route's first
    round is slowed by 0.5 s per step, so the rates must come from the second round."""
    import copy
    import time as _time

    import experiments.train as tr
    from emulator import resnet
    from experiments.train import ROUTES, choose_route

    class Loaded(tr.Compiled):
        def forward(self, x):
            n = self.__dict__.setdefault("_calls", 0)
            self.__dict__["_calls"] = n + 1
            if n < 6:  # the first round's six steps
                _time.sleep(0.5)
            return super().forward(x)
    monkeypatch.setattr(tr, "Compiled", Loaded)
    monkeypatch.setenv("AXX_COMPILE", "1")
    torch.manual_seed(0)
    model = resnet(8, "quant")
    before = copy.deepcopy(model.state_dict())
    x, y = torch.randint(0, 256, (16, 3, 32, 32), dtype=torch.uint8), torch.randint(0, 10, (16,))
    said = []
    route = choose_route(model, TrainConfig(arch="resnet8").resolved(), x, y, said.append)
    assert route in ROUTES[1:] and said[-1].startswith("training route: eager") and route in said[-1]
    rates = [float(p.split()[1]) for p in said[-1].removeprefix("training route: ").split(" -> ")[0].split(", ")]
    assert len(rates) == 3 and min(rates) > 16 / 0.5  # faster than a slowed step: none kept from the first round
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items()) and model.training
    assert all(p.is_contiguous() for p in model.parameters())
    assert choose_route(model, TrainConfig(arch="resnet8", route="compiled").resolved(), x, y, said.append) == "compiled"
    assert choose_route(resnet(8, "approx"), TrainConfig(arch="resnet8").resolved(), x, y, said.append) == "eager"


def test_route_auto_with_one_thread_counts_the_process_cpu_time(monkeypatch):
    """One thread on a CPU (each zoo training beside another): the routes are timed in the process's CPU time,
    so other processes' load, which stretches the wall clock (here: every compiled step sleeps 0.5 s), does not
    decide for eager."""
    import time as _time

    import experiments.train as tr
    from emulator import resnet
    from experiments.train import choose_route

    class Loaded(tr.Compiled):
        def forward(self, x):
            if self.active:
                _time.sleep(0.5)
            return super().forward(x)
    monkeypatch.setattr(tr, "Compiled", Loaded)
    monkeypatch.setenv("AXX_COMPILE", "1")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        torch.manual_seed(0)
        x, y = torch.randint(0, 256, (16, 3, 32, 32), dtype=torch.uint8), torch.randint(0, 10, (16,))
        said = []
        choose_route(resnet(8, "quant"), TrainConfig(arch="resnet8").resolved(), x, y, said.append)
    finally:
        torch.set_num_threads(threads)
    assert said[-1].endswith("(process CPU time)")
    rates = dict(p.split()[:2] for p in said[-1].removeprefix("training route: ").split(" -> ")[0].split(", "))
    assert set(rates) == {"eager", "compiled", "compiled-cl"} and float(rates["compiled"]) > 16 / 0.5


needs_gpu = pytest.mark.skipif(not torch.cuda.is_available(), reason="no GPU on this machine")


def test_device_choices_and_clear_errors():
    from experiments.machine import resolve_device
    assert resolve_device("cpu") == torch.device("cpu")
    assert TrainConfig(arch="resnet8").resolved().device == ("cuda" if torch.cuda.is_available() else "cpu")
    with pytest.raises(ValueError, match="unknown device 'gpu0'"):
        resolve_device("gpu0")
    with pytest.raises(ValueError, match="unsupported device 'meta'"):
        resolve_device("meta")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="torch sees no CUDA GPU here"):
            TrainConfig(arch="resnet8", device="cuda").resolved()
    else:
        with pytest.raises(ValueError, match=r"torch sees \d GPU"):
            resolve_device(f"cuda:{torch.cuda.device_count()}")


def test_device_is_no_part_of_the_recipe(data, tmp_path):
    """A checkpoint trained on a GPU is up to date for the same recipe on a CPU (and the reverse); the
    sidecar says where it ran."""
    from experiments.train import train_config
    _, cpu_id, _ = train_config(TrainConfig(arch="resnet8", device="cpu"))
    _, auto_id, _ = train_config(TrainConfig(arch="resnet8", device="auto"))
    assert cpu_id == auto_id and "device" not in cpu_id
    cfg = TrainConfig(arch="resnet8", epochs=1, lr=0.05, subset=50, data_dir=data, device="cpu", **SMALL)
    meta = train(cfg, tmp_path / "m.pt", **QUIET)
    assert meta["device"] == "cpu" and meta["precision"] == "fp32"
    said = []
    train(TrainConfig(arch="resnet8", epochs=1, lr=0.05, subset=50, data_dir=data, **SMALL), tmp_path / "m.pt",
          progress=False, log=said.append)
    assert "skipped" in said[0]


@needs_gpu
def test_gpu_training_resumes_on_the_cpu_and_writes_cpu_tensors(data, base, tmp_path, monkeypatch):
    """A run killed on the GPU continues on the CPU (states hold CPU tensors); the batches are the same
    on both devices (augmentation draws from a CPU generator), so the loss curves agree closely."""
    kw = dict(arch="resnet8", exec_type="quant", epochs=2, lr=0.05, subset=100, at_eps=2 / 255, init=base,
              data_dir=data, **SMALL)
    cpu = train(TrainConfig(device="cpu", **kw), tmp_path / "cpu.pt", **QUIET)
    die_at_second_validation(monkeypatch)
    with pytest.raises(KeyboardInterrupt):
        train(TrainConfig(device="cuda", **kw), tmp_path / "g.pt", **QUIET)
    monkeypatch.undo()
    st = torch.load(tmp_path / "g.pt.state", weights_only=True)
    assert all(t.device.type == "cpu" for t in st["model"].values())
    meta = train(TrainConfig(device="cpu", **kw), tmp_path / "g.pt", resume=True, **QUIET)
    ck = torch.load(tmp_path / "g.pt", weights_only=True)["state_dict"]
    assert all(t.device.type == "cpu" for t in ck.values()) and meta["device"] == "cpu"
    assert [h["machine"].split(":")[0] for h in meta["history"]] == ["cuda", "cpu"]  # each epoch's machine
    gpu = train(TrainConfig(device="cuda", **kw), tmp_path / "g2.pt", **QUIET)
    assert gpu["device"].startswith("cuda (")
    for a, b in zip(cpu["history"], gpu["history"]):
        assert a["train_loss"] == pytest.approx(b["train_loss"], rel=0.05)


@needs_gpu
def test_augment_is_the_same_on_every_device():
    x = torch.randint(0, 256, (64, 3, 32, 32), dtype=torch.uint8)
    a = augment(x, torch.Generator().manual_seed(3))
    b = augment(x.cuda(), torch.Generator().manual_seed(3))
    assert b.device.type == "cuda" and torch.equal(a, b.cpu())


def test_fp16_parameter_storage_as_apex_o2_without_master_weights(data, base, tmp_path):
    """--param-dtype fp16: every weight outside BatchNorm (and its momentum) stays fp16-representable after each
    step, BatchNorm stays fp32, so an update below half an fp16 step of its weight is lost (the thesis author's
    float AT ran so). The default recipe's identity is unchanged by the option's existence."""
    from experiments.train import _half_storage, train_config
    _, ident, _ = train_config(TrainConfig(arch="resnet8"))
    assert "param_dtype" not in ident  # checkpoints made before the option stay up to date
    _, ident16, _ = train_config(TrainConfig(arch="resnet8", param_dtype="fp16"))
    assert ident16["param_dtype"] == "fp16"
    with pytest.raises(ValueError, match="unknown parameter dtype 'bf8'"):
        TrainConfig(arch="resnet8", param_dtype="bf8").resolved()

    # the rounding itself: a weight of 1.0 keeps 1.0 + 1e-4 (half a step is 2**-11 ~ 4.9e-4) as 1.0
    lin, bn = torch.nn.Linear(1, 1, bias=False), torch.nn.BatchNorm1d(1)
    model = torch.nn.Sequential(lin, bn)
    opt = torch.optim.SGD(model.parameters(), lr=1.0, momentum=0.9)
    with torch.no_grad():
        lin.weight.fill_(1.0 + 1e-4)
        bn.weight.fill_(1.0 + 1e-4)
    _half_storage(model, opt)
    assert lin.weight.item() == 1.0 and bn.weight.item() == pytest.approx(1.0 + 1e-4, abs=1e-7)

    cfg = TrainConfig(arch="resnet8", init=base, at_eps=1 / 255, epochs=1, subset=100, data_dir=data,
                      param_dtype="fp16", **SMALL)
    meta = train(cfg, tmp_path / "h.pt", **QUIET)
    assert meta["param_dtype"] == "fp16" and meta["config"]["param_dtype"] == "fp16"
    m = load_model(tmp_path / "h.pt")
    bn = [p for mod in m.modules() if isinstance(mod, torch.nn.BatchNorm2d) for p in mod.parameters()]
    assert bn and not all(torch.equal(p, p.half().float()) for p in bn)  # BatchNorm learns in fp32
    rest = [p for mod in m.modules() if not isinstance(mod, torch.nn.BatchNorm2d) for p in mod.parameters(recurse=False)]
    assert rest and all(torch.equal(p, p.half().float()) for p in rest)
    full = train(TrainConfig(arch="resnet8", init=base, at_eps=1 / 255, epochs=1, subset=100, data_dir=data,
                             **SMALL), tmp_path / "f.pt", **QUIET)
    assert full["test_accuracy"] is not None and "param_dtype" not in full["config"]


def test_fgsm_rs_step_size_option():
    """--at-alpha sets the FGSM-RS step (the author's scripts defaulted to 10/255); unset it is 1.25 eps and no
    part of the identity, so the zoo's checkpoints stay up to date."""
    from emulator import resnet
    from experiments.compiled import Compiled
    from experiments.train import _fgsm_rs, train_config
    step = Compiled(resnet(8, "float"), enabled=False)
    assert _fgsm_rs(step, 1 / 255).alpha == pytest.approx(1.25 / 255)
    assert _fgsm_rs(step, 1 / 255, 10 / 255).alpha == pytest.approx(10 / 255)
    _, ident, _ = train_config(TrainConfig(arch="resnet8", init="x.pt", at_eps=1 / 255))
    assert "at_alpha" not in ident
    _, ident, _ = train_config(TrainConfig(arch="resnet8", init="x.pt", at_eps=1 / 255, at_alpha=10 / 255))
    assert ident["at_alpha"] == pytest.approx(10 / 255)
