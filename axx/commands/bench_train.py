"""axx bench-train: training steps per second, and the projected time of the campaign's long trainings."""
from __future__ import annotations

import argparse

from ..options import add_json


def add(sub, schemes: str) -> None:
    b = sub.add_parser("bench-train", help="time training steps and project the zoo's long trainings",
                       description="Images/s of training steps (forward, loss, backward, SGD) for each ResNet depth "
                                   "and execution type: eager fp32 (the baseline, same run), torch.compile (the "
                                   "default of `axx train`), compiled channels-last, and bf16 autocast where the CPU "
                                   "has native bf16; as ratios to the baseline. Then the projected wall time of the 8 "
                                   "long trainings (float and quant, 4 depths) with the default recipe.")
    b.add_argument("--depths", default="8,20,32,56", help="comma-separated ResNet depths (default 8,20,32,56)")
    b.add_argument("--exec", default="float,quant", help="comma-separated execution types (default float,quant)")
    b.add_argument("--batch", type=int, default=128, help="training batch (default 128, the recipe's)")
    b.add_argument("--steps", type=int, default=8, help="timed steps after warm-up; median (default 8)")
    b.add_argument("--side-by-side", type=int, default=0, metavar="N",
                   help="also time N compiled trainings of the deepest depth at once, 1/N of the threads each, "
                        "against one with all threads (what `axx reproduce --jobs N` does); 0: skip (default)")
    add_json(b, "the figures, the hardware and the code version")
    b.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from experiments.bench_train import run as bench
    from experiments.parsing import parse_arch

    depths = [parse_arch(d) for d in args.depths.split(",")]
    execs = [e.strip() for e in args.exec.split(",")]
    bad = [e for e in execs if e not in ("float", "quant")]
    if bad:
        raise ValueError(f"--exec takes float and quant (training from scratch), got {', '.join(bad)}")
    bench(depths=depths, exec_types=execs, batch=args.batch, steps=args.steps, out=args.json, side=args.side_by_side)
    return 0
