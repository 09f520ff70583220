"""Per-level error metrics of a multiplier (ER, MAE/MED, MRED, WCE, mean error)."""
from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from fileio import atomic_path

from .model import operand_values

COLUMNS = ("level", "error_rate", "mae", "mred", "wce", "mean_error")


def level_metrics(tables: np.ndarray, operand_bits: int, levels=None) -> list[dict]:
    """Metrics of tables [n_levels, 2^bits, 2^bits] against the exact product.

    error_rate: fraction of operand pairs with a wrong product; mae: mean |error| (MED);
    mred: mean |error| / |exact| over pairs whose exact product is non-zero; wce: worst
    |error|; mean_error: mean signed error (the bias). Every pair counts once.
    """
    v = operand_values(operand_bits)
    exact = v[:, None] * v[None, :]
    nz = exact != 0
    inv = 1.0 / np.abs(exact[nz]).astype(np.float64)
    lv = np.arange(tables.shape[0]) if levels is None else np.asarray(levels).ravel()
    rows = []
    for i, level in enumerate(lv):
        err = tables[i].astype(np.int64) - exact
        ae = np.abs(err)
        rows.append({
            "level": int(level),
            "error_rate": float(np.count_nonzero(err)) / err.size,
            "mae": float(ae.mean()),
            "mred": float((ae[nz] * inv).mean()),
            "wce": int(ae.max()),
            "mean_error": float(err.mean()),
        })
    return rows


def write_metrics_csv(rows: list[dict], path: Path) -> None:
    with atomic_path(path) as tmp, open(tmp, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=COLUMNS)
        w.writeheader()
        for r in rows:
            w.writerow({k: (f"{r[k]:.9g}" if isinstance(r[k], float) else r[k]) for k in COLUMNS})


def plot_metrics(rows: list[dict], path: Path, title: str) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    lv = [r["level"] for r in rows]
    fig, axes = plt.subplots(2, 3, figsize=(13, 6.5), sharex=True)
    specs = [("error_rate", "error rate"), ("mae", "MAE (MED)"), ("mred", "MRED"),
             ("wce", "worst-case error"), ("mean_error", "mean error (bias)")]
    for ax, (key, label) in zip(axes.flat, specs):
        ax.plot(lv, [r[key] for r in rows], ".", ms=3)
        ax.set_title(label)
        ax.grid(alpha=0.3)
    axes.flat[-1].axis("off")
    for ax in axes[-1]:
        ax.set_xlabel("approximation level")
    fig.suptitle(title)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=110, format="png")
    plt.close(fig)
