"""File helpers every room shares: atomic writes, content hashes, the code version.

It sits at the bottom of the import graph (it imports nothing of ours), so lut_build, emulator
and experiments all use it without climbing into one another.
"""
from .atomic import atomic_path, atomic_write_text, make_public, output_folder, no_space, remove_stale_temporaries, temp_prefix, umask
from .machine import cpu_id
from .hashing import cached_digest, md5_file, sha256_file
from .space import check_output
from .version import code_version

__all__ = ["atomic_path", "atomic_write_text", "cached_digest", "check_output", "code_version", "cpu_id", "make_public", "md5_file", "no_space", "output_folder",
           "remove_stale_temporaries", "sha256_file", "temp_prefix", "umask"]
