"""The search's figure: adversarial vs standard accuracy of every evaluated configuration, the
Pareto front and the exact network (thesis Fig 5.25)."""
from __future__ import annotations

from pathlib import Path

from fileio import atomic_path

from .config import SearchConfig


def plot_front(records: list[dict], front: list[dict], exact: dict, path: Path, cfg: SearchConfig) -> None:
    """Adversarial vs standard accuracy, one point per evaluated configuration (thesis Fig 5.25)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.5, 4.5))
    ax.scatter([100 * r["std"] for r in records], [100 * r["adv"] for r in records], s=10, color="#9db4d6",
               label=f"evaluated configurations ({len(records)})")
    fr = sorted(front, key=lambda r: r["std"])
    # a 2-objective front is a staircase in this plane; with energy it is a projection, so no line
    style = "o-" if set(cfg.objectives) == {"adv", "std"} else "o"
    extra = "" if style == "o-" else ", adv/std/energy"
    ax.plot([100 * r["std"] for r in fr], [100 * r["adv"] for r in fr], style, color="#c44e52", ms=5,
            label=f"Pareto front ({len(front)}{extra})")
    ax.scatter([100 * exact["std"]], [100 * exact["adv"]], marker="*", s=160, color="black", zorder=5,
               label="exact (all levels 0)")
    ax.set_xlabel("standard accuracy (%)")
    ax.set_ylabel("adversarial accuracy (%)")
    n = f", first {cfg.n_images} images" if cfg.n_images else ""
    ax.set_title(f"NSGA-II, levels 0..{cfg.axx_levels}, pop {cfg.pop} x {cfg.gens} gens{n}", fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=110, format="png")
    plt.close(fig)


__all__ = ["plot_front"]
