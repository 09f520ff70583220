"""Fail before the work, not after it: is an output writable, and does its disk have room?"""
from __future__ import annotations

import errno
import shutil
import tempfile
from pathlib import Path

RESERVE = 16 << 20  # what we leave free on a disk beyond an output's own size
MARGIN = 1.25       # estimates of an output's size are rough


def _existing_ancestor(path: Path) -> Path:
    probe = path.resolve().parent
    while not probe.exists():
        probe = probe.parent
    return probe


def check_output(path: Path | str, need_bytes: int = 0, folder: bool = False) -> None:
    """Raise a one-line OSError when `path` (a file, or a folder with `folder`) cannot be written,
    or when its disk lacks room for about `need_bytes`. Creates nothing."""
    path = Path(path)
    if folder and path.exists() and not path.is_dir():
        raise NotADirectoryError(errno.ENOTDIR, f"cannot write into {path}: it is a file, not a folder")
    if not folder and path.is_dir():
        raise IsADirectoryError(errno.EISDIR, f"cannot write {path}: it is a folder")
    probe = path if folder and path.is_dir() else _existing_ancestor(path)
    if not probe.is_dir():
        raise NotADirectoryError(errno.ENOTDIR, f"cannot write {path}: {probe} is a file, not a folder")
    try:
        with tempfile.TemporaryFile(dir=probe):
            pass
    except OSError as e:
        if e.errno == errno.ENOSPC:
            raise OSError(errno.ENOSPC, f"no space left on {probe} (to write {path})") from None
        raise PermissionError(e.errno, f"cannot write {path}: {probe} is not writable ({e.strerror})") from None
    free = shutil.disk_usage(probe).free
    want = int(need_bytes * MARGIN) + RESERVE
    if free < want:
        raise OSError(errno.ENOSPC, f"no space left on {probe} to write {path}: it needs about "
                                    f"{want / 1e6:,.0f} MB, {free / 1e6:,.0f} MB are free")
