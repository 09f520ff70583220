"""Adversarial test sets (thesis 4.4.2) with torchattacks, untargeted; transfer from a source model,
or adaptive: computed on the victim itself through the straight-through gradients (BPDA), or with
the gradient-free Square attack. Saved atomically with provenance."""
from __future__ import annotations

import hashlib
import inspect
from fractions import Fraction
from pathlib import Path

import torch

from .provenance import save_artifact

DEFAULTS = {"eps": 8 / 255, "alpha": 2 / 255, "steps": 10}


def parse_eps(text: str | float) -> float:
    """'8/255' or 0.031 (a fraction of the [0, 1] range); negative or > 1 refused."""
    try:
        v = float(Fraction(str(text).strip())) if isinstance(text, str) else float(text)
    except (ValueError, ZeroDivisionError):
        raise ValueError(f"cannot read {text!r} as a number (write 8/255 or 0.031)") from None
    if not 0 <= v <= 1:
        raise ValueError(f"{text} is outside [0, 1] (images are in [0, 1]; 8/255 is a typical eps)")
    return v


def attack_names() -> list[str]:
    import torchattacks
    return sorted(n for n in dir(torchattacks) if n[:1].isupper() and isinstance(getattr(torchattacks, n), type)
                  and issubclass(getattr(torchattacks, n), torchattacks.attack.Attack)
                  and n not in ("Attack", "MultiAttack", "VANILA", "LGV"))


def attack_class(name: str):
    """The torchattacks class of a (case-insensitive) name; the error lists the valid ones."""
    import torchattacks
    names = {n.lower(): n for n in attack_names()}
    cls_name = names.get(name.lower())
    if cls_name is None:
        raise ValueError(f"unknown attack {name!r}; torchattacks provides: {', '.join(names.values())}")
    return getattr(torchattacks, cls_name)


def make_attack(model: torch.nn.Module, name: str, **params):
    """A torchattacks attack by name; only the parameters its constructor takes are passed
    (torchattacks' own defaults for the rest)."""
    cls = attack_class(name)
    accepted = inspect.signature(cls.__init__).parameters
    return cls(model, **{k: v for k, v in params.items() if k in accepted and v is not None})


def dataset_fingerprint(labels: torch.Tensor) -> str:
    """Identifies the evaluation images by count and label order."""
    return f"{len(labels)}:" + hashlib.sha256(labels.to(torch.int64).numpy().tobytes()).hexdigest()[:16]


def generate(model: torch.nn.Module, images: torch.Tensor, labels: torch.Tensor, attack: str, batch_size: int = 250,
             progress: bool = True, **params) -> torch.Tensor:
    """Adversarial versions of [0, 1] images (float32), batch by batch."""
    from tqdm import tqdm
    model.eval()
    atk = make_attack(model, attack, **params)
    out = torch.empty_like(images, dtype=torch.float32)
    for i in tqdm(range(0, len(images), batch_size), desc=f"{attack}", leave=False, disable=None if progress else True):
        out[i:i + batch_size] = atk(images[i:i + batch_size].float(), labels[i:i + batch_size])
    return out


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


__all__ = ["DEFAULTS", "parse_eps", "attack_names", "attack_class", "make_attack", "generate", "save_advset", "load_advset",
           "dataset_fingerprint"]
