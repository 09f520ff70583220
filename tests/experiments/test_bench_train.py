"""axx bench-train --side-by-side: a training process that fails stops the measurement at once with a clear
error (the others would otherwise wait at the barrier forever); bad counts are refused before any timing."""
import time

import pytest

from experiments import bench_train


def test_a_failed_side_by_side_worker_is_an_error_not_a_hang() -> None:
    t = time.perf_counter()
    with pytest.raises(RuntimeError, match="side-by-side training process failed"):
        bench_train.side_by_side(8, "no such type", 2, batch=2, seconds=0.1, threads=2)
    assert time.perf_counter() - t < 120


def test_negative_side_by_side_is_refused() -> None:
    with pytest.raises(ValueError, match="side-by-side"):
        bench_train.run(depths=(8,), side=-1, log=lambda *a: None)
