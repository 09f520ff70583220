"""Content hashes of files (read in blocks by hashlib, never whole into memory), cached by
(path, size, mtime) so that checking a campaign's many inputs costs a stat per file.

The cache lives in memory and in $AXX_HASH_CACHE (default ~/.cache/axx/hashes.json); a file whose
size or modification time changed is hashed again, so a stale entry is never believed.
"""
from __future__ import annotations

import hashlib
import json
import os
import threading
from pathlib import Path

_lock = threading.Lock()
_memory: dict[str, str] = {}
_loaded_from: str | None = None


def _digest(path: Path | str, algorithm: str) -> str:
    with open(path, "rb") as f:
        return hashlib.file_digest(f, algorithm).hexdigest()


def sha256_file(path: Path | str) -> str:
    return _digest(path, "sha256")


def md5_file(path: Path | str) -> str:
    """md5: only where a published checksum is md5 (CIFAR-10's archive and batches)."""
    return _digest(path, "md5")


def cache_file() -> Path:
    env = os.environ.get("AXX_HASH_CACHE")
    if env:
        return Path(env)
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "axx" / "hashes.json"


def _key(path: Path, algorithm: str) -> str:
    st = path.stat()
    return f"{algorithm}:{path.resolve()}:{st.st_size}:{st.st_mtime_ns}"


def _load(cf: Path) -> None:
    global _loaded_from
    if _loaded_from == str(cf):
        return
    _memory.clear()
    try:
        _memory.update(json.loads(cf.read_text()))
    except (OSError, ValueError):
        pass
    _loaded_from = str(cf)


def cached_digest(path: Path | str, algorithm: str = "sha256", compute=None) -> str:
    """The file's digest, from the cache when its path, size and mtime are unchanged. `compute(path)`, when
    given, makes a digest of another kind than hashlib's (then `algorithm` names that kind in the cache)."""
    from .atomic import atomic_write_text

    path = Path(path)
    key = _key(path, algorithm)
    cf = cache_file()
    with _lock:
        _load(cf)
        hit = _memory.get(key)
    if hit:
        return hit
    digest = compute(path) if compute is not None else _digest(path, algorithm)
    if _key(path, algorithm) != key:  # changed while we read it: do not cache a mixture
        return digest
    with _lock:
        _memory[key] = digest
        try:
            on_disk = json.loads(cf.read_text()) if cf.is_file() else {}
        except (OSError, ValueError):
            on_disk = {}
        on_disk[key] = digest
        # entries of files that no longer exist would only grow the cache
        live = {k: v for k, v in on_disk.items() if Path(k.split(":", 1)[1].rsplit(":", 2)[0]).exists()}
        try:
            atomic_write_text(cf, json.dumps(live) + "\n")
        except OSError:
            pass  # a read-only home: the in-memory cache still serves this process
    return digest
