"""axx luts: sweep the RTL over every level and operand pair, verify, write luts/<scheme>/."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..options import add_quiet


def add(sub, schemes: str) -> None:
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
    add_quiet(q)
    q.set_defaults(func=run)


OUT_IS_FOLDER = True


def output_bytes(args: argparse.Namespace) -> int:
    return (34 << 20) + (0 if args.no_headers else 90 << 20)  # 32 MiB of tables, figures; the headers


def run(args: argparse.Namespace) -> int:
    from lut_build.verify import MismatchError

    from ..rtl_tables import build_luts, parse_defines

    out = Path(args.out) if args.out else Path("luts") / args.scheme
    try:
        path = build_luts(args.scheme, args.sim, out, defines=parse_defines(args.define), jobs=args.jobs,
                          headers=not args.no_headers, progress=not args.quiet)
    except MismatchError as e:
        print(f"ERROR: the RTL does not match the behavioural model; nothing was written.\n{e}", file=sys.stderr)
        return 1
    print(f"wrote {path}")
    return 0
