"""Training (thesis chapter 4.3): standard/QAT from scratch, the approx fine-tune, and fast
adversarial training (FGSM with random start, torchattacks.FFGSM). Resumable, atomic, with sidecars.

Modes, chosen from the arguments as the thesis's workflow does:
  * from scratch (no init): SGD momentum 0.9, weight decay 5e-4, multi-step LR 0.1 -> 1e-4
    (gamma 0.1 at 50/75/90 % of the epochs) or MARLIN's triangular cyclic schedule; crop 4 + flip.
    With exec_type quant this is QAT.
  * fine-tune (init given, no AT): e.g. an approx model from quant parameters, 2 epochs, lr 5e-4,
    all levels 0; approx models are calibrated first.
  * adversarial (at_eps): FGSM-RS, uniform start in [-eps, eps], step 1.25 * eps, lr 5e-4 (thesis:
    2 extra epochs from the standard parameters, eps = 1/255).
"""
from __future__ import annotations


from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
import torch.nn.functional as F

from emulator import calibrate, load_state, resnet
from emulator.layers import check_exec_type

from .accuracy import evaluate
from .data import load_cifar10, to_float
from .parsing import parse_arch
from .provenance import matches, read_sidecar, save_artifact

@dataclass
class TrainConfig:
    arch: str
    exec_type: str = "float"
    epochs: int | None = None            # default: 200 from scratch, 2 for fine-tune / AT
    lr: float | None = None              # default: 0.1 from scratch, 5e-4 for fine-tune / AT
    schedule: str = "multistep"          # multistep | cyclic (MARLIN's triangular 1e-4 -> lr -> 1e-4)
    batch_size: int = 128
    at_eps: float | None = None
    init: str | None = None
    subset: int | None = None            # first N training images (None: all 50,000)
    val_subset: int | None = None        # first N test images for validation (None: all 10,000)
    calib_images: int = 5000             # approx models: calibration images (thesis: 5000)
    seed: int = 0
    data_dir: str | None = None
    extra: dict = field(default_factory=dict)

    def resolved(self) -> "TrainConfig":
        c = TrainConfig(**asdict(self))
        c.arch = f"resnet{parse_arch(c.arch)}"
        c.exec_type = check_exec_type(c.exec_type)
        scratch = c.init is None and c.at_eps is None
        c.epochs = c.epochs if c.epochs is not None else (200 if scratch else 2)
        c.lr = c.lr if c.lr is not None else (0.1 if scratch else 5e-4)
        if c.epochs < 1:
            raise ValueError("epochs must be >= 1")
        if c.schedule not in ("multistep", "cyclic"):
            raise ValueError("schedule must be multistep or cyclic")
        if c.at_eps is not None and not 0 < c.at_eps <= 1:
            raise ValueError(f"--at-eps must be in (0, 1], got {c.at_eps}")
        return c


def augment(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """Random crop with 4-pixel zero padding and horizontal flip, on a [0, 1] batch."""
    n = x.shape[0]
    padded = F.pad(x, (4, 4, 4, 4))
    dy = torch.randint(0, 9, (n,), generator=gen)
    dx = torch.randint(0, 9, (n,), generator=gen)
    idx_y = (dy[:, None] + torch.arange(32)[None, :])            # [n, 32]
    idx_x = (dx[:, None] + torch.arange(32)[None, :])
    out = padded[torch.arange(n)[:, None, None, None], torch.arange(3)[None, :, None, None],
                 idx_y[:, None, :, None], idx_x[:, None, None, :]]
    flip = torch.rand(n, generator=gen) < 0.5
    out[flip] = out[flip].flip(3)
    return out


def lr_at(c: TrainConfig, epoch: int, step: int, steps: int) -> float:
    if c.schedule == "cyclic":
        t = (epoch + step / steps) / c.epochs
        lo = min(1e-4, c.lr)
        return lo + (c.lr - lo) * (1 - abs(2 * t - 1))
    f = epoch / c.epochs
    return c.lr * (0.1 ** sum(f >= m for m in (0.5, 0.75, 0.9)))


def train(config: TrainConfig, out: str | Path, resume: bool = False, progress: bool = True, log=print) -> dict:
    """Train and write `out` (checkpoint) + `out.json` (sidecar); `out.state` holds the resume state
    after every epoch and is removed when training completes."""
    from tqdm import tqdm


    c = config.resolved()
    out = Path(out)
    cfg = asdict(c)
    if matches(out, cfg):
        log(f"{out} exists and matches this configuration: skipped")
        return read_sidecar(out)
    depth = parse_arch(c.arch)
    torch.manual_seed(c.seed)
    model = resnet(depth, c.exec_type)
    xtr, ytr = load_cifar10("train", c.data_dir, limit=c.subset)
    xte, yte = load_cifar10("test", c.data_dir, limit=c.val_subset)
    if c.init:
        load_state(model, c.init)
    if c.exec_type == "approx":
        model.set_levels(0)
        calibrate(model, to_float(xtr[:c.calib_images]))
    opt = torch.optim.SGD(model.parameters(), lr=c.lr, momentum=0.9, weight_decay=5e-4)
    attack = None
    if c.at_eps is not None:
        import torchattacks
        attack = torchattacks.FFGSM(model, eps=c.at_eps, alpha=1.25 * c.at_eps)
        attack.set_model_training_mode(model_training=True)  # perturb with batch-statistics BN, as Wong et al.
    state_path = Path(str(out) + ".state")
    start, history = 0, []
    if resume and state_path.is_file():
        st = torch.load(state_path, map_location="cpu", weights_only=False)
        if st.get("config") != cfg:
            raise ValueError(f"{state_path} was made with another configuration; remove it or drop --resume")
        model.load_state_dict(st["model"])
        opt.load_state_dict(st["optimizer"])
        torch.set_rng_state(st["rng"])  # FFGSM's random starts continue as if never interrupted
        start, history = st["epoch"] + 1, st["history"]
        log(f"resuming {out} after epoch {start}")
    elif state_path.is_file() and not resume:
        log(f"note: {state_path} exists from an interrupted run; starting over (use --resume to continue)")
    steps = (len(xtr) + c.batch_size - 1) // c.batch_size
    for epoch in range(start, c.epochs):
        gen = torch.Generator().manual_seed(c.seed * 1000 + epoch)  # same batches after a resume
        perm = torch.randperm(len(xtr), generator=gen)
        model.train()
        tot_loss = tot_ok = seen = 0
        bar = tqdm(range(steps), desc=f"{c.arch} {c.exec_type} epoch {epoch + 1}/{c.epochs}", leave=False,
                   disable=None if progress else True)
        for s in bar:
            idx = perm[s * c.batch_size:(s + 1) * c.batch_size]
            xb, yb = augment(to_float(xtr[idx]), gen), ytr[idx]
            for g in opt.param_groups:
                g["lr"] = lr_at(c, epoch, s, steps)
            if attack is not None:
                xb = attack(xb, yb)
            logits = model(xb)
            loss = F.cross_entropy(logits, yb)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            tot_loss += float(loss.detach()) * len(yb)
            tot_ok += int((logits.argmax(1) == yb).sum())
            seen += len(yb)
            bar.set_postfix(loss=f"{tot_loss / seen:.3f}", acc=f"{tot_ok / seen:.3f}")
        acc = evaluate(model, xte, yte)
        history.append({"epoch": epoch + 1, "train_loss": tot_loss / seen, "train_acc": tot_ok / seen, "test_acc": acc})
        log(f"{c.arch} {c.exec_type} epoch {epoch + 1}/{c.epochs}: loss {tot_loss / seen:.4f}, "
            f"train acc {tot_ok / seen:.4f}, test acc {acc:.4f}")
        save_artifact({"config": cfg, "model": model.state_dict(), "optimizer": opt.state_dict(), "epoch": epoch,
                       "history": history, "rng": torch.get_rng_state()},
                      state_path, {"config": cfg, "complete": False, "epoch": epoch + 1})
    meta = {"config": cfg, "arch": c.arch, "exec_type": c.exec_type, "at": c.at_eps is not None,
            "at_eps": c.at_eps, "epochs": c.epochs, "history": history,
            "test_accuracy": history[-1]["test_acc"], "test_images": len(xte), "complete": True}
    save_artifact({"arch": c.arch, "exec_type": c.exec_type, "at": c.at_eps is not None, "at_eps": c.at_eps,
                   "state_dict": model.state_dict()}, out, meta)
    state_path.unlink(missing_ok=True)
    Path(str(state_path) + ".json").unlink(missing_ok=True)
    log(f"wrote {out} (test accuracy {meta['test_accuracy']:.4f} on {len(xte)} images)")
    return meta


__all__ = ["TrainConfig", "augment", "lr_at", "train"]
