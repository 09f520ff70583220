"""axx cost: a scheme's gate-level cost per level (power and area proxies) from its synthesized RTL."""
from __future__ import annotations

import argparse
from pathlib import Path

from ..options import add_quiet


def add(sub, schemes: str) -> None:
    c = sub.add_parser(
        "cost", help="gate-level power and area proxies per level, from the scheme's synthesized RTL",
        description="Synthesizes the scheme's multiplier (one lane) with Yosys to 2-input gates, checks that the "
                    "netlist computes the scheme's tables, then per level: the power proxy of the reconfigurable "
                    "design (fan-out-weighted toggles per vector over N random operand pairs) and the area proxy "
                    "of a design with the level tied to a constant (cells and transistors after constant "
                    "propagation). Writes cost.csv and cost.png into the table folder and records a summary in its "
                    "manifest; for marlin, also the agreement with MARLIN's 256 published power figures. "
                    "`axx luts` runs it after writing the tables.")
    c.add_argument("--scheme", default="marlin", help=f"multiplier scheme (one of: {schemes}; default marlin)")
    c.add_argument("--lut-dir", help="the scheme's table folder (default luts/<scheme>; run `make luts` first)")
    c.add_argument("--vectors", type=int, default=100_000,
                   help="random operand pairs per level for the switching activity (default 100,000, as MARLIN)")
    c.add_argument("--seed", type=int, default=0, help="seed of the random operands (default 0)")
    add_quiet(c)
    c.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from lut_build.artifacts import default_lut_root
    from lut_build.schemes import get_scheme

    from ..rtl_tables import build_cost

    get_scheme(args.scheme)
    lut_dir = Path(args.lut_dir) if args.lut_dir else default_lut_root() / args.scheme
    if not (lut_dir / "manifest.json").is_file():
        raise ValueError(f"{lut_dir} holds no tables of {args.scheme!r}: run `make luts SCHEME={args.scheme}` first")
    build_cost(args.scheme, lut_dir, args.vectors, args.seed, progress=not args.quiet)
    print(f"wrote {lut_dir / 'cost.csv'} and {lut_dir / 'cost.png'}")
    return 0
