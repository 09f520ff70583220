"""axx data: where CIFAR-10 is, whether it is the official data, and fetching it ahead of a run."""
from __future__ import annotations

import argparse
import json

from ..options import add_data, add_json, add_quiet


def add(sub, schemes: str) -> None:
    d = sub.add_parser("data", help="check (or --download) the CIFAR-10 folder the other commands read",
                       description="Lists the CIFAR-10 batch files of the folder every command reads and whether "
                                   "each holds the official batch of its name, judged by its labels and pixels (the "
                                   "official files and copies without their `filenames` entry are the same data: "
                                   "results made from either match the committed zoo's). Exit status 0 when all six "
                                   "are the official ones, 1 otherwise. --download fetches the missing ones first "
                                   "(md5-checked archive), e.g. before going offline.")
    add_data(d)
    d.add_argument("--download", action="store_true", help="download the missing batch files first")
    add_json(d, "the check (per file: state, md5, content digest, layout)")
    add_quiet(d)
    d.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from experiments.data import check, default_root, download, missing_files
    from fileio import atomic_write_text, code_version

    root = Path(args.data) if args.data else default_root()
    if args.download and missing_files(root):
        download(root, progress=not args.quiet)
    rows = check(root)
    print(f"CIFAR-10 in {root}:")
    for r in rows:
        what = {"official": f"official ({r['layout'] or 'its labels and pixels; another file layout'})",
                "other": "other data (its labels or pixels differ from the official batch)",
                "missing": "missing", "unreadable": "not a readable CIFAR-10 batch"}[r["state"]]
        print(f"  {r['file']:<13} {what}")
    states = {r["state"] for r in rows}
    if states == {"official"}:
        print("the official CIFAR-10: results made from it match the committed zoo's and results")
    elif states <= {"official", "missing"}:
        print("a run downloads the missing files first (or: axx data --download)")
    else:
        print("not the official CIFAR-10: what is made from it is not comparable with the committed results, and "
              "`axx reproduce` redoes every step that read it")
    if args.json:
        atomic_write_text(args.json, json.dumps({"folder": str(root), "files": rows, "code_version": code_version()},
                                                indent=2) + "\n")
        print(f"wrote {args.json}")
    return 0 if states == {"official"} else 1
