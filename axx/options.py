"""Options several subcommands share, declared once (same name, same meaning, same help)."""
from __future__ import annotations

import argparse

DATA_HELP = "CIFAR-10 folder (python pickles); default $CIFAR10_DIR, else downloaded (md5-checked) to ~/.cache/axx"


def add_data(p: argparse.ArgumentParser, extra: str = "") -> None:
    p.add_argument("--data", help=DATA_HELP + extra)


def add_quiet(p: argparse.ArgumentParser) -> None:
    p.add_argument("--quiet", action="store_true", help="no progress bar")


def add_seed(p: argparse.ArgumentParser, what: str = "", default: int = 0) -> None:
    p.add_argument("--seed", type=int, default=default, help=f"random seed{what} (default {default})")


def add_calib_images(p: argparse.ArgumentParser, what: str) -> None:
    p.add_argument("--calib-images", type=int, default=5000, help=f"calibration images {what} (default 5000)")


def add_out(p: argparse.ArgumentParser, what: str, required: bool = True) -> None:
    p.add_argument("--out", required=required, help=what)


def add_device(p: argparse.ArgumentParser, what: str) -> None:
    p.add_argument("--device", default="auto",
                   help=f"where it computes: auto (default: a CUDA GPU when torch sees one, else the CPU), cpu, cuda or "
                        f"cuda:N; {what}")


def add_json(p: argparse.ArgumentParser, what: str) -> None:
    p.add_argument("--json", help=f"write {what} to this JSON file")
