"""LUT writers, manifest, checked loader: round trips, tampering, truncation, staleness."""
import csv
import json
import os
import re
import shutil

import numpy as np
import pytest

from lut_build import LutError, all_tables, ensure_luts, get_scheme, load_luts, write_lut_dir
from lut_build.metrics import COLUMNS, level_metrics
from lut_build.rtl_files import hdl_dir, rtl_hashes


@pytest.fixture(scope="module")
def marlin_tables():
    return all_tables(get_scheme("marlin").model)


@pytest.fixture(scope="module")
def lut_dir(tmp_path_factory, marlin_tables):
    d = tmp_path_factory.mktemp("luts") / "marlin"
    write_lut_dir(d, "marlin", marlin_tables, source="rtl", simulator="verilator", simulator_version="test",
                  elapsed_s=1.0)
    return d


def _copy(lut_dir, tmp_path):
    d = tmp_path / "marlin"
    shutil.copytree(lut_dir, d)
    return d


def test_round_trip_npy_and_manifest(lut_dir, marlin_tables):
    t, m = load_luts(lut_dir)
    assert t.dtype == np.int16 and t.shape == (256, 256, 256)
    assert np.array_equal(t, marlin_tables)
    assert m["scheme"] == "marlin" and m["source"] == "rtl" and m["operand_width"] == 9
    assert m["rtl_sha256"] == rtl_hashes()
    assert {"simulator", "simulator_version", "date", "elapsed_s", "luts_sha256"} <= set(m)
    assert not [p for p in lut_dir.parent.iterdir() if p.name.startswith(".")]  # no temp leftovers


def test_headers_parse_back(lut_dir, marlin_tables):
    assert len(list((lut_dir / "headers").glob("marlin_*.h"))) == 256
    for level in (0, 37, 255):
        text = (lut_dir / "headers" / f"marlin_{level}.h").read_text()
        assert "const short lut[256][256] = {" in text
        body = text[text.index("{") + 1:text.rindex("}")]
        rows = re.findall(r"\{([^{}]*)\}", body)
        got = np.array([[int(x) for x in r.split(",")] for r in rows])
        assert np.array_equal(got, marlin_tables[level])  # weight-major: row = uint8(weight)


def test_metrics_csv(lut_dir, marlin_tables):
    with open(lut_dir / "metrics.csv") as f:
        rows = list(csv.DictReader(f))
    assert tuple(rows[0].keys()) == COLUMNS and len(rows) == 256
    assert float(rows[0]["error_rate"]) == 0 and float(rows[0]["wce"]) == 0
    # level 1 masks column 0: the product loses a0*b0, wrong for a quarter of the pairs
    assert float(rows[1]["error_rate"]) == 0.25 and float(rows[1]["mean_error"]) == -0.25
    ref = level_metrics(marlin_tables[[200]], 8, levels=[200])[0]
    assert float(rows[200]["mae"]) == pytest.approx(ref["mae"]) and int(rows[200]["wce"]) == ref["wce"]
    assert (lut_dir / "metrics.png").stat().st_size > 10_000


def test_tampered_or_truncated_tables_refused(lut_dir, tmp_path):
    d = _copy(lut_dir, tmp_path)
    with open(d / "luts.npy", "r+b") as f:
        f.seek(5000)
        f.write(b"\x07")
    with pytest.raises(LutError, match="does not match its manifest"):
        load_luts(d)
    d2 = _copy(lut_dir, tmp_path / "b")
    with open(d2 / "luts.npy", "r+b") as f:
        f.truncate(1000)
    with pytest.raises(LutError, match="make luts"):
        load_luts(d2)


def test_corrupt_or_missing_manifest_refused(lut_dir, tmp_path):
    d = _copy(lut_dir, tmp_path)
    (d / "manifest.json").write_text('{"scheme": "marlin", ')
    with pytest.raises(LutError, match="corrupt manifest"):
        load_luts(d)
    (d / "manifest.json").unlink()
    with pytest.raises(LutError, match="no manifest.json"):
        load_luts(d)


def test_stale_tables_refused_after_rtl_change(lut_dir, tmp_path, monkeypatch):
    hdl = tmp_path / "hdl"
    shutil.copytree(hdl_dir(), hdl)
    (hdl / "pp_bit.v").write_text((hdl / "pp_bit.v").read_text() + "\n// a designer's edit\n")
    monkeypatch.setenv("AXX_HDL_DIR", str(hdl))
    with pytest.raises(LutError, match=r"stale tables: RTL changed since they were built \(pp_bit.v\).*make luts"):
        load_luts(lut_dir)
    t, m = load_luts(lut_dir, allow_stale=True)  # the explicit override for exploration
    assert t.shape == (256, 256, 256)


def test_wrong_shape_or_dtype_refused(lut_dir, tmp_path):
    d = _copy(lut_dir, tmp_path)
    np.save(d / "luts.npy", np.zeros((256, 256, 128), dtype=np.int16))
    m = json.loads((d / "manifest.json").read_text())
    from fileio import sha256_file
    m["luts_sha256"] = sha256_file(d / "luts.npy")
    (d / "manifest.json").write_text(json.dumps(m))
    with pytest.raises(LutError, match=r"expected int16 \(256, 256, 256\)"):
        load_luts(d)
    with pytest.raises(ValueError, match="shape"):
        write_lut_dir(tmp_path / "x", "marlin", np.zeros((3, 3)), source="rtl")
    assert not (tmp_path / "x").exists()


def test_ensure_luts_builds_from_model(tmp_path, marlin_tables):
    d = ensure_luts("bw8", root=tmp_path)
    t, m = load_luts(d)
    assert m["source"] == "model" and m["simulator"] is None
    assert np.array_equal(t, all_tables(get_scheme("bw8").model))
    assert ensure_luts("bw8", root=tmp_path) == d  # present: reused, not rebuilt


def test_unwritable_output(tmp_path, marlin_tables):
    if os.geteuid() == 0:
        pytest.skip("root can write anywhere")
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    with pytest.raises(PermissionError):
        write_lut_dir(ro / "marlin", "marlin", marlin_tables, source="rtl")


def test_rewrite_replaces_atomically(lut_dir, tmp_path, marlin_tables):
    d = _copy(lut_dir, tmp_path)
    before = (d / "manifest.json").read_text()
    write_lut_dir(d, "marlin", marlin_tables, source="model", headers=False)
    assert (d / "manifest.json").read_text() != before and not (d / "headers").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["marlin"]
