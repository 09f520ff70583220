"""Benchmark of training steps (`axx bench-train`, `make bench-train`) and the projected wall time of the
campaign's 8 long trainings (ResNet-8/20/32/56 x float/quant from scratch with the default recipe).

One training step is what `axx train` runs per batch: forward, cross-entropy, backward, SGD. Per depth
and execution type it times eager fp32 (the baseline, measured in the same run), torch.compile (the
routes `axx train --route auto` chooses from), compiled channels-last, and with native bf16 hardware bf16
autocast; each as a ratio to the baseline, medians after warm-up (compilation happens in the warm-up and is
reported apart). The projection takes the fastest fp32 route (what auto picks) and adds each epoch's
validation (5,000 images, eval mode) and the final test pass.
"""
from __future__ import annotations

import json
import statistics
import time

import torch
import torch.nn.functional as F

from emulator import calibrate, resnet
from fileio import atomic_write_text, code_version

from .machine import hardware, native_bf16
from .compiled import Compiled
from .train import EVAL_BATCH, TrainConfig

DEPTHS = (8, 20, 32, 56)
RECIPE = TrainConfig(arch="resnet8").resolved()   # epochs, batch, validation images of the default recipe
TRAIN_IMAGES = 50_000 - RECIPE.val_images
TEST_IMAGES = 10_000


def _variants() -> list[tuple[str, bool, bool, bool]]:
    """(name, compiled, channels_last, bf16)"""
    v = [("eager fp32", False, False, False), ("compiled fp32", True, False, False),
         ("compiled fp32 channels-last", True, True, False)]
    if native_bf16():
        v += [("eager bf16", False, False, True), ("compiled bf16", True, False, True)]
    return v


def _model(depth: int, exec_type: str) -> torch.nn.Module:
    model = resnet(depth, exec_type)
    if exec_type == "approx":  # static activation scales, as a trained approx model has
        calibrate(model, torch.rand(256, 3, 32, 32, generator=torch.Generator().manual_seed(0)))
    return model


def train_rate(depth: int, exec_type: str, compiled: bool, channels_last: bool, bf16: bool, batch: int,
                steps: int, log) -> tuple[float, float]:
    """(images/s of training steps, seconds of the first step: compilation)."""
    torch._dynamo.reset()  # each variant compiles afresh, as a new `axx train` process does
    torch.manual_seed(0)
    model = _model(depth, exec_type).train()
    x, y = torch.rand(batch, 3, 32, 32), torch.randint(0, 10, (batch,))
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
        x = x.contiguous(memory_format=torch.channels_last)
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, weight_decay=5e-4)
    step = Compiled(model, compiled, log)

    def one() -> float:
        t = time.perf_counter()
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            loss = F.cross_entropy(step(x), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        return time.perf_counter() - t

    first = one()
    one()  # a second warm-up: some backends specialise on the second call
    return batch / statistics.median(one() for _ in range(steps)), first


def eval_rate(depth: int, exec_type: str, steps: int) -> float:
    """images/s of validation / test passes (eval mode, no gradients, the thesis's batch of 100)."""
    model = _model(depth, exec_type).eval()
    x = torch.rand(EVAL_BATCH, 3, 32, 32)
    with torch.no_grad():
        model(x)
        ts = []
        for _ in range(steps):
            t = time.perf_counter()
            model(x)
            ts.append(time.perf_counter() - t)
    return EVAL_BATCH / statistics.median(ts)


def run(depths=DEPTHS, exec_types=("float", "quant"), batch: int = 128, steps: int = 8, out: str | None = None,
        log=print) -> dict:
    if steps < 1 or batch < 1:
        raise ValueError("--steps and --batch must be >= 1")
    hw = hardware()
    log(f"axx bench-train: training steps of batch {batch}, median of {steps}; {hw['cpu']} "
        f"({hw['cpu_capability']}, native bf16: {hw['native_bf16']}), {hw['torch_threads']} threads, torch {hw['torch']}")
    rows, projection = [], []
    for depth in depths:
        for et in exec_types:
            rates = {}
            for name, compiled, cl, bf16 in _variants():
                said = []
                rate, first = train_rate(depth, et, compiled, cl, bf16, batch, steps, said.append)
                rates[name] = rate
                base = rates["eager fp32"]
                rows.append({"depth": depth, "exec_type": et, "variant": name, "images_per_s": rate,
                             "ratio_to_eager_fp32": rate / base, "first_step_s": first,
                             "compile_failed": bool(said)})
                log(f"  resnet{depth:<3} {et:<6} {name:<28} {rate:7.0f} img/s  {rate / base:5.2f}x"
                    + (f"   (first step {first:.1f} s)" if compiled else "") + (f"   [{said[0]}]" if said else ""))
            ev = eval_rate(depth, et, steps)
            # what `axx train --route auto` (the default) picks: the fastest fp32 route here
            default = max(r for name, r in rates.items() if "bf16" not in name)
            epoch_s = TRAIN_IMAGES / default + RECIPE.val_images / ev
            total = RECIPE.epochs * epoch_s + TEST_IMAGES / ev
            projection.append({"arch": f"resnet{depth}", "exec_type": et, "train_images_per_s": default,
                               "eval_images_per_s": ev, "epoch_s": epoch_s, "hours": total / 3600})
            log(f"  resnet{depth:<3} {et:<6} evaluation {ev:.0f} img/s; {RECIPE.epochs} epochs of {TRAIN_IMAGES} images "
                f"+ {RECIPE.val_images} validation: {total / 3600:.2f} h projected")
    hours = sum(p["hours"] for p in projection)
    log(f"  the {len(projection)} long trainings with the default recipe (fp32, the fastest route each): {hours:.1f} h "
        f"projected on this machine")
    result = {"config": {"depths": list(depths), "exec_types": list(exec_types), "batch": batch, "steps": steps,
                         "recipe_epochs": RECIPE.epochs, "train_images": TRAIN_IMAGES, "val_images": RECIPE.val_images},
              "hardware": hw, "code_version": code_version(), "rows": rows, "projection": projection,
              "projected_hours": hours}
    if out:
        atomic_write_text(out, json.dumps(result, indent=2) + "\n")
        log(f"wrote {out}")
    return result


__all__ = ["eval_rate", "run", "train_rate"]
