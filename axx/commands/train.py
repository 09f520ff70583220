"""axx train: standard training / QAT, the approx fine-tune, or fast adversarial training."""
from __future__ import annotations

import argparse

from ..options import add_calib_images, add_data, add_device, add_out, add_quiet, add_seed


def add(sub, schemes: str) -> None:
    t = sub.add_parser("train", help="train a ResNet: standard/QAT, approx fine-tune, or fast adversarial training",
                       description="From scratch with the thesis author's recipe (128 epochs, batch 128, SGD lr 0.1, "
                                   "momentum 0.9, wd 5e-4, x0.1 at epochs 64 and 96, crop + flip, a fixed 45,000 / "
                                   "5,000 train / validation split, the best-validation checkpoint kept; exec quant = "
                                   "QAT); fine-tune from --init (2 epochs at a constant lr 5e-4; approx models are "
                                   "calibrated first, levels 0); or FGSM-RS adversarial training with --at-eps (2 "
                                   "epochs from --init at lr 5e-4, x0.1 at 50% and 75% of the steps: the thesis's step "
                                   "scheduler; the thesis used eps 1/255). Validates and "
                                   "checkpoints every epoch; --resume continues a killed run; OUT.json records the "
                                   "recipe, seed, hardware, wall time and accuracies (validation; test at the end).")
    t.add_argument("--arch", required=True, help="resnet8 | resnet20 | resnet32 | resnet56")
    t.add_argument("--exec", default="float", help="execution type: float | quant | approx (alias transaxx)")
    t.add_argument("--activation", default="relu",
                   help="relu (the thesis's: ReLU of the fake-quantized input in quant) or pact (MARLIN's learnable "
                        "clip); default relu")
    t.add_argument("--init", help="start from this checkpoint (any execution type's parameters)")
    t.add_argument("--epochs", type=int, help="epochs (default 128 from scratch, 2 with --init)")
    t.add_argument("--lr", type=float, help="peak learning rate (default 0.1 from scratch, 5e-4 with --init)")
    t.add_argument("--schedule",
                   help="multistep (x0.1 at 50%% and 75%% of the steps; default from scratch and with --at-eps), multistep3 "
                        "(x0.1 at 50/75/90%%), cyclic (MARLIN's triangular LR) or constant (default for a fine-tune "
                        "with --init and no --at-eps)")
    t.add_argument("--momentum", type=float, default=0.9, help="SGD momentum (default 0.9)")
    t.add_argument("--weight-decay", type=float, default=5e-4, help="SGD weight decay (default 5e-4)")
    t.add_argument("--at-eps", help="adversarial training with FGSM-RS at this eps (e.g. 1/255); needs --init")
    t.add_argument("--at-alpha",
                   help="the FGSM-RS step (default 1.25 x --at-eps, Wong et al.'s ratio); e.g. 10/255, the default of "
                        "the author's fast_adversarial scripts")
    t.add_argument("--batch-size", type=int, default=128, help="training batch size (default 128)")
    t.add_argument("--keep", choices=("best", "last"),
                   help="which epoch's weights to write: best validation accuracy (default from scratch) or last "
                        "(default with --init)")
    t.add_argument("--subset", type=int, help="train on the first N images of the training split only")
    t.add_argument("--val-images", type=int, default=5000,
                   help="validation images held out of the training set by a fixed split (default 5000)")
    t.add_argument("--test-images", type=int, help="final test accuracy on the first N test images (default all)")
    t.add_argument("--precision", default="fp32",
                   help="fp32 (default) or bf16 autocast for the training steps (GPUs with bf16, CPUs with native bf16)")
    t.add_argument("--param-dtype", default="fp32", choices=("fp32", "fp16"),
                   help="fp32 (default) or fp16: weights (BatchNorm's aside) and momentum kept at half precision "
                        "without a master copy, as apex amp O2 with master_weights=False, which the thesis author's "
                        "float adversarial training used (fast_adversarial train_resnet.py); updates smaller than "
                        "half an fp16 step of their weight are lost. An emulation of the storage only")
    t.add_argument("--route", default="auto",
                   help="how training steps run: auto (default: the fastest here, timed at the start and recorded), "
                        "eager, compiled (torch.compile) or compiled-cl (torch.compile, channels-last)")
    add_device(t, "not part of the recipe (a checkpoint trained elsewhere is still up to date), recorded in OUT.json; "
                  "on a GPU, fp32 convolutions use TF32 (PyTorch's default, as on the thesis's GPU)")
    add_calib_images(t, "for approx models")
    add_seed(t, default=42)
    add_data(t)
    g = t.add_mutually_exclusive_group()
    g.add_argument("--resume", action="store_true", help="continue from OUT.state after an interruption")
    g.add_argument("--restart", action="store_true",
                   help="start over although OUT.state holds an interrupted run (it is replaced)")
    add_quiet(t)
    add_out(t, "checkpoint to write (OUT.json: its sidecar)")
    t.set_defaults(func=run)


def output_bytes(args: argparse.Namespace) -> int:
    from experiments.checkpoints import checkpoint_bytes

    return 5 * checkpoint_bytes(args.arch)  # the checkpoint, and the state (model, momentum, best copy)


def run(args: argparse.Namespace) -> int:
    from experiments.parsing import parse_eps
    from experiments.train import TrainConfig, train

    cfg = TrainConfig(arch=args.arch, exec_type=args.exec, activation=args.activation, epochs=args.epochs, lr=args.lr,
                      schedule=args.schedule, momentum=args.momentum, weight_decay=args.weight_decay,
                      batch_size=args.batch_size, at_eps=parse_eps(args.at_eps) if args.at_eps else None,
                      at_alpha=parse_eps(args.at_alpha) if args.at_alpha else None,
                      init=args.init, keep=args.keep, subset=args.subset, val_images=args.val_images,
                      test_images=args.test_images, precision=args.precision, param_dtype=args.param_dtype, route=args.route, device=args.device,
                      calib_images=args.calib_images, seed=args.seed, data_dir=args.data)
    train(cfg, args.out, resume=args.resume, restart=args.restart, progress=not args.quiet)
    return 0
