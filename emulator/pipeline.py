"""What `axx attack` and `axx eval` do, callable from Python."""
from __future__ import annotations

from pathlib import Path

import torch

from .attack import DEFAULTS, attack_class, dataset_fingerprint, generate, load_advset, save_advset
from .evaluate import scenario
from .provenance import code_version, matches, read_sidecar
from .train import evaluate, load_model, read_checkpoint


def ckpt_meta(ckpt: str | Path) -> dict:
    st = read_checkpoint(ckpt)
    return {"arch": st["arch"], "params": st["exec_type"], "at": bool(st.get("at")), "at_eps": st.get("at_eps")}


def parse_levels(text: str | int | None):
    """'50' -> 50; '0,5,9,...' -> a per-convolution list; None -> 0."""
    if text is None or text == "":
        return 0
    if isinstance(text, int):
        return text
    parts = [p for p in str(text).split(",") if p.strip()]
    vals = [int(p) for p in parts]
    return vals[0] if len(vals) == 1 else vals


def prepare_model(ckpt: str | Path, exec_type: str, levels=0, data_dir: str | None = None,
                  calib_images: int = 5000) -> torch.nn.Module:
    """A checkpoint in an execution type; approx models whose checkpoint carries no calibration
    (float/quant parameters) are calibrated on the first `calib_images` training images."""
    from .data import load_cifar10, to_float
    from .models import approx_convs, calibrate

    model = load_model(ckpt, exec_type)
    if model.exec_type == "approx" and any(float(c.act_amax) <= 0 for c in approx_convs(model)):
        xc, _ = load_cifar10("train", data_dir, limit=calib_images)
        calibrate(model, to_float(xc))
    model.set_levels(levels)
    model.eval()
    return model


def run_attack(source: str | Path, exec_type: str, attack: str, out: str | Path, eps=None, alpha=None, steps=None,
               n: int | None = None, data_dir: str | None = None, adaptive: bool = False, levels=0,
               batch_size: int = 250, seed: int = 0, calib_images: int = 5000, progress: bool = True,
               log=print) -> dict:
    from .data import load_cifar10, to_float

    attack_class(attack)  # a wrong name fails before any data is read
    meta = ckpt_meta(source)
    x, y = load_cifar10("test", data_dir, limit=n)
    params = {"eps": DEFAULTS["eps"] if eps is None else eps, "alpha": DEFAULTS["alpha"] if alpha is None else alpha,
              "steps": DEFAULTS["steps"] if steps is None else steps}
    prov = {"source": str(source), "source_arch": meta["arch"], "source_params": meta["params"],
            "source_exec": exec_type, "source_at": meta["at"], "attack": attack, **params, "n": len(y),
            "dataset": dataset_fingerprint(y), "adaptive": adaptive, "levels": levels, "seed": seed}
    if matches(out, prov):
        log(f"{out} exists and matches this configuration: skipped")
        return read_sidecar(out)
    torch.manual_seed(seed)
    model = prepare_model(source, exec_type, levels, data_dir, calib_images)
    adv = generate(model, to_float(x), y, attack, batch_size=batch_size, progress=progress, **params)
    metrics = {"source_std_acc": evaluate(model, x, y), "source_adv_acc": evaluate(model, adv, y),
               "max_perturbation": float((adv - to_float(x)).abs().max())}
    save_advset(out, adv, y, prov, metrics)
    log(f"wrote {out}: {attack} from {meta['arch']} ({meta['params']} params{', AT' if meta['at'] else ''}) "
        f"as {exec_type}: accuracy {metrics['source_std_acc']:.4f} -> {metrics['source_adv_acc']:.4f} on {len(y)} images")
    return {"config": prov, "metrics": metrics}


def run_eval(victims: list, exec_types: list[str], advsets: list, levels=0, data_dir: str | None = None,
             batch_size: int = 500, calib_images: int = 5000, log=print) -> list[dict]:
    """Standard and adversarial accuracy of every victim x execution type x adversarial set."""
    from .data import load_cifar10

    metas = {v: ckpt_meta(v) for v in victims}  # a missing or foreign checkpoint fails before any data is read
    sets = []
    for path in advsets:
        adv, labels, prov = load_advset(path)
        sets.append((str(path), adv, labels, prov))
    n_max = max(len(s[2]) for s in sets)
    x, y = load_cifar10("test", data_dir, limit=n_max)
    for path, adv, labels, prov in sets:
        if dataset_fingerprint(y[:len(labels)]) != prov.get("dataset") or not torch.equal(labels, y[:len(labels)]):
            raise ValueError(f"{path} was made from another dataset (size or label order differ from the first "
                             f"{len(labels)} test images here)")
    rows, version = [], code_version()
    for v in victims:
        meta = metas[v]
        for et in exec_types:
            model = prepare_model(v, et, levels, data_dir, calib_images)
            for path, adv, labels, prov in sets:
                n = len(labels)
                adaptive = bool(prov.get("adaptive"))
                row = {"victim": str(v), "victim_arch": meta["arch"], "victim_params": meta["params"],
                       "victim_at": meta["at"], "victim_exec": model.exec_type, "levels": levels, "advset": path,
                       "attack": prov["attack"], "eps": prov["eps"], "source": prov["source"],
                       "source_arch": prov["source_arch"], "source_params": prov["source_params"],
                       "source_exec": prov["source_exec"], "source_at": prov["source_at"], "adaptive": adaptive,
                       "scenario": scenario(prov["source_arch"], prov["source_params"], meta["arch"], meta["params"],
                                            adaptive and Path(prov["source"]).resolve() == Path(v).resolve()),
                       "std_acc": evaluate(model, x[:n], y[:n], batch_size),
                       "adv_acc": evaluate(model, adv, labels, batch_size),
                       "n_images": n, "batch_size": batch_size, "code_version": version}
                rows.append(row)
                log(f"{meta['arch']} {meta['params']}-params{' AT' if meta['at'] else ''} as {model.exec_type} vs "
                    f"{Path(path).name}: std {row['std_acc']:.4f}, adv {row['adv_acc']:.4f} ({row['scenario']})")
    return rows


def eval_to_csv(victims: list, exec_types: list[str], advsets: list, out: str | Path, levels=0,
                data_dir: str | None = None, batch_size: int = 500, calib_images: int = 5000, log=print) -> list[dict]:
    """run_eval into a results CSV with its sidecar; skipped when the CSV exists with this config."""
    from .evaluate import read_rows, write_rows
    from .provenance import write_sidecar

    cfg = {"victims": [str(v) for v in victims], "exec_types": list(exec_types), "advsets": [str(a) for a in advsets],
           "levels": levels, "batch_size": batch_size, "calib_images": calib_images}
    if matches(out, cfg):
        log(f"{out} exists and matches this configuration: skipped")
        return read_rows(out)
    rows = run_eval(victims, exec_types, advsets, levels=levels, data_dir=data_dir, batch_size=batch_size,
                    calib_images=calib_images, log=log)
    write_rows(rows, out)
    write_sidecar(out, {"config": cfg, "rows": len(rows), "complete": True})
    return rows
