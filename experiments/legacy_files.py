"""`axx convert`: rewrite a trusted file of an older or foreign format as plain data.

Checkpoints, training states and adversarial sets must hold only tensors and plain data to be
loaded (emulator.safe_load); a file pickled with other Python objects (numpy scalars, paths,
argparse namespaces, a search's dill state) is refused. This module unpickles such a file, which
EXECUTES whatever it holds, so it is only for files the user trusts; it then writes the plain
equivalent and checks that it loads safely. The original is kept beside it (`<name>.orig`).
"""
from __future__ import annotations

import argparse
import dataclasses
import enum
import pickle
import shutil
import zipfile
from collections import OrderedDict
from pathlib import Path, PurePath

import numpy as np
import torch

from emulator.safe_load import UnsafeFileError, load_plain
from .provenance import torch_save
from .search.state import STATE, convert_legacy


def to_plain(obj, where: str = "file"):
    """`obj` with every value made of tensors, numbers, strings, None, lists, tuples and dicts;
    a value that has no plain form is refused with its key path."""
    if isinstance(obj, torch.Tensor):
        return obj.detach().cpu().clone() if isinstance(obj, torch.nn.Parameter) else obj.detach().cpu()
    if isinstance(obj, np.generic):  # before float: np.float64 is a float subclass torch refuses
        return obj.item()
    if obj is None or isinstance(obj, (bool, int, float, str, bytes)):
        return type(obj)(obj) if obj is not None and type(obj) not in (bool, int, float, str, bytes) else obj
    if isinstance(obj, np.ndarray):
        if obj.dtype == object:
            return [to_plain(v, f"{where}[{i}]") for i, v in enumerate(obj.tolist())]
        return torch.from_numpy(np.ascontiguousarray(obj))
    if isinstance(obj, enum.Enum):
        return to_plain(obj.value, where)
    if isinstance(obj, PurePath):
        return str(obj)
    if isinstance(obj, torch.dtype):
        return str(obj)
    if isinstance(obj, torch.Size):
        return list(obj)
    if isinstance(obj, argparse.Namespace):
        obj = vars(obj)
    elif dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        obj = dataclasses.asdict(obj)
    if isinstance(obj, (dict, OrderedDict)):
        out = {}
        for k, v in obj.items():
            key = to_plain(k, where) if isinstance(k, (np.generic, PurePath, enum.Enum)) else k
            if not isinstance(key, (str, int)):
                raise ValueError(f"{where}: key {k!r} is a {type(k).__name__}, not a string or integer")
            out[key] = to_plain(v, f"{where}.{key}")
        return out
    if isinstance(obj, (list, tuple, set, frozenset)):
        items = [to_plain(v, f"{where}[{i}]") for i, v in enumerate(obj)]
        return tuple(items) if isinstance(obj, tuple) else items
    raise ValueError(f"{where} is a {type(obj).__module__}.{type(obj).__qualname__}, which has no plain form")


def convert_file(path: Path | str, out: Path | str | None = None, log=print) -> Path:
    """Rewrite `path` (a torch file, or a search's old `state.pkl`) as plain data. Executes the file."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"{path}: no such file")
    if not zipfile.is_zipfile(path):  # torch files are zip archives; the old search state is a dill pickle
        target = Path(out) if out else path.with_name(STATE)
        try:
            made = convert_legacy(path, target)
        except (pickle.UnpicklingError, EOFError, KeyError, TypeError, AttributeError, ImportError) as e:
            raise ValueError(f"{path} is neither a torch file nor a search state ({type(e).__name__}: {e})") from None
        log(f"wrote {made} (the search state of {path} as plain JSON; resume with `axx search --resume`)")
        return made
    try:
        load_plain(path, "file")
        log(f"{path} holds only tensors and plain data already: nothing to convert")
        return path
    except UnsafeFileError:
        pass
    try:
        obj = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as e:  # noqa: BLE001 - anything the file's own code raises
        raise ValueError(f"{path} could not be unpickled ({type(e).__name__}: {e})") from None
    plain = to_plain(obj, path.name)
    target = Path(out) if out else path
    if target == path:
        backup = path.with_name(path.name + ".orig")
        if backup.exists():
            raise ValueError(f"{backup} exists already: give --out, or move it away first")
        shutil.copy2(path, backup)
    torch_save(plain, target)
    load_plain(target, "converted file")  # what we wrote must load safely
    log(f"wrote {target} (plain data: tensors, numbers, strings, lists, dicts)"
        + (f"; the original is kept as {backup}" if target == path else ""))
    return target


__all__ = ["convert_file", "to_plain"]
