"""Which code made an artifact: the commit of this checkout, `-dirty` when tracked code differs from it.
A copy without git history (an exported tree on a rented GPU machine) says so through $AXX_CODE_VERSION,
which is used only where git knows no commit."""
from __future__ import annotations

import os
import subprocess
from pathlib import Path

# what the code writes, not what it is: a results page regenerated beside uncommitted results (or a
# training's committed state) was still made by the committed code
OUTPUTS = ("experiments/results", "experiments/zoo")


def _git(*args: str) -> str:
    return subprocess.run(["git", *args], capture_output=True, text=True, cwd=Path(__file__).parent,
                          timeout=10).stdout.strip()


def code_version() -> str:
    try:
        head = _git("describe", "--always")
        if not head:
            return os.environ.get("AXX_CODE_VERSION") or "unknown"
        top = _git("rev-parse", "--show-toplevel")
        changed = _git("-C", top, "status", "--porcelain", "--untracked-files=no", "--", ".",
                       *(f":(exclude){p}" for p in OUTPUTS))
        return head + ("-dirty" if changed else "")
    except (OSError, subprocess.SubprocessError):
        return os.environ.get("AXX_CODE_VERSION") or "unknown"
