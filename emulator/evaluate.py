"""The transfer / white-box evaluation matrix (thesis 4.4.3, Table 5.1): every victim in every
execution type against every adversarial set, with its scenario label."""
from __future__ import annotations

import csv
from pathlib import Path


SCENARIOS = ("white-box", "partial white-box", "black-box")
COLUMNS = ["victim", "victim_arch", "victim_params", "victim_at", "victim_exec", "levels", "advset", "attack",
           "eps", "source", "source_arch", "source_params", "source_exec", "source_at", "adaptive", "scenario",
           "std_acc", "adv_acc", "n_images", "batch_size", "code_version"]


def scenario(source_arch: str, source_params: str, victim_arch: str, victim_params: str, adaptive: bool = False) -> str:
    """Table 5.1: identical architecture and parameter type (the execution type the parameters were
    trained with) = white-box; identical architecture, other parameters = partial white-box; other
    architecture = black-box. An attack computed on the victim itself is white-box by definition."""
    if adaptive:
        return "white-box"
    if source_arch != victim_arch:
        return "black-box"
    return "white-box" if source_params == victim_params else "partial white-box"


def write_rows(rows: list[dict], path: Path | str) -> None:
    from lut_build.artifacts import atomic_path
    with atomic_path(path) as tmp, open(tmp, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=COLUMNS)
        w.writeheader()
        for r in rows:
            w.writerow({k: r.get(k, "") for k in COLUMNS})


def read_rows(path: Path | str) -> list[dict]:
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    missing = set(COLUMNS) - set(rows[0]) if rows else set()
    if missing:
        raise ValueError(f"{path} is not an axx results file (missing columns {sorted(missing)})")
    return rows


__all__ = ["SCENARIOS", "COLUMNS", "scenario", "write_rows", "read_rows"]
