"""`make reproduce-quick`: the quick plan (Table 4.1 for ResNet-8 and its FGSM matrix on the first 1,000
test images) from the committed zoo into a scratch folder, checked EQUAL to the committed results
(the pipeline is deterministic: an equality test, not a tolerance)."""
from __future__ import annotations

import argparse
import csv
import sys
import tempfile
from pathlib import Path

from .runner import REPO, reproduce
from .steps import Context

KEY = ("victim", "victim_exec", "advset", "levels", "n_images", "std_acc", "adv_acc")


def _rows(path: Path) -> list[tuple]:
    with open(path, newline="") as f:
        return sorted(tuple(Path(r[k]).name if k in ("victim", "advset") else r[k] for k in KEY)
                      for r in csv.DictReader(f))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--data", help="CIFAR-10 folder (default $CIFAR10_DIR, else downloaded)")
    args = ap.parse_args(argv)
    committed = REPO / "experiments" / "results" / "quick-n1000"
    if not (committed / "resnet8.csv").is_file():
        print(f"error: no committed quick results in {committed.relative_to(REPO)}: run `axx reproduce quick` once "
              "the ResNet-8 zoo is trained, and commit them", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="axx-quick-") as tmp:
        ctx = Context(results=tmp, work=str(Path(tmp) / "work"), data_dir=args.data, progress=False)
        res = reproduce(["quick"], ctx, only=["attack:*", "eval:*", "report:*"])
        if res["failed"] or res["blocked"]:
            return 1
        ours, theirs = _rows(Path(tmp) / "quick-n1000" / "resnet8.csv"), _rows(committed / "resnet8.csv")
    if ours != theirs:
        diff = [(a, b) for a, b in zip(ours, theirs) if a != b][:5]
        print(f"error: the quick matrix differs from the committed one ({len(ours)} vs {len(theirs)} rows; first "
              f"differences: {diff})", file=sys.stderr)
        return 1
    print(f"reproduce-quick: {len(ours)} rows equal to the committed results")
    return 0


if __name__ == "__main__":
    sys.exit(main())
