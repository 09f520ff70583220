"""One individual of the search: the victim at a genome's per-layer levels on the adversarial and the
clean images. The evaluator is picklable (it carries only the config) and builds the victim once per
process, so it travels to pool workers and Dask workers alike."""
from __future__ import annotations

import time

import numpy as np

from ..accuracy import evaluate
from ..advsets import load_advset
from ..checkpoints import prepare_model
from ..data import load_cifar10, to_float
from ..machine import exact_fp32
from .config import resolve_device

_EVALUATORS: dict = {}


class _Evaluator:
    """Victim model and images, built once per process."""

    def __init__(self, cfg: dict):
        adv, labels, _ = load_advset(cfg["advset"])
        n = cfg["n_images"] or len(labels)
        self.adv, self.labels = adv[:n], labels[:n]
        x, y = load_cifar10("test", cfg["data_dir"], limit=n)
        if not np.array_equal(y.numpy(), self.labels.numpy()):
            raise ValueError(f"{cfg['advset']} was made from another dataset than the test images here")
        dev = resolve_device(cfg.get("device", "auto"))
        self.clean, self.y = to_float(x).to(dev), y.to(dev)
        self.adv, self.labels = self.adv.to(dev), self.labels.to(dev)
        self.model = prepare_model(cfg["victim"], "approx", 0, cfg["data_dir"], cfg["calib_images"])
        if cfg.get("scheme", "marlin") != "marlin":
            from emulator.configure import set_scheme
            set_scheme(self.model, cfg["scheme"])
        self.model = self.model.to(dev)
        self.batch_size = cfg["batch_size"]

    def __call__(self, levels) -> dict:
        return evaluate_genome(self.model, levels, self.adv, self.labels, self.clean, self.y, self.batch_size)


@exact_fp32()
def evaluate_genome(model, levels, adv, labels, clean, y, batch_size: int = 500) -> dict:
    """One individual: the victim at these per-layer levels on the adversarial and the clean set."""
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


__all__ = ["GenomeEvaluator", "evaluate_genome"]
