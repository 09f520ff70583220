"""Small synthetic CIFAR-format data sets for fast tests."""
import pickle
from pathlib import Path

import numpy as np

TRAIN_FILES = [f"data_batch_{i}" for i in range(1, 6)]


def learnable_cifar(path: Path, n: int = 60, seed: int = 0) -> Path:
    """A folder in the official layout whose classes are easy: class k brightens colour k % 3 in
    a band whose position depends on k, plus noise."""
    rng = np.random.default_rng(seed)
    path.mkdir(parents=True, exist_ok=True)
    for name in TRAIN_FILES + ["test_batch"]:
        labels = rng.integers(0, 10, n)
        img = rng.integers(0, 80, (n, 3, 32, 32)).astype(np.uint8)
        for i, k in enumerate(labels):
            img[i, k % 3, 3 * k:3 * k + 3, :] = 250
        d = {b"batch_label": name.encode(), b"labels": labels.tolist(), b"data": img.reshape(n, 3072)}
        with open(path / name, "wb") as f:
            pickle.dump(d, f, protocol=2)
    return path


def die_at_second_call(monkeypatch, module, name: str, die=None):
    """Make `module.name` fail like a killed process at its second call: raise KeyboardInterrupt, or call `die`
    (e.g. send a signal). Returns the real function (monkeypatch.undo() or the test's end restores it too)."""
    real, calls = getattr(module, name), {"n": 0}

    def dying(*a, **k):
        calls["n"] += 1
        if calls["n"] == 2:
            if die is None:
                raise KeyboardInterrupt
            die()
        return real(*a, **k)

    monkeypatch.setattr(module, name, dying)
    return real


def die_at_second_validation(monkeypatch, die=None) -> None:
    """Make `axx train` die like a killed process after its first epoch: the validation of epoch 2
    raises KeyboardInterrupt (or calls `die`)."""
    import experiments.train as tr
    die_at_second_call(monkeypatch, tr, "evaluate", die)


def remake_set(path, change_image=None, **config) -> None:
    """The set at `path` as another machine would make it by the same recipe (its sidecar's configuration and
    inputs), one image's float rounding off by an ulp; with `config`, a set of another recipe."""
    import json

    import torch

    from emulator.safe_load import load_plain
    from fileio.hashing import cached_digest
    from experiments.provenance import read_sidecar, sidecar_path, torch_save
    d = load_plain(path, "adversarial set")
    if change_image is not None:
        img = d["images"][change_image]
        img.view(-1)[7] = torch.nextafter(img.view(-1)[7], torch.tensor(0.5))  # stays in [0, 1], never equal
    torch_save(d, path)
    meta = read_sidecar(path)
    meta["config"].update(config)
    meta["sha256"] = cached_digest(path)
    sidecar_path(path).write_text(json.dumps(meta))
