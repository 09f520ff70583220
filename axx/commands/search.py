"""axx search: NSGA-II search of per-layer approximation levels (pymoo)."""
from __future__ import annotations

import argparse

from ..options import add_calib_images, add_data, add_device, add_out, add_quiet, add_seed


def add(sub, schemes: str) -> None:
    s = sub.add_parser("search", help="NSGA-II search of per-layer approximation levels (pymoo)",
                       description="One integer gene per approximated convolution (the final linear layer stays "
                                   "exact) in 0..--axx-levels; objectives: maximise adversarial and standard accuracy, "
                                   "optionally minimise energy (MACs x MARLIN's per-level power). Identical genomes are "
                                   "evaluated once; the state is saved after every generation (--resume continues it). "
                                   "Writes OUT/evaluations.csv and OUT/pareto.csv.")
    s.add_argument("--victim", required=True, help="approx checkpoint to search levels for")
    s.add_argument("--exec", default="approx", help="execution type of the victim (must be approx)")
    s.add_argument("--advset", required=True, help="adversarial set (from `axx attack`) for the adversarial accuracy")
    s.add_argument("--axx-levels", type=int, default=50, help="highest level a gene may take, 1..255 (thesis: 50, 100)")
    s.add_argument("--pop", type=int, default=50, help="population size (default 50)")
    s.add_argument("--gens", type=int, default=30, help="generations (default 30)")
    s.add_argument("--crossover", type=float, default=0.8, help="crossover probability (default 0.8)")
    s.add_argument("--mutation", type=float, default=0.8, help="mutation probability (default 0.8)")
    s.add_argument("--operators", default="thesis", choices=("thesis", "sbx"),
                   help="thesis (default: single-point crossover and polynomial mutation eta 3, rounding repair, as "
                        "the author's nsga2.py) or sbx (SBX eta 15 + polynomial mutation eta 20)")
    s.add_argument("--batch-size", type=int, default=100, help="evaluation batch size (default 100, the thesis's)")
    s.add_argument("--n-images", type=int, help="evaluate on the first N images of each set (default: all)")
    s.add_argument("--objectives", default="adv,std", help="comma-separated: adv, std, energy (default adv,std)")
    s.add_argument("--workers", type=int, default=1, help="local worker processes (default 1: serial)")
    s.add_argument("--dask", help="address of a Dask scheduler, e.g. tcp://host:8786 (instead of --workers)")
    s.add_argument("--scheme", default="marlin",
                   help=f"multiplier scheme of the victim's convolutions (one of: {schemes}; default marlin); the "
                        "energy objective uses MARLIN's published power for marlin, the scheme's gate-level power "
                        "proxy (`axx cost`) otherwise")
    add_seed(s, default=1)
    add_calib_images(s, "if the victim needs them")
    add_device(s, "genomes are evaluated there; results are bit-identical everywhere, so a search resumes on "
                  "another device")
    add_data(s)
    g = s.add_mutually_exclusive_group()
    g.add_argument("--resume", action="store_true", help="continue the interrupted search saved in OUT/state.json")
    g.add_argument("--restart", action="store_true",
                   help="start over although OUT holds an interrupted search (its state is replaced)")
    add_quiet(s)
    add_out(s, "output folder")
    s.set_defaults(func=run)


OUT_IS_FOLDER = True


def run(args: argparse.Namespace) -> int:
    from experiments.search import SearchConfig, run_search

    cfg = SearchConfig(victim=args.victim, advset=args.advset, exec_type=args.exec, axx_levels=args.axx_levels,
                       pop=args.pop, gens=args.gens, crossover=args.crossover, mutation=args.mutation,
                       operators=args.operators, batch_size=args.batch_size,
                       n_images=args.n_images, objectives=tuple(o.strip() for o in args.objectives.split(",")),
                       seed=args.seed, data_dir=args.data, calib_images=args.calib_images, device=args.device,
                       scheme=args.scheme)
    run_search(cfg, args.out, workers=args.workers, dask=args.dask, resume=args.resume, restart=args.restart,
               progress=not args.quiet)
    return 0
