"""axx report: thesis-style figures and summary tables from `axx eval` results."""
from __future__ import annotations

import argparse

from ..options import add_out


def add(sub, schemes: str) -> None:
    r = sub.add_parser("report", help="thesis-style figures (PNG) and summary tables (Markdown) from results",
                       description="Bar-pair figures (standard vs adversarial accuracy per victim execution type and "
                                   "parameter type, not-AT and AT together; one per adversarial set and victim "
                                   "architecture) and the summary tables of thesis Tables 5.2-5.6 (scenario x "
                                   "{not AT, AT}, averaged over execution types) into OUT/report.md.")
    r.add_argument("results", nargs="+", help="results CSVs written by `axx eval`")
    add_out(r, "output folder")
    r.set_defaults(func=run)


OUT_IS_FOLDER = True


def run(args: argparse.Namespace) -> int:
    from experiments.report import make_report

    path = make_report(args.results, args.out)
    print(f"wrote {path} and its figures")
    return 0
