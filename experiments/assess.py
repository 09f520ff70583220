"""`axx assess`: what a scheme's levels do to a trained network, next to what they cost.

For each chosen level, with every convolution of the model at that level: clean accuracy, the
accuracy under PGD transferred from the matching float model, the accuracy under adaptive PGD
(computed on the approximate model itself through its straight-through gradients), the level's error
metrics (luts/<scheme>/metrics.csv) and its gate-level power and area proxies (cost.csv; MARLIN's
published power too for marlin). Rows are written after every level, so a killed assessment keeps
its finished levels and a rerun continues; figures plot accuracy against MRED and against power.
"""
from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import torch

from fileio import atomic_path, atomic_write_text, code_version

from .accuracy import evaluate
from .attacks import generate, run_attack
from .checkpoints import ckpt_meta, prepare_model
from .data import load_cifar10, to_float
from .machine import cores, exact_fp32, threads_per_worker
from .parsing import parse_eps
from .provenance import read_sidecar

COLUMNS = ["scheme", "level", "std_acc", "transfer_adv_acc", "adaptive_adv_acc", "mred", "mae", "error_rate", "wce",
           "power_proxy", "area_proxy", "marlin_power_mw", "n_images", "adaptive_images"]


def _table(path: Path, what: str, scheme: str) -> dict[int, dict]:
    if not path.is_file():
        raise ValueError(f"{path} is missing: {what} (run `make luts SCHEME={scheme}`"
                         + (f" or `make cost SCHEME={scheme}`)" if "cost" in path.name else ")"))
    with open(path, newline="") as f:
        return {int(r["level"]): r for r in csv.DictReader(f)}


def scheme_tables(scheme: str, lut_root: Path | None = None) -> tuple[dict, dict]:
    """(metrics per level, cost per level) of a scheme's table folder."""
    from lut_build.artifacts import default_lut_root, read_manifest
    d = (lut_root or default_lut_root()) / scheme
    if not (d / "manifest.json").is_file():
        raise ValueError(f"scheme {scheme!r} has no tables in {d}: run `make luts SCHEME={scheme}` first")
    read_manifest(d)
    return _table(d / "metrics.csv", "the error metrics", scheme), _table(d / "cost.csv", "the cost model", scheme)


def default_levels(metrics: dict, cost: dict, spread: int = 32, front_max: int = 16) -> list[int]:
    """About `spread` levels evenly over 0..255, plus up to `front_max` levels of the error/power
    Pareto front (lowest MRED for the power)."""
    levels = set(np.linspace(0, 255, spread).round().astype(int).tolist())
    pts = sorted(((float(cost[lv]["power_proxy"]), float(metrics[lv]["mred"]), lv) for lv in range(256)))
    front, best = [], float("inf")
    for p, e, lv in pts:  # by rising power: keep a level whose error beats every cheaper level's
        if e < best:
            front.append(lv)
            best = e
    if len(front) > front_max:
        front = [front[i] for i in np.linspace(0, len(front) - 1, front_max).round().astype(int)]
    return sorted(levels | set(front))


def parse_levels_arg(text: str | None, metrics: dict, cost: dict) -> list[int]:
    if text is None or text == "default":
        return default_levels(metrics, cost)
    if text == "all":
        return list(range(256))
    out = []
    for part in text.split(","):
        part = part.strip()
        lo, _, hi = part.partition("-")
        if not lo.isdigit() or (hi and not hi.isdigit()):
            raise ValueError(f"--levels: {part!r} is not a level or a range like 10-20 (levels are 0..255)")
        a, b = int(lo), int(hi or lo)
        if not 0 <= a <= b <= 255:
            raise ValueError(f"--levels: {part!r} is outside 0..255")
        out += range(a, b + 1)
    return sorted(set(out))


def _read_rows(path: Path) -> list[dict]:
    if not path.is_file():
        return []
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def _write_rows(path: Path, rows: list[dict]) -> None:
    with atomic_path(path) as tmp, open(tmp, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=COLUMNS)
        w.writeheader()
        for r in sorted(rows, key=lambda r: int(r["level"])):
            w.writerow({k: r.get(k, "") for k in COLUMNS})


class LevelAssessor:
    """One assessment's row per level: the victim (calibrated once) at that level on the test images and the
    transfer set. Built in the assessing process, or in each worker process from what `spec` names."""

    def __init__(self, model: torch.nn.Module, scheme: str, x: torch.Tensor, y: torch.Tensor, adv: torch.Tensor,
                 labels: torch.Tensor, adaptive_images: int, eps: float, metrics: dict, cost: dict):
        from .energy import power_per_level
        self.model, self.scheme, self.x, self.y, self.adv, self.labels = model, scheme, x, y, adv, labels
        self.na, self.eps, self.metrics, self.cost = adaptive_images, eps, metrics, cost
        self.marlin = power_per_level() if scheme == "marlin" else None
        self.xf = to_float(x[:adaptive_images])

    @exact_fp32()
    def row(self, lv: int) -> dict:
        m, na = self.model, self.na
        m.set_levels(lv)
        torch.manual_seed(0)
        adapt = generate(m, self.xf, self.y[:na], "pgd", progress=False, eps=self.eps) if na else None
        return {"scheme": self.scheme, "level": lv, "std_acc": evaluate(m, self.x, self.y),
                "transfer_adv_acc": evaluate(m, self.adv, self.labels),
                "adaptive_adv_acc": evaluate(m, adapt, self.y[:na]) if na else "",
                **{k: self.metrics[lv][k] for k in ("mred", "mae", "error_rate", "wce")},
                "power_proxy": self.cost[lv]["power_proxy"], "area_proxy": self.cost[lv]["area_proxy"],
                "marlin_power_mw": float(self.marlin[lv]) if self.marlin is not None else "",
                "n_images": len(self.labels), "adaptive_images": na}


_WORKER: LevelAssessor | None = None


def _start_worker(spec: dict, threads: int) -> None:
    """A worker process's LevelAssessor: the victim from its checkpoint with the assessing process's
    calibrated state (no second calibration), the data and the transfer set read here."""
    global _WORKER
    import threading

    from tqdm import tqdm

    from emulator.configure import set_scheme
    # a thread lock for tqdm (the workers draw no bars): its default, a multiprocessing lock, is a semaphore that
    # a worker ended by an interrupt (Pool.terminate) leaves behind, which Python reports at exit
    tqdm.set_lock(threading.RLock())

    from .advsets import load_advset
    from .checkpoints import load_model
    torch.set_num_threads(threads)
    model = load_model(spec["victim"], "approx")
    model.load_state_dict(spec["state"])
    model.eval()
    set_scheme(model, spec["scheme"])
    adv, labels, _ = load_advset(spec["transfer"])
    x, y = load_cifar10("test", spec["data_dir"], limit=len(labels))
    _WORKER = LevelAssessor(model, spec["scheme"], x, y, adv, labels, spec["na"], spec["eps"], spec["metrics"],
                            spec["cost"])


def _worker_row(lv: int) -> dict:
    return _WORKER.row(lv)


def default_workers(levels: int, device: torch.device) -> int:
    """Levels are independent: on a CPU, one process per core (each one thread), as many as there are levels;
    on a GPU one (its kernels are the parallelism)."""
    return 1 if device.type != "cpu" else max(1, min(cores(), levels))


def _rows_in_workers(spec: dict, todo: list[int], workers: int):
    """Each level's row from a pool of `workers` spawned processes, as they finish (a killed pool loses only
    the levels in progress)."""
    import multiprocessing as mp
    pool = mp.get_context("spawn").Pool(workers, initializer=_start_worker,
                                        initargs=(spec, threads_per_worker(workers)))
    try:
        yield from pool.imap_unordered(_worker_row, todo)
        pool.close()
    finally:
        pool.terminate()
        pool.join()


@exact_fp32()
def assess(scheme: str, victim: str, source: str, out: str | Path, levels: str | list[int] | None = None,
           n_images: int | None = 1000, adaptive_images: int | None = 200, eps: str = "8/255",
           data_dir: str | None = None, calib_images: int = 5000, lut_root: Path | None = None,
           progress: bool = True, log=print, device: str = "auto", workers: int | None = None,
           transfer: str | Path | None = None) -> Path:
    """Assess `scheme` on `victim` (any of our checkpoints, run as approx at each level) under PGD from
    `source` (the matching float model); writes OUT/assess.csv (+ .json) and figures; resumable. The transfer
    set is made at `transfer` (default OUT/pgd_transfer.pt), or taken from there when its sidecar matches: it
    depends on the source, eps and images only, so assessments of several schemes can share one. `device`
    (auto: a CUDA GPU when torch sees one) is where it computes, `workers` how many processes assess levels
    side by side (None: default_workers); neither is part of the assessment's identity."""
    from tqdm import tqdm

    from emulator.configure import set_scheme

    metrics, cost = scheme_tables(scheme, lut_root)
    chosen = levels if isinstance(levels, list) else parse_levels_arg(levels, metrics, cost)
    vmeta, smeta = ckpt_meta(victim), ckpt_meta(source)
    if vmeta["arch"] != smeta["arch"]:
        raise ValueError(f"the transfer source {source} is {smeta['arch']} but the victim {victim} is "
                         f"{vmeta['arch']}: give the victim's matching float model")
    if workers is not None and workers < 1:
        raise ValueError(f"workers must be >= 1, got {workers}")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    e = parse_eps(eps)
    tpath = Path(transfer) if transfer is not None else out / "pgd_transfer.pt"
    tpath.parent.mkdir(parents=True, exist_ok=True)
    transfer = run_attack(source, "float", "pgd", tpath, eps=e, n=n_images, data_dir=data_dir,
                          progress=progress, log=log, device=device)
    from .advsets import load_advset
    adv, labels, _ = load_advset(tpath)
    x, y = load_cifar10("test", data_dir, limit=len(labels))
    config = {"scheme": scheme, "victim": str(victim), "source": str(source), "eps": e, "n_images": len(labels),
              "adaptive_images": adaptive_images, "calib_images": calib_images,
              "transfer_sha256": (read_sidecar(tpath) or {}).get("sha256")}
    csv_path = out / "assess.csv"
    side = read_sidecar(csv_path) or {}
    rows = _read_rows(csv_path) if side.get("config") == json.loads(json.dumps(config)) else []
    if not rows and csv_path.is_file():
        log(f"{csv_path} was made with another configuration: assessing again")
    done = {int(r["level"]) for r in rows}
    todo = [lv for lv in chosen if lv not in done]
    if done and todo:
        log(f"resuming {csv_path}: {len(done & set(chosen))} of {len(chosen)} levels done")
    model = prepare_model(victim, "approx", 0, data_dir, calib_images, device)
    set_scheme(model, scheme)
    na = len(labels) if adaptive_images is None else min(adaptive_images, len(labels))  # 0: no adaptive attack
    dev = next(model.parameters()).device
    workers = min(workers or default_workers(len(todo), dev), max(1, len(todo)))
    if workers > 1 and dev.type != "cpu":
        raise ValueError("workers > 1 assess levels in CPU processes side by side; on a GPU use one")
    if workers > 1:
        spec = {"victim": str(victim), "state": {k: v.cpu() for k, v in model.state_dict().items()},
                "scheme": scheme, "transfer": str(tpath), "data_dir": data_dir, "na": na, "eps": e,
                "metrics": {lv: metrics[lv] for lv in todo}, "cost": {lv: cost[lv] for lv in todo}}
        results = _rows_in_workers(spec, todo, workers)
    else:
        one = LevelAssessor(model, scheme, x, y, adv, labels, na, e, metrics, cost)
        results = (one.row(lv) for lv in todo)
    from .provenance import write_sidecar
    try:
        for r in tqdm(results, total=len(todo), desc=f"assess {scheme}", unit="level",
                      disable=None if progress else True):
            rows.append(r)
            _write_rows(csv_path, rows)
            write_sidecar(csv_path, {"config": config, "complete": False,
                                     "levels": sorted(int(r["level"]) for r in rows),
                                     "transfer_source_accuracy": transfer.get("metrics")})
    finally:
        results.close()  # an interrupt stops the worker processes now, not at the interpreter's exit
    write_sidecar(csv_path, {"config": config, "complete": True, "levels": sorted(int(r["level"]) for r in rows),
                             "transfer_source_accuracy": transfer.get("metrics")})
    plot_assessment({scheme: _read_rows(csv_path)}, out / "assess.png")
    log(f"wrote {csv_path} ({len(rows)} levels) and {out / 'assess.png'}")
    return csv_path


def plot_assessment(by_scheme: dict[str, list[dict]], png: Path) -> None:
    """Accuracy (clean, transfer PGD, adaptive PGD) against MRED and against the power proxy, one
    colour per scheme (several schemes on the same axes for --compare)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for i, (scheme, rows) in enumerate(sorted(by_scheme.items())):
        rows = sorted(rows, key=lambda r: float(r["power_proxy"]))
        c = colours[i % len(colours)]
        for ax, key in zip(axes, ("mred", "power_proxy")):
            xs = [float(r[key]) for r in rows]
            ax.plot(xs, [100 * float(r["std_acc"]) for r in rows], "o", ms=3, color=c, label=f"{scheme}: clean")
            ax.plot(xs, [100 * float(r["transfer_adv_acc"]) for r in rows], "^", ms=3, color=c, alpha=0.7,
                    label=f"{scheme}: PGD transfer")
            ad = [(x, 100 * float(r["adaptive_adv_acc"])) for x, r in zip(xs, rows) if r["adaptive_adv_acc"] != ""]
            if ad:
                ax.plot(*zip(*ad), "x", ms=4, color=c, alpha=0.7, label=f"{scheme}: PGD adaptive")
    axes[0].set_xscale("symlog", linthresh=1e-4)
    axes[0].set_xlabel("MRED (mean relative error distance)")
    axes[1].set_xlabel("power proxy (fan-out-weighted toggles per vector)")
    for ax in axes:
        ax.set_ylabel("accuracy (%)")
        ax.set_ylim(0, 100)
        ax.grid(alpha=0.3)
    axes[1].legend(fontsize=7, loc="best")
    fig.tight_layout()
    with atomic_path(png) as tmp:
        fig.savefig(tmp, dpi=110, format="png")
    plt.close(fig)


def compare(schemes: list[str], out: str | Path) -> Path:
    """Several schemes' assessments (OUT/<scheme>/assess.csv) on the same axes: OUT/compare.png."""
    out = Path(out)
    by = {}
    for s in schemes:
        rows = _read_rows(out / s / "assess.csv")
        if not rows:
            raise ValueError(f"no assessment of {s!r} in {out / s}: run `axx assess --scheme {s}` first")
        by[s] = rows
    png = out / f"compare_{'_'.join(schemes)}.png"
    plot_assessment(by, png)
    atomic_write_text(png.with_suffix(".json"), json.dumps({"schemes": schemes, "code_version": code_version()}) + "\n")
    return png


__all__ = ["COLUMNS", "LevelAssessor", "assess", "compare", "default_levels", "default_workers", "parse_levels_arg",
           "plot_assessment", "scheme_tables"]
