"""File helpers every room shares: atomic writes, content hashes, the code version.

It sits at the bottom of the import graph (it imports nothing of ours), so lut_build, emulator
and experiments all use it without climbing into one another.
"""
from .atomic import atomic_path, atomic_write_text
from .hashing import md5_file, sha256_file
from .version import code_version

__all__ = ["atomic_path", "atomic_write_text", "code_version", "md5_file", "sha256_file"]
