"""axx eval: standard and adversarial accuracy of victims x execution types x adversarial sets."""
from __future__ import annotations

import argparse

from ..options import add_calib_images, add_data, add_device, add_out, add_quiet


def add(sub, schemes: str) -> None:
    e = sub.add_parser("eval", help="standard and adversarial accuracy of victims x execution types x sets",
                       description="Every victim checkpoint in every execution type against every adversarial set; "
                                   "each row labelled with its scenario (thesis Table 5.1: same architecture and "
                                   "parameter type = white-box; same architecture, other parameters = partial "
                                   "white-box; other architecture = black-box), AT flags and provenance.")
    e.add_argument("--victims", nargs="+", required=True, help="victim checkpoints")
    e.add_argument("--exec", default="float,quant,approx", help="comma-separated execution types (default all three)")
    e.add_argument("--advsets", nargs="+", required=True, help="adversarial sets made by `axx attack`")
    e.add_argument("--levels", help="approximation level(s) of approx victims: one, or one per convolution")
    e.add_argument("--batch-size", type=int, default=100,
                   help="evaluation batch size (default 100, the thesis's; quant models use per-batch scales: it is "
                        "recorded)")
    e.add_argument("--restart", action="store_true",
                   help="measure every row again; by default a row that an earlier run measured (this CSV before "
                        "its victims or sets changed, or a killed run's OUT.progress) is taken when its victim, set, "
                        "data and settings have the same content")
    add_calib_images(e, "for approx victims")
    add_device(e, "no part of the results' identity")
    add_data(e)
    add_out(e, "results CSV")
    add_quiet(e)
    e.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from experiments.evaluation import eval_to_csv
    from experiments.parsing import parse_levels

    rows = eval_to_csv(args.victims, [e.strip() for e in args.exec.split(",")], args.advsets, args.out,
                       levels=parse_levels(args.levels), data_dir=args.data, batch_size=args.batch_size,
                       calib_images=args.calib_images, device=args.device, restart=args.restart, progress=not args.quiet)
    print(f"{args.out}: {len(rows)} rows")
    return 0
