"""NSGA-II search of per-layer approximation levels (thesis 4.4.4) with pymoo: the configuration,
the Problem, the genome evaluator, parallel runners, the run loop with its saved state, the figure,
and the benchmark that projects the thesis's search time."""
from .config import OBJECTIVES, SearchConfig, resolve_device
from .evaluator import GenomeEvaluator, evaluate_genome
from .problem import ApproxLevelsProblem
from .run import run_search

__all__ = ["ApproxLevelsProblem", "GenomeEvaluator", "OBJECTIVES", "SearchConfig", "evaluate_genome",
           "resolve_device", "run_search"]
