"""Content hashes of files (read in blocks by hashlib, never whole into memory)."""
from __future__ import annotations

import hashlib
from pathlib import Path


def _digest(path: Path | str, algorithm: str) -> str:
    with open(path, "rb") as f:
        return hashlib.file_digest(f, algorithm).hexdigest()


def sha256_file(path: Path | str) -> str:
    return _digest(path, "sha256")


def md5_file(path: Path | str) -> str:
    """md5: only where a published checksum is md5 (CIFAR-10's archive and batches)."""
    return _digest(path, "md5")
