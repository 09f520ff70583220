"""axx bench-precision: does bf16 training reach fp32's accuracy? (the measurement that decides the zoo's precision)"""
from __future__ import annotations

import argparse

from ..options import add_data, add_device, add_quiet


def add(sub, schemes: str) -> None:
    b = sub.add_parser("bench-precision", help="train a short schedule in fp32 and in bf16, several seeds, and compare",
                       description="Trains each architecture from scratch with the recipe's defaults and a short "
                                   "multistep schedule (x0.1 at 50%% and 75%% of --epochs), in fp32 and in bf16 autocast, "
                                   "once per seed, and compares the mean test accuracies: bf16 matches when the "
                                   "difference is within 2 standard errors (Welch) or 0.3 points. Each training is an "
                                   "`axx train` checkpoint with its sidecar in --out (a rerun skips finished ones, "
                                   "continues killed ones); writes runs.csv and summary.csv (+ sidecar). bf16 needs a GPU "
                                   "with bf16 or a CPU with native bf16 (AVX512-BF16 or AMX).")
    b.add_argument("--arch", nargs="+", default=["resnet8", "resnet20"], help="architectures (default resnet8 resnet20)")
    b.add_argument("--exec", default="float", choices=("float", "quant"), help="execution type (default float)")
    b.add_argument("--precisions", nargs="+", default=["fp32", "bf16"], choices=("fp32", "bf16"),
                   help="precisions to train (default fp32 bf16)")
    b.add_argument("--seeds", type=int, default=3, help="seeds 1..N per precision (default 3)")
    b.add_argument("--epochs", type=int, default=16, help="epochs of the short schedule (default 16)")
    b.add_argument("--subset", type=int, help="train on the first N images of the training split only")
    b.add_argument("--test-images", type=int, help="test accuracy on the first N test images (default all)")
    b.add_argument("--route", default="auto", choices=("auto", "eager", "compiled", "compiled-cl"),
                   help="how the training steps run, as `axx train --route` (default auto: each training times the "
                        "routes at its start; eager skips torch.compile's minutes of compilation per training, which "
                        "a 16-epoch run on a GPU may not win back)")
    add_device(b, "the trainings' (recorded in each sidecar)")
    b.add_argument("--jobs", type=int, default=1, help="trainings side by side (default 1; on a GPU they share it)")
    b.add_argument("--out", default="artifacts/precision", help="folder of the checkpoints and tables "
                                                               "(default artifacts/precision)")
    add_data(b)
    add_quiet(b)
    b.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from experiments.parsing import parse_arch
    from experiments.precision import run as check

    if args.seeds < 1:
        raise ValueError(f"--seeds must be >= 1, got {args.seeds}")
    check([f"resnet{parse_arch(a)}" for a in args.arch], exec_type=args.exec, precisions=tuple(args.precisions),
          seeds=list(range(1, args.seeds + 1)), epochs=args.epochs, subset=args.subset, test_images=args.test_images,
          data_dir=args.data, device=args.device, route=args.route, jobs=args.jobs, out=args.out, progress=not args.quiet)
    return 0
