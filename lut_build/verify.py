"""Entry-by-entry comparison of RTL-produced tables with the behavioural model."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .model import operand_values


class MismatchError(RuntimeError):
    """RTL and model disagree; the message is the full report."""

    def __init__(self, report: "Report") -> None:
        super().__init__(report.text())
        self.report = report


@dataclass
class Report:
    total: int
    mismatches: int
    first: list[tuple[int, int, int, int, int]] = field(default_factory=list)  # level, weight, act, rtl, model
    label: str = ""

    @property
    def ok(self) -> bool:
        return self.mismatches == 0

    def text(self) -> str:
        head = f"{self.label}: " if self.label else ""
        if self.ok:
            return f"{head}all {self.total:,} entries of the RTL equal the model"
        lines = [f"{head}{self.mismatches:,} of {self.total:,} entries differ between RTL and model; first {len(self.first)}:",
                 f"  {'level':>5} {'weight':>6} {'act':>5} {'rtl':>7} {'model':>7}"]
        lines += [f"  {l:>5} {w:>6} {x:>5} {r:>7} {m:>7}" for l, w, x, r, m in self.first]
        return "\n".join(lines)


def compare(rtl: np.ndarray, model: np.ndarray, operand_bits: int = 8, levels=None,
            label: str = "", n_first: int = 10, first_weight: int = 0) -> Report:
    """Compare tables [n_levels, n_weights, 2^bits] indexed (level, weight, activation);
    `levels` and `first_weight` (the weight pattern of row 0) name the entries in the report."""
    if rtl.shape != model.shape:
        raise ValueError(f"table shapes differ: rtl {rtl.shape} vs model {model.shape}")
    lv = np.arange(rtl.shape[0]) if levels is None else np.asarray(levels).ravel()
    bad = rtl != model
    n = int(bad.sum())
    first = []
    if n:
        vals = operand_values(operand_bits)
        for li, wi, ai in np.argwhere(bad)[:n_first]:
            first.append((int(lv[li]), int(vals[wi + first_weight]), int(vals[ai]), int(rtl[li, wi, ai]), int(model[li, wi, ai])))
    return Report(total=int(rtl.size), mismatches=n, first=first, label=label)
