"""Rows of earlier evaluations, taken up by content instead of measured again.

An evaluation row (one victim in one execution type against one adversarial set) is what its inputs'
contents and settings make. A campaign's tables grow over many sessions and machines: a partial table gains
a victim or a set, a run is killed halfway, a complete table goes stale because one of its victims was
retrained. Each of those used to measure every row again (an hour of CPU for ResNet-8's FGSM table alone).
Here a row measured before is reused when the victim's weights, the set's bytes, the test images and the
settings (levels, batch size; for approx execution also the tables and the calibration images) have the same
content as now, wherever the files lay. Its numbers are the ones this machine would measure, up to the float
rounding of another CPU kind (a few images in ten thousand), which is why the sidecar of a table with reused
rows lists the machines that measured them.

Adversarial sets are not committed (123 MB each): a session on another machine makes them again by the same
recipe, and that CPU's rounding may flip a few gradient signs, so the set's bytes may differ. The rows a killed
run kept (`OUT.progress`, committed with the results) are then taken by the set's recipe instead (its
configuration and inputs' contents, which every results sidecar records): measured on the set as first made,
a few images in ten thousand from what the set made again would give, and counted apart in the table's sidecar
(`reused_on_remade_sets`, and which rows in `remade_rows`, so a table resumed twice still says so), as a
search records `set_remade`.
"""
from __future__ import annotations

import json
from pathlib import Path

from fileio import cached_digest

from .provenance import content_key, read_sidecar
from .results import read_rows

# the settings a row depends on besides its victim, execution type and set
SETTINGS = ("levels", "batch_size", "calib_images")


def progress_path(out: str | Path) -> Path:
    """Where a running evaluation keeps the rows it has measured (never read as a table: no .csv suffix)."""
    return Path(str(out) + ".progress")


def _inputs_key(digests: dict, exec_type: str) -> dict | None:
    """The content of the data (and for approx execution the tables) a row of `exec_type` reads; None when
    one of them is unknown or was missing."""
    wanted = {r: d for r, d in digests.items()
              if r in ("data:test_batch",) or (exec_type == "approx" and (r == "lut" or r.startswith("data:")))}
    keys = {r: content_key(d) for r, d in wanted.items()}
    return None if any(k is None for k in keys.values()) else keys


def row_key(victim: dict, exec_type: str, advset: dict, settings: dict, digests: dict) -> str | None:
    """What makes a row: the victim's and the set's content, the execution type, the settings and the data's
    content (digests as `provenance.digest_inputs` records them). None: not comparable (a missing input)."""
    v, s, data = content_key(victim), content_key(advset), _inputs_key(digests, exec_type)
    if v is None or s is None or data is None:
        return None
    return json.dumps({"victim": v, "exec": exec_type, "set": s, "data": data,
                       **{k: settings.get(k) for k in SETTINGS}}, sort_keys=True, default=str)


def recipe_row_key(victim: dict, exec_type: str, recipe: str | None, settings: dict, digests: dict) -> str | None:
    """`row_key` with the set's recipe (provenance.recipe_key) in place of its bytes; None without a recipe."""
    v, data = content_key(victim), _inputs_key(digests, exec_type)
    if v is None or recipe is None or data is None:
        return None
    return json.dumps({"victim": v, "exec": exec_type, "set recipe": recipe, "data": data,
                       **{k: settings.get(k) for k in SETTINGS}}, sort_keys=True, default=str)


def std_key(victim: dict, exec_type: str, n_images: int, settings: dict, digests: dict) -> str | None:
    """What makes a row's clean accuracy: the same as `row_key` with the set replaced by its number of images."""
    v, data = content_key(victim), _inputs_key(digests, exec_type)
    if v is None or data is None:
        return None
    return json.dumps({"victim": v, "exec": exec_type, "n": int(n_images), "data": data,
                       **{k: settings.get(k) for k in SETTINGS}}, sort_keys=True, default=str)


class EarlierRows:
    """The rows of earlier evaluations found in `paths` (results CSVs, complete, partial or in progress, each
    with its sidecar), by `row_key`; a file changed since its sidecar was written is not read."""

    def __init__(self, paths: list[str | Path], log=print):
        self.rows: dict[str, dict] = {}
        self.std: dict[str, float] = {}
        self.hardware: dict[str, dict] = {}     # row key -> the machine that measured it
        self.used: list[str] = []               # the keys taken, in order
        self.by_recipe: dict[str, str] = {}     # recipe_row_key -> row key, for sets made again by their recipe
        self.remade_keys: set[str] = set()      # rows their file says were measured on an earlier make of the set
        self.remade_rows: list[list[str]] = []  # [victim, exec, set] of the rows taken so, in order
        for p in dict.fromkeys(Path(p) for p in paths):
            meta = read_sidecar(p) if p.is_file() else None
            if meta is None:
                continue
            if meta.get("sha256") != cached_digest(p):
                log(f"{p} changed since its sidecar was written: none of its rows is reused")
                continue
            try:
                rows = read_rows(p)
            except (OSError, ValueError):
                continue
            self._take(rows, meta)

    def _take(self, rows: list[dict], meta: dict) -> None:
        inputs, cfg = meta.get("inputs") or {}, meta.get("config") or {}
        by_path = {d.get("path"): d for r, d in inputs.items()
                   if r.startswith(("victim ", "adversarial set ")) and isinstance(d, dict)}
        role = {d.get("path"): r for r, d in inputs.items() if r.startswith("adversarial set ") and isinstance(d, dict)}
        recipes = meta.get("recipes") or {}
        marked = {tuple(x) for x in meta.get("remade_rows") or [] if isinstance(x, list)}
        settings = {k: cfg.get(k) for k in SETTINGS}
        for r in rows:
            victim, advset = by_path.get(r["victim"]), by_path.get(r["advset"])
            if victim is None or advset is None:
                continue
            key = row_key(victim, r["victim_exec"], advset, settings, inputs)
            if key is None:
                continue
            self.rows[key] = r
            if (r["victim"], r["victim_exec"], r["advset"]) in marked:
                self.remade_keys.add(key)
            by_recipe = recipe_row_key(victim, r["victim_exec"], recipes.get(role.get(r["advset"])), settings, inputs)
            if by_recipe is not None:
                self.by_recipe.setdefault(by_recipe, key)
            self.hardware[key] = meta.get("hardware") or {"unknown": True}
            sk = std_key(victim, r["victim_exec"], int(r["n_images"]), settings, inputs)
            if sk is not None:
                self.std[sk] = float(r["std_acc"])

    def take(self, key: str) -> dict:
        """The row of `key`, noted as reused."""
        self.used.append(key)
        return self.rows[key]

    def find(self, key: str | None, by_recipe: str | None) -> tuple[str | None, bool]:
        """(the key of the earlier row for `key` (the set's bytes), else for `by_recipe` (a set made again by the
        recipe of the one the row was measured on), or None; whether that row was measured on an earlier make of
        the set, here or in the file it comes from)."""
        if key in self.rows:
            return key, key in self.remade_keys
        if by_recipe in self.by_recipe:
            return self.by_recipe[by_recipe], True
        return None, False

    def remade_sidecar(self) -> dict:
        """What a table's (or its progress file's) sidecar says of the rows measured on an earlier make of a set."""
        return {"reused_on_remade_sets": len(self.remade_rows), "remade_rows": self.remade_rows} \
            if self.remade_rows else {}

    def __len__(self) -> int:
        return len(self.rows)


def typed(row: dict, levels) -> dict:
    """A row read back from a CSV with the types `run_eval` writes (its levels are the run's: equal by key)."""
    out = dict(row)
    for k in ("std_acc", "adv_acc", "eps"):
        out[k] = float(row[k])
    for k in ("n_images", "batch_size"):
        out[k] = int(row[k])
    for k in ("victim_at", "source_at", "adaptive"):
        out[k] = str(row[k]) == "True"
    out["levels"] = levels
    return out


__all__ = ["EarlierRows", "progress_path", "recipe_row_key", "row_key", "std_key", "typed"]
