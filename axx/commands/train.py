"""axx train: standard training / QAT, the approx fine-tune, or fast adversarial training."""
from __future__ import annotations

import argparse

from ..options import add_calib_images, add_data, add_out, add_quiet, add_seed


def add(sub, schemes: str) -> None:
    t = sub.add_parser("train", help="train a ResNet: standard/QAT, approx fine-tune, or fast adversarial training",
                       description="From scratch (SGD momentum 0.9, wd 5e-4, LR 0.1 -> 1e-4 multi-step, crop + flip; "
                                   "exec quant = QAT), fine-tune from --init (2 epochs, lr 5e-4; approx models are "
                                   "calibrated first, levels 0), or FGSM-RS adversarial training with --at-eps "
                                   "(2 epochs from --init, lr 5e-4; the thesis used 1/255). Validates and "
                                   "checkpoints every epoch; --resume continues a killed run; OUT.json records the "
                                   "config, code version and accuracy.")
    t.add_argument("--arch", required=True, help="resnet8 | resnet20 | resnet32 | resnet56")
    t.add_argument("--exec", default="float", help="execution type: float | quant | approx (alias transaxx)")
    t.add_argument("--init", help="start from this checkpoint (any execution type's parameters)")
    t.add_argument("--epochs", type=int, help="epochs (default 200 from scratch, 2 with --init or --at-eps)")
    t.add_argument("--lr", type=float, help="peak learning rate (default 0.1 from scratch, 5e-4 otherwise)")
    t.add_argument("--schedule", default="multistep", choices=["multistep", "cyclic"],
                   help="multistep (x0.1 at 50/75/90%% of the epochs) or MARLIN's triangular cyclic LR")
    t.add_argument("--at-eps", help="adversarial training with FGSM-RS at this eps (e.g. 1/255)")
    t.add_argument("--batch-size", type=int, default=128, help="training batch size (default 128)")
    t.add_argument("--subset", type=int, help="train on the first N training images only")
    t.add_argument("--val-subset", type=int, help="validate on the first N test images only")
    add_calib_images(t, "for approx models")
    add_seed(t)
    add_data(t)
    t.add_argument("--resume", action="store_true", help="continue from OUT.state after an interruption")
    add_quiet(t)
    add_out(t, "checkpoint to write (OUT.json: its sidecar)")
    t.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from experiments.parsing import parse_eps
    from experiments.train import TrainConfig, train

    cfg = TrainConfig(arch=args.arch, exec_type=args.exec, epochs=args.epochs, lr=args.lr, schedule=args.schedule,
                      batch_size=args.batch_size, at_eps=parse_eps(args.at_eps) if args.at_eps else None,
                      init=args.init, subset=args.subset, val_subset=args.val_subset, calib_images=args.calib_images,
                      seed=args.seed, data_dir=args.data)
    train(cfg, args.out, resume=args.resume, progress=not args.quiet)
    return 0
