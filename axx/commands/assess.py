"""axx assess: a scheme's levels on a trained network (accuracy, transfer and adaptive PGD) beside
their error metrics and gate-level cost."""
from __future__ import annotations

import argparse
from pathlib import Path

from ..options import add_calib_images, add_data, add_device, add_quiet

ZOO = Path(__file__).resolve().parents[2] / "experiments" / "zoo"
# the default victim: the zoo's approx ResNet-20, else (until it is trained) the quant ResNet-20 that it is
# fine-tuned from, run as approx (the thesis's approx models start from those parameters)
DEFAULT_VICTIMS = ("resnet20_approx", "resnet20_quant")


def default_victim(zoo: Path = ZOO) -> tuple[str, str | None]:
    """(checkpoint, a note when it is not the approx model itself) of the zoo's default victim."""
    for name in DEFAULT_VICTIMS:
        if (zoo / f"{name}.pt").is_file():
            note = None if name == DEFAULT_VICTIMS[0] else (
                f"note: the zoo has no {DEFAULT_VICTIMS[0]} yet: assessing {name}, the model it is fine-tuned from, "
                "run as approx (--victim names another)")
            return str(zoo / f"{name}.pt"), note
    raise ValueError(f"the zoo ({zoo}) has none of {', '.join(DEFAULT_VICTIMS)} yet: name a checkpoint with --victim "
                     "and its float model with --source")


def add(sub, schemes: str) -> None:
    a = sub.add_parser(
        "assess", help="accuracy and robustness of a scheme's levels on a trained network, beside their cost",
        description="For each chosen level, with every convolution of the victim at that level: clean accuracy, "
                    "accuracy under PGD transferred from the matching float model, accuracy under adaptive PGD "
                    "(on the approximate model itself, straight-through gradients), the level's error metrics and "
                    "its power and area proxies (`axx cost`; MARLIN's published power too for marlin). Writes "
                    "OUT/<scheme>/assess.csv (+ .json provenance) and OUT/<scheme>/assess.png; a killed run keeps "
                    "its finished levels and a rerun continues. The transfer set (OUT/transfer/) is made once for "
                    "all the schemes assessed under OUT with the same source, eps and images. --compare draws "
                    "several assessed schemes on the same axes.")
    a.add_argument("--scheme", default="marlin", help=f"multiplier scheme (one of: {schemes}; default marlin)")
    a.add_argument("--victim", help="checkpoint to assess (run as approx; default the zoo's resnet20_approx, and "
                                    "until it is trained the resnet20_quant it is fine-tuned from)")
    a.add_argument("--source", help="float checkpoint of the same architecture for the transfer PGD "
                                    "(default the zoo's float model of the victim's architecture)")
    a.add_argument("--levels", default="default",
                   help="default (about 32 levels over 0..255 plus the error/power Pareto front), all, or a list "
                        "such as 0,5,10-20")
    a.add_argument("--n-images", type=int, default=1000, help="test images for clean and transfer accuracy "
                                                              "(default 1000; 0: all 10,000)")
    a.add_argument("--adaptive-images", type=int, default=200,
                   help="images attacked by adaptive PGD at each level (default 200; 0 skips it)")
    a.add_argument("--eps", default="8/255", help="PGD eps (default 8/255; alpha 2/255, 10 steps)")
    a.add_argument("--compare", metavar="S1,S2,...",
                   help="draw the assessments of these schemes (OUT/<scheme>/assess.csv) on the same axes instead")
    a.add_argument("--out", default="artifacts/assess", help="output folder (default artifacts/assess; each scheme "
                                                             "in OUT/<scheme>/)")
    a.add_argument("--workers", type=int, help="processes that assess levels side by side (default: on a CPU one per "
                                               "core, each one thread; on a GPU one); not part of the results' "
                                               "identity")
    add_calib_images(a, "for the victim's static activation scales")
    add_device(a, "no part of the assessment's identity (a killed run may continue on another device)")
    add_data(a)
    add_quiet(a)
    a.set_defaults(func=run)


OUT_IS_FOLDER = True


def run(args: argparse.Namespace) -> int:
    from experiments.assess import assess, compare
    from lut_build.schemes import get_scheme

    get_scheme(args.scheme)
    if args.compare:
        schemes = [s.strip() for s in args.compare.split(",") if s.strip()]
        for s in schemes:
            get_scheme(s)
        print(f"wrote {compare(schemes, args.out)}")
        return 0
    victim = args.victim
    if victim is None:
        victim, note = default_victim()
        if note:
            print(note)
    elif not Path(victim).is_file():
        raise ValueError(f"{victim}: no such checkpoint")
    if args.source:
        source = args.source
    else:
        from experiments.checkpoints import ckpt_meta
        source = str(ZOO / f"{ckpt_meta(victim)['arch']}_float.pt")
        if not Path(source).is_file():
            raise ValueError(f"{source}: the zoo has no float model of the victim's architecture; name one with --source")
    if args.n_images < 0 or args.adaptive_images < 0:
        raise ValueError("--n-images and --adaptive-images must be >= 0")
    if args.workers is not None and args.workers < 1:
        raise ValueError("--workers must be >= 1")
    # the transfer set depends on the source, eps and images only: the schemes assessed under one OUT share it
    tag = f"{Path(source).stem}-pgd-eps{args.eps.replace('/', '_')}-n{args.n_images or 'all'}"
    assess(args.scheme, victim, source, Path(args.out) / args.scheme, args.levels, args.n_images or None,
           args.adaptive_images, args.eps, args.data, args.calib_images, progress=not args.quiet,
           device=args.device, workers=args.workers, transfer=Path(args.out) / "transfer" / f"{tag}.pt")
    return 0
