#!/usr/bin/env python3
"""A small NSGA-II search on CPU (make demo-search): per-layer levels of the demo's AT approx ResNet-8 under
PGD data from its float ResNet-8, objectives adversarial accuracy, standard accuracy and energy.

    python experiments/demo_search.py [--small] [--root artifacts/demo] [--data DIR] [--workers 2]

It reuses the models and sets of `make demo` (running the missing demo steps first, about 7.5 minutes
from nothing); the search itself takes 1-2 minutes on 2 cores. Writes ROOT/search/{evaluations,pareto}.csv
and pareto.png (adversarial vs standard accuracy, as thesis Fig 5.25).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

SETTINGS = {"default": dict(pop=16, gens=8, n_images=200), "small": dict(pop=6, gens=2, n_images=40)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--small", action="store_true", help="the CI setting (smaller demo, population and images)")
    ap.add_argument("--root", default="artifacts/demo", help="the demo's artifact root")
    ap.add_argument("--data", help="CIFAR-10 folder (default $CIFAR10_DIR, else download)")
    ap.add_argument("--workers", type=int, default=2, help="evaluation processes (default 2)")
    args = ap.parse_args(argv)

    from experiments import demo
    common = ["--root", args.root] + (["--small"] if args.small else []) + (["--data", args.data] if args.data else [])
    demo.main(common)  # every finished step is skipped

    from experiments.search import SearchConfig, run_search

    s = SETTINGS["small" if args.small else "default"]
    root = Path(args.root)
    cfg = SearchConfig(victim=str(root / "models" / "resnet8_approx_at.pt"),
                       advset=str(root / "advsets" / "pgd_eps8_resnet8_float.pt"), axx_levels=50,
                       objectives=("adv", "std", "energy"), data_dir=args.data,
                       calib_images=demo.SETTINGS["small" if args.small else "default"]["calib"], **s)
    print(f"\n== NSGA-II: pop {cfg.pop} x {cfg.gens} generations, levels 0..{cfg.axx_levels}, "
          f"first {cfg.n_images} images", flush=True)
    run_search(cfg, root / "search", workers=args.workers, resume=True)
    print(f"figure: {root / 'search' / 'pareto.png'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
