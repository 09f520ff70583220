"""Adversarial test sets (thesis 4.4.2) with torchattacks, untargeted; transfer from a source model,
or adaptive: computed on the victim itself through the straight-through gradients (BPDA), or with
the gradient-free Square attack. Saved atomically with provenance. A long attack (Square or AutoAttack on
an approx victim runs for hours on a CPU) saves its finished batches in OUT.state about once a minute, with the
random generators' states, so an interrupted one continues (--resume) to the set an uninterrupted run makes."""
from __future__ import annotations

import inspect
import time
from pathlib import Path

import torch

from .accuracy import evaluate
from .advsets import dataset_fingerprint, save_advset
from .checkpoints import ckpt_meta, prepare_model
from .compiled import compiled
from .data import data_files, load_cifar10, to_float
from .machine import exact_fp32
from .provenance import digest_inputs, lut_tables, read_sidecar, same_inputs, save_artifact, up_to_date

DEFAULTS = {"eps": 8 / 255, "alpha": 2 / 255, "steps": 10}
SAVE_EVERY_S = 60.0  # a killed attack loses at most about a minute of work (a save of 10,000 images: 123 MB)


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


class AttackState:
    """OUT.state of an attack: its finished images, the random generators' states after them, and what
    makes the set what it is (its config and its inputs' digests), so that only the same set continues it."""

    def __init__(self, out: str | Path, prov: dict, inputs: dict):
        self.path = Path(str(out) + ".state")
        self.prov, self.digests = prov, digest_inputs(inputs)

    def exists(self) -> bool:
        return self.path.is_file()

    def done(self) -> int | None:
        """Images saved by the interrupted run (from the state's sidecar), or None when unknown."""
        d = (read_sidecar(self.path) or {}).get("done")
        return d if isinstance(d, int) else None

    def restore(self, out: torch.Tensor, log=print) -> int:
        """Fill out[:done] from the state and restore the random generators; the images done (0: start over)."""
        from emulator.safe_load import load_plain

        try:
            st = load_plain(self.path, "attack state")
        except ValueError as e:
            log(f"note: {e}; starting over")
            return 0
        if (not isinstance(st, dict) or st.get("config") != self.prov
                or not same_inputs(st.get("inputs"), self.digests)):
            log(f"note: {self.path} was made for another set or from other inputs; starting over")
            return 0
        done = int(st["done"])
        out[:done] = st["adv"]
        torch.set_rng_state(st["rng"])
        if st.get("cuda_rng") is not None and torch.cuda.is_available() and len(st["cuda_rng"]) == torch.cuda.device_count():
            torch.cuda.set_rng_state_all(st["cuda_rng"])
        log(f"continuing after {done} of {len(out)} images (the state of the interrupted run)")
        return done

    def save(self, adv: torch.Tensor, done: int) -> None:
        save_artifact({"config": self.prov, "inputs": self.digests, "done": done, "adv": adv[:done].clone(),
                       "rng": torch.get_rng_state(),
                       "cuda_rng": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None},
                      self.path, {"config": self.prov, "complete": False, "done": done})

    def remove(self) -> None:
        self.path.unlink(missing_ok=True)
        Path(str(self.path) + ".json").unlink(missing_ok=True)


def generate(model: torch.nn.Module, images: torch.Tensor, labels: torch.Tensor, attack: str, batch_size: int = 100,
             progress: bool = True, state: AttackState | None = None, log=print, **params) -> torch.Tensor:
    """Adversarial versions of [0, 1] images (float32), batch by batch; quant models through torch.compile
    (the gradients through their quantizers are the attack's hot loop). With `state`, the batches an
    interrupted run finished are taken from it and the finished ones are saved about once a minute."""
    from tqdm import tqdm
    model.eval()
    atk = make_attack(compiled(model) if getattr(model, "exec_type", None) == "quant" else model, attack, **params)
    out = torch.empty_like(images, dtype=torch.float32)
    start = state.restore(out, log) if state is not None and state.exists() else 0
    last = time.monotonic()
    batches = range(start, len(images), batch_size)
    for i in tqdm(batches, desc=f"{attack}", leave=False, disable=None if progress else True):
        # detached: some attacks (AutoAttack's) return images still on their autograd graph, which the copy would
        # chain into `out`, keeping every batch's graph alive until the end
        out[i:i + batch_size] = atk(images[i:i + batch_size].float(), labels[i:i + batch_size]).detach()
        end = min(i + batch_size, len(images))
        if state is not None and end < len(images) and time.monotonic() - last >= SAVE_EVERY_S:
            state.save(out, end)
            last = time.monotonic()
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


@exact_fp32()
def run_attack(source: str | Path, exec_type: str, attack: str, out: str | Path, eps=None, alpha=None, steps=None,
               n: int | None = None, data_dir: str | None = None, adaptive: bool = False, levels=0,
               batch_size: int = 100, seed: int = 0, calib_images: int = 5000, progress: bool = True,
               log=print, device: str = "auto", resume: bool = False, restart: bool = False) -> dict:
    """Make (or skip, when up to date) an adversarial set. `device` (auto: a CUDA GPU when torch sees one) is
    where the attack runs, no part of the set's identity: the set is saved on the CPU. An interrupted run
    found in OUT.state is continued with `resume` (to the same set as an uninterrupted run: on the same
    device), replaced with `restart`, and otherwise refused."""
    if resume and restart:
        raise ValueError("--resume and --restart exclude each other")
    prov, inputs, (x, y) = attack_config(source, exec_type, attack, eps, alpha, steps, n, data_dir, adaptive, levels,
                                         batch_size, seed, calib_images)
    params = {k: prov[k] for k in ("eps", "alpha", "steps")}
    if up_to_date(out, prov, inputs, log):
        return read_sidecar(out)
    state = AttackState(out, prov, inputs)
    if state.exists() and not (resume or restart):
        raise ValueError(f"{state.path} holds an interrupted attack ({state.done() or '?'} of {len(y)} images); "
                         "continue it with --resume or start over with --restart")
    if state.exists() and restart:
        log(f"note: starting over; {state.path} of the interrupted run will be replaced")
        state.remove()
    torch.manual_seed(seed)
    model = prepare_model(source, exec_type, levels, data_dir, calib_images, device)
    adv = generate(model, to_float(x), y, attack, batch_size=batch_size, progress=progress, state=state, log=log,
                   **params)
    metrics = {"source_std_acc": evaluate(model, x, y, batch_size), "source_adv_acc": evaluate(model, adv, y, batch_size),
               "max_perturbation": float((adv - to_float(x)).abs().max())}
    save_advset(out, adv, y, prov, metrics, inputs)
    state.remove()
    log(f"wrote {out}: {attack} from {prov['source_arch']} ({prov['source_params']} params"
        f"{', AT' if prov['source_at'] else ''}) "
        f"as {exec_type}: accuracy {metrics['source_std_acc']:.4f} -> {metrics['source_adv_acc']:.4f} on {len(y)} images")
    return {"config": prov, "metrics": metrics}


__all__ = ["DEFAULTS", "AttackState", "attack_class", "attack_config", "attack_names", "generate", "make_attack", "run_attack"]
