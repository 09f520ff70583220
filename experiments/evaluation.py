"""The evaluation matrix (thesis 4.4.3): every victim in every execution type against every adversarial
set, with its scenario label; what `axx eval` does."""
from __future__ import annotations

from pathlib import Path

import torch

from fileio import code_version

from .accuracy import evaluate
from .advsets import dataset_fingerprint, load_advset
from .checkpoints import ckpt_meta, prepare_model
from .data import data_files, load_cifar10
from .machine import exact_fp32
from .provenance import lut_tables, up_to_date, write_sidecar
from .results import read_rows, write_rows
from .scenarios import scenario


@exact_fp32()
def run_eval(victims: list, exec_types: list[str], advsets: list, levels=0, data_dir: str | None = None,
             batch_size: int = 100, calib_images: int = 5000, log=print, device: str = "auto") -> list[dict]:
    """Standard and adversarial accuracy of every victim x execution type x adversarial set, on `device`
    (auto: a CUDA GPU when torch sees one; no part of the results' identity)."""
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
            model = prepare_model(v, et, levels, data_dir, calib_images, device)
            std: dict[int, float] = {}  # the clean accuracy on the first n images is the same for every set of n
            for path, adv, labels, prov in sets:
                n = len(labels)
                if n not in std:
                    std[n] = evaluate(model, x[:n], y[:n], batch_size)
                adaptive = bool(prov.get("adaptive"))
                row = {"victim": str(v), "victim_arch": meta["arch"], "victim_params": meta["params"],
                       "victim_at": meta["at"], "victim_exec": model.exec_type, "levels": levels, "advset": path,
                       "attack": prov["attack"], "eps": prov["eps"], "source": prov["source"],
                       "source_arch": prov["source_arch"], "source_params": prov["source_params"],
                       "source_exec": prov["source_exec"], "source_at": prov["source_at"], "adaptive": adaptive,
                       "scenario": scenario(prov["source_arch"], prov["source_params"], meta["arch"], meta["params"],
                                            adaptive and Path(prov["source"]).resolve() == Path(v).resolve()),
                       "std_acc": std[n],
                       "adv_acc": evaluate(model, adv, labels, batch_size),
                       "n_images": n, "batch_size": batch_size, "code_version": version}
                rows.append(row)
                log(f"{meta['arch']} {meta['params']}-params{' AT' if meta['at'] else ''} as {model.exec_type} vs "
                    f"{Path(path).name}: std {row['std_acc']:.4f}, adv {row['adv_acc']:.4f} ({row['scenario']})")
    return rows


def eval_config(victims: list, exec_types: list[str], advsets: list, levels=0, data_dir: str | None = None,
                batch_size: int = 100, calib_images: int = 5000) -> tuple[dict, dict]:
    """(config, inputs) of a results CSV: what its sidecar records and what decides whether it is up to date."""
    cfg = {"victims": [str(v) for v in victims], "exec_types": list(exec_types), "advsets": [str(a) for a in advsets],
           "levels": levels, "batch_size": batch_size, "calib_images": calib_images}
    inputs = {**{f"victim {i + 1}": v for i, v in enumerate(victims)},
              **{f"adversarial set {i + 1}": a for i, a in enumerate(advsets)}, **data_files("test", data_dir)}
    if "approx" in exec_types:
        inputs.update({"lut": lut_tables(), **data_files("train", data_dir)})
    return cfg, inputs


def eval_to_csv(victims: list, exec_types: list[str], advsets: list, out: str | Path, levels=0,
                data_dir: str | None = None, batch_size: int = 100, calib_images: int = 5000, log=print,
                device: str = "auto") -> list[dict]:
    """run_eval into a results CSV with its sidecar; skipped when the CSV exists with this config."""
    cfg, inputs = eval_config(victims, exec_types, advsets, levels, data_dir, batch_size, calib_images)
    if up_to_date(out, cfg, inputs, log):
        return read_rows(out)
    rows = run_eval(victims, exec_types, advsets, levels=levels, data_dir=data_dir, batch_size=batch_size,
                    calib_images=calib_images, log=log, device=device)
    write_rows(rows, out)
    from .machine import hardware
    # float rounding of convolutions differs between CPU kinds (and compiled vs eager): a few images of a
    # thousand may change class, so the table says which machine made it
    write_sidecar(out, {"config": cfg, "rows": len(rows), "complete": True, "hardware": hardware()}, inputs)
    return rows


__all__ = ["eval_config", "eval_to_csv", "run_eval"]
