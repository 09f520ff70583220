"""axx bench-search: genome evaluations per second, and the projected thesis search time."""
from __future__ import annotations

import argparse

from ..options import add_data, add_json


def add(sub, schemes: str) -> None:
    bs = sub.add_parser("bench-search", help="time genome evaluations and project the thesis's NSGA-II search",
                        description="Times what the search runs per individual (set the per-layer levels, accuracy on "
                                    "the adversarial and the clean images) for random genomes in 0..--axx-levels, and "
                                    "projects the thesis's setting: 50 x 30 evaluations of 10,000 clean + 10,000 "
                                    "adversarial images (thesis: about 14 h on an RTX 3060 laptop GPU). Runs on the CPU "
                                    "and, when torch sees one, on the GPU.")
    bs.add_argument("--depth", type=int, default=32, choices=(8, 20, 32, 56), help="ResNet depth (default 32)")
    bs.add_argument("--images", type=int, default=1000,
                    help="images per set per evaluation (default 1000; the projection scales to 10,000)")
    bs.add_argument("--evals", type=int, default=5, help="timed evaluations after one warm-up; median (default 5)")
    bs.add_argument("--axx-levels", type=int, default=50, help="genes drawn from 0..N (default 50, as the thesis)")
    bs.add_argument("--batch", type=int, default=100, help="evaluation batch size (default 100, as `axx search`)")
    bs.add_argument("--victim", help="approx checkpoint to time (default: random calibrated weights; "
                                     "the cost does not depend on them)")
    bs.add_argument("--device", default="all", choices=("all", "cpu", "cuda"),
                    help="cpu, cuda, or all (the CPU, and the GPU when present; default)")
    add_data(bs, " (synthetic images when absent; the cost is the same)")
    add_json(bs, "the figures, the config and the code version")
    bs.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from experiments.search.bench import run as bench

    bench(depth=args.depth, images=args.images, evals=args.evals, axx_levels=args.axx_levels, batch=args.batch,
          ckpt=args.victim, data_dir=args.data, devices=args.device, out=args.json)
    return 0
