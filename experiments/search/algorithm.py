"""NSGA-II with the operators of a search's configuration.

thesis (default; the author's benchmark_CIFAR10/nsga2.py): integer random sampling, single-point
crossover and polynomial mutation (eta 3), both with rounding repair. sbx: simulated binary crossover
(eta 15) and polynomial mutation (eta 20) with rounding repair, as this project searched before.
"""
from __future__ import annotations

from .config import SearchConfig

OPERATORS = ("thesis", "sbx")


def make_algorithm(cfg: SearchConfig):
    from pymoo.algorithms.moo.nsga2 import NSGA2
    from pymoo.operators.crossover.pntx import SinglePointCrossover
    from pymoo.operators.crossover.sbx import SBX
    from pymoo.operators.mutation.pm import PM
    from pymoo.operators.repair.rounding import RoundingRepair
    from pymoo.operators.sampling.rnd import IntegerRandomSampling

    if cfg.operators == "thesis":
        crossover = SinglePointCrossover(prob=cfg.crossover, repair=RoundingRepair())
        mutation = PM(prob=cfg.mutation, eta=3.0, vtype=float, repair=RoundingRepair())
    else:
        crossover = SBX(prob=cfg.crossover, eta=15, vtype=float, repair=RoundingRepair())
        mutation = PM(prob=cfg.mutation, eta=20, vtype=float, repair=RoundingRepair())
    return NSGA2(pop_size=cfg.pop, sampling=IntegerRandomSampling(), crossover=crossover, mutation=mutation,
                 eliminate_duplicates=True)


__all__ = ["OPERATORS", "make_algorithm"]
