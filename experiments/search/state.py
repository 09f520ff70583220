"""A search's saved state as plain JSON: the population, its objectives and NSGA-II ranks, the
generation, the RNG state and every evaluated genome. Nothing in it can run code when it is read
(the old dill pickle of the whole algorithm could); resuming rebuilds the pymoo algorithm from it
and continues exactly as an uninterrupted run would.
"""
from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np

from fileio import atomic_write_text

from .config import SearchConfig

STATE = "state.json"
LEGACY = "state.pkl"  # the dill pickle of earlier versions: refused, `axx convert` rewrites it
FORMAT = "axx-search-state/1"
# the per-individual attributes NSGA-II reads back (tournament: rank, crowding; duplicates: X)
_ATTRS = ("rank", "crowding", "n_gen", "n_iter")


def _plain(v):
    if isinstance(v, dict):
        return {k: _plain(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_plain(x) for x in v]
    if isinstance(v, np.ndarray):
        return v.tolist()
    if isinstance(v, np.generic):
        return v.item()
    return v


def identity_json(cfg: SearchConfig) -> dict:
    """The search's identity as it reads back from JSON (tuples become lists)."""
    return json.loads(json.dumps(_plain(cfg.identity())))


def snapshot(algorithm, identity: dict, inputs: dict | None = None, about_set: dict | None = None) -> dict:
    """Everything a resume needs, as numbers, strings, lists and dicts. `about_set` (run.py's): the adversarial
    set's recipe and its searched images' digests, so the search may continue on a set made again elsewhere."""
    problem, pop = algorithm.problem, algorithm.pop
    return {
        "format": FORMAT,
        "config": _plain(identity),
        "inputs": inputs or {},
        **_plain(about_set or {}),
        "n_iter": int(algorithm.n_iter),
        "n_eval": int(algorithm.evaluator.n_eval),
        "rng": _plain(algorithm.random_state.bit_generator.state),
        "population": {"X": _plain(pop.get("X")), "F": _plain(pop.get("F")),
                       **{a: _plain(pop.get(a)) for a in _ATTRS}},
        "problem_generation": int(problem.generation),
        "records": _plain(problem.records),
    }


def save_state(path: Path | str, algorithm, identity: dict, inputs: dict | None = None,
               about_set: dict | None = None) -> None:
    atomic_write_text(path, json.dumps(snapshot(algorithm, identity, inputs, about_set)) + "\n")


def read_state(path: Path | str) -> dict:
    """The saved state, or a ValueError naming the file."""
    try:
        saved = json.loads(Path(path).read_text())
        if saved.get("format") != FORMAT:
            raise ValueError(f"format {saved.get('format')!r}, expected {FORMAT!r}")
        for k in ("config", "n_iter", "n_eval", "rng", "population", "problem_generation", "records"):
            saved[k]
    except (OSError, ValueError, KeyError, AttributeError, TypeError) as e:
        raise ValueError(f"{path} is corrupt or unreadable ({type(e).__name__}: {e}); "
                         "start over with --restart") from None
    return saved


def restore(saved: dict, algorithm, problem) -> None:
    """Put a set-up (not yet run) algorithm and its problem into the saved state."""
    from pymoo.core.evaluator import Evaluator
    from pymoo.core.population import Population

    problem.records = [dict(r, levels=tuple(r["levels"])) for r in saved["records"]]
    problem.cache = {r["levels"]: {k: v for k, v in r.items() if k != "levels"} for r in problem.records}
    p = saved["population"]
    pop = Population.new("X", np.asarray(p["X"]))
    # every saved genome is in the cache: this "evaluation" only fills F, CV and feasibility the way
    # pymoo does, without evaluating anything
    runner, problem.runner = problem.runner, None
    Evaluator().eval(problem, pop)
    problem.runner = runner
    if not np.array_equal(pop.get("F"), np.asarray(p["F"], dtype=float)):
        raise ValueError("the saved state's objectives disagree with its evaluated genomes (edited file?)")
    for a in _ATTRS:
        pop.set(a, np.asarray(p[a]))
    problem.generation = saved["problem_generation"]
    algorithm.pop, algorithm.off = pop, None
    algorithm.n_iter = saved["n_iter"]
    algorithm.evaluator.n_eval = saved["n_eval"]
    algorithm.is_initialized = True
    algorithm.start_time = time.time()
    algorithm.random_state.bit_generator.state = saved["rng"]
    algorithm._set_optimum()
    algorithm.termination.update(algorithm)


def convert_legacy(path: Path | str, out: Path | str | None = None) -> Path:
    """Rewrite an old dill `state.pkl` as `state.json`. It unpickles the file, so it executes
    whatever the file holds: only for files you trust."""
    import dill

    path = Path(path)
    out = Path(out) if out else path.with_name(STATE)
    with open(path, "rb") as f:
        saved = dill.load(f)
    algorithm = saved["algorithm"]
    save_state(out, algorithm, saved["config"])
    return out


__all__ = ["LEGACY", "STATE", "convert_legacy", "identity_json", "read_state", "restore", "save_state", "snapshot"]
