"""Trustworthy artifacts: skip and resume by content, never destroy a user's files, fail before the
work. Each test reproduces one way the earlier skip/resume logic gave wrong results or lost data."""
import errno
import os
import stat
from pathlib import Path

import pytest
import torch

from axx.cli import main
from experiments.attacks import run_attack
from experiments.evaluation import eval_to_csv
from experiments.provenance import read_sidecar, stale_reason
from experiments.train import TrainConfig, train
from fileio import atomic_path, cached_digest, check_output, output_folder, remove_stale_temporaries
from helpers import die_at_second_validation, learnable_cifar

quiet = dict(progress=False)


@pytest.fixture(scope="module")
def pipe(tmp_path_factory):
    d = tmp_path_factory.mktemp("artifacts")
    data = str(learnable_cifar(d / "cifar", n=40))
    cfg = lambda **kw: TrainConfig(arch="resnet8", exec_type="float", batch_size=40, val_images=20, subset=80,  # noqa: E731
                                   route="eager", data_dir=data, **kw)
    return d, data, cfg


def _log():
    said = []
    return said, said.append


def test_retrained_source_redoes_exactly_what_depends_on_it(pipe, tmp_path):
    d, data, cfg = pipe
    src, other = tmp_path / "src.pt", tmp_path / "other.pt"
    train(cfg(epochs=1), src, log=lambda *a: None, **quiet)
    train(cfg(epochs=1, seed=5), other, log=lambda *a: None, **quiet)
    atk = lambda s, o, log: run_attack(s, "float", "fgsm", o, n=20, data_dir=data, log=log, **quiet)  # noqa: E731
    ev = lambda log: eval_to_csv([src], ["float"], [tmp_path / "a.pt", tmp_path / "b.pt"], tmp_path / "e.csv",  # noqa: E731
                                 data_dir=data, log=log)
    atk(src, tmp_path / "a.pt", lambda *a: None)
    atk(other, tmp_path / "b.pt", lambda *a: None)
    ev(lambda *a: None)
    said, log = _log()
    atk(src, tmp_path / "a.pt", log), atk(other, tmp_path / "b.pt", log), ev(log)
    assert all("up to date" in s for s in said) and len(said) == 3
    first = {p: cached_digest(tmp_path / p) for p in ("a.pt", "b.pt", "e.csv")}
    # retrain the source in place (another recipe, same path): its set and the evaluation are redone,
    # the other source's set is not
    (tmp_path / "src.pt.json").unlink()
    train(cfg(epochs=2), src, log=lambda *a: None, **quiet)
    said, log = _log()
    atk(src, tmp_path / "a.pt", log)
    atk(other, tmp_path / "b.pt", log)
    ev(log)
    said = [s for s in said if not s.startswith("wrote")]
    assert "a.pt was made from another source" in said[0] and "making it again" in said[0]
    assert "b.pt is up to date" in said[1]
    assert "e.csv was made from another victim 1" in said[2]
    assert cached_digest(tmp_path / "a.pt") != first["a.pt"] and cached_digest(tmp_path / "b.pt") == first["b.pt"]
    assert read_sidecar(tmp_path / "e.csv")["inputs"]["adversarial set 1"]["sha256"] == cached_digest(tmp_path / "a.pt")


def test_damaged_artifacts_with_intact_sidecars_are_redone(pipe, tmp_path):
    d, data, cfg = pipe
    ck = tmp_path / "m.pt"
    train(cfg(epochs=1), ck, log=lambda *a: None, **quiet)
    run_attack(ck, "float", "fgsm", tmp_path / "a.pt", n=20, data_dir=data, log=lambda *a: None, **quiet)
    for p in (ck, tmp_path / "a.pt"):
        b = p.read_bytes()
        p.write_bytes(b[: len(b) // 2])  # truncated; the sidecar still says complete
    said, log = _log()
    train(cfg(epochs=1), ck, log=log, **quiet)
    assert "m.pt changed since it was made" in said[0]
    run_attack(ck, "float", "fgsm", tmp_path / "a.pt", n=20, data_dir=data, log=log, **quiet)
    assert any("a.pt changed since it was made" in s for s in said)
    assert stale_reason(tmp_path / "a.pt", read_sidecar(tmp_path / "a.pt")["config"],
                        {"source": ck, "data:test_batch": Path(data) / "test_batch"}) is None


def test_sidecar_without_sha256_is_called_older_not_damaged(tmp_path):
    # sidecars of early versions lack the sha256: the artifact is remade, and the message must not tell its owner
    # that the file was damaged or replaced (it was not)
    import json

    from experiments.provenance import sidecar_path, write_sidecar
    art = tmp_path / "set.pt"
    art.write_bytes(b"adversarial images")
    write_sidecar(art, {"config": {"k": 1}, "complete": True})
    assert stale_reason(art, {"k": 1}) is None
    meta = json.loads(sidecar_path(art).read_text())
    del meta["sha256"]
    sidecar_path(art).write_text(json.dumps(meta))
    assert stale_reason(art, {"k": 1}) == ("has a sidecar of an older version (without the file's sha256): it "
                                           "cannot be checked")
    write_sidecar(art, {"config": {"k": 1}, "complete": True})
    art.write_bytes(b"adversarial images, replaced")
    assert "damaged or replaced" in stale_reason(art, {"k": 1})


def test_approx_artifacts_match_in_a_checkout_without_tables(tmp_path, monkeypatch):
    # a new clone has no luts/ (ignored) until `make luts` or a first approx run: an approx model's table input
    # was judged "missing now" and a finished zoo model retrained; the tables are built first, by content equal
    from experiments.provenance import lut_tables, write_sidecar
    monkeypatch.setenv("AXX_LUT_DIR", str(tmp_path / "a"))
    made = lut_tables()
    art = tmp_path / "approx.pt"
    art.write_bytes(b"an approx model")
    write_sidecar(art, {"config": {"k": 1}, "complete": True}, {"lut": made})
    monkeypatch.setenv("AXX_LUT_DIR", str(tmp_path / "b"))  # another checkout, no tables yet
    assert stale_reason(art, {"k": 1}, {"lut": lut_tables()}) is None
    assert (tmp_path / "b" / "marlin" / "luts.npy").is_file()
    assert cached_digest(tmp_path / "b" / "marlin" / "luts.npy") == cached_digest(made)


def test_sigterm_stops_a_command_as_ctrl_c_does(pipe, tmp_path, capsys, monkeypatch):
    """`kill` (a scheduler, a session's end) stops `axx` as Ctrl-C does: the epochs done are kept, exit 143, and
    the handler before it is back afterwards."""
    import signal
    d, data, cfg = pipe
    out = tmp_path / "t.pt"
    argv = ["train", "--arch", "resnet8", "--epochs", "2", "--batch-size", "40", "--subset", "80", "--val-images",
            "20", "--route", "eager", "--data", data, "--out", str(out), "--quiet"]
    die_at_second_validation(monkeypatch, die=lambda: signal.raise_signal(signal.SIGTERM))
    before = signal.getsignal(signal.SIGTERM)
    assert main(argv) == 143
    assert signal.getsignal(signal.SIGTERM) is before
    assert "interrupted" in capsys.readouterr().err
    assert Path(str(out) + ".state").is_file() and not out.exists()


def test_interrupted_training_needs_resume_or_restart(pipe, tmp_path, capsys, monkeypatch):
    d, data, cfg = pipe
    out = tmp_path / "t.pt"
    argv = ["train", "--arch", "resnet8", "--epochs", "2", "--batch-size", "40", "--subset", "80", "--val-images",
            "20", "--route", "eager", "--data", data, "--out", str(out), "--quiet"]
    die_at_second_validation(monkeypatch)
    assert main(argv) == 130
    monkeypatch.undo()
    assert Path(str(out) + ".state").is_file()
    capsys.readouterr()
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "interrupted training (1 of 2 epochs)" in err and "--resume" in err \
        and "--restart" in err
    assert main([*argv, "--resume"]) == 0 and out.is_file() and not Path(str(out) + ".state").exists()


def test_outputs_checked_before_the_work(tmp_path, capsys, monkeypatch):
    (tmp_path / "file").write_text("x")
    for argv, msg in [
        (["train", "--arch", "resnet8", "--out", str(tmp_path / "file" / "m.pt")], "is a file, not a folder"),
        (["attack", "--source", "x.pt", "--attack", "fgsm", "--out", str(tmp_path)], "it is a folder"),
        (["metrics", "--csv", str(tmp_path / "file" / "m.csv")], "is a file, not a folder"),
        (["bench", "--json", str(tmp_path / "file" / "b.json")], "is a file, not a folder"),
        (["search", "--victim", "v.pt", "--advset", "a.pt", "--out", str(tmp_path / "file")], "not a folder"),
    ]:
        assert main(argv) == 2, argv
        err = capsys.readouterr().err.strip()
        assert err.count("\n") == 0 and msg in err, (argv, err)
    import shutil
    monkeypatch.setattr(shutil, "disk_usage", lambda p: shutil._ntuple_diskusage(10 << 30, 10 << 30, 1 << 20))
    assert main(["train", "--arch", "resnet56", "--out", str(tmp_path / "m.pt")]) == 2
    assert "no space left on" in capsys.readouterr().err and not list(tmp_path.glob("m.pt*"))


def test_full_disk_says_no_space_left(tmp_path):
    def full(*a, **k):
        raise RuntimeError("[enforce fail at inline_container.cc:664] . PytorchStreamWriter failed writing file "
                           "data/0: file write failed")

    with pytest.raises(OSError, match=f"no space left on {tmp_path}"):
        with atomic_path(tmp_path / "x.pt") as tmp:
            full(tmp)
    with pytest.raises(OSError, match="no space left on"):
        with atomic_path(tmp_path / "y.txt") as tmp:
            raise OSError(errno.ENOSPC, "No space left on device")
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(OSError, match="no space left on .* needs about"):
        check_output(tmp_path / "z", need_bytes=1 << 60)


def test_failed_run_leaves_no_empty_folder(tmp_path):
    with pytest.raises(RuntimeError):
        with output_folder(tmp_path / "a" / "b"):
            raise RuntimeError("boom")
    assert not (tmp_path / "a").exists()
    (tmp_path / "c").mkdir()
    (tmp_path / "c" / "mine").write_text("x")
    with pytest.raises(RuntimeError):
        with output_folder(tmp_path / "c"):
            raise RuntimeError("boom")
    assert (tmp_path / "c" / "mine").read_text() == "x"


def test_temporaries_of_dead_processes_are_removed_and_umask_kept(tmp_path):
    dead = 2 ** 22 + 12345  # above pid_max on Linux: never a live process
    (tmp_path / f".t.npy.{dead}.abc.tmp").write_text("left by a killed run")
    (tmp_path / f".t.npy.{dead}.stage").mkdir()
    (tmp_path / ".t.npy.1.abc.tmp").write_text("pid 1 is alive: not ours to remove")
    (tmp_path / ".t.npy.notes").write_text("the user's")
    old = os.umask(0o027)
    try:
        with atomic_path(tmp_path / "t.npy") as tmp:
            tmp.write_text("x")
    finally:
        os.umask(old)
    assert sorted(p.name for p in tmp_path.iterdir()) == [".t.npy.1.abc.tmp", ".t.npy.notes", "t.npy"]
    assert stat.S_IMODE((tmp_path / "t.npy").stat().st_mode) == 0o640
    assert remove_stale_temporaries(tmp_path, "t.npy") == []


def test_lut_folder_written_with_umask_and_stale_stages_removed(tmp_path):
    import numpy as np

    from lut_build import write_lut_dir
    from lut_build.model import all_tables
    from lut_build.schemes import get_scheme
    dead = 2 ** 22 + 777
    (tmp_path / f".marlin.{dead}.xyz").mkdir()
    (tmp_path / f".marlin.{dead}.xyz" / "luts.npy").write_bytes(b"half")
    old = os.umask(0o022)
    try:
        out = write_lut_dir(tmp_path / "marlin", "marlin", all_tables(get_scheme("marlin").model), source="model",
                            headers=False)
    finally:
        os.umask(old)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["marlin"]
    assert stat.S_IMODE(out.stat().st_mode) == 0o755
    assert stat.S_IMODE((out / "luts.npy").stat().st_mode) == 0o644
    assert np.load(out / "luts.npy", allow_pickle=False).shape[0] == 256


def test_lut_folder_without_manifest_is_not_rebuilt_silently(tmp_path):
    from lut_build.artifacts import LutError, ensure_luts
    d = tmp_path / "marlin"
    d.mkdir()
    (d / "luts.npy").write_bytes(b"RTL-built tables")
    (d / "headers").mkdir()
    with pytest.raises(LutError, match="holds files but no manifest.json"):
        ensure_luts("marlin", tmp_path)
    assert (d / "luts.npy").read_bytes() == b"RTL-built tables" and (d / "headers").is_dir()


def test_level_lists_are_integers(tmp_path, capsys):
    from emulator import resnet
    from emulator.lut import LevelError
    m = resnet(8, "approx")
    for bad in ([3.9] * 7, 3.5, torch.full((7,), 2.5)):
        with pytest.raises(LevelError, match="must be an integer in 0..255"):
            m.set_levels(bad)
    m.set_levels(torch.arange(7))
    assert main(["eval", "--victims", "v.pt", "--advsets", "a.pt", "--levels", "1,2,3.9", "--out",
                 str(tmp_path / "e.csv")]) == 2
    assert "levels must be integers in 0..255" in capsys.readouterr().err


def test_models_refuse_inputs_they_were_not_trained_on():
    from emulator import resnet
    m = resnet(8, "float").eval()
    for x, msg in [(torch.randint(0, 255, (2, 3, 32, 32), dtype=torch.uint8), "floating point in \\[0, 1\\]"),
                   (torch.randn(2, 3, 32, 32), "must lie in \\[0, 1\\]"),
                   (torch.rand(2, 1, 32, 32), "\\[N, 3, H, W\\]")]:
        with pytest.raises(ValueError, match=msg):
            m(x)


@pytest.mark.parametrize("cmd", ["eval", "attack", "search"])
def test_corrupt_checkpoint_one_line_exit_2(tmp_path, capsys, cmd):
    bad = tmp_path / "c.pt"
    bad.write_bytes(b"\x80\x02garbage")
    argv = {"eval": ["eval", "--victims", str(bad), "--advsets", str(bad), "--out", str(tmp_path / "e.csv")],
            "attack": ["attack", "--source", str(bad), "--attack", "fgsm", "--out", str(tmp_path / "a.pt")],
            "search": ["search", "--victim", str(bad), "--advset", str(bad), "--out", str(tmp_path / "s")]}[cmd]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "c.pt is not a readable checkpoint" in err
    assert not (tmp_path / "s").exists()
