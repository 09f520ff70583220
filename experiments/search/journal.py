"""The genomes of the generation under way, kept as they are evaluated.

A search saves its whole state once per generation (state.py); on one thread of a laptop-class CPU a
generation of ResNet-32 genomes takes 13-20 minutes, and every stop (a session's end, a kill, a reboot)
lost the generation under way. Each genome evaluated since the last saved generation is appended here as
one JSON line, flushed to disk; a resume takes them back instead of evaluating them again (pymoo, restored
with its RNG, proposes the same genomes), so a stop loses one genome at most. The first line names the
search (its identity and its inputs' contents): a journal of another search, or of other inputs, is not
read. A torn last line (killed while writing) is ignored. The file is removed once its generation is in the
saved state.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

from ..provenance import same_content

JOURNAL = "generation.jsonl"
FORMAT = "axx-search-journal/1"


class Journal:
    """`path`'s journal for the search named by `identity` (state.identity_json) with `inputs`
    (provenance.digest_inputs)."""

    def __init__(self, path: Path | str, identity: dict, inputs: dict):
        self.path, self.identity, self.inputs = Path(path), identity, inputs

    def pending(self, generation: int) -> dict[tuple, dict]:
        """The genomes journaled for `generation` (the problem's count of evaluation rounds, 1 for the initial
        population) by this search on these inputs: {levels: result}; {} for any other journal."""
        try:
            lines = self.path.read_text().splitlines()
        except OSError:
            return {}
        try:
            head = json.loads(lines[0]) if lines else {}
        except ValueError:
            return {}
        if (not isinstance(head, dict) or head.get("format") != FORMAT or head.get("config") != self.identity
                or set(head.get("inputs") or {}) != set(self.inputs)
                or not all(same_content(d, self.inputs[r]) for r, d in head["inputs"].items())):
            return {}
        out = {}
        for line in lines[1:]:
            try:
                e = json.loads(line)
                if e["generation"] == generation:
                    out[tuple(int(v) for v in e["levels"])] = dict(e["result"])
            except (ValueError, KeyError, TypeError):
                continue  # a line torn by a kill
        return out

    def add(self, generation: int, levels, result: dict) -> None:
        """Append one evaluated genome (the first one of a journal writes its header line)."""
        new = not self.path.is_file() or self.path.stat().st_size == 0
        with open(self.path, "a") as f:
            if new:
                f.write(json.dumps({"format": FORMAT, "config": self.identity, "inputs": self.inputs}) + "\n")
            f.write(json.dumps({"generation": int(generation), "levels": [int(v) for v in levels],
                                "result": {k: v for k, v in result.items() if k in ("adv", "std", "seconds")}})
                    + "\n")
            f.flush()
            os.fsync(f.fileno())

    def clear(self) -> None:
        self.path.unlink(missing_ok=True)


def genomes_journaled(path: Path | str) -> int:
    """How many genomes a journal holds, whichever search wrote it (what a dry run reports; whether they
    are taken back is decided when the search resumes, by Journal.pending): its lines after the header that
    parse (a torn last line does not count)."""
    try:
        lines = Path(path).read_text().splitlines()[1:]
    except OSError:
        return 0
    n = 0
    for line in lines:
        try:
            n += isinstance(json.loads(line), dict)
        except ValueError:
            continue
    return n


__all__ = ["JOURNAL", "Journal", "genomes_journaled"]
