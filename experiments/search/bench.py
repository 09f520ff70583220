"""Benchmark of the NSGA-II search's unit of work, one genome evaluation, and the projected time of
the thesis's search (population 50 x 30 generations, 10,000 clean + 10,000 adversarial images per
individual; thesis 4.4.4: about 14 h on an RTX 3060 laptop GPU).

An evaluation is exactly what the search runs (evaluator.evaluate_genome): set the per-layer levels
(new (layer, level) pairs prepare their weight planes), then the accuracy on the adversarial and
on the clean images. Its cost does not depend on the images' content, so the adversarial set is
the clean one plus noise, and the weights are random unless a checkpoint is given. Genomes are
random in 0..axx_levels, as in NSGA-II's first generation (later generations reuse (layer, level)
pairs more often: the projection is an upper bound in that respect). The projection counts
pop x gens evaluations (pymoo's NSGA-II evaluates pop offspring per generation; the genome cache
only removes duplicates).
"""
from __future__ import annotations

import json
import statistics
import time

import torch
from tqdm import tqdm

from emulator import calibrate, get_levels, resnet
from emulator.configure import approx_convs
from fileio import atomic_write_text, code_version, cpu_id

from ..checkpoints import load_model
from ..data import DataError, load_cifar10, to_float
from ..machine import synchronizer
from .evaluator import evaluate_genome

THESIS = {"pop": 50, "gens": 30, "clean": 10_000, "adv": 10_000, "hours": 14.0,
          "hardware": "RTX 3060 laptop GPU"}


def _images(n: int, data_dir: str | None, log) -> tuple[torch.Tensor, torch.Tensor, str]:
    try:
        x, y = load_cifar10("test", data_dir, download_missing=False, limit=n)
        src = "CIFAR-10 test set"
    except DataError:
        if data_dir is not None:  # a folder the user named must be right
            raise
        g = torch.Generator().manual_seed(0)
        x = torch.randint(0, 256, (n, 3, 32, 32), dtype=torch.uint8, generator=g)
        y = torch.randint(0, 10, (n,), generator=g)
        src = "synthetic images (no CIFAR-10 directory given)"
    if len(y) < n:
        raise ValueError(f"only {len(y)} test images available, {n} asked for")
    log(f"images: {n} from the {src}")
    return to_float(x), y, src


def bench_device(device: torch.device, depth: int, images: int, evals: int, axx_levels: int, batch: int,
                 ckpt: str | None, data_dir: str | None, log=print) -> dict:
    clean, y, src = _images(images, data_dir, log)
    g = torch.Generator().manual_seed(1)
    adv = (clean + (torch.rand(clean.shape, generator=g) - 0.5) * (16 / 255)).clamp(0, 1)
    if ckpt:
        model = load_model(ckpt, "approx")
        depth = model.depth  # the checkpoint's architecture wins over --depth
    else:
        model = resnet(depth, "approx")
    model.eval()
    if any(float(c.act_amax) <= 0 for c in approx_convs(model)):
        calibrate(model, clean[:min(500, images)])
    model = model.to(device)
    clean, adv, y = clean.to(device), adv.to(device), y.to(device)
    n_var = len(get_levels(model))
    rng = torch.Generator().manual_seed(2)
    genomes = [torch.randint(0, axx_levels + 1, (n_var,), generator=rng).tolist() for _ in range(evals + 1)]
    sync = synchronizer(device)
    evaluate_genome(model, genomes[0], adv, y, clean, y, batch)  # warm-up: compilation, workspaces
    times = []
    for genome in tqdm(genomes[1:], desc=f"evaluations ({device.type})", disable=None):
        sync()
        t = time.perf_counter()
        evaluate_genome(model, genome, adv, y, clean, y, batch)
        sync()
        times.append(time.perf_counter() - t)
    sec = statistics.median(times)
    per_image = sec / (2 * images)
    n_eval = THESIS["pop"] * THESIS["gens"]
    projected = n_eval * (THESIS["clean"] + THESIS["adv"]) * per_image
    row = {"device": str(device), "device_name": (torch.cuda.get_device_name(device) if device.type == "cuda"
                                                  else f"{cpu_id()}, "
                                                       f"{torch.get_num_threads()} threads"),
           "depth": depth, "images_per_set": images, "evaluations": evals, "axx_levels": axx_levels,
           "batch": batch, "weights": ckpt or "random (calibrated)", "images": src,
           "seconds_per_evaluation": sec, "seconds_per_evaluation_all": times,
           "evaluations_per_s": 1.0 / sec, "images_per_s": 1.0 / per_image,
           "projected_thesis_setting_s": projected, "projected_thesis_setting_h": projected / 3600,
           "speedup_vs_thesis": THESIS["hours"] * 3600 / projected}
    log(f"  {row['device_name']}: {sec:.2f} s per evaluation ({2 * images} images, median of {evals}) = "
        f"{row['evaluations_per_s']:.3f} evaluations/s, {row['images_per_s']:.0f} images/s")
    log(f"  thesis setting ({THESIS['pop']} x {THESIS['gens']} evaluations of {THESIS['clean']} + {THESIS['adv']} "
        f"images): {projected / 3600:.2f} h projected (thesis 4.4.4: about {THESIS['hours']:.0f} h on an "
        f"{THESIS['hardware']})")
    return row


def run(depth: int = 32, images: int = 1000, evals: int = 5, axx_levels: int = 50, batch: int = 100,
        ckpt: str | None = None, data_dir: str | None = None, devices: str = "all", out: str | None = None,
        log=print) -> dict:

    if images < 1 or evals < 1:
        raise ValueError("--images and --evals must be >= 1")
    if not 1 <= axx_levels <= 255:
        raise ValueError(f"--axx-levels must be in 1..255, got {axx_levels}")
    targets = []
    if devices in ("all", "cpu"):
        targets.append(torch.device("cpu"))
    if devices in ("all", "cuda"):
        if torch.cuda.is_available():
            targets.append(torch.device("cuda"))
        elif devices == "cuda":
            raise ValueError("--device cuda asked for, but torch sees no CUDA GPU here")
    what = ckpt if ckpt else f"ResNet-{depth} (random weights)"
    log(f"axx bench-search: genome evaluations of {what}, levels 0..{axx_levels}, torch {torch.__version__}")
    rows = [bench_device(d, depth, images, evals, axx_levels, batch, ckpt, data_dir, log) for d in targets]
    if not torch.cuda.is_available():
        log("  (no CUDA GPU here: GPU figures come from running this same command on a GPU machine)")
    result = {"config": {"depth": depth, "images": images, "evals": evals, "axx_levels": axx_levels,
                         "batch": batch, "checkpoint": ckpt, "torch": torch.__version__, "thesis": THESIS},
              "code_version": code_version(), "rows": rows}
    if out:
        atomic_write_text(out, json.dumps(result, indent=2) + "\n")
        log(f"wrote {out}")
    return result
