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


def die_at_second_validation(monkeypatch) -> None:
    """Make `axx train` die like a killed process after its first epoch: the validation of epoch 2
    raises KeyboardInterrupt (monkeypatch.undo() or the test's end restores it)."""
    import experiments.train as tr
    real = tr.evaluate
    calls = {"n": 0}

    def dying(*a, **k):
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt
        return real(*a, **k)

    monkeypatch.setattr(tr, "evaluate", dying)
