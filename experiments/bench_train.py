"""Benchmark of training steps (`axx bench-train`, `make bench-train`) and the projected wall time of the
campaign's 8 long trainings (ResNet-8/20/32/56 x float/quant from scratch with the default recipe).

One training step is what `axx train` runs per batch: forward, cross-entropy, backward, SGD. Per depth
and execution type it times eager fp32 (the baseline, measured in the same run), torch.compile (the
routes `axx train --route auto` chooses from), compiled channels-last, and with native bf16 hardware bf16
autocast; each as a ratio to the baseline, medians after warm-up (compilation happens in the warm-up and is
reported apart). The projection takes the fastest fp32 route (what auto picks) and adds each epoch's
validation (5,000 images, eval mode) and the final test pass.

Side by side (`--side-by-side N`): N trainings of 1/N of the threads each, run at once (what `axx reproduce
--jobs N` does with independent trainings), against one training with all threads, each in its own process and
counted over the same wall-clock window. It depends on the model: on a 2-core AMD EPYC (AVX2) two compiled quant
ResNet-32 trainings of 1 thread made 1.33x the images/s of one on 2 threads, two float ResNet-56 ones 0.88x.
"""
from __future__ import annotations

import json
import multiprocessing as mp
import queue
import statistics
import time

import torch
import torch.nn.functional as F

from emulator import calibrate, get_levels, resnet
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


def _training_step(depth: int, exec_type: str, compiled: bool, channels_last: bool, bf16: bool, batch: int, log):
    """One training step on a fixed random batch, as a function returning its seconds."""
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

    return one


def train_rate(depth: int, exec_type: str, compiled: bool, channels_last: bool, bf16: bool, batch: int,
               steps: int, log) -> tuple[float, float]:
    """(images/s of training steps, seconds of the first step: compilation)."""
    torch._dynamo.reset()  # each variant compiles afresh, as a new `axx train` process does
    one = _training_step(depth, exec_type, compiled, channels_last, bf16, batch, log)
    first = one()
    one()  # a second warm-up: some backends specialise on the second call
    return batch / statistics.median(one() for _ in range(steps)), first


def eval_rate(depth: int, exec_type: str, steps: int, max_level: int = 0) -> float:
    """images/s of validation / test passes (eval mode, no gradients, the thesis's batch of 100). With
    `max_level`, an approx model at per-layer levels drawn in 0..max_level, as a search's genomes are: a level's
    error planes cost time (ResNet-20 on one thread of a loaded 2-core AVX2 EPYC: 670 images/s at level 0, 115 at
    levels in 0..50), and level-0 rates had projected the campaign's ResNet-32 searches at 1.9 h, not 6.6 h."""
    model = _model(depth, exec_type).eval()
    if max_level:
        g = torch.Generator().manual_seed(2)  # the genomes of `axx bench-search`
        model.set_levels(torch.randint(0, max_level + 1, (len(get_levels(model)),), generator=g).tolist())
    x = torch.rand(EVAL_BATCH, 3, 32, 32)
    with torch.no_grad():
        model(x)
        ts = []
        for _ in range(steps):
            t = time.perf_counter()
            model(x)
            ts.append(time.perf_counter() - t)
    return EVAL_BATCH / statistics.median(ts)


def _window_rate(depth: int, exec_type: str, threads: int, batch: int, seconds: float, barrier, out) -> None:
    """Worker: compiled training steps on `threads` threads, counted over `seconds` after every worker is warm."""
    torch.set_num_threads(threads)
    one = _training_step(depth, exec_type, True, False, False, batch, lambda *a: None)
    one()
    one()
    barrier.wait()
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        one()
        n += 1
    out.put(n * batch / (time.perf_counter() - t0))


def side_by_side(depth: int, exec_type: str, jobs: int, batch: int = 128, seconds: float = 20.0,
                 threads: int | None = None) -> dict:
    """images/s of one training on all `threads` against `jobs` trainings of threads // jobs each, at once."""
    threads = threads or torch.get_num_threads()
    ctx = mp.get_context("spawn")

    def together(n: int, each: int) -> list[float]:
        barrier, q = ctx.Barrier(n), ctx.Queue()
        procs = [ctx.Process(target=_window_rate, args=(depth, exec_type, each, batch, seconds, barrier, q))
                 for _ in range(n)]
        for p in procs:
            p.start()
        try:
            got: list[float] = []
            while len(got) < n:
                try:
                    got.append(q.get(timeout=1))
                except queue.Empty:
                    # a worker that died (out of memory, a failed compile) would leave the others at the barrier
                    if any(p.exitcode not in (None, 0) for p in procs):
                        raise RuntimeError(f"a side-by-side training process failed (exit "
                                           f"{next(p.exitcode for p in procs if p.exitcode)})") from None
            return got
        finally:
            for p in procs:
                p.join(60 if p.exitcode is None and not any(o.exitcode for o in procs) else 0)
                if p.is_alive():
                    p.kill()

    one = together(1, threads)[0]
    many = together(jobs, max(1, threads // jobs))
    return {"arch": f"resnet{depth}", "exec_type": exec_type, "threads": threads, "jobs": jobs,
            "one_images_per_s": one, "side_by_side_images_per_s": sum(many), "each_images_per_s": many,
            "ratio": sum(many) / one}


def run(depths=DEPTHS, exec_types=("float", "quant"), batch: int = 128, steps: int = 8, out: str | None = None,
        log=print, side: int = 0) -> dict:
    if steps < 1 or batch < 1 or side < 0:
        raise ValueError("--steps and --batch must be >= 1, --side-by-side >= 0")
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
    sides = []
    if side > 1:
        depth = max(depths)
        log(f"side by side (`axx reproduce --jobs {side}`): {side} compiled resnet{depth} trainings of "
            f"{max(1, hw['torch_threads'] // side)} thread(s) at once against one of {hw['torch_threads']}, "
            f"images/s over the same 20 s")
        for et in exec_types:
            r = side_by_side(depth, et, side, batch)
            sides.append(r)
            log(f"  resnet{depth:<3} {et:<6} one: {r['one_images_per_s']:5.0f} img/s   {side} side by side: "
                f"{r['side_by_side_images_per_s']:5.0f} in all ({', '.join(f'{v:.0f}' for v in r['each_images_per_s'])})"
                f"   {r['ratio']:.2f}x")
    result = {"config": {"depths": list(depths), "exec_types": list(exec_types), "batch": batch, "steps": steps,
                         "recipe_epochs": RECIPE.epochs, "train_images": TRAIN_IMAGES, "val_images": RECIPE.val_images,
                         "side_by_side": side},
              "hardware": hw, "code_version": code_version(), "rows": rows, "projection": projection,
              "projected_hours": hours, "side_by_side": sides}
    if out:
        atomic_write_text(out, json.dumps(result, indent=2) + "\n")
        log(f"wrote {out}")
    return result


__all__ = ["eval_rate", "run", "side_by_side", "train_rate"]
