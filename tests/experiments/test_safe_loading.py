"""No file a user is handed runs code: a crafted checkpoint, training state, adversarial set, CIFAR
batch or search state whose unpickling would create a marker file is refused on every path a user
has (axx eval, attack, train --init / --resume, search --resume, the data loader, the Python API),
and the marker never appears. `axx convert` turns a trusted file with Python objects into plain data."""
import argparse
import pickle
from pathlib import Path

import numpy as np
import pytest
import torch

from axx.cli import main
from emulator import load_state, resnet
from emulator.safe_load import UnsafeFileError, load_plain
from experiments import data
from experiments.advsets import load_advset
from experiments.checkpoints import load_model
from helpers import learnable_cifar


class Marker:
    """Unpickling this calls open(path, 'w'): the file's code would run."""

    def __init__(self, path: Path):
        self.path = str(path)

    def __reduce__(self):
        return open, (self.path, "w")


def checkpoint(**extra) -> dict:
    m = resnet(8, "float")
    return {"arch": "resnet8", "exec_type": "float", "activation": "relu", "at": False, "at_eps": None,
            "state_dict": m.state_dict(), **extra}


@pytest.fixture
def files(tmp_path):
    marker = tmp_path / "MARKER"
    d = {"marker": marker, "data": learnable_cifar(tmp_path / "cifar", n=20)}
    torch.save(checkpoint(), tmp_path / "good.pt")
    d["good"] = tmp_path / "good.pt"
    torch.save(checkpoint(evil=Marker(marker)), tmp_path / "evil.pt")
    d["ckpt"] = tmp_path / "evil.pt"
    torch.save({"images": torch.rand(4, 3, 32, 32), "labels": torch.zeros(4, dtype=torch.int64),
                "provenance": {"evil": Marker(marker)}}, tmp_path / "evil_adv.pt")
    d["advset"] = tmp_path / "evil_adv.pt"
    torch.save({"images": torch.rand(4, 3, 32, 32), "labels": torch.zeros(4, dtype=torch.int64),
                "provenance": {}}, tmp_path / "adv.pt")
    d["good_adv"] = tmp_path / "adv.pt"
    evil_data = tmp_path / "evil_cifar"
    learnable_cifar(evil_data, n=20)
    with open(evil_data / "test_batch", "wb") as f:
        pickle.dump({b"labels": [0], b"data": np.zeros((1, 3072), np.uint8), b"x": Marker(marker)}, f, protocol=2)
    with open(evil_data / "data_batch_1", "wb") as f:
        pickle.dump(Marker(marker), f, protocol=2)
    d["evil_data"] = evil_data
    return d


def _refused_cli(argv, capsys, match):
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and match in err[0], err


def test_python_api_refuses(files):
    for call in (lambda: load_model(files["ckpt"]), lambda: load_state(resnet(8, "float"), str(files["ckpt"])),
                 lambda: load_plain(files["ckpt"]), lambda: load_advset(files["advset"])):
        with pytest.raises(UnsafeFileError, match="could run code.*axx convert"):
            call()
    with pytest.raises(data.DataError, match="test_batch: .*no CIFAR-10 batch holds"):
        data.load_cifar10("test", files["evil_data"], download_missing=False)
    with pytest.raises(data.DataError, match="data_batch_1: .*io.open"):
        data.load_cifar10("train", files["evil_data"], download_missing=False)
    assert not files["marker"].exists()


def test_cli_paths_refuse(files, tmp_path, capsys):
    dat = ["--data", str(files["data"])]
    _refused_cli(["eval", "--victims", str(files["ckpt"]), "--advsets", str(files["advset"]), "--out",
                  str(tmp_path / "e.csv"), *dat], capsys, "could run code")
    _refused_cli(["eval", "--victims", str(files["good"]), "--exec", "float", "--advsets", str(files["advset"]),
                  "--out", str(tmp_path / "e.csv"), *dat], capsys, "evil_adv.pt holds Python objects")
    _refused_cli(["attack", "--source", str(files["ckpt"]), "--attack", "fgsm", "--n", "4", "--out",
                  str(tmp_path / "a.pt"), *dat], capsys, "could run code")
    _refused_cli(["train", "--arch", "resnet8", "--init", str(files["ckpt"]), "--epochs", "1", "--out",
                  str(tmp_path / "t.pt"), *dat], capsys, "evil.pt holds Python objects")
    _refused_cli(["eval", "--victims", str(files["good"]), "--exec", "float", "--advsets", str(files["good_adv"]),
                  "--out", str(tmp_path / "e.csv"), "--data", str(files["evil_data"])], capsys,
                 "test_batch: not a readable CIFAR-10 batch")
    _refused_cli(["search", "--victim", str(files["ckpt"]), "--advset", str(files["advset"]), "--out",
                  str(tmp_path / "s"), *dat], capsys, "could run code")
    assert not files["marker"].exists()


def test_train_resume_refuses_a_crafted_state(files, tmp_path, capsys):
    out = tmp_path / "t.pt"
    argv = ["train", "--arch", "resnet8", "--epochs", "2", "--subset", "40", "--val-images", "20", "--route",
            "eager", "--out", str(out), "--data", str(files["data"]), "--quiet"]
    torch.save({"config": {}, "evil": Marker(files["marker"])}, str(out) + ".state")
    _refused_cli([*argv, "--resume"], capsys, "t.pt.state holds Python objects")
    assert not files["marker"].exists()


def test_search_state_pickle_is_never_unpickled(files, tmp_path, capsys):
    s = tmp_path / "s"
    s.mkdir()
    with open(s / "state.pkl", "wb") as f:
        pickle.dump(Marker(files["marker"]), f)
    _refused_cli(["search", "--victim", str(files["good"]), "--exec", "approx", "--advset", str(files["good_adv"]),
                  "--out", str(s), "--resume", "--data", str(files["data"])], capsys, "axx convert")
    assert not files["marker"].exists()


def test_convert_makes_plain_files(tmp_path, capsys):
    ck = checkpoint(extra={"path": Path("/x/y"), "lr": np.float64(0.1), "args": argparse.Namespace(epochs=3),
                           "hist": np.arange(3)})
    torch.save(ck, tmp_path / "old.pt")
    with pytest.raises(UnsafeFileError):
        load_model(tmp_path / "old.pt")
    assert main(["convert", str(tmp_path / "old.pt")]) == 0
    assert (tmp_path / "old.pt.orig").read_bytes() != (tmp_path / "old.pt").read_bytes()
    plain = load_plain(tmp_path / "old.pt")
    assert plain["extra"] == {"path": "/x/y", "lr": 0.1, "args": {"epochs": 3}, "hist": plain["extra"]["hist"]}
    assert torch.equal(plain["extra"]["hist"], torch.arange(3))
    m = load_model(tmp_path / "old.pt")
    ref = resnet(8, "float")
    ref.load_state_dict(ck["state_dict"])
    assert all(torch.equal(a, b) for a, b in zip(m.state_dict().values(), ref.state_dict().values()))
    capsys.readouterr()
    assert main(["convert", str(tmp_path / "old.pt")]) == 0
    assert "nothing to convert" in capsys.readouterr().out
    torch.save(ck, tmp_path / "old.pt")  # the .orig of the first conversion is never overwritten
    capsys.readouterr()
    assert main(["convert", str(tmp_path / "old.pt")]) == 2
    assert "old.pt.orig exists already" in capsys.readouterr().err
    (tmp_path / "text.pt").write_text("hello\n")
    assert main(["convert", str(tmp_path / "text.pt")]) == 2
    assert "neither a torch file nor a search state" in capsys.readouterr().err


@pytest.mark.parametrize("content,match", [(b"", "empty or cut short"), (b"hello world\n", "not a torch file")])
def test_damaged_files_one_line(tmp_path, capsys, content, match):
    (tmp_path / "c.pt").write_bytes(content)
    with pytest.raises(ValueError, match=match):
        load_model(tmp_path / "c.pt")
    _refused_cli(["train", "--arch", "resnet8", "--init", str(tmp_path / "c.pt"), "--out", str(tmp_path / "t.pt"),
                  "--epochs", "1"], capsys, f"c.pt is not a readable checkpoint ({match})")


def test_npy_loads_never_allow_pickles():
    """LUT tables and sweeps are npy: every np.load in the product passes allow_pickle=False."""
    import re
    root = Path(__file__).resolve().parents[2]
    for py in root.glob("*/**/*.py"):
        if py.parts[len(root.parts)] in ("tests", ".venv", "build"):
            continue
        for call in re.findall(r"np\.load\([^)]*\)", py.read_text()):
            assert "allow_pickle=False" in call, f"{py}: {call}"
