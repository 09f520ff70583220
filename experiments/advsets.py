"""Adversarial sets on disk: images, labels and provenance, and the fingerprint of the test images
they were made from (so a set is never evaluated against other images)."""
from __future__ import annotations

import hashlib
from pathlib import Path

import torch

from .provenance import save_artifact


def dataset_fingerprint(labels: torch.Tensor) -> str:
    """Identifies the evaluation images by count and label order."""
    return f"{len(labels)}:" + hashlib.sha256(labels.to(torch.int64).numpy().tobytes()).hexdigest()[:16]


def save_advset(path: Path | str, adv: torch.Tensor, labels: torch.Tensor, provenance: dict, metrics: dict) -> None:
    save_artifact({"images": adv, "labels": labels, "provenance": provenance}, path,
                  {"config": provenance, "metrics": metrics, "complete": True})


def load_advset(path: Path | str) -> tuple[torch.Tensor, torch.Tensor, dict]:
    import pickle
    try:
        d = torch.load(path, map_location="cpu", weights_only=False)
        return d["images"], d["labels"], d["provenance"]
    except (OSError, KeyError, TypeError, RuntimeError, EOFError, pickle.UnpicklingError) as e:
        raise ValueError(f"{path} is not a readable adversarial set ({type(e).__name__}: {e})") from None


__all__ = ["dataset_fingerprint", "load_advset", "save_advset"]
