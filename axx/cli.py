"""The `axx` command line: one entry point, one subcommand per job.

Each subcommand imports only what it needs, so `axx luts` works without torch's heavier
parts and the ML commands work without a simulator.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path


def _cmd_luts(args: argparse.Namespace) -> int:
    from lut_build.verify import MismatchError

    from .luts import build_luts, parse_defines

    out = Path(args.out) if args.out else Path("luts") / args.scheme
    try:
        path = build_luts(args.scheme, args.sim, out, defines=parse_defines(args.define), jobs=args.jobs,
                          headers=not args.no_headers, progress=not args.quiet)
    except MismatchError as e:
        print(f"ERROR: the RTL does not match the behavioural model; nothing was written.\n{e}", file=sys.stderr)
        return 1
    print(f"wrote {path}")
    return 0


def _cmd_metrics(args: argparse.Namespace) -> int:
    from lut_build.metrics import write_metrics_csv, plot_metrics
    from lut_build.verify import MismatchError

    from .luts import metrics_table, summary

    try:
        rows = metrics_table(args.scheme, args.width, rtl=args.rtl, sim=args.sim, progress=not args.quiet)
    except MismatchError as e:
        print(f"ERROR: the RTL does not match the behavioural model.\n{e}", file=sys.stderr)
        return 1
    print(summary(rows))
    if args.csv:
        write_metrics_csv(rows, Path(args.csv))
        print(f"wrote {args.csv}")
    if args.png:
        plot_metrics(rows, Path(args.png), f"{args.scheme}: error metrics per level ({args.width}-bit operands)")
        print(f"wrote {args.png}")
    return 0


def _cmd_bench(args: argparse.Namespace) -> int:
    from emulator.bench import run

    levels = [int(v) for v in args.levels.split(",")]
    run(levels=levels, batch=args.batch, ref_batch=args.ref_batch, repeats=args.repeats, out=args.json)
    return 0


def _cmd_bench_search(args: argparse.Namespace) -> int:
    from emulator.search_bench import run

    run(depth=args.depth, images=args.images, evals=args.evals, axx_levels=args.axx_levels, batch=args.batch,
        ckpt=args.victim, data_dir=args.data, devices=args.device, out=args.json)
    return 0


def _cmd_train(args: argparse.Namespace) -> int:
    from emulator.attack import parse_eps
    from emulator.train import TrainConfig, train

    cfg = TrainConfig(arch=args.arch, exec_type=args.exec, epochs=args.epochs, lr=args.lr, schedule=args.schedule,
                      batch_size=args.batch_size, at_eps=parse_eps(args.at_eps) if args.at_eps else None,
                      init=args.init, subset=args.subset, val_subset=args.val_subset, calib_images=args.calib_images,
                      seed=args.seed, data_dir=args.data)
    train(cfg, args.out, resume=args.resume, progress=not args.quiet)
    return 0


def _cmd_attack(args: argparse.Namespace) -> int:
    from emulator.attack import parse_eps
    from emulator.pipeline import parse_levels, run_attack

    source = args.victim if args.adaptive else args.source
    if not source:
        raise ValueError("give --source CKPT (transfer attack) or --adaptive --victim CKPT")
    run_attack(source, args.exec, args.attack, args.out, eps=parse_eps(args.eps) if args.eps else None,
               alpha=parse_eps(args.alpha) if args.alpha else None, steps=args.steps, n=args.n, data_dir=args.data,
               adaptive=args.adaptive, levels=parse_levels(args.levels), batch_size=args.batch_size, seed=args.seed,
               calib_images=args.calib_images, progress=not args.quiet)
    return 0


def _cmd_eval(args: argparse.Namespace) -> int:
    from emulator.pipeline import eval_to_csv, parse_levels

    rows = eval_to_csv(args.victims, [e.strip() for e in args.exec.split(",")], args.advsets, args.out,
                       levels=parse_levels(args.levels), data_dir=args.data, batch_size=args.batch_size,
                       calib_images=args.calib_images)
    print(f"{args.out}: {len(rows)} rows")
    return 0


def _cmd_report(args: argparse.Namespace) -> int:
    from emulator.report import make_report

    path = make_report(args.results, args.out)
    print(f"wrote {path} and its figures")
    return 0


def _cmd_search(args: argparse.Namespace) -> int:
    from emulator.search import SearchConfig, run_search

    cfg = SearchConfig(victim=args.victim, advset=args.advset, exec_type=args.exec, axx_levels=args.axx_levels,
                       pop=args.pop, gens=args.gens, crossover=args.crossover, mutation=args.mutation,
                       n_images=args.n_images, objectives=tuple(o.strip() for o in args.objectives.split(",")),
                       seed=args.seed, data_dir=args.data, calib_images=args.calib_images, device=args.device)
    run_search(cfg, args.out, workers=args.workers, dask=args.dask, resume=args.resume, progress=not args.quiet)
    return 0


def build_parser() -> argparse.ArgumentParser:
    from lut_build.schemes import SCHEMES

    schemes = ", ".join(sorted(SCHEMES))
    p = argparse.ArgumentParser(prog="axx", description=(
        "Hardware-faithful emulation of MARLIN's reconfigurable approximate multiplier: RTL "
        "co-verification, LUTs, and (in later commands) approximate CNNs under attack."))
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    q = sub.add_parser("luts", help="sweep the RTL over every level and operand pair, verify, write luts/<scheme>/",
                       description="Simulate the multiplier RTL through cocotb for all 256 levels x 65,536 "
                                   "8-bit operand pairs, compare every product with the behavioural model, and "
                                   "write luts.npy, TransAxx C headers, metrics.csv/png and manifest.json. "
                                   "On any mismatch: a report, exit status 1, and nothing written.")
    q.add_argument("--scheme", default="marlin", help=f"multiplier scheme (one of: {schemes}; default marlin)")
    q.add_argument("--sim", default="verilator", choices=["verilator", "icarus"],
                   help="simulator (default verilator: ~3 s sweep; icarus: ~1 min)")
    q.add_argument("--out", help="output folder (default luts/<scheme>)")
    q.add_argument("--jobs", type=int, default=None, help="simulator processes in parallel (default: 2 or the core count)")
    q.add_argument("--define", action="append", metavar="NAME[=VALUE]",
                   help="extra Verilog define for the RTL, e.g. to try a design variant (repeatable)")
    q.add_argument("--no-headers", action="store_true", help="skip the 256 C headers (about 90 MB)")
    q.add_argument("--quiet", action="store_true", help="no progress bar")
    q.set_defaults(func=_cmd_luts)

    m = sub.add_parser("metrics", help="per-level error metrics over the full operand space",
                       description="Error rate, MAE (MED), MRED, worst-case error and mean error of every level, "
                                   "over all (2^width)^2 operand pairs, from the behavioural model or (--rtl) from "
                                   "the RTL (then also verified against the model). --width 9 covers MARLIN's "
                                   "9-bit array, to compare with its published per-level figures.")
    m.add_argument("--scheme", default="marlin", help=f"multiplier scheme (one of: {schemes})")
    m.add_argument("--width", type=int, default=8, help="operand width in bits, 8 .. the scheme's array width (default 8)")
    m.add_argument("--csv", help="write the metrics (level,error_rate,mae,mred,wce,mean_error) to this CSV")
    m.add_argument("--png", help="plot the metrics against the level into this PNG")
    m.add_argument("--rtl", action="store_true", help="measure on the RTL instead of the model")
    m.add_argument("--sim", default="verilator", choices=["verilator", "icarus"], help="simulator for --rtl")
    m.add_argument("--quiet", action="store_true", help="no progress bar")
    m.set_defaults(func=_cmd_metrics)

    b = sub.add_parser("bench", help="time the convolution engines against exact float32",
                       description="Per ResNet stage conv shape and for a whole ResNet-32 forward pass, at each "
                                   "level: exact float32, and the reference, c and fast engines as ratios to it "
                                   "(medians, same run); then images/s per execution type. Writes JSON with --json.")
    b.add_argument("--levels", default="0,8,50,100,255", help="comma-separated levels (default 0,8,50,100,255)")
    b.add_argument("--batch", type=int, default=100, help="images per forward pass (default 100)")
    b.add_argument("--ref-batch", type=int, default=4, help="batch for the (slow) reference engine (default 4)")
    b.add_argument("--repeats", type=int, default=5, help="timed repeats per measurement; medians (default 5)")
    b.add_argument("--json", help="write all figures, the config and the code version to this JSON file")
    b.set_defaults(func=_cmd_bench)

    data_help = "CIFAR-10 folder (python pickles); default $CIFAR10_DIR, else downloaded (md5-checked) to ~/.cache/axx"
    bs = sub.add_parser("bench-search", help="time genome evaluations and project the thesis's NSGA-II search",
                        description="Times what the search runs per individual (set the per-layer levels, accuracy on "
                                    "the adversarial and the clean images) for random genomes in 0..--axx-levels, and "
                                    "projects the thesis's setting: 50 x 30 evaluations of 10,000 clean + 10,000 "
                                    "adversarial images (thesis: about 14 h on an RTX 3060 laptop GPU). Runs on the CPU "
                                    "and, when torch sees one, on the GPU.")
    bs.add_argument("--depth", type=int, default=32, choices=(8, 20, 32, 56), help="ResNet depth (default 32)")
    bs.add_argument("--images", type=int, default=1000,
                    help="images per set per evaluation (default 1000; the projection scales to 10,000)")
    bs.add_argument("--evals", type=int, default=5, help="timed evaluations after one warm-up; median (default 5)")
    bs.add_argument("--axx-levels", type=int, default=50, help="genes drawn from 0..N (default 50, as the thesis)")
    bs.add_argument("--batch", type=int, default=500, help="evaluation batch size (default 500, as `axx search`)")
    bs.add_argument("--victim", help="approx checkpoint to time (default: random calibrated weights; "
                                     "the cost does not depend on them)")
    bs.add_argument("--device", default="all", choices=("all", "cpu", "cuda"),
                    help="cpu, cuda, or all (the CPU, and the GPU when present; default)")
    bs.add_argument("--data", help=data_help + " (synthetic images when absent; the cost is the same)")
    bs.add_argument("--json", help="write the figures, the config and the code version to this JSON file")
    bs.set_defaults(func=_cmd_bench_search)

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
    t.add_argument("--calib-images", type=int, default=5000, help="calibration images for approx models (default 5000)")
    t.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    t.add_argument("--data", help=data_help)
    t.add_argument("--resume", action="store_true", help="continue from OUT.state after an interruption")
    t.add_argument("--quiet", action="store_true", help="no progress bar")
    t.add_argument("--out", required=True, help="checkpoint to write (OUT.json: its sidecar)")
    t.set_defaults(func=_cmd_train)

    a = sub.add_parser("attack", help="generate an adversarial test set with torchattacks",
                       description="Untargeted attack of the test set (or its first N images) with any torchattacks "
                                   "class, from --source (transfer) or, with --adaptive, on --victim itself through "
                                   "the straight-through gradients of its quant/approx layers (BPDA; or the "
                                   "gradient-free Square attack). Saves images, labels and provenance atomically.")
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
    a.add_argument("--batch-size", type=int, default=250, help="images per attack batch (default 250)")
    a.add_argument("--calib-images", type=int, default=5000, help="calibration images if an approx model needs them")
    a.add_argument("--seed", type=int, default=0, help="random seed (random starts)")
    a.add_argument("--data", help=data_help)
    a.add_argument("--quiet", action="store_true", help="no progress bar")
    a.add_argument("--out", required=True, help="adversarial set to write (.pt; OUT.json: its sidecar)")
    a.set_defaults(func=_cmd_attack)

    e = sub.add_parser("eval", help="standard and adversarial accuracy of victims x execution types x sets",
                       description="Every victim checkpoint in every execution type against every adversarial set; "
                                   "each row labelled with its scenario (thesis Table 5.1: same architecture and "
                                   "parameter type = white-box; same architecture, other parameters = partial "
                                   "white-box; other architecture = black-box), AT flags and provenance.")
    e.add_argument("--victims", nargs="+", required=True, help="victim checkpoints")
    e.add_argument("--exec", default="float,quant,approx", help="comma-separated execution types (default all three)")
    e.add_argument("--advsets", nargs="+", required=True, help="adversarial sets made by `axx attack`")
    e.add_argument("--levels", help="approximation level(s) of approx victims: one, or one per convolution")
    e.add_argument("--batch-size", type=int, default=500,
                   help="evaluation batch size (quant models use per-batch scales: it is recorded)")
    e.add_argument("--calib-images", type=int, default=5000, help="calibration images for approx victims")
    e.add_argument("--data", help=data_help)
    e.add_argument("--out", required=True, help="results CSV")
    e.set_defaults(func=_cmd_eval)

    r = sub.add_parser("report", help="thesis-style figures (PNG) and summary tables (Markdown) from results",
                       description="Bar-pair figures (standard vs adversarial accuracy per victim execution type and "
                                   "parameter type, not-AT and AT together; one per adversarial set and victim "
                                   "architecture) and the summary tables of thesis Tables 5.2-5.6 (scenario x "
                                   "{not AT, AT}, averaged over execution types) into OUT/report.md.")
    r.add_argument("results", nargs="+", help="results CSVs written by `axx eval`")
    r.add_argument("--out", required=True, help="output folder")
    r.set_defaults(func=_cmd_report)

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
    s.add_argument("--n-images", type=int, help="evaluate on the first N images of each set (default: all)")
    s.add_argument("--objectives", default="adv,std", help="comma-separated: adv, std, energy (default adv,std)")
    s.add_argument("--workers", type=int, default=1, help="local worker processes (default 1: serial)")
    s.add_argument("--dask", help="address of a Dask scheduler, e.g. tcp://host:8786 (instead of --workers)")
    s.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    s.add_argument("--calib-images", type=int, default=5000, help="calibration images if the victim needs them")
    s.add_argument("--device", default="auto",
                   help="where genomes are evaluated: auto (a CUDA GPU when torch sees one, else cpu), cpu, cuda, "
                        "cuda:N; results are bit-identical everywhere, so a search resumes on another device")
    s.add_argument("--data", help=data_help)
    s.add_argument("--resume", action="store_true", help="continue from OUT/state.pkl")
    s.add_argument("--quiet", action="store_true", help="no progress bar")
    s.add_argument("--out", required=True, help="output folder")
    s.set_defaults(func=_cmd_search)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except KeyboardInterrupt:
        print("interrupted; nothing was written", file=sys.stderr)
        return 130
    except (KeyError, ValueError, OSError) as e:
        msg = e.args[0] if isinstance(e, KeyError) and e.args else e
        print(f"error: {msg}", file=sys.stderr)
        return 2
    except Exception as e:  # simulator missing, RTL that does not compile, unreadable tables
        from lut_build.artifacts import LutError
        from sim.runner import SimulationError, SimulatorMissing

        from emulator.data import DataError

        if isinstance(e, (SimulatorMissing, SimulationError, LutError, DataError)):
            print(f"error: {e}", file=sys.stderr)
            return 2
        raise


if __name__ == "__main__":
    sys.exit(main())
