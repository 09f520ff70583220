"""The report renders from a small results file; the CI-sized demo runs end to end on real data."""
import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from experiments.report import make_report
from experiments.results import COLUMNS, write_rows

REPO = Path(__file__).resolve().parents[2]
SHARED_CIFAR = REPO.parent / "shared" / "data" / "cifar-10-batches-py"


def _row(**kw):
    base = dict(victim="v.pt", victim_arch="resnet8", victim_params="float", victim_at=False, victim_exec="float",
                levels=0, advset="sets/fgsm_a.pt", attack="fgsm", eps=8 / 255, source="s.pt", source_arch="resnet8",
                source_params="float", source_exec="float", source_at=False, adaptive=False, scenario="white-box",
                std_acc=0.9, adv_acc=0.1, n_images=100, batch_size=500, code_version="test")
    base.update(kw)
    return base


def test_report_from_small_results(tmp_path):
    rows = [_row(), _row(victim_exec="quant", adv_acc=0.2), _row(victim_at=True, adv_acc=0.3),
            _row(victim_params="quant", scenario="partial white-box", adv_acc=0.4),
            _row(victim_arch="resnet20", scenario="black-box", adv_acc=0.5),
            _row(adaptive=True, advset="sets/fgsm_adaptive.pt", adv_acc=0.05)]
    assert set(rows[0]) == set(COLUMNS)
    write_rows(rows, tmp_path / "r.csv")
    report = make_report([tmp_path / "r.csv"], tmp_path / "out")
    text = report.read_text()
    assert "### resnet8 under FGSM (eps 8/255)" in text
    # white-box, not AT: the mean of the float and quant execution types (10 % and 20 %)
    assert "| White-box | 15.0% (n=2) | 30.0% (n=1) |" in text
    assert "| Partial white-box | 40.0% (n=1) | - |" in text
    assert "| White-box (adaptive) | 5.0% (n=1) | - |" in text
    assert "### resnet20 under FGSM" in text and "| Black-box | 50.0% (n=1) | - |" in text
    main, _, beyond = text.partition("### resnet8 under FGSM (eps 8/255): beyond the thesis's cells")
    assert "adaptive" not in main.split("### resnet8")[-1] and "| White-box (adaptive) | 5.0% (n=1) | - |" in beyond
    pngs = sorted(p.name for p in (tmp_path / "out").glob("*.png"))
    assert pngs == ["fgsm_a__resnet20.png", "fgsm_a__resnet8.png", "fgsm_adaptive__resnet8.png"]
    assert all((tmp_path / "out" / p).stat().st_size > 5000 for p in pngs)


def test_summary_cells_average_only_what_the_thesis_averages(tmp_path):
    """Tables 5.2-5.6 average level-0 rows under sets from non-AT sources; an AT source or another level
    goes to the separate table and leaves the thesis's cell unchanged."""
    rows = [_row(adv_acc=0.1), _row(source_at=True, adv_acc=0.9), _row(levels=50, adv_acc=0.7),
            _row(levels="[0, 0, 0]", victim_exec="approx", adv_acc=0.3)]
    write_rows(rows, tmp_path / "r.csv")
    text = make_report([tmp_path / "r.csv"], tmp_path / "out").read_text()
    main, _, beyond = text.partition(": beyond the thesis's cells")
    assert "| White-box | 20.0% (n=2) | - |" in main
    assert "| White-box, AT source | 90.0% (n=1) | - |" in beyond and "| White-box, levels 50 | 70.0% (n=1) | - |" in beyond


def test_report_rejects_foreign_csv(tmp_path):
    (tmp_path / "x.csv").write_text("a,b\n1,2\n")
    with pytest.raises(ValueError, match="not an axx results file"):
        make_report([tmp_path / "x.csv"], tmp_path / "out")


def test_demo_small_end_to_end(tmp_path):
    data = os.environ.get("CIFAR10_DIR") or (str(SHARED_CIFAR) if SHARED_CIFAR.is_dir() else None)
    if data is None:
        pytest.skip("no CIFAR-10 here (set CIFAR10_DIR); the demo would download it")
    # `make demo` itself, with the CI-sized setting chosen by its option
    p = subprocess.run(["make", "-s", "-C", str(REPO), "demo", f"DEMO_ARGS=--small --root {tmp_path} --data {data}"],
                       capture_output=True, text=True, timeout=1200)
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-3000:]
    text = (tmp_path / "report" / "report.md").read_text()
    assert "### resnet8 under FGSM (eps 8/255)" in text and "### resnet8 under PGD (eps 8/255)" in text
    assert len(list((tmp_path / "report").glob("*.png"))) == 4
    rows = (tmp_path / "results.csv").read_text().strip().splitlines()
    assert len(rows) == 1 + 6 * 3 * 4
    # a second run finds every artifact up to date and skips the work
    p2 = subprocess.run([sys.executable, str(REPO / "experiments" / "demo.py"), "--small", "--root", str(tmp_path),
                         "--data", data], capture_output=True, text=True, timeout=1200)
    skipped = "is up to date (same configuration and inputs): skipped"
    assert p2.returncode == 0 and p2.stdout.count(skipped) == 6 + 4 + 1
    side = json.loads((tmp_path / "results.csv.json").read_text())
    assert side["rows"] == 72 and side["config"]["exec_types"] == ["float", "quant", "approx"] and side["code_version"]
    # `make demo-search` on the same artifacts: only the search runs
    p3 = subprocess.run(["make", "-s", "-C", str(REPO), "demo-search",
                         f"DEMO_ARGS=--small --root {tmp_path} --data {data}"], capture_output=True, text=True, timeout=1200)
    assert p3.returncode == 0, p3.stdout[-3000:] + p3.stderr[-3000:]
    assert p3.stdout.count(skipped) == 6 + 4 + 1
    front = list(csv.DictReader(open(tmp_path / "search" / "pareto.csv")))
    evals = list(csv.DictReader(open(tmp_path / "search" / "evaluations.csv")))
    assert front and len(evals) >= 6 and all(len(r["levels"].split("-")) == 7 for r in evals)
    assert all(0 <= float(r["adv"]) <= 1 and float(r["energy"]) > 0 for r in evals)
    assert (tmp_path / "search" / "pareto.png").stat().st_size > 10_000


def test_figures_draw_no_bar_for_a_victim_that_is_not_there(tmp_path, monkeypatch):
    """A group without AT victims draws no AT bars (a bar at 0 read as an accuracy of 0 %), and no legend entry."""
    import matplotlib.axes

    from experiments.report import figures
    drawn = []
    real = matplotlib.axes.Axes.bar

    def bar(self, x, height, *a, **k):
        drawn.append((k.get("label"), [round(h, 6) for h in height]))
        return real(self, x, height, *a, **k)

    monkeypatch.setattr(matplotlib.axes.Axes, "bar", bar)
    row = {"advset": "w/resnet8_quant-square-eps8.pt", "victim_arch": "resnet8", "victim_exec": "quant",
           "victim_params": "quant", "victim_at": "False", "std_acc": "0.86", "adv_acc": "0.41", "attack": "square",
           "source_exec": "quant", "source_arch": "resnet8", "source_params": "quant", "source_at": "False",
           "adaptive": "True"}
    paths = figures([row], tmp_path)
    assert [p.name for p in paths] == ["resnet8_quant-square-eps8__resnet8.png"] and paths[0].is_file()
    assert drawn == [("standard (not AT)", [86.0]), ("adversarial (not AT)", [41.0])]

