#!/usr/bin/env python3
"""The main ML job on a small budget (make demo): ResNet-8 in float, quant and approx, with and without
fast adversarial training; FGSM and PGD sets from two sources; the evaluation matrix; the report.

    python experiments/demo.py [--small] [--root artifacts/demo] [--data DIR]

Default: about 9 minutes on 2 CPU cores (10,000 training images, 1,000 test images). --small is the
CI setting (about 2 minutes). Every step is skipped when its artifact exists with the same
configuration, so a re-run (or a run after an interruption) only does what is missing.
Uses $CIFAR10_DIR when set, else downloads CIFAR-10 (md5-checked).
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

SETTINGS = {
    # train images, epochs from scratch, test images (attacks and evaluation), calibration images,
    # fine-tune epochs, validation images (held out of the training set)
    "default": dict(subset=10000, epochs=10, n=1000, calib=2000, ft_epochs=1, val=1000),
    "small": dict(subset=2000, epochs=2, n=200, calib=500, ft_epochs=1, val=200),
}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--small", action="store_true", help="the CI setting: fewer images and epochs")
    ap.add_argument("--root", default="artifacts/demo", help="where models, sets, results and the report go")
    ap.add_argument("--data", help="CIFAR-10 folder (default $CIFAR10_DIR, else download)")
    args = ap.parse_args(argv)
    s = SETTINGS["small" if args.small else "default"]
    root = Path(args.root)
    models, sets = root / "models", root / "advsets"

    from experiments.attacks import run_attack
    from experiments.evaluation import eval_to_csv
    from experiments.parsing import parse_eps
    from experiments.report import make_report
    from experiments.train import TrainConfig, train

    t0 = time.perf_counter()

    def step(title: str) -> None:
        print(f"\n== {title} ({time.perf_counter() - t0:.0f} s)", flush=True)

    common = dict(arch="resnet8", subset=s["subset"], val_images=s["val"], test_images=s["n"], data_dir=args.data,
                  batch_size=128, route="eager")  # ten short epochs: compiling would cost more than it saves
    step("standard training: float, quant (QAT), approx (fine-tuned from quant, all levels 0)")
    train(TrainConfig(exec_type="float", epochs=s["epochs"], **common), models / "resnet8_float.pt")
    train(TrainConfig(exec_type="quant", epochs=s["epochs"], **common), models / "resnet8_quant.pt")
    train(TrainConfig(exec_type="approx", init=str(models / "resnet8_quant.pt"), epochs=s["ft_epochs"],
                      calib_images=s["calib"], **common), models / "resnet8_approx.pt")
    step("fast adversarial training (FGSM-RS, eps 1/255) from each standard model")
    for et in ("float", "quant", "approx"):
        train(TrainConfig(exec_type=et, init=str(models / f"resnet8_{et}.pt"), epochs=s["ft_epochs"],
                          at_eps=parse_eps("1/255"), calib_images=s["calib"], **common), models / f"resnet8_{et}_at.pt")
    step("adversarial test sets: FGSM and PGD (eps 8/255) from the float and quant models")
    advsets = []
    for src in ("float", "quant"):
        for atk in ("fgsm", "pgd"):
            out = sets / f"{atk}_eps8_resnet8_{src}.pt"
            run_attack(models / f"resnet8_{src}.pt", src, atk, out, n=s["n"], data_dir=args.data,
                       calib_images=s["calib"])
            advsets.append(out)
    step("evaluation matrix: 6 victims x 3 execution types x 4 sets")
    victims = [models / f"resnet8_{et}{at}.pt" for et in ("float", "quant", "approx") for at in ("", "_at")]
    eval_to_csv(victims, ["float", "quant", "approx"], advsets, root / "results.csv", data_dir=args.data,
                calib_images=s["calib"])
    step("report")
    report = make_report([root / "results.csv"], root / "report")
    print(f"\nwrote {report} ({time.perf_counter() - t0:.0f} s in all)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
