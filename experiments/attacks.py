"""Adversarial test sets (thesis 4.4.2) with torchattacks, untargeted; transfer from a source model,
or adaptive: computed on the victim itself through the straight-through gradients (BPDA), or with
the gradient-free Square attack. Saved atomically with provenance."""
from __future__ import annotations

import inspect
from pathlib import Path

import torch

from .accuracy import evaluate
from .advsets import dataset_fingerprint, save_advset
from .checkpoints import ckpt_meta, prepare_model
from .compiled import compiled
from .data import data_files, load_cifar10, to_float
from .provenance import lut_tables, read_sidecar, up_to_date

DEFAULTS = {"eps": 8 / 255, "alpha": 2 / 255, "steps": 10}


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


def generate(model: torch.nn.Module, images: torch.Tensor, labels: torch.Tensor, attack: str, batch_size: int = 100,
             progress: bool = True, **params) -> torch.Tensor:
    """Adversarial versions of [0, 1] images (float32), batch by batch; quant models through torch.compile
    (the gradients through their quantizers are the attack's hot loop)."""
    from tqdm import tqdm
    model.eval()
    atk = make_attack(compiled(model) if getattr(model, "exec_type", None) == "quant" else model, attack, **params)
    out = torch.empty_like(images, dtype=torch.float32)
    for i in tqdm(range(0, len(images), batch_size), desc=f"{attack}", leave=False, disable=None if progress else True):
        out[i:i + batch_size] = atk(images[i:i + batch_size].float(), labels[i:i + batch_size])
    return out


def attack_config(source: str | Path, exec_type: str, attack: str, eps=None, alpha=None, steps=None,
                  n: int | None = None, data_dir: str | None = None, adaptive: bool = False, levels=0,
                  batch_size: int = 100, seed: int = 0, calib_images: int = 5000):
    """(config, inputs, (test images, labels)) of an adversarial set: what its sidecar records and
    what decides whether an existing one is up to date."""
    attack_class(attack)  # a wrong name fails before any data is read
    meta = ckpt_meta(source)
    x, y = load_cifar10("test", data_dir, limit=n)
    params = {"eps": DEFAULTS["eps"] if eps is None else eps, "alpha": DEFAULTS["alpha"] if alpha is None else alpha,
              "steps": DEFAULTS["steps"] if steps is None else steps}
    prov = {"source": str(source), "source_arch": meta["arch"], "source_params": meta["params"],
            "source_exec": exec_type, "source_at": meta["at"], "attack": attack, **params, "n": len(y),
            "dataset": dataset_fingerprint(y), "adaptive": adaptive, "levels": levels, "seed": seed,
            "batch_size": batch_size}
    inputs = {"source": source, **data_files("test", data_dir)}
    if exec_type == "approx":
        inputs["lut"] = lut_tables()
        if calib_images:
            inputs.update(data_files("train", data_dir))
    return prov, inputs, (x, y)


def run_attack(source: str | Path, exec_type: str, attack: str, out: str | Path, eps=None, alpha=None, steps=None,
               n: int | None = None, data_dir: str | None = None, adaptive: bool = False, levels=0,
               batch_size: int = 100, seed: int = 0, calib_images: int = 5000, progress: bool = True,
               log=print, device: str = "auto") -> dict:
    """Make (or skip, when up to date) an adversarial set. `device` (auto: a CUDA GPU when torch sees one) is
    where the attack runs, no part of the set's identity: the set is saved on the CPU."""
    prov, inputs, (x, y) = attack_config(source, exec_type, attack, eps, alpha, steps, n, data_dir, adaptive, levels,
                                         batch_size, seed, calib_images)
    params = {k: prov[k] for k in ("eps", "alpha", "steps")}
    if up_to_date(out, prov, inputs, log):
        return read_sidecar(out)
    torch.manual_seed(seed)
    model = prepare_model(source, exec_type, levels, data_dir, calib_images, device)
    adv = generate(model, to_float(x), y, attack, batch_size=batch_size, progress=progress, **params)
    metrics = {"source_std_acc": evaluate(model, x, y, batch_size), "source_adv_acc": evaluate(model, adv, y, batch_size),
               "max_perturbation": float((adv - to_float(x)).abs().max())}
    save_advset(out, adv, y, prov, metrics, inputs)
    log(f"wrote {out}: {attack} from {prov['source_arch']} ({prov['source_params']} params"
        f"{', AT' if prov['source_at'] else ''}) "
        f"as {exec_type}: accuracy {metrics['source_std_acc']:.4f} -> {metrics['source_adv_acc']:.4f} on {len(y)} images")
    return {"config": prov, "metrics": metrics}


__all__ = ["DEFAULTS", "attack_class", "attack_config", "attack_names", "generate", "make_attack", "run_attack"]
