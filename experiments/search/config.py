"""What a search is: the victim, the adversarial set, the level bound, NSGA-II's settings and the
objectives; and where its genomes are evaluated (not part of its identity)."""
from __future__ import annotations

from dataclasses import asdict, dataclass

from ..machine import resolve_device

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
    operators: str = "thesis"   # thesis: single-point crossover + PM eta 3 | sbx: SBX + PM eta 20
    n_images: int | None = None
    objectives: tuple = ("adv", "std")
    seed: int = 1            # the author's
    data_dir: str | None = None
    calib_images: int = 5000
    batch_size: int = 100    # the thesis's evaluation batch
    device: str = "auto"     # where genomes are evaluated: auto (cuda if present), cpu, cuda, cuda:1 ...
    scheme: str = "marlin"   # the multiplier scheme: its tables, and its power for the energy objective

    def check(self) -> "SearchConfig":
        if not 1 <= self.axx_levels <= 255:
            raise ValueError(f"--axx-levels must be in 1..255, got {self.axx_levels}")
        if self.exec_type not in ("approx", "transaxx"):
            raise ValueError("the search needs an approx victim (--exec approx): levels only act there")
        bad = [o for o in self.objectives if o not in OBJECTIVES]
        if bad or not {"adv", "std"} & set(self.objectives):
            raise ValueError(f"objectives must be among {', '.join(OBJECTIVES)}, got {list(self.objectives)}")
        if self.operators not in ("thesis", "sbx"):
            raise ValueError(f"unknown operators {self.operators!r}; choose thesis or sbx")
        from lut_build.schemes import get_scheme
        get_scheme(self.scheme)
        if self.batch_size < 1:
            raise ValueError(f"batch size must be >= 1, got {self.batch_size}")
        if self.pop < 2 or self.gens < 1:
            raise ValueError("population must be >= 2 and generations >= 1")
        resolve_device(self.device)
        return self

    def identity(self) -> dict:
        """What the results depend on: everything but the device (every engine is bit-exact) and the
        data folder (its content is checked), so a search started on one machine resumes on another."""
        d = asdict(self)
        d.pop("device")
        d.pop("data_dir")  # the data's content is an input of the search, its folder is not
        return d


__all__ = ["OBJECTIVES", "SearchConfig", "resolve_device"]
