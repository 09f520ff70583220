"""axx bench: the convolution engines against exact float32, measured in the same run."""
from __future__ import annotations

import argparse

from ..options import add_json


def add(sub, schemes: str) -> None:
    b = sub.add_parser("bench", help="time the convolution engines against exact float32",
                       description="Per ResNet stage conv shape and for a whole ResNet-32 forward pass, at each "
                                   "level: exact float32, and the reference, c and fast engines as ratios to it "
                                   "(medians, same run); then images/s per execution type. Writes JSON with --json.")
    b.add_argument("--levels", default="0,8,50,100,255", help="comma-separated levels (default 0,8,50,100,255)")
    b.add_argument("--batch", type=int, default=100, help="images per forward pass (default 100)")
    b.add_argument("--ref-batch", type=int, default=4, help="batch for the (slow) reference engine (default 4)")
    b.add_argument("--repeats", type=int, default=5, help="timed repeats per measurement; medians (default 5)")
    add_json(b, "all figures, the config and the code version")
    b.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from emulator.bench import run as bench

    from experiments.parsing import parse_levels

    levels = parse_levels(args.levels)
    levels = levels if isinstance(levels, list) else [levels]
    for name in ("batch", "ref_batch", "repeats"):
        if getattr(args, name) < 1:
            raise ValueError(f"--{name.replace('_', '-')} must be >= 1, got {getattr(args, name)}")
    bench(levels=levels, batch=args.batch, ref_batch=args.ref_batch, repeats=args.repeats, out=args.json)
    return 0
