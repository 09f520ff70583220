"""Does bf16 training reach fp32's accuracy? The measurement that decides the zoo's precision (`axx
bench-precision`): the same short schedule trained in fp32 and in bf16 autocast, several seeds each, per
architecture, and the difference of the mean test accuracies beside its standard error.

Every training is an ordinary `axx train` run (the recipe's defaults, a shorter multistep schedule: x0.1 at 50 %
and 75 % of its epochs) written to OUT/<arch>_<exec>_<precision>_s<seed>.pt with its sidecar, so a rerun skips
the finished ones by content and continues a killed one; `--jobs N` trains N side by side (on a GPU they share
it). bf16 needs a GPU with bf16 or a CPU with native bf16 (AVX512-BF16 or AMX): elsewhere it is refused before
anything trains.

Verdict per architecture: bf16 matches fp32 when |mean(bf16) - mean(fp32)| <= 2 standard errors of that
difference (Welch) or <= 0.3 points, whichever is larger (seed noise of a short CIFAR-10 schedule is of that
order; with 3 seeds the standard error alone can be tiny by chance).
"""
from __future__ import annotations

import csv
import io
import math
import statistics
from dataclasses import dataclass
from pathlib import Path

from fileio import atomic_write_text

from .machine import threads_per_worker
from .provenance import write_sidecar
from .train import TrainConfig

TOLERANCE = 0.003  # accuracy (0.3 points): the smallest difference ever called a mismatch


@dataclass(frozen=True)
class Run:
    arch: str
    exec_type: str
    precision: str
    seed: int

    @property
    def name(self) -> str:
        return f"{self.arch}_{self.exec_type}_{self.precision}_s{self.seed}"


def plan(archs: list[str], exec_type: str, precisions: list[str], seeds: list[int]) -> list[Run]:
    return [Run(a, exec_type, p, s) for a in archs for s in seeds for p in precisions]


def config(run: Run, epochs: int, subset: int | None, data_dir: str | None, device: str,
           test_images: int | None = None, val_images: int = 5000, route: str = "auto") -> TrainConfig:
    return TrainConfig(arch=run.arch, exec_type=run.exec_type, precision=run.precision, seed=run.seed, epochs=epochs,
                       subset=subset, test_images=test_images, val_images=val_images, data_dir=data_dir, device=device,
                       route=route)


def _train_one(cfg: TrainConfig, out: str, threads: int | None, progress: bool) -> dict:
    """One training in this or a worker process; returns its sidecar's figures."""
    import torch

    from .train import train
    if threads:
        torch.set_num_threads(threads)
    name = Path(out).stem
    meta = train(cfg, out, resume=True, progress=progress, log=lambda m: print(f"[{name}] {m}", flush=True))
    return {k: meta[k] for k in ("test_accuracy", "val_accuracy", "wall_time_s", "kept_epoch")} | {
        "device": meta.get("device", "cpu"), "route": meta.get("route")}


def summarize(rows: list[dict]) -> list[dict]:
    """Per (arch, exec): fp32 and bf16 mean / std / n of the test accuracy, their difference, its standard
    error and the verdict."""
    out = []
    keys = sorted({(r["arch"], r["exec_type"]) for r in rows})
    for arch, ex in keys:
        acc = {p: [r["test_accuracy"] for r in rows if (r["arch"], r["exec_type"], r["precision"]) == (arch, ex, p)]
               for p in ("fp32", "bf16")}
        row = {"arch": arch, "exec_type": ex}
        for p, v in acc.items():
            row[f"{p}_mean"] = statistics.fmean(v) if v else None
            row[f"{p}_std"] = statistics.stdev(v) if len(v) > 1 else None
            row[f"{p}_n"] = len(v)
        if acc["fp32"] and acc["bf16"]:
            diff = row["bf16_mean"] - row["fp32_mean"]
            se = (math.sqrt((row["fp32_std"] ** 2) / len(acc["fp32"]) + (row["bf16_std"] ** 2) / len(acc["bf16"]))
                  if row["fp32_std"] is not None and row["bf16_std"] is not None else None)
            bound = max(TOLERANCE, 2 * se) if se is not None else TOLERANCE
            row.update(diff=diff, diff_se=se, bound=bound, matches=abs(diff) <= bound)
        out.append(row)
    return out


def _csv(rows: list[dict], fields: list[str]) -> str:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=fields, extrasaction="ignore", lineterminator="\n")
    w.writeheader()
    w.writerows(rows)
    return buf.getvalue()


def _pct(v) -> str:
    return "-" if v is None else f"{100 * v:.2f}"


def run(archs: list[str], exec_type: str = "float", precisions: tuple[str, ...] = ("fp32", "bf16"),
        seeds: list[int] = (1, 2, 3), epochs: int = 16, subset: int | None = None, test_images: int | None = None,
        data_dir: str | None = None, device: str = "auto", route: str = "auto", jobs: int = 1,
        out: str | Path = "artifacts/precision", val_images: int = 5000, progress: bool = True, log=print) -> dict:
    if jobs < 1:
        raise ValueError(f"--jobs must be >= 1, got {jobs}")
    if not seeds:
        raise ValueError("give at least one seed")
    runs = plan(list(archs), exec_type, list(precisions), list(seeds))
    cfgs = {r: config(r, epochs, subset, data_dir, device, test_images, val_images, route) for r in runs}
    resolved = {r: c.resolved() for r, c in cfgs.items()}  # every bad argument (bf16 here, a device) before any work
    if any(c.init is not None for c in resolved.values()):
        raise ValueError("the precision check trains from scratch")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    dev = next(iter(resolved.values())).device
    log(f"axx bench-precision: {len(runs)} trainings ({', '.join(archs)} {exec_type}; {', '.join(precisions)}; seeds "
        f"{', '.join(map(str, seeds))}; {epochs} epochs, x0.1 at {epochs // 2} and {3 * epochs // 4}) on {dev}, "
        f"{jobs} at a time -> {out}")
    results: dict[Run, dict] = {}
    if jobs == 1:
        for r in runs:
            results[r] = _train_one(cfgs[r], str(out / f"{r.name}.pt"), None, progress)
    else:
        import concurrent.futures as cf
        import multiprocessing as mp
        threads = threads_per_worker(jobs)
        with cf.ProcessPoolExecutor(jobs, mp_context=mp.get_context("spawn")) as pool:
            futs = {pool.submit(_train_one, cfgs[r], str(out / f"{r.name}.pt"), threads, False): r for r in runs}
            for f in cf.as_completed(futs):
                results[futs[f]] = f.result()
    rows = [{"arch": r.arch, "exec_type": r.exec_type, "precision": r.precision, "seed": r.seed, "epochs": epochs,
             **results[r]} for r in runs]
    summary = summarize(rows)
    fields = ["arch", "exec_type", "precision", "seed", "epochs", "test_accuracy", "val_accuracy", "kept_epoch",
              "wall_time_s", "route", "device"]
    atomic_write_text(out / "runs.csv", _csv(rows, fields))
    atomic_write_text(out / "summary.csv", _csv(summary, list(summary[0])))
    cfg = {"archs": list(archs), "exec_type": exec_type, "precisions": list(precisions), "seeds": list(seeds),
           "epochs": epochs, "subset": subset, "test_images": test_images, "device": str(dev), "route": route,
           "jobs": jobs,
           "tolerance": TOLERANCE}
    write_sidecar(out / "summary.csv", {"config": cfg, "summary": summary, "complete": True})
    for s in summary:
        line = f"  {s['arch']} {s['exec_type']}: " + ", ".join(
            f"{p} {_pct(s[p + '_mean'])} % (n {s[p + '_n']}, std {_pct(s[p + '_std'])})"
            for p in ("fp32", "bf16") if s[p + "_n"])
        if "diff" in s:
            line += (f"; bf16 - fp32 = {100 * s['diff']:+.2f} points (bound {100 * s['bound']:.2f}): "
                     + ("bf16 matches fp32" if s["matches"] else "bf16 DIFFERS from fp32"))
        log(line)
    log(f"wrote {out / 'runs.csv'}, {out / 'summary.csv'}")
    return {"config": cfg, "rows": rows, "summary": summary}


__all__ = ["Run", "TOLERANCE", "plan", "run", "summarize"]
