"""`make reproduce-quick` in CI: the committed ResNet-8 zoo reproduces the committed quick results
(Table 4.1 for ResNet-8 and its FGSM matrix on the first 1,000 test images) EXACTLY."""
import os

import pytest

from experiments.campaign import quick
from experiments.campaign.runner import REPO

COMMITTED = REPO / "experiments" / "results" / "quick-n1000" / "resnet8.csv"


@pytest.mark.skipif(not COMMITTED.is_file(), reason="no committed quick results yet: they need the six ResNet-8 "
                    "zoo models (`axx reproduce quick`, then commit experiments/results/quick-n1000/)")
def test_reproduce_quick_equals_committed_results(capsys, monkeypatch):
    if not os.environ.get("CIFAR10_DIR"):
        pytest.skip("CIFAR10_DIR is not set (CI sets it to the full CIFAR-10)")
    monkeypatch.setenv("AXX_COMPILE", "1")  # as `make reproduce-quick` and the committed run (conftest turns it off)
    assert quick.main([]) == 0, capsys.readouterr().err
    assert "reproduce-quick: 36 rows" in capsys.readouterr().out


def test_comparison_is_exact_on_the_same_cpu_kind_and_bounded_elsewhere():
    row = lambda adv: ("resnet8_float.pt", "float", "s.pt", "0", "1000", "0.859", adv)  # noqa: E731
    assert quick.compare([row("0.024")], [row("0.024")], "AVX2", "AVX2")[0]
    assert not quick.compare([row("0.025")], [row("0.024")], "AVX2", "AVX2")[0]      # same CPU kind: equality
    ok, msg = quick.compare([row("0.026")], [row("0.024")], "AVX2", "AVX512")
    assert ok and "at most 2 image(s) of 1000" in msg and "AVX2 CPU, this is AVX512" in msg
    assert not quick.compare([row("0.030")], [row("0.024")], "AVX2", "AVX512")[0]    # 6 images: beyond the bound
    assert not quick.compare([row("0.024")], [row("0.024"), row("0.1")], "AVX2", "AVX512")[0]  # rows missing
