"""The results CSV of the evaluation matrix: its columns, writer and reader."""
from __future__ import annotations

import csv
from pathlib import Path

from fileio import atomic_path


COLUMNS = ["victim", "victim_arch", "victim_params", "victim_at", "victim_exec", "levels", "advset", "attack",
           "eps", "source", "source_arch", "source_params", "source_exec", "source_at", "adaptive", "scenario",
           "std_acc", "adv_acc", "n_images", "batch_size", "code_version"]


def write_rows(rows: list[dict], path: Path | str) -> None:
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


__all__ = ["COLUMNS", "read_rows", "write_rows"]
