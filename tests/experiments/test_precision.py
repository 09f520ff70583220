"""`axx bench-precision`: the bf16-vs-fp32 measurement: its arithmetic, its tables, skipping finished trainings,
and refusing bf16 (before any training) where the hardware has none."""
import csv
import json

import pytest

from experiments.machine import native_bf16
from experiments.precision import TOLERANCE, run, summarize
from helpers import learnable_cifar

QUIET = dict(progress=False, log=lambda *a: None)


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return str(learnable_cifar(tmp_path_factory.mktemp("cifar"), n=60))


def test_summary_arithmetic_and_verdict():
    rows = [{"arch": "resnet8", "exec_type": "float", "precision": p, "test_accuracy": a}
            for p, accs in (("fp32", (0.80, 0.82, 0.81)), ("bf16", (0.79, 0.81, 0.80))) for a in accs]
    rows += [{"arch": "resnet20", "exec_type": "float", "precision": p, "test_accuracy": a}
             for p, accs in (("fp32", (0.900, 0.901, 0.902)), ("bf16", (0.880, 0.881, 0.882))) for a in accs]
    s = {r["arch"]: r for r in summarize(rows)}
    r8 = s["resnet8"]
    assert r8["fp32_mean"] == pytest.approx(0.81) and r8["bf16_mean"] == pytest.approx(0.80) and r8["fp32_n"] == 3
    assert r8["fp32_std"] == pytest.approx(0.01) and r8["diff"] == pytest.approx(-0.01)
    assert r8["diff_se"] == pytest.approx((0.01 ** 2 / 3 * 2) ** 0.5)
    assert r8["bound"] == pytest.approx(2 * r8["diff_se"]) and r8["matches"]  # -1.0 within 2 x 0.82 points
    r20 = s["resnet20"]
    assert r20["bound"] == TOLERANCE and not r20["matches"]  # 2 points apart, tiny seed noise


@pytest.mark.skipif(native_bf16(), reason="this CPU has native bf16")
def test_bf16_is_refused_before_anything_trains(data, tmp_path):
    with pytest.raises(ValueError, match="needs a CPU with native bf16"):
        run(["resnet8"], seeds=[1], epochs=1, subset=50, val_images=50, data_dir=data, device="cpu", out=tmp_path / "p",
            **QUIET)
    assert not list((tmp_path / "p").glob("*.pt*")) if (tmp_path / "p").exists() else True


def test_fp32_runs_tables_and_skip_on_rerun(data, tmp_path):
    kw = dict(precisions=("fp32",), seeds=[1, 2], epochs=1, subset=50, test_images=50, val_images=50, data_dir=data,
              device="cpu", route="eager", out=tmp_path / "p")
    said = []
    res = run(["resnet8"], progress=False, log=said.append, **kw)
    assert [(r["precision"], r["seed"]) for r in res["rows"]] == [("fp32", 1), ("fp32", 2)]
    assert said[-2].startswith("  resnet8 float: fp32 ") and "(n 2, std" in said[-2] and "bf16" not in said[-2]
    rows = list(csv.DictReader(open(tmp_path / "p" / "runs.csv")))
    assert [float(r["test_accuracy"]) for r in rows] == [r["test_accuracy"] for r in res["rows"]]
    side = json.loads((tmp_path / "p" / "summary.csv.json").read_text())
    assert side["config"]["seeds"] == [1, 2] and side["complete"] and side["code_version"]
    assert side["config"]["route"] == "eager" and {r["route"] for r in rows} == {"eager"}  # as asked, none timed
    for seed in (1, 2):  # each training is an ordinary checkpoint with its recipe
        meta = json.loads((tmp_path / "p" / f"resnet8_float_fp32_s{seed}.pt.json").read_text())
        assert meta["config"]["seed"] == seed and meta["config"]["epochs"] == 1 and meta["precision"] == "fp32"
    again = []
    res2 = run(["resnet8"], progress=False, log=again.append, jobs=2, **kw)  # finished trainings are skipped
    assert [r["test_accuracy"] for r in res2["rows"]] == [r["test_accuracy"] for r in res["rows"]]


def test_cli_bad_input():
    from axx.cli import main
    assert main(["bench-precision", "--seeds", "0"]) == 2
    assert main(["bench-precision", "--arch", "resnet18"]) == 2
