"""The `axx` command line: one entry point, one subcommand per job.

Each subcommand imports only what it needs, so `axx luts` works without torch's heavier
parts and the ML commands work without a simulator.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path


def _cmd_luts(args: argparse.Namespace) -> int:
    from lut_build.verify import MismatchError

    from .luts import build_luts, parse_defines

    out = Path(args.out) if args.out else Path("luts") / args.scheme
    try:
        path = build_luts(args.scheme, args.sim, out, defines=parse_defines(args.define), jobs=args.jobs,
                          headers=not args.no_headers, progress=not args.quiet)
    except MismatchError as e:
        print(f"ERROR: the RTL does not match the behavioural model; nothing was written.\n{e}", file=sys.stderr)
        return 1
    print(f"wrote {path}")
    return 0


def _cmd_metrics(args: argparse.Namespace) -> int:
    from lut_build.metrics import write_metrics_csv, plot_metrics
    from lut_build.verify import MismatchError

    from .luts import metrics_table, summary

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


def _cmd_bench(args: argparse.Namespace) -> int:
    from emulator.bench import run

    levels = [int(v) for v in args.levels.split(",")]
    run(levels=levels, batch=args.batch, ref_batch=args.ref_batch, repeats=args.repeats, out=args.json)
    return 0


def build_parser() -> argparse.ArgumentParser:
    from lut_build.schemes import SCHEMES

    schemes = ", ".join(sorted(SCHEMES))
    p = argparse.ArgumentParser(prog="axx", description=(
        "Hardware-faithful emulation of MARLIN's reconfigurable approximate multiplier: RTL "
        "co-verification, LUTs, and (in later commands) approximate CNNs under attack."))
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    q = sub.add_parser("luts", help="sweep the RTL over every level and operand pair, verify, write luts/<scheme>/",
                       description="Simulate the multiplier RTL through cocotb for all 256 levels x 65,536 "
                                   "8-bit operand pairs, compare every product with the behavioural model, and "
                                   "write luts.npy, TransAxx C headers, metrics.csv/png and manifest.json. "
                                   "On any mismatch: a report, exit status 1, and nothing written.")
    q.add_argument("--scheme", default="marlin", help=f"multiplier scheme (one of: {schemes}; default marlin)")
    q.add_argument("--sim", default="verilator", choices=["verilator", "icarus"],
                   help="simulator (default verilator: ~3 s sweep; icarus: ~1 min)")
    q.add_argument("--out", help="output folder (default luts/<scheme>)")
    q.add_argument("--jobs", type=int, default=None, help="simulator processes in parallel (default: 2 or the core count)")
    q.add_argument("--define", action="append", metavar="NAME[=VALUE]",
                   help="extra Verilog define for the RTL, e.g. to try a design variant (repeatable)")
    q.add_argument("--no-headers", action="store_true", help="skip the 256 C headers (about 90 MB)")
    q.add_argument("--quiet", action="store_true", help="no progress bar")
    q.set_defaults(func=_cmd_luts)

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
    m.add_argument("--quiet", action="store_true", help="no progress bar")
    m.set_defaults(func=_cmd_metrics)

    b = sub.add_parser("bench", help="time the convolution engines against exact float32",
                       description="Per ResNet stage conv shape and for a whole ResNet-32 forward pass, at each "
                                   "level: exact float32, and the reference, c and fast engines as ratios to it "
                                   "(medians, same run); then images/s per execution type. Writes JSON with --json.")
    b.add_argument("--levels", default="0,8,50,100,255", help="comma-separated levels (default 0,8,50,100,255)")
    b.add_argument("--batch", type=int, default=100, help="images per forward pass (default 100)")
    b.add_argument("--ref-batch", type=int, default=4, help="batch for the (slow) reference engine (default 4)")
    b.add_argument("--repeats", type=int, default=5, help="timed repeats per measurement; medians (default 5)")
    b.add_argument("--json", help="write all figures, the config and the code version to this JSON file")
    b.set_defaults(func=_cmd_bench)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except KeyboardInterrupt:
        print("interrupted; nothing was written", file=sys.stderr)
        return 130
    except (KeyError, ValueError, OSError) as e:
        msg = e.args[0] if isinstance(e, KeyError) and e.args else e
        print(f"error: {msg}", file=sys.stderr)
        return 2
    except Exception as e:  # simulator missing, RTL that does not compile, unreadable tables
        from lut_build.artifacts import LutError
        from sim.runner import SimulationError, SimulatorMissing

        if isinstance(e, (SimulatorMissing, SimulationError, LutError)):
            print(f"error: {e}", file=sys.stderr)
            return 2
        raise


if __name__ == "__main__":
    sys.exit(main())
