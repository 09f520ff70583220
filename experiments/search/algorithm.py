"""NSGA-II with the operators of a search's configuration."""
from __future__ import annotations

from .config import SearchConfig


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


__all__ = ["make_algorithm"]
