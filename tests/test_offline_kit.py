"""scripts/offline_kit.py: what goes in comes out byte for byte, over parts unpacked one call at a time and in
any order; a damaged chunk or a foreign part is refused; a non-kit folder is never deleted."""
import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SCRIPT = REPO / "scripts" / "offline_kit.py"
spec = importlib.util.spec_from_file_location("offline_kit", SCRIPT)
kit = importlib.util.module_from_spec(spec)
spec.loader.exec_module(kit)

FILES = ["data_batch_1", "test_batch", "batches.meta"]


@pytest.fixture
def data(tmp_path: Path) -> Path:
    d = tmp_path / "cifar"
    d.mkdir()
    rng = __import__("numpy").random.default_rng(0)
    # image-like bytes (smooth rows) so the delta filter has something to find, and one incompressible file
    (d / "data_batch_1").write_bytes(bytes(int(v) % 256 for v in rng.integers(0, 4, 60_000).cumsum()))
    (d / "test_batch").write_bytes(rng.bytes(50_000))
    (d / "batches.meta").write_bytes(b"meta")
    return d


def test_parts_rebuild_every_file_in_any_order(data: Path, tmp_path: Path) -> None:
    out = tmp_path / "kit"
    m = kit.pack(data, out, 16 * 1024, [], files=FILES, log=lambda *a: None)
    assert m["parts"] >= 4
    for p in range(1, m["parts"] + 1):
        part = out / f"part{p}"
        assert sum(f.stat().st_size for f in part.iterdir() if f.name != "manifest.json") <= 16 * 1024
    dest, stage, said = tmp_path / "got", tmp_path / "stage", []
    order = list(range(m["parts"], 0, -1))
    for i, p in enumerate(order):
        done = kit.unpack([out / f"part{p}"], dest, stage, None, log=said.append)
        assert done == (i == len(order) - 1)
    for f in FILES:
        assert (dest / f).read_bytes() == (data / f).read_bytes()
    assert "complete: 3 files" in said[-1]
    # again: nothing to do, still complete
    assert kit.unpack([out / "part1"], dest, stage, None, log=lambda *a: None)
    # a file of the same size but other content in the destination is replaced, not taken for the kit's
    (dest / "test_batch").write_bytes(bytes(len((data / "test_batch").read_bytes())))
    assert kit.unpack([out / "part1"], dest, stage, None, log=lambda *a: None)
    assert (dest / "test_batch").read_bytes() == (data / "test_batch").read_bytes()


def test_damaged_chunk_and_foreign_part_are_refused(data: Path, tmp_path: Path) -> None:
    out, other = tmp_path / "kit", tmp_path / "other"
    kit.pack(data, out, 16 * 1024, [], files=FILES, log=lambda *a: None)
    kit.pack(data, other, 32 * 1024, [], files=FILES, log=lambda *a: None)
    chunk = next(f for f in (out / "part1").iterdir() if f.name != "manifest.json")
    chunk.write_bytes(b"x" + chunk.read_bytes()[1:])
    with pytest.raises(kit.KitError, match="damaged"):
        kit.unpack([out / "part1"], tmp_path / "got", tmp_path / "stage", None, log=lambda *a: None)
    with pytest.raises(kit.KitError, match="another kit"):
        kit.unpack([out / "part2", other / "part1"], tmp_path / "got", tmp_path / "stage", None,
                   log=lambda *a: None)


def test_a_chunk_spoilt_in_the_stage_is_dropped_and_asked_for_again(data: Path, tmp_path: Path) -> None:
    out, stage, dest = tmp_path / "kit", tmp_path / "stage", tmp_path / "got"
    m = kit.pack(data, out, 16 * 1024, [], files=FILES, log=lambda *a: None)
    first = m["files"][0]
    kit.unpack([out / "part1"], dest, stage, None, log=lambda *a: None)
    (stage / first["chunks"][0]["file"]).write_bytes(b"spoilt")
    parts = [out / f"part{p}" for p in range(2, m["parts"] + 1)]
    with pytest.raises(kit.KitError, match="unpack part 1"):
        kit.unpack(parts, dest, stage, None, log=lambda *a: None)
    assert not (stage / first["chunks"][0]["file"]).exists()
    again = sorted({c["part"] for c in first["chunks"]})
    assert kit.unpack([out / f"part{p}" for p in again], dest, stage, None, log=lambda *a: None)
    assert (dest / first["name"]).read_bytes() == (data / first["name"]).read_bytes()


def test_cli_errors_are_one_line_and_keep_foreign_folders(data: Path, tmp_path: Path) -> None:
    keep = tmp_path / "mine"
    keep.mkdir()
    (keep / "notes.txt").write_text("precious")
    env = {k: v for k, v in os.environ.items() if k != "CIFAR10_DIR"}
    r = subprocess.run([sys.executable, str(SCRIPT), "pack", "--data", str(data), "--out", str(keep),
                        "--no-wheels"], capture_output=True, text=True, env=env)
    assert r.returncode == 2 and "holds no kit" in r.stderr and (keep / "notes.txt").read_text() == "precious"
    r = subprocess.run([sys.executable, str(SCRIPT), "pack", "--out", str(tmp_path / "k"), "--no-wheels"],
                       capture_output=True, text=True, env=env)
    assert r.returncode == 2 and "CIFAR10_DIR" in r.stderr
    r = subprocess.run([sys.executable, str(SCRIPT), "unpack", str(tmp_path), "--data", str(tmp_path / "d")],
                       capture_output=True, text=True, env=env)
    assert r.returncode == 2 and "not a part of an offline kit" in r.stderr
    r = subprocess.run([sys.executable, str(SCRIPT), "pack", "--data", str(tmp_path), "--out",
                        str(tmp_path / "k"), "--no-wheels"], capture_output=True, text=True, env=env)
    assert r.returncode == 2 and "lacks data_batch_1" in r.stderr


def _wheel(where: Path, name: str) -> Path:
    """A minimal pure-Python wheel (what pip needs to install one offline)."""
    import zipfile
    path = where / f"{name}-0.1-py3-none-any.whl"
    info = f"{name}-0.1.dist-info"
    files = {f"{name}/__init__.py": "VALUE = 42\n",
             f"{info}/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: 0.1\n",
             f"{info}/WHEEL": "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n"}
    files[f"{info}/RECORD"] = "".join(f"{k},,\n" for k in files) + f"{info}/RECORD,,\n"
    with zipfile.ZipFile(path, "w") as z:
        for k, v in files.items():
            z.writestr(k, v)
    return path


def test_wheels_travel_first_and_install_once_complete(data: Path, tmp_path: Path) -> None:
    wheel = _wheel(tmp_path, "kitprobe")
    out, site = tmp_path / "kit", tmp_path / "site"
    m = kit.pack(data, out, 16 * 1024, [wheel], files=FILES, log=lambda *a: None)
    assert [c["part"] for c in m["files"][0]["chunks"]] == [1] and m["files"][0]["kind"] == "wheel"
    said: list = []
    assert not kit.unpack([out / "part1"], tmp_path / "got", tmp_path / "stage", site, log=said.append)
    assert any("installed 1 wheels" in s for s in said)
    r = subprocess.run([sys.executable, "-c", "import kitprobe; print(kitprobe.VALUE)"], capture_output=True,
                       text=True, env={**os.environ, "PYTHONPATH": str(site)})
    assert r.stdout.strip() == "42"
    said.clear()
    parts = [out / f"part{p}" for p in range(2, m["parts"] + 1)]
    assert kit.unpack(parts, tmp_path / "got", tmp_path / "stage", site, log=said.append)
    assert not any("installed" in s for s in said)  # already there: not installed again


def _tables(where: Path, sha: str) -> Path:
    """A table folder as `make luts` leaves it (a manifest naming the tables' sha256, metrics, cost, headers)."""
    import json
    d = where / "marlin"
    (d / "headers").mkdir(parents=True)
    (d / "luts.npy").write_bytes(__import__("numpy").random.default_rng(1).bytes(10_000))  # spans parts
    (d / "manifest.json").write_text(json.dumps({"scheme": "marlin", "luts_sha256": sha}))
    (d / "metrics.csv").write_text("level,mred\n0,0\n")
    (d / "cost.csv").write_text("level,power_proxy\n0,1\n")
    (d / "headers" / "level_0.h").write_text("/* not carried */")
    return d


def test_a_table_folder_travels_whole_and_never_over_other_tables(data: Path, tmp_path: Path) -> None:
    src = _tables(tmp_path / "src", "abc")
    out, stage, luts = tmp_path / "kit", tmp_path / "stage", tmp_path / "repo" / "luts"
    m = kit.pack(data, out, 4 * 1024, [], files=FILES, log=lambda *a: None, tables=[src])
    kinds = [f["kind"] for f in m["files"]]
    assert kinds[:4] == ["table"] * 4 and "marlin/level_0.h" not in {f["name"] for f in m["files"]}
    table_parts = sorted({c["part"] for f in m["files"] if f["kind"] == "table" for c in f["chunks"]})
    assert len(table_parts) >= 2  # the folder spans parts: it must not appear before its last file is there
    said: list = []
    kit.unpack([out / f"part{table_parts[0]}"], tmp_path / "got", stage, None, log=said.append, luts=luts)
    assert not (luts / "marlin").exists()
    rest = [out / f"part{p}" for p in range(1, m["parts"] + 1) if p != table_parts[0]]
    assert kit.unpack(rest, tmp_path / "got", stage, None, log=said.append, luts=luts)
    for f in ("luts.npy", "manifest.json", "metrics.csv", "cost.csv"):
        assert (luts / "marlin" / f).read_bytes() == (src / f).read_bytes()
    assert not (luts / "marlin" / "headers").exists()
    assert sorted(p.name for p in luts.iterdir()) == ["marlin"]  # no temporary folders left
    # the same tables built from the model there: replaced by the kit's (which add the metrics and cost)
    (luts / "marlin" / "cost.csv").unlink()
    (luts / "marlin" / "luts.npy").write_bytes((src / "luts.npy").read_bytes())
    assert kit.unpack([out / "part1"], tmp_path / "got", stage, None, log=lambda *a: None, luts=luts)
    assert (luts / "marlin" / "cost.csv").read_bytes() == (src / "cost.csv").read_bytes()
    # other tables there: refused, and kept
    (luts / "marlin" / "manifest.json").write_text('{"luts_sha256": "other"}')
    (luts / "marlin" / "cost.csv").unlink()
    with pytest.raises(kit.KitError, match="other tables"):
        kit.unpack([out / "part1"], tmp_path / "got", stage, None, log=lambda *a: None, luts=luts)
    assert (luts / "marlin" / "manifest.json").read_text() == '{"luts_sha256": "other"}'
    # without --luts: said, not installed
    said.clear()
    kit.unpack([out / f"part{p}" for p in table_parts], tmp_path / "got2", tmp_path / "stage2", None,
               log=said.append)
    assert any("not installed (give --luts)" in s for s in said)


def test_pack_refuses_a_folder_that_holds_no_tables(data: Path, tmp_path: Path) -> None:
    (tmp_path / "nolut").mkdir()
    with pytest.raises(kit.KitError, match="not a table folder"):
        kit.pack(data, tmp_path / "kit", 16 * 1024, [], files=FILES, log=lambda *a: None,
                 tables=[tmp_path / "nolut"])
