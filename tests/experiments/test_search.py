"""NSGA-II search: objectives equal `axx eval`, all-zero levels are the exact model, energy of zeros,
resume == uninterrupted, process pool and Dask == serial, bad input."""
import csv

import json

import numpy as np
import pytest
import torch

from emulator import resnet
from experiments.attacks import run_attack
from experiments.energy import conv_macs, energy, power_per_level
from experiments.evaluation import run_eval
from experiments.search import GenomeEvaluator, SearchConfig, run_search
from experiments.train import TrainConfig, train
from helpers import die_at_second_call, learnable_cifar, remake_set


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    d = tmp_path_factory.mktemp("search")
    data = str(learnable_cifar(d / "cifar", n=80))
    q = lambda **kw: TrainConfig(arch="resnet8", batch_size=50, subset=400, data_dir=data, calib_images=100,  # noqa: E731
                                 val_images=40, route="eager", **kw)
    train(q(exec_type="quant", epochs=4, lr=0.05), d / "q.pt", progress=False, log=lambda *a: None)
    train(q(exec_type="approx", init=str(d / "q.pt"), epochs=1), d / "a.pt", progress=False, log=lambda *a: None)
    run_attack(d / "q.pt", "quant", "fgsm", d / "fgsm.pt", n=40, data_dir=data, progress=False, log=lambda *a: None)
    return d, data


def cfg(d, data, **kw):
    base = dict(victim=str(d / "a.pt"), advset=str(d / "fgsm.pt"), axx_levels=60, pop=6, gens=3, n_images=40,
                data_dir=data, calib_images=100, seed=3)
    base.update(kw)
    return SearchConfig(**base)


def test_objectives_equal_axx_eval(setup):
    d, data = setup
    levels = [0, 5, 17, 33, 60, 2, 41]
    got = GenomeEvaluator(vars(cfg(d, data)))(levels)
    rows = run_eval([d / "a.pt"], ["approx"], [d / "fgsm.pt"], levels=levels, data_dir=data, calib_images=100,
                    log=lambda *a: None)
    assert (got["adv"], got["std"]) == (rows[0]["adv_acc"], rows[0]["std_acc"])
    zero = GenomeEvaluator(vars(cfg(d, data)))([0] * 7)
    exact = run_eval([d / "a.pt"], ["approx"], [d / "fgsm.pt"], levels=0, data_dir=data, calib_images=100,
                     log=lambda *a: None)
    assert (zero["adv"], zero["std"]) == (exact[0]["adv_acc"], exact[0]["std_acc"])


def test_energy_of_zero_levels():
    macs = conv_macs(resnet(32))
    assert len(macs) == 31 and sum(macs) == 68_861_952
    assert energy(macs, [0] * 31) == pytest.approx(sum(macs) * power_per_level()[0])
    assert power_per_level()[0] == pytest.approx(0.2411774) and power_per_level()[255] == pytest.approx(0.1643518)
    with pytest.raises(ValueError, match="3 levels for 31 convolutions"):
        energy(macs, [0, 1, 2])


def _front(path):
    return sorted((r["levels"], r["adv"], r["std"]) for r in csv.DictReader(open(path)))


def test_resume_equals_uninterrupted(setup, tmp_path, monkeypatch):
    d, data = setup
    c = cfg(d, data, objectives=("adv", "std", "energy"))
    run_search(c, tmp_path / "full", progress=False, log=lambda *a: None)
    from experiments.search import run as search_run
    real_save, calls = search_run.save_state, {"n": 0}

    def dying(path, algorithm, identity, inputs=None, about_set=None):
        calls["n"] += 1
        if calls["n"] == 2:  # killed while saving generation 2: generation 1 stays on disk
            raise KeyboardInterrupt
        import dill  # and the state as earlier versions pickled it, for `axx convert` below
        with open(tmp_path / "legacy.pkl", "wb") as f:
            dill.dump({"algorithm": algorithm, "config": identity}, f)
        return real_save(path, algorithm, identity, inputs, about_set)

    monkeypatch.setattr(search_run, "save_state", dying)
    with pytest.raises(KeyboardInterrupt):
        run_search(c, tmp_path / "cut", progress=False, log=lambda *a: None)
    monkeypatch.setattr(search_run, "save_state", real_save)
    with pytest.raises(ValueError, match="interrupted search .*1 of 3 generations.*--resume.*--restart"):
        run_search(c, tmp_path / "cut", progress=False, log=lambda *a: None)
    said = []
    # the device is not part of a search's identity (every engine is bit-exact): it resumes elsewhere
    c = cfg(d, data, objectives=("adv", "std", "energy"), device="cpu")
    run_search(c, tmp_path / "cut", resume=True, progress=False, log=said.append)
    assert "resuming" in said[0] and "after generation 1" in said[0]
    assert _front(tmp_path / "cut" / "pareto.csv") == _front(tmp_path / "full" / "pareto.csv")
    assert _front(tmp_path / "cut" / "evaluations.csv") == _front(tmp_path / "full" / "evaluations.csv")
    # an old dill state: refused on resume, converted by `axx convert`, then resumed to the same front
    (tmp_path / "old").mkdir()
    (tmp_path / "legacy.pkl").rename(tmp_path / "old" / "state.pkl")
    with pytest.raises(ValueError, match="earlier version.*axx convert"):
        run_search(c, tmp_path / "old", resume=True, progress=False, log=lambda *a: None)
    from axx.cli import main
    assert main(["convert", str(tmp_path / "old" / "state.pkl")]) == 0
    run_search(c, tmp_path / "old", resume=True, progress=False, log=said.append)
    assert "after generation 1" in said[-2]
    assert _front(tmp_path / "old" / "pareto.csv") == _front(tmp_path / "full" / "pareto.csv")


def test_a_stopped_search_loses_one_genome_at_most(setup, tmp_path, monkeypatch):
    """Each genome of the generation under way is journaled as soon as it is evaluated: a search stopped in the
    middle of a generation takes those back on resume and evaluates only the rest, ending equal to an
    uninterrupted run; a torn last line is skipped; a journal of another search is not taken."""
    import shutil

    from experiments.search import evaluator as ev
    from experiments.search.journal import JOURNAL
    d, data = setup
    c = cfg(d, data)
    real, calls = ev.GenomeEvaluator.__call__, {"n": 0, "stop": 0}

    def counting(self, levels):
        calls["n"] += 1
        if calls["n"] == calls["stop"]:
            raise KeyboardInterrupt
        return real(self, levels)

    monkeypatch.setattr(ev.GenomeEvaluator, "__call__", counting)
    run_search(c, tmp_path / "full", progress=False, log=lambda *a: None)
    whole, calls["n"], calls["stop"] = calls["n"], 0, c.pop + 3  # the 3rd new genome of generation 2
    with pytest.raises(KeyboardInterrupt):
        run_search(c, tmp_path / "cut", progress=False, log=lambda *a: None)
    lines = (tmp_path / "cut" / JOURNAL).read_text().splitlines()
    assert len(lines) == 1 + 2 and all(json.loads(x)["generation"] == 2 for x in lines[1:])
    with open(tmp_path / "cut" / JOURNAL, "a") as f:
        f.write('{"generation": 2, "levels": [1, 2')  # killed while writing a line
    other = tmp_path / "other"
    shutil.copytree(tmp_path / "cut", other)
    head = json.loads(lines[0])
    head["config"]["seed"] += 1
    (other / JOURNAL).write_text("\n".join([json.dumps(head), *lines[1:]]) + "\n")
    said = []
    calls["n"], calls["stop"] = 0, 0
    run_search(c, tmp_path / "cut", resume=True, progress=False, log=said.append)
    assert calls["n"] == whole - c.pop - 2, said  # only the genomes neither saved nor journaled
    assert any("taking 2 genome(s) of generation 2" in m for m in said), said
    assert not (tmp_path / "cut" / JOURNAL).exists()
    for f in ("pareto.csv", "evaluations.csv"):
        assert _front(tmp_path / "cut" / f) == _front(tmp_path / "full" / f)
    calls["n"] = 0
    run_search(c, other, resume=True, progress=False, log=lambda *a: None)
    assert calls["n"] == whole - c.pop
    assert _front(other / "pareto.csv") == _front(tmp_path / "full" / "pareto.csv")


def _cut_after_generation_1(c, out, monkeypatch):
    from experiments.search import run as search_run
    real_save = die_at_second_call(monkeypatch, search_run, "save_state")
    with pytest.raises(KeyboardInterrupt):
        run_search(c, out, progress=False, log=lambda *a: None)
    monkeypatch.setattr(search_run, "save_state", real_save)


def test_search_continues_on_its_set_made_again_elsewhere(setup, tmp_path, monkeypatch):
    """Sets are not committed, a search's state is: a search resumed on another machine finds its set made
    there by the same recipe, maybe with a few gradient signs flipped. It continues, and says how many of the
    searched images differ; a set of another recipe is refused."""
    import shutil
    d, data = setup
    for suffix in ("", ".json"):
        shutil.copy(str(d / "fgsm.pt") + suffix, str(tmp_path / "set.pt") + suffix)
    c = cfg(d, data, advset=str(tmp_path / "set.pt"))
    _cut_after_generation_1(c, tmp_path / "cut", monkeypatch)
    state = json.loads((tmp_path / "cut" / "state.json").read_text())
    assert len(state["searched_images"]) == 40 and set(state["recipes"]) == {"adversarial set"}
    remake_set(tmp_path / "set.pt", change_image=3)
    said = []
    front, _ = run_search(c, tmp_path / "cut", resume=True, progress=False, log=said.append)
    assert any("made again by the recipe" in m and "1 of its 40 searched images differ" in m for m in said), said
    remade = [{"after_generation": 1, "images_differing": 1, "images": 40}]
    assert json.loads((tmp_path / "cut" / "pareto.csv.json").read_text())["set_remade"] == remade
    assert json.loads((tmp_path / "cut" / "state.json").read_text())["set_remade"] == remade
    assert front
    # another recipe (another eps, say) is another set: the saved generations say nothing of it
    _cut_after_generation_1(c, tmp_path / "cut2", monkeypatch)
    remake_set(tmp_path / "set.pt", change_image=5, eps=4 / 255)
    with pytest.raises(ValueError, match="adversarial set changed since the search started; --restart"):
        run_search(c, tmp_path / "cut2", resume=True, progress=False, log=lambda *a: None)


def test_genomes_evaluated_once_and_outputs(setup, tmp_path):
    d, data = setup
    front, records = run_search(cfg(d, data, n_images=20), tmp_path / "s", progress=False, log=lambda *a: None)
    levels = [r["levels"] for r in records]
    assert len(levels) == len(set(levels))
    assert all(0 <= v <= 60 for g in levels for v in g)
    rows = list(csv.DictReader(open(tmp_path / "s" / "pareto.csv")))
    assert rows and all(r["adv_full"] != "" and r["std_full"] != "" for r in rows)  # subset: re-evaluated on all 40
    full = GenomeEvaluator(vars(cfg(d, data)))(tuple(int(v) for v in rows[0]["levels"].split("-")))
    assert (float(rows[0]["adv_full"]), float(rows[0]["std_full"])) == (full["adv"], full["std"])
    assert (tmp_path / "s" / "pareto.png").stat().st_size > 10_000


def test_process_pool_and_dask_equal_serial(setup, tmp_path):
    d, data = setup
    c = cfg(d, data, gens=2)
    serial = run_search(c, tmp_path / "serial", progress=False, log=lambda *a: None)[1]
    pool = run_search(c, tmp_path / "pool", workers=2, progress=False, log=lambda *a: None)[1]
    from distributed import LocalCluster
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=True, host="127.0.0.1",
                      dashboard_address=None) as cluster:
        dask = run_search(c, tmp_path / "dask", dask=cluster.scheduler_address, progress=False,
                          log=lambda *a: None)[1]
    key = lambda rs: sorted((r["levels"], r["adv"], r["std"]) for r in rs)
    assert key(serial) == key(pool) == key(dask)


def test_bad_input(setup, tmp_path):
    d, data = setup
    bad = [({"axx_levels": 0}, "1..255"), ({"axx_levels": 256}, "1..255"), ({"exec_type": "float"}, "approx victim"),
                    ({"objectives": ("latency",)}, "objectives must be among"),
                    ({"device": "quantum"}, "unknown device 'quantum'")]
    if not torch.cuda.is_available():
        bad.append(({"device": "cuda"}, "sees no CUDA GPU"))
    for kw, msg in bad:
        with pytest.raises(ValueError, match=msg):
            run_search(cfg(d, data, **kw), tmp_path / "x", progress=False, log=lambda *a: None)
    with pytest.raises(RuntimeError, match="cannot reach the Dask scheduler at tcp://127.0.0.1:9"):
        run_search(cfg(d, data), tmp_path / "y", dask="tcp://127.0.0.1:9", progress=False, log=lambda *a: None)
    (tmp_path / "z").mkdir()
    (tmp_path / "z" / "state.json").write_text("{garbage")
    with pytest.raises(ValueError, match="state.json is corrupt"):
        run_search(cfg(d, data), tmp_path / "z", resume=True, progress=False, log=lambda *a: None)
    (tmp_path / "z" / "state.json").unlink()
    (tmp_path / "z" / "state.pkl").write_bytes(b"garbage")
    with pytest.raises(ValueError, match="state.pkl is a search state of an earlier version.*axx convert"):
        run_search(cfg(d, data), tmp_path / "z", resume=True, progress=False, log=lambda *a: None)
    assert np.isfinite(power_per_level()).all()


def test_bench_search_projection(setup, tmp_path):
    """`axx bench-search`: a timed evaluation is the search's, and the projection is its arithmetic."""
    from experiments.search import bench as search_bench
    d, data = setup
    r = search_bench.run(depth=32, images=16, evals=2, batch=8, ckpt=str(d / "a.pt"), data_dir=data, devices="cpu",
                         out=str(tmp_path / "b.json"), log=lambda *a: None)
    row = r["rows"][0]
    assert row["depth"] == 8 and row["weights"] == str(d / "a.pt")  # the checkpoint's architecture wins
    assert row["device"] == "cpu" and row["images"] == "CIFAR-10 test set" and len(row["seconds_per_evaluation_all"]) == 2
    sec = row["seconds_per_evaluation"]
    assert row["projected_thesis_setting_s"] == pytest.approx(50 * 30 * 20_000 * sec / 32)
    assert row["evaluations_per_s"] == pytest.approx(1 / sec)
    assert json.loads((tmp_path / "b.json").read_text())["rows"][0]["seconds_per_evaluation"] == sec
    with pytest.raises(ValueError, match="1..255"):
        search_bench.run(axx_levels=0, log=lambda *a: None)


def test_nsga2_operators_are_the_thesis_code_s():
    """The author's nsga2.py: integer sampling, single-point crossover (p 0.8) and polynomial mutation
    (p 0.8, eta 3), both with rounding repair, seed 1, batch 100; SBX stays selectable."""
    from pymoo.operators.crossover.pntx import SinglePointCrossover
    from pymoo.operators.crossover.sbx import SBX
    from pymoo.operators.repair.rounding import RoundingRepair
    from pymoo.operators.sampling.rnd import IntegerRandomSampling

    from experiments.search.algorithm import make_algorithm

    cfg = SearchConfig(victim="v.pt", advset="a.pt")
    assert (cfg.seed, cfg.batch_size, cfg.crossover, cfg.mutation) == (1, 100, 0.8, 0.8)
    alg = make_algorithm(cfg)
    assert isinstance(alg.initialization.sampling, IntegerRandomSampling)
    cx, mut = alg.mating.crossover, alg.mating.mutation
    assert isinstance(cx, SinglePointCrossover) and cx.prob.value == 0.8 and isinstance(cx.repair, RoundingRepair)
    assert mut.eta.value == 3.0 and mut.prob.value == 0.8 and isinstance(mut.repair, RoundingRepair)
    sbx = make_algorithm(SearchConfig(victim="v.pt", advset="a.pt", operators="sbx"))
    assert isinstance(sbx.mating.crossover, SBX)
    with pytest.raises(ValueError, match="unknown operators 'blx'"):
        SearchConfig(victim="v.pt", advset="a.pt", operators="blx").check()


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no GPU on this machine")
def test_gpu_evaluation_equals_cpu(setup):
    """The search's unit of work on the GPU (CUDA or fast engine) gives the CPU's accuracies: the integer
    accumulators are identical, only the float dequantization's rounding may differ."""
    d, data = setup
    levels = [0, 5, 17, 33, 60, 2, 41]
    cpu = GenomeEvaluator(vars(cfg(d, data, device="cpu")))(levels)
    gpu = GenomeEvaluator(vars(cfg(d, data, device="cuda")))(levels)
    assert abs(cpu["adv"] - gpu["adv"]) <= 1 / 40 and abs(cpu["std"] - gpu["std"]) <= 1 / 40
