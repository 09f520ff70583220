"""`make reproduce-quick` in CI: the committed ResNet-8 zoo reproduces the committed quick results
(Table 4.1 for ResNet-8 and its FGSM matrix on the first 1,000 test images) EXACTLY."""
import os

import pytest

from experiments.campaign import quick
from experiments.campaign.runner import REPO

COMMITTED = REPO / "experiments" / "results" / "quick-n1000" / "resnet8.csv"


@pytest.mark.skipif(not COMMITTED.is_file(), reason="no committed quick results yet: they need the six ResNet-8 "
                    "zoo models (`axx reproduce quick`, then commit experiments/results/quick-n1000/)")
def test_reproduce_quick_equals_committed_results(capsys):
    if not os.environ.get("CIFAR10_DIR"):
        pytest.skip("CIFAR10_DIR is not set (CI sets it to the full CIFAR-10)")
    assert quick.main([]) == 0, capsys.readouterr().err
    assert "rows equal to the committed results" in capsys.readouterr().out
