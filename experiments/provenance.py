"""Artifacts with JSON sidecars, and skipping by content.

A sidecar records the config an artifact was made with, the code version, metrics, the sha256 of
the artifact itself, and the digest of every input it was made from (checkpoints, adversarial sets
and LUT tables by sha256, CIFAR-10 batches by the sha256 of their labels and pixels, whatever file layout holds
them: see `data.CONTENT_SHA256`). A step is skipped only when its config, its
inputs' digests and its own file's digest all match (`stale_reason` says why not otherwise), so a
rerun after one model was retrained redoes exactly what depends on it, and a truncated artifact
whose sidecar survived is redone instead of read. Digests are cached by (path, size, mtime).
"""
from __future__ import annotations

import datetime as _dt
import hashlib
import json
import platform
from pathlib import Path

import torch

from fileio import atomic_path, atomic_write_text, cached_digest, code_version


def sidecar_path(path: Path | str) -> Path:
    return Path(str(path) + ".json")


def _data_digest(role: str, path: Path) -> dict:
    """A CIFAR-10 batch: its file's md5 (what the published checksums are) and the sha256 of its labels and
    pixels (what makes two copies the same data). A missing official batch is downloaded from the md5-checked
    archive before anything reads it, so it is recorded with the official content it will hold."""
    from .data import CONTENT_SHA256, batch_digest

    if not path.is_file():
        official = CONTENT_SHA256.get(role.removeprefix("data:"))
        return {"path": str(path), "md5": "missing", "content_sha256": official or "missing"}
    return {"path": str(path), **batch_digest(path)}


def digest_inputs(inputs: dict | None) -> dict:
    """{role: path} -> {role: {"path", "sha256"}}; roles starting with "data:" are CIFAR-10 batches (see
    `_data_digest`). A missing input is recorded as missing."""
    out = {}
    for role, path in (inputs or {}).items():
        if path is None:
            continue
        p = Path(path)
        if role.startswith("data:"):
            out[role] = _data_digest(role, p)
        else:
            out[role] = {"path": str(path), "sha256": cached_digest(p) if p.is_file() else "missing"}
    return out


def lut_tables(scheme: str = "marlin") -> Path:
    """The table file an approx model of `scheme` reads (an input of everything approx), built from the
    behavioural model when absent, as the model will be: a new checkout without `make luts` then holds the very
    bytes its approx models were made from (RTL and model tables are equal), and they are skipped, not retrained
    for "a lut that is missing"."""
    from lut_build.artifacts import ensure_luts

    return ensure_luts(scheme) / "luts.npy"


def torch_save(obj, path: Path | str) -> None:
    """torch.save `obj` atomically, as the same bytes for the same data wherever and whenever it is written.
    Given a path, torch names the zip's inner folder after the file, here a temporary with a PID and a random
    suffix: every save of equal data had another sha256, so nothing made again (an adversarial set on the next
    machine) could match what was made from the first; given an open file it writes the fixed name 'archive'."""
    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        torch.save(obj, f)


def save_artifact(obj, path: Path | str, meta: dict, inputs: dict | None = None) -> None:
    """torch.save `obj` atomically (`torch_save`), then its sidecar (config, code version, metrics, date,
    digests)."""
    path = Path(path)
    torch_save(obj, path)
    write_sidecar(path, meta, inputs)


def content(digest: dict) -> dict:
    """An input's digest without where it lay: what makes two inputs the same on any machine."""
    return {k: v for k, v in digest.items() if k != "path"}


def _data_id(digest: dict) -> str | None:
    """A CIFAR-10 batch's content digest: recorded, or known from the md5 that sidecars of earlier versions hold."""
    from .data import CONTENT_SHA256, KNOWN_MD5

    if "content_sha256" in digest:
        return digest["content_sha256"]
    name = KNOWN_MD5.get(digest.get("md5"))
    return CONTENT_SHA256[name] if name else None


def same_content(was: dict, now: dict) -> bool:
    """Whether two digests of an input describe the same content, wherever it lay: CIFAR-10 batches by their
    labels and pixels (the official files and copies without their `filenames` entry are the same data)."""
    a, b = content(was or {}), content(now or {})
    ia, ib = _data_id(a), _data_id(b)
    if ia is not None and ib is not None:
        return ia == ib
    if "md5" in a and "md5" in b:  # a batch of unknown content recorded by an earlier version: its file
        return a["md5"] == b["md5"]
    return a == b


def content_key(digest: dict) -> str | None:
    """A string that two digests share when `same_content` calls them the same (for looking inputs up by
    content); None for a missing or unreadable input."""
    c = content(digest or {})
    if "missing" in (c.get("sha256"), c.get("content_sha256"), c.get("md5")) or c.get("content_sha256") == "unreadable":
        return None
    i = _data_id(c)
    if i is not None:
        return f"data {i}"
    if "md5" in c:
        return f"md5 {c['md5']}"
    return f"sha256 {c['sha256']}" if "sha256" in c else None


def same_inputs(was: dict, now: dict) -> bool:
    """{role: digest} twice: the same roles, each of the same content."""
    was, now = was or {}, now or {}
    return set(was) == set(now) and all(same_content(was[r], now[r]) for r in was)


# Inputs that a step makes again, to the same recipe, where they are missing: adversarial sets (large, not
# committed, remade on each machine). A result records their recipes, so that it stays up to date on a machine
# that lacks them while the recipe that made them is unchanged (`stale_reason`'s `standins`); trained models are
# committed instead (a training is not repeatable across machines).
REMADE_ROLES = ("adversarial set",)


def recipe_key(config: dict, digests: dict) -> str:
    """What makes an artifact what it is, wherever it is made: its configuration and the content of its inputs
    (`digest_inputs` form), as one sha256. A set's sidecar gives it (`recipe_of`) and so does the step that would
    make the set, before the set exists."""
    body = {"config": _plain(config), "inputs": {r: content_key(d) for r, d in sorted((digests or {}).items())}}
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()


def recipe_of(path: Path | str) -> str | None:
    """The recipe key of a complete artifact, from its sidecar (None without one)."""
    meta = read_sidecar(path)
    if meta is None or not meta.get("complete", True) or "config" not in meta or "inputs" not in meta:
        return None
    return recipe_key(meta["config"], meta["inputs"])


def input_recipes(inputs: dict | None) -> dict:
    """{role: recipe key} of the inputs of a REMADE_ROLES kind that exist, with their sidecars."""
    out = {}
    for role, path in (inputs or {}).items():
        if path is not None and role.startswith(REMADE_ROLES) and Path(path).is_file():
            key = recipe_of(path)
            if key is not None:
                out[role] = key
    return out


def write_sidecar(path: Path | str, meta: dict, inputs: dict | None = None) -> None:
    full = {"code_version": code_version(), "date": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
            "host": platform.node(), "torch": torch.__version__, **meta}
    if inputs is not None:
        full["inputs"] = digest_inputs(inputs)
        recipes = input_recipes(inputs)
        if recipes:
            full["recipes"] = recipes
    if Path(path).is_file():
        full["sha256"] = cached_digest(path)
    atomic_write_text(sidecar_path(path), json.dumps(full, indent=2, default=str) + "\n")


def record_recipes(path: Path | str, inputs: dict) -> bool:
    """Add the recipes of its REMADE_ROLES inputs to the sidecar of a result made before sidecars recorded them.
    Only for a result that is up to date with those very inputs here (the caller checks `stale_reason`); the
    result and everything its sidecar checks stay as they were. True when the sidecar changed."""
    meta = read_sidecar(path)
    if meta is None:
        return False
    have = meta.get("recipes") or {}
    new = {r: k for r, k in input_recipes(inputs).items() if r not in have}
    if not new:
        return False
    meta["recipes"] = {**have, **new}
    atomic_write_text(sidecar_path(path), json.dumps(meta, indent=2, default=str) + "\n")
    return True


def read_sidecar(path: Path | str) -> dict | None:
    p = sidecar_path(path)
    if not p.is_file():
        return None
    try:
        meta = json.loads(p.read_text())
    except (OSError, json.JSONDecodeError, UnicodeDecodeError):
        return None
    return meta if isinstance(meta, dict) else None


def is_complete(path: Path | str) -> bool:
    """`path` exists and is what its sidecar says a finished run wrote (a file whose run was killed before
    its sidecar, or that changed since, is not)."""
    meta = read_sidecar(path)
    return (Path(path).is_file() and meta is not None and bool(meta.get("complete", True))
            and meta.get("sha256") == cached_digest(path))


def _plain(config: dict) -> dict:
    return json.loads(json.dumps(config, default=str))


def stale_reason(path: Path | str, config: dict, inputs: dict | None = None,
                 standins: dict | None = None) -> str | None:
    """None when `path` is complete and was made with exactly this config from inputs with these
    contents; otherwise why it must be (re)made, in a few words. `standins` ({role: recipe key}): inputs that
    may be missing here, made again to that recipe where needed; one that is missing counts as the same input
    when the sidecar records that very recipe for it (REMADE_ROLES)."""
    path = Path(path)
    if not path.is_file():
        return "does not exist"
    meta = read_sidecar(path)
    if meta is None:
        return f"has no readable sidecar ({sidecar_path(path).name})"
    if not meta.get("complete", True):
        return "is incomplete (its run was interrupted)"
    old = meta.get("config")
    new = _plain(config)
    if old != new:
        keys = sorted(k for k in set(old or {}) | set(new) if (old or {}).get(k) != new.get(k))
        return f"was made with another configuration (differs in {', '.join(keys) or 'its layout'})"
    if not meta.get("sha256"):
        return "has a sidecar of an older version (without the file's sha256): it cannot be checked"
    if meta.get("sha256") != cached_digest(path):
        return "changed since it was made (its sha256 differs from its sidecar's: damaged or replaced)"
    was = meta.get("inputs", {})
    recorded = meta.get("recipes") or {}
    for role, now in digest_inputs(inputs).items():
        if (now.get("sha256") == "missing" and role in (standins or {}) and standins[role] is not None
                and recorded.get(role) == standins[role]):
            continue
        # by content only: the same zoo and data under other paths (another machine) still match
        if not same_content(was.get(role, {}), now):
            if "missing" in (now.get("sha256"), now.get("content_sha256")):
                return f"was made from a {role} that is missing now ({now['path']})"
            if now.get("content_sha256") == "unreadable":
                return f"was made from another {role} ({now['path']} is not a readable CIFAR-10 batch)"
            return f"was made from another {role} ({now['path']} changed since)"
    return None


def up_to_date(path: Path | str, config: dict, inputs: dict | None = None, log=print) -> bool:
    """True (and says so) when `path` can be skipped; otherwise says why it is (re)made."""
    why = stale_reason(path, config, inputs)
    if why is None:
        log(f"{path} is up to date (same configuration and inputs): skipped")
        return True
    if why != "does not exist":
        log(f"{path} {why}: making it again")
    return False


def matches(path: Path | str, config: dict, inputs: dict | None = None) -> bool:
    return stale_reason(path, config, inputs) is None


__all__ = ["REMADE_ROLES", "code_version", "content", "content_key", "digest_inputs", "input_recipes", "lut_tables",
           "matches", "read_sidecar", "recipe_key", "recipe_of", "record_recipes", "same_content", "same_inputs",
           "save_artifact", "sidecar_path", "stale_reason", "torch_save", "up_to_date", "write_sidecar"]
