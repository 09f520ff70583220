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
    handed to `runner` (pymoo's parallelization: a process pool or Dask), or evaluated here."""

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
                r = dict(r, energy=energy(self.macs, g, self.power) if self.power is not None else "",
                         generation=self.generation)
                self.cache[g] = r
                self.records.append({"levels": g, **r})
        out["F"] = np.array([[_SIGN[o] * self.cache[g][o] for o in self.objectives] for g in genomes])


__all__ = ["ApproxLevelsProblem"]
