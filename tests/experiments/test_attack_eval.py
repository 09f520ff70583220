"""Attacks and the evaluation matrix: Table 5.1 labels, eps parsing, advset round trip and
provenance checks, clean-set evaluation == test accuracy, adaptive attacks through the STE."""
import pytest
import torch

from experiments.accuracy import evaluate
from experiments.advsets import load_advset, save_advset
from experiments.attacks import attack_names, run_attack
from experiments.checkpoints import load_model
from experiments.evaluation import run_eval
from experiments.parsing import parse_eps
from experiments.results import read_rows, write_rows
from experiments.scenarios import scenario
from experiments.train import TrainConfig, train
from helpers import learnable_cifar, remake_set


@pytest.mark.parametrize("src_arch,src_p,vic_arch,vic_p,want", [
    ("resnet8", "float", "resnet8", "float", "white-box"),
    ("resnet8", "quant", "resnet8", "approx", "partial white-box"),
    ("resnet8", "float", "resnet32", "float", "black-box"),          # other architecture, same parameters
    ("resnet56", "approx", "resnet20", "quant", "black-box"),        # other architecture, other parameters
])
def test_scenarios_of_table_5_1(src_arch, src_p, vic_arch, vic_p, want):
    assert scenario(src_arch, src_p, vic_arch, vic_p) == want
    assert scenario(src_arch, src_p, vic_arch, vic_p, adaptive=True) == "white-box"


def test_eps_parsing():
    assert parse_eps("8/255") == pytest.approx(8 / 255)
    assert parse_eps("0.031") == pytest.approx(0.031) and parse_eps(0.5) == 0.5
    for bad, msg in [("-1/255", "outside"), ("2", "outside"), ("abc", "cannot read"), ("1/0", "cannot read")]:
        with pytest.raises(ValueError, match=msg):
            parse_eps(bad)


def test_attack_names():
    names = attack_names()
    assert {"FGSM", "BIM", "PGD", "Square", "FFGSM", "AutoAttack"} <= set(names)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    d = tmp_path_factory.mktemp("pipe")
    data = str(learnable_cifar(d / "cifar", n=100))
    small = dict(batch_size=50, val_images=50, route="eager", data_dir=data)
    train(TrainConfig(arch="resnet8", exec_type="float", epochs=6, lr=0.05, subset=500, **small),
          d / "f.pt", progress=False, log=lambda *a: None)
    train(TrainConfig(arch="resnet8", exec_type="quant", init=str(d / "f.pt"), epochs=1, lr=0.01, subset=200, **small),
          d / "q.pt", progress=False, log=lambda *a: None)
    return d, data


def test_advset_round_trip_and_clean_eval(trained, tmp_path):
    d, data = trained
    from experiments.data import load_cifar10, to_float
    x, y = load_cifar10("test", data)
    model = load_model(d / "f.pt")
    acc = evaluate(model, x, y)
    assert acc > 0.3  # learnable classes: well above chance
    from experiments.advsets import dataset_fingerprint
    prov = {"source": str(d / "f.pt"), "source_arch": "resnet8", "source_params": "float", "source_exec": "float",
            "source_at": False, "attack": "none", "eps": 0.0, "alpha": 0, "steps": 0, "n": len(y),
            "dataset": dataset_fingerprint(y), "adaptive": False}
    save_advset(tmp_path / "clean.pt", to_float(x), y, prov, {})
    xi, yi, pi = load_advset(tmp_path / "clean.pt")
    assert torch.equal(xi, to_float(x)) and torch.equal(yi, y) and pi == prov
    rows = run_eval([d / "f.pt"], ["float"], [tmp_path / "clean.pt"], data_dir=data, log=lambda *a: None)
    assert rows[0]["adv_acc"] == rows[0]["std_acc"] == acc
    write_rows(rows, tmp_path / "r.csv")
    back = read_rows(tmp_path / "r.csv")
    assert back[0]["scenario"] == "white-box" and float(back[0]["adv_acc"]) == acc


def test_transfer_and_adaptive_attacks(trained, tmp_path):
    d, data = trained
    info = run_attack(d / "f.pt", "float", "pgd", tmp_path / "pgd.pt", n=60, data_dir=data, progress=False,
                      log=lambda *a: None)
    m = info["metrics"]
    assert m["source_adv_acc"] < m["source_std_acc"] and m["max_perturbation"] <= 8 / 255 + 1e-6
    # adaptive: the attack differentiates through the approx layers' straight-through gradients
    ad = run_attack(d / "q.pt", "approx", "fgsm", tmp_path / "ad.pt", n=60, data_dir=data, adaptive=True, levels=20,
                    calib_images=100, progress=False, log=lambda *a: None)["metrics"]
    assert ad["source_adv_acc"] < ad["source_std_acc"]
    sq = run_attack(d / "q.pt", "quant", "square", tmp_path / "sq.pt", n=20, data_dir=data, adaptive=True,
                    progress=False, log=lambda *a: None)["metrics"]
    assert sq["max_perturbation"] <= 8 / 255 + 1e-6
    rows = run_eval([d / "f.pt", d / "q.pt"], ["float", "approx"], [tmp_path / "pgd.pt", tmp_path / "ad.pt"],
                    data_dir=data, calib_images=100, log=lambda *a: None)
    assert len(rows) == 8
    labels = {(r["victim_params"], r["advset"].endswith("ad.pt")): r["scenario"] for r in rows}
    assert labels[("float", False)] == "white-box" and labels[("quant", False)] == "partial white-box"
    assert labels[("quant", True)] == "white-box"         # adaptive, on this very victim
    assert labels[("float", True)] == "partial white-box"  # quant-params attack seen by a float-params victim


def test_batch_size_is_the_thesis_and_part_of_the_skip_key(trained, tmp_path):
    """quant outputs depend on the batch: attacks and evaluations default to the thesis's 100, record it,
    and redo the work when it changes."""
    import json
    d, data = trained
    quiet = dict(data_dir=data, log=lambda *a: None)
    run_attack(d / "q.pt", "quant", "fgsm", tmp_path / "a.pt", n=40, progress=False, **quiet)
    assert json.loads((tmp_path / "a.pt.json").read_text())["config"]["batch_size"] == 100
    said = []
    run_attack(d / "q.pt", "quant", "fgsm", tmp_path / "a.pt", n=40, progress=False, data_dir=data, log=said.append)
    assert "skipped" in said[0]
    said.clear()
    run_attack(d / "q.pt", "quant", "fgsm", tmp_path / "a.pt", n=40, batch_size=20, progress=False, data_dir=data,
               log=said.append)
    assert not any("skipped" in m for m in said)
    assert json.loads((tmp_path / "a.pt.json").read_text())["config"]["batch_size"] == 20
    rows = run_eval([d / "q.pt"], ["quant"], [tmp_path / "a.pt"], **quiet)
    assert rows[0]["batch_size"] == 100


def test_advset_of_another_dataset_refused(trained, tmp_path):
    d, data = trained
    run_attack(d / "f.pt", "float", "fgsm", tmp_path / "a.pt", n=30, data_dir=data, progress=False, log=lambda *a: None)
    other = learnable_cifar(tmp_path / "other", n=100, seed=9)
    with pytest.raises(ValueError, match="made from another dataset"):
        run_eval([d / "f.pt"], ["float"], [tmp_path / "a.pt"], data_dir=str(other), log=lambda *a: None)
    (tmp_path / "junk.pt").write_bytes(b"not a torch file")
    with pytest.raises(ValueError, match=r"not a readable adversarial set \(not a torch file\)"):
        load_advset(tmp_path / "junk.pt")


def test_advset_saved_with_autograd_loads_detached(tmp_path):
    # sets made before generate() detached its batches were saved with requires_grad (AutoAttack's): they load as
    # plain data, so checking and scoring them builds no graph
    from experiments.advsets import dataset_fingerprint
    y = torch.arange(10) % 10
    x = torch.rand(10, 3, 32, 32, requires_grad=True) * 1.0
    prov = {"source": "s.pt", "attack": "autoattack", "eps": 8 / 255, "dataset": dataset_fingerprint(y)}
    save_advset(tmp_path / "g.pt", x, y, prov, {})
    xi, yi, _ = load_advset(tmp_path / "g.pt")
    assert not xi.requires_grad and xi.grad_fn is None and torch.equal(xi, x.detach()) and torch.equal(yi, y)


def test_attacks_and_evaluations_run_without_tf32(trained, tmp_path, monkeypatch):
    """A GPU's TF32 convolutions (PyTorch's default) are off while an attack or an evaluation runs, and back on
    afterwards (training keeps them): with them an H100's FGSM set from a quant ResNet-8 differed from the
    CPU's in 3.3 % of its pixels, without them in 0.01 %. The flags are plain globals, so a CPU shows it."""
    import experiments.attacks as attacks
    import experiments.evaluation as evaluation
    d, data = trained
    seen = []

    def spy(kind, real):
        def call(*a, **k):
            seen.append((kind, torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32))
            return real(*a, **k)
        return call
    monkeypatch.setattr(attacks, "make_attack", spy("attack", attacks.make_attack))
    monkeypatch.setattr(evaluation, "evaluate", spy("eval", evaluation.evaluate))
    saved = torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32  # not monkeypatch: torch's
    torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = True  # cuBLAS flag cannot be deleted
    try:
        run_attack(d / "f.pt", "float", "fgsm", tmp_path / "s.pt", n=20, data_dir=data, progress=False,
                   log=lambda *a: None)
        run_eval([d / "f.pt"], ["float"], [tmp_path / "s.pt"], data_dir=data, log=lambda *a: None)
        assert torch.backends.cudnn.allow_tf32 and torch.backends.cuda.matmul.allow_tf32  # restored
    finally:
        torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32 = saved
    assert {k for k, *_ in seen} == {"attack", "eval"}
    assert all(conv is False and mm is False for _, conv, mm in seen)


def test_exact_fp32_overlapping_users_restore_once():
    """Two overlapping users (a search's evaluation threads) that leave in the other order: the flags stay off
    until the last one leaves, then come back as they were."""
    from experiments.machine import exact_fp32
    saved = torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32
    torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = True
    try:
        a, b = exact_fp32(), exact_fp32()
        a.__enter__()
        b.__enter__()
        a.__exit__(None, None, None)
        assert not torch.backends.cudnn.allow_tf32 and not torch.backends.cuda.matmul.allow_tf32
        b.__exit__(None, None, None)
        assert torch.backends.cudnn.allow_tf32 and torch.backends.cuda.matmul.allow_tf32
    finally:
        torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32 = saved


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no GPU on this machine")
@pytest.mark.parametrize("exec_type", ["float", "quant", "approx"])
def test_gpu_attack_and_evaluation_equal_the_cpu_s(trained, tmp_path, exec_type):
    """Sets and evaluations made on a GPU are the CPU's, but for the rare pixel whose gradient's sign a reordered
    float sum flips, and the rare image whose logits it swaps (TF32 is off in attacks and evaluations: with it,
    a quant victim's set differed in 3.3 % of its pixels on an H100)."""
    d, data = trained
    src = d / ("f.pt" if exec_type == "float" else "q.pt")
    sets = {}
    for dev in ("cpu", "cuda"):
        run_attack(src, exec_type, "fgsm", tmp_path / f"{dev}.pt", n=100, data_dir=data, calib_images=50, progress=False,
                   log=lambda *a: None, device=dev)
        sets[dev], labels, _ = load_advset(tmp_path / f"{dev}.pt")
        assert sets[dev].device.type == "cpu"
    assert float((sets["cpu"] == sets["cuda"]).float().mean()) >= 0.99
    rows = {dev: run_eval([src], [exec_type], [tmp_path / "cpu.pt"], data_dir=data, calib_images=50,
                          log=lambda *a: None, device=dev)[0] for dev in ("cpu", "cuda")}
    for k in ("std_acc", "adv_acc"):
        assert abs(rows["cpu"][k] - rows["cuda"][k]) <= 0.02


def test_killed_attack_resumes_to_the_uninterrupted_set(trained, tmp_path, monkeypatch):
    """PGD's random starts draw from torch's generator: a run killed after its third batch, continued with
    --resume, writes the very set an uninterrupted run writes; without --resume or --restart it is refused."""
    import experiments.attacks as attacks
    d, data = trained
    kw = dict(n=60, batch_size=10, data_dir=data, progress=False, log=lambda *a: None)
    run_attack(d / "f.pt", "float", "pgd", tmp_path / "whole.pt", **kw)
    monkeypatch.setattr(attacks, "SAVE_EVERY_S", 0.0)  # a state after every batch
    real, calls = attacks.make_attack, []

    def dying(model, name, **params):
        atk = real(model, name, **params)

        def call(x, y):
            calls.append(1)
            if len(calls) == 4:
                raise KeyboardInterrupt  # killed during the fourth batch
            return atk(x, y)
        return call
    monkeypatch.setattr(attacks, "make_attack", dying)
    with pytest.raises(KeyboardInterrupt):
        run_attack(d / "f.pt", "float", "pgd", tmp_path / "cut.pt", **kw)
    monkeypatch.setattr(attacks, "make_attack", real)
    assert not (tmp_path / "cut.pt").exists()
    assert attacks.AttackState(tmp_path / "cut.pt", {}, {}).done() == 30
    with pytest.raises(ValueError, match="holds an interrupted attack .30 of 60 images.; continue it with --resume"):
        run_attack(d / "f.pt", "float", "pgd", tmp_path / "cut.pt", **kw)
    said = []
    run_attack(d / "f.pt", "float", "pgd", tmp_path / "cut.pt", resume=True, **{**kw, "log": said.append})
    assert any("continuing after 30 of 60 images" in m for m in said)
    whole, _, _ = load_advset(tmp_path / "whole.pt")
    cut, _, _ = load_advset(tmp_path / "cut.pt")
    assert torch.equal(whole, cut)
    assert not (tmp_path / "cut.pt.state").exists() and not (tmp_path / "cut.pt.state.json").exists()
    # a state of another set (here: other eps) is not taken up: that run starts over
    with pytest.raises(KeyboardInterrupt):
        monkeypatch.setattr(attacks, "make_attack", dying)
        calls.clear()
        run_attack(d / "f.pt", "float", "pgd", tmp_path / "other.pt", **kw)
    monkeypatch.setattr(attacks, "make_attack", real)
    said.clear()
    run_attack(d / "f.pt", "float", "pgd", tmp_path / "other.pt", eps=4 / 255, resume=True, **{**kw, "log": said.append})
    assert any("another set" in m for m in said)


def test_attacks_leave_the_model_in_the_mode_they_found_it(trained):
    """torchattacks restores the mode it reads from the module it attacks; the compiled wrapper of a quant model
    reports its model's mode, so an attack on a model in eval mode leaves it (and its BatchNorm) in eval mode."""
    from experiments.attacks import generate
    from experiments.data import load_cifar10, to_float
    d, data = trained
    x, y = load_cifar10("test", data, limit=20)
    for path, exec_type in ((d / "q.pt", "quant"), (d / "f.pt", "float")):
        model = load_model(path, exec_type=exec_type)
        model.eval()
        generate(model, to_float(x), y, "fgsm", batch_size=10, progress=False)
        assert not model.training and not any(m.training for m in model.modules()), exec_type


def test_compiled_wrapper_mode_is_its_model_s():
    from emulator import resnet
    from experiments.compiled import Compiled
    m = resnet(8, "quant")
    c = Compiled(m, enabled=False)
    assert c.training and m.training
    m.eval()
    assert not c.training              # read from the model, never a flag of its own
    c.train()
    assert m.training and all(x.training for x in m.modules())
    c.eval()
    assert not m.training and not any(x.training for x in m.modules())


def test_generated_sets_carry_no_autograd_graph(monkeypatch):
    """An attack that returns images still on its graph (as AutoAttack's did on a quant victim) must not chain
    every batch's graph into the set: the set is plain data, equal to what the attack returned."""
    from experiments import attacks

    w = torch.ones((), requires_grad=True)
    monkeypatch.setattr(attacks, "make_attack", lambda model, name, **p: (lambda x, y: (x * w).clamp(0, 1)))
    x = torch.rand(25, 3, 32, 32)
    out = attacks.generate(torch.nn.Identity(), x, torch.zeros(25, dtype=torch.long), "fgsm", batch_size=10,
                           progress=False)
    assert not out.requires_grad and out.grad_fn is None and torch.equal(out, x)


def _counting_evaluate(monkeypatch, die_after: int | None = None) -> list:
    """Patch the evaluation's accuracy function to count its calls (and to be killed after `die_after`)."""
    import experiments.accuracy
    import experiments.evaluation as ev
    calls, real = [], experiments.accuracy.evaluate

    def counted(*a, **k):
        if die_after is not None and len(calls) == die_after:
            raise KeyboardInterrupt
        calls.append(1)
        return real(*a, **k)
    monkeypatch.setattr(ev, "evaluate", counted)
    return calls


def _two_victims_two_sets(d, data, tmp_path):
    """FGSM sets of 40 images from the float and the quant model, and eval_to_csv's first arguments for both
    victims in float and quant execution; `per_group`: the evaluations of one victim's execution type (its clean
    accuracy, then one per set)."""
    quiet = dict(data_dir=data, log=lambda *a: None)
    for src in ("f", "q"):
        run_attack(d / f"{src}.pt", "float" if src == "f" else "quant", "fgsm", tmp_path / f"{src}-set.pt", n=40,
                   progress=False, **quiet)
    sets = [tmp_path / "f-set.pt", tmp_path / "q-set.pt"]
    return quiet, sets, ([d / "f.pt", d / "q.pt"], ["float", "quant"], sets), 1 + len(sets)


def test_killed_evaluation_resumes_to_the_uninterrupted_table(trained, tmp_path, monkeypatch):
    """A run killed after its first victim keeps that victim's rows (OUT.progress, never a table); the next run
    measures only the rest and writes the very table an uninterrupted run writes."""
    import json

    from experiments.evaluation import eval_to_csv
    d, data = trained
    quiet, sets, args, per_group = _two_victims_two_sets(d, data, tmp_path)
    whole = eval_to_csv(*args, tmp_path / "whole.csv", **quiet)
    _counting_evaluate(monkeypatch, die_after=2 * per_group + 1)  # killed inside the second group... of victim 2
    with pytest.raises(KeyboardInterrupt):
        eval_to_csv(*args, tmp_path / "cut.csv", **quiet)
    assert not (tmp_path / "cut.csv").exists()
    kept = read_rows(tmp_path / "cut.csv.progress")
    assert len(kept) == 2 * len(sets)  # victim 1's two execution types
    assert json.loads((tmp_path / "cut.csv.progress.json").read_text())["complete"] is False
    calls = _counting_evaluate(monkeypatch)
    said = []
    rows = eval_to_csv(*args, tmp_path / "cut.csv", data_dir=data, log=said.append)
    assert len(calls) == 2 * per_group  # only victim 2 measured
    assert any("took 4 of 8 rows" in m for m in said)
    assert read_rows(tmp_path / "cut.csv") == read_rows(tmp_path / "whole.csv")
    assert [r["adv_acc"] for r in rows] == [r["adv_acc"] for r in whole]
    assert not (tmp_path / "cut.csv.progress").exists() and not (tmp_path / "cut.csv.progress.json").exists()
    meta = json.loads((tmp_path / "cut.csv.json").read_text())
    assert meta["reused_rows"] == 4 and len(meta["reused_hardware"]) == 1


def test_kept_rows_are_taken_on_a_set_made_again_by_its_recipe(trained, tmp_path, monkeypatch):
    """Sets are not committed, a killed evaluation's kept rows can be: on another machine the sets are made
    again by the same recipe, maybe a few pixels off. The kept rows are taken by the set's recipe, counted apart
    in the sidecar (and still after a second kill), and a set of another recipe is measured again."""
    import json

    from experiments.evaluation import eval_to_csv
    d, data = trained
    quiet, sets, args, per_group = _two_victims_two_sets(d, data, tmp_path)
    _counting_evaluate(monkeypatch, die_after=2 * per_group + 1)  # victim 1 kept
    with pytest.raises(KeyboardInterrupt):
        eval_to_csv(*args, tmp_path / "cut.csv", **quiet)
    remake_set(sets[0], change_image=3)  # the float source's set, as another machine makes it
    _counting_evaluate(monkeypatch, die_after=per_group)  # killed again: victim 2's first execution type kept
    said = []
    with pytest.raises(KeyboardInterrupt):
        eval_to_csv(*args, tmp_path / "cut.csv", data_dir=data, log=said.append)
    remade = [[str(d / "f.pt"), e, str(sets[0])] for e in ("float", "quant")]
    kept = json.loads((tmp_path / "cut.csv.progress.json").read_text())
    assert kept["rows"] == 6 and kept["remade_rows"] == remade
    calls = _counting_evaluate(monkeypatch)
    said = []
    eval_to_csv(*args, tmp_path / "cut.csv", data_dir=data, log=said.append)
    assert len(calls) == per_group  # only victim 2's second execution type
    assert any("took 6 of 8 rows" in m and "2 of them measured on an earlier make of their set" in m
               for m in said), said
    meta = json.loads((tmp_path / "cut.csv.json").read_text())
    assert meta["reused_on_remade_sets"] == 2 and meta["remade_rows"] == remade
    # another recipe (another eps, say) is another set: its kept rows are measured again
    _counting_evaluate(monkeypatch, die_after=2 * per_group + 1)
    with pytest.raises(KeyboardInterrupt):
        eval_to_csv(*args, tmp_path / "cut2.csv", **quiet)
    remake_set(sets[1], change_image=1, eps=4 / 255)
    calls = _counting_evaluate(monkeypatch)
    eval_to_csv(*args, tmp_path / "cut2.csv", **quiet)
    assert len(calls) == 2 * per_group + 2  # victim 2, and victim 1 against the new set (its clean rows kept)
    assert "reused_on_remade_sets" not in json.loads((tmp_path / "cut2.csv.json").read_text())


def test_a_grown_table_measures_only_its_new_rows(trained, tmp_path, monkeypatch):
    """A partial table that gains a set (or a victim) takes its earlier rows by content; a set remade with other
    bytes at the same path is measured again, a table edited after its sidecar gives nothing, --restart
    measures everything."""
    from experiments.evaluation import eval_to_csv
    d, data = trained
    quiet = dict(data_dir=data, log=lambda *a: None)
    kw = dict(n=40, progress=False, **quiet)
    run_attack(d / "f.pt", "float", "fgsm", tmp_path / "a.pt", **kw)
    run_attack(d / "q.pt", "quant", "fgsm", tmp_path / "b.pt", **kw)
    victims = [d / "f.pt", d / "q.pt"]
    eval_to_csv(victims, ["float"], [tmp_path / "a.pt"], tmp_path / "t.partial.csv", **quiet)
    calls = _counting_evaluate(monkeypatch)
    grown = eval_to_csv(victims, ["float"], [tmp_path / "a.pt", tmp_path / "b.pt"], tmp_path / "t.csv",
                        reuse_from=[tmp_path / "t.partial.csv"], **quiet)
    assert len(calls) == 2  # set b on each victim; the clean accuracies come with the reused rows
    fresh = eval_to_csv(victims, ["float"], [tmp_path / "a.pt", tmp_path / "b.pt"], tmp_path / "fresh.csv",
                        restart=True, reuse_from=[tmp_path / "t.csv"], **quiet)
    assert len(calls) == 2 + 2 * 3
    assert [(r["std_acc"], r["adv_acc"]) for r in grown] == [(r["std_acc"], r["adv_acc"]) for r in fresh]
    # set a made again with other bytes (eps 4/255) at the same path: its rows are measured again
    run_attack(d / "f.pt", "float", "fgsm", tmp_path / "a.pt", eps=4 / 255, **kw)
    calls.clear()
    eval_to_csv(victims, ["float"], [tmp_path / "a.pt", tmp_path / "b.pt"], tmp_path / "t.csv", **quiet)
    assert len(calls) == 2  # set a on each victim (clean accuracy reused)
    # a table changed after its sidecar was written gives no rows
    text = (tmp_path / "fresh.csv").read_text()
    (tmp_path / "fresh.csv").write_text(text.replace("white-box", "black-box", 1))
    calls.clear()
    said = []
    eval_to_csv(victims, ["float"], [tmp_path / "b.pt"], tmp_path / "u.csv", reuse_from=[tmp_path / "fresh.csv"],
                data_dir=data, log=said.append)
    assert len(calls) == 4 and any("changed since its sidecar" in m for m in said)


def test_a_set_made_again_is_the_same_file_and_keeps_its_tables(trained, tmp_path):
    """torch.save names a zip's inner folder after the file it writes (a temporary with a PID): every save of
    equal data had another sha256, so a set made again on the next machine made every table from it stale.
    Now equal data are equal bytes, and a table made from the first set is up to date with the second."""
    import shutil

    from experiments.evaluation import eval_to_csv
    from fileio import cached_digest
    d, data = trained
    quiet = dict(data_dir=data, log=lambda *a: None)
    run_attack(d / "f.pt", "float", "fgsm", tmp_path / "a.pt", n=30, progress=False, **quiet)
    eval_to_csv([d / "q.pt"], ["quant"], [tmp_path / "a.pt"], tmp_path / "t.csv", **quiet)
    first = cached_digest(tmp_path / "a.pt")
    shutil.move(tmp_path / "a.pt", tmp_path / "old.pt")
    (tmp_path / "a.pt.json").unlink()
    run_attack(d / "f.pt", "float", "fgsm", tmp_path / "a.pt", n=30, progress=False, **quiet)
    assert cached_digest(tmp_path / "a.pt") == first
    said = []
    eval_to_csv([d / "q.pt"], ["quant"], [tmp_path / "a.pt"], tmp_path / "t.csv", data_dir=data, log=said.append)
    assert any("up to date" in m for m in said)
