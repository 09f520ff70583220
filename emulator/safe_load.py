"""Reading torch files a user may have been handed (checkpoints, training states, adversarial sets)
without running code from them: only tensors and plain data (numbers, strings, lists, tuples,
dicts) are admitted, as PyTorch's `weights_only=True` does. Anything else is refused with one line
that names the file and `axx convert`, which rewrites a trusted file as plain data.
"""
from __future__ import annotations

import pickle
import re
import zipfile
from pathlib import Path
from typing import Any

import torch


class UnsafeFileError(ValueError):
    """The file holds Python objects whose loading could execute code."""


def load_plain(path: Path | str, what: str = "checkpoint") -> Any:
    """torch.load with weights_only=True, and every failure as a ValueError naming `path`."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"{path}: no such {what} file" if not path.exists() else f"{path} is not a file")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as e:
        m = re.search(r"Unsupported global: GLOBAL (\S+)", str(e))
        if m:
            raise UnsafeFileError(
                f"{path} holds Python objects besides tensors and plain data ({m.group(1)}), and loading it could "
                f"run code: refused. If you trust where it came from, `axx convert {path}` rewrites it as plain "
                "data") from None
        raise ValueError(f"{path} is not a readable {what} (not a torch file)") from None
    except (EOFError, KeyError, RuntimeError, zipfile.BadZipFile, UnicodeDecodeError, ValueError) as e:
        # a text file ends in KeyError (the legacy loader's magic number), a cut one in RuntimeError
        why = "empty or cut short" if isinstance(e, (EOFError, RuntimeError)) else "not a torch file"
        raise ValueError(f"{path} is not a readable {what} ({why})") from None
    except OSError as e:
        raise ValueError(f"{path}: cannot read the {what} ({e.strerror or e})") from None


__all__ = ["UnsafeFileError", "load_plain"]
