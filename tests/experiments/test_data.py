"""CIFAR-10 loading from the shared data, bad files, and the download path against a local server."""
import hashlib
import http.server
import io
import pickle
import tarfile
import threading
from pathlib import Path

import numpy as np
import pytest
import torch

from experiments import data

SHARED = Path(__file__).resolve().parents[3] / "shared" / "data"
SUBSET = SHARED / "cifar-10-batches-py-first1000"


def synthetic_folder(path: Path, n: int = 20, seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    path.mkdir(parents=True)
    for name in data.TRAIN_FILES + data.TEST_FILES:
        d = {b"batch_label": name.encode(), b"labels": rng.integers(0, 10, n).tolist(),
             b"data": rng.integers(0, 256, (n, 3072), dtype=np.uint8)}
        with open(path / name, "wb") as f:
            pickle.dump(d, f, protocol=2)
    return path


@pytest.mark.skipif(not SUBSET.is_dir(), reason="../shared/data not beside the checkout")
def test_shared_subset_layout():
    x, y = data.load_cifar10("test", SUBSET, download_missing=False)
    assert x.shape == (1000, 3, 32, 32) and x.dtype == torch.uint8
    assert np.bincount(y.numpy(), minlength=10).tolist() == [103, 89, 100, 103, 90, 86, 112, 102, 106, 109]
    xt, yt = data.load_cifar10("train", SUBSET, download_missing=False)
    assert xt.shape == (5000, 3, 32, 32)
    f = data.to_float(x[:2])
    assert f.dtype == torch.float32 and 0 <= float(f.min()) and float(f.max()) <= 1


def test_env_var_and_limit(tmp_path, monkeypatch):
    d = synthetic_folder(tmp_path / "c")
    monkeypatch.setenv("CIFAR10_DIR", str(d))
    x, y = data.load_cifar10("train", limit=30)
    assert x.shape == (30, 3, 32, 32) and y.shape == (30,)


def test_missing_and_corrupt_files(tmp_path):
    d = synthetic_folder(tmp_path / "c")
    (d / "test_batch").unlink()
    with pytest.raises(data.DataError, match="missing in .*test_batch"):
        data.load_cifar10("test", d, download_missing=False)
    (d / "data_batch_2").write_bytes(b"\x80\x02garbage")
    with pytest.raises(data.DataError, match="data_batch_2: not a readable CIFAR-10 batch"):
        data.load_cifar10("train", d, download_missing=False)
    with pytest.raises(ValueError, match="split must be"):
        data.load_cifar10("val", d)


@pytest.fixture
def server(tmp_path):
    src = synthetic_folder(tmp_path / "src" / data.FOLDER, n=12, seed=3)
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as t:
        t.add(src, arcname=data.FOLDER)
    payload = buf.getvalue()

    class H(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            body = payload if self.path == "/cifar.tar.gz" else b"not found"
            self.send_response(200 if self.path == "/cifar.tar.gz" else 404)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *a):
            pass

    httpd = http.server.HTTPServer(("127.0.0.1", 0), H)
    th = threading.Thread(target=httpd.serve_forever, daemon=True)
    th.start()
    yield f"http://127.0.0.1:{httpd.server_port}", hashlib.md5(payload).hexdigest(), src
    httpd.shutdown()


def test_download_md5_and_atomic(server, tmp_path):
    base, md5, src = server
    dest = tmp_path / "dl" / data.FOLDER
    data.download(dest, url=base + "/cifar.tar.gz", md5=md5, progress=False)
    x, y = data.load_cifar10("test", dest, download_missing=False)
    x0, y0 = data.load_cifar10("test", src, download_missing=False)
    assert torch.equal(x, x0) and torch.equal(y, y0)
    bad = tmp_path / "bad" / data.FOLDER
    with pytest.raises(data.DataError, match="md5 .* expected 0{32}"):
        data.download(bad, url=base + "/cifar.tar.gz", md5="0" * 32, progress=False)
    assert not bad.exists() and not [p for p in bad.parent.iterdir()]  # nothing half-written
    with pytest.raises(data.DataError, match="could not download"):
        data.download(tmp_path / "x" / data.FOLDER, url=base + "/nope", md5=md5, progress=False)


def test_download_keeps_what_it_did_not_write(server, tmp_path):
    """A folder with a user's own file and one batch missing: the download adds the missing batch
    and touches nothing else (earlier versions removed the whole folder)."""
    base, md5, src = server
    dest = synthetic_folder(tmp_path / "mine" / data.FOLDER, n=7, seed=9)
    (dest / "notes.txt").write_text("mine")
    (dest / "test_batch").unlink()
    before = {f.name: f.read_bytes() for f in dest.iterdir()}
    data.download(dest, url=base + "/cifar.tar.gz", md5=md5, progress=False)
    after = {f.name: f.read_bytes() for f in dest.iterdir()}
    assert {k: after[k] for k in before} == before
    assert after["test_batch"] == (src / "test_batch").read_bytes()
    assert not [p for p in dest.parent.iterdir() if p.name != data.FOLDER]  # no temporary left beside it


def test_batches_are_unpickled_without_running_code(tmp_path):
    d = synthetic_folder(tmp_path / "c")
    marker = tmp_path / "MARKER"

    class Marker:
        def __reduce__(self):
            return open, (str(marker), "w")

    with open(d / "test_batch", "wb") as f:
        pickle.dump({b"labels": [1], b"data": np.zeros((1, 3072), np.uint8), b"x": Marker()}, f, protocol=2)
    with pytest.raises(data.DataError, match="test_batch: .*io.open, which no CIFAR-10 batch holds"):
        data.load_cifar10("test", d, download_missing=False)
    with open(d / "test_batch", "wb") as f:
        pickle.dump({b"labels": [1], b"data": np.zeros((1, 3072), np.float32)}, f, protocol=2)
    with pytest.raises(data.DataError, match="data is float32, expected a uint8 array"):
        data.load_cifar10("test", d, download_missing=False)
    assert not marker.exists()


def _with_filenames(src: Path, dst: Path) -> None:
    """The official layout: the same batch with a `filenames` entry at its end."""
    with open(src, "rb") as f:
        d = pickle.load(f, encoding="bytes")
    d[b"filenames"] = [f"image_{i:05d}.png".encode() for i in range(len(d[b"labels"]))]
    with open(dst, "wb") as f:
        pickle.dump(d, f, protocol=2)


def test_batches_are_the_same_data_by_labels_and_pixels_not_by_file(tmp_path):
    from experiments.provenance import digest_inputs, same_content, same_inputs, stale_reason, write_sidecar

    a = synthetic_folder(tmp_path / "a")
    b = tmp_path / "b"
    b.mkdir()
    for name in data.TRAIN_FILES + data.TEST_FILES:
        _with_filenames(a / name, b / name)
    da, db = digest_inputs(data.data_files("test", a)), digest_inputs(data.data_files("test", b))
    assert da["data:test_batch"]["md5"] != db["data:test_batch"]["md5"]
    assert same_inputs(da, db)
    art = tmp_path / "result.csv"
    art.write_text("x\n1\n")
    write_sidecar(art, {"config": {"k": 1}}, data.data_files(("train", "test"), a))
    assert stale_reason(art, {"k": 1}, data.data_files(("train", "test"), b)) is None
    # one pixel changed: another data set
    with open(b / "test_batch", "rb") as f:
        d = pickle.load(f, encoding="bytes")
    d[b"data"][3, 100] ^= 1
    with open(b / "test_batch", "wb") as f:
        pickle.dump(d, f, protocol=2)
    assert "was made from another data:test_batch" in stale_reason(art, {"k": 1}, data.data_files(("train", "test"), b))
    # a damaged batch says so, and an absent one is named as missing
    (b / "test_batch").write_bytes(b"\x80\x02garbage")
    assert "not a readable CIFAR-10 batch" in stale_reason(art, {"k": 1}, data.data_files(("train", "test"), b))
    # a batch of unknown content that an earlier version recorded by its md5 alone still compares by that md5
    old = {"path": "/elsewhere/test_batch", "md5": da["data:test_batch"]["md5"]}
    assert same_content(old, da["data:test_batch"]) and not same_content(old, db["data:test_batch"])


def test_missing_official_batches_count_as_the_official_data(tmp_path):
    """A clean clone without the data: the committed zoo and results are up to date (the md5-checked download
    will hold exactly the official labels and pixels), not 'made from another data'."""
    from experiments.provenance import digest_inputs, same_content

    now = digest_inputs(data.data_files("test", tmp_path / "absent"))["data:test_batch"]
    assert now["md5"] == "missing" and now["content_sha256"] == data.CONTENT_SHA256["test_batch"]
    # what the zoo's sidecars recorded (../shared/data's file md5) and the official archive's md5 both match it
    assert same_content({"md5": "1e3ab2124eead255213e5dccc07cb6a7"}, now)
    assert same_content({"md5": "40351d587109b95175f43aff81a1287e"}, now)
    assert not same_content({"md5": "d46ec4c9ee3ee9e99e11d85c33cf907d"}, now)  # data_batch_1's


FULL = SHARED / "cifar-10-batches-py"


@pytest.mark.skipif(not FULL.is_dir(), reason="../shared/data not beside the checkout")
def test_full_cifar10_content_digests(tmp_path):
    from experiments.provenance import digest_inputs, same_content

    for name in data.TRAIN_FILES + data.TEST_FILES:
        assert data.content_sha256(FULL / name) == data.CONTENT_SHA256[name]
        assert data.KNOWN_MD5[hashlib.md5((FULL / name).read_bytes()).hexdigest()] == name
    # the shared test batch in the official layout (with `filenames`) is the same data as the committed zoo's
    _with_filenames(FULL / "test_batch", tmp_path / "test_batch")
    official = digest_inputs({"data:test_batch": tmp_path / "test_batch"})["data:test_batch"]
    assert official["md5"] != "1e3ab2124eead255213e5dccc07cb6a7"
    assert same_content({"path": str(FULL / "test_batch"), "md5": "1e3ab2124eead255213e5dccc07cb6a7"}, official)


def test_axx_data_checks_and_downloads_only_when_asked(server, tmp_path, capsys, monkeypatch):
    import functools
    import json

    from axx.cli import main

    base, md5, src = server
    real = data.download
    monkeypatch.setattr(data, "download", lambda *a, **k: pytest.fail("downloaded without --download"))
    d = tmp_path / "c" / data.FOLDER
    assert main(["data", "--data", str(d)]) == 1
    out = capsys.readouterr().out
    assert out.count(" missing\n") == 6 and "axx data --download" in out and not d.exists()
    monkeypatch.setattr(data, "download", functools.partial(real, url=base + "/cifar.tar.gz", md5=md5))
    assert main(["data", "--data", str(d), "--download", "--quiet", "--json", str(tmp_path / "c.json")]) == 1
    out = capsys.readouterr().out
    assert out.count("other data") == 6 and "not the official CIFAR-10" in out  # the server's are synthetic
    rows = json.loads((tmp_path / "c.json").read_text())["files"]
    assert [r["state"] for r in rows] == ["other"] * 6
    assert rows[-1]["content_sha256"] == data.content_sha256(src / "test_batch")
    (d / "data_batch_3").write_bytes(b"garbage")
    assert main(["data", "--data", str(d)]) == 1
    assert "data_batch_3  not a readable CIFAR-10 batch" in capsys.readouterr().out


@pytest.mark.skipif(not FULL.is_dir(), reason="../shared/data not beside the checkout")
def test_axx_data_knows_the_official_batches(capsys):
    from axx.cli import main

    assert main(["data", "--data", str(FULL)]) == 0
    out = capsys.readouterr().out
    assert out.count("official (without the filenames entry)") == 6 and "the official CIFAR-10" in out
