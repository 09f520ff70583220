"""Atomic artifact writing with JSON sidecars: config, code version, metrics."""
from __future__ import annotations

import datetime as _dt
import json
import platform
from pathlib import Path

import torch

from fileio import atomic_path, atomic_write_text, code_version


def sidecar_path(path: Path | str) -> Path:
    return Path(str(path) + ".json")


def save_artifact(obj, path: Path | str, meta: dict) -> None:
    """torch.save `obj` atomically, then its sidecar (config, code version, metrics, date)."""
    path = Path(path)
    with atomic_path(path) as tmp:
        torch.save(obj, tmp)
    write_sidecar(path, meta)


def write_sidecar(path: Path | str, meta: dict) -> None:
    full = {"code_version": code_version(), "date": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
            "host": platform.node(), "torch": torch.__version__, **meta}
    atomic_write_text(sidecar_path(path), json.dumps(full, indent=2, default=str) + "\n")


def read_sidecar(path: Path | str) -> dict | None:
    p = sidecar_path(path)
    if not p.is_file():
        return None
    try:
        return json.loads(p.read_text())
    except json.JSONDecodeError:
        return None


def matches(path: Path | str, config: dict) -> bool:
    """An artifact exists, is complete, and was made with exactly this config (then a re-run skips)."""
    meta = read_sidecar(path)
    return bool(meta) and Path(path).is_file() and meta.get("config") == json.loads(json.dumps(config, default=str)) \
        and meta.get("complete", True)


__all__ = ["code_version", "matches", "read_sidecar", "save_artifact", "sidecar_path", "write_sidecar"]
