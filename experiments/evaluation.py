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
from .eval_reuse import EarlierRows, progress_path, recipe_row_key, row_key, std_key, typed
from .machine import exact_fp32
from .provenance import digest_inputs, input_recipes, lut_tables, sidecar_path, up_to_date, write_sidecar
from .results import read_rows, write_rows
from .scenarios import scenario


@exact_fp32()
def run_eval(victims: list, exec_types: list[str], advsets: list, levels=0, data_dir: str | None = None,
             batch_size: int = 100, calib_images: int = 5000, log=print, device: str = "auto",
             earlier: EarlierRows | None = None, on_rows=None, progress: bool = False) -> list[dict]:
    """Standard and adversarial accuracy of every victim x execution type x adversarial set, on `device`
    (auto: a CUDA GPU when torch sees one; no part of the results' identity). Rows in `earlier` with the same
    content (eval_reuse.py) are taken, not measured; `on_rows(rows)` is called with the rows so far after each
    victim's execution type (what a killed run keeps). `progress`: a bar over the rows."""
    from tqdm import tqdm

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
    _, inputs = eval_config(victims, exec_types, advsets, levels, data_dir, batch_size, calib_images)
    earlier = earlier or EarlierRows([])
    digests = digest_inputs(inputs) if earlier else {}
    recipes = input_recipes({r: p for r, p in inputs.items() if r.startswith("adversarial set ")}) if earlier else {}
    settings = {"levels": levels, "batch_size": batch_size, "calib_images": calib_images}
    rows, version, reused = [], code_version(), 0
    bar = tqdm(total=len(victims) * len(exec_types) * len(sets), desc="evaluation", unit="row",
               disable=None if progress else True)
    for i, v in enumerate(victims):
        meta = metas[v]
        for et in exec_types:
            model = None
            std: dict[int, float] = {}  # the clean accuracy on the first n images is the same for every set of n
            for j, (path, adv, labels, prov) in enumerate(sets):
                n = len(labels)
                if earlier:
                    key, remade = earlier.find(
                        row_key(digests[f"victim {i + 1}"], et, digests[f"adversarial set {j + 1}"], settings, digests),
                        recipe_row_key(digests[f"victim {i + 1}"], et, recipes.get(f"adversarial set {j + 1}"),
                                       settings, digests))
                    if key is not None:
                        rows.append({**typed(earlier.take(key), levels), "victim": str(v), "advset": path})
                        if remade:
                            earlier.remade_rows.append([str(v), et, str(path)])
                        reused += 1
                        bar.update()
                        continue
                    sk = std_key(digests[f"victim {i + 1}"], et, n, settings, digests)
                    if n not in std and sk in earlier.std:
                        std[n] = earlier.std[sk]
                if model is None:
                    model = prepare_model(v, et, levels, data_dir, calib_images, device)
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
                bar.update()
                log(f"{meta['arch']} {meta['params']}-params{' AT' if meta['at'] else ''} as {model.exec_type} vs "
                    f"{Path(path).name}: std {row['std_acc']:.4f}, adv {row['adv_acc']:.4f} ({row['scenario']})")
            if on_rows is not None and model is not None:
                on_rows(rows)
    bar.close()
    if reused:
        log(f"took {reused} of {len(rows)} rows from earlier evaluations (same victim, set, data and settings by "
            "content): not measured again" + (f"; {len(earlier.remade_rows)} of them measured on an earlier make of "
                                              "their set, by the same recipe" if earlier.remade_rows else ""))
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
                device: str = "auto", reuse_from: list = (), restart: bool = False,
                progress: bool = False) -> list[dict]:
    """run_eval into a results CSV with its sidecar; skipped when the CSV exists with this config. Rows of
    earlier evaluations with the same content are reused (eval_reuse.py): from `out` itself (a table that went
    stale because some of its victims or sets changed), from the rows a killed run kept (`out`.progress) and
    from the tables in `reuse_from`; `restart` measures every row of a table that is not up to date again."""
    cfg, inputs = eval_config(victims, exec_types, advsets, levels, data_dir, batch_size, calib_images)
    if up_to_date(out, cfg, inputs, log):
        return read_rows(out)
    from .machine import hardware
    kept = progress_path(out)
    earlier = None if restart else EarlierRows([out, kept, *reuse_from], log)

    def keep(rows: list[dict]) -> None:
        write_rows(rows, kept)
        write_sidecar(kept, {"config": cfg, "rows": len(rows), "complete": False, "hardware": hardware(),
                             **(earlier.remade_sidecar() if earlier else {})}, inputs)

    rows = run_eval(victims, exec_types, advsets, levels=levels, data_dir=data_dir, batch_size=batch_size,
                    calib_images=calib_images, log=log, device=device, earlier=earlier, on_rows=keep,
                    progress=progress)
    reused = _reused_hardware(earlier)
    write_rows(rows, out)
    # float rounding of convolutions differs between CPU kinds (and compiled vs eager): a few images of a
    # thousand may change class, so the table says which machine made it (and which made the rows it reused)
    write_sidecar(out, {"config": cfg, "rows": len(rows), "complete": True, "hardware": hardware(), **reused},
                  inputs)
    for p in (kept, sidecar_path(kept)):
        p.unlink(missing_ok=True)
    return rows


def _reused_hardware(earlier: EarlierRows | None) -> dict:
    """{"reused_rows": n, "reused_hardware": [the machines that measured them]} for a table that took rows from
    earlier runs; {} for one measured whole here."""
    if not earlier or not earlier.used:
        return {}
    machines = []
    for k in earlier.used:
        if earlier.hardware[k] not in machines:
            machines.append(earlier.hardware[k])
    return {"reused_rows": len(earlier.used), "reused_hardware": machines, **earlier.remade_sidecar()}


__all__ = ["eval_config", "eval_to_csv", "run_eval"]
