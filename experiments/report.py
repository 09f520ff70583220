"""Thesis-style figures and summary tables from `axx eval` results.

Figures (one per adversarial set and victim architecture, as thesis Figs 5.1-5.24): a pair of bars
(standard, adversarial accuracy) per (victim execution type, parameter type), not-AT and AT side by side.
Tables (as thesis Tables 5.2-5.6): per victim architecture and attack, scenario x {not AT, AT}, the
mean adversarial accuracy over execution types of exactly what the thesis averages (level 0, sets from
non-AT sources); everything else (adaptive attacks computed on the victim itself, AT sources, other
levels) in a second table beside it, never mixed into the thesis's cells.
"""
from __future__ import annotations

import math
from collections import defaultdict
from pathlib import Path

from fileio import atomic_path, atomic_write_text

from .results import read_rows

ROW_ORDER = ("white-box (adaptive)", "white-box", "partial white-box", "black-box")
EXEC_ORDER = {"float": 0, "quant": 1, "approx": 2}


def _truthy(v) -> bool:
    return str(v).lower() in ("true", "1", "yes")


def _scenario_row(r: dict) -> str:
    return "white-box (adaptive)" if _truthy(r["adaptive"]) else r["scenario"]


def _levels_zero(v) -> bool:
    """A results row's levels ('0', 0, '[0, 0, ...]') are all level 0 (exact multipliers)."""
    text = str(v).strip("[]() ")
    return all(p.strip() in ("0", "") for p in text.split(","))


def _thesis_cell(r: dict) -> bool:
    """What the thesis averages in Tables 5.2-5.6: exact multipliers (level 0), transfer sets made by
    non-AT sources (the AT column is about the victim)."""
    return _levels_zero(r["levels"]) and not _truthy(r["source_at"]) and not _truthy(r["adaptive"])


def _other_label(r: dict) -> str:
    parts = [_scenario_row(r).capitalize()]
    if _truthy(r["source_at"]):
        parts.append("AT source")
    if not _levels_zero(r["levels"]):
        parts.append(f"levels {r['levels']}")
    return ", ".join(parts)


def eps_text(eps) -> str:
    e = float(eps)
    return f"{round(e * 255)}/255" if abs(e * 255 - round(e * 255)) < 1e-6 else f"{e:.4g}"


def _table(cells: dict, order: list[str]) -> list[str]:
    out = ["| | Not AT | AT |", "|---|---|---|"]
    for label in order:
        vals = []
        for at in (False, True):
            v = cells.get((label, at))
            vals.append(f"{100 * sum(v) / len(v):.1f}% (n={len(v)})" if v else "-")
        out.append(f"| {label} | {vals[0]} | {vals[1]} |")
    return out


def cells(rows: list[dict]) -> dict:
    """{(victim arch, attack, eps): (thesis cells, other cells)}, each {(scenario label, victim AT): [adv acc]}:
    the thesis's cells hold exactly what Tables 5.2-5.6 average."""
    groups: dict = defaultdict(lambda: (defaultdict(list), defaultdict(list)))
    for r in rows:
        thesis, other = groups[(r["victim_arch"], r["attack"], r["eps"])]
        if _thesis_cell(r):
            thesis[(_scenario_row(r).capitalize(), _truthy(r["victim_at"]))].append(float(r["adv_acc"]))
        else:
            other[(_other_label(r), _truthy(r["victim_at"]))].append(float(r["adv_acc"]))
    return groups


def summary_tables(rows: list[dict]) -> str:
    """Per victim architecture, attack and eps: the thesis's cells (Tables 5.2-5.6), then, apart and never
    mixed in, everything the thesis does not average (adaptive attacks, AT sources, other levels)."""
    groups = cells(rows)
    out = []
    for (arch, attack, eps), (thesis, other) in sorted(groups.items()):
        title = f"### {arch} under {attack.upper()} (eps {eps_text(eps)})"
        if thesis:
            out.append(title + "\n")
            out += _table(thesis, [sc.capitalize() for sc in ROW_ORDER if any(k[0] == sc.capitalize() for k in thesis)])
            out.append("\nAs thesis Tables 5.2-5.6: mean adversarial accuracy over the victims' execution types, "
                       "exact multipliers (level 0), adversarial sets from non-AT sources (n = rows averaged).\n")
        if other:
            out.append(title + ": beyond the thesis's cells\n")
            labels = sorted({k[0] for k in other}, key=lambda t: (ROW_ORDER.index(t.split(",")[0].lower()), t))
            out += _table(other, labels)
            out.append("\nRows the thesis does not average (adaptive attacks, AT sources, other levels), kept apart "
                       "(n = rows averaged).\n")
    return "\n".join(out)


def figures(rows: list[dict], out_dir: Path) -> list[Path]:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    by: dict = defaultdict(list)
    for r in rows:
        by[(r["advset"], r["victim_arch"])].append(r)
    paths = []
    for (advset, arch), rs in sorted(by.items()):
        keys = sorted({(r["victim_exec"], r["victim_params"]) for r in rs},
                      key=lambda k: (EXEC_ORDER.get(k[0], 9), EXEC_ORDER.get(k[1], 9), k))
        fig, ax = plt.subplots(figsize=(max(6, 1.6 * len(keys)), 4))
        width = 0.2
        for j, (at, shade) in enumerate(((False, ("#4c72b0", "#dd8452")), (True, ("#8fb0e0", "#f0b58c")))):
            std, adv = [], []
            for k in keys:
                m = [r for r in rs if (r["victim_exec"], r["victim_params"]) == k and _truthy(r["victim_at"]) == at]
                # no victim of this kind: no bar (a bar at 0 read as an accuracy of 0 %)
                std.append(100 * sum(float(r["std_acc"]) for r in m) / len(m) if m else math.nan)
                adv.append(100 * sum(float(r["adv_acc"]) for r in m) / len(m) if m else math.nan)
            if all(math.isnan(v) for v in std):
                continue
            xs = [i + (2 * j - 1.5) * width for i in range(len(keys))]
            label = "AT" if at else "not AT"
            b1 = ax.bar(xs, std, width, color=shade[0], label=f"standard ({label})")
            b2 = ax.bar([x + width for x in xs], adv, width, color=shade[1], label=f"adversarial ({label})")
            for bars, vals in ((b1, std), (b2, adv)):
                ax.bar_label(bars, labels=["" if math.isnan(v) else f"{v:.0f}" for v in vals], fontsize=7, padding=1)
        ax.set_xticks(range(len(keys)), [f"{e}\nparam {p}" for e, p in keys])
        ax.set_xlim(-0.5, len(keys) - 0.5)  # each group keeps its four places, whichever bars it has
        ax.set_ylabel("accuracy (%)")
        # room above 100 % for the legend: in the plot's corner it covered the last group's bars and labels
        ax.set_ylim(0, 122)
        ax.set_yticks(range(0, 101, 20))
        src = rs[0]
        ax.set_title(f"{arch} victims - {src['attack'].upper()} data from a {src['source_exec']} "
                     f"{src['source_arch']} ({src['source_params']} params{', AT' if _truthy(src['source_at']) else ''}"
                     f"{', adaptive' if _truthy(src['adaptive']) else ''})", fontsize=9)
        ax.legend(fontsize=7, ncol=4 if len(keys) >= 4 else 2, loc="upper center", frameon=False)
        ax.grid(axis="y", alpha=0.3)
        fig.tight_layout()
        p = out_dir / f"{Path(advset).stem}__{arch}.png"
        with atomic_path(p) as tmp:
            fig.savefig(tmp, dpi=110, format="png")
        plt.close(fig)
        paths.append(p)
    return paths


def make_report(csv_paths: list, out_dir: str | Path) -> Path:
    rows = [r for p in csv_paths for r in read_rows(p)]
    if not rows:
        raise ValueError("no result rows to report")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    figs = figures(rows, out_dir)
    md = ["# Robustness report\n", f"Sources: {', '.join(str(p) for p in csv_paths)}; {len(rows)} rows; "
          f"code version {rows[0].get('code_version', '?')}; evaluation batch size "
          f"{', '.join(sorted({r['batch_size'] for r in rows}))}.\n", "## Summary tables\n", summary_tables(rows),
          "## Figures\n"] + [f"![{p.stem}]({p.name})\n" for p in figs]
    report = out_dir / "report.md"
    atomic_write_text(report, "\n".join(md))
    return report
