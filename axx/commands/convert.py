"""axx convert: rewrite a trusted checkpoint, training state, adversarial set or search state of an
older or foreign format as plain data that loads without running code."""
from __future__ import annotations

import argparse
import sys


def add(sub, schemes: str) -> None:
    c = sub.add_parser(
        "convert", help="rewrite a trusted file of an older format as plain data (EXECUTES the file)",
        description="Checkpoints, training states and adversarial sets load only when they hold tensors and plain "
                    "data (numbers, strings, lists, dicts), and a search resumes only from a plain JSON state, so "
                    "that no file you are handed can run code. This command rewrites a file of an older or "
                    "foreign format (a torch file holding other Python objects, or a search's old dill "
                    "state.pkl) as plain data. To do so it UNPICKLES the file, which executes whatever the file "
                    "holds: use it only on files you trust. The original is kept as NAME.orig (a search state "
                    "becomes state.json beside it).")
    c.add_argument("path", help="the file to convert")
    c.add_argument("--out", help="write the plain file here (default: in place, the original kept as PATH.orig; "
                                 "for a search's state.pkl: state.json beside it)")
    c.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from experiments.legacy_files import convert_file

    print(f"note: unpickling {args.path}, which executes what it holds (only for files you trust)", file=sys.stderr)
    convert_file(args.path, args.out)
    return 0
