"""NSGA-II search of per-layer approximation levels (thesis 4.4.4) with pymoo.

One integer gene per approximated convolution (the final linear layer stays exact), bounded by
axx_levels; objectives: maximise adversarial and standard accuracy (pymoo minimises their
negatives), optionally minimise energy (MACs x MARLIN's per-level power). Genomes are evaluated
through pymoo's parallelization objects (a local process pool, or Dask by address); identical
genomes are evaluated once (a cache that travels with the checkpoint). The whole algorithm,
its RNG included, is saved atomically after every generation, so --resume continues exactly.
"""
from __future__ import annotations

import csv
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

OBJECTIVES = ("adv", "std", "energy")


@dataclass
class SearchConfig:
    victim: str
    advset: str
    exec_type: str = "approx"
    axx_levels: int = 50
    pop: int = 50
    gens: int = 30
    crossover: float = 0.8
    mutation: float = 0.8
    n_images: int | None = None
    objectives: tuple = ("adv", "std")
    seed: int = 0
    data_dir: str | None = None
    calib_images: int = 5000
    batch_size: int = 500
    device: str = "auto"     # where genomes are evaluated: auto (cuda if present), cpu, cuda, cuda:1 ...

    def check(self) -> "SearchConfig":
        if not 1 <= self.axx_levels <= 255:
            raise ValueError(f"--axx-levels must be in 1..255, got {self.axx_levels}")
        if self.exec_type not in ("approx", "transaxx"):
            raise ValueError("the search needs an approx victim (--exec approx): levels only act there")
        bad = [o for o in self.objectives if o not in OBJECTIVES]
        if bad or not {"adv", "std"} & set(self.objectives):
            raise ValueError(f"objectives must be among {', '.join(OBJECTIVES)}, got {list(self.objectives)}")
        if self.pop < 2 or self.gens < 1:
            raise ValueError("population must be >= 2 and generations >= 1")
        resolve_device(self.device)
        return self

    def identity(self) -> dict:
        """What the results depend on: everything but the device (every engine is bit-exact), so a
        search started on one machine resumes on another."""
        d = asdict(self)
        d.pop("device")
        return d


def resolve_device(device: str):
    import torch
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(device)
    except RuntimeError:
        raise ValueError(f"unknown device {device!r}: use auto, cpu, cuda or cuda:N") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {device!r} asked for, but torch sees no CUDA GPU here")
    if dev.type not in ("cpu", "cuda"):
        raise ValueError(f"unsupported device {device!r}: use auto, cpu, cuda or cuda:N")
    return dev


_EVALUATORS: dict = {}


class _Evaluator:
    """Victim model and images, built once per process."""

    def __init__(self, cfg: dict):
        from .attack import load_advset
        from .data import load_cifar10, to_float
        from .pipeline import prepare_model

        adv, labels, _ = load_advset(cfg["advset"])
        n = cfg["n_images"] or len(labels)
        self.adv, self.labels = adv[:n], labels[:n]
        x, y = load_cifar10("test", cfg["data_dir"], limit=n)
        if not np.array_equal(y.numpy(), self.labels.numpy()):
            raise ValueError(f"{cfg['advset']} was made from another dataset than the test images here")
        dev = resolve_device(cfg.get("device", "auto"))
        self.clean, self.y = to_float(x).to(dev), y.to(dev)
        self.adv, self.labels = self.adv.to(dev), self.labels.to(dev)
        self.model = prepare_model(cfg["victim"], "approx", 0, cfg["data_dir"], cfg["calib_images"]).to(dev)
        self.batch_size = cfg["batch_size"]

    def __call__(self, levels) -> dict:
        return evaluate_genome(self.model, levels, self.adv, self.labels, self.clean, self.y, self.batch_size)


def evaluate_genome(model, levels, adv, labels, clean, y, batch_size: int = 500) -> dict:
    """One individual: the victim at these per-layer levels on the adversarial and the clean set."""
    from .train import evaluate
    t = time.perf_counter()
    model.set_levels([int(v) for v in levels])
    a = evaluate(model, adv, labels, batch_size)
    s = evaluate(model, clean, y, batch_size)
    return {"adv": a, "std": s, "seconds": time.perf_counter() - t}


class GenomeEvaluator:
    """Picklable: carries only the config; each process builds its evaluator on first use."""

    def __init__(self, cfg: dict):
        self.cfg = cfg

    def __call__(self, levels) -> dict:
        key = repr(sorted(self.cfg.items()))
        ev = _EVALUATORS.get(key)
        if ev is None:
            ev = _EVALUATORS[key] = _Evaluator(self.cfg)
        return ev(levels)


def make_problem(cfg: SearchConfig, n_var: int, macs: list[int], runner=None):
    problem = _make_problem(cfg, n_var, macs)
    problem.runner = runner  # set here, not captured: dill pickles the class by value, closure included
    return problem


def _make_problem(cfg: SearchConfig, n_var: int, macs: list[int]):
    from pymoo.core.problem import Problem

    from .energy import energy

    class ApproxLevelsProblem(Problem):
        def __init__(self):
            super().__init__(n_var=n_var, n_obj=len(cfg.objectives), xl=0, xu=cfg.axx_levels, vtype=int)
            self.evaluator = GenomeEvaluator(asdict(cfg))
            self.runner = None
            self.cache: dict = {}
            self.records: list = []
            self.generation = 0

        def __getstate__(self):
            state = self.__dict__.copy()
            state["runner"] = None  # pools and clients are not part of the saved state
            return state

        def _evaluate(self, X, out, *args, **kwargs):
            self.generation += 1
            genomes = [tuple(int(v) for v in np.round(x)) for x in X]
            todo = list(dict.fromkeys(g for g in genomes if g not in self.cache))
            if todo:
                results = self.runner(self.evaluator, todo) if self.runner else [self.evaluator(g) for g in todo]
                for g, r in zip(todo, results):
                    r = dict(r, energy=energy(macs, g), generation=self.generation)
                    self.cache[g] = r
                    self.records.append({"levels": g, **r})
            sign = {"adv": -1.0, "std": -1.0, "energy": 1.0}
            out["F"] = np.array([[sign[o] * self.cache[g][o] for o in cfg.objectives] for g in genomes])

    return ApproxLevelsProblem()


def make_algorithm(cfg: SearchConfig):
    from pymoo.algorithms.moo.nsga2 import NSGA2
    from pymoo.operators.crossover.sbx import SBX
    from pymoo.operators.mutation.pm import PM
    from pymoo.operators.repair.rounding import RoundingRepair
    from pymoo.operators.sampling.rnd import IntegerRandomSampling

    return NSGA2(pop_size=cfg.pop, sampling=IntegerRandomSampling(),
                 crossover=SBX(prob=cfg.crossover, eta=15, vtype=float, repair=RoundingRepair()),
                 mutation=PM(prob=cfg.mutation, eta=20, vtype=float, repair=RoundingRepair()),
                 eliminate_duplicates=True)


def _set_threads(n: int) -> None:
    import torch
    torch.set_num_threads(n)


def _runner(workers: int, dask: str | None):
    """pymoo's parallelization: a Dask cluster by address, else a local process pool (or serial)."""
    if dask:
        from distributed import Client
        try:
            client = Client(dask, timeout="10s")
        except (OSError, TimeoutError) as e:
            raise RuntimeError(f"cannot reach the Dask scheduler at {dask} within 10 s ({e})") from None
        from pymoo.parallelization.dask import DaskParallelization
        return DaskParallelization(client), client.close
    if workers > 1:
        import multiprocessing as mp
        import os

        from pymoo.parallelization.starmap import StarmapParallelization
        # split the cores between the workers: each would otherwise start one thread per core
        threads = max(1, (os.cpu_count() or 1) // workers)
        pool = mp.get_context("spawn").Pool(workers, initializer=_set_threads, initargs=(threads,))
        return StarmapParallelization(pool.starmap), pool.terminate
    return None, (lambda: None)


def run_search(cfg: SearchConfig, out: str | Path, workers: int = 1, dask: str | None = None, resume: bool = False,
               progress: bool = True, log=print):
    """Run (or resume) the search; writes out/state.pkl every generation, evaluations.csv and pareto.csv."""
    import dill
    from tqdm import tqdm

    from lut_build.artifacts import atomic_path

    from .energy import conv_macs
    from .models import resnet
    from .provenance import write_sidecar
    from .train import parse_arch

    cfg.check()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    state = out / "state.pkl"
    runner, close = _runner(workers, dask)
    try:
        if resume and state.is_file():
            try:
                with open(state, "rb") as f:
                    saved = dill.load(f)
                algorithm, saved_cfg = saved["algorithm"], saved["config"]
            except Exception as e:
                raise ValueError(f"{state} is corrupt or unreadable ({type(e).__name__}); remove it to start over") from None
            if saved_cfg != cfg.identity():
                raise ValueError(f"{state} belongs to another search configuration; remove it or drop --resume")
            algorithm.problem.runner = runner
            algorithm.problem.evaluator.cfg["device"] = cfg.device
            # pymoo counts the generation it will run next: n_gen - 1 are done
            log(f"resuming {out} after generation {algorithm.n_gen - 1}")
        else:
            from .pipeline import ckpt_meta
            arch = ckpt_meta(cfg.victim)["arch"]
            macs = conv_macs(resnet(parse_arch(arch)))
            problem = make_problem(cfg, len(macs), macs, runner)
            algorithm = make_algorithm(cfg)
            algorithm.setup(problem, termination=("n_gen", cfg.gens), seed=cfg.seed, verbose=False)
        bar = tqdm(total=cfg.gens, initial=max(0, (algorithm.n_gen or 1) - 1), desc="NSGA-II", unit="gen",
                   disable=None if progress else True)
        while algorithm.has_next():
            algorithm.next()
            with atomic_path(state) as tmp, open(tmp, "wb") as f:
                dill.dump({"algorithm": algorithm, "config": cfg.identity()}, f)
            F = algorithm.opt.get("F")
            best = {o: (-1 if o != "energy" else 1) * F[:, i].min() for i, o in enumerate(cfg.objectives)}
            bar.set_postfix({k: f"{v:.4g}" for k, v in best.items()})
            bar.update(1)
        bar.close()
    finally:
        close()
    problem = algorithm.problem
    _write_csv(out / "evaluations.csv", problem.records)
    front = [dict(problem.cache[tuple(int(v) for v in x)], levels=tuple(int(v) for v in x))
             for x in algorithm.opt.get("X")]
    front = sorted({r["levels"]: r for r in front}.values(), key=lambda r: -r["adv"])
    zeros = (0,) * problem.n_var
    exact = problem.cache.get(zeros) or problem.evaluator(zeros)
    if cfg.n_images:
        # the search saw a subset: report the front on the full sets too
        full = GenomeEvaluator(dict(asdict(cfg), n_images=None))
        for r in tqdm(front, desc="front on the full sets", disable=None if progress else True):
            f = full(r["levels"])
            r["adv_full"], r["std_full"] = f["adv"], f["std"]
        exact = dict(exact, **{k + "_full": v for k, v in full(zeros).items() if k in ("adv", "std")})
    _write_csv(out / "pareto.csv", front)
    plot_front(problem.records, front, exact, out / "pareto.png", cfg)
    write_sidecar(out / "pareto.csv", {"config": asdict(cfg), "evaluations": len(problem.records),
                                       "front": len(front), "exact": exact, "complete": True})
    log(f"{len(problem.records)} distinct genomes evaluated; Pareto front of {len(front)} in {out / 'pareto.csv'}")
    return front, problem.records


def plot_front(records: list[dict], front: list[dict], exact: dict, path: Path, cfg: SearchConfig) -> None:
    """Adversarial vs standard accuracy, one point per evaluated configuration (thesis Fig 5.25)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from lut_build.artifacts import atomic_path

    fig, ax = plt.subplots(figsize=(6.5, 4.5))
    ax.scatter([100 * r["std"] for r in records], [100 * r["adv"] for r in records], s=10, color="#9db4d6",
               label=f"evaluated configurations ({len(records)})")
    fr = sorted(front, key=lambda r: r["std"])
    # a 2-objective front is a staircase in this plane; with energy it is a projection, so no line
    style = "o-" if set(cfg.objectives) == {"adv", "std"} else "o"
    extra = "" if style == "o-" else ", adv/std/energy"
    ax.plot([100 * r["std"] for r in fr], [100 * r["adv"] for r in fr], style, color="#c44e52", ms=5,
            label=f"Pareto front ({len(front)}{extra})")
    ax.scatter([100 * exact["std"]], [100 * exact["adv"]], marker="*", s=160, color="black", zorder=5,
               label="exact (all levels 0)")
    ax.set_xlabel("standard accuracy (%)")
    ax.set_ylabel("adversarial accuracy (%)")
    n = f", first {cfg.n_images} images" if cfg.n_images else ""
    ax.set_title(f"NSGA-II, levels 0..{cfg.axx_levels}, pop {cfg.pop} x {cfg.gens} gens{n}", fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=110, format="png")
    plt.close(fig)


def _write_csv(path: Path, rows: list[dict]) -> None:
    from lut_build.artifacts import atomic_path
    cols = ["generation", "levels", "adv", "std", "energy", "seconds"]
    if any("adv_full" in r for r in rows):
        cols += ["adv_full", "std_full"]
    with atomic_path(path) as tmp, open(tmp, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=cols, extrasaction="ignore")
        w.writeheader()
        for r in rows:
            w.writerow({**r, "levels": "-".join(map(str, r["levels"]))})
