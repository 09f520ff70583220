"""axx attack: an adversarial test set with torchattacks, by transfer or adaptive."""
from __future__ import annotations

import argparse

from ..options import add_calib_images, add_data, add_device, add_out, add_quiet, add_seed


def add(sub, schemes: str) -> None:
    a = sub.add_parser("attack", help="generate an adversarial test set with torchattacks",
                       description="Untargeted attack of the test set (or its first N images) with any torchattacks "
                                   "class, from --source (transfer) or, with --adaptive, on --victim itself through "
                                   "the straight-through gradients of its quant/approx layers (BPDA; or the "
                                   "gradient-free Square attack). Saves images, labels and provenance atomically; a "
                                   "long attack saves its finished batches in OUT.state about once a minute, and "
                                   "--resume continues a killed one to the set an uninterrupted run makes.")
    a.add_argument("--source", help="checkpoint of the model that generates the attack")
    a.add_argument("--victim", help="with --adaptive: the checkpoint attacked directly")
    a.add_argument("--adaptive", action="store_true", help="attack the victim itself (white-box by definition)")
    a.add_argument("--exec", default="float", help="execution type of the attacking model (default float)")
    a.add_argument("--levels", help="approximation level(s) of an approx attacker: one, or one per convolution")
    a.add_argument("--attack", required=True, help="fgsm | bim | pgd | square | any torchattacks class name")
    a.add_argument("--eps", help="maximum perturbation, e.g. 8/255 or 0.031 (default 8/255)")
    a.add_argument("--alpha", help="step size for iterative attacks (default 2/255)")
    a.add_argument("--steps", type=int, help="iterations for iterative attacks (default 10)")
    a.add_argument("--n", type=int, help="attack the first N test images only")
    a.add_argument("--batch-size", type=int, default=100,
                   help="images per attack batch (default 100, the thesis's; quant attackers use per-batch scales)")
    add_calib_images(a, "if an approx model needs them")
    add_seed(a, " (random starts)")
    add_device(a, "no part of the set's identity (a set made on a GPU is up to date for a CPU)")
    add_data(a)
    g = a.add_mutually_exclusive_group()
    g.add_argument("--resume", action="store_true", help="continue the interrupted attack saved in OUT.state")
    g.add_argument("--restart", action="store_true",
                   help="start over although OUT.state holds an interrupted attack (it is replaced)")
    add_quiet(a)
    add_out(a, "adversarial set to write (.pt; OUT.json: its sidecar)")
    a.set_defaults(func=run)


def output_bytes(args: argparse.Namespace) -> int:
    return (args.n or 10_000) * 3 * 32 * 32 * 4 + (1 << 20)  # float32 images


def run(args: argparse.Namespace) -> int:
    from experiments.attacks import run_attack
    from experiments.parsing import parse_eps, parse_levels

    source = args.victim if args.adaptive else args.source
    if not source:
        raise ValueError("give --source CKPT (transfer attack) or --adaptive --victim CKPT")
    run_attack(source, args.exec, args.attack, args.out, eps=parse_eps(args.eps) if args.eps else None,
               alpha=parse_eps(args.alpha) if args.alpha else None, steps=args.steps, n=args.n, data_dir=args.data,
               adaptive=args.adaptive, levels=parse_levels(args.levels), batch_size=args.batch_size, seed=args.seed,
               calib_images=args.calib_images, progress=not args.quiet, device=args.device, resume=args.resume,
               restart=args.restart)
    return 0
