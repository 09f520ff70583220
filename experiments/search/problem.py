"""The search as a pymoo Problem: one integer gene per approximated convolution, objectives
adversarial and standard accuracy (negated: pymoo minimises) and optionally energy."""
from __future__ import annotations

from dataclasses import asdict

import numpy as np
from pymoo.core.problem import Problem

from ..energy import energy, power_per_level
from .config import SearchConfig
from .evaluator import GenomeEvaluator

_SIGN = {"adv": -1.0, "std": -1.0, "energy": 1.0}


class ApproxLevelsProblem(Problem):
    """Identical genomes are evaluated once (the cache travels with the saved state); genomes are
    handed to `runner` (pymoo's parallelization: a process pool or Dask), or evaluated here one at a time.
    `pending` ({generation: {levels: result}}): genomes a stopped run evaluated in a generation it did not
    finish (journal.py), taken instead of evaluated again; `on_evaluated(generation, levels, result)` is told
    of each genome of the generation under way as soon as its result is known."""

    def __init__(self, cfg: SearchConfig, macs: list[int], runner=None):
        super().__init__(n_var=len(macs), n_obj=len(cfg.objectives), xl=0, xu=cfg.axx_levels, vtype=int)
        self.objectives = tuple(cfg.objectives)
        self.macs = list(macs)
        # marlin's energy is always recorded (its published power); another scheme's needs its cost model
        self.power = power_per_level(cfg.scheme) if cfg.scheme == "marlin" or "energy" in self.objectives else None
        self.evaluator = GenomeEvaluator(asdict(cfg))
        self.runner = runner
        self.cache: dict = {}
        self.records: list = []
        self.generation = 0
        self.pending: dict[int, dict] = {}
        self.on_evaluated = None

    def __getstate__(self):
        state = self.__dict__.copy()
        state["runner"] = state["on_evaluated"] = None  # pools, clients and callbacks are not part of the state
        return state

    def _evaluate(self, X, out, *args, **kwargs):
        self.generation += 1
        genomes = [tuple(int(v) for v in np.round(x)) for x in X]
        todo = list(dict.fromkeys(g for g in genomes if g not in self.cache))
        if todo:
            got = self._results(todo)
            for g in todo:  # in the order proposed, as an uninterrupted run records them
                r = dict(got[g], energy=energy(self.macs, g, self.power) if self.power is not None else "",
                         generation=self.generation)
                self.cache[g] = r
                self.records.append({"levels": g, **r})
        out["F"] = np.array([[_SIGN[o] * self.cache[g][o] for o in self.objectives] for g in genomes])

    def _results(self, todo: list[tuple]) -> dict[tuple, dict]:
        kept = self.pending.pop(self.generation, {})
        got = {g: kept[g] for g in todo if g in kept}
        for g, r in got.items():
            self._evaluated(g, r)
        rest = [g for g in todo if g not in got]
        if self.runner and rest:
            for g, r in zip(rest, self.runner(self.evaluator, rest)):
                got[g] = r
                self._evaluated(g, r)
        else:
            for g in rest:
                got[g] = r = self.evaluator(g)
                self._evaluated(g, r)
        return got

    def _evaluated(self, g: tuple, r: dict) -> None:
        if self.on_evaluated is not None:
            self.on_evaluated(self.generation, g, r)


__all__ = ["ApproxLevelsProblem"]
