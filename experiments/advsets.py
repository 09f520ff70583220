"""Adversarial sets on disk: images, labels and provenance, and the fingerprint of the test images
they were made from (so a set is never evaluated against other images)."""
from __future__ import annotations

import hashlib
from pathlib import Path

import torch

from emulator.safe_load import load_plain

from .provenance import save_artifact


def dataset_fingerprint(labels: torch.Tensor) -> str:
    """Identifies the evaluation images by count and label order."""
    return f"{len(labels)}:" + hashlib.sha256(labels.to(torch.int64).numpy().tobytes()).hexdigest()[:16]


def image_digests(images: torch.Tensor) -> list[str]:
    """One short digest per image (its float32 bytes): says which images of two sets of one recipe differ,
    e.g. a set made again on another CPU, whose floating-point rounding can flip a gradient's sign."""
    a = images.detach().to(torch.float32).contiguous().numpy()
    return [hashlib.blake2b(a[i].tobytes(), digest_size=8).hexdigest() for i in range(len(a))]


def save_advset(path: Path | str, adv: torch.Tensor, labels: torch.Tensor, provenance: dict, metrics: dict,
                inputs: dict | None = None) -> None:
    save_artifact({"images": adv, "labels": labels, "provenance": provenance}, path,
                  {"config": provenance, "metrics": metrics, "complete": True}, inputs)


def load_advset(path: Path | str) -> tuple[torch.Tensor, torch.Tensor, dict]:
    """(images float [N, 3, 32, 32] in [0, 1], labels int64 [N], provenance); refuses anything else."""
    d = load_plain(path, "adversarial set")
    if not isinstance(d, dict) or not {"images", "labels", "provenance"} <= d.keys():
        raise ValueError(f"{path} is not an adversarial set (made by `axx attack`)")
    x, y, prov = d["images"], d["labels"], d["provenance"]
    if isinstance(x, torch.Tensor):
        # sets saved before generate() detached its batches carry requires_grad; nothing here differentiates them
        x = x.detach()
    if not (isinstance(x, torch.Tensor) and x.is_floating_point() and x.dim() == 4 and tuple(x.shape[1:]) == (3, 32, 32)):
        raise ValueError(f"{path}: images must be a float tensor [N, 3, 32, 32], got "
                         f"{tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__}")
    if not (isinstance(y, torch.Tensor) and y.dtype == torch.int64 and y.shape == (len(x),)):
        raise ValueError(f"{path}: labels must be int64 [{len(x)}]")
    if len(x) and (float(x.min()) < 0 or float(x.max()) > 1 or int(y.min()) < 0 or int(y.max()) > 9):
        raise ValueError(f"{path}: images must lie in [0, 1] and labels in 0..9")
    if not isinstance(prov, dict):
        raise ValueError(f"{path}: provenance must be a dict")
    return x, y, prov


__all__ = ["dataset_fingerprint", "image_digests", "load_advset", "save_advset"]
