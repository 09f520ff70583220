"""axx reproduce: run the thesis campaign's plans (experiments/plans/*.toml)."""
from __future__ import annotations

import argparse

from ..options import add_data, add_device, add_quiet


def add(sub, schemes: str) -> None:
    from experiments.campaign import builtin_plans
    from experiments.campaign.schedule import ORDERS

    r = sub.add_parser(
        "reproduce", help="run thesis plans: train the zoo, attack, evaluate, search, write results pages",
        description="Derives every step the plans need (trainings, fine-tunes, adversarial trainings, adversarial "
                    "sets, evaluations, NSGA-II searches, results pages), skips those whose artifact is up to date "
                    "(same configuration and inputs, by content), and runs the rest in dependency order: one at a "
                    "time, in --jobs local processes, or on a Dask cluster. Paths are relative to the repository "
                    f"root. Built-in plans: {', '.join(builtin_plans())}.")
    r.add_argument("plans", nargs="+", metavar="PLAN", help="a built-in plan name or a .toml file")
    r.add_argument("--only", nargs="+", metavar="STEP",
                   help="run only these steps (ids or shell patterns, e.g. 'train:resnet8_*' 'eval:fgsm/*'); "
                        "their dependencies must be done")
    r.add_argument("--dry-run", action="store_true",
                   help="list the steps, what is done, and the projected time of the rest on this machine (with "
                        "--jobs N: at each worker's share of the threads, and the wall time N at a time, each step "
                        "waiting for those it needs)")
    r.add_argument("--no-timing", action="store_true",
                   help="with --dry-run: time nothing (a dry run otherwise times a few steps of each kind of step "
                        "left, minutes on a busy CPU, again whenever the load changed): project from the rates "
                        "cached here at any load, and leave the other steps unprojected ('?')")
    g = r.add_mutually_exclusive_group()
    g.add_argument("--resume", action="store_true", help="continue interrupted trainings and searches")
    g.add_argument("--restart", action="store_true", help="start interrupted trainings and searches over")
    r.add_argument("--jobs", type=int, default=1, help="independent steps run side by side in N local processes "
                                                       "(the cores are split between them; default 1)")
    r.add_argument("--cores", type=int, metavar="N",
                   help="use N of this machine's cores (default all): the steps run here take N / --jobs threads "
                        "each. Give each of two runs side by side its part (e.g. the zoo's trainings and a campaign "
                        "plan on a 2-core machine: --cores 1 each); on all the cores each, their threads contend")
    r.add_argument("--order", choices=ORDERS, default="longest",
                   help="which ready step a free worker starts when more are ready than --jobs: 'longest' (default) "
                        "the one heading the longest chain of projected work still to do (ResNet-56 quant before "
                        "the short fine-tunes, the searches before the evaluations), which ends the run sooner; "
                        "'plan' the plans' order. Steps a plan names in its `first` list start before either; "
                        "one job runs the plans' order")
    r.add_argument("--partial", action="store_true",
                   help="train and search nothing: make the adversarial sets whose source model exists, evaluate "
                        "the victims and sets that exist (NAME.partial.csv where some are missing), and write every "
                        "page from that, headed by what is missing (rewritten in full once all exists)")
    r.add_argument("--dask", metavar="ADDRESS", help="run the steps on a Dask cluster, e.g. tcp://host:8786")
    r.add_argument("--zoo", default="experiments/zoo", help="the model zoo folder (default experiments/zoo)")
    r.add_argument("--work", default="artifacts/campaign",
                   help="adversarial sets and timing caches (large, not committed; default artifacts/campaign)")
    r.add_argument("--results", default="experiments/results",
                   help="results pages, CSVs and figures (default experiments/results)")
    r.add_argument("--n-images", type=int, help="use the first N test images (default: the plan's, else all 10,000)")
    add_device(r, "trainings, attacks, evaluations and searches run there; no part of any step's identity")
    add_data(r)
    add_quiet(r)
    r.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import os

    from experiments.campaign import Context, reproduce

    here = os.getcwd()
    absol = lambda p: None if p is None else os.path.abspath(os.path.join(here, p))  # noqa: E731
    from experiments.campaign.runner import REPO

    def rel(p: str) -> str:
        a = absol(p)
        return os.path.relpath(a, REPO) if a.startswith(str(REPO) + os.sep) else a

    if args.no_timing and not args.dry_run:
        raise ValueError("--no-timing goes with --dry-run (a run times nothing for its projection)")
    plans = [p if not p.endswith(".toml") else absol(p) for p in args.plans]
    ctx = Context(zoo=rel(args.zoo), work=rel(args.work), results=rel(args.results), data_dir=absol(args.data),
                  n_images=args.n_images, resume=args.resume, restart=args.restart, progress=not args.quiet,
                  partial=args.partial, device=args.device)
    res = reproduce(plans, ctx, only=args.only, dry=args.dry_run, jobs=args.jobs, dask=args.dask, order=args.order,
                    cores=args.cores, timing=not args.no_timing)
    return 1 if not args.dry_run and (res["failed"] or res["blocked"]) else 0
