"""axx metrics: per-level error metrics over the full operand space, from the model or the RTL."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..options import add_quiet


def add(sub, schemes: str) -> None:
    m = sub.add_parser("metrics", help="per-level error metrics over the full operand space",
                       description="Error rate, MAE (MED), MRED, worst-case error and mean error of every level, "
                                   "over all (2^width)^2 operand pairs, from the behavioural model or (--rtl) from "
                                   "the RTL (then also verified against the model). --width 9 covers MARLIN's "
                                   "9-bit array, to compare with its published per-level figures.")
    m.add_argument("--scheme", default="marlin", help=f"multiplier scheme (one of: {schemes})")
    m.add_argument("--width", type=int, default=8, help="operand width in bits, 8 .. the scheme's array width (default 8)")
    m.add_argument("--csv", help="write the metrics (level,error_rate,mae,mred,wce,mean_error) to this CSV")
    m.add_argument("--png", help="plot the metrics against the level into this PNG")
    m.add_argument("--rtl", action="store_true", help="measure on the RTL instead of the model")
    m.add_argument("--sim", default="verilator", choices=["verilator", "icarus"], help="simulator for --rtl")
    add_quiet(m)
    m.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from lut_build.metrics import plot_metrics, write_metrics_csv
    from lut_build.verify import MismatchError

    from ..rtl_tables import metrics_table, summary

    try:
        rows = metrics_table(args.scheme, args.width, rtl=args.rtl, sim=args.sim, progress=not args.quiet)
    except MismatchError as e:
        print(f"ERROR: the RTL does not match the behavioural model.\n{e}", file=sys.stderr)
        return 1
    print(summary(rows))
    if args.csv:
        write_metrics_csv(rows, Path(args.csv))
        print(f"wrote {args.csv}")
    if args.png:
        plot_metrics(rows, Path(args.png), f"{args.scheme}: error metrics per level ({args.width}-bit operands)")
        print(f"wrote {args.png}")
    return 0
