"""Atomic writes: a reader sees the old file or the new one, never half of either.

Temporaries are named `.<name>.<pid>.<random>.tmp` beside their target, so that a later run can
tell ours from a user's files and remove those whose process is gone (a killed run leaves
nothing behind for long). What lands in place gets the permissions the user's umask gives a new
file (mkstemp/mkdtemp would leave it private to the owner).
"""
from __future__ import annotations

import contextlib
import errno
import os
import re
import shutil
import tempfile
import threading
from pathlib import Path
from typing import Iterator

_umask_lock = threading.Lock()


def umask() -> int:
    with _umask_lock:
        mask = os.umask(0)
        os.umask(mask)
    return mask


def temp_prefix(name: str) -> str:
    return f".{name}.{os.getpid()}."


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_stale_temporaries(folder: Path | str, name: str) -> list[Path]:
    """Remove the temporaries of `name` in `folder` left by processes that no longer exist."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    pat = re.compile(rf"^\.{re.escape(name)}\.(\d+)\.")
    gone = []
    for p in folder.iterdir():
        m = pat.match(p.name)
        if m and int(m.group(1)) != os.getpid() and not _alive(int(m.group(1))):
            if p.is_dir() and not p.is_symlink():
                shutil.rmtree(p, ignore_errors=True)
            else:
                with contextlib.suppress(FileNotFoundError):
                    p.unlink()
            gone.append(p)
    return gone


def make_public(path: Path | str, directory: bool = False) -> None:
    """Give a temporary the mode a plainly created file (or folder) would have under the umask."""
    os.chmod(path, (0o777 if directory else 0o666) & ~umask())


def no_space(path: Path | str, e: BaseException | None = None) -> OSError:
    """The one error for a full disk, naming the file being written."""
    return OSError(errno.ENOSPC, f"no space left on {Path(path).parent} (writing {Path(path).name})")


def _is_enospc(e: BaseException) -> bool:
    return (isinstance(e, OSError) and e.errno == errno.ENOSPC) or "No space left" in str(e) \
        or "file write failed" in str(e)


@contextlib.contextmanager
def atomic_path(path: Path | str) -> Iterator[Path]:
    """Yield a temporary path beside `path`; rename it onto `path` only on success. A full disk
    comes out as OSError(ENOSPC, "no space left on <folder>")."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(path.parent, path.name)
    fd, tmp = tempfile.mkstemp(prefix=temp_prefix(path.name), suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        try:
            yield Path(tmp)
        except (OSError, RuntimeError) as e:
            if _is_enospc(e):
                raise no_space(path) from None
            raise
        make_public(tmp)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


@contextlib.contextmanager
def output_folder(path: Path | str) -> Iterator[Path]:
    """Create `path` (and missing parents) for a run; if the run fails and leaves what it created
    empty, remove it again, so a failed command leaves no trace."""
    path = Path(path)
    created = []
    p = path
    while not p.exists():
        created.append(p)
        p = p.parent
    path.mkdir(parents=True, exist_ok=True)
    try:
        yield path
    except BaseException:
        for d in created:  # innermost first
            with contextlib.suppress(OSError):
                d.rmdir()  # only succeeds when empty
        raise


def atomic_write_text(path: Path | str, text: str) -> None:
    with atomic_path(path) as tmp:
        Path(tmp).write_text(text)
