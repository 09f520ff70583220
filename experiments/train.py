"""Training (thesis chapter 4.3): standard/QAT from scratch, the approx fine-tune, and fast
adversarial training (FGSM with random start). Resumable, atomic, with sidecars.

Modes, chosen from the arguments as the thesis's workflow does (defaults: the thesis author's
recipe, mik300/thesis neural_networks/CIFAR10/train_cifar10.py and thesis 4.3):
  * from scratch (no init): 128 epochs, batch 128, SGD lr 0.1, momentum 0.9, weight decay 5e-4,
    x0.1 at epochs 64 and 96 (50 % and 75 % of the epochs); crop 4 + flip; a fixed 45,000 / 5,000
    train / validation split of the training set; the checkpoint with the best validation accuracy
    is kept; the test set is used once, for the final number. With exec_type quant this is QAT.
  * fine-tune (init given, no AT): e.g. an approx model from quant parameters, 2 epochs at a
    constant lr 5e-4, all levels 0; approx models are calibrated first.
  * adversarial (at_eps, init required): FGSM-RS as Wong et al. (uniform start in [-eps, eps], one
    signed-gradient step of 1.25 eps, projection; the perturbation computed with BatchNorm in
    training mode), then the training step; 2 epochs at lr 5e-4 with the step scheduler (x0.1 at 50 % and
    75 % of the steps: thesis 4.3.2's "step scheduler", fast_adversarial's --lr-schedule multistep;
    thesis: eps = 1/255).
"""
from __future__ import annotations

import copy
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
import torch.nn.functional as F

from emulator import calibrate, load_state, resnet
from emulator.layers import check_activation, check_exec_type
from emulator.safe_load import load_plain
from fileio import check_output

from .accuracy import evaluate
from .checkpoints import checkpoint_bytes
from .compiled import Compiled
from .data import data_files, load_cifar10, to_float
from .machine import device_label, hardware, native_bf16, pace_key, rebalance_threads, resolve_device, synchronizer
from .parsing import parse_arch
from .provenance import digest_inputs, lut_tables, read_sidecar, same_content, save_artifact, up_to_date

SCHEDULES = ("multistep", "multistep3", "cyclic", "constant")
ROUTES = ("auto", "eager", "compiled", "compiled-cl")  # compiled-cl: torch.compile on channels-last tensors
PRECISIONS = ("fp32", "bf16")
PARAM_DTYPES = ("fp32", "fp16")
SPLIT_SEED = 42        # the fixed train / validation split (the author's seed)
EVAL_BATCH = 100       # validation and test batch (the thesis's evaluation batch: quant scales depend on it)
PACE_LATEST = 10       # how many of the latest epochs' times a state keeps for projections


@dataclass
class TrainConfig:
    arch: str
    exec_type: str = "float"
    activation: str = "relu"             # relu (the thesis's) | pact (MARLIN's original)
    epochs: int | None = None            # default: 128 from scratch, 2 for fine-tune / AT
    lr: float | None = None              # default: 0.1 from scratch, 5e-4 for fine-tune / AT
    schedule: str | None = None          # default: multistep from scratch and for AT, constant for fine-tune
    batch_size: int = 128
    momentum: float = 0.9
    weight_decay: float = 5e-4
    at_eps: float | None = None          # FGSM-RS adversarial training (needs init)
    at_alpha: float | None = None        # FGSM-RS step (default 1.25 at_eps, Wong et al.'s ratio)
    init: str | None = None
    keep: str | None = None              # best (validation accuracy; default from scratch) | last (fine-tune / AT)
    subset: int | None = None            # first N images of the training split (None: all 45,000)
    val_images: int = 5000               # held out of the training set by a fixed split
    test_images: int | None = None       # first N test images for the final number (None: all 10,000)
    calib_images: int = 5000             # approx models: calibration images (thesis: 5000)
    precision: str = "fp32"              # fp32 | bf16 (autocast, training steps only; CPUs with native bf16)
    param_dtype: str = "fp32"            # fp32 | fp16 (weights and momentum kept at half precision, no master copy)
    route: str = "auto"                  # auto (the fastest, timed at the start) | eager | compiled | compiled-cl
    device: str = "auto"                 # auto (a CUDA GPU when torch sees one, else the CPU) | cpu | cuda[:N]
    seed: int = 42
    data_dir: str | None = None
    extra: dict = field(default_factory=dict)

    def resolved(self) -> "TrainConfig":
        c = TrainConfig(**asdict(self))
        c.arch = f"resnet{parse_arch(c.arch)}"
        c.exec_type = check_exec_type(c.exec_type)
        c.activation = check_activation(c.activation)
        if c.at_eps is not None and c.init is None:
            raise ValueError("--at-eps needs --init: adversarial training starts from the standard parameters "
                             "(thesis 4.3.2); train them first")
        scratch = c.init is None
        c.epochs = c.epochs if c.epochs is not None else (128 if scratch else 2)
        c.lr = c.lr if c.lr is not None else (0.1 if scratch else 5e-4)
        c.schedule = c.schedule if c.schedule is not None else (
            "multistep" if scratch or c.at_eps is not None else "constant")
        c.keep = c.keep if c.keep is not None else ("best" if scratch else "last")
        if c.epochs < 1:
            raise ValueError(f"epochs must be >= 1, got {c.epochs}")
        if c.batch_size < 1:
            raise ValueError(f"batch size must be >= 1, got {c.batch_size}")
        if c.schedule not in SCHEDULES:
            raise ValueError(f"unknown schedule {c.schedule!r}; choose one of {', '.join(SCHEDULES)}")
        if c.keep not in ("best", "last"):
            raise ValueError(f"keep must be best or last, got {c.keep!r}")
        if c.at_eps is not None and not 0 < c.at_eps <= 1:
            raise ValueError(f"--at-eps must be in (0, 1], got {c.at_eps}")
        if c.at_alpha is not None and c.at_eps is None:
            raise ValueError("--at-alpha needs --at-eps (it is the FGSM-RS step)")
        if c.at_alpha is not None and not 0 < c.at_alpha <= 1:
            raise ValueError(f"--at-alpha must be in (0, 1], got {c.at_alpha}")
        if c.val_images < 1:
            raise ValueError(f"--val-images must be >= 1, got {c.val_images}")
        if c.route not in ROUTES:
            raise ValueError(f"unknown route {c.route!r}; choose one of {', '.join(ROUTES)}")
        if c.precision not in PRECISIONS:
            raise ValueError(f"unknown precision {c.precision!r}; choose fp32 or bf16")
        if c.param_dtype not in PARAM_DTYPES:
            raise ValueError(f"unknown parameter dtype {c.param_dtype!r}; choose fp32 or fp16")
        c.device = str(resolve_device(c.device))
        if c.precision == "bf16":
            if c.device.startswith("cuda"):
                if not torch.cuda.is_bf16_supported():
                    raise ValueError(f"--precision bf16: the GPU {torch.cuda.get_device_name(c.device)} has no bf16")
            elif not native_bf16():
                raise ValueError("--precision bf16 needs a CPU with native bf16 (AVX512-BF16 or AMX); this one has "
                                 "neither, and emulated bf16 would be slower than fp32")
        return c


def augment(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """Random crop with 4-pixel zero padding and horizontal flip, batched, on uint8 (or float) images.
    The random draws come from `gen` (a CPU generator) wherever x lies: the same batches on every device."""
    n, dev = x.shape[0], x.device
    padded = F.pad(x, (4, 4, 4, 4))
    dy = torch.randint(0, 9, (n,), generator=gen)
    dx = torch.randint(0, 9, (n,), generator=gen)
    rows = (dy[:, None] + torch.arange(32)[None, :]).to(dev)            # [n, 32]
    cols = (dx[:, None] + torch.arange(32)[None, :]).to(dev)
    out = padded[torch.arange(n, device=dev)[:, None, None, None], torch.arange(3, device=dev)[None, :, None, None],
                 rows[:, None, :, None], cols[:, None, None, :]]
    flip = (torch.rand(n, generator=gen) < 0.5)[:, None, None, None].to(dev)
    return torch.where(flip, out.flip(3), out)


def lr_at(c: TrainConfig, epoch: int, step: int, steps: int) -> float:
    """multistep: x0.1 at 50 % and 75 % of the epochs (64 and 96 of 128, the author's recipe);
    multistep3: x0.1 at 50/75/90 %; cyclic: MARLIN's triangular 1e-4 -> lr -> 1e-4; constant."""
    if c.schedule == "constant":
        return c.lr
    if c.schedule == "cyclic":
        t = (epoch + step / steps) / c.epochs
        lo = min(1e-4, c.lr)
        return lo + (c.lr - lo) * (1 - abs(2 * t - 1))
    # by step, as the author's MultiStepLR(milestones=[steps / 2, steps * 3 / 4]) of fast_adversarial's
    # train_resnet.py, stepped per batch: the same epochs 64 and 96 of 128, and mid-epoch for 2 epochs
    f = (epoch + step / steps) / c.epochs
    marks = (0.5, 0.75) if c.schedule == "multistep" else (0.5, 0.75, 0.9)
    return c.lr * (0.1 ** sum(f >= m for m in marks))


def split(n: int, val_images: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(train indices, validation indices) of a training set of n images: a fixed permutation
    (seed 42, whatever the training seed), its first val_images for validation."""
    if val_images >= n:
        raise ValueError(f"--val-images {val_images} leaves no training images of the {n} available")
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(SPLIT_SEED))
    return perm[val_images:], perm[:val_images]


def route_clock(dev: torch.device) -> str:
    """How choose_route times here: 'process' (the process's CPU time: a CPU, one thread) or 'wall'."""
    return "process" if dev.type == "cpu" and torch.get_num_threads() == 1 else "wall"


def choose_route(model: torch.nn.Module, c: TrainConfig, x: torch.Tensor, y: torch.Tensor, log) -> str:
    """c.route, or for auto the fastest of eager, compiled and compiled channels-last on this machine:
    a few timed training steps each (forward, loss, backward) on a real batch, the model's state restored
    afterwards. On an AVX2 EPYC compiling paid for quant models (1.4-2x) and cost float ResNet-8 (0.7x), so
    no fixed rule fits every CPU. approx models stay eager (their LUT engines run outside torch)."""
    from .compiled import compile_enabled

    if c.route != "auto":
        return c.route
    if model.exec_type == "approx" or not compile_enabled():
        return "eager"
    saved = copy.deepcopy(model.state_dict())
    xb = to_float(x)
    dev = xb.device
    sync = synchronizer(dev)
    times: dict[str, float] = {}
    steps: dict[str, Compiled] = {}
    # With one thread on a CPU the process's own CPU time is the step's work, whatever else runs beside it (two
    # zoo trainings timing their routes at once on 2 cores chose eager at 66 img/s over compiled "52" for
    # ResNet-32 quant, compiled 155 when quiet); with more threads it would favour routes that leave threads idle.
    cpu_clock = route_clock(dev) == "process"
    clock = time.process_time if cpu_clock else time.perf_counter
    # two rounds over the routes, each route's least disturbed step kept: other load on the machine only adds
    # time, and load that came and went while one route was timed (a 2-core EPYC once chose eager at 188 img/s
    # over compiled "85", compiled 262 when quiet) no longer decides alone. The second round compiles nothing
    # new: its warm-up step only absorbs a switch of memory format.
    for warm in (2, 1):
        for route in ROUTES[1:]:
            cl = route == "compiled-cl"
            model.to(memory_format=torch.channels_last if cl else torch.contiguous_format)
            xr = xb.contiguous(memory_format=torch.channels_last) if cl else xb
            if route not in steps:  # the second round reuses the first round's (compiled) wrapper
                steps[route] = Compiled(model, route != "eager", log)
            step = steps[route]
            ts = []
            for i in range(warm + 4):  # warm-up steps (compilation in the first round), four timed
                sync()
                t = clock()
                with torch.autocast(dev.type, dtype=torch.bfloat16, enabled=c.precision == "bf16"):
                    loss = F.cross_entropy(step(xr), y)
                loss.backward()
                model.zero_grad(set_to_none=True)
                sync()
                ts.append(clock() - t)
            times[route] = min(times.get(route, float("inf")), *ts[warm:])
            if route != "eager" and not step.active:  # compilation failed: eager is what ran
                times[route] = float("inf")
    model.to(memory_format=torch.contiguous_format)
    model.load_state_dict(saved)
    best = min(times, key=times.get)
    rates = ", ".join(f"{r} {len(y) / max(t, 1e-9):.0f} img/s" for r, t in times.items() if t < float("inf"))
    log(f"training route: {rates} -> {best}" + (" (process CPU time)" if cpu_clock else ""))
    return best


def _fgsm_rs(step: Compiled, eps: float, alpha: float | None = None):
    """FGSM-RS (Wong et al. 2020) with torchattacks.FFGSM: uniform start in [-eps, eps], one signed
    gradient step of alpha (default 1.25 eps), projection; computed with BatchNorm in training mode (batch
    statistics), as their code does (torchattacks would otherwise put BatchNorm in eval mode)."""
    import torchattacks

    attack = torchattacks.FFGSM(step, eps=eps, alpha=1.25 * eps if alpha is None else alpha)
    attack.set_model_training_mode(model_training=True, batchnorm_training=True)
    return attack


def train_config(config: TrainConfig) -> tuple[TrainConfig, dict, dict]:
    """(resolved config, its identity, inputs) of a training: what decides whether a checkpoint is up to
    date. The data folder is no part of the identity: the data's content is (an input), so the same
    zoo and data under other paths still match."""
    c = config.resolved()
    inputs = {"init": c.init, **data_files(("train", "test"), c.data_dir)}
    if c.exec_type == "approx":
        inputs["lut"] = lut_tables()
    return c, _identity(asdict(c)), inputs


# options added after the zoo began: they enter a training's identity only when set, so checkpoints and
# resume states made before they existed stay up to date
_LATER_DEFAULTS = {"param_dtype": "fp32", "at_alpha": None}


def _identity(cfg: dict) -> dict:
    """What makes two trainings the same: not where the data lie, nor the device (recorded in the sidecar)."""
    return {k: v for k, v in cfg.items()
            if k not in ("data_dir", "device") and not (k in _LATER_DEFAULTS and v == _LATER_DEFAULTS[k])}


def _half_storage(model: torch.nn.Module, opt: torch.optim.Optimizer) -> None:
    """Round every parameter outside BatchNorm, and its momentum, to fp16 and back: the storage of apex amp
    O2 with master_weights=False (BatchNorm kept in fp32), which the thesis author's fast_adversarial
    train_resnet.py used for float models. Updates below half an fp16 ulp of their weight are lost there, as
    here. The forward and backward passes stay fp32 (an emulation of the storage, not of fp16 arithmetic)."""
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
                continue
            for p in m.parameters(recurse=False):
                p.copy_(p.half().float())
                buf = opt.state.get(p, {}).get("momentum_buffer")
                if buf is not None:
                    buf.copy_(buf.half().float())


def _cpu(obj):
    """A copy of a state (dicts, lists, tensors) with every tensor on the CPU: checkpoints and resume states
    written on a GPU load on any machine."""
    if isinstance(obj, torch.Tensor):
        return obj.detach().to("cpu", copy=True)
    if isinstance(obj, dict):
        return {k: _cpu(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(_cpu(v) for v in obj)
    return obj


def train(config: TrainConfig, out: str | Path, resume: bool = False, progress: bool = True, log=print,
          restart: bool = False) -> dict:
    """Train and write `out` (checkpoint) + `out.json` (sidecar); `out.state` holds the resume state
    after every epoch and is removed when training completes. An interrupted run found in `out.state`
    is continued with `resume`, replaced with `restart`, and otherwise refused."""
    from tqdm import tqdm

    if resume and restart:
        raise ValueError("--resume and --restart exclude each other")
    c, cfg, inputs = train_config(config)
    out = Path(out)
    if up_to_date(out, cfg, inputs, log):
        return read_sidecar(out)
    state_path = Path(str(out) + ".state")
    if state_path.is_file() and not (resume or restart):
        done = (read_sidecar(state_path) or {}).get("epoch", "?")
        raise ValueError(f"{state_path} holds an interrupted training ({done} of {c.epochs} epochs); continue it "
                         "with --resume or start over with --restart")
    check_output(out, 5 * checkpoint_bytes(c.arch))  # the state (model, momentum, best copy) and the checkpoint
    depth = parse_arch(c.arch)
    torch.manual_seed(c.seed)
    model = resnet(depth, c.exec_type, activation=c.activation)
    if c.init:
        load_state(model, c.init)
    xall, yall = load_cifar10("train", c.data_dir)
    tr_idx, val_idx = split(len(yall), c.val_images)
    if c.subset is not None:
        tr_idx = tr_idx[:c.subset]
    xtr, ytr, xval, yval = xall[tr_idx], yall[tr_idx], xall[val_idx], yall[val_idx]
    if c.exec_type == "approx":
        model.set_levels(0)
        calibrate(model, to_float(xtr[:c.calib_images]))
    dev = torch.device(c.device)
    model.to(dev)  # before the optimizer and the resumed state: momentum buffers land beside the parameters
    xtr, ytr, xval, yval = xtr.to(dev), ytr.to(dev), xval.to(dev), yval.to(dev)
    opt = torch.optim.SGD(model.parameters(), lr=c.lr, momentum=c.momentum, weight_decay=c.weight_decay)
    start, history, best, seconds, route, timed_by = 0, [], None, 0.0, None, None
    here = pace_key(c.device)
    pace = {"machine": here, "epochs": 0, "seconds": 0.0}  # this machine's epochs: what projections may reuse
    digests = digest_inputs(inputs)
    if resume and state_path.is_file():
        st = load_plain(state_path, "training state")
        if not isinstance(st, dict) or not isinstance(st.get("config"), dict) or _identity(st["config"]) != cfg:
            raise ValueError(f"{state_path} was made with another configuration; --restart replaces it")
        changed = [r for r, d in (st.get("inputs") or {}).items()  # states of earlier versions carry none
                   if not same_content(d, digests.get(r, {}))]
        if changed:
            raise ValueError(f"{state_path}: its {', '.join(changed)} changed since this training started; "
                             "--restart starts over")
        model.load_state_dict(st["model"])
        opt.load_state_dict(st["optimizer"])
        torch.set_rng_state(st["rng"])  # FGSM-RS's random starts continue as if never interrupted
        if dev.type == "cuda" and st.get("cuda_rng") is not None:
            torch.cuda.set_rng_state(st["cuda_rng"], dev)
        start, history, best, seconds, route = (st["epoch"] + 1, st["history"], st["best"], st["seconds"],
                                                st["route"])
        if isinstance(st.get("pace"), dict) and st["pace"].get("machine") == here:
            pace = st["pace"]
        else:  # the epochs so far ran elsewhere (or an older state does not say): its fastest route is no verdict here
            route = None
        timed_by = st.get("route_clock")
        if timed_by != route_clock(dev):  # timed otherwise (or before states recorded the clock): time it again
            route = None
        log(f"resuming {out} after epoch {start}")
    elif state_path.is_file():
        log(f"note: starting over; {state_path} of the interrupted run will be replaced")
    if route is None:
        timed_by = route_clock(dev)  # a --jobs worker's threads may change later; the route was timed so
        route = choose_route(model, c, xtr[:c.batch_size], ytr[:c.batch_size], log)
    channels_last = route == "compiled-cl"
    if channels_last:
        model.to(memory_format=torch.channels_last)
    step = Compiled(model, route != "eager", log)
    attack = _fgsm_rs(step, c.at_eps, c.at_alpha) if c.at_eps is not None else None
    steps = (len(xtr) + c.batch_size - 1) // c.batch_size
    autocast = torch.autocast(dev.type, dtype=torch.bfloat16, enabled=c.precision == "bf16")
    half = c.param_dtype == "fp16"
    if half:
        _half_storage(model, opt)  # amp.initialize casts the model before the first step
    for epoch in range(start, c.epochs):
        t0, cpu0 = time.perf_counter(), time.process_time()
        gen = torch.Generator().manual_seed(c.seed * 1000 + epoch)  # same batches after a resume
        perm = torch.randperm(len(xtr), generator=gen)
        model.train()
        tot_loss = tot_ok = seen = 0
        bar = tqdm(range(steps), desc=f"{c.arch} {c.exec_type} epoch {epoch + 1}/{c.epochs}", leave=False,
                   disable=None if progress else True)
        for s in bar:
            if s % 50 == 0:
                rebalance_threads()  # in `axx reproduce --jobs`: this step's share of the cores now
            idx = perm[s * c.batch_size:(s + 1) * c.batch_size].to(dev)
            xb, yb = to_float(augment(xtr[idx], gen)), ytr[idx]
            if channels_last:
                xb = xb.contiguous(memory_format=torch.channels_last)
            for g in opt.param_groups:
                g["lr"] = lr_at(c, epoch, s, steps)
            with autocast:
                if attack is not None:
                    xb = attack(xb, yb)
                logits = step(xb)
                loss = F.cross_entropy(logits, yb)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            if half:
                _half_storage(model, opt)
            # summed on the device: a float() per step would wait for the GPU every step
            tot_loss += loss.detach() * len(yb)
            tot_ok += (logits.argmax(1) == yb).sum()
            seen += len(yb)
            if bar.disable is False and (s % 20 == 0 or s == steps - 1):
                bar.set_postfix(loss=f"{float(tot_loss) / seen:.3f}", acc=f"{int(tot_ok) / seen:.3f}")
        tot_loss, tot_ok = float(tot_loss), int(tot_ok)
        val = evaluate(model, xval, yval, EVAL_BATCH)
        took, cpu = time.perf_counter() - t0, time.process_time() - cpu0
        seconds += took
        here = pace_key(c.device)  # the threads of a --jobs worker change as other steps start and end
        if pace["machine"] != here:
            pace = {"machine": here, "epochs": 0, "seconds": 0.0}
        # the latest epochs' own times too: a projection reads their median (see campaign.steps._own_rate);
        # on a CPU also the processor time they got, which says how much of an epoch's time other jobs took
        # (tail-aligned with "latest": states of earlier versions hold fewer)
        was = pace
        pace = {"machine": here, "epochs": was["epochs"] + 1, "seconds": was["seconds"] + took,
                "latest": (list(was.get("latest", [])) + [took])[-PACE_LATEST:]}
        if dev.type == "cpu":
            pace["latest_cpu"] = (list(was.get("latest_cpu", [])) + [cpu])[-PACE_LATEST:]
        history.append({"epoch": epoch + 1, "train_loss": tot_loss / seen, "train_acc": tot_ok / seen,
                        "val_acc": val, "lr": lr_at(c, epoch, 0, steps), "machine": here})
        if c.keep == "last" or best is None or val > best["val_acc"]:
            best = {"epoch": epoch + 1, "val_acc": val, "model": _cpu(model.state_dict())}
        log(f"{c.arch} {c.exec_type} epoch {epoch + 1}/{c.epochs}: loss {tot_loss / seen:.4f}, "
            f"train acc {tot_ok / seen:.4f}, validation acc {val:.4f}")
        save_artifact({"config": cfg, "model": _cpu(model.state_dict()), "optimizer": _cpu(opt.state_dict()),
                       "epoch": epoch, "history": history, "best": best, "seconds": seconds, "route": route,
                       "route_clock": timed_by, "pace": pace,
                       "rng": torch.get_rng_state(),
                       "cuda_rng": torch.cuda.get_rng_state(dev) if dev.type == "cuda" else None,
                       "inputs": digests},
                      state_path, {"config": cfg, "complete": False, "epoch": epoch + 1}, inputs)
    model.load_state_dict(best["model"])
    xte, yte = load_cifar10("test", c.data_dir, limit=c.test_images)
    test_acc = evaluate(model, xte, yte, EVAL_BATCH)
    model.to("cpu")
    meta = {"config": cfg, "arch": c.arch, "exec_type": c.exec_type, "activation": c.activation,
            "at": c.at_eps is not None, "at_eps": c.at_eps, "epochs": c.epochs, "kept_epoch": best["epoch"],
            "val_accuracy": best["val_acc"], "val_images": len(yval), "train_images": len(ytr),
            "test_accuracy": test_acc, "test_images": len(yte), "eval_batch_size": EVAL_BATCH,
            "history": history, "wall_time_s": round(seconds, 1), "route": route, "device": device_label(dev),
            "precision": c.precision, "param_dtype": c.param_dtype, "hardware": hardware(),
            "complete": True}
    save_artifact({"arch": c.arch, "exec_type": c.exec_type, "activation": c.activation, "at": c.at_eps is not None,
                   "at_eps": c.at_eps, "state_dict": model.state_dict()}, out, meta, inputs)
    state_path.unlink(missing_ok=True)
    Path(str(state_path) + ".json").unlink(missing_ok=True)
    log(f"wrote {out} (epoch {best['epoch']}: validation accuracy {best['val_acc']:.4f}; test accuracy "
        f"{test_acc:.4f} on {len(yte)} images)")
    return meta


__all__ = ["ROUTES", "SCHEDULES", "TrainConfig", "augment", "choose_route", "lr_at", "route_clock", "split", "train",
           "train_config"]
