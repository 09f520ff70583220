#!/usr/bin/env python3
"""Carry what a training needs to a machine with no internet, in parts of a bounded size.

A GPU machine that can reach nothing (an air-gapped cluster node, a lent accelerator whose transfers are capped)
has torch but not CIFAR-10 nor this project's lighter dependencies. `pack` writes, here:

    OUT/manifest.json          every carried file: sha256, size, codec, and its chunks' places
    OUT/part1/ ... OUT/partN/  chunks of the compressed files, each part at most --part-mib (+ the manifest)

The CIFAR-10 batches are xz-compressed with a byte-delta filter (70 % of their size, against 75 % for plain xz);
the wheels (`pip download` for the target's Python, --no-deps) travel as they are. On the other machine,
`unpack PART...` takes the parts in any order and over several calls (chunks wait in --stage); each file is
assembled as soon as all its chunks are there, checked against its sha256, and written atomically; once every wheel
is there they are installed with pip into --site (no index, no dependencies). Only the standard library is used,
so it runs on the bare target before anything is installed.

`--tables luts/marlin` carries a scheme's RTL-built table folder too (luts.npy, manifest, metrics, cost; not the
C headers): 2.8 MB compressed against 33 MB, so that `axx assess` (which needs the cost model, i.e. Yosys, and the
metrics) runs there without synthesis. `unpack --luts DIR` installs the folder in one move once all its files
are there and checked, never over a folder holding other tables.

    python3 scripts/offline_kit.py pack --data $CIFAR10_DIR --out .offline --part-mib 24 --tables luts/marlin
    python3 scripts/offline_kit.py unpack .offline/part1 --data /tmp/cifar --site /tmp/site --luts luts  # part2...
    PYTHONPATH=/tmp/site:$PWD CIFAR10_DIR=/tmp/cifar python3 -m axx.cli reproduce zoo --resume --jobs 6
"""
from __future__ import annotations

import argparse
import hashlib
import json
import lzma
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

# What the NVIDIA machines' image (torch, numpy, scipy, matplotlib, tqdm, wrapt, requests preinstalled) lacks for
# training, attacking and searching: the project's runtime needs and theirs, pinned to the versions that ran there
# (2026-11-26, Python 3.12; pymoo and torchattacks as pyproject.toml and the README pin them).
DEVICE_PACKAGES = ["cffi==2.0.0", "pycparser==3.12", "dill==0.4.1", "torchattacks==3.5.1", "pymoo==0.6.2",
                   "autograd==1.9.1", "cma==4.5.0", "alive-progress==3.3.0", "about-time==4.2.2",
                   "graphemeu==0.11.0", "deprecated==3.0.1"]
CIFAR_FILES = ["data_batch_1", "data_batch_2", "data_batch_3", "data_batch_4", "data_batch_5", "test_batch",
               "batches.meta"]
# the batches are raw pixel planes: a byte delta before LZMA2 saves 7 % of plain xz's output (21.6 against 23.2 MB)
XZ_FILTERS = [{"id": lzma.FILTER_DELTA, "dist": 1}, {"id": lzma.FILTER_LZMA2, "preset": 9}]
PLATFORMS = ["manylinux_2_28_x86_64", "manylinux_2_27_x86_64", "manylinux_2_24_x86_64", "manylinux_2_17_x86_64",
             "manylinux2014_x86_64", "manylinux1_x86_64"]


class KitError(Exception):
    pass


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _write_atomic(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        os.fchmod(fd, 0o644)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def download_wheels(packages: list[str], python: str, dest: Path) -> list[Path]:
    """Binary wheels of `packages` for CPython `python` on x86-64 Linux, without their dependencies."""
    dest.mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--only-binary=:all:", "--python-version",
           python, "--implementation", "cp", "-d", str(dest)]
    for p in PLATFORMS:
        cmd += ["--platform", p]
    r = subprocess.run(cmd + packages, capture_output=True, text=True)
    if r.returncode:
        raise KitError(f"pip download failed:\n{r.stderr.strip()}")
    return sorted(dest.glob("*.whl"))


def table_files(folder: Path) -> list[Path]:
    """What a table folder's copy needs: its top-level files (tables, manifest, metrics, cost; not the headers)."""
    if not (folder / "manifest.json").is_file():
        raise KitError(f"{folder} is not a table folder (no manifest.json): build it with `make luts`")
    return sorted(f for f in folder.iterdir() if f.is_file() and not f.name.startswith("."))


def pack(data: Path, out: Path, part_bytes: int, wheels: list[Path], files: list[str] = CIFAR_FILES,
         log=print, tables: list[Path] = ()) -> dict:
    """Compress `files` of `data` (and carry `wheels` and the table folders `tables`) into parts of at most
    `part_bytes` under `out`."""
    if part_bytes < 1024:
        raise KitError("a part must hold at least 1 KiB")
    for t in tables:
        table_files(t)
    if len({t.name for t in tables}) != len(tables):
        raise KitError("two table folders share a name: " + ", ".join(str(t) for t in tables))
    if out.exists():
        if any(out.iterdir()) and not (out / "manifest.json").is_file():
            raise KitError(f"{out} is not empty and holds no kit: give a new folder")
    missing = [f for f in files if not (data / f).is_file()]
    if missing:
        raise KitError(f"{data} lacks {', '.join(missing)}")
    if out.exists():
        shutil.rmtree(out)
    # the wheels first: the target can install them (and start its tests) while the data's parts still travel
    entries = []
    for w in wheels:
        raw = w.read_bytes()
        entries.append(({"name": w.name, "kind": "wheel", "codec": "none", "size": len(raw),
                         "sha256": _sha256(raw)}, raw))
    # then the tables (small once compressed: what `axx assess` needs there besides the data)
    for t in tables:
        for f in table_files(t):
            raw = f.read_bytes()
            blob = lzma.compress(raw, format=lzma.FORMAT_XZ, preset=6)
            entries.append(({"name": f"{t.name}/{f.name}", "kind": "table", "folder": t.name, "codec": "xz",
                             "size": len(raw), "sha256": _sha256(raw)}, blob))
        log(f"{t}: {len(table_files(t))} files")
    for name in files:
        raw = (data / name).read_bytes()
        blob = lzma.compress(raw, format=lzma.FORMAT_XZ, filters=XZ_FILTERS)
        entries.append(({"name": name, "kind": "data", "codec": "xz", "size": len(raw), "sha256": _sha256(raw)},
                        blob))
        log(f"{name}: {len(raw):,} -> {len(blob):,} bytes")
    # fill the parts in order, splitting a file's bytes across as many as it takes
    part, room, manifest = 1, part_bytes, {"version": 1, "parts": 0, "files": []}
    for meta, blob in entries:
        meta["chunks"] = []
        off = 0
        while off < len(blob):
            if room == 0:
                part, room = part + 1, part_bytes
            n = min(room, len(blob) - off)
            chunk = f"{meta['name'].replace('/', '__')}.{len(meta['chunks']):03d}"
            _write_atomic(out / f"part{part}" / chunk, blob[off:off + n])
            meta["chunks"].append({"part": part, "file": chunk, "size": n, "sha256": _sha256(blob[off:off + n])})
            off, room = off + n, room - n
        manifest["files"].append(meta)
    manifest["parts"] = part
    text = json.dumps(manifest, indent=1) + "\n"
    _write_atomic(out / "manifest.json", text.encode())
    for p in range(1, part + 1):
        _write_atomic(out / f"part{p}" / "manifest.json", text.encode())
    return manifest


def _install_tables(name: str, files: list[dict], staged: Path, root: Path, log) -> None:
    """Move the assembled table folder `staged` to root/name in one step: a reader sees the whole folder or
    none of it. Never over a folder that holds other tables (the same tables built from the model are replaced:
    the kit's add the metrics and cost)."""
    dest = root / name
    if all((dest / f["name"].split("/", 1)[1]).is_file()
           and _sha256((dest / f["name"].split("/", 1)[1]).read_bytes()) == f["sha256"] for f in files):
        return
    if dest.exists():
        ours = json.loads((staged / "manifest.json").read_text()).get("luts_sha256")
        try:
            theirs = json.loads((dest / "manifest.json").read_text()).get("luts_sha256")
        except (OSError, ValueError):
            theirs = None
        if theirs != ours:
            raise KitError(f"{dest} holds other tables than the kit's {name} (or no manifest): move it away first")
    root.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=root, prefix=f".{name}."))
    for f in files:
        shutil.copy2(staged / f["name"].split("/", 1)[1], tmp / f["name"].split("/", 1)[1])
    os.chmod(tmp, 0o755)
    old = root / f".{name}.old"
    if dest.exists():
        shutil.rmtree(old, ignore_errors=True)
        os.replace(dest, old)
    os.replace(tmp, dest)
    shutil.rmtree(old, ignore_errors=True)
    log(f"{dest}: {len(files)} table files, sha256 checked")


def unpack(parts: list[Path], data: Path, stage: Path, site: Path | None, log=print,
           luts: Path | None = None) -> bool:
    """Stage the chunks of `parts`, assemble every file whose chunks are all staged; True when all are done.
    Table folders go under `luts` (skipped, with a word, when it is None)."""
    manifest = None
    for p in parts:
        mf = p / "manifest.json"
        if not mf.is_file():
            raise KitError(f"{p} is not a part of an offline kit (no manifest.json)")
        m = json.loads(mf.read_text())
        if manifest is not None and m != manifest:
            raise KitError(f"{p} belongs to another kit than {parts[0]}")
        manifest = m
        for f in m["files"]:
            for c in f["chunks"]:
                src = p / c["file"]
                if src.is_file() and not (stage / c["file"]).is_file():
                    body = src.read_bytes()
                    if len(body) != c["size"] or _sha256(body) != c["sha256"]:
                        raise KitError(f"{src} is damaged (its size or sha256 differs from the manifest)")
                    _write_atomic(stage / c["file"], body)
    assert manifest is not None
    wheels_dir = stage / "wheels"
    waiting: dict[str, str] = {}
    spoilt: list[str] = []  # the other files are still assembled: a later call needs only the named parts
    for f in manifest["files"]:
        dest = {"data": data, "wheel": wheels_dir}.get(f["kind"], stage / "tables") / f["name"]
        # every CIFAR-10 batch has the same size: only the content says a file there is this one
        if dest.is_file() and dest.stat().st_size == f["size"] and _sha256(dest.read_bytes()) == f["sha256"]:
            continue
        if not all((stage / c["file"]).is_file() for c in f["chunks"]):
            waiting[f["name"]] = ", ".join(str(n) for n in sorted({c["part"] for c in f["chunks"]}))
            continue
        blob = b"".join((stage / c["file"]).read_bytes() for c in f["chunks"])
        try:
            raw = lzma.decompress(blob) if f["codec"] == "xz" else blob
        except lzma.LZMAError:
            raw = b""
        if _sha256(raw) != f["sha256"]:
            # staged chunks changed on disk since they were checked: drop them, so that unpacking their parts
            # again stages good copies
            for c in f["chunks"]:
                (stage / c["file"]).unlink(missing_ok=True)
            parts_of = ", ".join(str(n) for n in sorted({c["part"] for c in f["chunks"]}))
            spoilt.append(f"{f['name']}: the assembled file differs from the manifest; its chunks were dropped "
                          f"from {stage}: unpack part {parts_of} again")
            continue
        _write_atomic(dest, raw)
        log(f"{dest}: {len(raw):,} bytes, sha256 checked")
    if spoilt:
        raise KitError("; ".join(spoilt))
    folders: dict[str, list[dict]] = {}
    for f in manifest["files"]:
        if f["kind"] == "table":
            folders.setdefault(f["folder"], []).append(f)
    for name, files in folders.items():
        if any(f["name"] in waiting for f in files):
            continue
        if luts is None:
            log(f"table folder {name}: not installed (give --luts)")
            continue
        _install_tables(name, files, stage / "tables" / name, luts, log)
    wheels = [f for f in manifest["files"] if f["kind"] == "wheel"]
    if site is not None and wheels and not any(w["name"] in waiting for w in wheels):
        stamp = site / ".offline_kit"
        names = sorted(w["sha256"] for w in wheels)
        if not stamp.is_file() or stamp.read_text() != "\n".join(names):
            r = subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-index", "--no-deps",
                                "--no-compile", "--no-cache-dir", "--upgrade", "--target", str(site)]
                               + [str(wheels_dir / w["name"]) for w in wheels], capture_output=True, text=True)
            if r.returncode:
                raise KitError(f"pip install failed:\n{r.stderr.strip()}")
            _write_atomic(stamp, "\n".join(names).encode())
            log(f"installed {len(wheels)} wheels into {site}")
    if waiting:
        log("waiting for: " + "; ".join(f"{n} (part {p})" for n, p in waiting.items()))
        return False
    log(f"complete: {len(manifest['files'])} files")
    return True


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("pack", help="compress the data (and download the wheels) into parts")
    p.add_argument("--data", type=Path, default=os.environ.get("CIFAR10_DIR"),
                   help="the CIFAR-10 batches' folder (default $CIFAR10_DIR)")
    p.add_argument("--out", type=Path, default=Path(".offline"), help="the kit's folder (replaced)")
    p.add_argument("--part-mib", type=float, default=24.0,
                   help="most MiB per part: the transfer cap less what travels beside each part (default 24)")
    p.add_argument("--python", default="3.12", help="the target's Python version, for the wheels (default 3.12)")
    p.add_argument("--no-wheels", action="store_true", help="carry no wheels")
    p.add_argument("--tables", type=Path, action="append", default=[],
                   help="a scheme's table folder to carry too, e.g. luts/marlin (repeatable; headers left out)")
    p.add_argument("--packages", nargs="*", default=DEVICE_PACKAGES,
                   help="wheels to carry (default: what the NVIDIA image lacks)")
    u = sub.add_parser("unpack", help="assemble, check and install what the given parts complete")
    u.add_argument("parts", nargs="+", type=Path)
    u.add_argument("--data", type=Path, required=True, help="where the CIFAR-10 batches go")
    u.add_argument("--stage", type=Path, default=Path(tempfile.gettempdir()) / "offline_kit_stage",
                   help="where chunks wait for their file's other parts")
    u.add_argument("--site", type=Path, help="install the wheels here (pip --target), once all are there")
    u.add_argument("--luts", type=Path, help="put the carried table folders here (e.g. luts, the checkout's)")
    a = ap.parse_args(argv)
    try:
        if a.cmd == "pack":
            if a.data is None:
                raise KitError("give --data or set CIFAR10_DIR")
            with tempfile.TemporaryDirectory() as tmp:
                wheels = [] if a.no_wheels else download_wheels(a.packages, a.python, Path(tmp))
                m = pack(a.data, a.out, int(a.part_mib * 2**20), wheels, tables=a.tables)
            total = sum(c["size"] for f in m["files"] for c in f["chunks"])
            print(f"{a.out}: {len(m['files'])} files, {total / 2**20:.1f} MiB in {m['parts']} parts")
            return 0
        return 0 if unpack(a.parts, a.data, a.stage, a.site, luts=a.luts) else 3
    except KitError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
